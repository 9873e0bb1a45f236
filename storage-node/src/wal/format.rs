//! WAL on-disk format: segment headers, batch headers and records.
//!
//! A segment is a fixed-size, preallocated file `wal-NNNNNN.seg` (the slot
//! number). Block size `B` = `IO_ALIGN` (4096).
//!
//! ```text
//! segment file (segment_size_bytes, a multiple of B)
//! +-------------------+---------+---------+-----+---------+----------------+
//! | header block (B)  | batch 0 | batch 1 | ... | batch n | zeros / stale  |
//! +-------------------+---------+---------+-----+---------+----------------+
//!   every batch starts on a B-aligned offset and is zero-padded to one
//!
//! segment header (first 40 bytes of block 0, all little-endian)
//!  0        8        12       16       24                32       40
//! +--------+--------+--------+--------+-----------------+--------+
//! | magic  | version| flags  |  seq   | segment_size    | cksum  |
//! | CAIRNWAL  u32=1 | u32=0  |  u64   |  u64            | u64    |
//! +--------+--------+--------+--------+-----------------+--------+
//!   cksum = blake3(bytes 0..32)[..8]; seq 0 = prepared spare (no records)
//!
//! batch header (32 bytes)
//!  0        4        8                16               24        32
//! +--------+--------+----------------+----------------+---------+
//! | magic  | count  | records_len    |      seq       | cksum   |
//! | u32    | u32    | u64 (bytes)    |      u64       | u64     |
//! +--------+--------+----------------+----------------+---------+
//!   cksum = blake3(bytes 0..24)[..8]; followed by `count` records
//!   (records_len bytes), then zero padding to the next block
//!
//! record (40-byte header + payload)
//!  0        8        12       16          24         32         40
//! +--------+--------+--------+-----------+----------+----------+---------+
//! | cksum  | len    | rsvd   | partition |  ballot  |  index   | payload |
//! | u64    | u32    | u32=0  |   u64     |   u64    |   u64    | len B   |
//! +--------+--------+--------+-----------+----------+----------+---------+
//!   cksum = blake3(seq_le ‖ bytes 8..40+len)[..8]
//! ```
//!
//! The segment's `seq` is inside every batch header and every record
//! checksum, so batches left in a recycled file from its previous life (an
//! older seq) are never taken for new ones. A batch is valid only when its
//! header and all its records are valid: a batch torn by a crash (some
//! blocks landed, some not) is rejected as a whole.

use super::{Record, WalError};
use std::path::Path;

pub const BLOCK: usize = crate::io::IO_ALIGN;
pub const SEGMENT_MAGIC: &[u8; 8] = b"CAIRNWAL";
pub const SEGMENT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 40;
pub const BATCH_MAGIC: u32 = 0xCA1B_BA7C;
pub const BATCH_HEADER_BYTES: usize = 32;
pub const RECORD_HEADER_BYTES: usize = 40;

