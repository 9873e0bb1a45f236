//! [`Replica`]: one member of one replication group, as a pure state
//! machine. Inputs are method calls (`tick`, `step`, `propose`, `read`,
//! `on_persisted`, `on_applied`, ...); outputs accumulate in a [`Ready`]
//! the driver takes with [`Replica::take_ready`] (contract in `ready.rs`).
//!
//! This file holds the state, the constructor, the public API and the
//! dispatch of messages; the protocol itself is split by role:
//! `election.rs` (pre-vote, vote, becoming leader, recovery from a log
//! member), `leader.rs` (replication, commit, heartbeats, lease, reads,
//! membership, transfer, quiescence) and `follower.rs` (accepting entries,
//! heartbeats, snapshots, fetches).
//!
//! Invariants asserted here and in `log.rs`: at most one vote per ballot is
//! ever persisted; the commit index never decreases and never passes the
//! log; entries are handed out for applying in order, once, and only when
//! locally durable (`applied <= stable`); `Log` members never lead and
//! never apply.

use std::collections::{BTreeMap, BTreeSet};

use wire::replication::{
    Ballot, ConfChange, Entry, Envelope, GroupId, HardState, LogIndex, MemberId, Membership,
    Message, Payload, Role, SnapshotMeta,
};

use super::leader::Lead;
use super::log::Log;
use super::ready::{ProposeError, ReadError, ReadResult, Ready};
use super::settings::{Settings, SettingsError};

/// What a replica recovered from its disk (or, for a new member, what it
/// starts from).
#[derive(Clone, Debug)]
pub struct Persisted {
    pub hard_state: HardState,
    /// The snapshot point: index 0, ballot 0 and the initial membership for
    /// a brand-new group.
    pub snapshot: SnapshotMeta,
    /// Durable entries after the snapshot point.
    pub entries: Vec<Entry>,
    /// How far the state machine has applied (`snapshot.index` for `Log`
    /// members, which keep no state).
    pub applied: LogIndex,
    /// Recovery found corruption (not just a torn tail): this member may
    /// have lost records it acknowledged, so it neither votes nor campaigns
    /// until a leader elected without it has brought it up to date.
    pub damaged: bool,
    /// A member added to a running group, with no state yet: it refuses
    /// entries until it has received a snapshot.
    pub joining: bool,
    /// This member has never run, so it has promised nothing to any
    /// leader: it may vote at once (a restarted member first keeps its
    /// promises for an election timeout). Only a group born from a split
    /// starts fresh (see `split.rs`); recovery always passes `false`.
    pub fresh: bool,
}

impl Persisted {
    /// The starting point of every member of a new group.
    pub fn new_group(membership: Membership) -> Persisted {
        Persisted {
            hard_state: HardState::default(),
            snapshot: SnapshotMeta {
                index: 0,
                ballot: Ballot(0),
                membership,
            },
            entries: Vec::new(),
            applied: 0,
            damaged: false,
            joining: false,
            fresh: false,
        }
    }

    /// A member joining a running group (`membership` must name it, as a
    /// `Learner` or `Log` member).
    pub fn joining(membership: Membership) -> Persisted {
        Persisted {
            joining: true,
            ..Persisted::new_group(membership)
        }
    }
}

/// The role-specific part of the state.
pub(super) enum State {
    Follower,
    PreCandidate {
        granted: BTreeSet<MemberId>,
        refused: BTreeSet<MemberId>,
    },
    Candidate {
        /// Granting voters and the end of their logs.
        granted: BTreeMap<MemberId, (LogIndex, Ballot)>,
        refused: BTreeSet<MemberId>,
    },
    Leader(Box<Lead>),
}

/// What a replica is doing, for the driver, metrics and checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleState {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: MemberId,
    pub state: RoleState,
    pub ballot: Ballot,
    pub leader: Option<MemberId>,
    pub commit: LogIndex,
    pub applied: LogIndex,
    pub last_index: LogIndex,
    pub stable: LogIndex,
    /// The log's snapshot point (entries at or before it are compacted).
    pub snapshot_index: LogIndex,
    pub has_lease: bool,
    pub quiesced: bool,
    pub damaged: bool,
    pub role: Option<Role>,
}

