//! [`SearchIndex`]: an in-memory search accelerator the buffer pool builds
//! for every cached leaf and branch page, so a point lookup touches a few
//! cache lines of a small array instead of a slot and a cell per
//! binary-search probe (on a random lookup each of those is a cache miss).
//!
//! A page's keys are sorted, so all of them share the common prefix `P` of
//! the first and the last key (kept up to [`PREFIX_MAX_BYTES`] bytes). The
//! index holds `P` and, per slot, one `u32`: the key's *head* (the two
//! bytes after `P`, big-endian, zero-padded when the key ends sooner) in
//! the high half and the cell's byte offset in the low half (pages are at
//! most 32 KiB, so it fits). Heads are monotone in the key (`x < y` implies
//! `head(x) <= head(y)` for keys that start with `P`), so a search compares
//! the probe key with `P` once, binary-searches the heads, and compares
//! whole keys only among the slots whose head equals the probe's (usually
//! none or one), reaching their cells without the page's slot array.
//!
//! Invariants: an index describes exactly the page bytes it was built from;
//! it is built only from pages that are immutable from then on (committed
//! pages in pool frames: verified ones read from disk, or pages a commit
//! publishes), so it never goes stale. Its size is at most
//! `PREFIX_MAX_BYTES + page_size / 8` bytes: pages with more than
//! `page_size / 32` slots get no index and are searched with the plain
//! binary search of `btree/page.rs` (the pool's memory notes are in
//! `btree/pool.rs`). Results equal those of `page::leaf_search`,
//! `page::branch_search` and the values and children they lead to on the
//! same page (tested below).

use super::page::{
    KIND_BRANCH, KIND_LEAF, LeafVal, PageRef, aux_ref, branch_cell_child_at, branch_key_at,
    cmp_keys, kind, leaf_key_at, leaf_val_at, nslots, slot_off,
};
use std::cmp::Ordering;

/// Longest common prefix an index stores; longer shared prefixes are cut
/// (still a prefix of every key, so heads stay correct, only less selective).
/// Stored inline, so reading it costs no cache miss of its own.
pub(crate) const PREFIX_MAX_BYTES: usize = 32;

/// Heads, cell offsets and common prefix of one leaf or branch page.
pub(crate) struct SearchIndex {
    prefix: [u8; PREFIX_MAX_BYTES],
    prefix_len: u8,
    /// Per slot: `head << 16 | cell offset`, so ordered by head.
    slots: Box<[u32]>,
    is_leaf: bool,
}

/// Where a probe key falls relative to the page's keys.
enum Span {
    /// Below every key.
    Before,
    /// Above every key.
    After,
    /// Keys `..lo` are smaller, keys `hi..` larger; keys `lo..hi` share
    /// the probe's head and must be compared in full.
    Between(usize, usize),
}

/// The two bytes of `k` after `p`, big-endian, zero-padded.
#[inline]
fn head(k: &[u8], p: usize) -> u32 {
    let rest = &k[p..];
    let mut h = 0u32;
    for i in 0..2 {
        h = h << 8 | u32::from(rest.get(i).copied().unwrap_or(0));
    }
    h
}

impl SearchIndex {
    /// The index of a valid leaf or branch page (in the sense of
    /// `page::validate`), or `None` for other kinds, empty pages and pages
    /// with more than `page_size / 32` slots.
    pub fn build(b: &[u8]) -> Option<SearchIndex> {
        let is_leaf = match kind(b) {
            KIND_LEAF => true,
            KIND_BRANCH => false,
            _ => return None,
        };
        let n = nslots(b);
        if n == 0 || n > b.len() / 32 {
            return None;
        }
        let key = |i| {
            if is_leaf {
                leaf_key_at(b, slot_off(b, i))
            } else {
                branch_key_at(b, slot_off(b, i))
            }
        };
        let (first, last) = (key(0), key(n - 1));
        let p = first
            .iter()
            .zip(last)
            .take_while(|(x, y)| x == y)
            .count()
            .min(PREFIX_MAX_BYTES);
        Some(SearchIndex {
            prefix: {
                let mut a = [0; PREFIX_MAX_BYTES];
                a[..p].copy_from_slice(&first[..p]);
                a
            },
            prefix_len: p as u8,
            slots: (0..n)
                .map(|i| head(key(i), p) << 16 | slot_off(b, i) as u32)
                .collect(),
            is_leaf,
        })
    }

    pub fn nslots(&self) -> usize {
        self.slots.len()
    }

