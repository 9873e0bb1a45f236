//! `MemDisk`: an in-memory [`Disk`] that models what survives power loss.
//!
//! Used by the WAL, B-tree and engine tests and the crash harness; never by a
//! real node. Every future completes immediately (no tokio inside), so it
//! works on any runtime. State is shared behind one `std::sync::Mutex`; the
//! lock is never held across an `.await`.
//!
//! # Model
//!
//! Files are inodes; names map to inodes. Each inode keeps
//! - a **durable image** (what a crash falls back to),
//! - a **volatile image** (what reads see: every write so far),
//! - an ordered list of **unsynced ops** since the last sync: writes
//!   `(offset, bytes)` and length changes (`set_len`, `allocate`, `truncate`).
//!
//! `sync_data`/`sync_all` make the volatile image durable (data and length).
//!
//! Names: `open` with create (of a missing file), `remove` and `rename`
//! change the volatile namespace at once and append an op to the parent
//! directory's ordered pending list; `sync_dir(parent)` makes that list
//! durable. A rename within one directory is one atomic op; across
//! directories it is an unlink in the source and a link in the target, each
//! made durable by syncing its own directory. `create_dir_all` is durable
//! immediately (directories are never removed; keep the model simple).
//!
//! # Crash ([`MemDisk::crash`])
//!
//! Deterministic from the seed. For every file, each [`CRASH_SECTOR_BYTES`]
//! sector touched by unsynced writes independently keeps a prefix (in write
//! order) of the pieces of those writes that fall in that sector, applied on
//! top of the durable image: sector-atomic writes that may be reordered, so a
//! write can be dropped, kept, or torn at sector boundaries. To make the
//! extremes likely, each file first draws a mode: keep every write, keep
//! none, keep a whole-write prefix, or an independent prefix per sector (all
//! are special cases of the per-sector rule). Unsynced length changes
//! (`set_len`, `allocate`, `truncate`) are lost.
//! **Length after crash** = max(durable length, end of the last byte of any
//! kept write piece); bytes between the durable length and a kept piece that
//! no kept piece covers read as zeros (a hole).
//! Every directory keeps a random prefix of its pending namespace ops.
//! Inodes no durable name refers to are freed. Handles opened before the
//! crash fail with [`IoError::Crashed`]; new opens see the recovered state.
//!
//! # Fault injection
//!
//! [`MemDisk::flip_bit`] flips a bit in both images (bit rot);
//! [`MemDisk::inject`] makes a matching op fail with [`IoError::Injected`]
//! (without effect); `direct: true` opens enforce the `O_DIRECT` alignment
//! rules exactly like the real engines ([`IoError::Misaligned`]).
//!
//! Neighbours: the trait and semantics are in `io/mod.rs`; the shared
//! conformance suite is `io/conformance.rs`; crash and fault tests are in
//! `io/mem.rs` (unit tests) and `io/mem_tests.rs`.

use super::{Disk, DiskFile, IoBuf, IoError, IoResult, OpenOptions, check_direct};
use crate::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Granularity of atomic writes in the crash model (a disk sector).
pub const CRASH_SECTOR_BYTES: u64 = 512;

/// The in-memory crash-simulating disk. Cheap to clone; clones share state.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    state: Arc<Mutex<State>>,
}

/// A file opened on a [`MemDisk`].
#[derive(Clone, Debug)]
pub struct MemFile {
    disk: MemDisk,
    inode: u64,
    path: PathBuf,
    direct: bool,
    /// Crash generation at open; a later crash invalidates the handle.
    epoch: u64,
}

/// Which operation a [`Fault`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    /// `read_at` and `len`.
    Read,
    Write,
    /// `sync_data` and `sync_all`.
    Sync,
    Allocate,
    SetLen,
    Open,
    Remove,
    /// Matches the `from` path.
    Rename,
    SyncDir,
    /// Every operation above.
    Any,
}

/// A fault to inject: the matching operation fails with
/// [`IoError::Injected`] and has no effect. Each operation is offered to the
/// first registered fault that matches it (only that one counts it down).
/// Faults and counters survive [`MemDisk::crash`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub op: FaultOp,
    /// Only paths starting with this (component-wise) match; empty = all.
    pub path_prefix: PathBuf,
    /// Matching operations to let through before failing.
    pub skip: u64,
    /// Keep failing every later match too (otherwise fail once, then retire).
    pub repeat: bool,
}

