//! Splitting a group in two (DESIGN §3: "splits are log commands").
//!
//! The leader of group `G` appends [`Payload::Split`]`{ new_group: G', key }`
//! at some index `i`. Once that entry is committed, every member of `G`
//! also runs `G'`:
//!
//! ```text
//!   G  log: ... | i-1 | i: Split(G', key) | i+1 ... (G goes on)
//!   G' log:             [snapshot point (i, b)] | i+1 ... (its own entries)
//!   G' members = G's membership at i (same ids, all Full)
//!   G' promise state = (ballot b, no vote), where b is the split entry's ballot
//! ```
//!
//! Why both halves stay consistent:
//! - The split entry is committed, so every member that ever applies it
//!   sees the same `(i, b)`, the same membership and the same state up to
//!   `i` (agreement on `G`'s log). `G'` therefore starts on every member
//!   from one agreed, committed prefix, like a brand-new group whose
//!   initial log is that snapshot point; from there on it is an ordinary
//!   group with its own ballots, elected by the ordinary rules at ballots
//!   above `b`. `G`'s ballots and log are untouched: the split is one more
//!   committed entry there.
//! - Leases: `G'` has had no leader, so no lease is in force on it; its
//!   first leader still waits out `lease_ticks` like every new leader. The
//!   keys that moved cannot be served by `G` afterwards either: any read or
//!   write `G` serves at an index past `i` sees a state machine that no
//!   longer owns them, and `G'` exists only once `i` is committed, so `G`
//!   cannot serve them at an older index once `G'` can (the state machine
//!   checks ownership when it applies a write or answers a read).
//! - A member of `G'` starts `fresh`: it has promised nothing to any
//!   leader of `G'`, so it may vote at once; the member that led `G` when
//!   it applied the split calls [`Replica::start_election`] on its child,
//!   so the new half takes writes after one pre-vote and vote round trip
//!   instead of an election timeout.
//!
//! Rules enforced at proposal (typed refusals): only a settled group splits
//! (every member `Full`, no membership change pending), so `G'` never
//! inherits a half-done replacement; the control plane heals first and
//! splits afterwards. The key is opaque here (the state machine decides
//! what moves); it is bounded by [`SPLIT_KEY_BYTES_MAX`].
//!
//! A member that skips the split entry (it caught up from a snapshot of `G`
//! taken past `i`) never applies it; its driver learns of `G'` from the
//! control plane and creates the member with [`Persisted::joining`], and
//! `G'`'s leader then sends it a snapshot. A driver that replays the split
//! entry after a restart finds `G'` already created and leaves it alone.

use wire::replication::{
    Ballot, Entry, HardState, LogIndex, Payload, Role, SPLIT_KEY_BYTES_MAX, SnapshotMeta, SplitSpec,
};

use super::ready::ProposeError;
use super::replica::{Persisted, Replica};

impl Replica {
    /// Propose splitting the group: `spec.new_group` takes over what the
    /// state machine puts at and above `spec.key`. On success, the entry's
    /// index and ballot (it took effect iff that entry commits there).
    pub fn propose_split(&mut self, spec: SplitSpec) -> Result<(LogIndex, Ballot), ProposeError> {
        self.check_split(&spec)?;
        self.propose_payload(Payload::Split(spec))
    }

    fn check_split(&self, spec: &SplitSpec) -> Result<(), ProposeError> {
        self.lead_settled()?;
        if let Some(m) = self
            .membership
            .members()
            .iter()
            .find(|m| m.role != Role::Full)
        {
            return Err(ProposeError::NotSettled(m.id));
        }
        if spec.new_group == self.group {
            return Err(ProposeError::InvalidSplit(
                "the new group must differ from the group being split",
            ));
        }
        if spec.key.len() > SPLIT_KEY_BYTES_MAX {
            return Err(ProposeError::InvalidSplit("split key too long"));
        }
        Ok(())
    }

    /// The starting point of the group born from the split entry `entry`,
    /// for this member (see the module doc). Call it when the state
    /// machine applies `entry`; persist the result (and the new group's
    /// share of the state as its snapshot data) before running the child.
    ///
    /// Panics unless `entry` is a split entry committed here and still in
    /// the log (which holds while it waits to be applied).
    pub fn split_child(&self, entry: &Entry) -> Persisted {
        assert!(
            matches!(entry.payload, Payload::Split(_)),
            "split_child of a non-split entry {entry:?}"
        );
        assert!(
            entry.index <= self.log.commit(),
            "split at {} is not committed (commit {})",
            entry.index,
            self.log.commit()
        );
        assert_eq!(
            self.log.get(entry.index).map(|e| e.ballot),
            Some(entry.ballot),
            "split entry {} is not in the log",
            entry.index
        );
        let membership = self.log.membership_at(entry.index);
        assert!(
            membership.members().iter().all(|m| m.role == Role::Full),
            "a split entry was appended in an unsettled group: {membership:?}"
        );
        Persisted {
            hard_state: HardState {
                ballot: entry.ballot,
                vote: None,
                damaged_at: None,
            },
            snapshot: SnapshotMeta {
                index: entry.index,
                ballot: entry.ballot,
                membership,
            },
            entries: Vec::new(),
            applied: entry.index,
            damaged: false,
            joining: false,
            fresh: true,
        }
    }

    /// Campaign now (pre-vote first) instead of waiting for the election
    /// timer: used on a group born from a split by the member that led the
    /// parent. Does nothing on a leader or a member that may not campaign.
    pub fn start_election(&mut self) {
        if self.is_leader() || !self.can_campaign() {
            return;
        }
        self.reset_election_timer();
        self.pre_campaign();
    }
}
