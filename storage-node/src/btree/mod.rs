//! The node's copy-on-write B+tree: one file per node holding every
//! partition's items (keys are encoded by `wire` so a partition is a key
//! range). The engine (`engine/`) applies committed log entries to it in
//! batched write transactions and checkpoints it; replica copies and scrub
//! read pinned snapshots.
//!
//! # Guarantees
//! - **Crash safety**: after a crash at any point, reopening yields exactly
//!   the state of the last checkpoint whose `checkpoint()` returned `Ok`
//!   (or of a checkpoint that failed after its superblock reached the disk).
//! - **Every page read from disk is verified** (checksum, the page id and
//!   generation its reference expects, structure). A mismatch is
//!   [`BTreeError::Corrupt`] naming the file and byte offset; the tree never
//!   returns wrong data and bad disk data never panics.
//! - **Bounded memory**: the buffer pool never holds more than
//!   `cache_bytes_max` of pages, counting clean, dirty, pinned and
//!   write-transaction-private pages (`btree/pool.rs` lists what is not
//!   counted: transient I/O buffers and per-frame bookkeeping, including a
//!   search index of at most 1/8 page plus 32 bytes per cached page).
//! - **A damaged free list is rebuilt** at open by walking the tree (every
//!   tree page verified), so the data stays readable.
//! - **Snapshots**: [`Snapshot`] reads one committed state; its pages are
//!   not reused while it lives, whatever writes, commits, checkpoints and
//!   evictions happen meanwhile.
//!
//! # Design
//! - **Copy-on-write with shadow paging.** Committed pages are immutable. A
//!   write transaction copies ("shadows") each page on its path to a new
//!   page id the first time it touches it and edits that private copy in
//!   place; the old page is freed "at" this transaction. Commit publishes the
//!   new root with one pointer swap, so readers never see a partial
//!   transaction. There are no sibling links (they would force copying the
//!   whole leaf level); cursors keep a path stack instead.
//! - **Page references carry a generation** (the id of the transaction that
//!   allocated the page). Reading through a reference checks the page's
//!   header id and generation, which catches misdirected and lost writes and
//!   reading a reused page through a stale superblock.
//! - **Freed pages are reused only when safe** (`btree/alloc.rs`): no live
//!   snapshot may still read them, and pages of the last durable checkpoint
//!   (or the one being written) wait until a newer checkpoint is durable.
//!   That is what makes a torn superblock write harmless: the older slot's
//!   pages are intact.
//! - **Checkpoint** (`btree/checkpoint.rs`): under the writer lock, capture
//!   the latest commit, the set of dirty pages and the free list (allocating
//!   pages for it); release the writer lock; write the dirty pages (each to
//!   its own fresh location, so order does not matter) and the free list;
//!   `sync_data`; write the superblock into the slot not holding the current
//!   one; `sync_data`. Writers continue during the I/O.
//! - **Dirty pages may be written early**: a dirty page's location is never
//!   part of a protected checkpoint, so the pool can write it back and evict
//!   it at any time; the write transaction spills its private pages the same
//!   way. Memory stays bounded during huge transactions and between
//!   checkpoints.
//! - **Overflow values** (too big to inline) live in a contiguous run of
//!   overflow pages, read and written with one I/O per
//!   `WRITE_BATCH_PAGES` pages and never cached (large values would flush
//!   the pool). Freeing one needs no reads.
//! - **Read path**: one shard lock per level below the root (a point get
//!   searches the cached page under it; cursors clone the frame's `Arc`
//!   instead, to keep their leaf). Each committed state pins its root
//!   frame, so the root costs no probe and readers do not all meet on one
//!   shard lock; for point gets it also pins the root's children as gets
//!   reach them, if they are at most 1/16 of the pool's pages (one probe
//!   less again; a later state shares the frames of unchanged children, so
//!   live states pin little more than one such set). No allocation per
//!   level, no decoding of whole pages. Each cached leaf and branch frame
//!   carries a search index built by its first search (`btree/search.rs`:
//!   the keys' common prefix, and per key the next two bytes and its cell
//!   offset), so a lookup binary-searches a small array and compares whole
//!   keys in the page only where those bytes tie; pages without an index
//!   (crowded ones, a write transaction's private pages) use binary search
//!   over the slot offsets in the raw page bytes. Pages are validated once
//!   when read from disk, so the hot path does no per-access checks beyond
//!   slice bounds.
//! - **Cancellation**: dropping a read or write future midway leaks nothing
//!   (pool reservations and write-back marks are released by guards); a
//!   write transaction whose operation was cancelled refuses further use; a
//!   checkpoint must not be cancelled (it poisons further checkpoints).
//!
//! # File layout
//! Pages of `page_size` bytes (a power of two, 512..=32768, fixed at
//! creation and stored in the superblock); page `i` is at byte
//! `i * page_size`. Pages 0 and 1 hold superblock slots 0 and 1; all other
//! pages are leaf, branch, overflow or free-list pages, or free. All
//! integers are little-endian.
//!
//! ## Superblock (first 128 bytes of page 0 or 1; the rest of the page is zero)
//! ```text
//!  0      16       24        28          32               40         48
//!  +------+--------+---------+-----------+----------------+----------+
//!  | csum | magic  | version | page_size | checkpoint_gen | txn      |
//!  | [16] |"CAIRNBT1" u32    | u32       | u64            | u64      |
//!  +------+--------+---------+-----------+----------------+----------+
//!  48         56          64           72            80          88           96     97..128
//!  +----------+-----------+------------+-------------+-----------+------------+------+-------+
//!  | root id  | root gen  | page_count | freelist id | fl gen    | free_pages | slot | zeros |
//!  | u64      | u64       | u64        | u64         | u64       | u64        | u8   |       |
//!  +----------+-----------+------------+-------------+-----------+------------+------+-------+
//! ```
//! `csum` = blake3(bytes 16..128) truncated to 16 bytes. Id 0 = none (empty
//! tree / empty free list). Checkpoint `g` is written to slot `g % 2`.
//!
//! ## Page header (every non-superblock page, 64 bytes)
//! ```text
//!  0       16       24         32     33      34       36           38     40        44     48        56        64
//!  +-------+--------+----------+------+-------+--------+------------+------+---------+------+---------+---------+
//!  | csum  | id     | gen      | kind | level | nslots | cell_start | frag | aux_len | zero | aux id  | aux gen |
//!  | [16]  | u64    | u64      | u8   | u8    | u16    | u16        | u16  | u32     | u32  | u64     | u64     |
//!  +-------+--------+----------+------+-------+--------+------------+------+---------+------+---------+---------+
//! ```
//! `csum` = blake3(bytes 16..page_size) truncated to 16 bytes, filled in
//! when the page is written. `kind`: 1 leaf, 2 branch, 3 overflow,
//! 4 free list. `level`: 0 for leaves, height above the leaves for branches.
//! `aux`: a branch's first child; a free-list page's next page.
//! `aux_len`: payload bytes of an overflow page.
//!
//! ## Leaf and branch pages (slotted)
//! ```text
//!  +--------+----------------------+-----------------+--------------------+
//!  | header | slot[0..nslots]: u16 | free gap        | cells (grow down)  |
//!  +--------+----------------------+-----------------+--------------------+
//!  0        64                     64+2*nslots       cell_start           page_size
//! ```
//! Slots hold cell offsets in key order. Committed pages have their cells
//! laid out in key order too, contiguously up to the page end (commit
//! compacts every page the transaction wrote), so scans read memory
//! sequentially; while a transaction edits a page, new cells go below
//! `cell_start` and removed ones leave holes (`frag` bytes) until the next
//! compaction.
//! ```text
//!  leaf cell:   | klen u16 | vlen u32 | key [klen] | value [vlen]            |   (inline)
//!               | klen u16 | vlen u32 | key [klen] | first id u64 | gen u64  |   (bit 31 of vlen set:
//!                                                       overflow run of ceil(len / (page_size-64)) pages)
//!  branch cell: | klen u16 | child id u64 | child gen u64 | key [klen] |
//! ```
//! A branch with `n` separators has `n + 1` children: child 0 is in the
//! header, child `i` (in cell `i - 1`) holds keys `>= key[i-1]` and
//! `< key[i]`. Separators are suffix-truncated (the shortest prefix of the
//! right page's first key that is greater than the left page's last key).
//! Every cell is at most `(page_size - 64) / 2 - 2` bytes, so two always fit
//! and a split always succeeds; this bounds keys ([`BTree::max_key_bytes`],
//! 4040 bytes for 8 KiB pages). Values that do not fit inline go to
//! overflow pages (up to [`MAX_VALUE_BYTES`]).
//!
//! ## Overflow page / free-list page
//! ```text
//!  overflow:  | header (aux_len = payload bytes) | payload [aux_len] | zeros |
//!  free list: | header (nslots = entries, aux = next page) | (start u64, len u64) * nslots | zeros |
//! ```
//!
//! # Files
//! `page.rs` (format, accessors), `node.rs` (page mutation, splits),
//! `superblock.rs`, `alloc.rs` (allocation and reuse rules), `pool.rs`
//! (buffer pool), `search.rs` (per-frame search index), `tree.rs` (open,
//! snapshots, stats), `txn.rs` and `rebalance.rs` (write transactions),
//! `overflow.rs`, `cursor.rs` (snapshot reads and range cursors),
//! `check.rs` (whole-snapshot verification for scrub), `checkpoint.rs`;
//! tests in `tests/`.
//! The `Disk` seam is `io/`; the engine that drives this is `engine/`.

