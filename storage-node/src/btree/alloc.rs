//! Page allocation and the rules for reusing freed pages.
//!
//! Pages are freed by a write transaction `T` when it shadows or deletes a
//! committed page ("freed at T"). A page freed at `T` may be reused only when
//! 1. no live snapshot reads a state older than `T` (snapshots keep their
//!    `Arc<Committed>` alive; the allocator keeps weak references to older
//!    states in `history` and checks which are still alive), and
//! 2. it is not part of a protected checkpoint: the last durable one or one
//!    being written. A page allocated at generation `g` and freed at `T` is
//!    part of checkpoint `C`'s state iff `g <= C < T`; such pages are *held*
//!    until a checkpoint `>= T` is durable. So a crash at any moment finds
//!    the last durable checkpoint's pages untouched.
//!
//! Pages a transaction allocated and frees again before committing are
//! reusable at once (nothing else ever saw them). The free-list pages a
//! checkpoint writes are held until the next checkpoint is durable.
//!
//! Allocation takes the lowest free page (keeps the file compact); overflow
//! values take a contiguous run (first fit, else the end of the file).
//! Neighbours: `btree/txn.rs` (allocates and frees), `btree/checkpoint.rs`
//! (writes the free list), `btree/pool.rs` (frames of released pages are
//! dropped through `try_remove` so a reused id never shows stale bytes).

use super::page::PageRef;
use super::pool::Frame;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock, Weak};

/// A committed state: what a snapshot reads.
pub(crate) struct Committed {
    pub txn: u64,
    pub root: Option<PageRef>,
    /// The root page, pinned while this state lives (set at commit, or by
    /// the first reader after open): saves every lookup one pool probe and
    /// keeps readers off the root's shard lock.
    pub root_frame: OnceLock<Arc<Frame>>,
    /// The root's children, each pinned by the first point get that
    /// reaches it while this state lives, if the root is a branch with few
    /// enough children (`btree/cursor.rs`): saves gets a second pool probe.
    pub root_children: OnceLock<Box<[OnceLock<Arc<Frame>>]>>,
}

impl Committed {
    pub fn new(txn: u64, root: Option<PageRef>) -> Committed {
        Committed {
            txn,
            root,
            root_frame: OnceLock::new(),
            root_children: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Committed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Committed(txn {}, root {:?})", self.txn, self.root)
    }
}

/// Freed pages `start..start + len`, all allocated at `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    pub start: u64,
    pub len: u64,
    pub generation: u64,
}

/// A set of page ids as disjoint, non-adjacent extents.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtentSet {
    map: BTreeMap<u64, u64>,
    pages: u64,
}

impl ExtentSet {
    pub fn pages(&self) -> u64 {
        self.pages
    }

    pub fn extents(&self) -> usize {
        self.map.len()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.map
            .range(..=id)
            .next_back()
            .is_some_and(|(&s, &l)| id < s + l)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &l)| (s, l))
    }

    /// Adds `start..start+len`; `Err` if any of it is already present.
    pub fn try_insert(&mut self, start: u64, len: u64) -> Result<(), String> {
        if len == 0 {
            return Err(format!("empty extent at {start}"));
        }
        let end = start
            .checked_add(len)
            .ok_or_else(|| format!("extent {start}+{len} overflows"))?;
        let (mut s, mut l) = (start, len);
        if let Some((&ps, &pl)) = self.map.range(..=start).next_back() {
            if ps + pl > start {
                return Err(format!(
                    "pages {start}..{end} overlap free extent {ps}..{}",
                    ps + pl
                ));
            }
            if ps + pl == start {
                s = ps;
                l += pl;
            }
        }
        if let Some((&ns, &nl)) = self.map.range(start..).next() {
            if end > ns {
                return Err(format!(
                    "pages {start}..{end} overlap free extent {ns}..{}",
                    ns + nl
                ));
            }
            if end == ns {
                self.map.remove(&ns);
                l += nl;
            }
        }
        if s != start {
            self.map.remove(&s);
        }
        self.map.insert(s, l);
        self.pages += len;
        Ok(())
    }

    /// Adds pages that must not already be free (a double free is a bug
    /// that would corrupt the tree, so it stops the process).
    pub fn insert(&mut self, start: u64, len: u64) {
        if let Err(e) = self.try_insert(start, len) {
            panic!("btree allocator invariant violated: {e}");
        }
    }

    pub fn pop_first(&mut self) -> Option<u64> {
        let (&s, &l) = self.map.iter().next()?;
        self.map.remove(&s);
        if l > 1 {
            self.map.insert(s + 1, l - 1);
        }
        self.pages -= 1;
        Some(s)
    }

    /// First extent with at least `n` pages: takes its first `n`.
    pub fn take_run(&mut self, n: u64) -> Option<u64> {
        let (&s, &l) = self.map.iter().find(|&(_, &l)| l >= n)?;
        self.map.remove(&s);
        if l > n {
            self.map.insert(s + n, l - n);
        }
        self.pages -= n;
        Some(s)
    }

    /// Removes and returns the extent ending exactly at `end`, if any.
    fn take_tail(&mut self, end: u64) -> Option<(u64, u64)> {
        let (&s, &l) = self.map.iter().next_back()?;
        if s + l != end {
            return None;
        }
        self.map.remove(&s);
        self.pages -= l;
        Some((s, l))
    }
}

