//! Segment files: naming, creation (preallocated and zero-filled),
//! recycling (a new header with a higher sequence), deletion, and the
//! maintenance task that keeps spares ready and reclaims released segments.
//!
//! Invariants (see the lifecycle in `wal/mod.rs`):
//! - A `seg-*.wal` name only ever points at a fully zero-filled file whose
//!   header is durable: creation writes `*.wal.tmp`, syncs it, renames and
//!   syncs the directory. Recovery deletes leftover `*.tmp` files.
//! - A recycled segment gets a sequence higher than every sequence ever
//!   handed out and a fresh random salt; its header is made durable before
//!   its first batch block is zeroed, and both before the writer may use it.
//! - A reclaimed segment is removed from the index (so segments it blocks
//!   may go too) only after its recycle or deletion is durable.
//! - Any I/O error here fails the whole WAL (fail-stop).

use super::error::WalError;
use super::format::{BLOCK, SegHeader};
use super::shared::{Counters, SegFile, Shared};
use crate::io::{Disk, DiskFile, IoBuf, IoError, IoResult, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SEG_PREFIX: &str = "seg-";
const SEG_SUFFIX: &str = ".wal";
pub(crate) const TMP_SUFFIX: &str = ".tmp";
/// Zero-fill write size when creating a segment.
const ZERO_FILL_BYTES: u64 = 1 << 20;

pub(crate) fn seg_path(dir: &Path, slot: u64) -> PathBuf {
    dir.join(format!("{SEG_PREFIX}{slot:010}{SEG_SUFFIX}"))
}

/// The slot number of a segment file name, if it is one.
pub(crate) fn parse_seg_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEG_PREFIX)?.strip_suffix(SEG_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A random 64-bit salt (never zero). Randomness keeps record payloads
/// from forging batch headers: a payload cannot know a future salt.
pub(crate) fn fresh_salt() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(now);
    h.finish().max(1)
}

