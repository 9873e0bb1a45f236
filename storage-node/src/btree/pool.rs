//! The buffer pool: a bounded cache of committed tree pages, plus the memory
//! accounting for pages private to the open write transaction.
//!
//! - Budget: `frames_max = cache_bytes_max / page_size` pages. `resident`
//!   counts every cached frame *and* every page reserved by the write
//!   transaction (its private pages) or by a read in progress, so it never
//!   exceeds the budget: a page must be reserved (evicting if needed) before
//!   its buffer exists. `peak` records the high-water mark.
//! - Lookup: 64 mutex-protected shards of `page id -> Arc<Frame>`. A hit
//!   either holds the shard lock only to clone the `Arc` (`lookup`, then
//!   readers work on the raw bytes without locks), or runs a short closure
//!   on the frame under the lock (`with_cached`: point gets, which then pay
//!   no `Arc` reference-count traffic). An `Arc` held outside the pool
//!   *pins* the frame (it cannot be evicted while `strong_count > 1`).
//! - Eviction: second-chance FIFO (CLOCK) over a queue of `(id, serial)`;
//!   referenced frames get another round, pinned frames are skipped, dirty
//!   frames are written to their own location (always safe: see below) and
//!   evicted on a later pass. If nothing can be evicted the reservation
//!   fails with `BTreeError::CacheExhausted` after yielding for a while; it
//!   never grows past the budget.
//! - Dirty frames hold committed pages not yet on disk. Their location was
//!   allocated after the last durable checkpoint's free list was computed, so
//!   it is never part of a protected checkpoint and may be written at any
//!   time. `writing` counts writes in flight; a frame being written is never
//!   removed, so a reused page id can never be overwritten by a late write of
//!   its old content.
//! - Every page read from disk is verified: checksum, the id and generation
//!   the reference expects, and `page::validate`; failures are
//!   `BTreeError::Corrupt` naming the file and byte offset. Cached frames
//!   are not re-verified (their bytes never change); a hit only checks the
//!   id and generation the frame copied from its header at creation.
//! - Each frame of a leaf or branch page carries a [`SearchIndex`]
//!   (`btree/search.rs`), built from its bytes by the first search of the
//!   frame, so lookups probe a small array instead of the page's cells.
//!
//! Not counted against the budget: short-lived I/O staging copies (at most
//! [`WRITE_BATCH_PAGES`] per writer); overflow values, which are read and
//! written straight from disk (`btree/overflow.rs`) and never cached; and
//! per-frame bookkeeping: the `Frame` struct, its map and CLOCK entries and
//! its search index (at most `page_size / 8 + PREFIX_MAX_BYTES` bytes).

use super::BTreeError;
use super::page::{self, LeafVal, PageRef};
use super::search::SearchIndex;
use crate::io::{DiskFile, IoBuf};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

const SHARDS: usize = 64;
/// Most pages written in one I/O (bounds the staging buffer).
pub(crate) const WRITE_BATCH_PAGES: usize = 32;
/// Reservation retries (yielding in between) before `CacheExhausted`.
const RESERVE_IDLE_ROUNDS_MAX: u32 = 2000;

/// Hasher for page ids: a multiply mixes well enough for hashbrown.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// One cached page. Its bytes never change while it is cached (committed
/// pages are immutable), so the header fields copied out of them at
/// creation and the search index built from them stay exact; readers use
/// those and touch the page bytes only for the cells they compare.
pub(crate) struct Frame {
    buf: IoBuf,
    /// The page header's id and generation.
    page: PageRef,
    kind: u8,
    level: u8,
    /// Built by the first search of this frame (frames that are only
    /// written, or read by write transactions, never pay for one).
    index: OnceLock<Option<SearchIndex>>,
    serial: u64,
    dirty: AtomicBool,
    /// Freed by a committed transaction: a checkpoint need not write it.
    dead: AtomicBool,
    writing: AtomicU32,
    referenced: AtomicBool,
}

impl Frame {
    /// A frame for a valid page (verified from disk, or being committed).
    fn new(buf: IoBuf, serial: u64, dirty: bool) -> Frame {
        Frame {
            page: PageRef {
                id: page::page_id(&buf),
                generation: page::page_gen(&buf),
            },
            kind: page::kind(&buf),
            level: page::level(&buf),
            index: OnceLock::new(),
            buf,
            serial,
            dirty: AtomicBool::new(dirty),
            dead: AtomicBool::new(false),
            writing: AtomicU32::new(0),
            referenced: AtomicBool::new(true),
        }
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.buf.as_slice()
    }

