//! The leader: replication (phase 2), commit, heartbeats, the lease,
//! consistent reads, membership steps, leader transfer and quiescence.
//!
//! **Commit**: an entry commits when a quorum of the voters in force has it
//! durable (the leader counts itself once `on_persisted` says so) and it
//! carries the leader's own ballot; earlier entries commit with it.
//!
//! **Lease**: heartbeat `seq` sent at tick `t` and acknowledged by a quorum
//! (the leader included) extends the lease to `t + lease_ticks`. Every
//! acknowledging follower refuses other candidates for `election_ticks`
//! of its own ticks after receiving it, and any new leader's quorum
//! contains one of them, so no other leader is elected before
//! `t + election_ticks`. Independently of that stickiness (which a
//! restarted member or a forced transfer vote bypasses), a new leader does
//! not serve from its lease until `lease_ticks + 1` ticks after its
//! election: every old lease was extended by a heartbeat sent before one
//! of the new leader's voters promised it, so it has ended by then. With
//! `lease_ticks + 2 <= election_ticks` the margins cover tick rounding.
//! Reads under the lease are answered at once at the commit index; without
//! it, a read waits for a heartbeat round sent after it arrived (ReadIndex).
//! Either way the leader must first have committed an entry of its ballot.
//!
//! **Membership**: one step at a time; a step may be proposed only once the
//! previous one committed and the leader has committed its first entry. A
//! leader removed by a step keeps leading until that step commits (without
//! counting itself), then steps down.
//!
//! **Quiescence**: when every peer holds the whole log and the commit
//! index, and nothing is pending, the leader sends one heartbeat with
//! `quiesce` and then goes silent; followers stop their election timers.
//! Any proposal, read, transfer or unexpected message wakes it.

use std::collections::{BTreeMap, VecDeque};

use wire::replication::{
    Ballot, ConfChange, Entry, LogIndex, MemberId, Message, Payload, Role, SnapshotMeta,
};

use super::progress::{PeerState, Progress};
use super::ready::{ProposeError, ReadError, ReadResult};
use super::replica::{Replica, State};

/// Heartbeat send times remembered (enough for a few election timeouts).
const HEARTBEATS_REMEMBERED: usize = 64;

#[derive(Clone, Debug)]
pub struct Recovery {
    pub from: MemberId,
    pub target_index: LogIndex,
    pub target_ballot: Ballot,
    pub asked_at: u64,
}

pub(super) struct PendingRead {
    pub id: u64,
    /// Heartbeat round that must be acknowledged by a quorum.
    pub seq: u64,
    /// Commit index when the read arrived.
    pub index: LogIndex,
}

pub struct Lead {
    pub(super) progress: BTreeMap<MemberId, Progress>,
    /// Index of this leader's first entry (its no-op).
    pub(super) first_index: LogIndex,
    pub(super) elected_at: u64,
    pub(super) recovery: Option<Recovery>,
    pub(super) hb_seq: u64,
    pub(super) hb_sent: VecDeque<(u64, u64)>,
    pub(super) lease_until: u64,
    pub(super) reads: VecDeque<PendingRead>,
    pub(super) transfer: Option<(MemberId, u64)>,
    pub(super) heartbeat_elapsed: u32,
    pub(super) check_quorum_elapsed: u32,
    pub(super) quiesced: bool,
    pub(super) snapshot_asked_at: BTreeMap<MemberId, u64>,
}

impl Lead {
    pub(super) fn new(r: &Replica, recovery: Option<Recovery>) -> Lead {
        let next = r.log.last_index() + 1;
        let progress = r
            .membership
            .members()
            .iter()
            .filter(|m| m.id != r.id)
            .map(|m| (m.id, Progress::new(next)))
            .collect();
        Lead {
            progress,
            first_index: u64::MAX,
            elected_at: r.now,
            recovery,
            hb_seq: 0,
            hb_sent: VecDeque::new(),
            lease_until: 0,
            reads: VecDeque::new(),
            transfer: None,
            heartbeat_elapsed: 0,
            check_quorum_elapsed: 0,
            quiesced: false,
            snapshot_asked_at: BTreeMap::new(),
        }
    }
}

