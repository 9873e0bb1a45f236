//! [`BTree`]: the handle shared by writers, readers and the checkpointer;
//! opening (or creating) the file; snapshots; stats.
//!
//! Shared state and its locks (never held across an `.await`, except the
//! two async mutexes):
//! - `current: RwLock<Arc<Committed>>`: the latest committed state;
//!   `snapshot()` clones the `Arc` under the read lock.
//! - `alloc: Mutex<Alloc>`: allocation, freed pages, snapshot history
//!   (`btree/alloc.rs`). Lock order: `alloc` before `current` before pool
//!   shard locks.
//! - `writer: tokio Mutex`: one write transaction at a time; the checkpoint
//!   holds it only while capturing what to write.
//! - `ckpt: tokio Mutex`: one checkpoint at a time; holds the durable
//!   superblock generation and the poisoned flag.

use super::alloc::{Alloc, Committed, ExtentSet};
use super::cursor::Snapshot;
use super::page::{self, KIND_FREELIST, PageRef};
use super::pool::Pool;
use super::superblock::{self, SB_BYTES, Superblock};
use super::txn::WriteTxn;
use super::{BTreeConfig, BTreeError, CACHE_PAGES_MIN, MAX_VALUE_BYTES, TreeStats};
use super::{node, overflow};
use crate::io::{Disk, DiskFile, IO_ALIGN, IoBuf, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub(crate) struct CkptState {
    /// Generation of the durable superblock.
    pub gen_durable: u64,
    pub poisoned: bool,
}

pub(crate) struct Shared<D: Disk> {
    pub path: PathBuf,
    pub page_size: usize,
    pub direct: bool,
    pub pool: Pool<D::File>,
    pub current: RwLock<Arc<Committed>>,
    pub alloc: Mutex<Alloc>,
    pub writer: Arc<tokio::sync::Mutex<()>>,
    pub ckpt: tokio::sync::Mutex<CkptState>,
    pub commits: AtomicU64,
    pub checkpoint_gen: AtomicU64,
    /// Private pages a write transaction keeps before spilling some.
    pub private_pages_max: usize,
    pub superblock_fallback: bool,
    /// Keeps the disk (and any engine state it owns) alive with the tree.
    _disk: D,
}

impl<D: Disk> Shared<D> {
    pub fn alloc(&self) -> MutexGuard<'_, Alloc> {
        self.alloc.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn current(&self) -> Arc<Committed> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A copy-on-write B+tree in one file. Cheap to clone (an `Arc` inside).
pub struct BTree<D: Disk> {
    pub(crate) shared: Arc<Shared<D>>,
}

impl<D: Disk> Clone for BTree<D> {
    fn clone(&self) -> Self {
        BTree {
            shared: self.shared.clone(),
        }
    }
}

fn config_error(path: &Path, reason: String) -> BTreeError {
    BTreeError::Config {
        path: path.to_path_buf(),
        reason,
    }
}

fn check_page_size(cfg: &BTreeConfig, ps: usize) -> Result<(), BTreeError> {
    if !ps.is_power_of_two() || !(page::PAGE_SIZE_MIN..=page::PAGE_SIZE_MAX).contains(&ps) {
        return Err(config_error(
            &cfg.path,
            format!("page size {ps} must be a power of two in 512..=32768"),
        ));
    }
    if cfg.direct_io && !ps.is_multiple_of(IO_ALIGN) {
        return Err(config_error(
            &cfg.path,
            format!("page size {ps} must be a multiple of {IO_ALIGN} with direct I/O"),
        ));
    }
    Ok(())
}

/// Reads one superblock slot: the decoded superblock or why it is
/// unusable, and whether the slot holds any non-zero byte.
async fn read_slot<F: DiskFile>(
    file: &F,
    offset: u64,
    direct: bool,
) -> Result<(Result<Superblock, String>, bool), BTreeError> {
    let (res, buf) = file
        .read_at(IoBuf::zeroed(superblock::write_len(direct)), offset)
        .await;
    let n = res?;
    let nonzero = buf[..n.min(SB_BYTES)].iter().any(|&b| b != 0);
    if n < SB_BYTES {
        return Ok((Err(format!("only {n} bytes at offset {offset}")), nonzero));
    }
    Ok((Superblock::decode(&buf), nonzero))
}

/// The current superblock and whether the other slot was damaged, or the
/// reasons neither is usable.
async fn find_superblock<F: DiskFile>(
    file: &F,
    direct: bool,
) -> Result<Result<(Superblock, bool), String>, BTreeError> {
    let (s0, _) = read_slot(file, 0, direct).await?;
    let sizes: Vec<usize> = match &s0 {
        Ok(sb) => vec![sb.page_size],
        Err(_) => superblock::probe_page_sizes(direct).collect(),
    };
    let mut s1 = Err("not found at any page size".to_string());
    let mut s1_nonzero = false;
    for ps in sizes {
        let (res, nonzero) = read_slot(file, ps as u64, direct).await?;
        match res {
            Ok(sb) if sb.page_size == ps && sb.slot == 1 => {
                s1 = Ok(sb);
                break;
            }
            Ok(_) => s1 = Err(format!("slot at {ps} belongs to another page size")),
            Err(e) => {
                // Only the probe at the real page size can be slot 1.
                if s0.as_ref().is_ok_and(|sb| sb.page_size == ps) {
                    s1_nonzero = nonzero;
                }
                s1 = Err(e)
            }
        }
    }
    Ok(match (s0, s1) {
        (Ok(a), Ok(b)) => {
            if a.page_size != b.page_size {
                return Err(BTreeError::Corrupt {
                    file: file.path().to_path_buf(),
                    offset: 0,
                    reason: format!(
                        "superblock slots disagree on the page size ({} vs {})",
                        a.page_size, b.page_size
                    ),
                });
            }
            Ok((
                if a.checkpoint_gen > b.checkpoint_gen {
                    a
                } else {
                    b
                },
                false,
            ))
        }
        (Ok(a), Err(_)) => Ok((a, s1_nonzero)),
        (Err(_), Ok(b)) => Ok((b, true)),
        (Err(e0), Err(e1)) => Err(format!("slot 0: {e0}; slot 1: {e1}")),
    })
}

impl<D: Disk> BTree<D> {
    /// Opens the tree at `cfg.path`, creating an empty one if the file is
    /// missing or empty.
    pub async fn open(disk: D, cfg: BTreeConfig) -> Result<BTree<D>, BTreeError> {
        check_page_size(&cfg, cfg.page_size_bytes)?;
        let parent = cfg
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        if let Some(p) = &parent {
            disk.create_dir_all(p).await?;
        }
        let file = disk
            .open(&cfg.path, OpenOptions::CREATE.with_direct(cfg.direct_io))
            .await?;
        let len = file.len().await?;
        let (sb, fallback) = match find_superblock(&file, cfg.direct_io).await? {
            Ok(found) => found,
            // Nothing past the first two smallest pages was ever written:
            // an interrupted creation (or a new file). Safe to start over.
            Err(_) if len <= 2 * superblock::write_len(cfg.direct_io) as u64 => {
                let sb = Superblock {
                    page_size: cfg.page_size_bytes,
                    slot: 0,
                    checkpoint_gen: 0,
                    txn: 0,
                    root: None,
                    page_count: 2,
                    freelist: None,
                    free_pages: 0,
                };
                let mut buf = IoBuf::zeroed(superblock::write_len(cfg.direct_io));
                buf[..SB_BYTES].copy_from_slice(&sb.encode());
                let (res, _) = file.write_at(buf, 0).await;
                res?;
                file.sync_data().await?;
                disk.sync_dir(parent.as_deref().unwrap_or(Path::new(".")))
                    .await?;
                (sb, false)
            }
            Err(reason) => {
                return Err(BTreeError::Corrupt {
                    file: cfg.path.clone(),
                    offset: 0,
                    reason: format!("no valid superblock: {reason}"),
                });
            }
        };
        if fallback {
            tracing::warn!(
                path = %cfg.path.display(),
                checkpoint_gen = sb.checkpoint_gen,
                "btree: one superblock slot is damaged; using the other"
            );
        }
        let ps = sb.page_size;
        check_page_size(&cfg, ps)?;
        let frames_max = cfg.cache_bytes_max / ps;
        if frames_max < CACHE_PAGES_MIN {
            return Err(config_error(
                &cfg.path,
                format!(
                    "cache_bytes_max {} holds {frames_max} pages of {ps} bytes; need at least {CACHE_PAGES_MIN}",
                    cfg.cache_bytes_max
                ),
            ));
        }
        let pool = Pool::new(file, ps, frames_max);
        let (free, fl_pages) = match load_freelist(&pool, &sb).await {
            Ok(found) => found,
            // The tree may be intact: derive the free pages from it instead.
            Err(e) if e.is_corrupt() => {
                tracing::warn!(
                    path = %cfg.path.display(),
                    error = %e,
                    "btree: free list unreadable; rebuilding it from the tree"
                );
                (rebuild_freelist(&pool, &sb).await?, Vec::new())
            }
            Err(e) => return Err(e),
        };
        let mut alloc = Alloc::new(free, sb.page_count, sb.txn);
        for id in fl_pages {
            alloc.hold(sb.txn + 1, id, 1);
        }
        let shared = Shared {
            path: cfg.path.clone(),
            page_size: ps,
            direct: cfg.direct_io,
            pool,
            current: RwLock::new(Arc::new(Committed::new(sb.txn, sb.root))),
            alloc: Mutex::new(alloc),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            ckpt: tokio::sync::Mutex::new(CkptState {
                gen_durable: sb.checkpoint_gen,
                poisoned: false,
            }),
            commits: AtomicU64::new(0),
            checkpoint_gen: AtomicU64::new(sb.checkpoint_gen),
            private_pages_max: (frames_max / 4).max(4),
            superblock_fallback: fallback,
            _disk: disk,
        };
        Ok(BTree {
            shared: Arc::new(shared),
        })
    }

    /// Starts the (single) write transaction, waiting for the current one.
    pub async fn begin_write(&self) -> WriteTxn<D> {
        let guard = self.shared.writer.clone().lock_owned().await;
        WriteTxn::new(self.clone(), guard)
    }

    /// A read view of the latest committed state.
    pub fn snapshot(&self) -> Snapshot<D> {
        Snapshot::new(self.clone(), self.shared.current())
    }

    pub fn max_key_bytes(&self) -> usize {
        node::max_key_bytes(self.shared.page_size)
    }

    pub fn max_value_bytes(&self) -> usize {
        MAX_VALUE_BYTES
    }

    pub fn page_size(&self) -> usize {
        self.shared.page_size
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub fn stats(&self) -> TreeStats {
        let sh = &self.shared;
        let p = sh.pool.stats();
        let ps = sh.page_size;
        let (file_pages, free_pages, pending, durable_txn) = {
            let a = sh.alloc();
            (
                a.next_page,
                a.free.pages(),
                a.unavailable_pages(),
                a.durable_txn,
            )
        };
        TreeStats {
            cache_bytes: p.resident_pages * ps,
            cache_bytes_max: sh.pool.frames_max() * ps,
            cache_bytes_peak: p.peak_pages * ps,
            hits: p.hits,
            misses: p.misses,
            evictions: p.evictions,
            pages_read: p.pages_read,
            pages_written: p.pages_written,
            file_pages,
            free_pages,
            pending_free_pages: pending,
            commits: sh.commits.load(Ordering::Relaxed),
            checkpoint_gen: sh.checkpoint_gen.load(Ordering::Relaxed),
            committed_txn: sh.current().txn,
            durable_txn,
            superblock_fallback: sh.superblock_fallback,
        }
    }

    /// Drops every clean, unpinned cached page (tests and benchmarks use it
    /// to force reads from disk). Returns how many were dropped.
    pub fn drop_clean_cache(&self) -> usize {
        self.shared.pool.drop_clean()
    }
}

/// Reads the free-list chain of `sb`: the free pages and the list's own pages.
async fn load_freelist<F: DiskFile>(
    pool: &Pool<F>,
    sb: &Superblock,
) -> Result<(ExtentSet, Vec<u64>), BTreeError> {
    let mut free = ExtentSet::default();
    let mut pages = Vec::new();
    let mut next = sb.freelist;
    while let Some(r) = next {
        if pages.len() as u64 > sb.page_count || r.id < 2 || r.id >= sb.page_count {
            return Err(pool.corrupt(r.id, format!("free-list chain reaches bad page {}", r.id)));
        }
        let b = pool.read_verified(r).await?;
        if page::kind(&b) != KIND_FREELIST {
            return Err(pool.corrupt(
                r.id,
                format!("expected a free-list page, found kind {}", page::kind(&b)),
            ));
        }
        for i in 0..page::nslots(&b) {
            let (s, l) = page::freelist_entry(&b, i);
            if s < 2 || l == 0 || s.checked_add(l).is_none_or(|e| e > sb.page_count) {
                return Err(pool.corrupt(r.id, format!("free extent {s}+{l} outside the file")));
            }
            free.try_insert(s, l)
                .map_err(|e| pool.corrupt(r.id, format!("free list: {e}")))?;
        }
        pages.push(r.id);
        let n = page::aux_ref(&b);
        next = (n.id != 0).then_some(PageRef {
            id: n.id,
            generation: n.generation,
        });
    }
    if free.pages() != sb.free_pages {
        return Err(BTreeError::Corrupt {
            file: pool.file().path().to_path_buf(),
            offset: 0,
            reason: format!(
                "free list holds {} pages, superblock says {}",
                free.pages(),
                sb.free_pages
            ),
        });
    }
    for &id in &pages {
        if free.contains(id) {
            return Err(pool.corrupt(id, "free-list page is listed as free"));
        }
    }
    Ok((free, pages))
}

/// The free pages of `sb`'s state found by walking its tree: every page
/// below `page_count` that no tree page or overflow run uses. Every tree
/// page is read and verified.
async fn rebuild_freelist<F: DiskFile>(
    pool: &Pool<F>,
    sb: &Superblock,
) -> Result<ExtentSet, BTreeError> {
    let count = sb.page_count;
    let mut used = vec![false; count as usize];
    let mut mark = |id: u64, len: u64, from: u64| -> Result<(), BTreeError> {
        if id < 2 || id.checked_add(len).is_none_or(|e| e > count) {
            return Err(pool.corrupt(
                from,
                format!("reference to pages {id}+{len} outside the file"),
            ));
        }
        for p in id..id + len {
            if std::mem::replace(&mut used[p as usize], true) {
                return Err(pool.corrupt(from, format!("page {p} is referenced twice")));
            }
        }
        Ok(())
    };
    let mut stack: Vec<PageRef> = Vec::new();
    if let Some(root) = sb.root {
        mark(root.id, 1, 0)?;
        stack.push(root);
    }
    while let Some(r) = stack.pop() {
        let b = pool.read_verified(r).await?;
        let n = page::nslots(&b);
        match page::kind(&b) {
            page::KIND_BRANCH => {
                for i in 0..=n {
                    let c = page::branch_child(&b, i);
                    mark(c.id, 1, r.id)?;
                    stack.push(c);
                }
            }
            page::KIND_LEAF => {
                for i in 0..n {
                    if let page::LeafVal::Overflow { first, len } = page::leaf_val(&b, i) {
                        mark(first.id, overflow::pages_for(pool.page_size(), len), r.id)?;
                    }
                }
            }
            k => return Err(pool.corrupt(r.id, format!("tree reaches a page of kind {k}"))),
        }
    }
    let mut free = ExtentSet::default();
    let mut p = 2;
    while p < count {
        if used[p as usize] {
            p += 1;
            continue;
        }
        let start = p;
        while p < count && !used[p as usize] {
            p += 1;
        }
        free.insert(start, p - start);
    }
    Ok(free)
}
