//! Byte layout of WAL segments, batches and records (diagrams in
//! `wal/mod.rs`): encoders used by the writer and decoders used by recovery
//! and `Wal::read`. Pure functions over byte slices; no I/O.
//!
//! Invariants: every multi-byte integer is little-endian; every checksum is
//! the first 16 bytes of BLAKE3 over the bytes it covers; decoders never
//! panic on arbitrary input (they return a [`TailReason`]).

use super::error::TailReason;
use crate::io::IO_ALIGN;

/// Block size: segment header size, batch alignment, seal size.
pub(crate) const BLOCK: u64 = IO_ALIGN as u64;
pub(crate) const CHECKSUM_BYTES: usize = 16;

pub(crate) const SEG_MAGIC: [u8; 8] = *b"CAIRNWAL";
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes of one segment header copy.
pub(crate) const SEG_HEADER_BYTES: usize = 64;
/// Offsets of the two header copies inside block 0 (different sectors).
pub(crate) const SEG_HEADER_COPIES: [usize; 2] = [0, 2048];

pub(crate) const BATCH_MAGIC: [u8; 4] = *b"CWB1";
pub(crate) const BATCH_HEADER_BYTES: usize = 64;
/// Batch flag: this batch is a seal (no records; the segment ends here).
pub(crate) const FLAG_SEAL: u16 = 1;

pub(crate) const RECORD_HEADER_BYTES: usize = 56;

pub(crate) fn checksum(data: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let h = blake3::hash(data);
    let mut out = [0; CHECKSUM_BYTES];
    out.copy_from_slice(&h.as_bytes()[..CHECKSUM_BYTES]);
    out
}

pub(crate) fn align_up(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

pub(crate) fn align_down(n: u64) -> u64 {
    n / BLOCK * BLOCK
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// What a segment header says (one copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegHeader {
    pub segment_size: u64,
    pub seq: u64,
    pub salt: u64,
    pub slot: u64,
}

impl SegHeader {
    /// Writes one 64-byte copy into `out[..64]`.
    pub fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..SEG_HEADER_BYTES];
        b[16..24].copy_from_slice(&SEG_MAGIC);
        b[24..28].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[28..32].fill(0);
        b[32..40].copy_from_slice(&self.segment_size.to_le_bytes());
        b[40..48].copy_from_slice(&self.seq.to_le_bytes());
        b[48..56].copy_from_slice(&self.salt.to_le_bytes());
        b[56..64].copy_from_slice(&self.slot.to_le_bytes());
        let sum = checksum(&b[16..]);
        b[..16].copy_from_slice(&sum);
    }

    /// Writes the whole header block (both copies, zeros elsewhere).
    pub fn encode_block(&self, block: &mut [u8]) {
        block[..BLOCK as usize].fill(0);
        for at in SEG_HEADER_COPIES {
            self.encode(&mut block[at..]);
        }
    }

    /// Decodes one copy; `None` if it is not a valid header.
    pub fn decode(b: &[u8]) -> Option<SegHeader> {
        let b = b.get(..SEG_HEADER_BYTES)?;
        if checksum(&b[16..]) != b[..16] || b[16..24] != SEG_MAGIC {
            return None;
        }
        if u32_at(b, 24) != FORMAT_VERSION {
            return None;
        }
        Some(SegHeader {
            segment_size: u64_at(b, 32),
            seq: u64_at(b, 40),
            salt: u64_at(b, 48),
            slot: u64_at(b, 56),
        })
    }

    /// Decodes the header block: the valid copy, or of two valid copies the
    /// one with the higher sequence (a recycle torn between the copies
    /// never made the new life durable, and either reading is safe; see
    /// `wal/mod.rs`). Also returns how many copies were invalid.
    pub fn decode_block(block: &[u8]) -> (Option<SegHeader>, usize) {
        let copies: Vec<Option<SegHeader>> = SEG_HEADER_COPIES
            .iter()
            .map(|&at| block.get(at..).and_then(SegHeader::decode))
            .collect();
        let bad = copies.iter().filter(|c| c.is_none()).count();
        let best = copies.into_iter().flatten().max_by_key(|h| h.seq);
        (best, bad)
    }
}

/// A decoded batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub flags: u16,
    pub record_count: u32,
    /// Bytes of records after the header (padding not included).
    pub records_bytes: u32,
    pub seq: u64,
    pub salt: u64,
    pub batch_no: u64,
}

impl BatchHeader {
    pub fn is_seal(&self) -> bool {
        self.flags & FLAG_SEAL != 0
    }

    pub fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..BATCH_HEADER_BYTES];
        b[16..20].copy_from_slice(&BATCH_MAGIC);
        b[20..22].copy_from_slice(&self.flags.to_le_bytes());
        b[22..24].fill(0);
        b[24..28].copy_from_slice(&self.record_count.to_le_bytes());
        b[28..32].copy_from_slice(&self.records_bytes.to_le_bytes());
        b[32..40].copy_from_slice(&self.seq.to_le_bytes());
        b[40..48].copy_from_slice(&self.salt.to_le_bytes());
        b[48..56].copy_from_slice(&self.batch_no.to_le_bytes());
        b[56..64].fill(0);
        let sum = checksum(&b[16..]);
        b[..16].copy_from_slice(&sum);
    }

    /// Decodes and checks a header against its segment's sequence and salt.
    pub fn decode(b: &[u8], seq: u64, salt: u64) -> Result<BatchHeader, TailReason> {
        let Some(b) = b.get(..BATCH_HEADER_BYTES) else {
            return Err(TailReason::Torn);
        };
        if checksum(&b[16..]) != b[..16] || b[16..20] != BATCH_MAGIC {
            return Err(TailReason::BadHeader);
        }
        let h = BatchHeader {
            flags: u16_at(b, 20),
            record_count: u32_at(b, 24),
            records_bytes: u32_at(b, 28),
            seq: u64_at(b, 32),
            salt: u64_at(b, 40),
            batch_no: u64_at(b, 48),
        };
        if h.seq != seq || h.salt != salt {
            return Err(TailReason::StaleGeneration {
                found: h.seq,
                expected: seq,
            });
        }
        if h.flags & !FLAG_SEAL != 0
            || (h.is_seal() && (h.record_count != 0 || h.records_bytes != 0))
        {
            return Err(TailReason::BadHeader);
        }
        Ok(h)
    }
}

