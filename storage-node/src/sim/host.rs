//! The simulator's adapter around the daemon's group core: one replica is a
//! [`GroupCore`] (`driver/core.rs`, the very `Ready` contract the daemon
//! runs) over the simulated state machine [`SimSm`] (`kv.rs`: the [`Kv`]
//! plus what applying did that the world must hear about) and a
//! [`SimLogStore`] (the
//! core's persistence seam over a [`SimStore`]). Everything that leaves the
//! node goes back to the world as [`Out`].
//!
//! The sim applies synchronously: whatever the core stages is visible at
//! once (`with_core`). Each persistence barrier is one simulated sync
//! (`Out::syncs`); a sync completion makes the store durable and reports
//! the oldest pending ticket. A snapshot for a lagging peer is the `Kv`
//! encoded at the visible index.
//!
//! Volatile: the core (replica, state machine, waiting clients). A crash
//! drops the host; only its store survives.

use wire::replication::{Ballot, Entry, HardState, LogIndex, Role, SnapshotMeta};

use super::kv::{Applied, Child, Command, Kv, SimSm};
use super::store::{Record, SimStore};
use crate::driver::core::{CoreOut, GroupCore, Refused, WriteDone};
use crate::driver::store::{LogStore, Slot, Ticket};
use crate::replication::Replica;

/// A client request id (unique in a simulation).
pub type ReqId = u64;

/// What a node answers a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write applied; for a conditional put, whether the condition held.
    Written(bool),
    /// The write can no longer take effect (its entry was replaced).
    NotCommitted,
    /// The write's index was covered by a snapshot before this node applied
    /// it: it may or may not have taken effect.
    Ambiguous,
    Value(Option<u64>),
    /// Not the leader; try this member's node.
    Redirect(Option<wire::replication::MemberId>),
    /// Try again (busy, no leader yet, read lost leadership, ...).
    Retry,
    /// This group does not own the key (any more): it moved in a split.
    /// Certainly no effect; look the key up again.
    WrongGroup,
}

/// Effects for the world to carry out.
#[derive(Default)]
pub struct Out {
    pub send: Vec<wire::replication::Envelope>,
    /// Schedule one more sync completion for this host.
    pub syncs: usize,
    pub replies: Vec<(ReqId, Reply)>,
    /// Entries applied (for the agreement checker).
    pub applied: Vec<Entry>,
    /// Writes acknowledged to clients: (index, ballot).
    pub acked: Vec<(LogIndex, Ballot)>,
    /// Groups born from split entries applied here.
    pub children: Vec<Child>,
    /// A snapshot was installed here, up to this index.
    pub snapshot_installed: Option<LogIndex>,
}

/// The core's persistence seam over a [`SimStore`]: puts are the store's
/// volatile writes; every barrier is a new ticket and one sync to schedule.
pub struct SimLogStore<'a> {
    store: &'a mut SimStore,
    last_ticket: &'a mut u64,
    syncs: &'a mut usize,
}

impl LogStore for SimLogStore<'_> {
    fn put_hard_state(&mut self, _slot: Slot, hs: HardState) {
        self.store.write_hard(hs);
    }

    fn put_entries(&mut self, _slot: Slot, _prev_ballot: Ballot, entries: &[Entry]) {
        if !entries.is_empty() {
            self.store.write(Record::Entries(entries.to_vec()));
        }
    }

    fn put_snapshot(&mut self, _slot: Slot, meta: &SnapshotMeta, data: &[u8]) {
        self.store.write(Record::Snap(meta.clone(), data.to_vec()));
    }

    fn barrier(&mut self, _slot: Slot) -> Ticket {
        *self.last_ticket += 1;
        *self.syncs += 1;
        Ticket(*self.last_ticket)
    }
}

type Core = GroupCore<SimSm, ReqId, (ReqId, u64)>;
type CoreOutput = CoreOut<Applied, ReqId, (ReqId, u64)>;

pub struct Host {
    core: Core,
    last_ticket: u64,
}

impl Host {
    /// A replica whose state machine holds `kv` (its state at the
    /// replica's applied index).
    pub fn new(replica: Replica, kv: Kv) -> Host {
        let slot = Slot(replica.group().0);
        Host {
            core: GroupCore::new(replica, SimSm::new(kv), slot),
            last_ticket: 0,
        }
    }

    pub fn replica(&self) -> &Replica {
        self.core.replica()
    }

    pub fn replica_mut(&mut self) -> &mut Replica {
        self.core.replica_mut()
    }

    pub fn kv(&self) -> &Kv {
        &self.core.sm().kv
    }

