//! Replication messages and the records a replica persists (DESIGN §3).
//!
//! These are the values the sans-IO Multi-Paxos core in
//! `storage-node/src/replication/` exchanges with its peers and hands to its
//! driver to persist. They are plain data here; the versioned, checksummed
//! frame that carries them between processes arrives with the transport
//! (`frame.rs`, issue 4).
//!
//! Vocabulary:
//! - A **group** is one partition's replication group; a **member** is one
//!   replica of it, named by the node that hosts it ([`MemberId`]).
//! - A **ballot** is a leadership epoch, totally ordered. A member promises
//!   at most one candidate per ballot, so each ballot has at most one leader.
//! - The **log** holds [`Entry`]s at consecutive indices starting at 1; index
//!   0 is the empty prefix with ballot 0.
//! - Roles ([`Role`]): `Full` members keep the log and the data and may lead;
//!   `Log` members keep only the log, count in every quorum, never campaign,
//!   never lead and never apply; `Learner`s receive everything but count in
//!   no quorum until promoted.

use std::fmt;

/// A member of a group: the node id of the node hosting that replica.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct MemberId(pub u64);

/// A replication group (one partition).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct GroupId(pub u64);

/// A leadership epoch. Ballot 0 is "before any election".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Ballot(pub u64);

/// A log position; 0 means "nothing".
pub type LogIndex = u64;

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

/// What a member does in its group.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub enum Role {
    /// Log and data; votes, counts in the write quorum, may lead, applies.
    Full,
    /// Log only; votes and counts in the write quorum; never campaigns,
    /// never leads, never applies.
    Log,
    /// Catching up; receives the log (and a snapshot) but counts nowhere.
    Learner,
}

impl Role {
    /// Counts in election and write quorums.
    pub fn is_voter(self) -> bool {
        matches!(self, Role::Full | Role::Log)
    }
}

/// One member and its role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Member {
    pub id: MemberId,
    pub role: Role,
}

/// The most members a group may have at once (three plus room for a
/// replacement in flight).
pub const MEMBERS_MAX: usize = 7;

/// A group's membership: members sorted by id, no duplicates, at most
/// [`MEMBERS_MAX`], at least one `Full` member.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Membership {
    members: Vec<Member>,
}

/// Why a membership or a change to it was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("a group needs at least one Full member")]
    NoFullMember,
    #[error("member {0} appears twice")]
    Duplicate(MemberId),
    #[error("a group has at most {MEMBERS_MAX} members")]
    TooMany,
    #[error("member {0} is already in the group")]
    AlreadyMember(MemberId),
    #[error("member {0} is not in the group")]
    NotMember(MemberId),
    #[error("member {0} is {1:?}; only a Learner can be promoted")]
    NotLearner(MemberId, Role),
}

impl Membership {
    /// Validates and sorts `members`.
    pub fn new(mut members: Vec<Member>) -> Result<Membership, MembershipError> {
        members.sort_by_key(|m| m.id);
        for w in members.windows(2) {
            if w[0].id == w[1].id {
                return Err(MembershipError::Duplicate(w[0].id));
            }
        }
        if members.len() > MEMBERS_MAX {
            return Err(MembershipError::TooMany);
        }
        if !members.iter().any(|m| m.role == Role::Full) {
            return Err(MembershipError::NoFullMember);
        }
        Ok(Membership { members })
    }