impl Fault {
    /// Fails the `n`-th (0-based) matching operation, once.
    pub fn nth(op: FaultOp, path_prefix: impl Into<PathBuf>, n: u64) -> Fault {
        Fault {
            op,
            path_prefix: path_prefix.into(),
            skip: n,
            repeat: false,
        }
    }

    /// Fails every matching operation from now on.
    pub fn always(op: FaultOp, path_prefix: impl Into<PathBuf>) -> Fault {
        Fault {
            op,
            path_prefix: path_prefix.into(),
            skip: 0,
            repeat: true,
        }
    }
}

/// Operation counters (cumulative across crashes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    pub reads: u64,
    pub writes: u64,
    pub bytes_written: u64,
    /// `sync_data` + `sync_all` calls that succeeded.
    pub syncs: u64,
    pub dir_syncs: u64,
    pub crashes: u64,
}

#[derive(Debug, Default)]
struct State {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    /// Current names (what `open`/`list` see).
    names: BTreeMap<PathBuf, u64>,
    /// Names that survive a crash.
    durable_names: BTreeMap<PathBuf, u64>,
    /// Per directory: namespace ops not yet made durable by `sync_dir`.
    pending_ns: BTreeMap<PathBuf, Vec<NsOp>>,
    /// Existing directories (durable immediately).
    dirs: BTreeSet<PathBuf>,
    epoch: u64,
    faults: Vec<Fault>,
    stats: MemStats,
}

#[derive(Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    unsynced: Vec<DataOp>,
}

#[derive(Debug)]
enum DataOp {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    /// A length change from `from` to `to` (set_len, allocate, truncate).
    Len {
        from: u64,
        to: u64,
    },
}

#[derive(Clone, Debug)]
enum NsOp {
    Link {
        path: PathBuf,
        inode: u64,
    },
    Unlink {
        path: PathBuf,
    },
    /// Same-directory rename: atomic.
    Rename {
        from: PathBuf,
        to: PathBuf,
        inode: u64,
    },
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn os_err(op: &'static str, path: &Path, errno: i32) -> IoError {
    IoError::os(op, path, std::io::Error::from_raw_os_error(errno))
}

fn to_usize(path: &Path, v: u64) -> IoResult<usize> {
    usize::try_from(v).map_err(|_| os_err("mem", path, libc::EFBIG))
}

impl State {
    fn dir_exists(&self, dir: &Path) -> bool {
        dir.as_os_str().is_empty() || dir.parent().is_none() || self.dirs.contains(dir)
    }

    /// Consumes a matching fault, if any, and returns the error to report.
    fn check_fault(&mut self, op: FaultOp, path: &Path) -> IoResult<()> {
        let hit = self
            .faults
            .iter()
            .position(|f| (f.op == op || f.op == FaultOp::Any) && path.starts_with(&f.path_prefix));
        let Some(i) = hit else { return Ok(()) };
        let f = &mut self.faults[i];
        if f.skip > 0 {
            f.skip -= 1;
            return Ok(());
        }
        let what = format!("{op:?} (fault {f:?})");
        if !f.repeat {
            self.faults.remove(i);
        }
        Err(IoError::Injected {
            path: path.to_path_buf(),
            what,
        })
    }

    fn push_ns(&mut self, dir: PathBuf, op: NsOp) {
        self.pending_ns.entry(dir).or_default().push(op);
    }

    fn apply_durable_ns(&mut self, op: NsOp) {
        match op {
            NsOp::Link { path, inode } => {
                self.durable_names.insert(path, inode);
            }
            NsOp::Unlink { path } => {
                self.durable_names.remove(&path);
            }
            NsOp::Rename { from, to, inode } => {
                self.durable_names.remove(&from);
                self.durable_names.insert(to, inode);
            }
        }
    }
}

impl Inode {
    fn set_len(&mut self, len: usize) {
        let from = self.volatile.len() as u64;
        self.volatile.resize(len, 0);
        self.unsynced.push(DataOp::Len {
            from,
            to: len as u64,
        });
    }