impl Replica {
    fn lead(&mut self) -> &mut Lead {
        match &mut self.state {
            State::Leader(l) => l,
            _ => unreachable!("leader-only path on a non-leader"),
        }
    }

    pub(super) fn lead_ref(&self) -> Option<&Lead> {
        match &self.state {
            State::Leader(l) => Some(l),
            _ => None,
        }
    }

    /// Recovery done (or not needed): append our no-op and replicate.
    pub(super) fn start_leading(&mut self) {
        let index = self.log.last_index() + 1;
        let e = Entry {
            index,
            ballot: self.hs.ballot,
            payload: Payload::Noop,
        };
        self.log.append_own(e.clone());
        self.persist_entries(None, vec![e]);
        let ids: Vec<MemberId> = self
            .membership
            .members()
            .iter()
            .map(|m| m.id)
            .filter(|&id| id != self.id)
            .collect();
        let l = self.lead();
        l.first_index = index;
        l.progress = ids
            .into_iter()
            .map(|id| (id, Progress::new(index)))
            .collect();
        self.broadcast_append();
        self.maybe_commit();
    }

    pub(super) fn has_lease(&self) -> bool {
        let Some(l) = self.lead_ref() else {
            return false;
        };
        l.recovery.is_none()
            && l.transfer.is_none()
            && self.log.commit() >= l.first_index
            && self.now > l.elected_at + u64::from(self.settings.lease_ticks)
            && self.now < l.lease_until
    }

    pub(super) fn tick_leader(&mut self) {
        let election = self.settings.election_ticks;
        let heartbeat = self.settings.heartbeat_ticks;
        let now = self.now;
        let l = self.lead();
        if let Some(r) = &l.recovery
            && now >= r.asked_at + u64::from(election)
        {
            self.become_follower(self.hs.ballot, None);
            return;
        }
        if let Some((_, deadline)) = l.transfer
            && now >= deadline
        {
            l.transfer = None;
        }
        if l.quiesced {
            return;
        }
        l.heartbeat_elapsed += 1;
        l.check_quorum_elapsed += 1;
        if l.check_quorum_elapsed >= election {
            l.check_quorum_elapsed = 0;
            let active: Vec<MemberId> = l
                .progress
                .iter()
                .filter(|(_, p)| p.recent_active)
                .map(|(&id, _)| id)
                .collect();
            for p in l.progress.values_mut() {
                p.recent_active = false;
            }
            let me = self.membership.role(self.id).is_some_and(Role::is_voter) as usize;
            let n = me
                + active
                    .iter()
                    .filter(|id| self.membership.role(**id).is_some_and(Role::is_voter))
                    .count();
            if n < self.membership.quorum() {
                tracing::debug!(group = %self.group, member = %self.id, "lost contact with a quorum; stepping down");
                self.become_follower(self.hs.ballot, None);
                return;
            }
        }
        let l = self.lead();
        if l.heartbeat_elapsed >= heartbeat {
            l.heartbeat_elapsed = 0;
            if self.may_quiesce() {
                self.quiesce();
            } else {
                self.broadcast_heartbeat();
                self.retry_stalled_snapshots();
            }
        }
    }

    fn retry_stalled_snapshots(&mut self) {
        let now = self.now;
        let stale = u64::from(self.settings.election_ticks) * 4;
        let l = self.lead();
        let mut retry = Vec::new();
        for (&id, p) in l.progress.iter_mut() {
            if let PeerState::Snapshot { .. } = p.state
                && l.snapshot_asked_at
                    .get(&id)
                    .is_some_and(|&t| now >= t + stale)
            {
                p.state = PeerState::Probe;
                p.probe_sent = false;
                retry.push(id);
            }
        }
        for id in retry {
            self.maybe_send_append(id);
        }
    }

    pub(super) fn broadcast_heartbeat(&mut self) {
        self.send_heartbeats(false);
    }

