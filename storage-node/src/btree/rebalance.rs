//! Deletes for [`WriteTxn`]: single keys, key ranges, and the rebalancing
//! that keeps the tree from degrading.
//!
//! Rebalancing (after cells leave a page, on every level of the path): a
//! non-root page that is less
//! than a third full (or empty) is merged with a sibling — the left one if
//! it has one, else the right one — when both fit in one page. The merged
//! content goes into the current (private) page, the sibling is freed, and
//! the separator between them leaves the parent, which may in turn become
//! underfull. A root leaf that becomes empty makes the tree empty; a root
//! branch left with a single child is replaced by that child. Pages that
//! cannot merge stay as they are (always valid, possibly a branch with one
//! child).
//!
//! `delete_range` works one leaf at a time: descend to the first key in
//! range, dropping on the way every subtree that lies wholly inside the
//! range (its pages are read to count entries and find overflow runs, never
//! copied), drop every in-range cell of the leaf in one rebuild, rebalance
//! the path, and continue from the leaf's upper fence (the separator to its
//! right) until a key past the range or the end of the tree is reached.

use super::BTreeError;
use super::node::{self, branch_cell};
use super::page::{
    self, HEADER_BYTES, KIND_LEAF, LeafVal, PageRef, branch_child, branch_key, leaf_key,
    leaf_search, leaf_val, nslots,
};
use super::txn::WriteTxn;
use crate::io::Disk;
use std::ops::Bound;

fn before_end(k: &[u8], end: &Bound<&[u8]>) -> bool {
    match end {
        Bound::Unbounded => true,
        Bound::Included(e) => k <= *e,
        Bound::Excluded(e) => k < *e,
    }
}

fn range_is_empty(start: &Bound<&[u8]>, end: &Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s >= e
        }
        _ => false,
    }
}

impl<D: Disk> WriteTxn<D> {
    /// Deletes `key`; true if it was present.
    pub async fn delete(&mut self, key: &[u8]) -> Result<bool, BTreeError> {
        if key.len() > self.tree.max_key_bytes() {
            return Ok(false);
        }
        self.start_op()?;
        let r = self.delete_inner(key).await;
        self.end_op(r)
    }

    async fn delete_inner(&mut self, key: &[u8]) -> Result<bool, BTreeError> {
        if self.root.is_none() {
            return Ok(false);
        }
        self.maybe_spill().await?;
        let d = self.descend_mut(key).await?;
        let b = self.pbuf(d.leaf);
        let Ok(pos) = leaf_search(b, key) else {
            return Ok(false);
        };
        if let LeafVal::Overflow { first, len } = leaf_val(b, pos) {
            self.free_overflow(first, len);
        }
        node::remove_cell(self.pbuf_mut(d.leaf), pos);
        self.rebalance(d.path, d.leaf).await?;
        Ok(true)
    }