    /// Every member `Full`.
    pub fn full(ids: &[MemberId]) -> Result<Membership, MembershipError> {
        Membership::new(
            ids.iter()
                .map(|&id| Member {
                    id,
                    role: Role::Full,
                })
                .collect(),
        )
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn role(&self, id: MemberId) -> Option<Role> {
        self.members.iter().find(|m| m.id == id).map(|m| m.role)
    }

    pub fn voters(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.members
            .iter()
            .filter(|m| m.role.is_voter())
            .map(|m| m.id)
    }

    pub fn voter_count(&self) -> usize {
        self.voters().count()
    }

    /// Votes (or acknowledgements) needed for a quorum: a strict majority
    /// of the voters.
    pub fn quorum(&self) -> usize {
        self.voter_count() / 2 + 1
    }

    /// The membership after `change`, validated.
    pub fn apply(&self, change: &ConfChange) -> Result<Membership, MembershipError> {
        let mut members = self.members.clone();
        match *change {
            ConfChange::Add { id, role } => {
                if self.role(id).is_some() {
                    return Err(MembershipError::AlreadyMember(id));
                }
                members.push(Member { id, role });
            }
            ConfChange::Promote { id } => match self.role(id) {
                None => return Err(MembershipError::NotMember(id)),
                Some(Role::Learner) => {
                    for m in &mut members {
                        if m.id == id {
                            m.role = Role::Full;
                        }
                    }
                }
                Some(r) => return Err(MembershipError::NotLearner(id, r)),
            },
            ConfChange::Remove { id } => {
                if self.role(id).is_none() {
                    return Err(MembershipError::NotMember(id));
                }
                members.retain(|m| m.id != id);
            }
        }
        Membership::new(members)
    }
}

/// One membership step. Steps are applied one at a time through the log;
/// each changes the voter set by at most one member, so the quorums of
/// consecutive memberships always intersect.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub enum ConfChange {
    /// Add a `Learner` (to be promoted later) or a `Log` member (a voter at
    /// once: it needs only the log from its joining index on).
    Add {
        id: MemberId,
        role: Role,
    },
    /// Learner to Full, once it has caught up.
    Promote {
        id: MemberId,
    },
    Remove {
        id: MemberId,
    },
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Payload {
    /// Appended by each new leader so that it commits an entry of its own
    /// ballot (which commits everything before it).
    Noop,
    /// An opaque state-machine command (a partition write).
    Command(Vec<u8>),
    /// A membership step; in force from the moment it is appended.
    Conf(ConfChange),
    /// Divide the group: once this entry commits at index `i`, every member
    /// also runs group `new_group`, with the same members (the membership
    /// in force at `i`) and a log that starts at `i`. What moves to the new
    /// group (the key range at and above `key`) is the state machine's
    /// business; the replication core treats `key` as opaque.
    Split(SplitSpec),
}

/// The arguments of a split (see [`Payload::Split`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SplitSpec {
    pub new_group: GroupId,
    /// The first key that belongs to the new group (opaque here).
    pub key: Vec<u8>,
}

/// A split key is a partition key bound: never more than this.
pub const SPLIT_KEY_BYTES_MAX: usize = 2048;

/// A log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Entry {
    pub index: LogIndex,
    pub ballot: Ballot,
    pub payload: Payload,
}

impl Entry {
    /// Bytes this entry counts for in batch and flow-control limits.
    pub fn size_bytes(&self) -> usize {
        24 + match &self.payload {
            Payload::Noop => 0,
            Payload::Command(c) => c.len(),
            Payload::Conf(_) => 16,
            Payload::Split(s) => 8 + s.key.len(),
        }
    }
}

/// Where a snapshot stands: the last index it covers, that entry's ballot,
/// and the membership in force there.
#[derive(Clone, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SnapshotMeta {
    pub index: LogIndex,
    pub ballot: Ballot,
    pub membership: Membership,
}

/// A member's promise state, persisted before any message that depends on it
/// is sent: the highest ballot it has seen, whom it voted for in it, and
/// whether its log is known to be damaged (since which ballot): a damaged
/// member may have lost records it acknowledged, so it neither votes nor
/// campaigns until a later leader has repaired it, across restarts.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct HardState {
    pub ballot: Ballot,
    pub vote: Option<MemberId>,
    pub damaged_at: Option<Ballot>,
}

/// A message between two members of one group.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Envelope {
    pub group: GroupId,
    pub from: MemberId,
    pub to: MemberId,
    pub msg: Message,
}