    /// Makes the volatile image durable by copying every range an unsynced
    /// op touched (cost proportional to the bytes changed, not the file).
    fn sync(&mut self) {
        let vlen = self.volatile.len();
        self.durable.resize(vlen, 0);
        for op in self.unsynced.drain(..) {
            let (a, b) = match op {
                DataOp::Write { offset, data } => (offset, offset + data.len() as u64),
                DataOp::Len { from, to } => (from.min(to), from.max(to)),
            };
            let a = (a as usize).min(vlen);
            let b = (b as usize).min(vlen);
            self.durable[a..b].copy_from_slice(&self.volatile[a..b]);
        }
    }

    /// Applies the crash model to this inode (see the module docs).
    fn crash(&mut self, rng: &mut Rng) {
        let writes: Vec<(u64, Vec<u8>)> = self
            .unsynced
            .drain(..)
            .filter_map(|op| match op {
                DataOp::Write { offset, data } if !data.is_empty() => Some((offset, data)),
                _ => None,
            })
            .collect();
        // sector -> indexes (in write order) of writes touching it
        let mut sectors: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, (off, data)) in writes.iter().enumerate() {
            let first = off / CRASH_SECTOR_BYTES;
            let last = (off + data.len() as u64 - 1) / CRASH_SECTOR_BYTES;
            for s in first..=last {
                sectors.entry(s).or_default().push(i);
            }
        }
        let mode = rng.below(4);
        let whole_prefix = rng.range(0, writes.len() as u64) as usize;
        let mut image = std::mem::take(&mut self.durable);
        let mut len = image.len();
        for (sector, idxs) in &sectors {
            let keep = match mode {
                0 => idxs.len(),
                1 => 0,
                2 => idxs.iter().take_while(|&&i| i < whole_prefix).count(),
                _ => rng.range(0, idxs.len() as u64) as usize,
            };
            let s_start = sector * CRASH_SECTOR_BYTES;
            let s_end = s_start + CRASH_SECTOR_BYTES;
            for &i in &idxs[..keep] {
                let (off, data) = &writes[i];
                let a = (*off).max(s_start);
                let b = (off + data.len() as u64).min(s_end);
                let (a, b) = (a as usize, b as usize);
                if image.len() < b {
                    image.resize(b, 0);
                }
                let src = a - *off as usize;
                image[a..b].copy_from_slice(&data[src..src + (b - a)]);
                len = len.max(b);
            }
        }
        image.truncate(len);
        self.volatile = image.clone();
        self.durable = image;
    }
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a
        // way later tests care about; keep going rather than cascade panics.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulates power loss (deterministic from `seed`; see the module docs).
    pub fn crash(&self, seed: u64) {
        let mut rng = Rng::new(seed);
        let mut st = self.lock();
        let st = &mut *st;
        st.epoch += 1;
        st.stats.crashes += 1;
        let pending = std::mem::take(&mut st.pending_ns);
        for (_dir, ops) in pending {
            let keep = rng.range(0, ops.len() as u64) as usize;
            for op in ops.into_iter().take(keep) {
                st.apply_durable_ns(op);
            }
        }
        st.names = st.durable_names.clone();
        let live: BTreeSet<u64> = st.durable_names.values().copied().collect();
        st.inodes.retain(|ino, _| live.contains(ino));
        for inode in st.inodes.values_mut() {
            inode.crash(&mut rng);
        }
    }

    /// Flips bit `bit` (0..8) of byte `byte_offset` in both the durable and
    /// the volatile image (where the byte exists in each).
    pub fn flip_bit(&self, path: &Path, byte_offset: u64, bit: u8) -> IoResult<()> {
        assert!(bit < 8, "flip_bit: bit {bit} out of range");
        let mut st = self.lock();
        let ino = *st.names.get(path).ok_or_else(|| IoError::NotFound {
            path: path.to_path_buf(),
        })?;
        let inode = st.inodes.get_mut(&ino).expect("named inode exists");
        let at = to_usize(path, byte_offset)?;
        if at >= inode.durable.len() && at >= inode.volatile.len() {
            return Err(os_err("flip_bit", path, libc::EINVAL));
        }
        if let Some(b) = inode.durable.get_mut(at) {
            *b ^= 1 << bit;
        }
        if let Some(b) = inode.volatile.get_mut(at) {
            *b ^= 1 << bit;
        }
        Ok(())
    }

    /// Registers a fault; faults are checked in registration order.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The bytes that would survive a crash right now if no unsynced write
    /// did: `None` if no durable name refers to `path`.
    pub fn read_durable(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.lock();
        let ino = st.durable_names.get(path)?;
        Some(st.inodes[ino].durable.clone())
    }

