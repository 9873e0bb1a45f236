//! Reductions applied to one key's ops before the search (search.rs); each
//! preserves the verdict.
//!
//! The search sees three kinds of ops: mandatory ones (completed, or known to
//! have taken effect) with a finite return time; read-only ones among them
//! (a completed `Get`, a failed `CondPut`), which it linearizes greedily; and
//! OPTIONAL ones (unknown-outcome writes), which either take effect before
//! their deadline or never ("skipped" when the search reaches the deadline;
//! a deadline of +infinity is Porcupine's unknown return time). Each pending
//! optional op doubles the configurations the search may meet, so tight
//! deadlines matter.
//!
//! Definitions. A completed WRITE is a `Put`, a `Delete` or a successful
//! `CondPut`. A writer of state `s` is an op that may set the register to
//! `s` (the initial state is absent). `dead(W)` is the earliest return of a
//! completed write invoked after writer `W` returned (+infinity if `W` has
//! no outcome): such a write must follow `W`, so `W`'s state cannot be the
//! current one for anything that starts after `dead(W)` unless another
//! writer sets it again. `alive(s)` is the max of `dead(W)` over writers of
//! `s`.
//!
//! An unknown write `w` sets the register to `t` (`Put`: the value; `Delete`:
//! absent; `CondPut`: the value, if its condition holds, else nothing). An
//! op `x` with `x.ret >= w.call` (so it may follow `w`) is a USER of `w` if
//! - `x` needs state `t` (a `Get` of `t`, a successful `CondPut` expecting
//!   `t`) and some state `s != t` has `alive(s) >= max(x.call, w.call)`;
//! - `x` is a failed `CondPut` expecting `e != t` with
//!   `alive(e) >= max(x.call, w.call)`;
//! - `x` is an unknown `CondPut` expecting `t` (deadline +infinity).
//!
//! Lemma: in a legal order where no op after `w` is a user of `w`, removing
//! `w` leaves a legal order. Let `s` be the state before `w`, set by `W`. If
//! `s == t` nothing changes. Else take an op `x` between `w` and the next
//! write: `W`, `w`, `x` come in that order with no write in between, so no
//! completed write can be invoked after `W` returned and return before `x`
//! or `w` is invoked: `alive(s) >= dead(W) >= max(x.call, w.call)`. So `x`
//! is not a `Get` or successful `CondPut` (it would need `t`, hence be a
//! user); if it is a failed `CondPut`, it expects neither `t` nor (not being
//! a user) `s`, so it still fails on `s`; an unknown `CondPut` that did
//! nothing on `t` is skipped instead. The next write is unconditional, so
//! everything after it sees the same states.
//!
//! Hence, without changing the verdict:
//! - reads with unknown outcome are dropped (they observed nothing);
//! - `w` is dropped if it has no users;
//! - otherwise `w` is optional with deadline = the latest return of a user:
//!   if it takes effect at all it can be assumed to precede some user, hence
//!   every op invoked after that user returned;
//! - except that if `w` is the ONLY op writing value `v` and some op
//!   returned having needed `v` (a `Get` of `v`, a successful `CondPut`
//!   expecting `v`), `w` surely took effect before the first such op
//!   returned: it becomes mandatory with that return time. (A mandatory
//!   unknown `CondPut` is never one the lemma skips: its value was read.)

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

/// Time on an extended line: `u128::MAX` is +infinity.
type Time = u128;
const INFINITY: Time = Time::MAX;

/// The ops the search must place (see the module docs).
pub fn prepare(ops: &[KeyOp]) -> Vec<Prepared> {
    let facts = Facts::gather(ops);
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
            let first_needed = target.and_then(|v| facts.needs_first_ret.get(&v).copied());
            match (target, first_needed) {
                (Some(v), Some(t)) if facts.writers[&v] == 1 => p.ret = Some(t.max(op.call)),
                _ if facts.unknown_cond_expects.contains(&target) => p.optional = true,
                _ => match facts.last_user_ret(target, op.call) {
                    Some(deadline) => {
                        p.ret = Some(deadline);
                        p.optional = true;
                    }
                    None => continue,
                },
            }
        }
        out.push(p);
    }
    out
}

/// What the reductions need to know about one key's ops.
struct Facts {
    /// How many ops may write each value.
    writers: HashMap<u64, u32>,
    /// Earliest return of a completed op needing each value.
    needs_first_ret: HashMap<u64, u64>,
    /// States some unknown `CondPut` expects.
    unknown_cond_expects: HashSet<State>,
    /// Completed ops needing each state, as (ret, call), latest return first.
    needs: HashMap<State, Vec<(u64, u64)>>,
    /// Failed `CondPut`s as (ret, call, expected), latest return first.
    cond_failed: Vec<(u64, u64, State)>,
    /// `alive(s)` for every state with a writer.
    alive: HashMap<State, Time>,
    /// The two most alive distinct states.
    most_alive: [Option<(State, Time)>; 2],
}

