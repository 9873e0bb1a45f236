//! Mutation of slotted (leaf and branch) pages owned by the open write
//! transaction: insert and remove cells, compaction, rebuilding a page from a
//! list of cells, choosing split points and separators.
//!
//! Only pages private to a write transaction are ever mutated (committed
//! pages are immutable; see `btree/txn.rs`). The format is described in
//! `btree/mod.rs`; read accessors are in `btree/page.rs`.
//!
//! Invariant kept by every function here: the page stays valid in the sense
//! of `page::validate` (slots sorted by key, cells inside the cell area, the
//! `frag` counter equal to the dead bytes inside the cell area).

use super::page::{
    self, BRANCH_CELL_HDR, HEADER_BYTES, LEAF_CELL_HDR, OVERFLOW_REF_BYTES, PageRef, VLEN_OVERFLOW,
    branch_cell_len_at, cell, cell_start, frag, gap, kind, leaf_cell_len_at, nslots, put_u16,
    put_u64, slot_off,
};

/// Usable bytes of a page (everything after the header).
pub(crate) fn capacity(page_size: usize) -> usize {
    page_size - HEADER_BYTES
}

/// The largest cell (excluding its 2-byte slot) a page accepts: two such
/// cells always fit in one page, so a split always succeeds.
pub(crate) fn max_cell_bytes(page_size: usize) -> usize {
    capacity(page_size) / 2 - 2
}

/// The largest key: an overflow leaf cell and a branch cell holding it both
/// fit within [`max_cell_bytes`].
pub(crate) fn max_key_bytes(page_size: usize) -> usize {
    max_cell_bytes(page_size) - LEAF_CELL_HDR - OVERFLOW_REF_BYTES
}

pub(crate) fn leaf_cell_inline(key: &[u8], val: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(LEAF_CELL_HDR + key.len() + val.len());
    c.extend_from_slice(&(key.len() as u16).to_le_bytes());
    c.extend_from_slice(&(val.len() as u32).to_le_bytes());
    c.extend_from_slice(key);
    c.extend_from_slice(val);
    c
}

pub(crate) fn leaf_cell_overflow(key: &[u8], first: PageRef, len: usize) -> Vec<u8> {
    let mut c = Vec::with_capacity(LEAF_CELL_HDR + key.len() + OVERFLOW_REF_BYTES);
    c.extend_from_slice(&(key.len() as u16).to_le_bytes());
    c.extend_from_slice(&(len as u32 | VLEN_OVERFLOW).to_le_bytes());
    c.extend_from_slice(key);
    c.extend_from_slice(&first.id.to_le_bytes());
    c.extend_from_slice(&first.generation.to_le_bytes());
    c
}

pub(crate) fn branch_cell(key: &[u8], child: PageRef) -> Vec<u8> {
    let mut c = Vec::with_capacity(BRANCH_CELL_HDR + key.len());
    c.extend_from_slice(&(key.len() as u16).to_le_bytes());
    c.extend_from_slice(&child.id.to_le_bytes());
    c.extend_from_slice(&child.generation.to_le_bytes());
    c.extend_from_slice(key);
    c
}

/// The key stored in a raw leaf or branch cell.
pub(crate) fn cell_key(is_leaf: bool, c: &[u8]) -> &[u8] {
    let klen = u16::from_le_bytes([c[0], c[1]]) as usize;
    let h = if is_leaf {
        LEAF_CELL_HDR
    } else {
        BRANCH_CELL_HDR
    };
    &c[h..h + klen]
}

/// The child stored in a raw branch cell.
pub(crate) fn cell_child(c: &[u8]) -> PageRef {
    PageRef {
        id: page::u64_at(c, 2),
        generation: page::u64_at(c, 10),
    }
}

fn cell_len_at(b: &[u8], off: usize) -> usize {
    if kind(b) == page::KIND_LEAF {
        leaf_cell_len_at(b, off)
    } else {
        branch_cell_len_at(b, off)
    }
}

