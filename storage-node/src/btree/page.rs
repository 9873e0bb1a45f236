//! Page format: the common header, checksums, and read-only accessors for
//! leaf, branch, overflow and free-list pages, working directly on the raw
//! page bytes (no decoding into structs on the read path).
//!
//! The byte diagrams are in the module docs of `btree/mod.rs`. Mutation of
//! leaf and branch pages lives in `btree/node.rs`; the superblock format in
//! `btree/superblock.rs`.
//!
//! Invariants of a page accepted by [`validate`] (checked once, when a page
//! is read from disk, after its checksum): every slot points at a cell that
//! lies wholly inside the cell area, keys are strictly increasing, counts fit
//! the page. Accessors below index with ordinary (bounds-checked) slicing, so
//! a bug can at worst panic, never read outside the page; bad disk data never
//! reaches them because [`validate`] rejects it first.

use std::cmp::Ordering;

/// Bytes of the common page header.
pub(crate) const HEADER_BYTES: usize = 64;
/// Smallest and largest supported page sizes (cell offsets are `u16`).
pub(crate) const PAGE_SIZE_MIN: usize = 512;
pub(crate) const PAGE_SIZE_MAX: usize = 32 * 1024;

pub(crate) const KIND_LEAF: u8 = 1;
pub(crate) const KIND_BRANCH: u8 = 2;
pub(crate) const KIND_OVERFLOW: u8 = 3;
pub(crate) const KIND_FREELIST: u8 = 4;

const OFF_ID: usize = 16;
const OFF_GEN: usize = 24;
const OFF_KIND: usize = 32;
const OFF_LEVEL: usize = 33;
const OFF_NSLOTS: usize = 34;
const OFF_CELL_START: usize = 36;
const OFF_FRAG: usize = 38;
const OFF_AUX_LEN: usize = 40;
const OFF_AUX_ID: usize = 48;
const OFF_AUX_GEN: usize = 56;

/// Leaf cell: `klen u16 | vlen u32 (bit 31: overflow) | key | value or ref`.
pub(crate) const LEAF_CELL_HDR: usize = 6;
/// Size of an overflow reference stored in a leaf cell (start id, generation).
pub(crate) const OVERFLOW_REF_BYTES: usize = 16;
/// Branch cell: `klen u16 | child id u64 | child generation u64 | key`.
pub(crate) const BRANCH_CELL_HDR: usize = 18;
/// Flag bit in a leaf cell's `vlen` marking an overflow value.
pub(crate) const VLEN_OVERFLOW: u32 = 1 << 31;
/// Bytes per free-list extent entry (start u64, len u64).
pub(crate) const FREELIST_ENTRY_BYTES: usize = 16;

/// A reference to a page: its id (offset / page size) and the generation
/// (id of the write transaction that allocated it). Reading through a ref
/// checks both against the page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PageRef {
    pub id: u64,
    pub generation: u64,
}

#[inline]
pub(crate) fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

#[inline]
pub(crate) fn u32_at(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}

#[inline]
pub(crate) fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

#[inline]
pub(crate) fn put_u16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

#[inline]
pub(crate) fn put_u32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

#[inline]
pub(crate) fn put_u64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

// ---- header ----

#[inline]
pub(crate) fn page_id(b: &[u8]) -> u64 {
    u64_at(b, OFF_ID)
}
#[inline]
pub(crate) fn page_gen(b: &[u8]) -> u64 {
    u64_at(b, OFF_GEN)
}
#[inline]
pub(crate) fn kind(b: &[u8]) -> u8 {
    b[OFF_KIND]
}
#[inline]
pub(crate) fn level(b: &[u8]) -> u8 {
    b[OFF_LEVEL]
}
#[inline]
pub(crate) fn nslots(b: &[u8]) -> usize {
    u16_at(b, OFF_NSLOTS) as usize
}
#[inline]
pub(crate) fn cell_start(b: &[u8]) -> usize {
    u16_at(b, OFF_CELL_START) as usize
}
#[inline]
pub(crate) fn frag(b: &[u8]) -> usize {
    u16_at(b, OFF_FRAG) as usize
}
#[inline]
pub(crate) fn aux_len(b: &[u8]) -> usize {
    u32_at(b, OFF_AUX_LEN) as usize
}
#[inline]
pub(crate) fn aux_ref(b: &[u8]) -> PageRef {
    PageRef {
        id: u64_at(b, OFF_AUX_ID),
        generation: u64_at(b, OFF_AUX_GEN),
    }
}