    /// The search index, built on first use; `None` if the page gets none.
    #[inline]
    fn index(&self) -> Option<&SearchIndex> {
        self.index
            .get_or_init(|| SearchIndex::build(self.bytes()))
            .as_ref()
    }

    #[inline]
    pub fn kind(&self) -> u8 {
        self.kind
    }

    #[inline]
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Slot count of a leaf or branch page (does not build the index:
    /// cursors stepping through leaves only need the count).
    #[inline]
    pub fn nslots(&self) -> usize {
        match self.index.get() {
            Some(Some(ix)) => ix.nslots(),
            _ => page::nslots(self.bytes()),
        }
    }

    /// `page::leaf_search` on this page, through its index if it has one.
    #[inline]
    pub fn leaf_search(&self, key: &[u8]) -> Result<usize, usize> {
        match self.index() {
            Some(ix) => ix.leaf_search(self.bytes(), key),
            None => page::leaf_search(self.bytes(), key),
        }
    }

    /// `page::branch_search` on this page, through its index if it has one.
    #[inline]
    pub fn branch_search(&self, key: &[u8]) -> usize {
        match self.index() {
            Some(ix) => ix.branch_search(self.bytes(), key),
            None => page::branch_search(self.bytes(), key),
        }
    }

    /// The value stored under `key` in this leaf, if any.
    #[inline]
    pub fn leaf_get(&self, key: &[u8]) -> Option<LeafVal<'_>> {
        match self.index() {
            Some(ix) => ix.leaf_get(self.bytes(), key),
            None => page::leaf_search(self.bytes(), key)
                .ok()
                .map(|i| page::leaf_val(self.bytes(), i)),
        }
    }

    /// `page::branch_child` on this page, through its index if it has one.
    #[inline]
    pub fn child(&self, i: usize) -> PageRef {
        match self.index() {
            Some(ix) => ix.child(self.bytes(), i),
            None => page::branch_child(self.bytes(), i),
        }
    }
}

struct ShardInner {
    map: IdMap<Arc<Frame>>,
    hits: u64,
}

#[repr(align(128))]
struct Shard(Mutex<ShardInner>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline]
fn shard_of(id: u64) -> usize {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS
}

/// Pool counters (see `TreeStats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PoolStats {
    pub resident_pages: usize,
    pub peak_pages: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub pages_read: u64,
    pub pages_written: u64,
}

/// Frames whose `writing` count this batch raised; lowers them when
/// dropped, even if the future writing them is cancelled.
struct WritingBatch(Vec<(u64, Arc<Frame>)>);

impl WritingBatch {
    /// Adds a frame, raising its `writing` count (call under its shard lock).
    fn push(&mut self, id: u64, f: &Arc<Frame>) {
        f.writing.fetch_add(1, Ordering::AcqRel);
        self.0.push((id, f.clone()));
    }
}

impl Drop for WritingBatch {
    fn drop(&mut self) {
        for (_, f) in &self.0 {
            f.writing.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A pool reservation that is returned unless `keep` is called (so a
/// cancelled read cannot leak budget).
struct Reservation<'a, F: DiskFile> {
    pool: &'a Pool<F>,
    pages: usize,
}

impl<F: DiskFile> Reservation<'_, F> {
    fn keep(mut self) {
        self.pages = 0;
    }
}

impl<F: DiskFile> Drop for Reservation<'_, F> {
    fn drop(&mut self) {
        if self.pages > 0 {
            self.pool.unreserve(self.pages);
        }
    }
}

enum Evict {
    Progress,
    /// Only frames being written by someone else: wait for them.
    Busy,
    Nothing,
}

pub(crate) struct Pool<F: DiskFile> {
    file: F,
    page_size: usize,
    frames_max: usize,
    shards: Box<[Shard]>,
    clock: Mutex<VecDeque<(u64, u64)>>,
    resident: AtomicUsize,
    peak: AtomicUsize,
    serial: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    pages_read: AtomicU64,
    pages_written: AtomicU64,
}

impl<F: DiskFile> Pool<F> {
    pub fn new(file: F, page_size: usize, frames_max: usize) -> Pool<F> {
        Pool {
            file,
            page_size,
            frames_max,
            shards: (0..SHARDS)
                .map(|_| {
                    Shard(Mutex::new(ShardInner {
                        map: IdMap::default(),
                        hits: 0,
                    }))
                })
                .collect(),
            clock: Mutex::new(VecDeque::new()),
            resident: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            serial: AtomicU64::new(1),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            pages_read: AtomicU64::new(0),
            pages_written: AtomicU64::new(0),
        }
    }