/// The replication protocol's messages. Every message carries the sender's
/// ballot; a higher ballot than the receiver's makes it step down (except
/// pre-votes, which change nothing).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// "Would you vote for me in `ballot`?" Changes no state anywhere.
    PreVote {
        ballot: Ballot,
        last_index: LogIndex,
        last_ballot: Ballot,
    },
    PreVoteResp {
        ballot: Ballot,
        granted: bool,
    },
    /// Phase 1: a candidate asks for promises in `ballot`. `force` (leader
    /// transfer) overrides the "I still hear a leader" refusal.
    Vote {
        ballot: Ballot,
        last_index: LogIndex,
        last_ballot: Ballot,
        force: bool,
    },
    /// A promise (or refusal). A granting voter reports its last entry: a
    /// `Log` member may grant a candidate whose log is behind its own, and
    /// the winner then fetches that tail before it leads.
    VoteResp {
        ballot: Ballot,
        granted: bool,
        last_index: LogIndex,
        last_ballot: Ballot,
    },
    /// Phase 2: append `entries` after (`prev_index`, `prev_ballot`); the
    /// leader's commit index rides along.
    Accept {
        ballot: Ballot,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: Vec<Entry>,
        commit: LogIndex,
    },
    /// Sent after the entries are durable. `ok`: the log now matches the
    /// leader's through `index`. Not ok: the log did not hold `prev`;
    /// `index` is a hint (the follower's last index) for the next probe.
    /// `wants_snapshot`: the follower joined the group with no state and
    /// must start from a snapshot (its empty log must never be filled from
    /// index 1, which would replay memberships from the wrong base).
    AcceptResp {
        ballot: Ballot,
        ok: bool,
        index: LogIndex,
        wants_snapshot: bool,
    },
    /// Keeps followers from campaigning and extends the lease. `commit` is
    /// capped at what the follower is known to hold. `quiesce` asks an
    /// up-to-date follower to stop its election timer until the next
    /// message or until its node detector reports the leader down.
    Heartbeat {
        ballot: Ballot,
        commit: LogIndex,
        seq: u64,
        quiesce: bool,
    },
    HeartbeatResp {
        ballot: Ballot,
        seq: u64,
    },
    /// Asks for entries after `from_index - 1`, at most `max_bytes` of
    /// them. `committed_only == false`: a new leader whose log is behind a
    /// `Log` voter's fetches that voter's whole tail. `committed_only`: a
    /// member catching up without a leader (after a [`Message::CommitHint`])
    /// fetches committed entries, which are final and safe to copy from
    /// anyone.
    Fetch {
        ballot: Ballot,
        from_index: LogIndex,
        max_bytes: u64,
        committed_only: bool,
    },
    FetchResp {
        ballot: Ballot,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: Vec<Entry>,
        last_index: LogIndex,
        committed_only: bool,
    },
    /// "I know entries through `commit` are committed." Sent by a member
    /// that has heard no leader for an election timeout, to the members it
    /// knows: one of them may be behind the membership changes that would
    /// let someone win an election.
    CommitHint {
        ballot: Ballot,
        commit: LogIndex,
    },
    /// Catch-up by state instead of log: the receiver replaces its log and
    /// state with `data` as of `meta`. For a `Log` member `data` is empty
    /// (it keeps no state; the snapshot only says where its log starts).
    /// `committed_only`: sent without a leader, in answer to a committed-only
    /// `Fetch` the sender could not serve from its compacted log; `meta` is
    /// then committed state (a fact whatever the ballot), and the sender is
    /// not a leader.
    Snapshot {
        ballot: Ballot,
        meta: SnapshotMeta,
        data: Vec<u8>,
        committed_only: bool,
    },
    /// Sent once the snapshot is durable.
    SnapshotResp {
        ballot: Ballot,
        index: LogIndex,
    },
    /// Leader transfer: "campaign now, with `force`".
    TimeoutNow {
        ballot: Ballot,
    },
}