    /// Runs `f` on the core, then carries out everything that follows.
    fn with_core(
        &mut self,
        store: &mut SimStore,
        out: &mut Out,
        f: impl FnOnce(&mut Core, &mut SimLogStore<'_>, &mut CoreOutput),
    ) {
        let mut log = SimLogStore {
            store,
            last_ticket: &mut self.last_ticket,
            syncs: &mut out.syncs,
        };
        let mut co = CoreOutput::default();
        f(&mut self.core, &mut log, &mut co);
        loop {
            self.core.drive(&mut log, &mut co);
            if self.core.staged() > self.core.visible() {
                self.core.visible_moved(&mut log, &mut co);
                continue;
            }
            if co.snapshots_wanted.is_empty() {
                break;
            }
            let at = self.core.visible();
            let data = self.core.sm().kv.encode();
            for peer in std::mem::take(&mut co.snapshots_wanted) {
                self.core
                    .replica_mut()
                    .send_snapshot_at(peer, at, data.clone());
            }
        }
        self.deliver(co, out);
    }

    fn deliver(&mut self, co: CoreOutput, out: &mut Out) {
        out.send.extend(co.send);
        for (req, done) in co.writes {
            let reply = match done {
                WriteDone::Applied(a) => match a.result {
                    Some(held) => {
                        out.acked.push((a.index, a.ballot));
                        Reply::Written(held)
                    }
                    None => Reply::WrongGroup,
                },
                WriteDone::NotCommitted => Reply::NotCommitted,
                WriteDone::Unknown => Reply::Ambiguous,
            };
            out.replies.push((req, reply));
        }
        let kv = &self.core.sm().kv;
        for (req, key) in co.reads {
            let reply = if kv.owns(key) {
                Reply::Value(kv.get(key))
            } else {
                Reply::WrongGroup
            };
            out.replies.push((req, reply));
        }
        for ((req, _), _) in co.reads_failed {
            out.replies.push((req, Reply::Retry));
        }
        let sm = self.core.sm_mut();
        out.applied.append(&mut sm.applied);
        out.children.append(&mut sm.children);
        if let Some(i) = sm.installed.take() {
            out.snapshot_installed = Some(i);
        }
    }

    /// Carry out everything the replica asks for now (the world calls this
    /// after every other call).
    pub fn drive(&mut self, store: &mut SimStore, out: &mut Out) {
        self.with_core(store, out, |_, _, _| {});
    }

    /// The oldest pending sync completed (the store syncs everything
    /// written so far; the core hears of its oldest barrier).
    pub fn sync_done(&mut self, store: &mut SimStore, out: &mut Out) {
        store.sync();
        self.with_core(store, out, |core, log, co| {
            if let Some(t) = core.waiting_for() {
                core.persisted(t, log, co);
            }
        });
    }

    pub fn write(&mut self, req: ReqId, c: Command, out: &mut Out) {
        if !self.kv().owns(c.key()) && self.replica().is_leader() {
            // Ownership only shrinks: this group will never take it.
            out.replies.push((req, Reply::WrongGroup));
            return;
        }
        match self.core.propose(c.encode(), req) {
            Ok(_) => {}
            Err((req, Refused::NotLeader(leader))) => {
                out.replies.push((req, Reply::Redirect(leader)));
            }
            Err((req, Refused::Retry)) => out.replies.push((req, Reply::Retry)),
        }
    }

    pub fn strong_read(&mut self, req: ReqId, key: u64) {
        self.core.read((req, key));
    }

    pub fn eventual_read(&mut self, req: ReqId, key: u64, out: &mut Out) {
        let r = self.replica();
        let reply = if r.membership().role(r.id()) != Some(Role::Full) {
            Reply::Retry
        } else if !self.kv().owns(key) {
            Reply::WrongGroup
        } else {
            Reply::Value(self.kv().get(key))
        };
        out.replies.push((req, reply));
    }

    /// Checkpoint: persist the state machine and release the log before it.
    pub fn checkpoint(&mut self, store: &mut SimStore, out: &mut Out) {
        let r = self.replica();
        let applied = r.applied();
        let role = r.membership().role(r.id());
        if role != Some(Role::Full) && role != Some(Role::Learner) {
            return; // a Log member keeps its log until it is removed
        }
        let upto = applied.min(r.status().stable);
        if upto == 0 || self.core.visible() != upto {
            return; // snapshot only exactly where the state machine is
        }
        let Some(ballot) = r.entry(upto).map(|e| e.ballot) else {
            return;
        };
        let meta = SnapshotMeta {
            index: upto,
            ballot,
            membership: r.membership_at(upto),
        };
        let data = self.kv().encode();
        // A checkpoint is its own durable write (volatile records queued
        // before it become durable with it, which is only earlier than
        // their sync reports).
        store.write(Record::Snap(meta, data));
        store.sync();
        self.replica_mut().compact(upto);
        self.drive(store, out);
    }
}
