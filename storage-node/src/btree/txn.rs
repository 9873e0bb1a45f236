//! [`WriteTxn`]: the single write transaction. Shadow paging: the first
//! time a committed page on a path is touched it is copied to a new page id
//! (generation = this transaction's id) and the old page is freed "at" this
//! transaction; private pages are then edited in place. Commit hands the
//! private pages to the buffer pool as dirty frames and publishes the new
//! root with one pointer swap. Dropping without commit aborts: every page
//! this transaction allocated goes straight back to the free set.
//!
//! A reference whose generation equals this transaction's id is private
//! (committed pages always have older generations).
//!
//! Memory: private pages count against the pool budget (each is reserved
//! first). Before each mutation, if more than `private_pages_max` are
//! resident, the least recently used ones are written to their own location
//! (which is fresh, so always safe) and dropped; they are read back when
//! touched again. Pages on the current operation's path are never spilled
//! (spilling happens only between operations).
//!
//! Failure: if a mutation fails midway (I/O error, corruption found,
//! cancellation) the transaction is marked failed; later calls return
//! `TxnFailed` and it can only be dropped (aborted).
//!
//! Deletes and rebalancing are in `btree/rebalance.rs`; page formats in
//! `btree/page.rs` and `btree/node.rs`.

use super::alloc::Extent;
use super::node::{self, branch_cell, cell_child, cell_key, leaf_cell_inline, leaf_cell_overflow};
use super::page::{
    self, KIND_BRANCH, KIND_LEAF, LEAF_CELL_HDR, LeafVal, PageRef, branch_child, branch_search,
    leaf_search, leaf_val, nslots,
};
use super::pool::{IdMap, WRITE_BATCH_PAGES};
use super::tree::{BTree, Shared};
use super::{BTreeError, MAX_VALUE_BYTES, overflow};
use crate::io::{Disk, IoBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::OwnedMutexGuard;

pub(super) struct Private {
    pub buf: IoBuf,
    /// Operation counter at last use (spill order).
    pub used: u64,
}

/// Where a descent ended: the private leaf and the private branches above
/// it with the child index taken in each.
pub(super) struct Descent {
    pub path: Vec<(u64, usize)>,
    pub leaf: u64,
    /// Every step took the last child.
    pub rightmost: bool,
    /// The smallest separator greater than the sought key (the leaf's upper
    /// bound), if computed and any.
    pub fence: Option<Vec<u8>>,
}

enum Step {
    Child(PageRef),
    Missing,
    Inline(Vec<u8>),
    Overflow(PageRef, usize),
}

/// The write transaction (one at a time per tree).
pub struct WriteTxn<D: Disk> {
    pub(super) tree: BTree<D>,
    _guard: OwnedMutexGuard<()>,
    pub(super) txn: u64,
    pub(super) root: Option<PageRef>,
    pub(super) private: IdMap<Private>,
    /// Pool pages reserved by this transaction (its private pages, plus at
    /// most a few in flight).
    reserved: usize,
    /// Runs this transaction allocated and still owns: start -> pages.
    allocated: IdMap<u64>,
    /// Committed pages this transaction frees.
    freed: Vec<Extent>,
    tick: u64,
    in_op: bool,
    failed: Option<String>,
    finished: bool,
}

impl<D: Disk> WriteTxn<D> {
    /// Makes child `ci` of private branch `id` private (shadowing it if it
    /// is committed), checks its level against the parent's, repoints the
    /// parent if the child moved, and returns the child's page id.
    pub(super) async fn descend_private(&mut self, id: u64, ci: usize) -> Result<u64, BTreeError> {
        let b = self.pbuf(id);
        let child = branch_child(b, ci);
        let lvl = page::level(b);
        let cid = self.make_private(child).await?;
        let clvl = page::level(self.pbuf(cid));
        if clvl + 1 != lvl {
            return Err(self.sh().pool.corrupt(
                child.id,
                format!("child at level {clvl} under a branch at level {lvl}"),
            ));
        }
        if cid != child.id {
            let me = self.me(cid);
            node::set_child(self.pbuf_mut(id), ci, me);
        }
        Ok(cid)
    }
    pub(crate) fn new(tree: BTree<D>, guard: OwnedMutexGuard<()>) -> WriteTxn<D> {
        let cur = tree.shared.current();
        WriteTxn {
            tree,
            _guard: guard,
            txn: cur.txn + 1,
            root: cur.root,
            private: IdMap::default(),
            reserved: 0,
            allocated: IdMap::default(),
            freed: Vec::new(),
            tick: 0,
            in_op: false,
            failed: None,
            finished: false,
        }
    }

    pub(super) fn sh(&self) -> &Shared<D> {
        &self.tree.shared
    }

    pub(super) fn me(&self, id: u64) -> PageRef {
        PageRef {
            id,
            generation: self.txn,
        }
    }

    /// The id this transaction commits as.
    pub fn txn_id(&self) -> u64 {
        self.txn
    }

    // ---- operation bracket ----

    fn check_usable(&self) -> Result<(), BTreeError> {
        match &self.failed {
            Some(reason) => Err(BTreeError::TxnFailed {
                reason: reason.clone(),
            }),
            None if self.in_op => Err(BTreeError::TxnFailed {
                reason: "an earlier operation was cancelled midway".into(),
            }),
            None => Ok(()),
        }
    }

    pub(super) fn start_op(&mut self) -> Result<(), BTreeError> {
        self.check_usable()?;
        self.in_op = true;
        self.tick += 1;
        Ok(())
    }

    pub(super) fn end_op<T>(&mut self, r: Result<T, BTreeError>) -> Result<T, BTreeError> {
        self.in_op = false;
        if let Err(e) = &r {
            self.failed = Some(e.to_string());
        }
        r
    }

    fn check_key(&self, key: &[u8]) -> Result<(), BTreeError> {
        let max = self.tree.max_key_bytes();
        if key.len() > max {
            return Err(BTreeError::KeyTooLarge {
                len: key.len(),
                max,
            });
        }
        Ok(())
    }

    // ---- private pages ----

    async fn reserve_one(&mut self) -> Result<(), BTreeError> {
        self.tree.shared.pool.reserve(1).await?;
        self.reserved += 1;
        Ok(())
    }

    fn unreserve_one(&mut self) {
        self.reserved -= 1;
        self.sh().pool.unreserve(1);
    }

    fn drop_private(&mut self, id: u64) {
        if self.private.remove(&id).is_some() {
            self.unreserve_one();
        }
    }

    async fn ensure_resident(&mut self, r: PageRef) -> Result<(), BTreeError> {
        if let Some(p) = self.private.get_mut(&r.id) {
            p.used = self.tick;
            return Ok(());
        }
        self.reserve_one().await?;
        match self.tree.shared.pool.read_verified(r).await {
            Ok(buf) => {
                let used = self.tick;
                self.private.insert(r.id, Private { buf, used });
                Ok(())
            }
            Err(e) => {
                self.unreserve_one();
                Err(e)
            }
        }
    }

    pub(super) fn pbuf(&self, id: u64) -> &[u8] {
        &self
            .private
            .get(&id)
            .expect("private page stays resident during an operation")
            .buf
    }

    pub(super) fn pbuf_mut(&mut self, id: u64) -> &mut [u8] {
        &mut self
            .private
            .get_mut(&id)
            .expect("private page stays resident during an operation")
            .buf
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.sh().alloc().alloc_page();
        self.allocated.insert(id, 1);
        id
    }

    /// A new empty private page; the caller reserved room for it.
    fn new_page(&mut self, kind: u8, level: u8) -> u64 {
        let id = self.alloc_id();
        let mut buf = IoBuf::zeroed(self.sh().page_size);
        page::init(&mut buf, id, self.txn, kind, level);
        let used = self.tick;
        self.private.insert(id, Private { buf, used });
        id
    }

    /// A private copy of `r` (itself if already private); returns its id.
    pub(super) async fn make_private(&mut self, r: PageRef) -> Result<u64, BTreeError> {
        if r.generation == self.txn {
            self.ensure_resident(r).await?;
            return Ok(r.id);
        }
        let frame = self.tree.shared.pool.fetch(r).await?;
        let k = page::kind(frame.bytes());
        if k != KIND_LEAF && k != KIND_BRANCH {
            return Err(self
                .sh()
                .pool
                .corrupt(r.id, format!("expected a tree page, found kind {k}")));
        }
        self.reserve_one().await?;
        let id = self.alloc_id();
        debug_assert_eq!(frame.bytes().len(), self.sh().page_size);
        let mut buf = IoBuf::from_slice(frame.bytes());
        drop(frame);
        page::set_id_gen(&mut buf, id, self.txn);
        let used = self.tick;
        self.private.insert(id, Private { buf, used });
        self.freed.push(Extent {
            start: r.id,
            len: 1,
            generation: r.generation,
        });
        Ok(id)
    }

    /// Frees a tree page reachable from this transaction's root.
    pub(super) fn free_tree_page(&mut self, r: PageRef) {
        if r.generation == self.txn {
            self.drop_private(r.id);
            self.allocated.remove(&r.id);
            self.sh().alloc().release_private(r.id, 1);
        } else {
            self.freed.push(Extent {
                start: r.id,
                len: 1,
                generation: r.generation,
            });
        }
    }

    pub(super) fn free_overflow(&mut self, first: PageRef, len: usize) {
        let n = overflow::pages_for(self.sh().page_size, len);
        if first.generation == self.txn {
            self.allocated.remove(&first.id);
            self.sh().alloc().release_private(first.id, n);
        } else {
            self.freed.push(Extent {
                start: first.id,
                len: n,
                generation: first.generation,
            });
        }
    }

    /// Runs `f` on the bytes of page `r` (private or committed).
    pub(super) async fn read_page<T>(
        &mut self,
        r: PageRef,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, BTreeError> {
        if r.generation == self.txn {
            self.ensure_resident(r).await?;
            Ok(f(self.pbuf(r.id)))
        } else {
            let frame = self.tree.shared.pool.fetch(r).await?;
            Ok(f(frame.bytes()))
        }
    }

    /// Writes the least recently used private pages to disk and drops them
    /// when more than `private_pages_max` are resident.
    pub(super) async fn maybe_spill(&mut self) -> Result<(), BTreeError> {
        let max = self.sh().private_pages_max;
        if self.private.len() <= max {
            return Ok(());
        }
        let mut order: Vec<(u64, u64)> = self.private.iter().map(|(&id, p)| (p.used, id)).collect();
        order.sort_unstable();
        let k = self.private.len() - max / 2;
        let mut ids: Vec<u64> = order[..k].iter().map(|&(_, id)| id).collect();
        ids.sort_unstable();
        let ps = self.sh().page_size;
        let mut i = 0;
        while i < ids.len() {
            let mut j = i + 1;
            while j < ids.len() && j - i < WRITE_BATCH_PAGES && ids[j] == ids[j - 1] + 1 {
                j += 1;
            }
            let mut buf = IoBuf::zeroed((j - i) * ps);
            for (n, id) in ids[i..j].iter().enumerate() {
                buf[n * ps..(n + 1) * ps].copy_from_slice(self.pbuf(*id));
            }
            self.tree.shared.pool.write_pages(ids[i], buf).await?;
            for &id in &ids[i..j] {
                self.drop_private(id);
            }
            i = j;
        }
        Ok(())
    }

    /// Descends from the root towards `key`, making every page on the path
    /// private.
    pub(super) async fn descend_mut(&mut self, key: &[u8]) -> Result<Descent, BTreeError> {
        let root = self.root.expect("descend_mut needs a root");
        let mut id = self.make_private(root).await?;
        self.root = Some(self.me(id));
        let mut path = Vec::new();
        let mut rightmost = true;
        loop {
            let b = self.pbuf(id);
            if page::kind(b) == KIND_LEAF {
                return Ok(Descent {
                    path,
                    leaf: id,
                    rightmost,
                    fence: None,
                });
            }
            let ci = branch_search(b, key);
            rightmost &= ci == nslots(b);
            let cid = self.descend_private(id, ci).await?;
            path.push((id, ci));
            id = cid;
        }
    }

    // ---- reads ----

    /// The value of `key` as this transaction sees it (its own writes included).
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, BTreeError> {
        self.check_usable()?;
        let Some(mut r) = self.root else {
            return Ok(None);
        };
        let mut expect_level: Option<u8> = None;
        loop {
            let step = self
                .read_page(r, |b| {
                    if expect_level.is_some_and(|l| l != page::level(b)) {
                        return Err(page::level(b));
                    }
                    Ok(if page::kind(b) == KIND_BRANCH {
                        expect_level = Some(page::level(b) - 1);
                        Step::Child(branch_child(b, branch_search(b, key)))
                    } else {
                        match leaf_search(b, key) {
                            Err(_) => Step::Missing,
                            Ok(i) => match leaf_val(b, i) {
                                LeafVal::Inline(v) => Step::Inline(v.to_vec()),
                                LeafVal::Overflow { first, len } => Step::Overflow(first, len),
                            },
                        }
                    })
                })
                .await?
                .map_err(|lvl| {
                    self.sh()
                        .pool
                        .corrupt(r.id, format!("unexpected level {lvl}"))
                })?;
            match step {
                Step::Child(c) => r = c,
                Step::Missing => return Ok(None),
                Step::Inline(v) => return Ok(Some(v)),
                Step::Overflow(first, len) => {
                    return overflow::read(&self.tree.shared.pool, first, len)
                        .await
                        .map(Some);
                }
            }
        }
    }

    // ---- put ----

    /// Inserts or replaces `key`.
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), BTreeError> {
        self.check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(BTreeError::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        self.start_op()?;
        let r = self.put_inner(key, value).await;
        self.end_op(r)
    }

    async fn put_inner(&mut self, key: &[u8], value: &[u8]) -> Result<(), BTreeError> {
        self.maybe_spill().await?;
        let ps = self.sh().page_size;
        let cell = if LEAF_CELL_HDR + key.len() + value.len() <= node::max_cell_bytes(ps) {
            leaf_cell_inline(key, value)
        } else {
            let n = overflow::pages_for(ps, value.len());
            let first = self.sh().alloc().alloc_run(n);
            self.allocated.insert(first, n);
            overflow::write(&self.tree.shared.pool, first, self.txn, value).await?;
            leaf_cell_overflow(key, self.me(first), value.len())
        };
        if self.root.is_none() {
            self.reserve_one().await?;
            let id = self.new_page(KIND_LEAF, 0);
            let ok = node::insert_cell(self.pbuf_mut(id), 0, &cell);
            assert!(ok, "one cell always fits an empty page");
            self.root = Some(self.me(id));
            return Ok(());
        }
        let d = self.descend_mut(key).await?;
        let b = self.pbuf(d.leaf);
        let (pos, replaced) = match leaf_search(b, key) {
            Ok(i) => match leaf_val(b, i) {
                LeafVal::Overflow { first, len } => (i, Some(Some((first, len)))),
                LeafVal::Inline(_) => (i, Some(None)),
            },
            Err(i) => (i, None),
        };
        if let Some(old_overflow) = replaced {
            if let Some((first, len)) = old_overflow {
                self.free_overflow(first, len);
            }
            node::remove_cell(self.pbuf_mut(d.leaf), pos);
        }
        let n = nslots(self.pbuf(d.leaf));
        if node::insert_cell(self.pbuf_mut(d.leaf), pos, &cell) {
            return Ok(());
        }
        let append = d.rightmost && pos == n;
        self.split_leaf(d.path, d.leaf, pos, &cell, append).await
    }

    async fn split_leaf(
        &mut self,
        path: Vec<(u64, usize)>,
        leaf: u64,
        pos: usize,
        new_cell: &[u8],
        append: bool,
    ) -> Result<(), BTreeError> {
        let cap = node::capacity(self.sh().page_size);
        self.reserve_one().await?;
        let old = self.pbuf(leaf).to_vec();
        let mut cells: Vec<&[u8]> = (0..nslots(&old)).map(|i| page::cell(&old, i)).collect();
        cells.insert(pos, new_cell);
        let sizes: Vec<usize> = cells.iter().map(|c| c.len() + 2).collect();
        let s = node::choose_leaf_split(&sizes, cap, append);
        let rid = self.new_page(KIND_LEAF, 0);
        let txn = self.txn;
        node::rebuild(
            self.pbuf_mut(rid),
            rid,
            txn,
            KIND_LEAF,
            0,
            None,
            &cells[s..],
        );
        node::rebuild(
            self.pbuf_mut(leaf),
            leaf,
            txn,
            KIND_LEAF,
            0,
            None,
            &cells[..s],
        );
        let sep = node::shortest_separator(cell_key(true, cells[s - 1]), cell_key(true, cells[s]));
        self.insert_separator(path, leaf, sep, rid, append).await
    }

    /// After page `left` split off `right` (both private, same level),
    /// inserts `sep` -> `right` into the parent, splitting upwards as needed.
    async fn insert_separator(
        &mut self,
        mut path: Vec<(u64, usize)>,
        mut left: u64,
        mut sep: Vec<u8>,
        mut right: u64,
        append: bool,
    ) -> Result<(), BTreeError> {
        let cap = node::capacity(self.sh().page_size);
        let txn = self.txn;
        loop {
            let c = branch_cell(&sep, self.me(right));
            let Some((pid, ci)) = path.pop() else {
                self.reserve_one().await?;
                let level = page::level(self.pbuf(left)) + 1;
                let nid = self.new_page(KIND_BRANCH, level);
                let first = self.me(left);
                node::rebuild(
                    self.pbuf_mut(nid),
                    nid,
                    txn,
                    KIND_BRANCH,
                    level,
                    Some(first),
                    &[c.as_slice()],
                );
                self.root = Some(self.me(nid));
                return Ok(());
            };
            if node::insert_cell(self.pbuf_mut(pid), ci, &c) {
                return Ok(());
            }
            self.reserve_one().await?;
            let old = self.pbuf(pid).to_vec();
            let n = nslots(&old);
            let level = page::level(&old);
            let mut cells: Vec<&[u8]> = (0..n).map(|i| page::cell(&old, i)).collect();
            cells.insert(ci, &c);
            let sizes: Vec<usize> = cells.iter().map(|c| c.len() + 2).collect();
            let m = node::choose_branch_split(&sizes, cap, append && ci == n);
            let rid = self.new_page(KIND_BRANCH, level);
            let right_first = cell_child(cells[m]);
            node::rebuild(
                self.pbuf_mut(rid),
                rid,
                txn,
                KIND_BRANCH,
                level,
                Some(right_first),
                &cells[m + 1..],
            );
            let left_first = page::aux_ref(&old);
            node::rebuild(
                self.pbuf_mut(pid),
                pid,
                txn,
                KIND_BRANCH,
                level,
                Some(left_first),
                &cells[..m],
            );
            sep = cell_key(false, cells[m]).to_vec();
            left = pid;
            right = rid;
        }
    }

    // ---- commit / abort ----

    /// Publishes this transaction's writes to new snapshots, atomically.
    /// Durable only once a later `checkpoint()` returns.
    pub async fn commit(mut self) -> Result<(), BTreeError> {
        self.check_usable()?;
        let sh = self.tree.shared.clone();
        let private = std::mem::take(&mut self.private);
        let extra = self.reserved - private.len();
        let state = super::alloc::Committed::new(self.txn, self.root);
        for (id, mut p) in private {
            // Committed pages get their cells in key order (sequential scans).
            if !node::is_compact(&p.buf) {
                node::compact(&mut p.buf);
            }
            let frame = sh.pool.insert_dirty(id, p.buf);
            if self.root.is_some_and(|r| r.id == id) {
                let _ = state.root_frame.set(frame);
            }
        }
        self.reserved = 0;
        if extra > 0 {
            sh.pool.unreserve(extra);
        }
        let freed = std::mem::take(&mut self.freed);
        for e in &freed {
            if e.len == 1 {
                sh.pool.mark_dead(e.start);
            }
        }
        let state = Arc::new(state);
        {
            let mut a = sh.alloc();
            let replaced = std::mem::replace(
                &mut *sh.current.write().unwrap_or_else(|e| e.into_inner()),
                state,
            );
            a.committed(self.txn, freed, replaced);
            a.reclaim(&|id| sh.pool.try_remove(id));
        }
        self.allocated.clear();
        self.finished = true;
        sh.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl<D: Disk> Drop for WriteTxn<D> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let sh = self.tree.shared.clone();
        self.private.clear();
        if self.reserved > 0 {
            sh.pool.unreserve(self.reserved);
            self.reserved = 0;
        }
        let mut a = sh.alloc();
        for (&start, &len) in &self.allocated {
            a.release_private(start, len);
        }
        // Snapshots dropped meanwhile may have made freed pages reusable.
        a.reclaim(&|id| sh.pool.try_remove(id));
    }
}