    /// Current (volatile) file paths, sorted.
    pub fn file_names(&self) -> Vec<PathBuf> {
        self.lock().names.keys().cloned().collect()
    }

    /// File paths whose names are durable, sorted.
    pub fn durable_file_names(&self) -> Vec<PathBuf> {
        self.lock().durable_names.keys().cloned().collect()
    }

    pub fn stats(&self) -> MemStats {
        self.lock().stats
    }
}

impl Disk for MemDisk {
    type File = MemFile;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<MemFile> {
        let mut st = self.lock();
        st.check_fault(FaultOp::Open, path)?;
        if st.dirs.contains(path) {
            return Err(os_err("open", path, libc::EISDIR));
        }
        let parent = parent_of(path);
        if !st.dir_exists(&parent) {
            return Err(IoError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let inode = match st.names.get(path) {
            Some(&ino) => {
                if opts.truncate {
                    st.inodes
                        .get_mut(&ino)
                        .expect("named inode exists")
                        .set_len(0);
                }
                ino
            }
            None if opts.create => {
                st.next_inode += 1;
                let ino = st.next_inode;
                st.inodes.insert(ino, Inode::default());
                st.names.insert(path.to_path_buf(), ino);
                st.push_ns(
                    parent,
                    NsOp::Link {
                        path: path.to_path_buf(),
                        inode: ino,
                    },
                );
                ino
            }
            None => {
                return Err(IoError::NotFound {
                    path: path.to_path_buf(),
                });
            }
        };
        Ok(MemFile {
            disk: self.clone(),
            inode,
            path: path.to_path_buf(),
            direct: opts.direct,
            epoch: st.epoch,
        })
    }

    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        let mut st = self.lock();
        if st.names.contains_key(dir) {
            return Err(os_err("create_dir_all", dir, libc::EEXIST));
        }
        for d in dir.ancestors() {
            if d.as_os_str().is_empty() || d.parent().is_none() {
                break;
            }
            if st.names.contains_key(d) {
                return Err(os_err("create_dir_all", d, libc::ENOTDIR));
            }
            st.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        let st = self.lock();
        if !st.dir_exists(dir) {
            return Err(IoError::NotFound {
                path: dir.to_path_buf(),
            });
        }
        let files = st.names.keys();
        let subdirs = st.dirs.iter();
        let mut out: Vec<String> = files
            .chain(subdirs)
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn remove(&self, path: &Path) -> IoResult<()> {
        let mut st = self.lock();
        st.check_fault(FaultOp::Remove, path)?;
        if st.dirs.contains(path) {
            return Err(os_err("remove", path, libc::EISDIR));
        }
        if st.names.remove(path).is_none() {
            return Err(IoError::NotFound {
                path: path.to_path_buf(),
            });
        }
        st.push_ns(
            parent_of(path),
            NsOp::Unlink {
                path: path.to_path_buf(),
            },
        );
        Ok(())
    }

    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        let mut st = self.lock();
        st.check_fault(FaultOp::Rename, from)?;
        let Some(&inode) = st.names.get(from) else {
            return Err(IoError::NotFound {
                path: from.to_path_buf(),
            });
        };
        let (from_dir, to_dir) = (parent_of(from), parent_of(to));
        if !st.dir_exists(&to_dir) {
            return Err(IoError::NotFound {
                path: to.to_path_buf(),
            });
        }
        if st.dirs.contains(to) {
            return Err(os_err("rename", to, libc::EISDIR));
        }
        if from == to {
            return Ok(());
        }
        st.names.remove(from);
        st.names.insert(to.to_path_buf(), inode);
        if from_dir == to_dir {
            st.push_ns(
                from_dir,
                NsOp::Rename {
                    from: from.to_path_buf(),
                    to: to.to_path_buf(),
                    inode,
                },
            );
        } else {
            st.push_ns(
                from_dir,
                NsOp::Unlink {
                    path: from.to_path_buf(),
                },
            );
            st.push_ns(
                to_dir,
                NsOp::Link {
                    path: to.to_path_buf(),
                    inode,
                },
            );
        }
        Ok(())
    }

    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        let mut st = self.lock();
        st.check_fault(FaultOp::SyncDir, dir)?;
        if !st.dir_exists(dir) {
            return Err(IoError::NotFound {
                path: dir.to_path_buf(),
            });
        }
        for op in st.pending_ns.remove(dir).unwrap_or_default() {
            st.apply_durable_ns(op);
        }
        st.stats.dir_syncs += 1;
        Ok(())
    }
}

impl MemFile {
    /// Locks the disk, checks the handle is from the current crash epoch and
    /// that no fault fires, and runs `f` on this file's inode.
    fn with<T>(
        &self,
        op: FaultOp,
        f: impl FnOnce(&mut Inode, &mut MemStats) -> IoResult<T>,
    ) -> IoResult<T> {
        let mut st = self.disk.lock();
        if st.epoch != self.epoch {
            return Err(IoError::Crashed {
                path: self.path.clone(),
            });
        }
        st.check_fault(op, &self.path)?;
        let st = &mut *st;
        let inode = st.inodes.get_mut(&self.inode).expect("open inode exists");
        f(inode, &mut st.stats)
    }
}

impl DiskFile for MemFile {
    fn path(&self) -> &Path {
        &self.path
    }

