//! The compact binary form of an [`Item`], as the storage engine stores it (the value of a
//! key; the key itself is `crate::key`'s layout).
//!
//! ```text
//! item   := 0x01 (format version) | count:varint | attr*          (count attrs)
//! attr   := name_len:varint | name (UTF-8) | value                 names strictly ascending
//! value  := tag:u8 | payload
//!   0x01 S     len:varint | UTF-8 bytes
//!   0x02 N     number (order-preserving encoding of crate::number, self-delimiting, ≤ 22 bytes)
//!   0x03 B     len:varint | bytes
//!   0x04 BOOL false          0x05 BOOL true          0x06 NULL
//!   0x07 M     count:varint | attr*                                names strictly ascending
//!   0x08 L     count:varint | value*
//!   0x09 SS    count:varint | (len:varint | UTF-8 bytes)*         strictly ascending
//!   0x0A NS    count:varint | number*                              strictly ascending
//!   0x0B BS    count:varint | (len:varint | bytes)*               strictly ascending
//! varint := unsigned LEB128, at most 5 bytes, value < 2^32, minimal (no trailing 0x80 groups)
//! ```
//!
//! Invariants: the encoding of a valid item is unique (maps and sets are in canonical order,
//! varints minimal, numbers canonical), so equal items have equal bytes. [`decode_item`] accepts
//! exactly the encodings [`encode_item`] produces: it re-checks every rule of `crate::item`
//! (UTF-8, order, non-empty sets, nesting ≤ 32, number validity) and rejects trailing bytes,
//! so corrupt bytes give a typed error, never a wrong item or a panic. Counts are checked
//! against the bytes left before anything is allocated.

use std::collections::BTreeMap;

use super::{AttributeValue, Item, MAX_NESTING_DEPTH};
use crate::number::Number;

const FORMAT_VERSION: u8 = 1;

const TAG_S: u8 = 0x01;
const TAG_N: u8 = 0x02;
const TAG_B: u8 = 0x03;
const TAG_FALSE: u8 = 0x04;
const TAG_TRUE: u8 = 0x05;
const TAG_NULL: u8 = 0x06;
const TAG_M: u8 = 0x07;
const TAG_L: u8 = 0x08;
const TAG_SS: u8 = 0x09;
const TAG_NS: u8 = 0x0A;
const TAG_BS: u8 = 0x0B;

/// Stored item bytes that do not decode; `offset` is where the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stored item corrupt at byte {offset}: {reason}")]
pub struct ItemDecodeError {
    pub offset: usize,
    pub reason: &'static str,
}

/// The item's bytes.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_item_into(item, &mut out);
    out
}

/// Appends the item's bytes to `out`.
pub fn encode_item_into(item: &Item, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    encode_map(item, out);
}

fn encode_map(map: &BTreeMap<String, AttributeValue>, out: &mut Vec<u8>) {
    put_len(map.len(), out);
    for (name, v) in map {
        put_bytes(name.as_bytes(), out);
        encode_value(v, out);
    }
}

fn encode_value(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            put_bytes(s.as_bytes(), out);
        }
        AttributeValue::N(n) => {
            out.push(TAG_N);
            n.encode_into(out);
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            put_bytes(b, out);
        }
        AttributeValue::Bool(false) => out.push(TAG_FALSE),
        AttributeValue::Bool(true) => out.push(TAG_TRUE),
        AttributeValue::Null => out.push(TAG_NULL),
        AttributeValue::M(m) => {
            out.push(TAG_M);
            encode_map(m, out);
        }
        AttributeValue::L(l) => {
            out.push(TAG_L);
            put_len(l.len(), out);
            for e in l {
                encode_value(e, out);
            }
        }
        AttributeValue::Ss(s) => {
            out.push(TAG_SS);
            put_len(s.len(), out);
            for e in s {
                put_bytes(e.as_bytes(), out);
            }
        }
        AttributeValue::Ns(n) => {
            out.push(TAG_NS);
            put_len(n.len(), out);
            for e in n {
                e.encode_into(out);
            }
        }
        AttributeValue::Bs(b) => {
            out.push(TAG_BS);
            put_len(b.len(), out);
            for e in b {
                put_bytes(e, out);
            }
        }
    }
}