    fn send_heartbeats(&mut self, quiesce: bool) {
        let now = self.now;
        let ballot = self.hs.ballot;
        let commit = self.log.commit();
        let l = self.lead();
        l.hb_seq += 1;
        let seq = l.hb_seq;
        l.hb_sent.push_back((seq, now));
        while l.hb_sent.len() > HEARTBEATS_REMEMBERED {
            l.hb_sent.pop_front();
        }
        let mut out = Vec::new();
        for (&id, p) in l.progress.iter_mut() {
            p.resume_probe();
            let c = commit.min(p.matched);
            out.push((
                id,
                Message::Heartbeat {
                    ballot,
                    commit: c,
                    seq,
                    quiesce,
                },
            ));
        }
        for (id, m) in out {
            self.send(id, m);
        }
        // A group of one confirms its own rounds.
        self.on_heartbeat_round_progress();
        let ids: Vec<MemberId> = self.lead().progress.keys().copied().collect();
        for id in ids {
            self.maybe_send_append(id);
        }
    }

    fn may_quiesce(&self) -> bool {
        let Some(l) = self.lead_ref() else {
            return false;
        };
        let last = self.log.last_index();
        l.recovery.is_none()
            && l.transfer.is_none()
            && l.reads.is_empty()
            && self.log.commit() == last
            && self.log.stable() == last
            && l.first_index <= last
            && l.progress.values().all(|p| {
                p.matched == last && p.state == PeerState::Replicate && p.hb_acked == l.hb_seq
            })
    }

    fn quiesce(&mut self) {
        self.send_heartbeats(true);
        self.lead().quiesced = true;
    }

    pub(super) fn unquiesce(&mut self) {
        let l = self.lead();
        if !l.quiesced {
            return;
        }
        l.quiesced = false;
        l.heartbeat_elapsed = 0;
        l.check_quorum_elapsed = 0;
        for p in l.progress.values_mut() {
            p.recent_active = true;
        }
        self.broadcast_heartbeat();
    }

    pub(super) fn propose_payload(
        &mut self,
        payload: Payload,
    ) -> Result<(LogIndex, Ballot), ProposeError> {
        let Some(l) = self.lead_ref() else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if l.recovery.is_some() {
            return Err(ProposeError::NotReady);
        }
        if l.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        if self.log.last_index() - self.log.commit() >= self.settings.uncommitted_entries_max as u64
        {
            return Err(ProposeError::Busy);
        }
        self.unquiesce();
        let index = self.log.last_index() + 1;
        let e = Entry {
            index,
            ballot: self.hs.ballot,
            payload,
        };
        let conf = matches!(e.payload, Payload::Conf(_));
        self.log.append_own(e.clone());
        self.persist_entries(None, vec![e]);
        if conf {
            self.refresh_membership();
            self.sync_progress_with_membership(index);
        }
        self.broadcast_append();
        self.maybe_commit();
        Ok((index, self.hs.ballot))
    }

    /// A membership step or a split needs a settled leader: elected, its
    /// first entry committed, no recovery and no membership step pending.
    pub(super) fn lead_settled(&self) -> Result<&Lead, ProposeError> {
        let Some(l) = self.lead_ref() else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if self.log.commit() < l.first_index || l.recovery.is_some() {
            return Err(ProposeError::NotReady);
        }
        if self.log.last_conf_index() > self.log.commit() {
            return Err(ProposeError::ConfChangePending);
        }
        Ok(l)
    }

    pub(super) fn check_conf_change(&self, change: &ConfChange) -> Result<(), ProposeError> {
        let l = self.lead_settled()?;
        let next = self.membership.apply(change)?;
        if let ConfChange::Remove { .. } = *change {
            // Never let a removal thin out the copies of committed state:
            // afterwards a quorum of the voters and (up to) two Full
            // members must already hold everything committed. A Log member
            // holds only the log since it joined, so it cannot stand in for
            // a lagging Full member.
            let commit = self.log.commit();
            let caught_up = |id: MemberId| {
                id == self.id || l.progress.get(&id).is_some_and(|p| p.matched >= commit)
            };
            let voters = next.voters().filter(|&v| caught_up(v)).count();
            let full: Vec<MemberId> = next
                .members()
                .iter()
                .filter(|m| m.role == Role::Full)
                .map(|m| m.id)
                .collect();
            let full_ok = full.iter().filter(|&&f| caught_up(f)).count();
            if voters < next.quorum() || full_ok < full.len().min(2) {
                let lagging = full
                    .iter()
                    .copied()
                    .chain(next.voters())
                    .find(|&m| !caught_up(m))
                    .unwrap_or(self.id);
                return Err(ProposeError::NotCaughtUp(lagging));
            }
        }
        if let ConfChange::Promote { id } = *change {
            let caught_up = l
                .progress
                .get(&id)
                .is_some_and(|p| p.matched >= self.log.commit());
            if !caught_up {
                return Err(ProposeError::NotCaughtUp(id));
            }
        }
        Ok(())
    }