fn sum8(parts: &[&[u8]]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    let out = h.finalize();
    u64::from_le_bytes(out.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Writes a segment header into the first bytes of `block`.
pub fn encode_segment_header(block: &mut [u8], seq: u64, segment_size: u64) {
    block[..SEGMENT_HEADER_BYTES].fill(0);
    block[0..8].copy_from_slice(SEGMENT_MAGIC);
    block[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    block[16..24].copy_from_slice(&seq.to_le_bytes());
    block[24..32].copy_from_slice(&segment_size.to_le_bytes());
    let c = sum8(&[&block[0..32]]);
    block[32..40].copy_from_slice(&c.to_le_bytes());
}

/// What a segment header block says.
#[derive(Debug, PartialEq, Eq)]
pub enum SegmentHeader {
    /// All zeros: a file whose preparation never finished.
    Blank,
    /// A valid header.
    Valid { seq: u64, segment_size: u64 },
}

pub fn decode_segment_header(path: &Path, block: &[u8]) -> Result<SegmentHeader, WalError> {
    let h = &block[..SEGMENT_HEADER_BYTES];
    if h.iter().all(|&b| b == 0) {
        return Ok(SegmentHeader::Blank);
    }
    let corrupt = |reason: &str| WalError::Corrupt {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!("segment header: {reason}"),
    };
    if &h[0..8] != SEGMENT_MAGIC {
        return Err(corrupt("bad magic"));
    }
    if sum8(&[&h[0..32]]) != u64_at(h, 32) {
        return Err(corrupt("checksum mismatch"));
    }
    let version = u32_at(h, 8);
    if version != SEGMENT_VERSION {
        return Err(corrupt(&format!("unknown format version {version}")));
    }
    Ok(SegmentHeader::Valid {
        seq: u64_at(h, 16),
        segment_size: u64_at(h, 24),
    })
}

/// Encoded size of one record.
pub fn record_len(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

/// Bytes a batch of records with `records_len` bytes of records occupies on
/// disk (header + records, rounded up to whole blocks).
pub fn batch_disk_len(records_len: usize) -> usize {
    (BATCH_HEADER_BYTES + records_len).div_ceil(BLOCK) * BLOCK
}

/// Appends one record to `out` (which must be positioned inside a batch).
pub fn encode_record(out: &mut [u8], seq: u64, rec: &Record) {
    let len = rec.payload.len();
    let b = &mut out[..RECORD_HEADER_BYTES + len];
    b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    b[12..16].fill(0);
    b[16..24].copy_from_slice(&rec.partition.to_le_bytes());
    b[24..32].copy_from_slice(&rec.ballot.to_le_bytes());
    b[32..40].copy_from_slice(&rec.index.to_le_bytes());
    b[40..].copy_from_slice(&rec.payload);
    let c = sum8(&[&seq.to_le_bytes(), &b[8..]]);
    b[0..8].copy_from_slice(&c.to_le_bytes());
}

/// Writes a batch header at the start of `out`.
pub fn encode_batch_header(out: &mut [u8], count: u32, records_len: u64, seq: u64) {
    out[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    out[4..8].copy_from_slice(&count.to_le_bytes());
    out[8..16].copy_from_slice(&records_len.to_le_bytes());
    out[16..24].copy_from_slice(&seq.to_le_bytes());
    let c = sum8(&[&out[0..24]]);
    out[24..32].copy_from_slice(&c.to_le_bytes());
}

/// Why a batch (or record) at some offset is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Zero bytes where a batch header would be: the end of written data.
    Zeros,
    BadMagic,
    HeaderChecksum,
    /// A valid batch from this file's previous life (recycled segment).
    StaleSeq(u64),
    /// The header's length runs past the end of the segment.
    Overrun,
    RecordChecksum {
        offset: u64,
    },
    RecordFraming {
        offset: u64,
    },
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Zeros => write!(f, "no batch header (zeros): end of written data"),
            Invalid::BadMagic => write!(f, "bad batch magic"),
            Invalid::HeaderChecksum => write!(f, "batch header checksum mismatch"),
            Invalid::StaleSeq(s) => write!(f, "stale batch from segment sequence {s}"),
            Invalid::Overrun => write!(f, "batch length runs past the segment end"),
            Invalid::RecordChecksum { offset } => {
                write!(
                    f,
                    "record checksum mismatch at offset {offset} (torn or corrupt)"
                )
            }
            Invalid::RecordFraming { offset } => {
                write!(f, "record framing broken at offset {offset}")
            }
        }
    }
}

/// A record located inside a segment image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub offset: u64,
    pub len: u32,
    pub partition: u64,
    pub ballot: u64,
    pub index: u64,
}

/// Parses the batch at `at` in `seg` (a whole segment image). On success
/// returns its records (offset + header fields) and the next batch offset.
pub fn parse_batch(seg: &[u8], at: usize, seq: u64) -> Result<(Vec<Located>, usize), Invalid> {
    if at + BATCH_HEADER_BYTES > seg.len() {
        return Err(Invalid::Overrun);
    }
    let h = &seg[at..at + BATCH_HEADER_BYTES];
    if h.iter().all(|&b| b == 0) {
        return Err(Invalid::Zeros);
    }
    if u32_at(h, 0) != BATCH_MAGIC {
        return Err(Invalid::BadMagic);
    }
    if sum8(&[&h[0..24]]) != u64_at(h, 24) {
        return Err(Invalid::HeaderChecksum);
    }
    let bseq = u64_at(h, 16);
    if bseq != seq {
        return Err(Invalid::StaleSeq(bseq));
    }
    let count = u32_at(h, 4) as usize;
    let records_len = u64_at(h, 8);
    let start = at + BATCH_HEADER_BYTES;
    if records_len > (seg.len() - start) as u64 {
        return Err(Invalid::Overrun);
    }
    let end = start + records_len as usize;
    let mut out = Vec::with_capacity(count.min(records_len as usize / RECORD_HEADER_BYTES));
    let mut pos = start;
    for _ in 0..count {
        let (loc, next) = parse_record(&seg[..end], pos, seq)?;
        out.push(loc);
        pos = next;
    }
    if pos != end {
        return Err(Invalid::RecordFraming { offset: pos as u64 });
    }
    Ok((out, at + batch_disk_len(records_len as usize)))
}

fn parse_record(buf: &[u8], at: usize, seq: u64) -> Result<(Located, usize), Invalid> {
    if at + RECORD_HEADER_BYTES > buf.len() {
        return Err(Invalid::RecordFraming { offset: at as u64 });
    }
    let len = u32_at(buf, at + 8);
    let end = at + RECORD_HEADER_BYTES + len as usize;
    if end > buf.len() {
        return Err(Invalid::RecordFraming { offset: at as u64 });
    }
    if sum8(&[&seq.to_le_bytes(), &buf[at + 8..end]]) != u64_at(buf, at) {
        return Err(Invalid::RecordChecksum { offset: at as u64 });
    }
    Ok((
        Located {
            offset: at as u64,
            len,
            partition: u64_at(buf, at + 16),
            ballot: u64_at(buf, at + 24),
            index: u64_at(buf, at + 32),
        },
        end,
    ))
}

/// Decodes and verifies one record from `buf` (read from `file` at
/// `offset`), expecting the given segment seq.
pub fn decode_record(file: &Path, offset: u64, buf: &[u8], seq: u64) -> Result<Record, WalError> {
    let (loc, end) = parse_record(buf, 0, seq).map_err(|why| WalError::Corrupt {
        file: file.to_path_buf(),
        offset,
        reason: why.to_string(),
    })?;
    Ok(Record {
        partition: loc.partition,
        ballot: loc.ballot,
        index: loc.index,
        payload: buf[RECORD_HEADER_BYTES..end].to_vec(),
    })
}
