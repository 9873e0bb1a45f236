//! Following a leader: accepting entries (phase 2), heartbeats (commit
//! index, lease stickiness, quiescence) and snapshots.
//!
//! Every answer that vouches for durable state (an `AcceptResp`, a
//! `SnapshotResp`, a `HeartbeatResp` after a ballot change) goes out in
//! `messages_after_persist`. A follower's commit index never passes the
//! point up to which its log is known to match the leader's.
//!
//! A damaged member (corruption found at recovery) becomes healthy again
//! once it follows a leader of a later ballot and holds that leader's
//! committed entry of its own ballot: everything committed before that
//! leader's election is then in its log. Until then it takes commit
//! points only from accepts (their `prev` check proves its log matches),
//! never from heartbeats (the leader's idea of what it holds is stale).

use wire::replication::{Ballot, Entry, LogIndex, MemberId, Message, Role, SnapshotMeta};

use super::log::AppendOutcome;
use super::replica::{Replica, State};

impl Replica {
    /// Common to every message from the leader of our ballot.
    fn heard_leader(&mut self, from: MemberId) {
        if !matches!(self.state, State::Follower) {
            assert!(
                !self.is_leader(),
                "two leaders in ballot {}: {} and {from}",
                self.hs.ballot,
                self.id
            );
            self.become_follower(self.hs.ballot, Some(from));
        }
        self.leader = Some(from);
        self.election_elapsed = 0;
        self.vote_blocked_until = self.now + u64::from(self.settings.election_ticks);
        self.leader_heard_at = self.now;
    }

    fn maybe_heal(&mut self) {
        if let Some(b) = self.damaged_at
            && self.hs.ballot > b
            && self.log.ballot_at(self.log.commit()) == Some(self.hs.ballot)
        {
            tracing::info!(group = %self.group, member = %self.id, "damaged log repaired by the leader");
            self.damaged_at = None;
            self.hs.damaged_at = None;
            self.persist_hard_state();
        }
    }

    pub(super) fn on_accept(
        &mut self,
        from: MemberId,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: Vec<Entry>,
        commit: LogIndex,
    ) {
        self.heard_leader(from);
        self.quiesced = false;
        let ballot = self.hs.ballot;
        if self.joining {
            self.reply_after_persist(
                from,
                Message::AcceptResp {
                    ballot,
                    ok: false,
                    index: 0,
                    wants_snapshot: true,
                },
            );
            return;
        }
        match self.log.append_after(prev_index, prev_ballot, &entries) {
            AppendOutcome::Mismatch => {
                let hint = self.log.last_index().min(prev_index.saturating_sub(1));
                self.reply_after_persist(
                    from,
                    Message::AcceptResp {
                        ballot,
                        ok: false,
                        index: hint,
                        wants_snapshot: false,
                    },
                );
            }
            AppendOutcome::Matched {
                last,
                truncated_from,
                new,
            } => {
                let conf_touched = truncated_from.is_some()
                    || new
                        .iter()
                        .any(|e| matches!(e.payload, wire::replication::Payload::Conf(_)));
                self.persist_entries(truncated_from, new);
                if conf_touched {
                    self.refresh_membership();
                }
                self.log.set_commit(commit.min(last));
                self.maybe_heal();
                self.reply_after_persist(
                    from,
                    Message::AcceptResp {
                        ballot,
                        ok: true,
                        index: last,
                        wants_snapshot: false,
                    },
                );
            }
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        from: MemberId,
        commit: LogIndex,
        seq: u64,
        quiesce: bool,
    ) {
        self.heard_leader(from);
        if !self.joining && self.damaged_at.is_none() {
            // The leader caps `commit` at what it knows we match. That
            // knowledge is stale for a damaged member: it lost records it
            // acknowledged, and what recovery found beyond the damage may
            // be entries it had replaced (a bit flip in the record that
            // superseded them brings them back). Such a member advances its
            // commit only from accepts, whose `prev` check proves a match.
            self.log.set_commit(commit.min(self.log.last_index()));
            self.maybe_heal();
        }
        self.quiesced = quiesce
            && !self.joining
            && self.log.last_index() == commit
            && self.log.commit() == commit;
        let ballot = self.hs.ballot;
        self.reply_after_persist(from, Message::HeartbeatResp { ballot, seq });
    }

    pub(super) fn on_snapshot(&mut self, from: MemberId, meta: SnapshotMeta, data: Vec<u8>) {
        self.heard_leader(from);
        self.quiesced = false;
        let ballot = self.hs.ballot;
        if meta.index <= self.log.commit() && !self.joining {
            // We already have everything it covers.
            let index = self.log.commit();
            self.reply_after_persist(from, Message::SnapshotResp { ballot, index });
            return;
        }
        let index = meta.index;
        self.install_snapshot(meta, data);
        self.reply_after_persist(from, Message::SnapshotResp { ballot, index });
    }

    /// Committed state from a peer without a leader (see `on_fetch`): a
    /// fact whatever the ballot, so no promise changes. A joining member
    /// waits for its leader instead.
    pub(super) fn on_committed_snapshot(&mut self, meta: SnapshotMeta, data: Vec<u8>) {
        if self.is_leader() || self.joining || meta.index <= self.log.commit() {
            return;
        }
        self.install_snapshot(meta, data);
    }

    fn install_snapshot(&mut self, meta: SnapshotMeta, data: Vec<u8>) {
        let index = meta.index;
        let role = meta.membership.role(self.id);
        self.log.install(meta.clone());
        self.refresh_membership();
        self.joining = false;
        self.applied = self.applied.max(index);
        self.apply_emitted = self.apply_emitted.max(index);
        // Drop queued entries the snapshot covers; the driver installs the
        // snapshot before appending what remains.
        self.ready.entries.retain(|e| e.index > index);
        let data = if role == Some(Role::Log) || self.my_role() == Some(Role::Log) {
            Vec::new()
        } else {
            data
        };
        self.ready.snapshot = Some((meta, data));
        self.maybe_heal();
    }
}