pub(crate) fn set_id_gen(b: &mut [u8], id: u64, generation: u64) {
    put_u64(b, OFF_ID, id);
    put_u64(b, OFF_GEN, generation);
}
pub(crate) fn set_nslots(b: &mut [u8], n: usize) {
    put_u16(b, OFF_NSLOTS, n as u16);
}
/// Stores a cell-area start (an empty cell area starts at the page size;
/// pages are at most 32 KiB, so it fits the `u16`).
pub(crate) fn set_cell_start(b: &mut [u8], v: usize) {
    put_u16(b, OFF_CELL_START, v as u16);
}
pub(crate) fn set_frag(b: &mut [u8], v: usize) {
    put_u16(b, OFF_FRAG, v as u16);
}
pub(crate) fn set_aux_len(b: &mut [u8], v: usize) {
    put_u32(b, OFF_AUX_LEN, v as u32);
}
pub(crate) fn set_aux_ref(b: &mut [u8], r: PageRef) {
    put_u64(b, OFF_AUX_ID, r.id);
    put_u64(b, OFF_AUX_GEN, r.generation);
}

/// Writes a fresh header (zero counts, empty cell area).
pub(crate) fn init(b: &mut [u8], id: u64, generation: u64, kind: u8, level: u8) {
    b[..HEADER_BYTES].fill(0);
    set_id_gen(b, id, generation);
    b[OFF_KIND] = kind;
    b[OFF_LEVEL] = level;
    set_cell_start(b, b.len());
}

// ---- checksum ----

/// blake3 of everything after the checksum field, truncated to 16 bytes.
pub(crate) fn checksum(b: &[u8]) -> [u8; 16] {
    let h = blake3::hash(&b[16..]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.as_bytes()[..16]);
    out
}

/// Fills in the checksum field; call right before a page goes to disk.
pub(crate) fn seal(b: &mut [u8]) {
    let c = checksum(b);
    b[..16].copy_from_slice(&c);
}

pub(crate) fn checksum_ok(b: &[u8]) -> bool {
    b[..16] == checksum(b)
}

// ---- slotted pages (leaf and branch) ----

#[inline]
pub(crate) fn slot_off(b: &[u8], i: usize) -> usize {
    u16_at(b, HEADER_BYTES + 2 * i) as usize
}

/// Free bytes between the slot array and the cell area (not counting
/// fragmented bytes inside the cell area).
pub(crate) fn gap(b: &[u8]) -> usize {
    cell_start(b) - (HEADER_BYTES + 2 * nslots(b))
}

/// Bytes in use: header, slots and live cells.
pub(crate) fn used_bytes(b: &[u8]) -> usize {
    b.len() - gap(b) - frag(b)
}

#[inline]
pub(crate) fn leaf_key(b: &[u8], i: usize) -> &[u8] {
    leaf_key_at(b, slot_off(b, i))
}

/// The key of the leaf cell at byte offset `off`.
#[inline]
pub(crate) fn leaf_key_at(b: &[u8], off: usize) -> &[u8] {
    let klen = u16_at(b, off) as usize;
    &b[off + LEAF_CELL_HDR..off + LEAF_CELL_HDR + klen]
}

/// A leaf value: inline bytes or a reference to an overflow extent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LeafVal<'a> {
    Inline(&'a [u8]),
    Overflow { first: PageRef, len: usize },
}

/// Byte range of the inline value of cell `i`, or its overflow reference.
#[inline]
pub(crate) fn leaf_val(b: &[u8], i: usize) -> LeafVal<'_> {
    leaf_val_at(b, slot_off(b, i))
}

/// The value of the leaf cell at byte offset `off`.
#[inline]
pub(crate) fn leaf_val_at(b: &[u8], off: usize) -> LeafVal<'_> {
    let klen = u16_at(b, off) as usize;
    let vlen = u32_at(b, off + 2);
    let v = off + LEAF_CELL_HDR + klen;
    if vlen & VLEN_OVERFLOW != 0 {
        LeafVal::Overflow {
            first: PageRef {
                id: u64_at(b, v),
                generation: u64_at(b, v + 8),
            },
            len: (vlen & !VLEN_OVERFLOW) as usize,
        }
    } else {
        LeafVal::Inline(&b[v..v + vlen as usize])
    }
}