    /// Deletes every key in the range; returns how many.
    pub async fn delete_range(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<u64, BTreeError> {
        if range_is_empty(&start, &end) {
            return Ok(0);
        }
        self.start_op()?;
        let r = self.delete_range_inner(start, end).await;
        self.end_op(r)
    }

    async fn delete_range_inner(
        &mut self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<u64, BTreeError> {
        let mut count = 0u64;
        let mut from: Bound<Vec<u8>> = start.map(<[u8]>::to_vec);
        while self.root.is_some() {
            self.maybe_spill().await?;
            let seek = match &from {
                Bound::Unbounded => None,
                Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
            };
            let (d, dropped) = self.descend_dropping(seek.as_deref(), &end).await?;
            count += dropped;
            let b = self.pbuf(d.leaf);
            let n = nslots(b);
            let first = match &from {
                Bound::Unbounded => 0,
                Bound::Included(k) => leaf_search(b, k).unwrap_or_else(|i| i),
                Bound::Excluded(k) => match leaf_search(b, k) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                },
            };
            let mut last = first;
            while last < n && before_end(leaf_key(b, last), &end) {
                last += 1;
            }
            let done = last < n || d.fence.as_deref().is_none_or(|f| !before_end(f, &end));
            if last > first || dropped > 0 {
                let overflows: Vec<(PageRef, usize)> = (first..last)
                    .filter_map(|i| match leaf_val(b, i) {
                        LeafVal::Overflow { first, len } => Some((first, len)),
                        LeafVal::Inline(_) => None,
                    })
                    .collect();
                let old = b.to_vec();
                let keep: Vec<&[u8]> = (0..first)
                    .chain(last..n)
                    .map(|i| page::cell(&old, i))
                    .collect();
                let (id, txn) = (d.leaf, self.txn);
                node::rebuild(self.pbuf_mut(id), id, txn, KIND_LEAF, 0, None, &keep);
                for (f, l) in overflows {
                    self.free_overflow(f, l);
                }
                count += (last - first) as u64;
                self.rebalance(d.path, d.leaf).await?;
            }
            match d.fence {
                Some(f) if !done => from = Bound::Included(f),
                _ => break,
            }
        }
        Ok(count)
    }

    /// Walks the path from `id` up to the root, merging underfull pages
    /// (see the module docs) and collapsing the root.
    pub(super) async fn rebalance(
        &mut self,
        mut path: Vec<(u64, usize)>,
        mut id: u64,
    ) -> Result<(), BTreeError> {
        let cap = node::capacity(self.sh().page_size);
        loop {
            let b = self.pbuf(id);
            let is_leaf = page::kind(b) == KIND_LEAF;
            let n = nslots(b);
            let Some((pid, ci)) = path.pop() else {
                if n > 0 {
                    return Ok(());
                }
                let me = self.me(id);
                let child = (!is_leaf).then(|| page::aux_ref(b));
                self.free_tree_page(me);
                self.root = child;
                // The lone child was on the descent path, so it is private;
                // it may itself be empty now.
                match child {
                    Some(c) if c.generation == self.txn => {
                        id = c.id;
                        continue;
                    }
                    _ => return Ok(()),
                }
            };
            if n == 0 || page::used_bytes(b) - HEADER_BYTES < cap / 3 {
                self.try_merge(pid, ci, id).await?;
            }
            id = pid;
        }
    }

    /// Merges page `id` (child `ci` of private branch `pid`) with a sibling
    /// if both fit in one page; the merged page keeps `id`.
    async fn try_merge(&mut self, pid: u64, ci: usize, id: u64) -> Result<(), BTreeError> {
        let cap = node::capacity(self.sh().page_size);
        let pb = self.pbuf(pid);
        if nslots(pb) == 0 {
            return Ok(());
        }
        let (si, sep_idx) = if ci > 0 {
            (ci - 1, ci - 1)
        } else {
            (ci + 1, ci)
        };
        let sref = branch_child(pb, si);
        let sep = branch_key(pb, sep_idx).to_vec();
        let sib = self.read_page(sref, <[u8]>::to_vec).await?;
        let mine = self.pbuf(id).to_vec();
        if page::kind(&sib) != page::kind(&mine) || page::level(&sib) != page::level(&mine) {
            return Err(self.sh().pool.corrupt(
                sref.id,
                format!(
                    "sibling of kind {} level {} next to kind {} level {}",
                    page::kind(&sib),
                    page::level(&sib),
                    page::kind(&mine),
                    page::level(&mine)
                ),
            ));
        }
        let is_leaf = page::kind(&mine) == KIND_LEAF;
        let (lb, rb) = if si < ci {
            (&sib, &mine)
        } else {
            (&mine, &sib)
        };
        let sep_cell = (!is_leaf).then(|| branch_cell(&sep, page::aux_ref(rb)));
        let mut cells: Vec<&[u8]> = (0..nslots(lb)).map(|i| page::cell(lb, i)).collect();
        cells.extend(sep_cell.as_deref());
        cells.extend((0..nslots(rb)).map(|i| page::cell(rb, i)));
        if node::cells_bytes(&cells) > cap {
            return Ok(());
        }
        let first_child = (!is_leaf).then(|| page::aux_ref(lb));
        let (kind, level, txn) = (page::kind(&mine), page::level(&mine), self.txn);
        node::rebuild(self.pbuf_mut(id), id, txn, kind, level, first_child, &cells);
        self.free_tree_page(sref);
        let me = self.me(id);
        let pbm = self.pbuf_mut(pid);
        node::remove_cell(pbm, sep_idx);
        node::set_child(pbm, sep_idx, me);
        Ok(())
    }

    /// Like `descend_mut` towards `from`, but at every branch on the way
    /// drops (without copying) the children lying wholly inside
    /// `from..end`. Returns the descent and the entries dropped.
    async fn descend_dropping(
        &mut self,
        from: Option<&[u8]>,
        end: &Bound<&[u8]>,
    ) -> Result<(super::txn::Descent, u64), BTreeError> {
        let root = self.root.expect("descend_dropping needs a root");
        let mut id = self.make_private(root).await?;
        self.root = Some(self.me(id));
        let mut path = Vec::new();
        let mut fence = None;
        let mut dropped = 0u64;
        loop {
            let b = self.pbuf(id);
            if page::kind(b) == KIND_LEAF {
                let d = super::txn::Descent {
                    path,
                    leaf: id,
                    rightmost: false,
                    fence,
                };
                return Ok((d, dropped));
            }
            let n = nslots(b);
            let ci = from.map_or(0, |k| page::branch_search(b, k));
            // Children ci+1 .. cj-1 hold only keys inside the range.
            let cj = match end {
                Bound::Unbounded => n + 1,
                Bound::Included(e) | Bound::Excluded(e) => page::branch_search(b, e),
            };
            if cj > ci + 1 {
                let victims: Vec<PageRef> = (ci + 1..cj).map(|k| branch_child(b, k)).collect();
                for _ in ci + 1..cj {
                    node::remove_cell(self.pbuf_mut(id), ci);
                }
                for v in victims {
                    dropped += self.drop_subtree(v).await?;
                }
            }
            let b = self.pbuf(id);
            if ci < nslots(b) {
                fence = Some(branch_key(b, ci).to_vec());
            }
            let cid = self.descend_private(id, ci).await?;
            path.push((id, ci));
            id = cid;
        }
    }

    /// Frees every page of the subtree at `r` (reading, never copying, its
    /// pages) and its overflow runs; returns the entries it held.
    async fn drop_subtree(&mut self, r: PageRef) -> Result<u64, BTreeError> {
        let mut entries = 0u64;
        let mut stack = vec![r];
        while let Some(r) = stack.pop() {
            let (children, overflows, n) = self
                .read_page(r, |b| {
                    let n = nslots(b);
                    if page::kind(b) == KIND_LEAF {
                        let ovf: Vec<(PageRef, usize)> = (0..n)
                            .filter_map(|i| match leaf_val(b, i) {
                                LeafVal::Overflow { first, len } => Some((first, len)),
                                LeafVal::Inline(_) => None,
                            })
                            .collect();
                        (Vec::new(), ovf, n as u64)
                    } else {
                        ((0..=n).map(|i| branch_child(b, i)).collect(), Vec::new(), 0)
                    }
                })
                .await?;
            entries += n;
            stack.extend(children);
            for (f, l) in overflows {
                self.free_overflow(f, l);
            }
            self.free_tree_page(r);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ranges() {
        let a: &[u8] = b"a";
        let b: &[u8] = b"b";
        assert!(range_is_empty(&Bound::Included(b), &Bound::Included(a)));
        assert!(!range_is_empty(&Bound::Included(a), &Bound::Included(a)));
        assert!(range_is_empty(&Bound::Excluded(a), &Bound::Included(a)));
        assert!(range_is_empty(&Bound::Included(a), &Bound::Excluded(a)));
        assert!(!range_is_empty(&Bound::Excluded(a), &Bound::Excluded(b)));
        assert!(!range_is_empty(&Bound::Unbounded, &Bound::Excluded(a)));
    }
}