pub struct Replica {
    pub(super) id: MemberId,
    pub(super) group: GroupId,
    pub(super) settings: Settings,
    rng: u64,
    pub(super) hs: HardState,
    pub(super) log: Log,
    /// The membership in force: the latest one in the log.
    pub(super) membership: Membership,
    pub(super) applied: LogIndex,
    /// Highest index handed out in `Ready::committed`.
    pub(super) apply_emitted: LogIndex,
    pub(super) state: State,
    pub(super) leader: Option<MemberId>,
    /// Ticks since start.
    pub(super) now: u64,
    pub(super) election_elapsed: u32,
    pub(super) election_timeout: u32,
    /// Non-forced votes and pre-votes are refused before this tick: we
    /// heard a leader recently (or restarted recently).
    pub(super) vote_blocked_until: u64,
    /// When we last heard the leader we follow (its lease may run until
    /// `lease_ticks` after that).
    pub(super) leader_heard_at: u64,
    /// Follower: election timer stopped by the leader's quiesce request.
    pub(super) quiesced: bool,
    /// Damaged at this ballot (see [`Persisted::damaged`]).
    pub(super) damaged_at: Option<Ballot>,
    pub(super) joining: bool,
    pub(super) ready: Ready,
}

impl Replica {
    /// `seed` drives the randomized election timeouts (the only randomness).
    pub fn new(
        id: MemberId,
        group: GroupId,
        settings: Settings,
        seed: u64,
        p: Persisted,
    ) -> Result<Replica, SettingsError> {
        settings.validate()?;
        let mut log = Log::new(p.snapshot, p.entries);
        let applied = p.applied.max(log.snapshot().index);
        assert!(
            applied <= log.last_index(),
            "applied {applied} beyond the log's end {}",
            log.last_index()
        );
        log.set_commit(applied);
        let membership = log.membership_at(log.last_index());
        let mut r = Replica {
            id,
            group,
            rng: seed ^ 0x5851_f42d_4c95_7f2d,
            hs: p.hard_state,
            log,
            membership,
            applied,
            apply_emitted: applied,
            state: State::Follower,
            leader: None,
            now: 0,
            election_elapsed: 0,
            election_timeout: settings.election_ticks,
            // A restarted member may have acknowledged a leader just before
            // it went down: it keeps that promise for one election timeout.
            vote_blocked_until: if p.fresh {
                0
            } else {
                u64::from(settings.election_ticks)
            },
            leader_heard_at: 0,
            quiesced: false,
            damaged_at: p
                .hard_state
                .damaged_at
                .or(p.damaged.then_some(p.hard_state.ballot)),
            joining: p.joining,
            settings,
            ready: Ready::default(),
        };
        if r.damaged_at != r.hs.damaged_at {
            // Remember the damage durably: the next recovery will not see
            // the records it lost.
            r.hs.damaged_at = r.damaged_at;
            r.persist_hard_state();
        }
        r.reset_election_timer();
        Ok(r)
    }

    // ----- public API -------------------------------------------------

    pub fn id(&self) -> MemberId {
        self.id
    }

    pub fn group(&self) -> GroupId {
        self.group
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn applied(&self) -> LogIndex {
        self.applied
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.state, State::Leader(_))
    }

