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
//! - an unknown `Put` whose value no read returned is dropped when the key
//!   has no `CondPut` at all: such a write can only make later reads fail
//!   until the next write overwrites it, so some linearization exists with
//!   it iff one exists without it (place it last).
//!
//! Also marks read-only ops (completed `Get`, failed `CondPut`), which the
//! search linearizes greedily.

use std::collections::HashMap;

use super::history::{Input, Output};
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
    let has_cond_put = ops.iter().any(|o| matches!(o.input, Input::CondPut { .. }));
    // How many ops write each value, and the earliest return of an op that
    // needs the register to hold it.
    let mut writers: HashMap<u64, u32> = HashMap::new();
    let mut first_observer_ret: HashMap<u64, u64> = HashMap::new();
    for o in ops {
        if let Input::Put { value } | Input::CondPut { value, .. } = o.input {
            *writers.entry(value).or_default() += 1;
        }
        let observed = match (o.input, o.returned) {
            (Input::Get, Some((Output::Value(Some(v)), t))) => Some((v, t)),
            (Input::CondPut { expected: Some(v), .. }, Some((Output::CondOk, t))) => Some((v, t)),
            _ => None,
        };
        if let Some((v, t)) = observed {
            let first = first_observer_ret.entry(v).or_insert(t);
            *first = (*first).min(t);
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let ret = match op.returned {
            Some((_, t)) => Some(t),
            None => match op.input {
                Input::Get => continue,
                Input::Put { value } | Input::CondPut { value, .. } => {
                    match (writers[&value], first_observer_ret.get(&value)) {
                        (1, Some(&t)) => Some(t.max(op.call)),
                        (_, None) if !has_cond_put => continue,
                        _ => None,
                    }
                }
                Input::Delete => None,
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