impl Message {
    /// The sender's ballot (for pre-votes: the ballot it would campaign in).
    pub fn ballot(&self) -> Ballot {
        match self {
            Message::PreVote { ballot, .. }
            | Message::PreVoteResp { ballot, .. }
            | Message::Vote { ballot, .. }
            | Message::VoteResp { ballot, .. }
            | Message::Accept { ballot, .. }
            | Message::AcceptResp { ballot, .. }
            | Message::Heartbeat { ballot, .. }
            | Message::HeartbeatResp { ballot, .. }
            | Message::Fetch { ballot, .. }
            | Message::FetchResp { ballot, .. }
            | Message::Snapshot { ballot, .. }
            | Message::SnapshotResp { ballot, .. }
            | Message::TimeoutNow { ballot }
            | Message::CommitHint { ballot, .. } => *ballot,
        }
    }

    /// Short name for logs and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::PreVote { .. } => "PreVote",
            Message::PreVoteResp { .. } => "PreVoteResp",
            Message::Vote { .. } => "Vote",
            Message::VoteResp { .. } => "VoteResp",
            Message::Accept { .. } => "Accept",
            Message::AcceptResp { .. } => "AcceptResp",
            Message::Heartbeat { .. } => "Heartbeat",
            Message::HeartbeatResp { .. } => "HeartbeatResp",
            Message::Fetch { .. } => "Fetch",
            Message::FetchResp { .. } => "FetchResp",
            Message::Snapshot { .. } => "Snapshot",
            Message::SnapshotResp { .. } => "SnapshotResp",
            Message::TimeoutNow { .. } => "TimeoutNow",
            Message::CommitHint { .. } => "CommitHint",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(i: u64) -> MemberId {
        MemberId(i)
    }

    #[test]
    fn membership_rules() {
        let three = Membership::full(&[m(3), m(1), m(2)]).unwrap();
        assert_eq!(three.members()[0].id, m(1));
        assert_eq!(three.quorum(), 2);
        assert_eq!(
            Membership::full(&[m(1), m(1)]),
            Err(MembershipError::Duplicate(m(1)))
        );
        let log4 = three
            .apply(&ConfChange::Add {
                id: m(4),
                role: Role::Log,
            })
            .unwrap();
        assert_eq!(log4.voter_count(), 4);
        assert_eq!(log4.quorum(), 3);
        let learner = three
            .apply(&ConfChange::Add {
                id: m(5),
                role: Role::Learner,
            })
            .unwrap();
        assert_eq!(learner.quorum(), 2);
        assert_eq!(
            learner.apply(&ConfChange::Promote { id: m(1) }),
            Err(MembershipError::NotLearner(m(1), Role::Full))
        );
        let promoted = learner.apply(&ConfChange::Promote { id: m(5) }).unwrap();
        assert_eq!(promoted.role(m(5)), Some(Role::Full));
        let only_log = Membership::new(vec![Member {
            id: m(1),
            role: Role::Log,
        }]);
        assert_eq!(only_log, Err(MembershipError::NoFullMember));
        assert_eq!(
            three.apply(&ConfChange::Remove { id: m(9) }),
            Err(MembershipError::NotMember(m(9)))
        );
    }

    /// Consecutive memberships (one step apart) always have intersecting
    /// quorums: exhaustively over small voter sets.
    #[test]
    fn one_step_changes_keep_quorums_intersecting() {
        for n in 1..=5u64 {
            let ids: Vec<MemberId> = (1..=n).map(m).collect();
            let base = Membership::full(&ids).unwrap();
            let changes = [
                ConfChange::Add {
                    id: m(9),
                    role: Role::Log,
                },
                ConfChange::Add {
                    id: m(9),
                    role: Role::Learner,
                },
                ConfChange::Remove { id: m(1) },
            ];
            for c in changes {
                let Ok(next) = base.apply(&c) else { continue };
                let a = base.voter_count();
                let b = next.voter_count();
                let shared = base
                    .voters()
                    .filter(|v| next.role(*v).is_some_and(Role::is_voter))
                    .count();
                // Two quorums can avoid each other only if together they fit
                // outside the shared voters.
                assert!(
                    base.quorum() + next.quorum() > a + b - shared,
                    "{base:?} -> {next:?}"
                );
            }
        }
    }
}