    pub fn file(&self) -> &F {
        &self.file
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }

    pub fn frames_max(&self) -> usize {
        self.frames_max
    }

    pub fn corrupt(&self, id: u64, reason: impl Into<String>) -> BTreeError {
        BTreeError::Corrupt {
            file: self.file.path().to_path_buf(),
            offset: id * self.page_size as u64,
            reason: reason.into(),
        }
    }

    /// The cached frame for `id`, if resident (marks it referenced).
    #[inline]
    pub fn lookup(&self, id: u64) -> Option<Arc<Frame>> {
        let f = {
            let mut s = lock(&self.shards[shard_of(id)].0);
            let f = s.map.get(&id)?.clone();
            s.hits += 1;
            f
        };
        if !f.referenced.load(Ordering::Relaxed) {
            f.referenced.store(true, Ordering::Relaxed);
        }
        Some(f)
    }

    /// Runs `f` on the cached frame for `id`, if resident (marking it
    /// referenced), under its shard lock: no `Arc` clone and drop, but the
    /// shard waits for `f`, so `f` must be short and must not touch the pool.
    #[inline]
    pub fn with_cached<T>(&self, id: u64, f: impl FnOnce(&Frame) -> T) -> Option<T> {
        let mut guard = lock(&self.shards[shard_of(id)].0);
        let s = &mut *guard;
        let frame = s.map.get(&id)?;
        s.hits += 1;
        if !frame.referenced.load(Ordering::Relaxed) {
            frame.referenced.store(true, Ordering::Relaxed);
        }
        Some(f(frame))
    }

    /// Checks page bytes against the reference that led to them.
    #[inline]
    pub fn check_ref(&self, b: &[u8], r: PageRef) -> Result<(), BTreeError> {
        let found = PageRef {
            id: page::page_id(b),
            generation: page::page_gen(b),
        };
        self.check_found(found, r)
    }

    /// Checks a cached frame against the reference that led to it (from the
    /// header fields the frame copied, without touching the page bytes).
    #[inline]
    pub fn check_frame(&self, f: &Frame, r: PageRef) -> Result<(), BTreeError> {
        self.check_found(f.page, r)
    }

    #[inline]
    fn check_found(&self, found: PageRef, r: PageRef) -> Result<(), BTreeError> {
        if found != r {
            return Err(self.corrupt(
                r.id,
                format!(
                    "page header says id {} generation {}, reference expects id {} generation {}",
                    found.id, found.generation, r.id, r.generation
                ),
            ));
        }
        Ok(())
    }

    /// The page `r` from the cache or from disk (verified, then cached).
    pub async fn fetch(&self, r: PageRef) -> Result<Arc<Frame>, BTreeError> {
        if let Some(f) = self.lookup(r.id) {
            self.check_frame(&f, r)?;
            return Ok(f);
        }
        self.load(r).await
    }

    /// The miss path of [`Pool::fetch`].
    pub async fn load(&self, r: PageRef) -> Result<Arc<Frame>, BTreeError> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.reserve(1).await?;
        let reservation = Reservation {
            pool: self,
            pages: 1,
        };
        let buf = self.read_verified(r).await?;
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let frame = Arc::new(Frame::new(buf, serial, false));
        {
            let mut s = lock(&self.shards[shard_of(r.id)].0);
            if let Some(existing) = s.map.get(&r.id) {
                let existing = existing.clone();
                drop(s);
                drop(reservation);
                self.check_frame(&existing, r)?;
                return Ok(existing);
            }
            s.map.insert(r.id, frame.clone());
            reservation.keep();
        }
        self.push_clock(r.id, serial);
        Ok(frame)
    }

    /// Reads `n` pages starting at `first` into one buffer (no checks).
    pub async fn read_raw(&self, first: u64, n: usize) -> Result<IoBuf, BTreeError> {
        let len = n * self.page_size;
        let (res, buf) = self
            .file
            .read_at(IoBuf::zeroed(len), first * self.page_size as u64)
            .await;
        let got = res?;
        self.pages_read.fetch_add(n as u64, Ordering::Relaxed);
        if got < len {
            let missing = first + (got / self.page_size) as u64;
            return Err(self.corrupt(
                missing,
                format!("page {missing} is past the end of the file"),
            ));
        }
        Ok(buf)
    }

