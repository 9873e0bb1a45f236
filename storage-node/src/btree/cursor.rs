//! Read side: [`Snapshot`] (a pinned committed state) and [`Cursor`] (a
//! forward or backward scan over a key range of a snapshot).
//!
//! A snapshot holds an `Arc` of its committed state; while any clone (or a
//! cursor made from it) is alive, the allocator does not reuse pages freed
//! after that state (`btree/alloc.rs`), so every page it can reach keeps its
//! content even after eviction from the pool. Snapshots are cheap: two `Arc`
//! clones, no allocation.
//!
//! A point get descends without holding frames: the state's pinned root
//! frame, then (if the root has at most 1/`ROOT_CHILDREN_POOL_SHARE` of the
//! pool's pages as children) the root child the state pins on first use,
//! then each lower page searched under its pool shard lock
//! (`Pool::with_cached`); only misses and overflow values await.
//!
//! A copy-on-write tree has no sibling links, so a cursor keeps the path
//! from the root as `(page ref, child index)` pairs and re-fetches branch
//! pages (cheap hits, normally) when it moves to the next leaf. It pins
//! only its current leaf frame (so `key()`/`value()` can borrow from it);
//! overflow values are read into an owned buffer.

use super::BTreeError;
use super::alloc::Committed;
use super::overflow;
use super::page::{self, KIND_BRANCH, KIND_LEAF, LeafVal, PageRef, branch_child, leaf_val, nslots};
use super::pool::{Frame, Pool};
use super::tree::BTree;
use crate::io::{Disk, DiskFile};
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

/// A committed state pins its root's children for point gets only if they
/// are at most this fraction (1/n) of the pool's pages.
const ROOT_CHILDREN_POOL_SHARE: usize = 16;

/// Scan direction of a [`Cursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A consistent read view of one committed state.
pub struct Snapshot<D: Disk> {
    tree: BTree<D>,
    state: Arc<Committed>,
}

impl<D: Disk> Clone for Snapshot<D> {
    fn clone(&self) -> Self {
        Snapshot {
            tree: self.tree.clone(),
            state: self.state.clone(),
        }
    }
}

/// Fetches a page through the pool: the lean hit path inline, the miss path
/// awaited only when needed.
#[inline]
async fn fetch<F: DiskFile>(pool: &Pool<F>, r: PageRef) -> Result<Arc<Frame>, BTreeError> {
    if let Some(f) = pool.lookup(r.id) {
        pool.check_frame(&f, r)?;
        return Ok(f);
    }
    pool.load(r).await
}

/// Checks that a page reached from a branch at `parent_level` is a tree
/// page one level down.
#[inline]
fn check_child<F: DiskFile>(
    pool: &Pool<F>,
    f: &Frame,
    r: PageRef,
    parent_level: Option<u8>,
) -> Result<(), BTreeError> {
    let k = f.kind();
    let ok =
        (k == KIND_LEAF || k == KIND_BRANCH) && parent_level.is_none_or(|p| f.level() + 1 == p);
    if ok {
        Ok(())
    } else {
        Err(pool.corrupt(
            r.id,
            format!(
                "page of kind {k} at level {} where a tree page below level {parent_level:?} belongs",
                f.level()
            ),
        ))
    }
}

/// What one level of a point lookup found.
enum GetStep {
    /// Descend to child `index` of a branch at `level`.
    Child {
        index: usize,
        child: PageRef,
        level: u8,
    },
    Done(Option<Vec<u8>>),
    Overflow {
        first: PageRef,
        len: usize,
    },
}

/// One level of a point lookup on the page `f`, reached through `r` from a
/// branch at `parent_level` (`None` for the root).
#[inline]
fn get_step<F: DiskFile>(
    pool: &Pool<F>,
    f: &Frame,
    r: PageRef,
    parent_level: Option<u8>,
    key: &[u8],
) -> Result<GetStep, BTreeError> {
    pool.check_frame(f, r)?;
    check_child(pool, f, r, parent_level)?;
    if f.kind() == KIND_BRANCH {
        let index = f.branch_search(key);
        return Ok(GetStep::Child {
            index,
            child: f.child(index),
            level: f.level(),
        });
    }
    Ok(match f.leaf_get(key) {
        None => GetStep::Done(None),
        Some(LeafVal::Inline(v)) => GetStep::Done(Some(v.to_vec())),
        Some(LeafVal::Overflow { first, len }) => GetStep::Overflow { first, len },
    })
}