/// Opens a file, with `O_DIRECT` if asked; if the filesystem refuses
/// `O_DIRECT` (EINVAL, e.g. tmpfs) opens it buffered. Returns whether
/// the handle is direct.
pub(crate) async fn open_file<D: Disk>(
    disk: &D,
    path: &Path,
    opts: OpenOptions,
    direct: bool,
) -> IoResult<(D::File, bool)> {
    if direct {
        match disk.open(path, opts.with_direct(true)).await {
            Ok(f) => return Ok((f, true)),
            Err(IoError::Os { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {
                tracing::warn!(path = %path.display(), "O_DIRECT refused; using buffered I/O for the WAL");
            }
            Err(e) => return Err(e),
        }
    }
    Ok((disk.open(path, opts.with_direct(false)).await?, false))
}

/// Creates a preallocated, zero-filled segment with a durable header and
/// name.
pub(crate) async fn create_segment<D: Disk>(
    disk: &D,
    dir: &Path,
    slot: u64,
    seq: u64,
    size: u64,
    direct: bool,
) -> IoResult<SegFile<D::File>> {
    let path = seg_path(dir, slot);
    let mut tmp_name = path.clone().into_os_string();
    tmp_name.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp_name);
    let opts = OpenOptions {
        create: true,
        truncate: true,
        direct: false,
    };
    let (file, _) = open_file(disk, &tmp, opts, direct).await?;
    file.allocate(0, size).await?;
    let salt = fresh_salt();
    let header = SegHeader {
        segment_size: size,
        seq,
        salt,
        slot,
    };
    let mut off = 0;
    while off < size {
        let n = ZERO_FILL_BYTES.min(size - off);
        let mut buf = IoBuf::zeroed(n as usize);
        if off == 0 {
            header.encode_block(&mut buf);
        }
        let (res, _) = file.write_at(buf, off).await;
        res?;
        off += n;
    }
    file.sync_all().await?;
    drop(file);
    disk.rename(&tmp, &path).await?;
    disk.sync_dir(dir).await?;
    let (file, _) = open_file(disk, &path, OpenOptions::EXISTING, direct).await?;
    Ok(SegFile {
        slot,
        seq,
        salt,
        size,
        path,
        file,
    })
}

/// Gives `seg` a new life: header with `seq` and a fresh salt (synced),
/// then a zeroed first batch block (synced).
pub(crate) async fn recycle_segment<F: DiskFile>(
    seg: &SegFile<F>,
    seq: u64,
) -> IoResult<SegFile<F>> {
    let salt = fresh_salt();
    let header = SegHeader {
        segment_size: seg.size,
        seq,
        salt,
        slot: seg.slot,
    };
    let mut block = IoBuf::zeroed(BLOCK as usize);
    header.encode_block(&mut block);
    let (res, block) = seg.file.write_at(block, 0).await;
    res?;
    seg.file.sync_data().await?;
    let mut block = block;
    block.fill(0);
    let (res, _) = seg.file.write_at(block, BLOCK).await;
    res?;
    seg.file.sync_data().await?;
    Ok(SegFile {
        seq,
        salt,
        ..seg.clone()
    })
}

pub(crate) async fn delete_segment<D: Disk>(disk: &D, dir: &Path, path: &Path) -> IoResult<()> {
    disk.remove(path).await?;
    disk.sync_dir(dir).await
}

enum Action<F> {
    Create { slot: u64, seq: u64 },
    Recycle { seg: SegFile<F>, seq: u64 },
    Delete { seg: SegFile<F> },
}

/// The maintenance task: keeps `spare_segments` spares ready (at least one
/// while the writer waits), recycles reclaimed segments into spares and
/// deletes the reclaimed ones beyond `spare_segments`.
pub(crate) async fn run_maintenance<D: Disk>(sh: Arc<Shared<D>>) {
    loop {
        if sh.closing.load(Ordering::Acquire) || sh.failure().is_some() {
            return;
        }
        let action = next_action(&sh);
        let Some(action) = action else {
            sh.maint_wake.notified().await;
            continue;
        };
        if let Err(e) = perform(&sh, action).await {
            sh.fail(WalError::Io(e));
            return;
        }
    }
}

fn next_action<D: Disk>(sh: &Shared<D>) -> Option<Action<D::File>> {
    let mut st = sh.state();
    let want = sh.cfg.spare_segments.max(usize::from(st.writer_waiting));
    if st.spares.len() < want {
        let seq = st.next_seq;
        st.next_seq += 1;
        while let Some(old) = st.reclaimable.pop_front() {
            let Some(seg) = st.files.get(&old).cloned() else {
                continue;
            };
            if seg.size == sh.cfg.segment_size_bytes {
                return Some(Action::Recycle { seg, seq });
            }
            st.reclaimable.push_front(old);
            return Some(Action::Delete { seg });
        }
        let slot = st.next_slot;
        st.next_slot += 1;
        return Some(Action::Create { slot, seq });
    }
    if st.reclaimable.len() > sh.cfg.spare_segments {
        let old = st.reclaimable.front().copied()?;
        let seg = st.files.get(&old).cloned()?;
        return Some(Action::Delete { seg });
    }
    None
}

async fn perform<D: Disk>(sh: &Shared<D>, action: Action<D::File>) -> IoResult<()> {
    let dir = &sh.cfg.dir;
    match action {
        Action::Create { slot, seq } => {
            let size = sh.cfg.segment_size_bytes;
            let seg = create_segment(&sh.disk, dir, slot, seq, size, sh.direct).await?;
            Counters::add(&sh.counters.created, 1);
            sh.state().spares.push_back(seg);
            sh.spare_ready.notify_one();
        }
        Action::Recycle { seg, seq } => {
            let old = seg.seq;
            let fresh = recycle_segment(&seg, seq).await?;
            Counters::add(&sh.counters.recycled, 1);
            let mut st = sh.state();
            st.files.remove(&old);
            st.index.remove_segment(old);
            st.spares.push_back(fresh);
            st.collect_reclaimable();
            drop(st);
            sh.spare_ready.notify_one();
        }
        Action::Delete { seg } => {
            delete_segment(&sh.disk, dir, &seg.path).await?;
            Counters::add(&sh.counters.deleted, 1);
            let mut st = sh.state();
            st.reclaimable.retain(|&s| s != seg.seq);
            st.files.remove(&seg.seq);
            st.index.remove_segment(seg.seq);
            st.collect_reclaimable();
        }
    }
    Ok(())
}