    /// After a membership step was appended: track new members, forget
    /// removed ones.
    fn sync_progress_with_membership(&mut self, conf_index: LogIndex) {
        let members: Vec<MemberId> = self.membership.members().iter().map(|m| m.id).collect();
        let me = self.id;
        let l = self.lead();
        l.progress.retain(|id, _| members.contains(id));
        for id in members {
            if id != me {
                l.progress
                    .entry(id)
                    .or_insert_with(|| Progress::new(conf_index));
            }
        }
    }

    pub(super) fn broadcast_append(&mut self) {
        let ids: Vec<MemberId> = self.lead().progress.keys().copied().collect();
        for id in ids {
            self.maybe_send_append(id);
        }
    }

    /// Send `to` what it is missing, if flow control allows.
    pub(super) fn maybe_send_append(&mut self, to: MemberId) {
        let inflight_max = self.settings.inflight_msgs_max;
        let bytes_max = self.settings.accept_bytes_max;
        let last = self.log.last_index();
        let snap_index = self.log.snapshot().index;
        if !self.is_leader() {
            return;
        }
        let (next, wants_snapshot, probe) = {
            let l = self.lead();
            if l.recovery.is_some() {
                return;
            }
            let Some(p) = l.progress.get(&to) else { return };
            if !p.can_send(inflight_max) {
                return;
            }
            (p.next, p.wants_snapshot, p.state == PeerState::Probe)
        };
        if wants_snapshot || next <= snap_index {
            self.start_snapshot(to);
            return;
        }
        if !probe && next > last {
            return;
        }
        let prev_index = next - 1;
        let prev_ballot = self
            .log
            .ballot_at(prev_index)
            .expect("prev is at or after the snapshot point");
        let entries = self
            .log
            .entries_from(next, bytes_max)
            .expect("next is after the snapshot point");
        let sent_last = prev_index + entries.len() as u64;
        let commit = self.log.commit();
        let ballot = self.hs.ballot;
        if let Some(p) = self.lead().progress.get_mut(&to) {
            p.sent(sent_last);
        }
        self.send(
            to,
            Message::Accept {
                ballot,
                prev_index,
                prev_ballot,
                entries,
                commit,
            },
        );
    }

    /// `to` needs state it cannot get from our log.
    fn start_snapshot(&mut self, to: MemberId) {
        match self.membership.role(to) {
            Some(Role::Log) => {
                // A Log member keeps no state: tell it where its log starts
                // (just before it joined, if we still have that entry).
                let join = (self.log.first_index()..=self.log.last_index())
                    .find(|&i| {
                        matches!(
                            self.log.get(i).map(|e| &e.payload),
                            Some(Payload::Conf(ConfChange::Add { id, .. })) if *id == to
                        )
                    })
                    .map_or(self.log.snapshot().index, |i| i - 1);
                let (next, wants) = {
                    let p = &self.lead().progress[&to];
                    (p.next, p.wants_snapshot)
                };
                let index = if wants {
                    join
                } else {
                    self.log.snapshot().index.max(next.saturating_sub(1))
                };
                let meta = SnapshotMeta {
                    index,
                    ballot: self.log.ballot_at(index).expect("index within the log"),
                    membership: self.log.membership_at(index),
                };
                self.begin_snapshot_send(to, meta, Vec::new());
            }
            Some(_) => {
                let now = self.now;
                let l = self.lead();
                let p = l.progress.get_mut(&to).expect("member has progress");
                p.become_snapshot(0);
                l.snapshot_asked_at.insert(to, now);
                self.ready.snapshot_needed.push(to);
            }
            None => {}
        }
    }