/// Encoded size of a record with `payload_len` payload bytes.
pub(crate) fn record_bytes(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

/// Encodes one record at the start of `out` (which must hold
/// [`record_bytes`] bytes) and returns its length.
pub(crate) fn encode_record(
    out: &mut [u8],
    seq: u64,
    partition: u64,
    ballot: u64,
    index: u64,
    payload: &[u8],
) -> usize {
    let len = record_bytes(payload.len());
    let b = &mut out[..len];
    b[16..20].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b[20..24].fill(0);
    b[24..32].copy_from_slice(&seq.to_le_bytes());
    b[32..40].copy_from_slice(&partition.to_le_bytes());
    b[40..48].copy_from_slice(&ballot.to_le_bytes());
    b[48..56].copy_from_slice(&index.to_le_bytes());
    b[56..].copy_from_slice(payload);
    let sum = checksum(&b[16..]);
    b[..16].copy_from_slice(&sum);
    len
}

/// A record decoded in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    pub partition: u64,
    pub ballot: u64,
    pub index: u64,
    pub payload: &'a [u8],
}

/// Decodes the record at the start of `b` (the rest of its batch) and
/// returns it with its encoded length.
pub(crate) fn decode_record(b: &[u8], seq: u64) -> Result<(RecordView<'_>, usize), TailReason> {
    if b.len() < RECORD_HEADER_BYTES {
        return Err(TailReason::Torn);
    }
    let payload_len = u32_at(b, 16) as usize;
    let len = RECORD_HEADER_BYTES
        .checked_add(payload_len)
        .ok_or(TailReason::Torn)?;
    if len > b.len() {
        return Err(TailReason::Torn);
    }
    if checksum(&b[16..len]) != b[..16] {
        return Err(TailReason::ChecksumMismatch);
    }
    let found = u64_at(b, 24);
    if found != seq {
        return Err(TailReason::StaleGeneration {
            found,
            expected: seq,
        });
    }
    if u32_at(b, 20) != 0 {
        return Err(TailReason::BadHeader);
    }
    Ok((
        RecordView {
            partition: u64_at(b, 32),
            ballot: u64_at(b, 40),
            index: u64_at(b, 48),
            payload: &b[RECORD_HEADER_BYTES..len],
        },
        len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Rng, for_each_seed};

    #[test]
    fn record_round_trip_and_every_bit_flip_detected() {
        for_each_seed("wal::format::tests::record_round_trip", 20, |seed| {
            let mut rng = Rng::new(seed);
            let n = rng.below(40) as usize;
            let payload = rng.bytes(n);
            let mut buf = vec![0; record_bytes(payload.len())];
            let (p, bal, idx) = (rng.next_u64(), rng.next_u64(), rng.next_u64());
            let n = encode_record(&mut buf, 9, p, bal, idx, &payload);
            assert_eq!(n, buf.len());
            let (v, len) = decode_record(&buf, 9).unwrap();
            assert_eq!(
                (v.partition, v.ballot, v.index, v.payload),
                (p, bal, idx, &payload[..])
            );
            assert_eq!(len, n);
            assert!(matches!(
                decode_record(&buf, 8),
                Err(TailReason::StaleGeneration {
                    found: 9,
                    expected: 8
                })
            ));
            for bit in 0..buf.len() * 8 {
                let mut b = buf.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                // Never a wrong record: either an error or (impossible here)
                // exactly the original.
                if let Ok((v2, _)) = decode_record(&b, 9) {
                    panic!("flip of bit {bit} accepted: {v2:?}");
                }
            }
        });
    }

    #[test]
    fn headers_round_trip_and_reject_flips() {
        let h = SegHeader {
            segment_size: 1 << 20,
            seq: 7,
            salt: 0xdead_beef,
            slot: 3,
        };
        let mut block = vec![0; BLOCK as usize];
        h.encode_block(&mut block);
        assert_eq!(SegHeader::decode_block(&block), (Some(h), 0));
        block[5] ^= 4;
        assert_eq!(SegHeader::decode_block(&block), (Some(h), 1));
        block[2048 + 40] ^= 1;
        assert_eq!(SegHeader::decode_block(&block), (None, 2));

        let b = BatchHeader {
            flags: 0,
            record_count: 3,
            records_bytes: 500,
            seq: 7,
            salt: 11,
            batch_no: 99,
        };
        let mut buf = [0u8; BATCH_HEADER_BYTES];
        b.encode(&mut buf);
        assert_eq!(BatchHeader::decode(&buf, 7, 11), Ok(b));
        assert!(matches!(
            BatchHeader::decode(&buf, 7, 12),
            Err(TailReason::StaleGeneration { .. })
        ));
        for bit in 0..BATCH_HEADER_BYTES * 8 {
            let mut c = buf;
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(BatchHeader::decode(&c, 7, 11).is_err(), "bit {bit}");
        }
        assert_eq!(
            BatchHeader::decode(&[0; 64], 7, 11),
            Err(TailReason::BadHeader)
        );
    }
}
