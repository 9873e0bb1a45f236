//! Wing–Gong–Lowe search for one key's sub-history, as in Porcupine
//! (`checker.go`): the history becomes a list of call and return events in
//! time order; the search repeatedly tries to linearize the first pending
//! call it can (a call whose op the model accepts next), "lifting" the op's
//! two events out of the list, and backtracks ("unlifts") when it meets the
//! return event of an op not yet linearized (that op had to take effect
//! before it returned). A memo set of (linearized-op bitset, model state)
//! prunes configurations already explored (Lowe's optimization).
//!
//! Real-time order and ties: events are sorted by time; at equal times call
//! events come before return events, so an op that returns at `t` and an op
//! invoked at the same `t` are treated as CONCURRENT (either order allowed).
//! Only an op invoked strictly after `t` must follow one that returned at
//! `t`. This is the conservative choice: it never reports a violation that a
//! finer clock could have explained. Remaining ties are broken by the op's
//! position in the history, so the search is deterministic.
//!
//! Unknown outcomes: an op with no response has return time +infinity (its
//! return event sorts after every finite one); linearizing it after all
//! other ops is the same as it never taking effect. Three reductions keep
//! such ops from multiplying the search space (each preserves the verdict):
//! - reads with unknown outcome observed nothing and are dropped;
//! - an unknown write of value `v` that is the ONLY op writing `v`, where
//!   some op returned having needed the register to hold `v` (a `Get` of
//!   `v`, a successful `CondPut` expecting `v`), gets the earliest such
//!   return time as its return time: every legal order puts it before that
//!   observer, so adding the real-time constraint removes no linearization;
//! - an unknown `Put` whose value no read returned is dropped when the key
//!   has no `CondPut` at all: such a write can only make later reads fail
//!   until the next write overwrites it, so some linearization exists with
//!   it iff one exists without it (place it last).
//! Once every op with a finite return is linearized, the remaining
//! (unknown) writes always fit, so the search stops there.
//!
//! Bounds: at most `steps_max` loop iterations per key (each memo insert is
//! one step, so the memo holds at most `steps_max` entries), and an optional
//! wall-clock deadline checked every [`DEADLINE_CHECK_STEPS`] steps.
//!
//! Called by `History::check` (history.rs); the model is in model.rs.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::history::{Input, Output};
use super::model::{self, State};
use super::report::BudgetKind;

/// How often (in steps) the wall-clock deadline is looked at.
pub const DEADLINE_CHECK_STEPS: u64 = 1024;

/// One op of a single key's sub-history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyOp {
    pub input: Input,
    pub call: u64,
    /// Output and return time; `None` = unknown outcome (returns at +inf).
    pub returned: Option<(Output, u64)>,
}

/// Result of checking one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    Linearizable,
    /// `prefix`: the longest linearization of a subset of the ops found (as
    /// indices into the input slice, in linearization order); `state`: the
    /// register after it.
    NotLinearizable { prefix: Vec<usize>, state: State },
    OutOfBudget { steps: u64, kind: BudgetKind },
}

