//! One replication group on a node: the [`Replica`], its state machine, the clients waiting
//! on it, and the `Ready` contract (`replication/ready.rs`) carried out once, synchronously,
//! against two seams — a [`LogStore`] that persists and a [`StateMachine`] that stages
//! applies. No I/O and no clock here: the daemon's shell (`shell.rs`) and tests drive it.
//!
//! Applying is two-phase: committed entries are *staged* into the state machine as they
//! arrive (`staged`), and become *visible* when the shell has committed them to the engine
//! ([`GroupCore::visible_moved`]). Only visible effects are reported to the replica
//! (`on_applied`), answered to writers and served to readers, so a leader's read never
//! sees less than what it acknowledged.
//!
//! Invariants (asserted): entries reach the state machine in order, once; `on_applied(i)`
//! only for `i <= staged`; persistence completions are reported in ticket order. A write is
//! answered once: applied (its entry at its index, in its ballot), not committed (another
//! entry took the index), or unknown (a snapshot installed here covered the index first).
//!
//! Users: the daemon's shell (`shell.rs`, [`crate::partition::PartitionSm`] over
//! [`super::store::PendingFlush`]) and the simulator's host (`sim/host.rs`, the sim's `Kv`
//! over its `SimStore`), so the simulator runs this very code.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;

use wire::replication::{
    Ballot, Entry, Envelope, GroupId, LogIndex, MemberId, Membership, Payload, SnapshotMeta,
};

use super::store::{LogStore, Slot, Ticket};
use crate::replication::{Persisted, ProposeError, ReadResult, Replica};

/// The replicated state machine of one group, as the core sees it.
pub trait StateMachine {
    /// What applying a command tells its proposer.
    type Outcome: Clone + Debug;
    /// Stage one committed entry, in order. `membership` is `Some` for a `Conf` entry (the
    /// membership now in force).
    fn apply(&mut self, entry: &Entry, membership: Option<&Membership>) -> Self::Outcome;
    /// Replace the whole state with a snapshot taken at `meta.index` (staged like applies).
    fn install(&mut self, meta: &SnapshotMeta, data: &[u8]);
    /// Stage a committed `Split` entry; `child` is the new group as this member starts it.
    /// By default a split is staged like any other entry (the daemon does not split yet).
    fn apply_split(&mut self, entry: &Entry, child: SplitChild) -> Self::Outcome {
        let _ = child;
        self.apply(entry, None)
    }
}

/// The group a split entry creates, as the member applying the entry starts it.
#[derive(Clone, Debug)]
pub struct SplitChild {
    pub group: GroupId,
    /// Its starting point ([`Replica::split_child`]).
    pub persisted: Persisted,
    /// This member led the parent when it applied the split: the child campaigns at once.
    pub lead: bool,
}

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteDone<O> {
    /// Committed and visible; the state machine's outcome.
    Applied(O),
    /// Its log slot was taken by another leader's entry: certainly no effect.
    NotCommitted,
    /// A snapshot installed here covered its index before this node applied it: it may or
    /// may not have taken effect.
    Unknown,
}

/// What a waiting write's entry became so far.
enum Fate<O> {
    Waiting,
    Applied(O),
    /// Covered by an installed snapshot.
    Skipped,
}

/// Why a proposal or read was refused at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    NotLeader(Option<MemberId>),
    /// Busy, no leader yet, a membership change in progress, ...
    Retry,
}

struct PendingPersist {
    ticket: Ticket,
    after: Vec<Envelope>,
    persisted: Option<(LogIndex, Ballot)>,
}

/// Everything a call produced for the shell to carry out. Filled, never cleared, by the core.
pub struct CoreOut<O, W, R> {
    pub send: Vec<Envelope>,
    pub writes: Vec<(W, WriteDone<O>)>,
    /// Reads that may now be served from the state machine (everything up to the read index
    /// is visible).
    pub reads: Vec<R>,
    pub reads_failed: Vec<(R, Refused)>,
    /// Peers that need a snapshot as of `visible` (call [`Replica::send_snapshot_at`]).
    pub snapshots_wanted: Vec<MemberId>,
}

impl<O, W, R> Default for CoreOut<O, W, R> {
    fn default() -> Self {
        CoreOut {
            send: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            reads_failed: Vec::new(),
            snapshots_wanted: Vec::new(),
        }
    }
}