/// Writes `cells` contiguously in key order (ascending addresses, ending
/// at the page end) and points the slots at them; returns the cell start.
fn lay_out<C: AsRef<[u8]>>(b: &mut [u8], cells: &[C]) -> usize {
    let total: usize = cells.iter().map(|c| c.as_ref().len()).sum();
    let start = b.len() - total;
    assert!(
        HEADER_BYTES + 2 * cells.len() <= start,
        "cells overflow the page"
    );
    let mut off = start;
    for (i, c) in cells.iter().enumerate() {
        let c = c.as_ref();
        b[off..off + c.len()].copy_from_slice(c);
        put_u16(b, HEADER_BYTES + 2 * i, off as u16);
        off += c.len();
    }
    start
}

/// Rewrites the cell area without holes, cells in key order (so scans read
/// memory sequentially).
pub(crate) fn compact(b: &mut [u8]) {
    let old = b.to_vec();
    let cells: Vec<&[u8]> = (0..nslots(&old)).map(|i| cell(&old, i)).collect();
    let start = lay_out(b, &cells);
    page::set_cell_start(b, start);
    page::set_frag(b, 0);
}

/// True when the cells already lie in key order without holes.
pub(crate) fn is_compact(b: &[u8]) -> bool {
    if frag(b) != 0 {
        return false;
    }
    let mut expect = cell_start(b);
    for i in 0..nslots(b) {
        let off = slot_off(b, i);
        if off != expect {
            return false;
        }
        expect += cell_len_at(b, off);
    }
    true
}

/// Inserts `c` as slot `pos`; false (page unchanged) if it does not fit.
pub(crate) fn insert_cell(b: &mut [u8], pos: usize, c: &[u8]) -> bool {
    let need = c.len() + 2;
    if gap(b) < need {
        if gap(b) + frag(b) < need {
            return false;
        }
        compact(b);
    }
    let n = nslots(b);
    let off = cell_start(b) - c.len();
    b[off..off + c.len()].copy_from_slice(c);
    let s = HEADER_BYTES + 2 * pos;
    b.copy_within(s..HEADER_BYTES + 2 * n, s + 2);
    put_u16(b, s, off as u16);
    page::set_nslots(b, n + 1);
    page::set_cell_start(b, off);
    true
}

/// Removes slot `pos` (its bytes become fragmentation unless they were at
/// the start of the cell area).
pub(crate) fn remove_cell(b: &mut [u8], pos: usize) {
    let n = nslots(b);
    let off = slot_off(b, pos);
    let len = cell_len_at(b, off);
    if off == cell_start(b) {
        page::set_cell_start(b, off + len);
    } else {
        page::set_frag(b, frag(b) + len);
    }
    let s = HEADER_BYTES + 2 * pos;
    b.copy_within(s + 2..HEADER_BYTES + 2 * n, s);
    page::set_nslots(b, n - 1);
}

/// Replaces the whole content of a page with `cells` (in order) under a
/// fresh header; the caller checked that they fit.
pub(crate) fn rebuild(
    b: &mut [u8],
    id: u64,
    generation: u64,
    kind: u8,
    level: u8,
    first_child: Option<PageRef>,
    cells: &[&[u8]],
) {
    page::init(b, id, generation, kind, level);
    if let Some(r) = first_child {
        page::set_aux_ref(b, r);
    }
    let off = lay_out(b, cells);
    page::set_nslots(b, cells.len());
    page::set_cell_start(b, off);
}

/// Bytes the cells need in a page (cells plus their slots).
pub(crate) fn cells_bytes<C: AsRef<[u8]>>(cells: &[C]) -> usize {
    cells.iter().map(|c| c.as_ref().len() + 2).sum()
}

/// Sets child `i` (`0..=nslots`) of a branch.
pub(crate) fn set_child(b: &mut [u8], i: usize, r: PageRef) {
    if i == 0 {
        page::set_aux_ref(b, r);
    } else {
        let off = slot_off(b, i - 1);
        put_u64(b, off + 2, r.id);
        put_u64(b, off + 10, r.generation);
    }
}

/// Split point for a leaf holding `cells` (in order): left gets `..s`,
/// right `s..`. Both halves fit in `cap`; among those splits the one with
/// the most even byte balance, unless `append` (the new cell went to the
/// end of the rightmost leaf) asks to keep the left page full.
pub(crate) fn choose_leaf_split(sizes: &[usize], cap: usize, append: bool) -> usize {
    let total: usize = sizes.iter().sum();
    let n = sizes.len();
    if append && total - sizes[n - 1] <= cap && sizes[n - 1] <= cap {
        return n - 1;
    }
    let mut best = None;
    let mut left = 0;
    for s in 1..n {
        left += sizes[s - 1];
        let right = total - left;
        if left <= cap && right <= cap {
            let d = left.abs_diff(right);
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((s, d));
            }
        }
    }
    best.map(|(s, _)| s)
        .expect("leaf split: cells are at most half a page, so a split always exists")
}