    /// Verifies one page read from disk as the page `r` (checksum, id,
    /// generation, structure).
    pub fn verify(&self, b: &[u8], r: PageRef) -> Result<(), BTreeError> {
        if !page::checksum_ok(b) {
            return Err(self.corrupt(r.id, "page checksum mismatch"));
        }
        self.check_ref(b, r)?;
        page::validate(b).map_err(|reason| self.corrupt(r.id, reason))
    }

    /// Reads and verifies one page (not cached; the caller reserved room).
    pub async fn read_verified(&self, r: PageRef) -> Result<IoBuf, BTreeError> {
        let buf = self.read_raw(r.id, 1).await?;
        self.verify(&buf, r)?;
        Ok(buf)
    }

    /// Reserves room for `n` pages, evicting as needed.
    pub async fn reserve(&self, n: usize) -> Result<(), BTreeError> {
        let mut idle = 0u32;
        loop {
            let cur = self.resident.load(Ordering::Acquire);
            if cur + n <= self.frames_max {
                if self
                    .resident
                    .compare_exchange_weak(cur, cur + n, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    self.peak.fetch_max(cur + n, Ordering::Relaxed);
                    return Ok(());
                }
                continue;
            }
            match self.evict_one().await? {
                Evict::Progress => idle = 0,
                Evict::Busy => tokio::task::yield_now().await,
                Evict::Nothing => {
                    idle += 1;
                    if idle > RESERVE_IDLE_ROUNDS_MAX {
                        return Err(BTreeError::CacheExhausted {
                            cache_bytes_max: self.frames_max * self.page_size,
                            wanted_pages: n,
                        });
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    pub fn unreserve(&self, n: usize) {
        let prev = self.resident.fetch_sub(n, Ordering::AcqRel);
        assert!(prev >= n, "buffer pool accounting underflow");
    }

    /// One CLOCK step: evicts one clean frame, or writes back a batch of
    /// dirty ones.
    async fn evict_one(&self) -> Result<Evict, BTreeError> {
        let mut to_write = WritingBatch(Vec::new());
        let mut busy = false;
        let mut evicted = false;
        {
            let mut clock = lock(&self.clock);
            let mut budget = clock.len() * 2 + 1;
            while budget > 0 {
                budget -= 1;
                let Some((id, serial)) = clock.pop_front() else {
                    break;
                };
                let mut s = lock(&self.shards[shard_of(id)].0);
                let Some(f) = s.map.get(&id) else { continue };
                if f.serial != serial {
                    continue;
                }
                if f.referenced.swap(false, Ordering::Relaxed) {
                    clock.push_back((id, serial));
                    continue;
                }
                if f.writing.load(Ordering::Acquire) > 0 {
                    busy = true;
                    clock.push_back((id, serial));
                    continue;
                }
                if Arc::strong_count(f) > 1 {
                    clock.push_back((id, serial));
                    continue;
                }
                if f.dirty.load(Ordering::Acquire) {
                    to_write.push(id, f);
                    clock.push_back((id, serial));
                    if to_write.0.len() >= WRITE_BATCH_PAGES {
                        break;
                    }
                    continue;
                }
                s.map.remove(&id);
                evicted = true;
                break;
            }
        }
        if evicted {
            self.unreserve(1);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        // A batch collected must be written (its `writing` counts are raised).
        if !to_write.0.is_empty() {
            self.write_frames(to_write).await?;
            return Ok(Evict::Progress);
        }
        if evicted {
            return Ok(Evict::Progress);
        }
        Ok(if busy { Evict::Busy } else { Evict::Nothing })
    }

    /// Writes a batch of frames and marks them clean.
    async fn write_frames(&self, mut batch: WritingBatch) -> Result<(), BTreeError> {
        let frames = &mut batch.0;
        frames.sort_by_key(|(id, _)| *id);
        let mut i = 0;
        while i < frames.len() {
            let mut j = i + 1;
            while j < frames.len()
                && j - i < WRITE_BATCH_PAGES
                && frames[j].0 == frames[j - 1].0 + 1
            {
                j += 1;
            }
            let ps = self.page_size;
            let mut buf = IoBuf::zeroed((j - i) * ps);
            for (k, (_, f)) in frames[i..j].iter().enumerate() {
                buf[k * ps..(k + 1) * ps].copy_from_slice(f.bytes());
            }
            self.write_pages(frames[i].0, buf).await?;
            for (_, f) in &frames[i..j] {
                f.dirty.store(false, Ordering::Release);
            }
            i = j;
        }
        Ok(())
    }

    /// Queues a new frame for the CLOCK sweep. Entries of removed frames go
    /// stale; when stale ones could dominate (the pool may never fill up to
    /// sweep them), the queue is compacted, keeping it within about twice
    /// the number of frames.
    fn push_clock(&self, id: u64, serial: u64) {
        let mut clock = lock(&self.clock);
        clock.push_back((id, serial));
        if clock.len() > 2 * self.frames_max + 64 {
            clock.retain(|&(id, serial)| {
                lock(&self.shards[shard_of(id)].0)
                    .map
                    .get(&id)
                    .is_some_and(|f| f.serial == serial)
            });
        }
    }

    /// Seals (checksums) every page in `buf` and writes them at `first`.
    pub async fn write_pages(&self, first: u64, mut buf: IoBuf) -> Result<(), BTreeError> {
        let ps = self.page_size;
        let n = buf.len() / ps;
        for k in 0..n {
            page::seal(&mut buf[k * ps..(k + 1) * ps]);
        }
        let (res, _) = self.file.write_at(buf, first * ps as u64).await;
        res?;
        self.pages_written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Adds a committed page that is not on disk yet; its room was reserved.
    pub fn insert_dirty(&self, id: u64, buf: IoBuf) -> Arc<Frame> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let frame = Arc::new(Frame::new(buf, serial, true));
        let old = lock(&self.shards[shard_of(id)].0)
            .map
            .insert(id, frame.clone());
        assert!(old.is_none(), "page {id} allocated while still cached");
        self.push_clock(id, serial);
        frame
    }

    /// Drops the frame of a page being released for reuse; false if it is
    /// being written right now (try again later).
    pub fn try_remove(&self, id: u64) -> bool {
        let mut s = lock(&self.shards[shard_of(id)].0);
        match s.map.get(&id) {
            None => true,
            Some(f) if f.writing.load(Ordering::Acquire) > 0 => false,
            Some(_) => {
                s.map.remove(&id);
                drop(s);
                self.unreserve(1);
                true
            }
        }
    }

    /// Marks a page freed by a committed transaction (checkpoints skip it).
    pub fn mark_dead(&self, id: u64) {
        if let Some(f) = lock(&self.shards[shard_of(id)].0).map.get(&id) {
            f.dead.store(true, Ordering::Relaxed);
        }
    }

    /// Ids of dirty frames a checkpoint must write.
    pub fn dirty_ids(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for sh in self.shards.iter() {
            let s = lock(&sh.0);
            ids.extend(s.map.iter().filter_map(|(&id, f)| {
                (f.dirty.load(Ordering::Acquire) && !f.dead.load(Ordering::Relaxed)).then_some(id)
            }));
        }
        ids
    }

    /// Writes those of `ids` that are still dirty; returns pages written.
    pub async fn flush(&self, mut ids: Vec<u64>) -> Result<u64, BTreeError> {
        ids.sort_unstable();
        let mut written = 0;
        for chunk in ids.chunks(WRITE_BATCH_PAGES) {
            let mut batch = WritingBatch(Vec::with_capacity(chunk.len()));
            for &id in chunk {
                let s = lock(&self.shards[shard_of(id)].0);
                if let Some(f) = s.map.get(&id)
                    && f.dirty.load(Ordering::Acquire)
                {
                    batch.push(id, f);
                }
            }
            written += batch.0.len() as u64;
            self.write_frames(batch).await?;
        }
        Ok(written)
    }

    pub fn stats(&self) -> PoolStats {
        let hits = self.shards.iter().map(|s| lock(&s.0).hits).sum();
        PoolStats {
            resident_pages: self.resident.load(Ordering::Relaxed),
            peak_pages: self.peak.load(Ordering::Relaxed),
            hits,
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            pages_read: self.pages_read.load(Ordering::Relaxed),
            pages_written: self.pages_written.load(Ordering::Relaxed),
        }
    }

    #[cfg(test)]
    pub fn clock_len(&self) -> usize {
        lock(&self.clock).len()
    }

    /// Drops every clean, unpinned frame (tests use it to force re-reads).
    pub fn drop_clean(&self) -> usize {
        let mut dropped = 0;
        for sh in self.shards.iter() {
            let mut s = lock(&sh.0);
            s.map.retain(|_, f| {
                let keep = f.dirty.load(Ordering::Acquire)
                    || f.writing.load(Ordering::Acquire) > 0
                    || Arc::strong_count(f) > 1;
                if !keep {
                    dropped += 1;
                }
                keep
            });
        }
        self.unreserve(dropped);
        dropped
    }
}
