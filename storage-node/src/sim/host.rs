//! The simulator's driver for one replica: it carries out each `Ready`
//! exactly as the contract in `replication/ready.rs` says (persist, then
//! send what waits for persistence, apply in order, answer reads once
//! applied), against a [`SimStore`] and the [`Kv`] state machine, and hands
//! everything that leaves the node back to the world as [`Out`].
//!
//! Volatile: the replica, the state machine, pending client requests. A
//! crash drops the host; only its store survives.

use std::collections::{BTreeMap, VecDeque};

use wire::replication::{Ballot, Entry, Envelope, LogIndex, Payload, Role};

use super::kv::{Command, Kv};
use super::store::{Record, SimStore};
use crate::replication::{ReadResult, Replica};

/// A client request id (unique in a simulation).
pub type ReqId = u64;

/// What a node answers a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Write applied; for a conditional put, whether the condition held.
    Written(bool),
    /// The write can no longer take effect (its entry was replaced).
    NotCommitted,
    Value(Option<u64>),
    /// Not the leader; try this member's node.
    Redirect(Option<wire::replication::MemberId>),
    /// Try again (busy, no leader yet, read lost leadership, ...).
    Retry,
    /// This group does not own the key (any more): it moved in a split.
    /// Certainly no effect; look the key up again.
    WrongGroup,
}

/// A group this member starts because it applied a split entry.
pub struct Child {
    pub group: wire::replication::GroupId,
    pub persisted: crate::replication::Persisted,
    pub kv: Kv,
    /// This member led the parent when it applied the split: the child
    /// campaigns at once.
    pub lead: bool,
}

/// One pending fsync: what waits for it.
struct Sync {
    after: Vec<Envelope>,
    persisted: Option<(LogIndex, Ballot)>,
}

/// Effects for the world to carry out.
#[derive(Default)]
pub struct Out {
    pub send: Vec<Envelope>,
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

pub struct Host {
    pub replica: Replica,
    pub kv: Kv,
    pub kv_applied: LogIndex,
    syncs: VecDeque<Sync>,
    writes: BTreeMap<LogIndex, (Ballot, ReqId, Command)>,
    reads: BTreeMap<u64, (ReqId, u64)>,
    ready_reads: Vec<(LogIndex, ReqId, u64)>,
    next_read: u64,
}

impl Host {
    pub fn new(replica: Replica, kv: Kv, kv_applied: LogIndex) -> Host {
        Host {
            replica,
            kv,
            kv_applied,
            syncs: VecDeque::new(),
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            ready_reads: Vec::new(),
            next_read: 0,
        }
    }

    /// Carry out everything the replica asks for now.
    pub fn drive(&mut self, store: &mut SimStore, out: &mut Out) {
        loop {
            let ready = self.replica.take_ready();
            if ready.is_empty() {
                break;
            }
            let needs_persist = ready.needs_persist();
            out.send.extend(ready.messages);
            if needs_persist {
                if let Some(hs) = ready.hard_state {
                    store.write_hard(hs);
                }
                let mut persisted = None;
                if let Some((meta, data)) = &ready.snapshot {
                    store.write(Record::Snap(meta.clone(), data.clone()));
                    persisted = Some((meta.index, meta.ballot));
                }
                if let Some(last) = ready.entries.last() {
                    persisted = Some((last.index, last.ballot));
                    store.write(Record::Entries(ready.entries.clone()));
                }
                self.syncs.push_back(Sync {
                    after: ready.messages_after_persist,
                    persisted,
                });
                out.syncs += 1;
            } else if !ready.messages_after_persist.is_empty() {
                match self.syncs.back_mut() {
                    Some(s) => s.after.extend(ready.messages_after_persist),
                    None => out.send.extend(ready.messages_after_persist),
                }
            }
            if let Some((meta, data)) = ready.snapshot {
                self.kv = Kv::decode(&data, (0, 0));
                self.kv_applied = meta.index;
                out.snapshot_installed = Some(meta.index);
            }
            let mut last_applied = None;
            for e in ready.committed {
                self.apply(&e, out);
                last_applied = Some(e.index);
                out.applied.push(e);
            }
            if let Some(i) = last_applied {
                self.replica.on_applied(i);
            }
            for r in ready.reads {
                match r {
                    ReadResult::Ready { id, index } => {
                        if let Some((req, key)) = self.reads.remove(&id) {
                            self.ready_reads.push((index, req, key));
                        }
                    }
                    ReadResult::Failed { id, .. } => {
                        if let Some((req, _)) = self.reads.remove(&id) {
                            out.replies.push((req, Reply::Retry));
                        }
                    }
                }
            }
            for peer in ready.snapshot_needed {
                let data = self.kv.encode();
                debug_assert_eq!(self.kv_applied, self.replica.applied());
                self.replica.send_snapshot(peer, data);
            }
            self.answer_reads(out);
        }
    }

