//! Test helpers for the WAL tests (`wal/tests.rs`, `wal/crash_tests.rs`):
//! temp directories, runtimes, a model of the log's live state, and
//! `YieldDisk`, a `MemDisk` wrapper that yields to the scheduler before every
//! operation (so a crash can land between a write and its sync) and that can
//! be killed (every later operation fails, like a process that died).

use super::format::{BATCH_HEADER_BYTES, BLOCK, BatchHeader, SegHeader, align_up, decode_record};
use super::*;
use crate::io::mem::{MemDisk, MemFile};
use crate::io::{IoBuf, IoError, IoResult, OpenOptions};
use crate::rng::Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `fut` as a task on a fresh single-threaded runtime without I/O or
/// timer drivers, so scheduling depends only on the seed (replayable).
pub(crate) fn run_deterministic<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        match tokio::spawn(fut).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    })
}

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "cairn-wal-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn small_cfg(dir: impl Into<PathBuf>, segment_size_bytes: u64) -> WalConfig {
    WalConfig {
        segment_size_bytes,
        spare_segments: 1,
        batch_bytes_max: 16 << 10,
        pending_bytes_max: 1 << 20,
        ..WalConfig::new(dir)
    }
}

pub(crate) fn rec(partition: u64, ballot: u64, index: u64, payload: Vec<u8>) -> Record {
    Record {
        partition,
        ballot,
        index,
        payload,
    }
}

/// The live state a log should have: per partition, index → record, with
/// the truncation rule applied in append order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LiveModel {
    pub parts: BTreeMap<u64, BTreeMap<u64, Record>>,
}

impl LiveModel {
    pub fn apply(&mut self, r: &Record) {
        let p = self.parts.entry(r.partition).or_default();
        let _ = p.split_off(&r.index);
        p.insert(r.index, r.clone());
    }

    pub fn spans(&self) -> Vec<PartitionSpan> {
        self.parts
            .iter()
            .filter_map(|(&partition, m)| {
                Some(PartitionSpan {
                    partition,
                    first_index: *m.keys().next()?,
                    last_index: *m.keys().next_back()?,
                })
            })
            .collect()
    }
}

/// Everything the WAL holds: partition → its live records.
pub(crate) async fn wal_contents<D: Disk>(wal: &Wal<D>) -> BTreeMap<u64, BTreeMap<u64, Record>> {
    let mut out = BTreeMap::new();
    for span in wal.partitions() {
        let recs = wal
            .read(span.partition, 0, u64::MAX, usize::MAX)
            .await
            .expect("read");
        assert_eq!(recs.first().map(|r| r.index), Some(span.first_index));
        assert_eq!(recs.last().map(|r| r.index), Some(span.last_index));
        let m: BTreeMap<u64, Record> = recs.into_iter().map(|r| (r.index, r)).collect();
        out.insert(span.partition, m);
    }
    out
}

/// One batch (or seal) found on disk and its byte range.
#[derive(Clone, Debug)]
pub(crate) struct BatchSpan {
    pub file: PathBuf,
    pub start: u64,
    /// End of the records (padding excluded).
    pub end: u64,
    pub seq: u64,
    /// Record start offsets.
    pub records: Vec<u64>,
}

/// Walks the durable image of every segment in `dir` (ascending sequence)
/// and returns its valid batches, the way recovery would.
pub(crate) fn durable_batches(mem: &MemDisk, dir: &Path) -> Vec<BatchSpan> {
    let mut segs = Vec::new();
    for path in mem.durable_file_names() {
        if path.parent() != Some(dir) || path.extension().is_none_or(|e| e != "wal") {
            continue;
        }
        let img = mem.read_durable(&path).expect("durable image");
        let (Some(h), _) = SegHeader::decode_block(&img) else {
            continue;
        };
        segs.push((h, path, img));
    }
    segs.sort_by_key(|s| s.0.seq);
    let mut out = Vec::new();
    for (h, path, img) in segs {
        let mut pos = BLOCK;
        while pos + BLOCK <= h.segment_size {
            let at = pos as usize;
            let Ok(b) = BatchHeader::decode(&img[at..at + BATCH_HEADER_BYTES], h.seq, h.salt)
            else {
                break;
            };
            let end = pos + (BATCH_HEADER_BYTES as u64) + u64::from(b.records_bytes);
            let mut records = Vec::new();
            let mut off = pos + BATCH_HEADER_BYTES as u64;
            while off < end {
                let Ok((_, n)) = decode_record(&img[off as usize..end as usize], h.seq) else {
                    break;
                };
                records.push(off);
                off += n as u64;
            }
            out.push(BatchSpan {
                file: path.clone(),
                start: pos,
                end,
                seq: h.seq,
                records,
            });
            if b.is_seal() || off != end {
                break;
            }
            pos += align_up(end - pos);
        }
    }
    out
}

