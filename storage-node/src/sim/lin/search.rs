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
//! Additions to Porcupine's loop, all verdict-preserving:
//! - Greedy read-only ops: in a configuration where a read-only op (a `Get`,
//!   a failed `CondPut`) is available (every op that had to precede it is
//!   linearized) and agrees with the current state, it is linearized at once
//!   and no alternative is tried: any completion that places it later can
//!   place it now instead (it does not change the state, and moving it
//!   earlier breaks no real-time constraint). On backtracking, such "forced"
//!   lifts are undone together with the choice that led to them. This stops
//!   concurrent reads from multiplying the memo.
//! - Optional ops (unknown-outcome writes, see prepare.rs): reaching the
//!   return event (deadline) of one not yet linearized, the search skips it
//!   (it never took effect) as the last alternative of that configuration,
//!   instead of backtracking. A skip is memoized like a linearization that
//!   left the state unchanged (the remaining ops and the state are what
//!   matter). Once every op with a finite return is placed, the rest are
//!   optional with an infinite deadline, so the search stops there.
//!
//! Bounds: at most `steps_max` steps per key (one step = one event visited
//! or one forced lift; each memo insert is one step, so the memo holds at
//! most `steps_max` entries), and an optional wall-clock deadline checked
//! every [`DEADLINE_CHECK_STEPS`] steps.
//!
//! Called by `History::check` (history.rs); the model is in model.rs.

use std::collections::HashSet;
use std::time::Instant;

use super::history::{Input, Output};
use super::model::{self, State};
use super::prepare::{Prepared, prepare};
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
    if kept.is_empty() {
        return KeyOutcome::Linearizable;
    }
    let mut search = Search::new(ops, &kept, steps_max, deadline);
    match search.run() {
        Ok(()) => KeyOutcome::Linearizable,
        Err(outcome) => outcome,
    }
}

/// Why an op was lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lift {
    /// One alternative among the available ops.
    Choice,
    /// A read-only op agreeing with the state, lifted greedily.
    Forced,
    /// An optional op whose deadline came: it never took effect.
    Skip,
}

/// One lifted op on the search stack.
struct Lifted {
    call_event: usize,
    state_before: State,
    how: Lift,
    /// The latest call event among the lifted ops, this one included.
    calls_to: usize,
}

struct Search<'a> {
    ops: &'a [KeyOp],
    kept: &'a [Prepared],
    events: Events,
    /// Doubly linked circular event list through `events.head`.
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Bitset words per memo key (followed by two state words).
    words: usize,
    /// The current configuration as a memo key.
    probe: Vec<u64>,
    memo: HashSet<Box<[u64]>>,
    stack: Vec<Lifted>,
    /// Optional ops on the stack (indices into `kept`), in stack order.
    optional_done: Vec<usize>,
    state: State,
    /// Longest prefix found so far (skipped ops left out) and its depth.
    best: Vec<usize>,
    best_depth: usize,
    best_state: State,
    steps: u64,
    steps_max: u64,
    deadline: Option<Instant>,
}

/// `Err` ends the search with that outcome (a failure or a budget overrun);
/// success is `run` returning `Ok`.
type Flow<T> = Result<T, KeyOutcome>;

