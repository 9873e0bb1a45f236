//! The write-ahead log: one segmented log per node, shared by all partitions.
//!
//! - **Records** carry partition id, ballot, log index, payload and a
//!   checksum (format and byte diagrams in [`format`]).
//! - **Group commit**: appenders hand records to one writer task through a
//!   bounded queue (`pending_bytes_max` of payload may wait; beyond that
//!   `append` waits: backpressure). The writer takes everything queued (up
//!   to `batch_bytes_max`), encodes it into one aligned buffer, issues one
//!   write and one `fdatasync`, then tells every appender its record is
//!   durable. While it syncs, the next batch accumulates ([`writer`]).
//! - **Fail-stop**: after an I/O error every waiter of that batch gets the
//!   error and the WAL refuses further appends: a node must never
//!   acknowledge after a failed fsync.
//! - **Truncation**: appending `(p, i)` supersedes every earlier record of
//!   partition `p` with index `>= i` (a new leader overwriting a log suffix).
//!   Recovery applies the same rule in log order.
//! - **Segments** are fixed-size files, preallocated (allocated and
//!   zero-filled, so later overwrites change no metadata and `fdatasync` is a
//!   pure data flush) and recycled; records never span segments.
//! - **Recovery** ([`recovery`]) reads segments in sequence order to the last
//!   valid batch. A torn or corrupt tail stops cleanly and is reported in
//!   [`RecoveryReport::stop`]; a bad batch followed by valid data of the same
//!   segment, or in a segment that is not the last, is corruption of
//!   acknowledged data and fails with [`WalError::Corrupt`].
//! - **Index**: per partition, a map index → (segment seq, offset, length),
//!   in memory, rebuilt at recovery: about 64 bytes per live record
//!   (BTreeMap node overhead included), bounded by the WAL's size.
//! - **Reclamation**: [`Wal::release`] marks what a partition no longer
//!   needs; a sealed segment is recycled only when every partition with
//!   records in it has released up to that segment's highest index for it.
//!   The engine releases below what its checkpoint made durable (and, later,
//!   below what the archive holds).

pub mod format;
mod recovery;
mod writer;

use crate::io::{Disk, DiskFile, IoBuf, IoError, OpenOptions};
use format::BLOCK;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// WAL settings. Limits are named with their unit last.
#[derive(Clone, Debug)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// Size of each segment file; a multiple of 4096, at least 64 KiB.
    pub segment_size_bytes: u64,
    /// Prepared (zero-filled) segments kept ready ahead of need.
    pub spare_segments: usize,
    /// Largest group-commit write.
    pub batch_bytes_max: usize,
    /// Encoded bytes that may wait for the writer before `append` blocks.
    pub pending_bytes_max: usize,
    /// Use O_DIRECT for segment I/O (every batch is block-aligned anyway).
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
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: u64,
    pub ballot: u64,
    pub index: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("WAL corrupt: {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("WAL record of {bytes} bytes cannot fit in a {segment_bytes}-byte segment")]
    RecordTooLarge { bytes: usize, segment_bytes: u64 },
    #[error("WAL stopped after an I/O failure ({0}); no further appends are accepted")]
    Failed(String),
    #[error("WAL config: {0}")]
    Config(String),
}

/// The live index range of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionSpan {
    pub partition: u64,
    pub first_index: u64,
    pub last_index: u64,
}

/// Why recovery stopped before the end of the last segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailStop {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: format::Invalid,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments_scanned: usize,
    pub records: u64,
    /// Set when the log ended in a torn or corrupt batch (not at clean zeros).
    pub stop: Option<TailStop>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    pub appends: u64,
    pub records: u64,
    pub batches: u64,
    pub syncs: u64,
    pub bytes_written: u64,
    pub segments_live: usize,
    pub segments_free: usize,
    pub recycled: u64,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    seq: u64,
    offset: u64,
    len: u32,
}

struct Segment<F> {
    slot: u32,
    file: F,
    seq: u64,
    /// Highest index per partition written in this segment.
    parts: HashMap<u64, u64>,
}

struct State<F> {
    active: Segment<F>,
    write_pos: u64,
    sealed: BTreeMap<u64, Segment<F>>,
    /// Prepared segments (header seq 0), ready for reuse.
    spares: Vec<Segment<F>>,
    /// Sealed segments whose records are all released, waiting for the
    /// writer to mark them spare on disk.
    freed: Vec<Segment<F>>,
    next_slot: u32,
    next_seq: u64,
    index: Index,
    released: HashMap<u64, u64>,
    failed: Option<String>,
}

#[derive(Default)]
struct Counters {
    appends: AtomicU64,
    records: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
    bytes_written: AtomicU64,
    recycled: AtomicU64,
}

struct Shared<D: Disk> {
    disk: D,
    cfg: WalConfig,
    state: Mutex<State<D::File>>,
    pending: Arc<Semaphore>,
    counters: Counters,
}

