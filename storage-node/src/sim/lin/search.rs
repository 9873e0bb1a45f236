//! Wing–Gong–Lowe search for one key's sub-history, as in Porcupine
//! (`checker.go`): the history becomes a list of call and return events in
//! time order; the search repeatedly tries to linearize the first pending
//! call it can (a call whose op the model accepts next), "lifting" the op's
//! two events out of the list, and backtracks ("unlifts") when it meets the
//! return event of an op not yet linearized (that op had to take effect
//! before it returned). A memo set of (set of linearized ops, model state)
//! prunes configurations already explored (Lowe's optimization).
//!
//! Memo keys: the set of linearized ops is represented by a 128-bit Zobrist
//! fingerprint (XOR of a fixed pseudo-random key per op, updated in O(1) per
//! lift) instead of Porcupine's bitset, so a step costs O(1) rather than
//! O(ops/64) and a memo entry is 32 bytes whatever the history length. Two
//! different sets collide with probability 2^-128 per pair: below 2^-80 for
//! any budget that fits in memory. A collision can only prune a branch, so it
//! could only ever turn a pass into a reported violation, never hide one.
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
//! most `steps_max` entries of 32 bytes plus table overhead), and an
//! optional wall-clock deadline checked every [`DEADLINE_CHECK_STEPS`] steps.
//! The longest prefix for the report is maintained incrementally (amortized
//! O(1) per step).
//!
//! Called by `History::check` (history.rs); the model is in model.rs.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use crate::rng::Rng;

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
    NotLinearizable {
        prefix: Vec<usize>,
        state: State,
    },
    OutOfBudget {
        steps: u64,
        kind: BudgetKind,
    },
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
#[derive(Clone, Copy, Debug)]
struct Lifted {
    call_event: usize,
    state_before: State,
    how: Lift,
}

/// Memo key: fingerprint of the set of placed ops, and the state.
type MemoKey = (u128, State);

struct Search<'a> {
    ops: &'a [KeyOp],
    kept: &'a [Prepared],
    events: Events,
    /// Doubly linked circular event list through `events.head`.
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Random 128-bit key per op; the set fingerprint is their XOR.
    zobrist: Vec<u128>,
    fingerprint: u128,
    memo: HashSet<MemoKey, BuildHasherDefault<WordHasher>>,
    stack: Vec<Lifted>,
    state: State,
    /// The deepest stack seen, kept in sync lazily: `best[..best_shared]`
    /// equals the current stack's start.
    best: Vec<Lifted>,
    best_shared: usize,
    best_state: State,
    steps: u64,
    steps_max: u64,
    deadline: Option<Instant>,
}

/// Seed of the per-op fingerprint keys (any constant; fixed so that every
/// run is identical).
const ZOBRIST_SEED: u64 = 0x11AE_5EED;

/// `Err` ends the search with that outcome (a failure or a budget overrun);
/// success is `run` returning `Ok`.
type Flow<T> = Result<T, KeyOutcome>;

impl<'a> Search<'a> {
    fn new(
        ops: &'a [KeyOp],
        kept: &'a [Prepared],
        steps_max: u64,
        deadline: Option<Instant>,
    ) -> Search<'a> {
        let n = kept.len();
        let events = Events::new(kept);
        let head = events.head;
        let mut rng = Rng::new(ZOBRIST_SEED);
        Search {
            ops,
            kept,
            next: (0..=2 * n)
                .map(|e| if e == head { 0 } else { e + 1 })
                .collect(),
            prev: (0..=2 * n)
                .map(|e| if e == 0 { head } else { e - 1 })
                .collect(),
            events,
            zobrist: (0..n)
                .map(|_| (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
                .collect(),
            fingerprint: 0,
            memo: HashSet::default(),
            stack: Vec::new(),
            state: model::INITIAL,
            best: Vec::new(),
            best_shared: 0,
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
        let fingerprint = self.fingerprint ^ self.zobrist[j];
        if !self.memo.insert((fingerprint, new_state)) {
            return false;
        }
        self.fingerprint = fingerprint;
        self.stack.push(Lifted {
            call_event: e,
            state_before: self.state,
            how,
        });
        self.state = new_state;
        let ret_event = self.events.ret_of_call[e].expect("lifting a call event");
        unlink(&mut self.next, &mut self.prev, e);
        unlink(&mut self.next, &mut self.prev, ret_event);
        if self.stack.len() > self.best.len() {
            // A new deepest configuration: copy what changed since the last.
            self.best.truncate(self.best_shared);
            self.best.extend_from_slice(&self.stack[self.best_shared..]);
            self.best_shared = self.stack.len();
            self.best_state = self.state;
        } else if self.best_shared == self.stack.len() - 1
            && self
                .best
                .get(self.best_shared)
                .is_some_and(|b| (b.call_event, b.how) == (e, how))
        {
            self.best_shared += 1;
        }
        true
    }

    /// Undoes lifts up to and including the latest choice and returns the
    /// event after it (the next alternative); fails when none is left.
    fn backtrack(&mut self) -> Flow<usize> {
        loop {
            let Some(top) = self.stack.pop() else {
                return Err(self.violation());
            };
            self.best_shared = self.best_shared.min(self.stack.len());
            self.state = top.state_before;
            self.fingerprint ^= self.zobrist[self.events.op[top.call_event]];
            let ret_event =
                self.events.ret_of_call[top.call_event].expect("lifted events are calls");
            relink(&mut self.next, &mut self.prev, ret_event);
            relink(&mut self.next, &mut self.prev, top.call_event);
            if top.how == Lift::Choice {
                return Ok(self.next[top.call_event]);
            }
        }
    }

    fn violation(&self) -> KeyOutcome {
        KeyOutcome::NotLinearizable {
            prefix: (self.best.iter())
                .filter(|l| l.how != Lift::Skip)
                .map(|l| self.kept[self.events.op[l.call_event]].index)
                .collect(),
            state: self.best_state,
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
        if self.steps.is_multiple_of(DEADLINE_CHECK_STEPS)
            && self.deadline.is_some_and(|d| Instant::now() >= d)
        {
            return Err(KeyOutcome::OutOfBudget {
                steps: self.steps,
                kind: BudgetKind::WallTime,
            });
        }
        Ok(())
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
    /// Call event of each op.
    call_event: Vec<usize>,
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
            assert!(
                call_event[j] < ret_event[j],
                "op {j} returns before its call"
            );
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

/// A fast non-cryptographic hasher for memo keys (word slices), in the style
/// of rustc's FxHasher. Keys come from the checker itself, not from an
/// adversary, so no hash-flooding defence is needed.
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }
}