fn put_len(len: usize, out: &mut Vec<u8>) {
    // Items are at most a few hundred KB, so every length fits 32 bits.
    let mut v = u32::try_from(len).expect("item component length fits u32");
    loop {
        let low = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// Decodes stored item bytes, checking everything (see the module docs).
pub fn decode_item(bytes: &[u8]) -> Result<Item, ItemDecodeError> {
    let mut r = Reader { bytes, at: 0 };
    if r.u8("format version")? != FORMAT_VERSION {
        return Err(r.error_before(1, "unknown item format version"));
    }
    let item = r.map(0)?;
    if r.at != bytes.len() {
        return Err(r.error("trailing bytes after the item"));
    }
    Ok(item)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: &'static str) -> ItemDecodeError {
        ItemDecodeError {
            offset: self.at,
            reason,
        }
    }

    fn error_before(&self, back: usize, reason: &'static str) -> ItemDecodeError {
        ItemDecodeError {
            offset: self.at.saturating_sub(back),
            reason,
        }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ItemDecodeError> {
        let b = *self.bytes.get(self.at).ok_or_else(|| self.error(what))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, ItemDecodeError> {
        let start = self.at;
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = self.u8("truncated length")?;
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(ItemDecodeError {
                        offset: start,
                        reason: "non-minimal length",
                    });
                }
                return usize::try_from(v)
                    .ok()
                    .filter(|&v| v <= u32::MAX as usize)
                    .ok_or(ItemDecodeError {
                        offset: start,
                        reason: "length over 2^32",
                    });
            }
        }
        Err(ItemDecodeError {
            offset: start,
            reason: "length longer than 5 bytes",
        })
    }

    /// A count of elements that each take at least one byte.
    fn count(&mut self) -> Result<usize, ItemDecodeError> {
        let n = self.varint()?;
        if n > self.left() {
            return Err(self.error("count larger than the bytes left"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ItemDecodeError> {
        let n = self.varint()?;
        if n > self.left() {
            return Err(self.error("length larger than the bytes left"));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn string(&mut self) -> Result<String, ItemDecodeError> {
        let start = self.at;
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| ItemDecodeError {
                offset: start,
                reason: "string is not UTF-8",
            })
    }

    fn number(&mut self) -> Result<Number, ItemDecodeError> {
        let (n, used) = Number::decode(&self.bytes[self.at..]).map_err(|_| ItemDecodeError {
            offset: self.at,
            reason: "invalid number encoding",
        })?;
        self.at += used;
        Ok(n)
    }

    /// `depth` is how many M/L levels enclose this map (0 for the item itself).
    fn map(&mut self, depth: usize) -> Result<Item, ItemDecodeError> {
        let n = self.count()?;
        let mut out = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..n {
            let start = self.at;
            let name = self.string()?;
            if name.is_empty() || last.as_ref().is_some_and(|l| *l >= name) {
                return Err(ItemDecodeError {
                    offset: start,
                    reason: "attribute names empty or not strictly ascending",
                });
            }
            let v = self.value(depth)?;
            last = Some(name.clone());
            out.insert(name, v);
        }
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, ItemDecodeError> {
        let tag = self.u8("truncated value tag")?;
        let nested = |r: &Self| {
            // One more than the API accepts: items stored while the limit was 32 still decode.
            if depth > MAX_NESTING_DEPTH {
                Err(r.error("nesting deeper than 32 levels"))
            } else {
                Ok(())
            }
        };
        Ok(match tag {
            TAG_S => AttributeValue::S(self.string()?),
            TAG_N => AttributeValue::N(self.number()?),
            TAG_B => AttributeValue::B(self.bytes()?.to_vec()),
            TAG_FALSE => AttributeValue::Bool(false),
            TAG_TRUE => AttributeValue::Bool(true),
            TAG_NULL => AttributeValue::Null,
            TAG_M => {
                nested(self)?;
                AttributeValue::M(self.map(depth + 1)?)
            }
            TAG_L => {
                nested(self)?;
                let n = self.count()?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.value(depth + 1)?);
                }
                AttributeValue::L(out)
            }
            TAG_SS => AttributeValue::Ss(self.set(Self::string)?),
            TAG_NS => AttributeValue::Ns(self.set(Self::number)?),
            TAG_BS => AttributeValue::Bs(self.set(|r| r.bytes().map(<[u8]>::to_vec))?),
            _ => return Err(self.error_before(1, "unknown value tag")),
        })
    }

    fn set<T: Ord>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T, ItemDecodeError>,
    ) -> Result<Vec<T>, ItemDecodeError> {
        let start = self.at;
        let n = self.count()?;
        let mut out: Vec<T> = Vec::with_capacity(n);
        for _ in 0..n {
            let e = element(self)?;
            if out.last().is_some_and(|l| *l >= e) {
                return Err(ItemDecodeError {
                    offset: start,
                    reason: "set members not strictly ascending",
                });
            }
            out.push(e);
        }
        if out.is_empty() {
            return Err(ItemDecodeError {
                offset: start,
                reason: "empty set",
            });
        }
        Ok(out)
    }
}
