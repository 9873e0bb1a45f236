//! Reductions applied to one key's ops before the search (search.rs); each
//! preserves the verdict.
//!
//! The search sees three kinds of ops: mandatory ones (completed, or known to
//! have taken effect) with a finite return time; read-only ones among them
//! (a completed `Get`, a failed `CondPut`), which it linearizes greedily; and
//! OPTIONAL ones (unknown-outcome writes), which either take effect before
//! their deadline or never ("skipped" when the search reaches the deadline;
//! a deadline of +infinity is Porcupine's unknown return time).
//!
//! An unknown write `w` sets the register to `t` (`Put`: the value; `Delete`:
//! absent; `CondPut`: the value, if its condition holds, else it does
//! nothing). Its USERS are the ops that could be linearized after it (they
//! returned at or after `w`'s call, or are unknown) and whose legality can
//! depend on `w`: a completed `Get` of `t`, a successful `CondPut` expecting
//! `t`, any failed `CondPut`, an unknown `CondPut` expecting `t`.
//!
//! Lemma: in a legal order where `w` comes after all its users, removing `w`
//! leaves a legal order. The ops between `w` and the next write can only be
//! unknown `CondPut`s that did nothing (any other op there would be a user,
//! or would fail on `t`), and the next write is unconditional; so remove `w`
//! and skip those `CondPut`s (they only wrote nothing), and every other op
//! sees the same state. Hence, without changing the verdict:
//! - reads with unknown outcome are dropped (they observed nothing);
//! - `w` is dropped if it has no users;
//! - otherwise `w` is optional with deadline = the latest return time of a
//!   user (+infinity if an unknown `CondPut` expects `t`): if it takes effect
//!   at all it can be assumed to precede some user, hence every op invoked
//!   after that user returned;
//! - except that if `w` is the ONLY op writing value `v` and some op
//!   returned having needed `v` (a `Get` of `v`, a successful `CondPut`
//!   expecting `v`), `w` surely took effect before the first such op
//!   returned: it becomes mandatory with that return time.
//!
//! (A mandatory unknown `CondPut` is never one of the do-nothing `CondPut`s
//! the lemma skips: its value was read, so it wrote.)

use std::collections::{HashMap, HashSet};

use super::history::{Input, Output};
use super::model::State;
use super::search::KeyOp;

/// An op the search must place.
#[derive(Clone, Copy, Debug)]
pub struct Prepared {
    /// Index in the key's ops.
    pub index: usize,
    pub call: u64,
    /// Return time or deadline; `None` = +infinity (always optional).
    pub ret: Option<u64>,
    /// Completed and cannot change the state (a `Get`, a failed `CondPut`).
    pub read_only: bool,
    /// May be skipped (never took effect) when `ret` is reached.
    pub optional: bool,
}

/// The ops the search must place (see the module docs).
pub fn prepare(ops: &[KeyOp]) -> Vec<Prepared> {
    // The latest return of a completed op needing each state, and of a
    // failed CondPut; the states some unknown CondPut expects.
    let mut needs_last_ret: HashMap<State, u64> = HashMap::new();
    let mut cond_failed_last_ret: Option<u64> = None;
    let mut unknown_cond_expects: HashSet<State> = HashSet::new();
    // How many ops write each value, and the earliest return of a completed
    // op needing it.
    let mut writers: HashMap<u64, u32> = HashMap::new();
    let mut needs_first_ret: HashMap<u64, u64> = HashMap::new();
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
                let first = needs_first_ret.entry(v).or_insert(t);
                *first = (*first).min(t);
            }
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let read_only = matches!(
            (op.input, op.returned),
            (Input::Get, Some(_)) | (Input::CondPut { .. }, Some((Output::CondFailed, _)))
        );
        let mut p = Prepared {
            index,
            call: op.call,
            ret: op.returned.map(|(_, t)| t),
            read_only,
            optional: false,
        };
        if op.returned.is_none() {
            let target = match op.input {
                Input::Get => continue,
                Input::Delete => None,
                Input::Put { value } | Input::CondPut { value, .. } => Some(value),
            };
            let first_needed = target.and_then(|v| needs_first_ret.get(&v).copied());
            match (target, first_needed) {
                (Some(v), Some(t)) if writers[&v] == 1 => p.ret = Some(t.max(op.call)),
                _ if unknown_cond_expects.contains(&target) => p.optional = true,
                _ => {
                    let last_use = needs_last_ret.get(&target).copied().max(cond_failed_last_ret);
                    match last_use {
                        Some(t) if t >= op.call => {
                            p.ret = Some(t);
                            p.optional = true;
                        }
                        _ => continue,
                    }
                }
            }
        }
        out.push(p);
    }
    out
}