impl Facts {
    fn gather(ops: &[KeyOp]) -> Facts {
        let mut writers: HashMap<u64, u32> = HashMap::new();
        let mut needs_first_ret: HashMap<u64, u64> = HashMap::new();
        let mut unknown_cond_expects = HashSet::new();
        let mut needs: HashMap<State, Vec<(u64, u64)>> = HashMap::new();
        let mut cond_failed = Vec::new();
        // Completed writes as (call, ret), for `dead`.
        let mut writes: Vec<(u64, u64)> = Vec::new();
        for o in ops {
            if let Input::Put { value } | Input::CondPut { value, .. } = o.input {
                *writers.entry(value).or_default() += 1;
            }
            match (o.input, o.returned) {
                (Input::Get, Some((Output::Value(v), t))) => {
                    needs.entry(v).or_default().push((t, o.call))
                }
                (Input::CondPut { expected, .. }, Some((Output::CondOk, t))) => {
                    needs.entry(expected).or_default().push((t, o.call));
                    writes.push((o.call, t));
                }
                (Input::CondPut { expected, .. }, Some((Output::CondFailed, t))) => {
                    cond_failed.push((t, o.call, expected));
                }
                (Input::CondPut { expected, .. }, None) => {
                    unknown_cond_expects.insert(expected);
                }
                (Input::Put { .. } | Input::Delete, Some((_, t))) => writes.push((o.call, t)),
                _ => {}
            }
        }
        for (&state, list) in &mut needs {
            list.sort_unstable_by(|a, b| b.cmp(a));
            if let (Some(v), Some(&(first, _))) = (state, list.last()) {
                needs_first_ret.insert(v, first);
            }
        }
        cond_failed.sort_unstable_by(|a, b| b.cmp(a));

        // dead(W) = min ret of the writes invoked after W.ret.
        writes.sort_unstable();
        let mut suffix_min_ret = vec![INFINITY; writes.len() + 1];
        for i in (0..writes.len()).rev() {
            suffix_min_ret[i] = suffix_min_ret[i + 1].min(Time::from(writes[i].1));
        }
        let dead = |ret: Option<u64>| -> Time {
            match ret {
                None => INFINITY,
                Some(r) => suffix_min_ret[writes.partition_point(|&(call, _)| call <= r)],
            }
        };
        let mut alive: HashMap<State, Time> = HashMap::new();
        let mut raise = |s: State, t: Time| {
            let a = alive.entry(s).or_insert(t);
            *a = (*a).max(t);
        };
        // The initial state: a writer that returned before everything.
        raise(None, suffix_min_ret[0]);
        for o in ops {
            let ret = o.returned.map(|(_, t)| t);
            match (o.input, o.returned) {
                (Input::Put { value }, _) => raise(Some(value), dead(ret)),
                (Input::Delete, _) => raise(None, dead(ret)),
                (Input::CondPut { .. }, Some((Output::CondFailed, _))) => {}
                (Input::CondPut { value, .. }, _) => raise(Some(value), dead(ret)),
                (Input::Get, _) => {}
            }
        }
        let mut most_alive: [Option<(State, Time)>; 2] = [None, None];
        for (&s, &t) in &alive {
            if most_alive[0].is_none_or(|(s0, t0)| (t, s) > (t0, s0)) {
                most_alive[1] = most_alive[0];
                most_alive[0] = Some((s, t));
            } else if most_alive[1].is_none_or(|(s1, t1)| (t, s) > (t1, s1)) {
                most_alive[1] = Some((s, t));
            }
        }
        Facts {
            writers,
            needs_first_ret,
            unknown_cond_expects,
            needs,
            cond_failed,
            alive,
            most_alive,
        }
    }

    /// The latest return of a user of an unknown write of `target` invoked
    /// at `call` (other than unknown `CondPut`s), if it has one.
    fn last_user_ret(&self, target: State, call: u64) -> Option<u64> {
        let call_t = Time::from(call);
        let mut last = None;
        // Ops needing `target`, if some other state can be current then.
        let other_alive = match self.most_alive {
            [Some((s, t)), _] if s != target => Some(t),
            [_, second] => second.map(|(_, t)| t),
        };
        if let (Some(a), Some(list)) = (other_alive, self.needs.get(&target))
            && a >= call_t
        {
            last = (list.iter())
                .take_while(|&&(ret, _)| ret >= call)
                .find(|&&(_, x_call)| Time::from(x_call) <= a)
                .map(|&(ret, _)| ret);
        }
        // Failed CondPuts whose expected state can be current then.
        let failed = (self.cond_failed.iter())
            .take_while(|&&(ret, _, _)| ret >= call)
            .find(|&&(_, x_call, e)| {
                e != target
                    && self
                        .alive
                        .get(&e)
                        .is_some_and(|&a| a >= Time::from(x_call).max(call_t))
            })
            .map(|&(ret, _, _)| ret);
        last.max(failed)
    }
}
