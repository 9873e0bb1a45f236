//! Elections: pre-vote, vote (phase 1 of Multi-Paxos), becoming leader,
//! and a new leader's recovery of a `Log` voter's longer tail.
//!
//! Rules:
//! - Only `Full` members campaign (and only for a candidate its own view
//!   says is `Full` does a member vote); votes count only from the voters
//!   of the candidate's membership; a damaged member neither votes nor
//!   campaigns, a joining one does not campaign.
//! - A pre-vote changes no state. It is granted only by a member that would
//!   grant the vote and does not hear a leader (check-quorum / leader
//!   stickiness), so a member that merely lost contact with a healthy
//!   leader cannot disrupt the group.
//! - A `Full` voter grants only a candidate whose log is at least as up to
//!   date as its own (higher last ballot, or equal and at least as long).
//!   A `Log` voter grants any `Full` candidate (it cannot lead itself, so
//!   the group would otherwise be stuck behind it) and reports its last
//!   entry; if it is ahead, the winner first fetches its tail
//!   (`Fetch`/`FetchResp`), adopting the most up-to-date log of its
//!   quorum, which holds every committed entry.
//! - One vote per ballot, persisted before the grant is sent (the grant
//!   goes out in `messages_after_persist`); the candidate's own vote is
//!   persisted before its vote requests go out.

use std::collections::{BTreeMap, BTreeSet};

use wire::replication::{Ballot, Entry, LogIndex, MemberId, Message, Role};

use super::leader::{Lead, Recovery};
use super::ready::{ReadError, ReadResult};
use super::replica::{Replica, State};

impl Replica {
    pub(super) fn pre_campaign(&mut self) {
        if self.membership.quorum() == 1 && self.membership.voters().all(|v| v == self.id) {
            self.campaign(false);
            return;
        }
        self.state = State::PreCandidate {
            granted: BTreeSet::from([self.id]),
            refused: BTreeSet::new(),
        };
        self.leader = None;
        let msg = Message::PreVote {
            ballot: Ballot(self.hs.ballot.0 + 1),
            last_index: self.log.last_index(),
            last_ballot: self.log.last_ballot(),
        };
        for v in self.other_voters() {
            self.send(v, msg.clone());
        }
    }

    pub(super) fn campaign(&mut self, force: bool) {
        self.hs.ballot = Ballot(self.hs.ballot.0 + 1);
        self.hs.vote = Some(self.id);
        self.persist_hard_state();
        self.leader = None;
        self.quiesced = false;
        self.reset_election_timer();
        self.state = State::Candidate {
            granted: BTreeMap::from([(self.id, (self.log.last_index(), self.log.last_ballot()))]),
            refused: BTreeSet::new(),
        };
        let msg = Message::Vote {
            ballot: self.hs.ballot,
            last_index: self.log.last_index(),
            last_ballot: self.log.last_ballot(),
            force,
        };
        for v in self.other_voters() {
            self.reply_after_persist(v, msg.clone());
        }
        self.maybe_win();
    }

    pub(super) fn other_voters(&self) -> Vec<MemberId> {
        self.membership.voters().filter(|&v| v != self.id).collect()
    }

    /// Would this member grant `from` a vote, log-wise and role-wise?
    fn would_grant(&self, from: MemberId, last_index: LogIndex, last_ballot: Ballot) -> bool {
        if !self.can_vote() || self.membership.role(from) != Some(Role::Full) {
            return false;
        }
        self.my_role() == Some(Role::Log) || self.log.is_behind_or_equal(last_index, last_ballot)
    }

    pub(super) fn on_pre_vote(
        &mut self,
        from: MemberId,
        ballot: Ballot,
        last_index: LogIndex,
        last_ballot: Ballot,
    ) {
        if let State::Leader(l) = &mut self.state {
            // A member that does not know us (restarted, or missed the
            // quiesce request) is looking for a leader: show ourselves.
            if l.quiesced {
                self.unquiesce();
            }
        }
        self.forget_leader_if(from);
        let granted = ballot > self.hs.ballot
            && !self.vote_blocked()
            && self.would_grant(from, last_index, last_ballot);
        let reply_ballot = if granted { ballot } else { self.hs.ballot };
        self.send(
            from,
            Message::PreVoteResp {
                ballot: reply_ballot,
                granted,
            },
        );
    }

    /// A (pre-)vote request from the member we follow means it stopped
    /// leading (it restarted): stop deferring to it.
    pub(super) fn forget_leader_if(&mut self, from: MemberId) {
        if !self.is_leader() && self.leader == Some(from) {
            self.leader = None;
            self.quiesced = false;
            self.vote_blocked_until = self.now;
        }
    }