mod alloc;
mod check;
mod checkpoint;
mod cursor;
mod node;
mod overflow;
mod page;
mod pool;
mod rebalance;
mod search;
mod superblock;
mod tree;
mod txn;

#[cfg(test)]
mod tests;

pub use check::VerifyReport;
pub use cursor::{Cursor, Direction, Snapshot};
pub use tree::BTree;
pub use txn::WriteTxn;

use crate::io::IoError;
use std::path::PathBuf;

/// Default page size.
pub const PAGE_SIZE_DEFAULT: usize = 8192;
/// Largest value accepted (stored in overflow pages when not inline).
pub const MAX_VALUE_BYTES: usize = 4 << 20;
/// The pool must hold at least this many pages.
pub const CACHE_PAGES_MIN: usize = 32;

/// How to open (or create) a tree file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BTreeConfig {
    pub path: PathBuf,
    /// Page size for a new file (a power of two, 512..=32768; a multiple of
    /// 4096 with `direct_io`). An existing file keeps the size it was
    /// created with (read from its superblock).
    pub page_size_bytes: usize,
    /// Buffer pool budget; at least `CACHE_PAGES_MIN` pages.
    pub cache_bytes_max: usize,
    /// Open the file with `O_DIRECT`.
    pub direct_io: bool,
}

