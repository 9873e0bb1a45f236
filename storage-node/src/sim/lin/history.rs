//! The client-history recorder: the simulator calls [`History::invoke`] when a
//! client sends a strongly consistent request, then exactly one of
//! [`History::complete`] (a response arrived) or [`History::unknown`] (timed
//! out, leader crashed: the request may or may not take effect, at any time
//! after its invocation). Ops still pending when [`History::check`] runs are
//! treated as unknown.
//!
//! Invariants (checked with panics, since a violation is a simulator bug):
//! an op's return time is `>=` its call time; an op completes at most once;
//! the output kind matches the input (`Put`/`Delete` -> `Ok`, `CondPut` ->
//! `CondOk`/`CondFailed`, `Get` -> `Value`); at most [`HISTORY_OPS_MAX`] ops.
//! A late response after `unknown` is allowed and upgrades the op to
//! completed (its real return time is then known).
//!
//! The search lives in `search.rs`, the register model in `model.rs`, result
//! types and their `Display` in `report.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use super::report::{
    BudgetKind, CheckBudget, CheckResult, Inconclusive, KeyBudgetExceeded, Violation,
};
use super::search::{self, KeyOp, KeyOutcome};

/// The most ops one history may hold (a bound on the recorder's memory; a
/// simulation run records far fewer).
pub const HISTORY_OPS_MAX: usize = 1 << 24;

/// What a client asked for. Each key is an independent register whose state
/// is `Option<u64>` (absent, or a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Unconditional write -> [`Output::Ok`].
    Put { value: u64 },
    /// Unconditional delete -> [`Output::Ok`].
    Delete,
    /// Conditional write: succeeds iff the current state equals `expected`
    /// (`None` = DynamoDB `attribute_not_exists`) -> [`Output::CondOk`] (value
    /// written) or [`Output::CondFailed`] (nothing written).
    CondPut { expected: Option<u64>, value: u64 },
    /// Strongly consistent read -> [`Output::Value`].
    Get,
}

/// What the client got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    Ok,
    CondOk,
    CondFailed,
    Value(Option<u64>),
}

impl Input {
    /// True if `output` is a possible answer to this input (kind check only).
    pub fn accepts(&self, output: &Output) -> bool {
        matches!(
            (self, output),
            (Input::Put { .. } | Input::Delete, Output::Ok)
                | (Input::CondPut { .. }, Output::CondOk | Output::CondFailed)
                | (Input::Get, Output::Value(_))
        )
    }
}

/// Handle for one recorded op (index into the history, in invocation order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u32);

/// How an op ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Invoked, nothing heard yet (treated as [`Outcome::Unknown`] by `check`).
    Pending,
    /// A response arrived at `time`.
    Returned { output: Output, time: u64 },
    /// May or may not have taken effect, at any time after the call.
    Unknown,
}

/// One recorded operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub client: u32,
    pub key: u64,
    pub input: Input,
    /// Simulated invocation time.
    pub call: u64,
    pub outcome: Outcome,
}

impl Op {
    /// The output if the op returned.
    pub fn output(&self) -> Option<Output> {
        match self.outcome {
            Outcome::Returned { output, .. } => Some(output),
            Outcome::Pending | Outcome::Unknown => None,
        }
    }

    /// The return time, `None` meaning +infinity (unknown or pending).
    pub fn ret(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Returned { time, .. } => Some(time),
            Outcome::Pending | Outcome::Unknown => None,
        }
    }
}

