//! WAL errors and the recovery report.
//!
//! Every error about bytes on disk names the file and the byte offset.
//! [`TailReason`] says why a piece of the log is not valid; it appears both
//! in a clean tail stop ([`TailStop`], part of [`RecoveryReport`]) and in
//! [`WalError::Corrupt`] (damage inside acknowledged data).

use crate::io::IoError;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the log is not valid at some offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TailReason {
    /// The block is all zeros: nothing was ever written there.
    #[error("unwritten space (all zeros)")]
    Unwritten,
    /// A batch header fails its checksum or magic (torn or corrupt).
    #[error("torn or corrupt batch header")]
    BadHeader,
    /// A record fails its checksum (torn or corrupt).
    #[error("record checksum mismatch")]
    ChecksumMismatch,
    /// Bytes from an earlier life of this segment file (before recycling).
    #[error("data from an earlier life of the segment (sequence {found}, expected {expected})")]
    StaleGeneration { found: u64, expected: u64 },
    /// Record lengths run past their batch (torn or corrupt).
    #[error("record lengths do not fit the batch (torn)")]
    Torn,
    /// A batch number does not follow its predecessor.
    #[error("batch number {found} where {expected} or later was expected")]
    BatchOutOfOrder { found: u64, expected: u64 },
    /// Both copies of the segment header are invalid.
    #[error("invalid segment header (both copies)")]
    BadSegmentHeader,
    /// The file is shorter than its header says.
    #[error("file is {len} bytes, its header says {expected}")]
    ShortFile { len: u64, expected: u64 },
    /// Two segment files claim the same sequence number.
    #[error("another segment file has the same sequence number {seq}")]
    DuplicateSequence { seq: u64 },
    /// `Wal::read` found a valid record other than the indexed one.
    #[error(
        "found partition {found_partition} index {found_index} where the index expects partition {partition} index {index}"
    )]
    UnexpectedRecord {
        partition: u64,
        index: u64,
        found_partition: u64,
        found_index: u64,
    },
}

/// Where and why recovery stopped reading a torn or unfinished tail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: log ends at offset {offset}: {reason}", file.display())]
pub struct TailStop {
    pub file: PathBuf,
    /// Where the invalid bytes are (the log itself ends at the start of the
    /// batch holding them).
    pub offset: u64,
    pub reason: TailReason,
}

/// What `Wal::open` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files examined.
    pub segments_scanned: usize,
    /// Valid records read (including ones later superseded by truncation).
    pub records: u64,
    /// Valid batches read (including seals).
    pub batches: u64,
    /// `None` when the log ended at a seal (the previous run shut down
    /// cleanly); otherwise where the valid log ends and why.
    pub stop: Option<TailStop>,
    /// Segment header copies found invalid while the other copy was good.
    pub header_copies_bad: usize,
    /// Leftover temporary files from an interrupted segment creation.
    pub temp_files_removed: usize,
}

/// Errors from the WAL.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(transparent)]
    Io(#[from] IoError),
    /// Damage inside data that was (or may have been) acknowledged as
    /// durable. Recovery refuses to continue rather than drop it.
    #[error("{}: WAL corrupt at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: TailReason,
    },
    /// A record (or `append_batch` group) cannot fit in one segment.
    #[error("record batch of {bytes} encoded bytes exceeds the per-segment maximum of {max_bytes}")]
    RecordTooLarge { bytes: usize, max_bytes: usize },
    #[error("invalid WAL config: {0}")]
    Config(String),
    /// The WAL stopped after a write, sync or segment-preparation failure
    /// and accepts no more appends (fail-stop; reopen to recover).
    #[error("WAL stopped after a failure: {cause}")]
    Failed { cause: Arc<WalError> },
    /// The WAL was shut down.
    #[error("WAL is shut down")]
    Closed,
}