    fn begin_snapshot_send(&mut self, to: MemberId, meta: SnapshotMeta, data: Vec<u8>) {
        let now = self.now;
        let l = self.lead();
        let Some(p) = l.progress.get_mut(&to) else {
            return;
        };
        p.become_snapshot(meta.index);
        l.snapshot_asked_at.insert(to, now);
        self.send_snapshot_msg(to, meta, data, false);
    }

    fn send_snapshot_msg(
        &mut self,
        to: MemberId,
        meta: SnapshotMeta,
        data: Vec<u8>,
        committed_only: bool,
    ) {
        let ballot = self.hs.ballot;
        self.send(
            to,
            Message::Snapshot {
                ballot,
                meta,
                data,
                committed_only,
            },
        );
    }

    /// The driver's answer to `Ready::snapshot_needed`: `data` is the state
    /// machine as of [`Replica::applied`].
    pub fn send_snapshot(&mut self, to: MemberId, data: Vec<u8>) {
        self.send_snapshot_at(to, self.applied, data);
    }

    /// Like [`Replica::send_snapshot`], for a driver whose snapshot was taken at an earlier
    /// applied index (it read the state machine asynchronously while applying went on).
    /// `index` must be applied here and not compacted away (checked: otherwise nothing is
    /// sent, and the peer is asked for again).
    pub fn send_snapshot_at(&mut self, to: MemberId, index: LogIndex, data: Vec<u8>) {
        if index > self.applied || self.log.ballot_at(index).is_none() {
            return;
        }
        let meta = SnapshotMeta {
            index,
            ballot: self
                .log
                .ballot_at(index)
                .expect("applied is at or after the snapshot point"),
            membership: self.log.membership_at(index),
        };
        if self.is_leader() {
            self.begin_snapshot_send(to, meta, data);
        } else if self.has_state() {
            // Leaderless catch-up (see `on_fetch`): what we applied is
            // committed.
            self.send_snapshot_msg(to, meta, data, true);
        }
    }

    pub(super) fn on_snapshot_resp(&mut self, from: MemberId, index: LogIndex) {
        let Some(l) = self.lead_ref() else { return };
        if !l.progress.contains_key(&from) {
            return;
        }
        let p = self.lead().progress.get_mut(&from).expect("checked");
        p.recent_active = true;
        p.wants_snapshot = false;
        if let PeerState::Snapshot { .. } = p.state {
            p.state = PeerState::Probe;
            p.probe_sent = false;
        }
        p.acked(index);
        self.maybe_commit();
        self.maybe_send_append(from);
    }

    pub(super) fn on_accept_resp(
        &mut self,
        from: MemberId,
        ok: bool,
        index: LogIndex,
        wants_snapshot: bool,
    ) {
        let Some(l) = self.lead_ref() else { return };
        if !l.progress.contains_key(&from) {
            return;
        }
        if !ok || wants_snapshot {
            self.unquiesce();
        }
        let last = self.log.last_index();
        let p = self.lead().progress.get_mut(&from).expect("checked");
        p.recent_active = true;
        if wants_snapshot {
            if !p.wants_snapshot {
                p.wants_snapshot = true;
                p.state = PeerState::Probe;
                p.probe_sent = false;
            }
        } else if ok {
            if p.acked(index) {
                self.maybe_commit();
            }
        } else if !p.refused(index) {
            return;
        }
        if !self.is_leader() {
            return; // our own removal just committed
        }
        let transfer_to = self.lead().transfer.map(|(t, _)| t);
        if transfer_to == Some(from) && self.lead().progress[&from].matched == last {
            let ballot = self.hs.ballot;
            self.send(from, Message::TimeoutNow { ballot });
        }
        self.maybe_send_append(from);
    }

    pub(super) fn on_heartbeat_resp(&mut self, from: MemberId, seq: u64) {
        let Some(l) = self.lead_ref() else { return };
        if !l.progress.contains_key(&from) {
            return;
        }
        let inflight_max = self.settings.inflight_msgs_max;
        let p = self.lead().progress.get_mut(&from).expect("checked");
        p.recent_active = true;
        p.hb_acked = p.hb_acked.max(seq);
        if p.state == PeerState::Replicate && p.inflight.len() >= inflight_max {
            // It is alive but its window is full of Accepts it never
            // answered (it restarted, or they were lost): let one more go
            // so a refusal can put it back into probing.
            p.inflight.pop_front();
        }
        self.on_heartbeat_round_progress();
        if !self.is_leader() {
            return;
        }
        self.maybe_send_append(from);
    }

