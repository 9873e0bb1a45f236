//! Feeds the simulated clients' consistent operations to the
//! linearizability checker (`lin/`), per key, and turns its verdict into a
//! violation message. A search that runs out of budget is a failure too:
//! a run that cannot be checked proves nothing.

use super::client::{ClientOp, Recorded};
use super::host::Reply;
use super::kv::Command;
use super::lin::{CheckBudget, CheckResult, History, Input, Output};

pub fn check_history(ops: &[Recorded]) -> Result<(), String> {
    let mut h = History::new();
    for r in ops {
        let input = match r.op {
            ClientOp::Write(Command::Put { value, .. }) => Input::Put { value },
            ClientOp::Write(Command::Delete { .. }) => Input::Delete,
            ClientOp::Write(Command::CondPut {
                expected, value, ..
            }) => Input::CondPut { expected, value },
            ClientOp::StrongGet(_) => Input::Get,
            ClientOp::EventualGet(_) => continue,
        };
        let id = h.invoke(r.client as u32, r.key, input, r.call);
        match (&r.output, input) {
            (None, _) => h.unknown(id),
            (Some(Reply::Written(held)), Input::CondPut { .. }) => h.complete(
                id,
                if *held {
                    Output::CondOk
                } else {
                    Output::CondFailed
                },
                r.ret,
            ),
            (Some(Reply::Written(_)), _) => h.complete(id, Output::Ok, r.ret),
            (Some(Reply::Value(v)), _) => h.complete(id, Output::Value(*v), r.ret),
            (Some(other), _) => return Err(format!("history holds a non-result {other:?}")),
        }
    }
    match h.check(CheckBudget::default()) {
        CheckResult::Linearizable => Ok(()),
        CheckResult::NotLinearizable(v) => Err(format!("linearizability: {v}")),
        CheckResult::Unknown(i) => Err(format!("linearizability check inconclusive: {i:?}")),
    }
}