/// Allocator state; lives under one mutex in the tree.
#[derive(Debug)]
pub(crate) struct Alloc {
    pub free: ExtentSet,
    /// Pages in the file: ids `>= next_page` have never been handed out.
    pub next_page: u64,
    /// Last durable checkpoint (its transaction id).
    pub durable_txn: u64,
    /// Checkpoint being written, if any.
    pub inflight_txn: Option<u64>,
    /// Freed at `T`, waiting for older snapshots to go away.
    pending: VecDeque<(u64, Vec<Extent>)>,
    /// Freed at `T` but part of a protected checkpoint.
    held: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Released, but a frame was still being written back: retried later.
    busy: Vec<u64>,
    /// Older committed states that snapshots may still read (weak: a state
    /// no snapshot holds is freed at once, with its pinned root frame).
    history: VecDeque<(u64, Weak<Committed>)>,
}

impl Alloc {
    pub fn new(free: ExtentSet, next_page: u64, durable_txn: u64) -> Alloc {
        Alloc {
            free,
            next_page,
            durable_txn,
            inflight_txn: None,
            pending: VecDeque::new(),
            held: BTreeMap::new(),
            busy: Vec::new(),
            history: VecDeque::new(),
        }
    }

    pub fn alloc_page(&mut self) -> u64 {
        self.free.pop_first().unwrap_or_else(|| {
            self.next_page += 1;
            self.next_page - 1
        })
    }

    /// `n` contiguous pages.
    pub fn alloc_run(&mut self, n: u64) -> u64 {
        if let Some(s) = self.free.take_run(n) {
            return s;
        }
        if let Some((s, l)) = self.free.take_tail(self.next_page) {
            debug_assert!(l < n);
            self.next_page = s + n;
            return s;
        }
        self.next_page += n;
        self.next_page - n
    }

    /// Returns pages nobody else has seen (freed by the transaction that
    /// allocated them, or by an aborted one).
    pub fn release_private(&mut self, start: u64, len: u64) {
        self.free.insert(start, len);
    }

    /// Pages held for protected checkpoints (e.g. a new free list).
    pub fn hold(&mut self, until_txn: u64, start: u64, len: u64) {
        self.held.entry(until_txn).or_default().push((start, len));
    }

    /// Records a commit: `freed` at `txn`, and the state it replaced.
    pub fn committed(&mut self, txn: u64, freed: Vec<Extent>, replaced: Arc<Committed>) {
        if !freed.is_empty() {
            self.pending.push_back((txn, freed));
        }
        self.history
            .push_back((replaced.txn, Arc::downgrade(&replaced)));
    }

    /// Moves pages whose reuse conditions now hold to the free set.
    /// `try_remove(id)` drops the page's cached frame; false = not now.
    pub fn reclaim(&mut self, try_remove: &dyn Fn(u64) -> bool) {
        while self
            .history
            .front()
            .is_some_and(|(_, s)| s.strong_count() == 0)
        {
            self.history.pop_front();
        }
        let min_live = self.history.front().map_or(u64::MAX, |(t, _)| *t);
        let busy = std::mem::take(&mut self.busy);
        for id in busy {
            self.release(id, 1, try_remove);
        }
        while self.pending.front().is_some_and(|(t, _)| *t <= min_live) {
            let Some((t, exts)) = self.pending.pop_front() else {
                break;
            };
            for e in exts {
                let d = self.durable_txn;
                let protected = (e.generation <= d && d < t)
                    || self
                        .inflight_txn
                        .is_some_and(|c| e.generation <= c && c < t);
                if protected {
                    self.hold(t, e.start, e.len);
                } else {
                    self.release(e.start, e.len, try_remove);
                }
            }
        }
    }