    async fn read_at(&self, mut buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        if self.direct
            && let Err(e) = check_direct(&self.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let res = self.with(FaultOp::Read, |inode, stats| {
            stats.reads += 1;
            let len = inode.volatile.len() as u64;
            if offset >= len {
                return Ok(0);
            }
            let start = offset as usize;
            let n = buf.len().min(inode.volatile.len() - start);
            buf[..n].copy_from_slice(&inode.volatile[start..start + n]);
            Ok(n)
        });
        (res, buf)
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        if self.direct
            && let Err(e) = check_direct(&self.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let path = &self.path;
        let res = self.with(FaultOp::Write, |inode, stats| {
            let end = offset
                .checked_add(buf.len() as u64)
                .ok_or_else(|| os_err("write", path, libc::EFBIG))?;
            let (start, end) = (to_usize(path, offset)?, to_usize(path, end)?);
            stats.writes += 1;
            stats.bytes_written += buf.len() as u64;
            if buf.is_empty() {
                return Ok(());
            }
            if inode.volatile.len() < end {
                inode.volatile.resize(end, 0);
            }
            inode.volatile[start..end].copy_from_slice(&buf);
            inode.unsynced.push(DataOp::Write {
                offset,
                data: buf.to_vec(),
            });
            Ok(())
        });
        (res, buf)
    }

    async fn sync_data(&self) -> IoResult<()> {
        self.with(FaultOp::Sync, |inode, stats| {
            inode.sync();
            stats.syncs += 1;
            Ok(())
        })
    }

    async fn sync_all(&self) -> IoResult<()> {
        self.sync_data().await
    }

    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        let path = &self.path;
        self.with(FaultOp::Allocate, |inode, _| {
            if len == 0 {
                return Err(os_err("fallocate", path, libc::EINVAL));
            }
            let end = offset
                .checked_add(len)
                .ok_or_else(|| os_err("fallocate", path, libc::EFBIG))?;
            let end = to_usize(path, end)?;
            if end > inode.volatile.len() {
                inode.set_len(end);
            }
            Ok(())
        })
    }

    async fn len(&self) -> IoResult<u64> {
        self.with(FaultOp::Read, |inode, _| Ok(inode.volatile.len() as u64))
    }

    async fn set_len(&self, len: u64) -> IoResult<()> {
        let path = &self.path;
        self.with(FaultOp::SetLen, |inode, _| {
            inode.set_len(to_usize(path, len)?);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn synced_survives_unsynced_is_prefix_per_sector() {
        block_on(async {
            let d = MemDisk::new();
            let dir = Path::new("/d");
            d.create_dir_all(dir).await.unwrap();
            let p = dir.join("f");
            let f = d.open(&p, OpenOptions::CREATE).await.unwrap();
            f.write_at(IoBuf::from_slice(&[1; 1000]), 0)
                .await
                .0
                .unwrap();
            f.sync_data().await.unwrap();
            d.sync_dir(dir).await.unwrap();
            f.write_at(IoBuf::from_slice(&[2; 1024]), 512)
                .await
                .0
                .unwrap();
            d.crash(3);
            assert!(matches!(f.len().await, Err(IoError::Crashed { .. })));
            let img = d.read_durable(&p).unwrap();
            assert!(
                img.len() == 1000 || img.len() == 1024 || img.len() == 1536,
                "{}",
                img.len()
            );
            assert!(img[..512].iter().all(|&b| b == 1));
        });
    }
}