impl<D: Disk> Snapshot<D> {
    pub(crate) fn new(tree: BTree<D>, state: Arc<Committed>) -> Snapshot<D> {
        Snapshot { tree, state }
    }

    pub(crate) fn root(&self) -> Option<PageRef> {
        self.state.root
    }

    pub(crate) fn tree(&self) -> &BTree<D> {
        &self.tree
    }

    /// The write transaction whose result this snapshot reads.
    pub fn txn(&self) -> u64 {
        self.state.txn
    }

    pub fn is_empty(&self) -> bool {
        self.state.root.is_none()
    }

    /// The root frame of this state (pinned by it once loaded).
    async fn root_frame(&self, root: PageRef) -> Result<&Arc<Frame>, BTreeError> {
        if let Some(f) = self.state.root_frame.get() {
            return Ok(f);
        }
        let pool = &self.tree.shared.pool;
        let f = fetch(pool, root).await?;
        check_child(pool, &f, root, None)?;
        Ok(self.state.root_frame.get_or_init(|| f))
    }

    /// Child `index` (the page `r`) of the root frame `rf`, pinned by this
    /// state, or `None` when the root has too many children to pin them
    /// all: more than 1/[`ROOT_CHILDREN_POOL_SHARE`] of the pool.
    async fn root_child(
        &self,
        rf: &Frame,
        index: usize,
        r: PageRef,
    ) -> Result<Option<&Arc<Frame>>, BTreeError> {
        let pool = &self.tree.shared.pool;
        let n = rf.nslots() + 1;
        if n > pool.frames_max() / ROOT_CHILDREN_POOL_SHARE {
            return Ok(None);
        }
        let children = self
            .state
            .root_children
            .get_or_init(|| (0..n).map(|_| OnceLock::new()).collect());
        if let Some(f) = children[index].get() {
            return Ok(Some(f));
        }
        let f = fetch(pool, r).await?;
        Ok(Some(children[index].get_or_init(|| f)))
    }

