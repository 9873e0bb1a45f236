//! Reductions applied to one key's ops before the search (search.rs); each
//! preserves the verdict. Unknown outcomes: an op with no response has
//! return time +infinity, and linearizing it after all other ops is the same
//! as it never taking effect, so each such op stays "pending" for the rest
//! of the history and doubles the configurations the search may meet. So:
//! - reads with unknown outcome observed nothing and are dropped;
//! - an unknown write of value `v` that is the ONLY op writing `v`, where
//!   some op returned having needed the register to hold `v` (a `Get` of
//!   `v`, a successful `CondPut` expecting `v`), gets the earliest such
//!   return time as its return time: only it can produce `v`, so every legal
//!   order puts it before that observer, and the added real-time constraint
//!   removes no linearization;
//! - an unknown write `w` (setting the register to `t`) is dropped when no
//!   op that could be linearized after it (one that returned at or after
//!   `w`'s call, or an unknown one) needs the register to hold `t` (a `Get`
//!   of `t`, a successful `CondPut` expecting `t`, an unknown `CondPut`
//!   expecting `t`) or is a failed `CondPut`. Proof sketch: in a legal order
//!   with `w`, the ops between `w` and the next write can only be unknown
//!   `CondPut`s that did nothing (a `Get` or successful `CondPut` there would
//!   need `t`); the next write is unconditional. Removing `w` and moving
//!   those `CondPut`s to the end (unknown ops constrain nobody) gives a legal
//!   order without `w`; the converse places `w` last. Drops are decided on
//!   the original history, before any tightening.
//!
//! Also marks read-only ops (completed `Get`, failed `CondPut`), which the
//! search linearizes greedily.

use std::collections::{HashMap, HashSet};

use super::history::{Input, Output};
use super::model::State;
use super::search::KeyOp;

/// An op the search must place: its index in the key's ops and its
/// effective return time (`None` = +infinity).
#[derive(Clone, Copy, Debug)]
pub struct Prepared {
    pub index: usize,
    pub call: u64,
    pub ret: Option<u64>,
    /// Completed and cannot change the state (a `Get`, a failed `CondPut`).
    pub read_only: bool,
}

/// The ops the search must place, with tightened return times for unknown
/// writes whose value was observed (see the module docs).
pub fn prepare(ops: &[KeyOp]) -> Vec<Prepared> {
    // For dropping: the latest return of a completed op that needs the
    // register in a given state, of a failed CondPut, and which states some
    // unknown CondPut expects.
    let mut needs_last_ret: HashMap<State, u64> = HashMap::new();
    let mut cond_failed_last_ret: Option<u64> = None;
    let mut unknown_cond_expects: HashSet<State> = HashSet::new();
    // For tightening: how many ops write each value, and the earliest return
    // of an op that needs the register to hold it.
    let mut writers: HashMap<u64, u32> = HashMap::new();
    let mut first_observer_ret: HashMap<u64, u64> = HashMap::new();
    for o in ops {
        if let Input::Put { value } | Input::CondPut { value, .. } = o.input {
            *writers.entry(value).or_default() += 1;
        }
        let needs = match (o.input, o.returned) {
            (Input::Get, Some((Output::Value(v), t))) => Some((v, t)),
            (Input::CondPut { expected, .. }, Some((Output::CondOk, t))) => Some((expected, t)),
            (Input::CondPut { .. }, Some((Output::CondFailed, t))) => {
                cond_failed_last_ret = cond_failed_last_ret.max(Some(t));
                None
            }
            (Input::CondPut { expected, .. }, None) => {
                unknown_cond_expects.insert(expected);
                None
            }
            _ => None,
        };
        if let Some((state, t)) = needs {
            let last = needs_last_ret.entry(state).or_insert(t);
            *last = (*last).max(t);
            if let Some(v) = state {
                let first = first_observer_ret.entry(v).or_insert(t);
                *first = (*first).min(t);
            }
        }
    }
    // An unknown write of `target` may be dropped if nothing that could be
    // linearized after it (returned at or after its call, or unknown) needs
    // `target` or is a failed CondPut.
    let droppable = |op: &KeyOp, target: State| {
        let before_call = |last: Option<u64>| last.is_none_or(|t| t < op.call);
        before_call(needs_last_ret.get(&target).copied())
            && before_call(cond_failed_last_ret)
            && !unknown_cond_expects.contains(&target)
    };
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let ret = match op.returned {
            Some((_, t)) => Some(t),
            None => match op.input {
                Input::Get => continue,
                Input::Delete if droppable(op, None) => continue,
                Input::Delete => None,
                Input::Put { value } | Input::CondPut { value, .. } => {
                    if droppable(op, Some(value)) {
                        continue;
                    }
                    match (writers[&value], first_observer_ret.get(&value)) {
                        (1, Some(&t)) => Some(t.max(op.call)),
                        _ => None,
                    }
                }
            },
        };
        let read_only = matches!(
            (op.input, op.returned),
            (Input::Get, Some(_)) | (Input::CondPut { .. }, Some((Output::CondFailed, _)))
        );
        out.push(Prepared {
            index,
            call: op.call,
            ret,
            read_only,
        });
    }
    out
}
