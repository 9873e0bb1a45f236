//! The write-ahead log: one segmented, group-committed log per node, shared
//! by all partitions (DESIGN §4). The replication driver appends each
//! partition's accepted log records here; a record is acknowledged once it
//! is fdatasync'd. The B-tree (`btree/`) applies committed records and the
//! engine (`engine/`) calls [`Wal::release`] once a partition's records up
//! to an index are applied and checkpointed; recovery replays the WAL past
//! each partition's applied index. All I/O goes through the `Disk` seam
//! (`io/`).
//!
//! Files: `format.rs` (byte layouts), `writer.rs` (group commit),
//! `segment.rs` (segment files, spares, reclamation), `recovery.rs`,
//! `index.rs` (per-partition index, reclamation rules), `shared.rs`.
//!
//! # Semantics
//!
//! - **Durability**: [`Wal::append`] / [`Wal::append_batch`] resolve once
//!   the records are durable. Concurrent appenders share one durable write
//!   (`write_at_durable`: group commit) done by a dedicated writer task; dropping an
//!   appender's future does not cancel its record.
//! - **Truncation (Paxos/Raft overwrite)**: appending `(p, i)` supersedes
//!   every earlier record of partition `p` with index `>= i`; the index
//!   drops them and recovery applies the same rule in log order. Otherwise
//!   a partition's indices increase (gaps are allowed; records of one
//!   partition inside one `append_batch` must strictly increase, asserted).
//!   Truncating at or below a partition's release mark is not supported:
//!   released records it supersedes may reappear after a restart.
//! - **Reads** see only durable, live (not superseded, not released)
//!   records.
//! - **Fail-stop**: a failed write, sync or segment preparation fails every
//!   appender not yet durable and every later append ([`WalError::Failed`]);
//!   a node must not acknowledge after a failed fsync. Reopen to continue.
//! - **Backpressure**: appenders wait while more than `pending_bytes_max`
//!   bytes are queued.
//!
//! # On-disk format
//!
//! A directory of fixed-size segment files `seg-<slot:010>.wal`
//! (`segment_size_bytes`, a multiple of 4096). Integers are little-endian;
//! `csum` is the first 16 bytes of BLAKE3 over the bytes after it in the
//! same structure.
//!
//! ```text
//! segment file (segment_size_bytes)
//! +--------------+----------+----------+-----+--------+---------------------+
//! | header block | batch    | batch    | ... | seal   | unused: zeros, or   |
//! | 4096 B       | k*4096 B | k*4096 B |     | 4096 B | an earlier life     |
//! +--------------+----------+----------+-----+--------+---------------------+
//! 0              4096
//! A batch is placed only if one block remains after it, so the seal fits.
//!
//! header block: two identical 64-byte copies at offsets 0 and 2048
//! (different sectors), zeros elsewhere
//!   0      16     24   28   32          40    48     56     64
//!   +------+------+----+----+-----------+-----+------+------+
//!   | csum | magic|ver |rsv | seg size  | seq | salt | slot |
//!   +------+------+----+----+-----------+-----+------+------+
//!   magic "CAIRNWAL", ver 1; seq: generation, unique and increasing
//!   across all segment lives; salt: random per life.
//!
//! batch (starts on a 4096 boundary; one durable write)
//!   0      16     20    22  24     28        32    40     48        56   64
//!   +------+------+-----+---+------+---------+-----+------+---------+----+
//!   | csum | "CWB1"|flags|rsv| count| rec bytes| seq | salt | batch no| rsv|
//!   +------+------+-----+---+------+---------+-----+------+---------+----+
//!   then `count` records (exactly `rec bytes` bytes), then zeros up to the
//!   next 4096 boundary. flags bit 0 = SEAL (count 0, rec bytes 0): the
//!   segment ends here. batch no: +1 per batch across all segments.
//!
//! record (packed back to back inside a batch; never spans segments)
//!   0      16      20    24    32          40       48      56
//!   +------+-------+-----+-----+-----------+--------+-------+---------+
//!   | csum |pay len| rsv | seq | partition | ballot | index | payload |
//!   +------+-------+-----+-----+-----------+--------+-------+---------+
//! ```
//!
//! Padding is never interpreted: the batch header gives the exact length of
//! its records, and the next batch starts at the next 4096 boundary. Every
//! batch leaves one block free for the seal. A record (or `append_batch`
//! group) may be at most `segment_size_bytes - 8192 - 64` encoded bytes.
//!
//! # Segment lifecycle
//!
//! *created* (`*.tmp`, preallocated, zero-filled, header written, synced,
//! renamed, directory synced) → *spare* → *active* (the writer appends) →
//! *sealed* (seal batch synced before the next segment is written) →
//! *reclaimable* → *recycled* into a spare (new header with a higher
//! sequence and fresh salt, synced; then its first batch block zeroed,
//! synced) or *deleted* beyond `spare_segments` spares. A segment is
//! reclaimable when sealed, no partition has live records in it (every
//! partition released past its records there), and no segment holding
//! records it superseded remains on disk (see `index.rs`). The active
//! segment is never reclaimed.
//!
//! Stale bytes from a segment's previous life carry the old sequence (and
//! salt) and are rejected. Each segment is appended to during one open
//! only: `open` seals the last segment and starts appending in a spare, and
//! all spares get a new life at `open`, so garbage past a torn tail is
//! never reachable.
//!
//! # Recovery
//!
//! Segments are read in sequence order; in each, batches are followed from
//! offset 4096 while valid (header checksum, magic, sequence and salt,
//! consecutive batch numbers, every record's checksum and sequence). A
//! batch counts only if all its records are valid (append_batch is atomic).
//! Where the chain stops is the *stop point*. Because at most one batch is
//! ever unsynced (the last one) and seals precede later segments:
//! - a live segment other than the last must end in a seal, otherwise its
//!   stop point is damage in durable data → [`WalError::Corrupt`];
//! - the last live segment may end without a seal (a crash): if any valid
//!   batch header of this segment life exists after the stop point, the bad
//!   batch had been synced → `Corrupt`; otherwise the stop is a torn tail,
//!   reported in [`RecoveryReport::stop`];
//! - a segment with no valid batch whose first batch block is not all zeros
//!   is searched for valid headers the same way (a damaged first batch).
//!
//! Bit rot in the very last durable batch cannot be told apart from a torn
//! write and is reported as a tail stop (so is a torn first batch of a new
//! segment). Recovery reads every live segment and the remainder of the
//! last one; its memory is one read window (1 MiB or one batch).
//!
//! # Memory
//!
//! Index: 24 bytes per live record plus ~100 bytes per partition and per
//! segment (`index.rs`); bounded by the WAL size. Queue: at most
//! `pending_bytes_max` of records. Writer: one batch buffer (kept if at most
//! `2 * batch_bytes_max`). No per-record allocation in the WAL itself.
//!
//! # Known limits
//!
//! - One process per directory: there is no lock file (the node holds its
//!   data directory).
//! - Reclaimed segments beyond `spare_segments` are deleted, so bursts of
//!   releases followed by roll-overs create (zero-fill) new segments.
//! - The active segment is sealed at shutdown and at open, so every open
//!   starts a fresh segment.