    /// The value stored under `key`, if any.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BTreeError> {
        let Some(root) = self.state.root else {
            return Ok(None);
        };
        let pool = &self.tree.shared.pool;
        // The root level borrows the pinned root frame: no pool probe; so
        // does the next one if this state pins the root's children.
        let rf = self.root_frame(root).await?;
        let mut step = get_step(pool, rf, root, None, key)?;
        if let GetStep::Child {
            index,
            child,
            level,
        } = step
            && let Some(f) = self.root_child(rf, index, child).await?
        {
            step = get_step(pool, f, child, Some(level), key)?;
        }
        loop {
            match step {
                // Below that, a hit works under the shard lock instead of
                // cloning (and later dropping) the frame's `Arc`.
                GetStep::Child {
                    child: r, level, ..
                } => {
                    step = match pool.with_cached(r.id, |f| get_step(pool, f, r, Some(level), key))
                    {
                        Some(s) => s?,
                        None => {
                            let f = pool.load(r).await?;
                            get_step(pool, &f, r, Some(level), key)?
                        }
                    };
                }
                GetStep::Done(v) => return Ok(v),
                GetStep::Overflow { first, len } => {
                    return overflow::read(pool, first, len).await.map(Some);
                }
            }
        }
    }
    /// A cursor over keys in `start..end` (per the bounds), in `dir` order.
    pub fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, dir: Direction) -> Cursor<D> {
        Cursor {
            snap: self.clone(),
            start,
            end,
            dir,
            state: State::Fresh,
            stack: Vec::new(),
            leaf: None,
            slot: 0,
            key_at: (0, 0),
            value: Value::None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fresh,
    Active,
    Done,
}

enum Value {
    None,
    /// Byte range inside the current leaf.
    Inline(usize, usize),
    Owned(Vec<u8>),
}

struct Level {
    page: PageRef,
    child: usize,
    nslots: usize,
    level: u8,
}

/// A scan over a key range of a [`Snapshot`] (which it keeps alive).
pub struct Cursor<D: Disk> {
    snap: Snapshot<D>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    dir: Direction,
    state: State,
    stack: Vec<Level>,
    leaf: Option<Arc<Frame>>,
    slot: usize,
    key_at: (usize, usize),
    value: Value,
}

impl<D: Disk> Cursor<D> {
    fn pool(&self) -> &Pool<D::File> {
        &self.snap.tree.shared.pool
    }

    /// Moves to the next entry in the cursor's direction; false at the end.
    pub async fn advance(&mut self) -> Result<bool, BTreeError> {
        let positioned = match self.state {
            State::Done => return Ok(false),
            State::Fresh => {
                self.state = State::Active;
                self.seek().await
            }
            State::Active => self.step().await,
        };
        match positioned {
            Ok(true) => {}
            Ok(false) => {
                self.finish();
                return Ok(false);
            }
            Err(e) => {
                self.finish();
                return Err(e);
            }
        }
        let leaf = self.leaf.as_ref().expect("positioned on a leaf");
        let b = leaf.bytes();
        let key = page::leaf_key(b, self.slot);
        let within = match (self.dir, &self.end, &self.start) {
            (Direction::Forward, Bound::Included(e), _) => key <= e.as_slice(),
            (Direction::Forward, Bound::Excluded(e), _) => key < e.as_slice(),
            (Direction::Backward, _, Bound::Included(s)) => key >= s.as_slice(),
            (Direction::Backward, _, Bound::Excluded(s)) => key > s.as_slice(),
            _ => true,
        };
        if !within {
            self.finish();
            return Ok(false);
        }
        let off = key.as_ptr() as usize - b.as_ptr() as usize;
        self.key_at = (off, off + key.len());
        match leaf_val(b, self.slot) {
            LeafVal::Inline(v) => {
                let off = v.as_ptr() as usize - b.as_ptr() as usize;
                self.value = Value::Inline(off, off + v.len());
            }
            LeafVal::Overflow { first, len } => {
                match overflow::read(&self.snap.tree.shared.pool, first, len).await {
                    Ok(v) => self.value = Value::Owned(v),
                    Err(e) => {
                        self.finish();
                        return Err(e);
                    }
                }
            }
        }
        Ok(true)
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.leaf = None;
        self.stack.clear();
        self.value = Value::None;
        self.key_at = (0, 0);
    }

    /// The current key (empty unless `advance` last returned true).
    pub fn key(&self) -> &[u8] {
        match &self.leaf {
            Some(l) if self.state == State::Active => &l.bytes()[self.key_at.0..self.key_at.1],
            _ => &[],
        }
    }

    /// The current value (empty unless `advance` last returned true).
    pub fn value(&self) -> &[u8] {
        match (&self.value, &self.leaf) {
            (Value::Inline(a, b), Some(l)) => &l.bytes()[*a..*b],
            (Value::Owned(v), _) => v,
            _ => &[],
        }
    }

    /// `advance` and copy out the entry.
    pub async fn next_owned(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>, BTreeError> {
        if !self.advance().await? {
            return Ok(None);
        }
        let v = match std::mem::replace(&mut self.value, Value::None) {
            Value::Owned(v) => v,
            other => {
                self.value = other;
                self.value().to_vec()
            }
        };
        Ok(Some((self.key().to_vec(), v)))
    }

    /// Descends to the first entry at or after the near bound.
    async fn seek(&mut self) -> Result<bool, BTreeError> {
        let Some(root) = self.snap.state.root else {
            return Ok(false);
        };
        let fwd = self.dir == Direction::Forward;
        let target: Option<Vec<u8>> = match if fwd { &self.start } else { &self.end } {
            Bound::Unbounded => None,
            Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
        };
        let mut r = root;
        let mut parent_level = None;
        loop {
            let f = if parent_level.is_none() {
                self.snap.root_frame(root).await?.clone()
            } else {
                fetch(self.pool(), r).await?
            };
            check_child(self.pool(), &f, r, parent_level)?;
            let n = f.nslots();
            if f.kind() == KIND_BRANCH {
                let ci = match &target {
                    Some(k) => f.branch_search(k),
                    None if fwd => 0,
                    None => n,
                };
                parent_level = Some(f.level());
                self.stack.push(Level {
                    page: r,
                    child: ci,
                    nslots: n,
                    level: f.level(),
                });
                r = branch_child(f.bytes(), ci);
                continue;
            }
            // Leaf: pick the slot at or past the near bound.
            let slot: Option<usize> = if fwd {
                let i = match &self.start {
                    Bound::Unbounded => 0,
                    Bound::Included(k) => f.leaf_search(k).unwrap_or_else(|i| i),
                    Bound::Excluded(k) => match f.leaf_search(k) {
                        Ok(i) => i + 1,
                        Err(i) => i,
                    },
                };
                (i < n).then_some(i)
            } else {
                let past = match &self.end {
                    Bound::Unbounded => n,
                    Bound::Included(k) => match f.leaf_search(k) {
                        Ok(i) => i + 1,
                        Err(i) => i,
                    },
                    Bound::Excluded(k) => f.leaf_search(k).unwrap_or_else(|i| i),
                };
                past.checked_sub(1)
            };
            self.leaf = Some(f);
            return match slot {
                Some(s) => {
                    self.slot = s;
                    Ok(true)
                }
                None => self.next_leaf().await,
            };
        }
    }

    /// Moves one entry in the cursor's direction.
    async fn step(&mut self) -> Result<bool, BTreeError> {
        let n = nslots(
            self.leaf
                .as_ref()
                .expect("active cursor has a leaf")
                .bytes(),
        );
        match self.dir {
            Direction::Forward if self.slot + 1 < n => {
                self.slot += 1;
                Ok(true)
            }
            Direction::Backward if self.slot > 0 => {
                self.slot -= 1;
                Ok(true)
            }
            _ => self.next_leaf().await,
        }
    }

    /// Moves to the first (forward) or last (backward) entry of the next
    /// non-empty leaf in the cursor's direction.
    async fn next_leaf(&mut self) -> Result<bool, BTreeError> {
        let fwd = self.dir == Direction::Forward;
        self.leaf = None;
        loop {
            // Climb to the nearest ancestor with a sibling in our direction.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    return Ok(false);
                };
                if fwd && top.child < top.nslots {
                    top.child += 1;
                    break;
                }
                if !fwd && top.child > 0 {
                    top.child -= 1;
                    break;
                }
                self.stack.pop();
            }
            let top = self.stack.last().expect("just found");
            let (pr, ci, plevel) = (top.page, top.child, top.level);
            let parent = fetch(self.pool(), pr).await?;
            let mut r = branch_child(parent.bytes(), ci);
            drop(parent);
            let mut parent_level = Some(plevel);
            // Descend to the edge leaf of that subtree.
            loop {
                let f = fetch(self.pool(), r).await?;
                check_child(self.pool(), &f, r, parent_level)?;
                let n = f.nslots();
                if f.kind() == KIND_BRANCH {
                    let ci = if fwd { 0 } else { n };
                    parent_level = Some(f.level());
                    self.stack.push(Level {
                        page: r,
                        child: ci,
                        nslots: n,
                        level: f.level(),
                    });
                    r = branch_child(f.bytes(), ci);
                    continue;
                }
                if n == 0 {
                    break; // an empty leaf (only ever transient); keep going
                }
                self.slot = if fwd { 0 } else { n - 1 };
                self.leaf = Some(f);
                return Ok(true);
            }
        }
    }
}