    /// The highest heartbeat seq acknowledged by a quorum (us included).
    fn quorum_acked_seq(&self) -> u64 {
        let Some(l) = self.lead_ref() else { return 0 };
        let mut acks: Vec<u64> = self
            .membership
            .voters()
            .map(|v| {
                if v == self.id {
                    l.hb_seq
                } else {
                    l.progress.get(&v).map_or(0, |p| p.hb_acked)
                }
            })
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        acks.get(self.membership.quorum() - 1).copied().unwrap_or(0)
    }

    fn on_heartbeat_round_progress(&mut self) {
        let seq = self.quorum_acked_seq();
        let lease = u64::from(self.settings.lease_ticks);
        let l = self.lead();
        if let Some(&(_, sent)) = l.hb_sent.iter().rev().find(|(s, _)| *s <= seq)
            && l.transfer.is_none()
        {
            l.lease_until = l.lease_until.max(sent + lease);
        }
        self.serve_confirmed_reads(seq);
    }

    fn serve_confirmed_reads(&mut self, confirmed_seq: u64) {
        let commit = self.log.commit();
        let l = self.lead();
        if commit < l.first_index {
            return;
        }
        let first = l.first_index;
        let mut done = Vec::new();
        while l.reads.front().is_some_and(|r| r.seq <= confirmed_seq) {
            let r = l.reads.pop_front().expect("checked");
            done.push(ReadResult::Ready {
                id: r.id,
                index: r.index.max(first),
            });
        }
        self.ready.reads.extend(done);
    }

    pub(super) fn leader_read(&mut self, id: u64) {
        if self.has_lease() {
            let index = self.log.commit();
            self.ready.reads.push(ReadResult::Ready { id, index });
            return;
        }
        if self.lead().reads.len() >= self.settings.pending_reads_max {
            self.ready.reads.push(ReadResult::Failed {
                id,
                error: ReadError::Busy,
            });
            return;
        }
        self.unquiesce();
        let index = self.log.commit();
        let l = self.lead();
        let seq = l.hb_seq + 1;
        l.reads.push_back(PendingRead { id, seq, index });
        self.broadcast_heartbeat();
    }

    pub(super) fn leader_transfer(&mut self, to: MemberId) -> Result<(), ProposeError> {
        let Some(l) = self.lead_ref() else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if l.recovery.is_some() {
            return Err(ProposeError::NotReady);
        }
        if to == self.id || self.membership.role(to) != Some(Role::Full) {
            return Err(ProposeError::NotEligible(to));
        }
        let deadline = self.now + u64::from(self.settings.election_ticks);
        self.unquiesce();
        let last = self.log.last_index();
        let l = self.lead();
        l.transfer = Some((to, deadline));
        // Give up the lease: the target's forced election ignores the
        // followers' stickiness.
        l.lease_until = 0;
        if l.progress.get(&to).is_some_and(|p| p.matched == last) {
            let ballot = self.hs.ballot;
            self.send(to, Message::TimeoutNow { ballot });
        } else {
            self.maybe_send_append(to);
        }
        Ok(())
    }

    pub(super) fn maybe_commit(&mut self) {
        let Some(l) = self.lead_ref() else { return };
        let mut matches: Vec<LogIndex> = self
            .membership
            .voters()
            .map(|v| {
                if v == self.id {
                    self.log.stable()
                } else {
                    l.progress.get(&v).map_or(0, |p| p.matched)
                }
            })
            .collect();
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matches[self.membership.quorum() - 1];
        if candidate <= self.log.commit() || self.log.ballot_at(candidate) != Some(self.hs.ballot) {
            return;
        }
        self.log.set_commit(candidate);
        let seq = self.quorum_acked_seq();
        self.serve_confirmed_reads(seq);
        if self.membership.role(self.id).is_none() && self.log.last_conf_index() <= candidate {
            // Our removal committed.
            self.become_follower(self.hs.ballot, None);
        }
    }
}