impl BTreeConfig {
    pub fn new(path: impl Into<PathBuf>) -> BTreeConfig {
        BTreeConfig {
            path: path.into(),
            page_size_bytes: PAGE_SIZE_DEFAULT,
            cache_bytes_max: 64 << 20,
            direct_io: false,
        }
    }
}

/// Errors from the tree. Those about the file name it and the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum BTreeError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{}: corrupt data at byte offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("key of {len} bytes exceeds the maximum of {max} bytes")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value of {len} bytes exceeds the maximum of {max} bytes")]
    ValueTooLarge { len: usize, max: usize },
    #[error(
        "buffer pool exhausted: every page of the {cache_bytes_max}-byte cache is pinned or private to the write transaction (wanted {wanted_pages} more)"
    )]
    CacheExhausted {
        cache_bytes_max: usize,
        wanted_pages: usize,
    },
    #[error("{}: invalid configuration: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("write transaction failed earlier and can only be dropped: {reason}")]
    TxnFailed { reason: String },
    #[error("{}: an earlier checkpoint failed; reopen the tree to recover", path.display())]
    Poisoned { path: PathBuf },
}

impl BTreeError {
    pub fn is_corrupt(&self) -> bool {
        matches!(self, BTreeError::Corrupt { .. })
    }
}

/// Counters and gauges for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Bytes of pages resident or reserved in the pool right now.
    pub cache_bytes: usize,
    pub cache_bytes_max: usize,
    /// High-water mark of `cache_bytes`.
    pub cache_bytes_peak: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub pages_read: u64,
    pub pages_written: u64,
    /// Pages in the file (including the two superblock pages).
    pub file_pages: u64,
    /// Pages free for reuse now.
    pub free_pages: u64,
    /// Freed pages waiting for snapshots or a checkpoint before reuse.
    pub pending_free_pages: u64,
    pub commits: u64,
    /// Generation of the durable superblock.
    pub checkpoint_gen: u64,
    /// Latest committed and latest durable write transaction.
    pub committed_txn: u64,
    pub durable_txn: u64,
    /// Open found one superblock slot damaged (a torn write from a crash
    /// during a checkpoint, or corruption) and used the other one.
    pub superblock_fallback: bool,
}

/// What one checkpoint did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Nothing was committed since the last checkpoint; nothing written.
    pub skipped: bool,
    /// The write transaction now durable.
    pub txn: u64,
    pub checkpoint_gen: u64,
    pub pages_written: u64,
    pub freelist_pages: u64,
    pub duration_us: u64,
}
