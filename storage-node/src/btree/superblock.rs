//! The two-slot superblock: encoding, decoding, and finding the current one
//! at open.
//!
//! Slot `s` (0 or 1) lives at the start of page `s`, i.e. at byte offset
//! `s * page_size`. A checkpoint with generation `g` writes slot `g % 2`, so
//! the slot holding the current superblock is never overwritten by the next
//! checkpoint: a torn superblock write leaves the other slot intact, and its
//! pages were never reused before the torn one would have become durable.
//!
//! Only [`SB_BYTES`] are meaningful (the rest of the slot is zero); a slot is
//! written with [`write_len`] bytes (512, or 4096 under `O_DIRECT`).
//! Because slot 1's offset depends on the page size, open reads slot 0
//! first and, if it is unusable, probes slot 1 at every supported page size.
//! The byte diagram is in `btree/mod.rs`.

use super::page::{PAGE_SIZE_MAX, PAGE_SIZE_MIN, PageRef, put_u32, put_u64, u32_at, u64_at};
use crate::io::IO_ALIGN;

/// Meaningful bytes of a superblock (checksum covers `16..SB_BYTES`).
pub(crate) const SB_BYTES: usize = 128;
pub(crate) const MAGIC: &[u8; 8] = b"CAIRNBT1";
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Bytes written per superblock slot.
pub(crate) fn write_len(direct: bool) -> usize {
    if direct { IO_ALIGN } else { PAGE_SIZE_MIN }
}

/// One decoded superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub page_size: usize,
    /// Which slot it was written to (0 or 1); must match where it is found.
    pub slot: u8,
    /// Checkpoint counter; the valid slot with the higher one is current.
    pub checkpoint_gen: u64,
    /// The last write transaction included.
    pub txn: u64,
    pub root: Option<PageRef>,
    /// Pages in the file (ids `0..page_count`); pages at or past it are free.
    pub page_count: u64,
    pub freelist: Option<PageRef>,
    /// Free pages listed in the free list (a cross-check at open).
    pub free_pages: u64,
}

impl Superblock {
    pub fn encode(&self) -> [u8; SB_BYTES] {
        let mut b = [0u8; SB_BYTES];
        b[16..24].copy_from_slice(MAGIC);
        put_u32(&mut b, 24, FORMAT_VERSION);
        put_u32(&mut b, 28, self.page_size as u32);
        put_u64(&mut b, 32, self.checkpoint_gen);
        put_u64(&mut b, 40, self.txn);
        let root = self.root.unwrap_or(PageRef {
            id: 0,
            generation: 0,
        });
        put_u64(&mut b, 48, root.id);
        put_u64(&mut b, 56, root.generation);
        put_u64(&mut b, 64, self.page_count);
        let fl = self.freelist.unwrap_or(PageRef {
            id: 0,
            generation: 0,
        });
        put_u64(&mut b, 72, fl.id);
        put_u64(&mut b, 80, fl.generation);
        put_u64(&mut b, 88, self.free_pages);
        b[96] = self.slot;
        let h = blake3::hash(&b[16..]);
        b[..16].copy_from_slice(&h.as_bytes()[..16]);
        b
    }

    /// Decodes and checks one slot's bytes (`b.len() >= SB_BYTES`).
    pub fn decode(b: &[u8]) -> Result<Superblock, String> {
        if b.len() < SB_BYTES {
            return Err(format!("only {} bytes", b.len()));
        }
        let b = &b[..SB_BYTES];
        if b.iter().all(|&x| x == 0) {
            return Err("empty (all zeros)".into());
        }
        let h = blake3::hash(&b[16..]);
        if b[..16] != h.as_bytes()[..16] {
            return Err("checksum mismatch".into());
        }
        if &b[16..24] != MAGIC {
            return Err("bad magic".into());
        }
        let version = u32_at(b, 24);
        if version != FORMAT_VERSION {
            return Err(format!("unsupported format version {version}"));
        }
        let page_size = u32_at(b, 28) as usize;
        if !page_size.is_power_of_two() || !(PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&page_size) {
            return Err(format!("bad page size {page_size}"));
        }
        let r = |o| {
            let id = u64_at(b, o);
            (id != 0).then(|| PageRef {
                id,
                generation: u64_at(b, o + 8),
            })
        };
        let sb = Superblock {
            page_size,
            slot: b[96],
            checkpoint_gen: u64_at(b, 32),
            txn: u64_at(b, 40),
            root: r(48),
            page_count: u64_at(b, 64),
            freelist: r(72),
            free_pages: u64_at(b, 88),
        };
        if sb.slot > 1 || sb.checkpoint_gen % 2 != sb.slot as u64 {
            return Err(format!(
                "slot {} does not match checkpoint generation {}",
                sb.slot, sb.checkpoint_gen
            ));
        }
        if sb.page_count < 2 {
            return Err(format!("page count {}", sb.page_count));
        }
        for p in [sb.root, sb.freelist].into_iter().flatten() {
            if p.id < 2 || p.id >= sb.page_count {
                return Err(format!(
                    "page {} outside the file's {} pages",
                    p.id, sb.page_count
                ));
            }
        }
        Ok(sb)
    }

    /// Byte offset of slot `slot` for this page size.
    pub fn slot_offset(slot: u8, page_size: usize) -> u64 {
        slot as u64 * page_size as u64
    }
}

/// Candidate page sizes for probing slot 1 when slot 0 is unusable.
pub(crate) fn probe_page_sizes(direct: bool) -> impl Iterator<Item = usize> {
    let min = if direct { IO_ALIGN } else { PAGE_SIZE_MIN };
    (9..=15)
        .map(|s| 1usize << s)
        .filter(move |&p| p >= min && p <= PAGE_SIZE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock {
            page_size: 8192,
            slot: 1,
            checkpoint_gen: 7,
            txn: 99,
            root: Some(PageRef {
                id: 12,
                generation: 98,
            }),
            page_count: 40,
            freelist: None,
            free_pages: 3,
        }
    }

    #[test]
    fn round_trip_and_every_flip_detected() {
        let sb = sample();
        let mut b = sb.encode();
        assert_eq!(Superblock::decode(&b).unwrap(), sb);
        for byte in 0..SB_BYTES {
            for bit in 0..8 {
                b[byte] ^= 1 << bit;
                assert!(Superblock::decode(&b).is_err(), "{byte}:{bit}");
                b[byte] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn rejects_wrong_slot_and_zeros() {
        let mut sb = sample();
        sb.slot = 0;
        assert!(Superblock::decode(&sb.encode()).is_err());
        assert!(Superblock::decode(&[0u8; SB_BYTES]).is_err());
    }
}