struct Req {
    recs: Vec<Record>,
    bytes: usize,
    done: oneshot::Sender<Result<(), WalError>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The node's WAL. Cheap to clone; all clones share one writer.
pub struct Wal<D: Disk> {
    shared: Arc<Shared<D>>,
    tx: mpsc::Sender<Req>,
    writer: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl<D: Disk> Clone for Wal<D> {
    fn clone(&self) -> Self {
        Wal {
            shared: self.shared.clone(),
            tx: self.tx.clone(),
            writer: self.writer.clone(),
        }
    }
}

pub(crate) fn segment_path(dir: &Path, slot: u32) -> PathBuf {
    dir.join(format!("wal-{slot:06}.seg"))
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".seg")?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl<D: Disk> Wal<D> {
    /// Opens (or creates) the WAL in `cfg.dir`, recovering what is there.
    pub async fn open(disk: D, cfg: WalConfig) -> Result<(Wal<D>, RecoveryReport), WalError> {
        if !cfg.segment_size_bytes.is_multiple_of(BLOCK as u64)
            || cfg.segment_size_bytes < 16 * BLOCK as u64
        {
            return Err(WalError::Config(format!(
                "segment_size_bytes {} must be a multiple of {BLOCK} and at least {}",
                cfg.segment_size_bytes,
                16 * BLOCK
            )));
        }
        if cfg.batch_bytes_max < BLOCK || cfg.pending_bytes_max < cfg.batch_bytes_max {
            return Err(WalError::Config(
                "need batch_bytes_max >= 4096 and pending_bytes_max >= batch_bytes_max".into(),
            ));
        }
        let (state, report) = recovery::recover(&disk, &cfg).await?;
        let permits = cfg.pending_bytes_max.min(Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            disk,
            cfg,
            state: Mutex::new(state),
            pending: Arc::new(Semaphore::new(permits)),
            counters: Counters::default(),
        });
        writer::top_up_spares(&shared).await?;
        // Queue length is bounded by bytes (the semaphore); the channel bound
        // is a second, count-based limit.
        let (tx, rx) = mpsc::channel(64 * 1024);
        let handle = tokio::spawn(writer::run(shared.clone(), rx));
        Ok((
            Wal {
                shared,
                tx,
                writer: Arc::new(Mutex::new(Some(handle))),
            },
            report,
        ))
    }

    /// Appends one record; resolves when it is durable.
    pub async fn append(&self, rec: Record) -> Result<(), WalError> {
        self.append_batch(vec![rec]).await
    }

    /// Appends records that become durable together.
    pub async fn append_batch(&self, recs: Vec<Record>) -> Result<(), WalError> {
        if recs.is_empty() {
            return Ok(());
        }
        let bytes: usize = recs
            .iter()
            .map(|r| format::record_len(r.payload.len()))
            .sum();
        let room = self.shared.cfg.segment_size_bytes as usize - BLOCK;
        if format::batch_disk_len(bytes) > room || bytes > self.shared.cfg.batch_bytes_max.max(room)
        {
            return Err(WalError::RecordTooLarge {
                bytes,
                segment_bytes: self.shared.cfg.segment_size_bytes,
            });
        }
        if let Some(why) = &self.shared.state.lock().expect("wal state").failed {
            return Err(WalError::Failed(why.clone()));
        }
        let want = bytes.min(self.shared.cfg.pending_bytes_max) as u32;
        let permit = self
            .shared
            .pending
            .clone()
            .acquire_many_owned(want)
            .await
            .map_err(|_| WalError::Failed("WAL is shut down".into()))?;
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Req {
                recs,
                bytes,
                done,
                _permit: permit,
            })
            .await
            .map_err(|_| WalError::Failed("WAL writer has stopped".into()))?;
        wait.await
            .map_err(|_| WalError::Failed("WAL writer has stopped".into()))?
    }

    /// Partitions with live records and their index ranges.
    pub fn partitions(&self) -> Vec<PartitionSpan> {
        let st = self.shared.state.lock().expect("wal state");
        let mut out: Vec<PartitionSpan> = st
            .index
            .iter()
            .filter_map(|(&p, m)| {
                Some(PartitionSpan {
                    partition: p,
                    first_index: *m.keys().next()?,
                    last_index: *m.keys().next_back()?,
                })
            })
            .collect();
        out.sort_by_key(|s| s.partition);
        out
    }