    fn apply(&mut self, e: &Entry, out: &mut Out) {
        assert_eq!(
            e.index,
            self.kv_applied + 1,
            "entries applied in order, once"
        );
        let mut result = Some(true);
        match &e.payload {
            Payload::Command(bytes) => {
                let c = Command::decode(bytes).expect("the sim only proposes valid commands");
                result = self.kv.apply(&c);
            }
            Payload::Split(spec) => {
                let at = u64::from_le_bytes(
                    spec.key[..]
                        .try_into()
                        .expect("the sim's split keys are 8 bytes"),
                );
                out.children.push(Child {
                    group: spec.new_group,
                    persisted: self.replica.split_child(e),
                    kv: self.kv.split_off(at),
                    lead: self.replica.is_leader(),
                });
            }
            Payload::Noop | Payload::Conf(_) => {}
        }
        self.kv_applied = e.index;
        if let Some((ballot, req, _)) = self.writes.remove(&e.index) {
            let reply = match result {
                _ if ballot != e.ballot => Reply::NotCommitted,
                Some(held) => {
                    out.acked.push((e.index, e.ballot));
                    Reply::Written(held)
                }
                None => Reply::WrongGroup,
            };
            out.replies.push((req, reply));
        }
    }

    fn answer_reads(&mut self, out: &mut Out) {
        let applied = self.kv_applied;
        let kv = &self.kv;
        self.ready_reads.retain(|&(index, req, key)| {
            if index <= applied {
                let reply = if kv.owns(key) {
                    Reply::Value(kv.get(key))
                } else {
                    Reply::WrongGroup
                };
                out.replies.push((req, reply));
                false
            } else {
                true
            }
        });
    }

    /// The oldest pending sync completed.
    pub fn sync_done(&mut self, store: &mut SimStore, out: &mut Out) {
        let s = self.syncs.pop_front().expect("a sync was pending");
        store.sync();
        out.send.extend(s.after);
        if let Some((i, b)) = s.persisted {
            self.replica.on_persisted(i, b);
        }
        self.drive(store, out);
    }

    pub fn write(&mut self, req: ReqId, c: Command, out: &mut Out) {
        if !self.kv.owns(c.key()) && self.replica.is_leader() {
            // Ownership only shrinks: this group will never take it.
            out.replies.push((req, Reply::WrongGroup));
            return;
        }
        match self.replica.propose(c.encode()) {
            Ok((index, ballot)) => {
                self.writes.insert(index, (ballot, req, c));
            }
            Err(crate::replication::ProposeError::NotLeader { leader }) => {
                out.replies.push((req, Reply::Redirect(leader)));
            }
            Err(_) => out.replies.push((req, Reply::Retry)),
        }
    }

    pub fn strong_read(&mut self, req: ReqId, key: u64) {
        self.next_read += 1;
        self.reads.insert(self.next_read, (req, key));
        self.replica.read(self.next_read);
    }

    pub fn eventual_read(&mut self, req: ReqId, key: u64, out: &mut Out) {
        let reply = if self.replica.membership().role(self.replica.id()) != Some(Role::Full) {
            Reply::Retry
        } else if !self.kv.owns(key) {
            Reply::WrongGroup
        } else {
            Reply::Value(self.kv.get(key))
        };
        out.replies.push((req, reply));
    }

    /// Checkpoint: persist the state machine and release the log before it.
    pub fn checkpoint(&mut self, store: &mut SimStore, out: &mut Out) {
        let applied = self.replica.applied();
        let role = self.replica.membership().role(self.replica.id());
        let status = self.replica.status();
        if role != Some(Role::Full) && role != Some(Role::Learner) {
            return; // a Log member keeps its log until it is removed
        }
        let upto = applied.min(status.stable);
        if upto == 0 {
            return;
        }
        let Some(ballot) = self.replica.entry(upto).map(|e| e.ballot) else {
            return;
        };
        let membership = self.replica.membership_at(upto);
        let meta = wire::replication::SnapshotMeta {
            index: upto,
            ballot,
            membership,
        };
        if self.kv_applied != upto {
            return; // snapshot only exactly where the state machine is
        }
        let data = self.kv.encode();
        // A checkpoint is its own durable write (volatile records queued
        // before it become durable with it, which is only earlier than
        // their sync reports).
        store.write(Record::Snap(meta, data));
        store.sync();
        self.replica.compact(upto);
        self.drive(store, out);
    }
}
