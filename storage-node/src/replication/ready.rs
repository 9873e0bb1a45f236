//! What a replica asks its driver to do ([`Ready`]), and what it tells it
//! about reads and proposals.
//!
//! The driver's contract, in order, for each `Ready` it takes:
//! 1. start sending `messages` (they do not depend on anything unpersisted);
//! 2. persist `hard_state`, then `snapshot` (if any), then `entries` (an
//!    entry at index `i` supersedes every stored entry at `i` or later:
//!    `truncate_from` says where the log was cut, for drivers that need it),
//!    and make them durable (fdatasync);
//! 3. then send `messages_after_persist` and call
//!    [`super::Replica::on_persisted`] with the last entry persisted (or the
//!    snapshot point);
//! 4. apply `committed` entries in order (Full members only) and report
//!    progress with [`super::Replica::on_applied`];
//! 5. answer `reads` once the state machine has applied `index`.
//!
//! A proposal took effect iff the entry committed at its index carries the
//! ballot `propose` returned; a different ballot there means it never will.
//!
//! Steps of later `Ready`s never overtake earlier ones.

use wire::replication::{Entry, Envelope, HardState, LogIndex, MemberId, SnapshotMeta};

#[derive(Debug, Default)]
pub struct Ready {
    pub hard_state: Option<HardState>,
    /// A snapshot to install before `entries`: the state machine is replaced
    /// by `data` as of `meta`.
    pub snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    pub truncate_from: Option<LogIndex>,
    pub entries: Vec<Entry>,
    pub messages: Vec<Envelope>,
    pub messages_after_persist: Vec<Envelope>,
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadResult>,
    /// Peers that need a snapshot of the state machine: call
    /// [`super::Replica::send_snapshot`] with the data as of
    /// [`super::Replica::applied`].
    pub snapshot_needed: Vec<MemberId>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.snapshot.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.messages_after_persist.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.snapshot_needed.is_empty()
    }

    /// Does it need a disk write before `messages_after_persist` go out?
    pub fn needs_persist(&self) -> bool {
        self.hard_state.is_some() || self.snapshot.is_some() || !self.entries.is_empty()
    }
}

/// The answer to a consistent read ([`super::Replica::read`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// Serve the read from the state machine once it has applied `index`.
    Ready {
        id: u64,
        index: LogIndex,
    },
    Failed {
        id: u64,
        error: ReadError,
    },
}

/// Why a consistent read could not be served here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader { leader: Option<MemberId> },
    #[error("too many reads waiting for a quorum round")]
    Busy,
    #[error("leadership was lost before the read was confirmed")]
    LeadershipLost,
}

/// Why a proposal was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader { leader: Option<MemberId> },
    #[error("leadership is being handed over")]
    Transferring,
    #[error("too many uncommitted entries")]
    Busy,
    #[error("a membership change is already in progress")]
    ConfChangePending,
    #[error("the new leader has not committed its first entry yet")]
    NotReady,
    #[error("membership change refused: {0}")]
    Membership(#[from] wire::replication::MembershipError),
    #[error("member {0} has not caught up")]
    NotCaughtUp(MemberId),
    #[error("member {0} cannot lead")]
    NotEligible(MemberId),
    #[error("the group is not settled (member {0} is not Full): no split now")]
    NotSettled(MemberId),
    #[error("invalid split: {0}")]
    InvalidSplit(&'static str),
}