mod error;
mod format;
mod index;
mod recovery;
mod segment;
mod shared;
mod writer;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use error::{RecoveryReport, TailReason, TailStop, WalError};

use crate::io::{Disk, DiskFile, read_exact_at};
use format::{BATCH_HEADER_BYTES, BLOCK, align_down, align_up, decode_record, record_bytes};
use index::Entry;
use shared::{Counters, Pending, Queue, Recs, SegFile, Shared, State};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

/// Smallest segment: header, one batch block, seal block, one spare block.
pub(crate) const SEGMENT_BYTES_MIN: u64 = 4 * BLOCK;
/// Largest segment (offsets in the index are 32-bit).
pub(crate) const SEGMENT_BYTES_MAX: u64 = 1 << 32;
/// Entries of one read farther apart than this are read separately.
const READ_GAP_BYTES_MAX: u64 = 64 << 10;

/// WAL configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// Size of every segment file; a multiple of 4096, 16 KiB ..= 4 GiB.
    pub segment_size_bytes: u64,
    /// Preallocated segments kept ready ahead of need (and the most kept).
    pub spare_segments: usize,
    /// Most bytes per group-commit write (one append is always taken).
    pub batch_bytes_max: usize,
    /// Appenders wait while more than this many bytes are queued.
    pub pending_bytes_max: usize,
    /// `O_DIRECT` segment I/O (falls back to buffered if refused).
    pub direct_io: bool,
}