pub struct GroupCore<S: StateMachine, W, R> {
    replica: Replica,
    sm: S,
    slot: Slot,
    persists: VecDeque<PendingPersist>,
    staged: LogIndex,
    visible: LogIndex,
    writes: BTreeMap<LogIndex, (Ballot, W, Fate<S::Outcome>)>,
    reads: BTreeMap<u64, R>,
    ready_reads: Vec<(LogIndex, R)>,
    snapshot_wanted: BTreeSet<MemberId>,
    next_read: u64,
}

impl<S: StateMachine, W, R> GroupCore<S, W, R> {
    pub fn new(replica: Replica, sm: S, slot: Slot) -> Self {
        let applied = replica.applied();
        GroupCore {
            replica,
            sm,
            slot,
            persists: VecDeque::new(),
            staged: applied,
            visible: applied,
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            ready_reads: Vec::new(),
            snapshot_wanted: BTreeSet::new(),
            next_read: 0,
        }
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    pub fn replica_mut(&mut self) -> &mut Replica {
        &mut self.replica
    }

    pub fn sm(&self) -> &S {
        &self.sm
    }

    pub fn sm_mut(&mut self) -> &mut S {
        &mut self.sm
    }

    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The last index whose effects are in the engine.
    pub fn visible(&self) -> LogIndex {
        self.visible
    }

    /// The last index handed to the state machine.
    pub fn staged(&self) -> LogIndex {
        self.staged
    }

    /// Writes and reads still waiting.
    pub fn waiting(&self) -> usize {
        self.writes.len() + self.reads.len() + self.ready_reads.len()
    }

    pub fn tick(&mut self) {
        self.replica.tick();
    }

    pub fn step(&mut self, env: Envelope) {
        self.replica.step(env);
    }

    /// Proposes `cmd`; `waiter` is answered once the entry is visible (or lost).
    pub fn propose(&mut self, cmd: Vec<u8>, waiter: W) -> Result<LogIndex, (W, Refused)> {
        match self.replica.propose(cmd) {
            Ok((index, ballot)) => {
                self.writes.insert(index, (ballot, waiter, Fate::Waiting));
                Ok(index)
            }
            Err(ProposeError::NotLeader { leader }) => Err((waiter, Refused::NotLeader(leader))),
            Err(_) => Err((waiter, Refused::Retry)),
        }
    }

    /// A linearizable read: `waiter` comes back in `CoreOut::reads` once the state machine
    /// shows everything committed before the read began.
    pub fn read(&mut self, waiter: R) {
        self.next_read += 1;
        self.reads.insert(self.next_read, waiter);
        self.replica.read(self.next_read);
    }

    /// Carries out everything the replica asks for now.
    pub fn drive<L: LogStore>(&mut self, store: &mut L, out: &mut CoreOut<S::Outcome, W, R>) {
        loop {
            let ready = self.replica.take_ready();
            if ready.is_empty() {
                break;
            }
            let needs_persist = ready.needs_persist();
            out.send.extend(ready.messages);
            if needs_persist {
                if let Some(hs) = ready.hard_state {
                    store.put_hard_state(self.slot, hs);
                }
                let mut persisted = None;
                if let Some((meta, data)) = &ready.snapshot {
                    store.put_snapshot(self.slot, meta, data);
                    persisted = Some((meta.index, meta.ballot));
                }
                if let Some(first) = ready.entries.first() {
                    let prev = self
                        .replica
                        .ballot_at(first.index - 1)
                        .expect("the entry before a persisted batch is known");
                    store.put_entries(self.slot, prev, &ready.entries);
                    let last = ready.entries.last().expect("non-empty");
                    persisted = Some((last.index, last.ballot));
                }
                let ticket = store.barrier(self.slot);
                if let Some(p) = self.persists.back() {
                    assert!(p.ticket <= ticket, "tickets never go back");
                }
                self.persists.push_back(PendingPersist {
                    ticket,
                    after: ready.messages_after_persist,
                    persisted,
                });
            } else if !ready.messages_after_persist.is_empty() {
                match self.persists.back_mut() {
                    Some(p) => p.after.extend(ready.messages_after_persist),
                    None => out.send.extend(ready.messages_after_persist),
                }
            }
            if let Some((meta, data)) = ready.snapshot {
                assert!(
                    meta.index > self.staged,
                    "a snapshot moves the state forward"
                );
                self.sm.install(&meta, &data);
                // Writes at indexes this node never applied: the snapshot may hold them.
                for (_, (_, _, fate)) in self.writes.range_mut(self.staged + 1..=meta.index) {
                    *fate = Fate::Skipped;
                }
                self.staged = meta.index;
            }
            for e in ready.committed {
                assert_eq!(e.index, self.staged + 1, "entries applied in order, once");
                let outcome = match &e.payload {
                    Payload::Conf(_) => {
                        let membership = self.replica.membership_at(e.index);
                        self.sm.apply(&e, Some(&membership))
                    }
                    Payload::Split(spec) => {
                        let child = SplitChild {
                            group: spec.new_group,
                            persisted: self.replica.split_child(&e),
                            lead: self.replica.is_leader(),
                        };
                        self.sm.apply_split(&e, child)
                    }
                    Payload::Command(_) | Payload::Noop => self.sm.apply(&e, None),
                };
                self.staged = e.index;
                if let Some(w) = self.writes.get_mut(&e.index)
                    && w.0 == e.ballot
                {
                    w.2 = Fate::Applied(outcome);
                }
            }
            for r in ready.reads {
                match r {
                    ReadResult::Ready { id, index } => {
                        if let Some(w) = self.reads.remove(&id) {
                            self.ready_reads.push((index, w));
                        }
                    }
                    ReadResult::Failed { id, error } => {
                        if let Some(w) = self.reads.remove(&id) {
                            let why = match error {
                                crate::replication::ReadError::NotLeader { leader } => {
                                    Refused::NotLeader(leader)
                                }
                                _ => Refused::Retry,
                            };
                            out.reads_failed.push((w, why));
                        }
                    }
                }
            }
            self.snapshot_wanted.extend(ready.snapshot_needed);
            self.release(out);
        }
    }

    /// The shell committed everything staged so far to the engine.
    pub fn visible_moved<L: LogStore>(
        &mut self,
        store: &mut L,
        out: &mut CoreOut<S::Outcome, W, R>,
    ) {
        self.visible = self.staged;
        self.release(out);
        self.drive(store, out);
    }

    /// Persistence up to `upto` is durable.
    pub fn persisted<L: LogStore>(
        &mut self,
        upto: Ticket,
        store: &mut L,
        out: &mut CoreOut<S::Outcome, W, R>,
    ) {
        while self.persists.front().is_some_and(|p| p.ticket <= upto) {
            let p = self.persists.pop_front().expect("checked");
            out.send.extend(p.after);
            if let Some((i, b)) = p.persisted {
                self.replica.on_persisted(i, b);
            }
        }
        self.drive(store, out);
    }

    /// The oldest ticket this group waits for.
    pub fn waiting_for(&self) -> Option<Ticket> {
        self.persists.front().map(|p| p.ticket)
    }

    fn release(&mut self, out: &mut CoreOut<S::Outcome, W, R>) {
        let v = self.visible;
        assert!(
            v <= self.staged,
            "visible {v} beyond staged {}",
            self.staged
        );
        if v > self.replica.applied() {
            self.replica.on_applied(v);
        }
        while let Some((&i, _)) = self.writes.first_key_value() {
            if i > v {
                break;
            }
            let (_, (_, w, fate)) = self.writes.pop_first().expect("checked");
            let done = match fate {
                Fate::Applied(o) => WriteDone::Applied(o),
                Fate::Waiting => WriteDone::NotCommitted,
                Fate::Skipped => WriteDone::Unknown,
            };
            out.writes.push((w, done));
        }
        let mut i = 0;
        while i < self.ready_reads.len() {
            if self.ready_reads[i].0 <= v {
                out.reads.push(self.ready_reads.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        if self.visible == self.staged && !self.snapshot_wanted.is_empty() {
            out.snapshots_wanted
                .extend(std::mem::take(&mut self.snapshot_wanted));
        }
    }

    /// Stops the group: every waiter comes back (writes as possibly applied: their fate is
    /// unknown to this node now).
    pub fn into_waiters(self) -> (Vec<W>, Vec<R>) {
        let writes = self.writes.into_values().map(|(_, w, _)| w).collect();
        let mut reads: Vec<R> = self.reads.into_values().collect();
        reads.extend(self.ready_reads.into_iter().map(|(_, r)| r));
        (writes, reads)
    }
}