    /// Byte offset of cell `i`.
    #[inline]
    fn off(&self, i: usize) -> usize {
        (self.slots[i] & 0xffff) as usize
    }

    #[inline]
    fn span(&self, key: &[u8]) -> Span {
        let p = usize::from(self.prefix_len);
        let m = p.min(key.len());
        match cmp_keys(&key[..m], &self.prefix[..m]) {
            Ordering::Less => return Span::Before,
            Ordering::Greater => return Span::After,
            // A proper prefix of `P` is below every key (they all start with `P`).
            Ordering::Equal if m < p => return Span::Before,
            Ordering::Equal => {}
        }
        let h = head(key, p);
        let lo = self.slots.partition_point(|&x| x >> 16 < h);
        // The run of equal heads starts at `lo`: gallop from there (runs
        // are short, and their entries share cache lines the search above
        // just loaded) rather than binary-search the rest of the array.
        let rest = &self.slots[lo..];
        let same = |i: usize| rest[i] >> 16 == h;
        let (mut known, mut probe, mut step) = (0, 0, 1);
        while probe < rest.len() && same(probe) {
            known = probe + 1;
            probe += step;
            step *= 2;
        }
        let end = probe.min(rest.len());
        let hi = lo + known + rest[known..end].partition_point(|&x| x >> 16 == h);
        Span::Between(lo, hi)
    }

    /// As `page::leaf_search` on the page `b` this index was built from.
    #[inline]
    pub fn leaf_search(&self, b: &[u8], key: &[u8]) -> Result<usize, usize> {
        debug_assert!(self.is_leaf);
        match self.span(key) {
            Span::Before => Err(0),
            Span::After => Err(self.nslots()),
            Span::Between(lo, hi) => self.leaf_search_in(b, key, lo, hi),
        }
    }