    pub fn leader_hint(&self) -> Option<MemberId> {
        self.leader
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.id,
            state: match self.state {
                State::Follower => RoleState::Follower,
                State::PreCandidate { .. } => RoleState::PreCandidate,
                State::Candidate { .. } => RoleState::Candidate,
                State::Leader(_) => RoleState::Leader,
            },
            ballot: self.hs.ballot,
            leader: self.leader,
            commit: self.log.commit(),
            applied: self.applied,
            last_index: self.log.last_index(),
            stable: self.log.stable(),
            snapshot_index: self.log.snapshot().index,
            has_lease: self.has_lease(),
            quiesced: self.is_quiesced(),
            damaged: self.damaged_at.is_some(),
            role: self.membership.role(self.id),
        }
    }

    /// The entry at `index` if the log still holds it (for checkers and
    /// for drivers that read back).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.log.get(index)
    }

    /// The membership in force at `index` (at or after the log's
    /// snapshot point).
    /// The ballot of the entry at `index` (also the snapshot point's), if still known.
    pub fn ballot_at(&self, index: LogIndex) -> Option<Ballot> {
        self.log.ballot_at(index)
    }

    pub fn membership_at(&self, index: LogIndex) -> Membership {
        self.log.membership_at(index)
    }

    /// Does this member hold the leader lease right now?
    pub fn holds_lease(&self) -> bool {
        self.has_lease()
    }

    /// Hands the accumulated outputs to the driver.
    pub fn take_ready(&mut self) -> Ready {
        self.maybe_emit_committed();
        std::mem::take(&mut self.ready)
    }

    /// One unit of time. Leases and election timeouts are counted in
    /// ticks, so the driver must derive ticks from a monotonic clock and
    /// deliver the ones it missed (after a pause or a stall) before anything
    /// else: a process that sleeps through its ticks would otherwise stretch
    /// its lease. The protocol tolerates tick rates that differ by up to
    /// (election + lease) / lease between members (18/8 with the defaults);
    /// the simulator runs clocks up to 30% apart.
    pub fn tick(&mut self) {
        self.now += 1;
        if self.is_leader() {
            self.tick_leader();
            return;
        }
        if self.quiesced {
            return;
        }
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_timeout {
            if self.now < self.vote_blocked_until {
                // Our own vote is promised too: no campaign until the
                // lease we acknowledged has certainly ended.
                self.election_elapsed = self.election_timeout - 1;
                return;
            }
            self.reset_election_timer();
            if self.can_campaign() {
                self.pre_campaign();
            } else if !matches!(self.state, State::Follower) {
                self.become_follower(self.hs.ballot, None);
            }
            // Whoever lags behind membership changes cannot find the
            // quorum that would elect anyone: share the commit point.
            self.send_commit_hints();
        }
    }

    /// Propose a state-machine command. On success, the entry's index and
    /// ballot: the command took effect iff the entry committed at that index
    /// carries that ballot.
    pub fn propose(&mut self, command: Vec<u8>) -> Result<(LogIndex, Ballot), ProposeError> {
        self.propose_payload(Payload::Command(command))
    }

    /// Propose one membership step (see [`ConfChange`]).
    pub fn propose_conf(&mut self, change: ConfChange) -> Result<(LogIndex, Ballot), ProposeError> {
        self.check_conf_change(&change)?;
        self.propose_payload(Payload::Conf(change))
    }

    /// A strongly consistent read; the answer comes in `Ready::reads`.
    pub fn read(&mut self, id: u64) {
        if !self.is_leader() {
            self.ready.reads.push(ReadResult::Failed {
                id,
                error: ReadError::NotLeader {
                    leader: self.leader,
                },
            });
            return;
        }
        self.leader_read(id);
    }

    /// Hand leadership to `to` (a Full member): stop taking proposals,
    /// bring it up to date, then tell it to campaign at once.
    pub fn transfer_leader(&mut self, to: MemberId) -> Result<(), ProposeError> {
        self.leader_transfer(to)
    }

    /// The driver made everything up to the entry (`index`, `ballot`)
    /// durable (for a snapshot: its point).
    pub fn on_persisted(&mut self, index: LogIndex, ballot: Ballot) {
        if self.log.persisted(index, ballot) && self.is_leader() {
            self.maybe_commit();
        }
    }

    /// The state machine has applied everything through `index`.
    pub fn on_applied(&mut self, index: LogIndex) {
        assert!(
            index <= self.apply_emitted,
            "applied {index} was never handed out (emitted {})",
            self.apply_emitted
        );
        self.applied = self.applied.max(index);
    }

    /// Forget log entries through `upto`: the state machine holds them
    /// durably. Clamped to what is safe; a `Log` member never forgets (it
    /// may be the only intact copy a lagging Full member can catch up
    /// from) until it is removed.
    pub fn compact(&mut self, upto: LogIndex) {
        if self.my_role() != Some(Role::Full) && self.my_role() != Some(Role::Learner) {
            return;
        }
        let upto = upto.min(self.applied).min(self.log.stable());
        self.log.compact(upto);
    }

    /// The node-level failure detector reports `peer` unreachable. A
    /// (quiesced) follower of that leader campaigns as soon as it may,
    /// without waiting for its election timer. Detectors can be wrong: the
    /// leader may be alive, cut off from us but not from its clients, and
    /// serving reads under a lease our last acknowledgement helped grant.
    /// So neither our vote nor our campaign comes before that lease has
    /// certainly ended (`lease_ticks + 2` after we last heard the leader,
    /// the margin `Settings` keeps between lease and election timeout).
    pub fn peer_unreachable(&mut self, peer: MemberId) {
        if !self.is_leader() && self.leader == Some(peer) {
            self.quiesced = false;
            let lease_end = self.leader_heard_at + u64::from(self.settings.lease_ticks) + 2;
            self.vote_blocked_until = self.vote_blocked_until.min(lease_end.max(self.now));
            self.election_elapsed = self.election_timeout.saturating_sub(1);
        }
    }

    /// One message from a peer.
    pub fn step(&mut self, env: Envelope) {
        if env.group != self.group || env.to != self.id || env.from == self.id {
            return;
        }
        let from = env.from;
        let msg = env.msg;
        let ballot = msg.ballot();
        // Pre-votes never change state; votes may be refused before the
        // ballot is adopted (a member that hears its leader ignores them).
        match msg {
            Message::PreVote {
                ballot,
                last_index,
                last_ballot,
            } => return self.on_pre_vote(from, ballot, last_index, last_ballot),
            Message::Vote { force: false, .. }
                if ballot > self.hs.ballot && self.vote_blocked() =>
            {
                self.reply_after_persist(
                    from,
                    Message::VoteResp {
                        ballot: self.hs.ballot,
                        granted: false,
                        last_index: self.log.last_index(),
                        last_ballot: self.log.last_ballot(),
                    },
                );
                return;
            }
            Message::PreVoteResp { granted: true, .. } => {
                return self.on_pre_vote_resp(from, ballot, true);
            }
            // Committed entries are facts whatever the ballot: catch-up
            // without a leader does not touch promises.
            Message::CommitHint { commit, .. } => return self.on_commit_hint(from, commit),
            Message::Snapshot {
                meta,
                data,
                committed_only: true,
                ..
            } => return self.on_committed_snapshot(meta, data),
            Message::Fetch {
                from_index,
                max_bytes,
                committed_only: true,
                ..
            } => return self.on_fetch(from, from_index, max_bytes, true),
            Message::FetchResp {
                prev_index,
                prev_ballot,
                entries,
                committed_only: true,
                ..
            } => return self.on_committed_fetch_resp(prev_index, prev_ballot, entries),
            _ => {}
        }
        if ballot > self.hs.ballot {
            let leader = match msg {
                Message::Accept { .. }
                | Message::Heartbeat { .. }
                | Message::Snapshot { .. }
                | Message::Fetch { .. } => Some(from),
                _ => None,
            };
            self.become_follower(ballot, leader);
        } else if ballot < self.hs.ballot {
            self.reply_stale(from, &msg);
            return;
        }
        match msg {
            Message::PreVote { .. } => unreachable!("handled above"),
            Message::PreVoteResp { granted, .. } => self.on_pre_vote_resp(from, ballot, granted),
            Message::Vote {
                last_index,
                last_ballot,
                ..
            } => self.on_vote(from, last_index, last_ballot),
            Message::VoteResp {
                granted,
                last_index,
                last_ballot,
                ..
            } => self.on_vote_resp(from, granted, last_index, last_ballot),
            Message::Accept {
                prev_index,
                prev_ballot,
                entries,
                commit,
                ..
            } => self.on_accept(from, prev_index, prev_ballot, entries, commit),
            Message::AcceptResp {
                ok,
                index,
                wants_snapshot,
                ..
            } => self.on_accept_resp(from, ok, index, wants_snapshot),
            Message::Heartbeat {
                commit,
                seq,
                quiesce,
                ..
            } => self.on_heartbeat(from, commit, seq, quiesce),
            Message::HeartbeatResp { seq, .. } => self.on_heartbeat_resp(from, seq),
            Message::Fetch {
                from_index,
                max_bytes,
                ..
            } => self.on_fetch(from, from_index, max_bytes, false),
            Message::FetchResp {
                prev_index,
                prev_ballot,
                entries,
                last_index,
                ..
            } => self.on_fetch_resp(from, prev_index, prev_ballot, entries, last_index),
            Message::Snapshot { meta, data, .. } => self.on_snapshot(from, meta, data),
            Message::SnapshotResp { index, .. } => self.on_snapshot_resp(from, index),
            Message::TimeoutNow { .. } => self.on_timeout_now(from),
            Message::CommitHint { .. } => unreachable!("handled above"),
        }
    }

    // ----- shared helpers ---------------------------------------------

    pub(super) fn my_role(&self) -> Option<Role> {
        self.membership.role(self.id)
    }

    pub(super) fn vote_blocked(&self) -> bool {
        self.is_leader() || self.quiesced || self.now < self.vote_blocked_until
    }

    /// Does this member keep state-machine state (it can send snapshots)?
    pub(super) fn has_state(&self) -> bool {
        matches!(self.my_role(), Some(Role::Full | Role::Learner)) && !self.joining
    }

    pub(super) fn can_campaign(&self) -> bool {
        self.my_role() == Some(Role::Full) && self.damaged_at.is_none() && !self.joining
    }

    /// May this member vote at all? Any member that is not damaged: the
    /// candidate decides whose votes count (its own membership), as in
    /// Raft. A member that appended its own removal, or a learner that has
    /// not yet seen its promotion, must still vote, or a group can lose
    /// its quorum while such an entry is uncommitted. A member with an
    /// empty log (just joined) is safe to count: it is in no commit quorum.
    pub(super) fn can_vote(&self) -> bool {
        self.damaged_at.is_none()
    }

    pub(super) fn is_quiesced(&self) -> bool {
        match &self.state {
            State::Leader(l) => l.quiesced,
            _ => self.quiesced,
        }
    }

    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let e = u64::from(self.settings.election_ticks);
        self.election_timeout = (e + self.next_random() % e) as u32;
    }

    /// SplitMix64 over the caller's seed: deterministic, no OS randomness.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn send(&mut self, to: MemberId, msg: Message) {
        self.ready.messages.push(Envelope {
            group: self.group,
            from: self.id,
            to,
            msg,
        });
    }

    pub(super) fn reply_after_persist(&mut self, to: MemberId, msg: Message) {
        self.ready.messages_after_persist.push(Envelope {
            group: self.group,
            from: self.id,
            to,
            msg,
        });
    }

    pub(super) fn persist_hard_state(&mut self) {
        self.ready.hard_state = Some(self.hs);
    }

    /// Queue entries for persisting; a truncation at `truncated_from` drops
    /// queued entries it replaced.
    pub(super) fn persist_entries(&mut self, truncated_from: Option<LogIndex>, new: Vec<Entry>) {
        if let Some(t) = truncated_from {
            self.ready.entries.retain(|e| e.index < t);
            self.ready.truncate_from = Some(self.ready.truncate_from.map_or(t, |x| x.min(t)));
        }
        if let Some(first) = new.first() {
            self.ready.entries.retain(|e| e.index < first.index);
        }
        self.ready.entries.extend(new);
    }

    /// A message with a lower ballot than ours: tell a stale leader or
    /// candidate that it is behind, so it steps down quickly.
    fn reply_stale(&mut self, to: MemberId, msg: &Message) {
        let ballot = self.hs.ballot;
        let reply = match msg {
            Message::Accept { .. } => Message::AcceptResp {
                ballot,
                ok: false,
                index: self.log.last_index(),
                wants_snapshot: false,
            },
            Message::Heartbeat { .. } | Message::Snapshot { .. } | Message::Fetch { .. } => {
                Message::HeartbeatResp { ballot, seq: 0 }
            }
            Message::Vote { .. } => Message::VoteResp {
                ballot,
                granted: false,
                last_index: self.log.last_index(),
                last_ballot: self.log.last_ballot(),
            },
            _ => return,
        };
        self.send(to, reply);
    }

    /// Hand out committed, locally durable entries for applying (Full
    /// members and learners; `Log` members never apply).
    fn maybe_emit_committed(&mut self) {
        if self.my_role() == Some(Role::Log) {
            return;
        }
        let upto = self.log.commit().min(self.log.stable());
        let mut i = self.apply_emitted + 1;
        let mut n = 0;
        while i <= upto && n < self.settings.apply_entries_max {
            let e = self
                .log
                .get(i)
                .expect("committed entries after the applied point are in the log")
                .clone();
            self.ready.committed.push(e);
            self.apply_emitted = i;
            i += 1;
            n += 1;
        }
    }

    /// Membership changes take effect when appended (or truncated away).
    pub(super) fn refresh_membership(&mut self) {
        self.membership = self.log.membership_at(self.log.last_index());
    }
}