impl WalConfig {
    pub fn new(dir: impl Into<PathBuf>) -> WalConfig {
        WalConfig {
            dir: dir.into(),
            segment_size_bytes: 64 << 20,
            spare_segments: 1,
            batch_bytes_max: 4 << 20,
            pending_bytes_max: 64 << 20,
            direct_io: true,
        }
    }

    fn validate(&self) -> Result<(), WalError> {
        let s = self.segment_size_bytes;
        if !s.is_multiple_of(BLOCK) || !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&s) {
            return Err(WalError::Config(format!(
                "segment_size_bytes {s} must be a multiple of {BLOCK} in {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}"
            )));
        }
        if self.batch_bytes_max == 0 {
            return Err(WalError::Config("batch_bytes_max must be > 0".into()));
        }
        if self.pending_bytes_max == 0 || self.pending_bytes_max > Semaphore::MAX_PERMITS {
            return Err(WalError::Config(format!(
                "pending_bytes_max must be in 1..={}",
                Semaphore::MAX_PERMITS
            )));
        }
        Ok(())
    }

    /// Largest encoded size of one append (records with headers).
    pub fn record_bytes_max(&self) -> usize {
        (self.segment_size_bytes - 2 * BLOCK) as usize - BATCH_HEADER_BYTES
    }
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: u64,
    pub ballot: u64,
    pub index: u64,
    pub payload: Vec<u8>,
}

/// A partition with live records: the first and last index present
/// (indices in between may have gaps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionSpan {
    pub partition: u64,
    pub first_index: u64,
    pub last_index: u64,
}

/// A queued batch's place in the WAL's order ([`Wal::enqueue_batch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurableTicket(u64);

/// Counters and gauges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// `append` + `append_batch` calls accepted.
    pub appends: u64,
    /// Records made durable.
    pub records: u64,
    /// Group-commit batches written (one durable write each).
    pub batches: u64,
    /// Durable writes and syncs by the writer (batches + seals).
    pub syncs: u64,
    /// Bytes written by the writer (batches with padding, seals).
    pub bytes_written: u64,
    /// Time spent in durable batch writes (write and sync), µs (seals not included).
    pub write_us: u64,
    /// Segments holding live data (active, sealed, being reclaimed).
    pub segments_live: usize,
    /// Spare segments ready for the writer.
    pub segments_free: usize,
    /// Sealed segments waiting for recycling or deletion.
    pub segments_reclaimable: usize,
    pub created: u64,
    pub recycled: u64,
    pub deleted: u64,
    /// Live records in the index (24 bytes each).
    pub index_entries: usize,
    pub direct_io: bool,
    pub failed: bool,
}