/// A client history over many keys, in invocation order.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    pub fn new() -> History {
        History { ops: Vec::new() }
    }

    /// Records an invocation at simulated `time`.
    ///
    /// # Panics
    /// If the history already holds [`HISTORY_OPS_MAX`] ops.
    pub fn invoke(&mut self, client: u32, key: u64, input: Input, time: u64) -> OpId {
        assert!(
            self.ops.len() < HISTORY_OPS_MAX,
            "history is full ({HISTORY_OPS_MAX} ops)"
        );
        let id = OpId(self.ops.len() as u32);
        self.ops.push(Op {
            client,
            key,
            input,
            call: time,
            outcome: Outcome::Pending,
        });
        id
    }

    /// Records the response to `id`, received at simulated `time`. Allowed
    /// after [`History::unknown`] (a late response).
    ///
    /// # Panics
    /// If `id` is not from this history, already completed, `time` is before
    /// the call, or `output` does not fit the input.
    pub fn complete(&mut self, id: OpId, output: Output, time: u64) {
        let op = self.op_mut(id);
        assert!(
            !matches!(op.outcome, Outcome::Returned { .. }),
            "{id:?} completed twice: {op:?}, then {output:?}"
        );
        assert!(
            time >= op.call,
            "{id:?} returns at {time}, before its call at {}",
            op.call
        );
        assert!(
            op.input.accepts(&output),
            "{id:?}: {output:?} is no answer to {:?}",
            op.input
        );
        op.outcome = Outcome::Returned { output, time };
    }

    /// Records that `id` ended without a known outcome.
    ///
    /// # Panics
    /// If `id` is not from this history or already completed.
    pub fn unknown(&mut self, id: OpId) {
        let op = self.op_mut(id);
        assert!(
            !matches!(op.outcome, Outcome::Returned { .. }),
            "{id:?} marked unknown after completing: {op:?}"
        );
        op.outcome = Outcome::Unknown;
    }

    /// A history made of already-finished ops (test generators, mutations).
    #[cfg(test)]
    pub(super) fn from_ops(ops: Vec<Op>) -> History {
        History { ops }
    }

    /// All recorded ops, indexed by `OpId.0`.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn op_mut(&mut self, id: OpId) -> &mut Op {
        let len = self.ops.len();
        self.ops
            .get_mut(id.0 as usize)
            .unwrap_or_else(|| panic!("{id:?} is not in this history ({len} ops)"))
    }

    /// Checks the history key by key (P-compositionality: a history of
    /// independent registers is linearizable iff each key's sub-history is).
    /// Keys are checked in ascending order; the first violation found is
    /// returned. A key that runs out of budget does not stop the others (a
    /// violation elsewhere is more useful), but the result is then
    /// [`CheckResult::Unknown`], never `Linearizable`.
    pub fn check(&self, budget: CheckBudget) -> CheckResult {
        let started = Instant::now();
        let deadline = budget.wall_time_max.map(|d| started + d);
        let mut per_key: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, op) in self.ops.iter().enumerate() {
            per_key.entry(op.key).or_default().push(i);
        }
        let keys_total = per_key.len();
        let mut exceeded = Vec::new();
        let mut keys_unchecked = 0;
        for (n, (&key, idxs)) in per_key.iter().enumerate() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                keys_unchecked = keys_total - n;
                break;
            }
            let key_ops: Vec<KeyOp> = idxs
                .iter()
                .map(|&i| {
                    let op = &self.ops[i];
                    KeyOp {
                        input: op.input,
                        call: op.call,
                        returned: match op.outcome {
                            Outcome::Returned { output, time } => Some((output, time)),
                            Outcome::Pending | Outcome::Unknown => None,
                        },
                    }
                })
                .collect();
            match search::check_key(&key_ops, budget.steps_per_key_max, deadline) {
                KeyOutcome::Linearizable => {}
                KeyOutcome::NotLinearizable { prefix, state } => {
                    let ops = idxs
                        .iter()
                        .map(|&i| (OpId(i as u32), self.ops[i]))
                        .collect();
                    return CheckResult::NotLinearizable(Box::new(Violation {
                        key,
                        ops,
                        longest_prefix: prefix.into_iter().map(|j| OpId(idxs[j] as u32)).collect(),
                        state_after_prefix: state,
                    }));
                }
                KeyOutcome::OutOfBudget { steps, kind } => {
                    exceeded.push(KeyBudgetExceeded {
                        key,
                        ops: idxs.len(),
                        steps,
                        kind,
                    });
                    if kind == BudgetKind::WallTime {
                        keys_unchecked = keys_total - n - 1;
                        break;
                    }
                }
            }
        }
        if exceeded.is_empty() && keys_unchecked == 0 {
            CheckResult::Linearizable
        } else {
            CheckResult::Unknown(Inconclusive {
                exceeded,
                keys_unchecked,
                keys_total,
            })
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Put { value } => write!(f, "Put({value})"),
            Input::Delete => write!(f, "Delete"),
            Input::CondPut { expected, value } => {
                write!(f, "CondPut(if ")?;
                match expected {
                    Some(e) => write!(f, "=={e}")?,
                    None => write!(f, "absent")?,
                }
                write!(f, ", {value})")
            }
            Input::Get => write!(f, "Get"),
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Ok => write!(f, "Ok"),
            Output::CondOk => write!(f, "CondOk"),
            Output::CondFailed => write!(f, "CondFailed"),
            Output::Value(Some(v)) => write!(f, "Value({v})"),
            Output::Value(None) => write!(f, "Value(absent)"),
        }
    }
}