    fn release(&mut self, start: u64, len: u64, try_remove: &dyn Fn(u64) -> bool) {
        let mut run = start;
        for id in start..start + len {
            if !try_remove(id) {
                if run < id {
                    self.free.insert(run, id - run);
                }
                self.busy.push(id);
                run = id + 1;
            }
        }
        if run < start + len {
            self.free.insert(run, start + len - run);
        }
    }

    /// Checkpoint `txn` is durable: releases what was held for older ones.
    pub fn checkpoint_durable(&mut self, txn: u64, try_remove: &dyn Fn(u64) -> bool) {
        self.durable_txn = txn;
        self.inflight_txn = None;
        let later = self.held.split_off(&(txn + 1));
        let done = std::mem::replace(&mut self.held, later);
        for (_, v) in done {
            for (s, l) in v {
                self.release(s, l, try_remove);
            }
        }
    }

    /// Every page free in the latest committed state: the free set plus
    /// everything pending, held or busy (all were freed at or before it).
    pub fn free_in_committed_state(&self) -> ExtentSet {
        let mut all = self.free.clone();
        for (_, v) in &self.pending {
            for e in v {
                all.insert(e.start, e.len);
            }
        }
        for v in self.held.values() {
            for &(s, l) in v {
                all.insert(s, l);
            }
        }
        for &id in &self.busy {
            all.insert(id, 1);
        }
        all
    }

    /// Pages freed but not yet reusable.
    pub fn unavailable_pages(&self) -> u64 {
        let p: u64 = self
            .pending
            .iter()
            .flat_map(|(_, v)| v.iter().map(|e| e.len))
            .sum();
        let h: u64 = self
            .held
            .values()
            .flat_map(|v| v.iter().map(|&(_, l)| l))
            .sum();
        p + h + self.busy.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn extent_set_matches_a_set_model() {
        crate::rng::for_each_seed(
            "btree::alloc::tests::extent_set_matches_a_set_model",
            50,
            |seed| {
                let mut rng = crate::rng::Rng::new(seed);
                let mut es = ExtentSet::default();
                let mut model = BTreeSet::new();
                for _ in 0..500 {
                    match rng.below(4) {
                        0 | 1 => {
                            let s = rng.below(200);
                            let l = rng.range(1, 5);
                            let overlaps = (s..s + l).any(|p| model.contains(&p));
                            assert_eq!(es.try_insert(s, l).is_err(), overlaps);
                            if !overlaps {
                                model.extend(s..s + l);
                            }
                        }
                        2 => assert_eq!(es.pop_first(), model.pop_first()),
                        _ => {
                            let n = rng.range(1, 4);
                            if let Some(s) = es.take_run(n) {
                                for p in s..s + n {
                                    assert!(model.remove(&p));
                                }
                            }
                        }
                    }
                    assert_eq!(es.pages(), model.len() as u64);
                    let flat: Vec<u64> = es.iter().flat_map(|(s, l)| s..s + l).collect();
                    assert_eq!(flat, model.iter().copied().collect::<Vec<_>>());
                    let v: Vec<(u64, u64)> = es.iter().collect();
                    assert!(
                        v.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0),
                        "not merged: {v:?}"
                    );
                }
            },
        );
    }

    #[test]
    fn protected_pages_wait_for_the_next_durable_checkpoint() {
        let mut a = Alloc::new(ExtentSet::default(), 10, 5);
        let keep = |_| true;
        let old = Arc::new(Committed::new(6, None));
        // page 3 from checkpoint 5's state, page 8 allocated after it
        a.committed(
            7,
            vec![
                Extent {
                    start: 3,
                    len: 1,
                    generation: 4,
                },
                Extent {
                    start: 8,
                    len: 1,
                    generation: 6,
                },
            ],
            old.clone(),
        );
        a.reclaim(&keep);
        assert_eq!(a.free.pages(), 0, "snapshot of txn 6 still alive");
        drop(old);
        a.reclaim(&keep);
        assert_eq!(a.free.iter().collect::<Vec<_>>(), vec![(8, 1)]);
        a.checkpoint_durable(6, &keep);
        assert_eq!(a.free.pages(), 1, "checkpoint 6 still contains page 3");
        a.checkpoint_durable(7, &keep);
        assert_eq!(a.free.iter().collect::<Vec<_>>(), vec![(3, 1), (8, 1)]);
    }
}