/// Length of a leaf cell given its first bytes.
#[inline]
pub(crate) fn leaf_cell_len_at(b: &[u8], off: usize) -> usize {
    let klen = u16_at(b, off) as usize;
    let vlen = u32_at(b, off + 2);
    let v = if vlen & VLEN_OVERFLOW != 0 {
        OVERFLOW_REF_BYTES
    } else {
        vlen as usize
    };
    LEAF_CELL_HDR + klen + v
}

#[inline]
pub(crate) fn branch_key(b: &[u8], i: usize) -> &[u8] {
    branch_key_at(b, slot_off(b, i))
}

/// The separator of the branch cell at byte offset `off`.
#[inline]
pub(crate) fn branch_key_at(b: &[u8], off: usize) -> &[u8] {
    let klen = u16_at(b, off) as usize;
    &b[off + BRANCH_CELL_HDR..off + BRANCH_CELL_HDR + klen]
}

/// The child stored in the branch cell at byte offset `off`.
#[inline]
pub(crate) fn branch_cell_child_at(b: &[u8], off: usize) -> PageRef {
    PageRef {
        id: u64_at(b, off + 2),
        generation: u64_at(b, off + 10),
    }
}

/// Child `i` of a branch (`0..=nslots`): child 0 is in the header, child
/// `i > 0` is stored in cell `i - 1`, after separator key `i - 1`.
#[inline]
pub(crate) fn branch_child(b: &[u8], i: usize) -> PageRef {
    if i == 0 {
        aux_ref(b)
    } else {
        branch_cell_child_at(b, slot_off(b, i - 1))
    }
}

#[inline]
pub(crate) fn branch_cell_len_at(b: &[u8], off: usize) -> usize {
    BRANCH_CELL_HDR + u16_at(b, off) as usize
}

/// The raw bytes of cell `i` of a leaf or branch page.
pub(crate) fn cell(b: &[u8], i: usize) -> &[u8] {
    let off = slot_off(b, i);
    let len = if kind(b) == KIND_LEAF {
        leaf_cell_len_at(b, off)
    } else {
        branch_cell_len_at(b, off)
    };
    &b[off..off + len]
}

/// Lexicographic byte-string order (the order of `<[u8]>::cmp`), inlined:
/// eight bytes per step as big-endian words instead of a `memcmp` call,
/// which costs more than the whole comparison for keys of a few dozen
/// bytes (a point get compares keys ~20 times).
#[inline]
pub(crate) fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let (mut ac, mut bc) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (x, y) in (&mut ac).zip(&mut bc) {
        let x = u64::from_be_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(y.try_into().expect("8 bytes"));
        if x != y {
            return x.cmp(&y);
        }
    }
    for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Binary search over the leaf's slots: `Ok(i)` if key `i` equals `key`,