    pub(super) fn on_pre_vote_resp(&mut self, from: MemberId, ballot: Ballot, granted: bool) {
        let next = Ballot(self.hs.ballot.0 + 1);
        let State::PreCandidate {
            granted: g,
            refused: r,
        } = &mut self.state
        else {
            return;
        };
        if ballot != next && granted {
            return;
        }
        if granted {
            g.insert(from);
        } else {
            r.insert(from);
        }
        let (yes, no) = (g.clone(), r.clone());
        let q = self.membership.quorum();
        let voters = self.membership.voter_count();
        if self.count_voters(yes.iter().copied()) >= q {
            self.campaign(false);
        } else if self.count_voters(no.iter().copied()) > voters - q {
            self.become_follower(self.hs.ballot, None);
        }
    }

    pub(super) fn on_vote(&mut self, from: MemberId, last_index: LogIndex, last_ballot: Ballot) {
        let granted = (self.hs.vote.is_none() || self.hs.vote == Some(from))
            && self.would_grant(from, last_index, last_ballot);
        if granted {
            if self.hs.vote != Some(from) {
                self.hs.vote = Some(from);
                self.persist_hard_state();
            }
            self.election_elapsed = 0;
        }
        self.reply_after_persist(
            from,
            Message::VoteResp {
                ballot: self.hs.ballot,
                granted,
                last_index: self.log.last_index(),
                last_ballot: self.log.last_ballot(),
            },
        );
    }

    pub(super) fn on_vote_resp(
        &mut self,
        from: MemberId,
        granted: bool,
        last_index: LogIndex,
        last_ballot: Ballot,
    ) {
        let State::Candidate {
            granted: g,
            refused: r,
        } = &mut self.state
        else {
            return;
        };
        if granted {
            g.insert(from, (last_index, last_ballot));
        } else {
            r.insert(from);
        }
        let no = r.clone();
        if self.count_voters(no.iter().copied())
            > self.membership.voter_count() - self.membership.quorum()
        {
            self.become_follower(self.hs.ballot, None);
            return;
        }
        self.maybe_win();
    }

    fn count_voters(&self, ids: impl Iterator<Item = MemberId>) -> usize {
        ids.filter(|&id| self.membership.role(id).is_some_and(Role::is_voter))
            .count()
    }

    fn maybe_win(&mut self) {
        let State::Candidate { granted, .. } = &self.state else {
            return;
        };
        if self.count_voters(granted.keys().copied()) < self.membership.quorum() {
            return;
        }
        // The most up-to-date log among the quorum holds every committed
        // entry; if a Log voter has it, fetch its tail first.
        let best = granted
            .iter()
            .filter(|(id, _)| **id != self.id)
            .map(|(&id, &(li, lb))| (lb, li, id))
            .max();
        let recovery = match best {
            Some((lb, li, id)) if (lb, li) > (self.log.last_ballot(), self.log.last_index()) => {
                Some(Recovery {
                    from: id,
                    target_index: li,
                    target_ballot: lb,
                    asked_at: self.now,
                })
            }
            _ => None,
        };
        self.become_leader(recovery);
    }

    fn become_leader(&mut self, recovery: Option<Recovery>) {
        assert_eq!(self.my_role(), Some(Role::Full), "only Full members lead");
        assert_eq!(self.hs.vote, Some(self.id));
        self.leader = Some(self.id);
        self.quiesced = false;
        let lead = Lead::new(self, recovery.clone());
        self.state = State::Leader(Box::new(lead));
        match recovery {
            Some(r) => self.send_fetch(r.from),
            None => self.start_leading(),
        }
        self.broadcast_heartbeat();
    }

    pub(super) fn send_fetch(&mut self, from: MemberId) {
        let msg = Message::Fetch {
            ballot: self.hs.ballot,
            from_index: self.log.commit() + 1,
            max_bytes: self.settings.fetch_bytes_max,
            committed_only: false,
        };
        self.send(from, msg);
    }

    /// A new leader's recovery: the Log voter's entries after our commit.
    pub(super) fn on_fetch_resp(
        &mut self,
        from: MemberId,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: Vec<Entry>,
        _last_index: LogIndex,
    ) {
        let State::Leader(l) = &mut self.state else {
            return;
        };
        let Some(r) = l.recovery.clone() else { return };
        if r.from != from {
            return;
        }
        match self.log.append_after(prev_index, prev_ballot, &entries) {
            super::log::AppendOutcome::Mismatch => {
                // It cannot give us a tail that connects to our committed
                // prefix (it compacted past it): give up leading.
                tracing::warn!(group = %self.group, member = %self.id, %from, "recovery fetch does not connect; stepping down");
                self.become_follower(self.hs.ballot, None);
            }
            super::log::AppendOutcome::Matched {
                last,
                truncated_from,
                new,
            } => {
                self.persist_entries(truncated_from, new);
                self.refresh_membership();
                if self.log.ballot_at(r.target_index) == Some(r.target_ballot) {
                    if let State::Leader(l) = &mut self.state {
                        l.recovery = None;
                    }
                    self.start_leading();
                } else if last >= r.target_index || entries.is_empty() {
                    self.become_follower(self.hs.ballot, None);
                } else {
                    if let State::Leader(l) = &mut self.state
                        && let Some(rec) = &mut l.recovery
                    {
                        rec.asked_at = self.now;
                    }
                    let msg = Message::Fetch {
                        ballot: self.hs.ballot,
                        from_index: last + 1,
                        max_bytes: self.settings.fetch_bytes_max,
                        committed_only: false,
                    };
                    self.send(from, msg);
                }
            }
        }
    }