    /// Records of `partition` with `from <= index <= to`, in index order,
    /// stopping once `bytes_max` of payload is reached (at least one).
    pub async fn read(
        &self,
        partition: u64,
        from: u64,
        to: u64,
        bytes_max: usize,
    ) -> Result<Vec<Record>, WalError> {
        let wanted: Vec<(u64, Loc, D::File)> = {
            let st = self.shared.state.lock().expect("wal state");
            let Some(m) = st.index.get(&partition) else {
                return Ok(Vec::new());
            };
            let mut v = Vec::new();
            let mut bytes = 0usize;
            for (&i, loc) in m.range(from..=to) {
                if !v.is_empty() && bytes >= bytes_max {
                    break;
                }
                bytes += loc.len as usize;
                let file = if st.active.seq == loc.seq {
                    st.active.file.clone()
                } else {
                    match st.sealed.get(&loc.seq) {
                        Some(s) => s.file.clone(),
                        None => continue,
                    }
                };
                v.push((i, *loc, file));
            }
            v
        };
        let mut out = Vec::with_capacity(wanted.len());
        for (i, loc, file) in wanted {
            let rec = read_record(&file, loc).await?;
            if rec.partition != partition || rec.index != i {
                return Err(WalError::Corrupt {
                    file: file.path().to_path_buf(),
                    offset: loc.offset,
                    reason: format!(
                        "expected record ({partition}, {i}), found ({}, {})",
                        rec.partition, rec.index
                    ),
                });
            }
            out.push(rec);
        }
        Ok(out)
    }

    /// `partition` no longer needs records with index `<= upto`.
    pub fn release(&self, partition: u64, upto: u64) {
        let mut st = self.shared.state.lock().expect("wal state");
        let mark = st.released.entry(partition).or_insert(0);
        if upto <= *mark && *mark != 0 {
            return;
        }
        *mark = (*mark).max(upto);
        if let Some(m) = st.index.get_mut(&partition) {
            let keep = m.split_off(&(upto.saturating_add(1)));
            *m = keep;
            if m.is_empty() {
                st.index.remove(&partition);
            }
        }
        collect_freeable(&mut st);
    }

    /// `partition` is gone: all of its records are released.
    pub fn forget(&self, partition: u64) {
        self.release(partition, u64::MAX);
    }

    pub fn stats(&self) -> WalStats {
        let c = &self.shared.counters;
        let st = self.shared.state.lock().expect("wal state");
        WalStats {
            appends: c.appends.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            segments_live: 1 + st.sealed.len(),
            segments_free: st.spares.len() + st.freed.len(),
            recycled: c.recycled.load(Ordering::Relaxed),
        }
    }

    /// Flushes everything queued and stops the writer.
    pub async fn shutdown(self) -> Result<(), WalError> {
        let handle = self.writer.lock().expect("wal writer").take();
        drop(self.tx);
        if let Some(h) = handle {
            h.await
                .map_err(|e| WalError::Failed(format!("writer task: {e}")))?;
        }
        match &self.shared.state.lock().expect("wal state").failed {
            Some(why) => Err(WalError::Failed(why.clone())),
            None => Ok(()),
        }
    }
}

/// Moves sealed segments whose every partition is released to `freed`.
fn collect_freeable<F>(st: &mut State<F>) {
    let freeable: Vec<u64> = st
        .sealed
        .iter()
        .filter(|(_, s)| {
            s.parts
                .iter()
                .all(|(p, &max)| st.released.get(p).is_some_and(|&r| r >= max))
        })
        .map(|(&seq, _)| seq)
        .collect();
    for seq in freeable {
        if let Some(s) = st.sealed.remove(&seq) {
            st.freed.push(s);
        }
    }
}

async fn read_record<F: DiskFile>(file: &F, loc: Loc) -> Result<Record, WalError> {
    let start = loc.offset / BLOCK as u64 * BLOCK as u64;
    let end = loc.offset + format::record_len(loc.len as usize) as u64;
    let len = ((end - start) as usize).div_ceil(BLOCK) * BLOCK;
    let (res, buf): (_, IoBuf) = file.read_at(IoBuf::zeroed(len), start).await;
    let n = res?;
    let skip = (loc.offset - start) as usize;
    let need = skip + format::record_len(loc.len as usize);
    if n < need {
        return Err(WalError::Corrupt {
            file: file.path().to_path_buf(),
            offset: loc.offset,
            reason: format!("segment ends before the record ({n} of {need} bytes)"),
        });
    }
    format::decode_record(file.path(), loc.offset, &buf[skip..need], loc.seq)
}

type Index = HashMap<u64, BTreeMap<u64, Loc>>;

/// Adds record `(partition, index)` at `loc` to the index.
fn index_record(index: &mut Index, partition: u64, i: u64, loc: Loc) {
    let m = index.entry(partition).or_default();
    // Truncation: (p, i) supersedes every earlier record of p at >= i.
    if m.range(i..).next().is_some() {
        m.split_off(&i);
    }
    m.insert(i, loc);
}

async fn open_segment<D: Disk>(disk: &D, cfg: &WalConfig, slot: u32) -> Result<D::File, WalError> {
    let path = segment_path(&cfg.dir, slot);
    Ok(disk
        .open(&path, OpenOptions::CREATE.with_direct(cfg.direct_io))
        .await?)
}

#[cfg(test)]
mod tests;