/// else `Err(i)` where it would be inserted.
#[inline]
pub(crate) fn leaf_search(b: &[u8], key: &[u8]) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, nslots(b));
    while lo < hi {
        let mid = (lo + hi) / 2;
        match cmp_keys(leaf_key(b, mid), key) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// Index of the child of a branch that covers `key`: the number of
/// separators `<= key`.
#[inline]
pub(crate) fn branch_search(b: &[u8], key: &[u8]) -> usize {
    let (mut lo, mut hi) = (0, nslots(b));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cmp_keys(branch_key(b, mid), key) != Ordering::Greater {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

// ---- free-list pages ----

pub(crate) fn freelist_entry(b: &[u8], i: usize) -> (u64, u64) {
    let o = HEADER_BYTES + FREELIST_ENTRY_BYTES * i;
    (u64_at(b, o), u64_at(b, o + 8))
}

pub(crate) fn freelist_capacity(page_size: usize) -> usize {
    (page_size - HEADER_BYTES) / FREELIST_ENTRY_BYTES
}

/// Payload bytes of one overflow page.
pub(crate) fn overflow_capacity(page_size: usize) -> usize {
    page_size - HEADER_BYTES
}

// ---- validation ----

/// Structural checks for a page read from disk whose checksum matched.
/// Returns the reason a page is unusable.
pub(crate) fn validate(b: &[u8]) -> Result<(), String> {
    let ps = b.len();
    match kind(b) {
        KIND_LEAF | KIND_BRANCH => validate_slotted(b),
        KIND_OVERFLOW => {
            if aux_len(b) > ps - HEADER_BYTES {
                return Err(format!(
                    "overflow payload length {} exceeds the page",
                    aux_len(b)
                ));
            }
            Ok(())
        }
        KIND_FREELIST => {
            if nslots(b) > freelist_capacity(ps) {
                return Err(format!(
                    "free-list entry count {} exceeds the page",
                    nslots(b)
                ));
            }
            Ok(())
        }
        k => Err(format!("unknown page kind {k}")),
    }
}

fn validate_slotted(b: &[u8]) -> Result<(), String> {
    let ps = b.len();
    let n = nslots(b);
    let cs = cell_start(b);
    let is_leaf = kind(b) == KIND_LEAF;
    if is_leaf != (level(b) == 0) {
        return Err(format!("kind {} at level {}", kind(b), level(b)));
    }
    if HEADER_BYTES + 2 * n > cs || cs > ps {
        return Err(format!("{n} slots with cell area at {cs}"));
    }
    if frag(b) > ps - cs {
        return Err(format!("fragmented bytes {} exceed the cell area", frag(b)));
    }
    let min_cell = if is_leaf {
        LEAF_CELL_HDR
    } else {
        BRANCH_CELL_HDR
    };
    for i in 0..n {
        let off = slot_off(b, i);
        if off < cs || off + min_cell > ps {
            return Err(format!("slot {i} points at {off}, outside the cell area"));
        }
        let len = if is_leaf {
            leaf_cell_len_at(b, off)
        } else {
            branch_cell_len_at(b, off)
        };
        if off + len > ps {
            return Err(format!(
                "cell {i} at {off} of {len} bytes runs past the page"
            ));
        }
        if is_leaf {
            if let LeafVal::Overflow { first, len } = leaf_val(b, i)
                && (first.id < 2 || len == 0)
            {
                return Err(format!("cell {i} has a bad overflow reference"));
            }
            if i > 0 && leaf_key(b, i - 1) >= leaf_key(b, i) {
                return Err(format!("keys {} and {i} out of order", i - 1));
            }
        } else {
            if branch_child(b, i + 1).id < 2 {
                return Err(format!("branch cell {i} has a bad child id"));
            }
            if i > 0 && branch_key(b, i - 1) >= branch_key(b, i) {
                return Err(format!("separators {} and {i} out of order", i - 1));
            }
        }
    }
    if !is_leaf && aux_ref(b).id < 2 {
        return Err("branch has a bad first child id".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_detects_every_bit_flip_in_a_small_page() {
        let mut b = vec![0u8; 512];
        init(&mut b, 7, 3, KIND_LEAF, 0);
        seal(&mut b);
        assert!(checksum_ok(&b));
        for byte in 0..b.len() {
            for bit in 0..8 {
                b[byte] ^= 1 << bit;
                assert!(!checksum_ok(&b), "flip at {byte}:{bit} undetected");
                b[byte] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn cmp_keys_matches_slice_order() {
        crate::rng::for_each_seed("cmp_keys_matches_slice_order", 4, |seed| {
            let mut rng = crate::rng::Rng::new(seed);
            let mut keys: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0, 0], vec![255; 9]];
            for _ in 0..200 {
                let len = rng.below(20) as usize;
                // A small alphabet makes long common prefixes likely.
                keys.push((0..len).map(|_| rng.below(3) as u8 * 127).collect());
            }
            for a in &keys {
                for b in &keys {
                    assert_eq!(cmp_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
                }
            }
        });
    }

    #[test]
    fn validate_rejects_bad_slots() {
        let mut b = vec![0u8; 512];
        init(&mut b, 7, 3, KIND_LEAF, 0);
        assert!(validate(&b).is_ok());
        set_nslots(&mut b, 1);
        set_cell_start(&mut b, 500);
        put_u16(&mut b, HEADER_BYTES, 510); // cell header runs past the page
        assert!(validate(&b).is_err());
        b[OFF_KIND] = 9;
        assert!(validate(&b).is_err());
    }
}