/// Split point for a branch holding `cells`: left keeps `..m`, cell `m`'s
/// key moves up (its child becomes the right page's first child), right
/// gets `m+1..`. Needs at least three cells.
pub(crate) fn choose_branch_split(sizes: &[usize], cap: usize, append: bool) -> usize {
    let total: usize = sizes.iter().sum();
    let n = sizes.len();
    assert!(n >= 3, "branch split needs at least three cells");
    if append && total - sizes[n - 1] - sizes[n - 2] <= cap {
        return n - 2;
    }
    let mut best = None;
    let mut left = 0;
    for m in 1..n - 1 {
        left += sizes[m - 1];
        let right = total - left - sizes[m];
        if left <= cap && right <= cap {
            let d = left.abs_diff(right);
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((m, d));
            }
        }
    }
    best.map(|(m, _)| m)
        .expect("branch split: cells are at most half a page, so a split always exists")
}

/// The shortest key `s` with `left_last < s <= right_first` (suffix
/// truncation): a prefix of `right_first`.
pub(crate) fn shortest_separator(left_last: &[u8], right_first: &[u8]) -> Vec<u8> {
    debug_assert!(left_last < right_first);
    let common = left_last
        .iter()
        .zip(right_first)
        .take_while(|(a, b)| a == b)
        .count();
    right_first[..(common + 1).min(right_first.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::{KIND_LEAF, leaf_key, leaf_search, validate};

    #[test]
    fn insert_remove_compact_keep_order() {
        let mut b = vec![0u8; 512];
        page::init(&mut b, 5, 1, KIND_LEAF, 0);
        let keys: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'k', i * 3]).collect();
        for k in keys.iter().rev() {
            let pos = leaf_search(&b, k).unwrap_err();
            assert!(insert_cell(&mut b, pos, &leaf_cell_inline(k, b"value")));
        }
        validate(&b).unwrap();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(leaf_key(&b, i), &k[..]);
        }
        for _ in 0..10 {
            remove_cell(&mut b, 3);
        }
        validate(&b).unwrap();
        assert!(frag(&b) > 0);
        let used = page::used_bytes(&b);
        compact(&mut b);
        assert_eq!(frag(&b), 0);
        assert_eq!(page::used_bytes(&b), used);
        validate(&b).unwrap();
        // fill until full: insert fails cleanly, page unchanged and valid
        let mut i = 0u16;
        loop {
            let k = [b'z', (i >> 8) as u8, i as u8];
            let pos = leaf_search(&b, &k).unwrap_err();
            if !insert_cell(&mut b, pos, &leaf_cell_inline(&k, b"0123456789")) {
                break;
            }
            i += 1;
        }
        validate(&b).unwrap();
        assert!(gap(&b) + frag(&b) < 2 + LEAF_CELL_HDR + 3 + 10);
    }

    #[test]
    fn separators_are_short_and_between() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"abc", b"abd"),
            (b"ab", b"abzz"),
            (b"", b"a"),
            (b"apple", b"banana"),
        ];
        for (l, r) in cases {
            let s = shortest_separator(l, r);
            assert!(l < &s[..] && &s[..] <= r, "{l:?} {s:?} {r:?}");
        }
        assert_eq!(shortest_separator(b"apple", b"banana"), b"b");
    }

    #[test]
    fn splits_fit() {
        let cap = 448;
        let sizes = [220, 220, 10];
        let s = choose_leaf_split(&sizes, cap, false);
        assert!(sizes[..s].iter().sum::<usize>() <= cap);
        assert!(sizes[s..].iter().sum::<usize>() <= cap);
        assert_eq!(choose_leaf_split(&[100, 100, 100, 40], cap, true), 3);
        let m = choose_branch_split(&[220, 220, 220], cap, false);
        assert_eq!(m, 1);
    }
}