/// Checks one key's ops (in any order; ties are broken by slice position).
pub fn check_key(ops: &[KeyOp], steps_max: u64, deadline: Option<Instant>) -> KeyOutcome {
    let kept = prepare(ops);
    let n = kept.len();
    if n == 0 {
        return KeyOutcome::Linearizable;
    }
    let events = Events::new(&kept);
    let head = events.head;
    let mut next: Vec<usize> = (0..=2 * n).map(|e| if e == head { 0 } else { e + 1 }).collect();
    let mut prev: Vec<usize> = (0..=2 * n).map(|e| if e == 0 { head } else { e - 1 }).collect();

    // Memo key: the linearized-op bitset followed by the state (tag, value).
    let words = n.div_ceil(64);
    let mut probe = vec![0u64; words + 2];
    let mut memo: HashSet<Box<[u64]>> = HashSet::new();
    // Stack of (call event lifted, state before it).
    let mut lifted: Vec<(usize, State)> = Vec::new();
    let mut state = model::INITIAL;
    let mut best: Vec<usize> = Vec::new();
    let mut best_state = state;
    let mut entry = next[head];
    let mut steps: u64 = 0;

    while next[head] != head {
        steps += 1;
        if steps > steps_max {
            return KeyOutcome::OutOfBudget {
                steps: steps - 1,
                kind: BudgetKind::Steps,
            };
        }
        if steps.is_multiple_of(DEADLINE_CHECK_STEPS) && deadline.is_some_and(|d| Instant::now() >= d) {
            return KeyOutcome::OutOfBudget {
                steps,
                kind: BudgetKind::WallTime,
            };
        }
        let j = events.op[entry];
        if let Some(ret_event) = events.ret_of_call[entry] {
            let op = &ops[kept[j].index];
            if let Some(new_state) = model::step(state, &op.input, op.returned.as_ref().map(|(o, _)| o)) {
                probe[j / 64] |= 1 << (j % 64);
                encode_state(&mut probe[words..], new_state);
                if !memo.contains(&probe[..]) {
                    memo.insert(probe.clone().into_boxed_slice());
                    lifted.push((entry, state));
                    state = new_state;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, ret_event);
                    if lifted.len() > best.len() {
                        best = lifted.iter().map(|&(e, _)| kept[events.op[e]].index).collect();
                        best_state = state;
                    }
                    entry = next[head];
                    continue;
                }
                probe[j / 64] &= !(1 << (j % 64));
            }
            entry = next[entry];
        } else {
            if events.ret_infinite[entry] {
                // Every op with a finite return is linearized; the remaining
                // unknown-outcome ops always fit (in call order).
                return KeyOutcome::Linearizable;
            }
            let Some((call_event, before)) = lifted.pop() else {
                return KeyOutcome::NotLinearizable {
                    prefix: best,
                    state: best_state,
                };
            };
            state = before;
            let jj = events.op[call_event];
            probe[jj / 64] &= !(1 << (jj % 64));
            let ret_event = events.ret_of_call[call_event].expect("lifted events are calls");
            relink(&mut next, &mut prev, ret_event);
            relink(&mut next, &mut prev, call_event);
            entry = next[call_event];
        }
    }
    KeyOutcome::Linearizable
}

/// An op the search must place: its index in the key's ops and its
/// effective return time (`None` = +infinity).
#[derive(Clone, Copy, Debug)]
struct Prepared {
    index: usize,
    call: u64,
    ret: Option<u64>,
}

/// The ops the search must place, with tightened return times for unknown
/// writes whose value was observed (see the module docs for what is dropped
/// or tightened and why).
fn prepare(ops: &[KeyOp]) -> Vec<Prepared> {
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
        out.push(Prepared {
            index,
            call: op.call,
            ret,
        });
    }
    out
}

fn encode_state(out: &mut [u64], state: State) {
    match state {
        None => {
            out[0] = 0;
            out[1] = 0;
        }
        Some(v) => {
            out[0] = 1;
            out[1] = v;
        }
    }
}

/// The event list: `2n` events in time order plus a head sentinel at `2n`.
struct Events {
    head: usize,
    /// Op (index into `kept`) of each event.
    op: Vec<usize>,
    /// For a call event, its op's return event; `None` for return events.
    ret_of_call: Vec<Option<usize>>,
    /// For a return event, whether the op's outcome is unknown (+inf).
    ret_infinite: Vec<bool>,
}

impl Events {
    fn new(kept: &[Prepared]) -> Events {
        let n = kept.len();
        // Sort key: (time, call-before-return at equal time, op position).
        let mut order: Vec<(u128, bool, usize)> = Vec::with_capacity(2 * n);
        for (j, p) in kept.iter().enumerate() {
            order.push((u128::from(p.call), false, j));
            let ret = p.ret.map_or(u128::MAX, u128::from);
            order.push((ret, true, j));
        }
        order.sort_unstable();
        let mut call_event = vec![usize::MAX; n];
        let mut ret_event = vec![usize::MAX; n];
        for (e, &(_, is_ret, j)) in order.iter().enumerate() {
            if is_ret {
                ret_event[j] = e;
            } else {
                call_event[j] = e;
            }
        }
        let mut ret_of_call = vec![None; 2 * n + 1];
        let mut ret_infinite = vec![false; 2 * n + 1];
        for j in 0..n {
            assert!(call_event[j] < ret_event[j], "op {j} returns before its call");
            ret_of_call[call_event[j]] = Some(ret_event[j]);
            ret_infinite[ret_event[j]] = kept[j].ret.is_none();
        }
        let mut op: Vec<usize> = order.iter().map(|&(_, _, j)| j).collect();
        op.push(usize::MAX);
        Events {
            head: 2 * n,
            op,
            ret_of_call,
            ret_infinite,
        }
    }
}

fn unlink(next: &mut [usize], prev: &mut [usize], e: usize) {
    next[prev[e]] = next[e];
    prev[next[e]] = prev[e];
}

/// Undoes `unlink(e)`; must run in reverse order of the unlinks.
fn relink(next: &mut [usize], prev: &mut [usize], e: usize) {
    next[prev[e]] = e;
    prev[next[e]] = e;
}