/// A `MemDisk` view that yields before every operation and can be killed.
/// Not `io::YieldingDisk`: this one yields a seeded random number of times
/// (0–2) and, once crashed, fails *every* operation of the old view,
/// including `open`; on a bare `MemDisk` new opens work after a crash, so a
/// stale WAL writer would keep writing into the post-crash image.
#[derive(Clone)]
pub(crate) struct YieldDisk {
    pub mem: MemDisk,
    alive: Arc<AtomicBool>,
    rng: Arc<Mutex<Rng>>,
}

#[derive(Clone)]
pub(crate) struct YieldFile {
    f: MemFile,
    alive: Arc<AtomicBool>,
    rng: Arc<Mutex<Rng>>,
}

async fn pause(rng: &Mutex<Rng>) {
    let n = rng.lock().expect("rng").below(3);
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

fn check(alive: &AtomicBool, path: &Path) -> IoResult<()> {
    if alive.load(Ordering::Acquire) {
        Ok(())
    } else {
        Err(IoError::Crashed {
            path: path.to_path_buf(),
        })
    }
}

impl YieldDisk {
    pub fn new(mem: MemDisk, seed: u64) -> YieldDisk {
        YieldDisk {
            mem,
            alive: Arc::new(AtomicBool::new(true)),
            rng: Arc::new(Mutex::new(Rng::new(seed))),
        }
    }

    /// Power loss: crash the disk and make this view fail from now on.
    pub fn crash(&self, seed: u64) {
        self.alive.store(false, Ordering::Release);
        self.mem.crash(seed);
    }
}

impl Disk for YieldDisk {
    type File = YieldFile;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<YieldFile> {
        pause(&self.rng).await;
        check(&self.alive, path)?;
        let f = self.mem.open(path, opts).await?;
        Ok(YieldFile {
            f,
            alive: self.alive.clone(),
            rng: self.rng.clone(),
        })
    }

    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        check(&self.alive, dir)?;
        self.mem.create_dir_all(dir).await
    }

    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        pause(&self.rng).await;
        check(&self.alive, dir)?;
        self.mem.list(dir).await
    }

    async fn remove(&self, path: &Path) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, path)?;
        self.mem.remove(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, from)?;
        self.mem.rename(from, to).await
    }

    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, dir)?;
        self.mem.sync_dir(dir).await
    }
}

impl DiskFile for YieldFile {
    fn path(&self) -> &Path {
        self.f.path()
    }

    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        pause(&self.rng).await;
        if let Err(e) = check(&self.alive, self.f.path()) {
            return (Err(e), buf);
        }
        self.f.read_at(buf, offset).await
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        pause(&self.rng).await;
        if let Err(e) = check(&self.alive, self.f.path()) {
            return (Err(e), buf);
        }
        self.f.write_at(buf, offset).await
    }

    async fn sync_data(&self) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, self.f.path())?;
        self.f.sync_data().await
    }

    async fn sync_all(&self) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, self.f.path())?;
        self.f.sync_all().await
    }

    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, self.f.path())?;
        self.f.allocate(offset, len).await
    }

    async fn len(&self) -> IoResult<u64> {
        check(&self.alive, self.f.path())?;
        self.f.len().await
    }

    async fn set_len(&self, len: u64) -> IoResult<()> {
        pause(&self.rng).await;
        check(&self.alive, self.f.path())?;
        self.f.set_len(len).await
    }
}
