//! `WriteBatch`: the engine's unit of change, and its durable encoding.
//!
//! A committed log entry is applied to the tree as one `WriteBatch` (puts,
//! deletes, range deletes, in order). In standalone use (tests, benchmarks,
//! and the engine's own replay) the WAL record payload *is* an encoded
//! `WriteBatch`; the replication layer (issue 3) wraps it in its own entries.
//! The WAL checksums every record, so this format carries no checksum of its
//! own, but decoding still validates every length against the buffer: a
//! malformed payload is a typed error, never a panic or an out-of-bounds read.
//!
//! Format (version 1, little-endian lengths):
//!
//! ```text
//! +---------+-------------+-------- ops (count times) ---------------------+
//! | ver u8  | count u32   | op ...                                          |
//! | = 1     |             |                                                 |
//! +---------+-------------+-------------------------------------------------+
//!
//! op = kind u8 | klen u32 | key[klen] | body
//!   kind 1 Put:         body = vlen u32 | value[vlen]
//!   kind 2 Delete:      body = (empty)
//!   kind 3 DeleteRange: body = elen u32 | end[elen]      (range is [key, end))
//! ```

/// Version byte of the encoding produced by [`WriteBatch::encode`].
pub const BATCH_FORMAT_VERSION: u8 = 1;

/// One change to the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    /// Deletes every key in `[start, end)`.
    DeleteRange {
        start: Vec<u8>,
        end: Vec<u8>,
    },
}

/// An ordered list of changes applied atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<Op>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("write batch: unknown format version {0}")]
    Version(u8),
    #[error("write batch: truncated at byte {at} (needed {needed} more)")]
    Truncated { at: usize, needed: usize },
    #[error("write batch: unknown op kind {kind} at byte {at}")]
    Kind { kind: u8, at: usize },
    #[error("write batch: {extra} trailing bytes after {count} ops")]
    Trailing { count: u32, extra: usize },
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }

    pub fn delete_range(
        &mut self,
        start: impl Into<Vec<u8>>,
        end: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(Op::DeleteRange {
            start: start.into(),
            end: end.into(),
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Exact size of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        5 + self
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value } => 1 + 4 + key.len() + 4 + value.len(),
                Op::Delete { key } => 1 + 4 + key.len(),
                Op::DeleteRange { start, end } => 1 + 4 + start.len() + 4 + end.len(),
            })
            .sum::<usize>()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let count = u32::try_from(self.ops.len()).expect("write batch over u32::MAX ops");
        out.push(BATCH_FORMAT_VERSION);
        out.extend_from_slice(&count.to_le_bytes());
        for op in &self.ops {
            match op {
                Op::Put { key, value } => {
                    out.push(1);
                    put_bytes(out, key);
                    put_bytes(out, value);
                }
                Op::Delete { key } => {
                    out.push(2);
                    put_bytes(out, key);
                }
                Op::DeleteRange { start, end } => {
                    out.push(3);
                    put_bytes(out, start);
                    put_bytes(out, end);
                }
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<WriteBatch, BatchError> {
        let mut r = Reader { buf, at: 0 };
        let ver = r.u8()?;
        if ver != BATCH_FORMAT_VERSION {
            return Err(BatchError::Version(ver));
        }
        let count = r.u32()?;
        // Every op takes at least 5 bytes: bound the allocation by the input.
        let mut ops = Vec::with_capacity((count as usize).min(buf.len() / 5));
        for _ in 0..count {
            let at = r.at;
            let kind = r.u8()?;
            let key = r.bytes()?.to_vec();
            ops.push(match kind {
                1 => Op::Put {
                    key,
                    value: r.bytes()?.to_vec(),
                },
                2 => Op::Delete { key },
                3 => Op::DeleteRange {
                    start: key,
                    end: r.bytes()?.to_vec(),
                },
                kind => return Err(BatchError::Kind { kind, at }),
            });
        }
        if r.at != buf.len() {
            return Err(BatchError::Trailing {
                count,
                extra: buf.len() - r.at,
            });
        }
        Ok(WriteBatch { ops })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).expect("write batch field over 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BatchError> {
        let rest = self.buf.len() - self.at;
        if rest < n {
            return Err(BatchError::Truncated {
                at: self.at,
                needed: n - rest,
            });
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, BatchError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, BatchError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes(&mut self) -> Result<&'a [u8], BatchError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Rng, for_each_seed};

    fn random_batch(r: &mut Rng) -> WriteBatch {
        let mut b = WriteBatch::new();
        for _ in 0..r.below(8) {
            let n = r.below(40) as usize;
            let k = r.bytes(n);
            match r.below(3) {
                0 => {
                    let n = r.below(300) as usize;
                    b.put(k, r.bytes(n))
                }
                1 => b.delete(k),
                _ => {
                    let n = r.below(40) as usize;
                    b.delete_range(k, r.bytes(n))
                }
            };
        }
        b
    }

    #[test]
    fn round_trip_and_exact_len() {
        for_each_seed(
            "engine::batch::tests::round_trip_and_exact_len",
            500,
            |seed| {
                let mut r = Rng::new(seed);
                let b = random_batch(&mut r);
                let enc = b.encode();
                assert_eq!(enc.len(), b.encoded_len());
                assert_eq!(WriteBatch::decode(&enc).unwrap(), b);
            },
        );
    }

    #[test]
    fn malformed_input_is_a_typed_error_never_a_panic() {
        for_each_seed(
            "engine::batch::tests::malformed_input_is_a_typed_error_never_a_panic",
            500,
            |seed| {
                let mut r = Rng::new(seed);
                let enc = random_batch(&mut r).encode();
                // Every truncation fails cleanly.
                for cut in 0..enc.len() {
                    assert!(WriteBatch::decode(&enc[..cut]).is_err());
                }
                // Random garbage and single-byte mutations never panic.
                let mut m = enc.clone();
                let i = r.below(m.len() as u64) as usize;
                m[i] ^= 1 << r.below(8);
                let _ = WriteBatch::decode(&m);
                let n = r.below(64) as usize;
                let g = r.bytes(n);
                let _ = WriteBatch::decode(&g);
            },
        );
        assert_eq!(WriteBatch::decode(&[9]), Err(BatchError::Version(9)));
        let mut extra = WriteBatch::new().encode();
        extra.push(0);
        assert_eq!(
            WriteBatch::decode(&extra),
            Err(BatchError::Trailing { count: 0, extra: 1 })
        );
    }
}