struct Handle<D: Disk> {
    sh: Arc<Shared<D>>,
    tasks: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

impl<D: Disk> Drop for Handle<D> {
    fn drop(&mut self) {
        self.sh.queue().closed = true;
        self.sh.writer_wake.notify_one();
    }
}

/// The write-ahead log. Cheap to clone (all clones share one log).
pub struct Wal<D: Disk> {
    inner: Arc<Handle<D>>,
}

impl<D: Disk> Clone for Wal<D> {
    fn clone(&self) -> Wal<D> {
        Wal {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Disk> Wal<D> {
    /// Recovers the log in `cfg.dir` (creating it if needed), seals its
    /// tail, prepares spares and starts the writer. Must run inside a
    /// tokio runtime.
    pub async fn open(disk: D, cfg: WalConfig) -> Result<(Wal<D>, RecoveryReport), WalError> {
        cfg.validate()?;
        disk.create_dir_all(&cfg.dir).await?;
        if let Some(parent) = cfg.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the WAL directory's own name durable.
            disk.sync_dir(parent).await?;
        }
        let rec = recovery::recover(&disk, &cfg).await?;
        let mut next_seq = rec.next_seq;
        let mut next_slot = rec.next_slot;
        let mut next_batch_no = rec.next_batch_no;
        if let Some((seg, pos)) = &rec.tail {
            writer::write_seal(seg, *pos, next_batch_no).await?;
            next_batch_no += 1;
        }
        let target = cfg.spare_segments.max(1);
        let mut spares = VecDeque::new();
        let mut removed = rec.report.temp_files_removed > 0;
        for seg in rec.free {
            if spares.len() < target && seg.size == cfg.segment_size_bytes {
                spares.push_back(segment::recycle_segment(&seg, next_seq).await?);
                next_seq += 1;
            } else {
                disk.remove(&seg.path).await?;
                removed = true;
            }
        }
        if removed {
            disk.sync_dir(&cfg.dir).await?;
        }
        let mut created = 0;
        while spares.len() < target {
            let size = cfg.segment_size_bytes;
            let seg =
                segment::create_segment(&disk, &cfg.dir, next_slot, next_seq, size, rec.direct)
                    .await?;
            spares.push_back(seg);
            next_slot += 1;
            next_seq += 1;
            created += 1;
        }
        let files: BTreeMap<u64, SegFile<D::File>> =
            rec.live.into_iter().map(|s| (s.seq, s)).collect();
        let mut state = State {
            index: rec.index,
            files,
            spares,
            reclaimable: VecDeque::new(),
            next_seq,
            next_slot,
            writer_waiting: false,
        };
        state.collect_reclaimable();
        let sh = Arc::new(Shared {
            disk,
            space: Semaphore::new(cfg.pending_bytes_max),
            cfg,
            direct: rec.direct,
            queue: Mutex::new(Queue::default()),
            writer_wake: Notify::new(),
            durable: AtomicU64::new(0),
            failed: OnceLock::new(),
            done: Notify::new(),
            state: Mutex::new(state),
            maint_wake: Notify::new(),
            spare_ready: Notify::new(),
            closing: AtomicBool::new(false),
            counters: Counters::default(),
        });
        Counters::add(&sh.counters.created, created);
        let w = tokio::spawn(writer::Writer::new(next_batch_no).run(sh.clone()));
        let m = tokio::spawn(segment::run_maintenance(sh.clone()));
        let wal = Wal {
            inner: Arc::new(Handle {
                sh,
                tasks: Mutex::new(Some((w, m))),
            }),
        };
        Ok((wal, rec.report))
    }

    fn sh(&self) -> &Shared<D> {
        &self.inner.sh
    }

    fn stopped(&self) -> WalError {
        match self.sh().failure() {
            Some(cause) => WalError::Failed { cause },
            None => WalError::Closed,
        }
    }

    /// Resolves when the record is durable (fdatasync'd). Concurrent
    /// callers share writes and syncs.
    pub async fn append(&self, rec: Record) -> Result<(), WalError> {
        let bytes = record_bytes(rec.payload.len());
        self.submit(Recs::One(rec), bytes).await
    }

    /// Several records, durable together (one slot in the group commit,
    /// all or none after a crash). Records of one partition must have
    /// strictly increasing indices (asserted).
    pub async fn append_batch(&self, recs: Vec<Record>) -> Result<(), WalError> {
        match self.enqueue_batch(recs).await? {
            Some(ticket) => self.wait_durable(ticket).await,
            None => Ok(()),
        }
    }

    /// Queues `recs` like [`Wal::append_batch`] and returns once they are queued (after
    /// waiting for queue space), not once durable: the returned [`DurableTicket`] is what
    /// [`Wal::wait_durable`] waits for (`None` for an empty batch). Batches become durable
    /// in the order they were queued, so a caller that queues from one task may keep
    /// several batches in flight and still see them durable in order.
    pub async fn enqueue_batch(
        &self,
        recs: Vec<Record>,
    ) -> Result<Option<DurableTicket>, WalError> {
        if recs.is_empty() {
            return Ok(None);
        }
        assert_partition_order(&recs);
        let bytes = recs.iter().map(|r| record_bytes(r.payload.len())).sum();
        self.enqueue(Recs::Many(recs), bytes).await.map(Some)
    }

    /// Waits until the batch of `ticket` (and every batch queued before it) is durable.
    pub async fn wait_durable(&self, ticket: DurableTicket) -> Result<(), WalError> {
        self.sh().wait_durable(ticket.0).await
    }

    async fn submit(&self, recs: Recs, bytes: usize) -> Result<(), WalError> {
        let ticket = self.enqueue(recs, bytes).await?;
        self.sh().wait_durable(ticket.0).await
    }

    async fn enqueue(&self, recs: Recs, bytes: usize) -> Result<DurableTicket, WalError> {
        let sh = self.sh();
        let max_bytes = sh.cfg.record_bytes_max();
        if bytes > max_bytes {
            return Err(WalError::RecordTooLarge { bytes, max_bytes });
        }
        if sh.failure().is_some() {
            return Err(self.stopped());
        }
        let permits = bytes.min(sh.cfg.pending_bytes_max).min(u32::MAX as usize) as u32;
        match sh.space.acquire_many(permits).await {
            Ok(p) => p.forget(),
            Err(_) => return Err(self.stopped()),
        }
        let ticket = {
            let mut q = sh.queue();
            if q.closed {
                drop(q);
                sh.space.add_permits(permits as usize);
                return Err(self.stopped());
            }
            q.next_ticket += 1;
            let ticket = q.next_ticket;
            q.items.push_back(Pending {
                recs,
                ticket,
                bytes,
                permits,
            });
            ticket
        };
        Counters::add(&sh.counters.appends, 1);
        sh.writer_wake.notify_one();
        Ok(DurableTicket(ticket))
    }

    /// Partitions with live records, by partition id.
    pub fn partitions(&self) -> Vec<PartitionSpan> {
        self.sh().state().index.spans()
    }

    /// Records of `partition` with `from <= index <= to`, in index order,
    /// up to ~`bytes_max` of payload (at least one if any exists). Every
    /// record is verified against its checksum and the index.
    pub async fn read(
        &self,
        partition: u64,
        from: u64,
        to: u64,
        bytes_max: usize,
    ) -> Result<Vec<Record>, WalError> {
        if from > to {
            return Ok(Vec::new());
        }
        let (entries, files) = {
            let st = self.sh().state();
            let entries = st.index.lookup(partition, from, to, bytes_max);
            let mut files: HashMap<u64, SegFile<D::File>> = HashMap::new();
            for e in &entries {
                if let Some(f) = st.files.get(&e.seq) {
                    files.entry(e.seq).or_insert_with(|| f.clone());
                }
            }
            (entries, files)
        };
        let mut out = Vec::with_capacity(entries.len());
        let mut i = 0;
        while i < entries.len() {
            let first = entries[i];
            let mut end = u64::from(first.offset) + u64::from(first.len);
            let mut j = i + 1;
            while let Some(e) = entries.get(j) {
                let off = u64::from(e.offset);
                if e.seq != first.seq || off < end || off - end > READ_GAP_BYTES_MAX {
                    break;
                }
                end = off + u64::from(e.len);
                j += 1;
            }
            let Some(seg) = files.get(&first.seq) else {
                return Ok(out); // reclaimed since the lookup: released
            };
            let start = align_down(u64::from(first.offset));
            let len = (align_up(end) - start) as usize;
            let buf = read_exact_at(&seg.file, len, start).await?;
            for e in &entries[i..j] {
                let at = (u64::from(e.offset) - start) as usize;
                match check_record(&buf[at..at + e.len as usize], partition, e) {
                    Ok(r) => out.push(r),
                    Err(reason) => {
                        if !self.sh().state().index.contains(partition, e) {
                            return Ok(out); // released or superseded meanwhile
                        }
                        return Err(WalError::Corrupt {
                            file: seg.file.path().to_path_buf(),
                            offset: u64::from(e.offset),
                            reason,
                        });
                    }
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// The partition no longer needs records with index <= `upto`
    /// (monotonic; lower values are ignored).
    pub fn release(&self, partition: u64, upto: u64) {
        let mut st = self.sh().state();
        st.index.release(partition, upto);
        if st.collect_reclaimable() {
            self.sh().maint_wake.notify_one();
        }
    }

    /// The partition is gone: all its records are released.
    pub fn forget(&self, partition: u64) {
        let mut st = self.sh().state();
        st.index.forget(partition);
        if st.collect_reclaimable() {
            self.sh().maint_wake.notify_one();
        }
    }

    pub fn stats(&self) -> WalStats {
        let sh = self.sh();
        let c = &sh.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let st = sh.state();
        WalStats {
            appends: get(&c.appends),
            records: get(&c.records),
            batches: get(&c.batches),
            syncs: get(&c.syncs),
            bytes_written: get(&c.bytes_written),
            write_us: get(&c.write_us),
            segments_live: st.files.len(),
            segments_free: st.spares.len(),
            segments_reclaimable: st.reclaimable.len(),
            created: get(&c.created),
            recycled: get(&c.recycled),
            deleted: get(&c.deleted),
            index_entries: st.index.entry_count(),
            direct_io: sh.direct,
            failed: sh.failure().is_some(),
        }
    }

    /// Writes everything queued, seals the active segment and stops the
    /// writer and maintenance tasks. Other clones then get
    /// [`WalError::Closed`]. Returns the failure if the WAL had failed.
    pub async fn shutdown(self) -> Result<(), WalError> {
        let sh = self.inner.sh.clone();
        sh.queue().closed = true;
        sh.writer_wake.notify_one();
        let tasks = self.inner.tasks.lock().expect("wal tasks lock").take();
        if let Some((w, m)) = tasks {
            let _ = w.await;
            sh.closing.store(true, Ordering::Release);
            sh.maint_wake.notify_one();
            let _ = m.await;
        }
        match sh.failure() {
            Some(cause) => Err(WalError::Failed { cause }),
            None => Ok(()),
        }
    }
}

/// Checks the record bytes at an indexed location and decodes them.
fn check_record(b: &[u8], partition: u64, e: &Entry) -> Result<Record, TailReason> {
    let (v, n) = decode_record(b, e.seq)?;
    if v.partition != partition || v.index != e.index || n != e.len as usize {
        return Err(TailReason::UnexpectedRecord {
            partition,
            index: e.index,
            found_partition: v.partition,
            found_index: v.index,
        });
    }
    Ok(Record {
        partition,
        ballot: v.ballot,
        index: v.index,
        payload: v.payload.to_vec(),
    })
}

/// Asserts that within one batch each partition's indices strictly
/// increase (a truncation inside one atomic batch is a caller bug).
fn assert_partition_order(recs: &[Record]) {
    if recs.len() <= 16 {
        for (i, r) in recs.iter().enumerate() {
            if let Some(prev) = recs[..i].iter().rev().find(|p| p.partition == r.partition) {
                assert!(
                    prev.index < r.index,
                    "wal append_batch: partition {} index {} after {}",
                    r.partition,
                    r.index,
                    prev.index
                );
            }
        }
        return;
    }
    let mut last: HashMap<u64, u64> = HashMap::with_capacity(recs.len());
    for r in recs {
        if let Some(prev) = last.insert(r.partition, r.index) {
            assert!(
                prev < r.index,
                "wal append_batch: partition {} index {} after {prev}",
                r.partition,
                r.index
            );
        }
    }
}