    /// Leaf search among slots `lo..hi`, all others known to differ.
    #[inline]
    fn leaf_search_in(
        &self,
        b: &[u8],
        key: &[u8],
        mut lo: usize,
        mut hi: usize,
    ) -> Result<usize, usize> {
        while lo < hi {
            let mid = (lo + hi) / 2;
            match cmp_keys(leaf_key_at(b, self.off(mid)), key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// As `page::branch_search` (separators `<= key`) on the page `b` this
    /// index was built from.
    #[inline]
    pub fn branch_search(&self, b: &[u8], key: &[u8]) -> usize {
        debug_assert!(!self.is_leaf);
        let (mut lo, mut hi) = match self.span(key) {
            Span::Before => return 0,
            Span::After => return self.nslots(),
            Span::Between(lo, hi) => (lo, hi),
        };
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_keys(branch_key_at(b, self.off(mid)), key) != Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The value stored under `key` in the leaf `b`, if any.
    #[inline]
    pub fn leaf_get<'a>(&self, b: &'a [u8], key: &[u8]) -> Option<LeafVal<'a>> {
        debug_assert!(self.is_leaf);
        let Span::Between(lo, hi) = self.span(key) else {
            return None;
        };
        if hi == lo + 1 {
            // The usual case: one candidate. Load the last byte of its
            // value before comparing keys, so the value's cache lines are
            // fetched while the comparison waits for the key's (the page
            // is valid, so every cell's value lies inside it).
            let off = self.off(lo);
            let v = leaf_val_at(b, off);
            if let LeafVal::Inline(bytes) = v {
                std::hint::black_box(bytes.last().copied());
            }
            return (cmp_keys(leaf_key_at(b, off), key) == Ordering::Equal).then_some(v);
        }
        let i = self.leaf_search_in(b, key, lo, hi).ok()?;
        Some(leaf_val_at(b, self.off(i)))
    }

    /// As `page::branch_child` (child `i`, `0..=nslots`) on the branch `b`
    /// this index was built from, without reading its slot array.
    #[inline]
    pub fn child(&self, b: &[u8], i: usize) -> PageRef {
        match i {
            0 => aux_ref(b),
            i => branch_cell_child_at(b, self.off(i - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node;
    use crate::btree::page;
    use crate::rng::{Rng, for_each_seed};

    /// Sorted distinct keys over a small alphabet with a shared prefix of
    /// random length (so prefixes, equal heads and short keys all occur).
    fn keys(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
        let shared_len = rng.below(80) as usize;
        let shared = rng.bytes(shared_len);
        let mut ks: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let mut k = shared[..rng.below(shared.len() as u64 + 1) as usize].to_vec();
                k.extend((0..rng.below(9)).map(|_| rng.below(3) as u8 * 100));
                k
            })
            .collect();
        ks.sort();
        ks.dedup();
        ks
    }

    /// Probes: every key, its neighbours, prefixes, and random strings.
    fn probes(rng: &mut Rng, ks: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut ps = vec![vec![], vec![0xff; 90]];
        for k in ks {
            ps.push(k.clone());
            let mut up = k.clone();
            up.push(0);
            ps.push(up);
            ps.push(k[..rng.below(k.len() as u64 + 1) as usize].to_vec());
            if let Some(l) = k.last() {
                let mut down = k.clone();
                *down.last_mut().expect("non-empty") = l.wrapping_sub(1);
                ps.push(down);
            }
        }
        for _ in 0..20 {
            ps.push(
                (0..rng.below(12))
                    .map(|_| rng.below(3) as u8 * 100)
                    .collect(),
            );
        }
        ps
    }

    #[test]
    fn indexed_search_matches_plain_search() {
        for_each_seed("indexed_search_matches_plain_search", 64, |seed| {
            let mut rng = Rng::new(seed);
            // Up to 100 keys of at most 88 bytes fit a 16 KiB page.
            let ps = 16384;
            let n = 1 + rng.below(100) as usize;
            let ks = keys(&mut rng, n);
            let child = PageRef {
                id: 9,
                generation: 1,
            };
            // Distinct values and children, so a wrong slot shows.
            let leaf_cells: Vec<Vec<u8>> = ks
                .iter()
                .enumerate()
                .map(|(i, k)| node::leaf_cell_inline(k, &i.to_le_bytes()))
                .collect();
            let branch_cells: Vec<Vec<u8>> = ks
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let c = PageRef {
                        id: 100 + i as u64,
                        generation: 2,
                    };
                    node::branch_cell(k, c)
                })
                .collect();
            let mut leaf = vec![0u8; ps];
            let refs: Vec<&[u8]> = leaf_cells.iter().map(|c| &c[..]).collect();
            node::rebuild(&mut leaf, 5, 1, KIND_LEAF, 0, None, &refs);
            let mut branch = vec![0u8; ps];
            let refs: Vec<&[u8]> = branch_cells.iter().map(|c| &c[..]).collect();
            node::rebuild(&mut branch, 6, 1, KIND_BRANCH, 1, Some(child), &refs);
            page::validate(&leaf).expect("valid leaf");
            page::validate(&branch).expect("valid branch");
            let li = SearchIndex::build(&leaf).expect("leaf index");
            let bi = SearchIndex::build(&branch).expect("branch index");
            assert_eq!(li.nslots(), ks.len());
            for p in probes(&mut rng, &ks) {
                assert_eq!(
                    li.leaf_search(&leaf, &p),
                    page::leaf_search(&leaf, &p),
                    "leaf, probe {p:?}, keys {ks:?}"
                );
                assert_eq!(
                    bi.branch_search(&branch, &p),
                    page::branch_search(&branch, &p),
                    "branch, probe {p:?}, keys {ks:?}"
                );
                let inline = |v: Option<LeafVal<'_>>| match v {
                    Some(LeafVal::Inline(v)) => Some(v.to_vec()),
                    Some(LeafVal::Overflow { .. }) => panic!("no overflow values here"),
                    None => None,
                };
                let plain = page::leaf_search(&leaf, &p)
                    .ok()
                    .map(|i| page::leaf_val(&leaf, i));
                assert_eq!(inline(li.leaf_get(&leaf, &p)), inline(plain), "probe {p:?}");
                let i = page::branch_search(&branch, &p);
                assert_eq!(bi.child(&branch, i), page::branch_child(&branch, i));
            }
        });
    }

    #[test]
    fn no_index_for_crowded_or_empty_pages() {
        let ps = 512;
        let mut b = vec![0u8; ps];
        page::init(&mut b, 5, 1, KIND_LEAF, 0);
        assert!(SearchIndex::build(&b).is_none(), "empty page");
        let cells: Vec<Vec<u8>> = (0..=ps / 32)
            .map(|i| node::leaf_cell_inline(&[i as u8], b""))
            .collect();
        let refs: Vec<&[u8]> = cells.iter().map(|c| &c[..]).collect();
        node::rebuild(&mut b, 5, 1, KIND_LEAF, 0, None, &refs);
        assert!(
            SearchIndex::build(&b).is_none(),
            "more than page_size / 32 slots"
        );
        node::rebuild(&mut b, 5, 1, KIND_LEAF, 0, None, &refs[..ps / 32]);
        assert!(SearchIndex::build(&b).is_some());
    }
}