impl<'a> Search<'a> {
    fn new(ops: &'a [KeyOp], kept: &'a [Prepared], steps_max: u64, deadline: Option<Instant>) -> Search<'a> {
        let n = kept.len();
        let events = Events::new(kept);
        let head = events.head;
        let words = n.div_ceil(64);
        Search {
            ops,
            kept,
            next: (0..=2 * n).map(|e| if e == head { 0 } else { e + 1 }).collect(),
            prev: (0..=2 * n).map(|e| if e == 0 { head } else { e - 1 }).collect(),
            events,
            words,
            probe: vec![0; words + 2],
            memo: HashSet::new(),
            stack: Vec::new(),
            optional_done: Vec::new(),
            state: model::INITIAL,
            best: Vec::new(),
            best_depth: 0,
            best_state: model::INITIAL,
            steps: 0,
            steps_max,
            deadline,
        }
    }

    fn run(&mut self) -> Flow<()> {
        let head = self.events.head;
        let mut entry = self.settle()?;
        while self.next[head] != head {
            self.tick()?;
            if self.events.ret_of_call[entry].is_some() {
                if let Some(new_state) = self.step(entry)
                    && self.lift(entry, new_state, Lift::Choice)
                {
                    entry = self.settle()?;
                } else {
                    entry = self.next[entry];
                }
            } else if self.events.ret_infinite[entry] {
                // Every op with a finite return is placed; the rest are
                // optional and can be skipped.
                return Ok(());
            } else if self.kept[self.events.op[entry]].optional {
                // The last alternative here: the op never takes effect.
                let call_event = self.events.call_event[self.events.op[entry]];
                entry = if self.lift(call_event, self.state, Lift::Skip) {
                    self.settle()?
                } else {
                    self.backtrack()?
                };
            } else {
                entry = self.backtrack()?;
            }
        }
        Ok(())
    }

    /// In a newly reached configuration, lifts every available read-only op
    /// that agrees with the state (see the module docs). Returns the event to
    /// scan from, or backtracks if a forced lift reaches a configuration the
    /// memo knows fails.
    fn settle(&mut self) -> Flow<usize> {
        let mut e = self.next[self.events.head];
        // Available ops are the calls before the first return event.
        while self.events.ret_of_call[e].is_some() {
            if self.kept[self.events.op[e]].read_only && self.step(e).is_some() {
                self.tick()?;
                if !self.lift(e, self.state, Lift::Forced) {
                    return self.backtrack();
                }
                // Both of the op's events are unlinked; continue after them.
                e = self.next[self.prev[e]];
            } else {
                e = self.next[e];
            }
        }
        Ok(self.next[self.events.head])
    }

    /// The state after the op of call event `e`, if the model accepts it now.
    fn step(&self, e: usize) -> Option<State> {
        let op = &self.ops[self.kept[self.events.op[e]].index];
        model::step(self.state, &op.input, op.returned.as_ref().map(|(o, _)| o))
    }

    /// Linearizes (or skips) the op of call event `e` next, unless the
    /// resulting configuration is in the memo (then returns false and
    /// changes nothing).
    fn lift(&mut self, e: usize, new_state: State, how: Lift) -> bool {
        let j = self.events.op[e];
        self.probe[j / 64] |= 1 << (j % 64);
        encode_state(&mut self.probe[self.words..], new_state);
        let calls_to = self.stack.last().map_or(e, |l| l.calls_to.max(e));
        if self.memo.contains(&self.probe[..]) || self.dominated(calls_to) {
            self.probe[j / 64] &= !(1 << (j % 64));
            return false;
        }
        self.memo.insert(self.probe.clone().into_boxed_slice());
        self.stack.push(Lifted {
            call_event: e,
            state_before: self.state,
            how,
            calls_to,
        });
        if self.kept[j].optional {
            self.optional_done.push(j);
        }
        self.state = new_state;
        let ret_event = self.events.ret_of_call[e].expect("lifting a call event");
        unlink(&mut self.next, &mut self.prev, e);
        unlink(&mut self.next, &mut self.prev, ret_event);
        if self.stack.len() > self.best_depth {
            self.best_depth = self.stack.len();
            self.best = (self.stack.iter())
                .filter(|l| l.how != Lift::Skip)
                .map(|l| self.kept[self.events.op[l.call_event]].index)
                .collect();
            self.best_state = self.state;
        }
        true
    }

    /// Whether the configuration in `probe` is known to fail because the
    /// same configuration with one optional op `w` still pending failed (from
    /// there, `w` could have been skipped). Only configurations the search
    /// can reach are in the memo: ones where no lifted op was invoked after
    /// `w`'s deadline (`calls_to`: the latest call event lifted). The memo
    /// also holds the configurations on the current path, which have not
    /// failed (yet); `w` is never the op being lifted, so the probed set is
    /// not one of them (those sets are the stack's prefixes).
    fn dominated(&mut self, calls_to: usize) -> bool {
        for i in 0..self.optional_done.len() {
            let w = self.optional_done[i];
            if self.events.ret_of_op[w] < calls_to {
                continue;
            }
            self.probe[w / 64] &= !(1 << (w % 64));
            let hit = self.memo.contains(&self.probe[..]);
            self.probe[w / 64] |= 1 << (w % 64);
            if hit {
                return true;
            }
        }
        false
    }

    /// Undoes lifts up to and including the latest unforced one and returns
    /// the event after it (the next alternative); fails when none is left.
    fn backtrack(&mut self) -> Flow<usize> {
        loop {
            let Some(top) = self.stack.pop() else {
                return Err(KeyOutcome::NotLinearizable {
                    prefix: std::mem::take(&mut self.best),
                    state: self.best_state,
                });
            };
            self.state = top.state_before;
            let j = self.events.op[top.call_event];
            self.probe[j / 64] &= !(1 << (j % 64));
            if self.kept[j].optional {
                let popped = self.optional_done.pop();
                debug_assert_eq!(popped, Some(j));
            }
            let ret_event = self.events.ret_of_call[top.call_event].expect("lifted events are calls");
            relink(&mut self.next, &mut self.prev, ret_event);
            relink(&mut self.next, &mut self.prev, top.call_event);
            if top.how == Lift::Choice {
                return Ok(self.next[top.call_event]);
            }
        }
    }

    fn tick(&mut self) -> Flow<()> {
        if self.steps >= self.steps_max {
            return Err(KeyOutcome::OutOfBudget {
                steps: self.steps,
                kind: BudgetKind::Steps,
            });
        }
        self.steps += 1;
        if self.steps.is_multiple_of(DEADLINE_CHECK_STEPS) && self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(KeyOutcome::OutOfBudget {
                steps: self.steps,
                kind: BudgetKind::WallTime,
            });
        }
        Ok(())
    }
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
    /// Call and return event of each op.
    call_event: Vec<usize>,
    ret_of_op: Vec<usize>,
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
            call_event,
            ret_of_op: ret_event,
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