    /// Serve a fetch from our log: a new leader's recovery (our whole
    /// tail) or a leaderless catch-up (committed entries only).
    pub(super) fn on_fetch(
        &mut self,
        from: MemberId,
        from_index: LogIndex,
        max_bytes: u64,
        committed_only: bool,
    ) {
        let max = max_bytes.min(self.settings.fetch_bytes_max) as usize;
        let prev_index = from_index.saturating_sub(1);
        let commit = self.log.commit();
        let (prev_index, prev_ballot, entries) = match (
            self.log.ballot_at(prev_index),
            self.log.entries_from(from_index.max(1), max),
        ) {
            (Some(b), Some(mut es)) => {
                if committed_only {
                    es.retain(|e| e.index <= commit);
                }
                (prev_index, b, es)
            }
            // A leaderless catch-up needs entries we compacted: send our
            // state instead (the driver supplies it), or a member that is
            // behind membership changes could wait forever for a log
            // nobody holds any more.
            _ if committed_only && self.has_state() && self.applied > prev_index => {
                if !self.ready.snapshot_needed.contains(&from) {
                    self.ready.snapshot_needed.push(from);
                }
                return;
            }
            // Compacted past what was asked: answer from our snapshot
            // point; the asker sees it does not connect.
            _ => (
                self.log.snapshot().index,
                self.log.snapshot().ballot,
                Vec::new(),
            ),
        };
        let msg = Message::FetchResp {
            ballot: self.hs.ballot,
            prev_index,
            prev_ballot,
            entries,
            last_index: self.log.last_index(),
            committed_only,
        };
        self.send(from, msg);
    }

    /// A member that hears no leader tells the others how far it knows the
    /// log is committed; one that is behind fetches the committed entries
    /// (and with them the memberships it missed).
    /// (A damaged member sends them too: its commit point is intact, and
    /// the hint tells followers still deferring to it, if it led before
    /// its restart, that it no longer does.)
    pub(super) fn send_commit_hints(&mut self) {
        if self.joining {
            return;
        }
        let msg = Message::CommitHint {
            ballot: self.hs.ballot,
            commit: self.log.commit(),
        };
        let full: Vec<MemberId> = self
            .membership
            .members()
            .iter()
            .filter(|m| m.id != self.id)
            .map(|m| m.id)
            .collect();
        for id in full {
            self.send(id, msg.clone());
        }
    }

    pub(super) fn on_commit_hint(&mut self, from: MemberId, commit: LogIndex) {
        // A leader never sends hints.
        self.forget_leader_if(from);
        if self.is_leader() || self.joining || commit <= self.log.commit() {
            return;
        }
        let msg = Message::Fetch {
            ballot: self.hs.ballot,
            from_index: self.log.commit() + 1,
            max_bytes: self.settings.fetch_bytes_max,
            committed_only: true,
        };
        self.send(from, msg);
    }

    /// Committed entries from a peer: final, so they replace whatever
    /// uncommitted entries we hold at those indices.
    pub(super) fn on_committed_fetch_resp(
        &mut self,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: Vec<Entry>,
    ) {
        if self.is_leader() || self.joining || entries.is_empty() {
            return;
        }
        if let super::log::AppendOutcome::Matched {
            last,
            truncated_from,
            new,
        } = self.log.append_after(prev_index, prev_ballot, &entries)
        {
            self.persist_entries(truncated_from, new);
            self.refresh_membership();
            self.log.set_commit(last);
        }
    }

    /// Leader transfer: the leader told us to campaign now.
    pub(super) fn on_timeout_now(&mut self, from: MemberId) {
        if self.leader == Some(from) && self.can_campaign() {
            self.campaign(true);
        }
    }

    pub(super) fn become_follower(&mut self, ballot: Ballot, leader: Option<MemberId>) {
        assert!(ballot >= self.hs.ballot, "ballots never go back");
        if ballot > self.hs.ballot {
            self.hs = wire::replication::HardState {
                ballot,
                vote: None,
                damaged_at: self.damaged_at,
            };
            self.persist_hard_state();
        }
        if let State::Leader(l) = std::mem::replace(&mut self.state, State::Follower) {
            for read in l.reads {
                self.ready.reads.push(ReadResult::Failed {
                    id: read.id,
                    error: ReadError::LeadershipLost,
                });
            }
        }
        self.leader = leader;
        self.quiesced = false;
        self.reset_election_timer();
    }
}
