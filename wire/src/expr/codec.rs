//! A compact binary form of a parsed [`Condition`] and [`UpdateExpr`], so the node that
//! received a request (which parsed and validated the expressions, in DynamoDB's error order)
//! can hand them to the partition leader inside an `ItemRequest`; the leader evaluates them
//! against the current item atomically with the write. Legacy parameters (`Expected`,
//! `AttributeUpdates`) arrive here already mapped onto the same trees, so one form serves both.
//!
//! ```text
//! blob   := 0x01 (format) | kind u8 (1 condition, 2 update) | values | tree
//! values := len:varint | item bytes (crate::item::encoding) whose names are "00000", "00001"…
//!           in order: the constants of the tree, referred to by index
//! tree   := tagged pre-order; strings and paths carry their lengths; varints as in the
//!           item encoding (LEB128, at most 5 bytes)
//! ```
//!
//! Invariants: `decode(encode(x)) == x` for every tree the parser can produce; decoding checks
//! everything (tags, lengths against the bytes left, value indexes, UTF-8, nesting at most
//! [`DEPTH_MAX`], no trailing bytes) and never panics, so a corrupt blob is a typed error.

use std::collections::BTreeMap;

use super::ast::{
    Comparator, Condition, Operand, Path, PathElem, SetValue, UpdateAction, UpdateExpr,
    UpdateOperand,
};
use crate::item::{AttributeValue, Item, decode_item, encode_item};

const FORMAT: u8 = 1;
const KIND_CONDITION: u8 = 1;
const KIND_UPDATE: u8 = 2;
/// Deepest tree accepted (conditions, operands and update operands nest; the parser bounds
/// them at `NESTING_MAX` = 64 plus path and `size()` levels).
pub const DEPTH_MAX: usize = 200;
/// Width of a value's name in the value table (index, zero-padded: names sort in index order).
const VALUE_NAME_DIGITS: usize = 5;

/// A blob that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expression blob corrupt at byte {offset}: {reason}")]
pub struct CodecError {
    pub offset: usize,
    pub reason: &'static str,
}

/// Encodes a condition.
pub fn encode_condition(c: &Condition) -> Vec<u8> {
    let mut w = Writer::default();
    w.condition(c);
    w.finish(KIND_CONDITION)
}

/// Encodes an update.
pub fn encode_update(u: &UpdateExpr) -> Vec<u8> {
    let mut w = Writer::default();
    w.varint(u.actions.len());
    for a in &u.actions {
        w.action(a);
    }
    w.finish(KIND_UPDATE)
}

pub fn decode_condition(bytes: &[u8]) -> Result<Condition, CodecError> {
    let mut r = Reader::open(bytes, KIND_CONDITION)?;
    let c = r.condition(0)?;
    r.close()?;
    Ok(c)
}

pub fn decode_update(bytes: &[u8]) -> Result<UpdateExpr, CodecError> {
    let mut r = Reader::open(bytes, KIND_UPDATE)?;
    let n = r.count()?;
    let mut actions = Vec::with_capacity(n);
    for _ in 0..n {
        actions.push(r.action()?);
    }
    r.close()?;
    Ok(UpdateExpr { actions })
}

// Tags.
const C_COMPARE: u8 = 1;
const C_BETWEEN: u8 = 2;
const C_IN: u8 = 3;
const C_EXISTS: u8 = 4;
const C_NOT_EXISTS: u8 = 5;
const C_TYPE: u8 = 6;
const C_BEGINS: u8 = 7;
const C_CONTAINS: u8 = 8;
const C_NOT: u8 = 9;
const C_AND: u8 = 10;
const C_OR: u8 = 11;
const O_PATH: u8 = 1;
const O_VALUE: u8 = 2;
const O_SIZE: u8 = 3;
const U_PATH: u8 = 1;
const U_VALUE: u8 = 2;
const U_IF_NOT_EXISTS: u8 = 3;
const U_LIST_APPEND: u8 = 4;
const S_OPERAND: u8 = 1;
const S_PLUS: u8 = 2;
const S_MINUS: u8 = 3;
const A_SET: u8 = 1;
const A_REMOVE: u8 = 2;
const A_ADD: u8 = 3;
const A_DELETE: u8 = 4;
const A_LEGACY_ADD: u8 = 5;
const A_LEGACY_DELETE: u8 = 6;
const P_ATTR: u8 = 1;
const P_INDEX: u8 = 2;

fn comparator_tag(c: Comparator) -> u8 {
    match c {
        Comparator::Eq => 1,
        Comparator::Ne => 2,
        Comparator::Lt => 3,
        Comparator::Le => 4,
        Comparator::Gt => 5,
        Comparator::Ge => 6,
    }
}

fn comparator_of(tag: u8) -> Option<Comparator> {
    Some(match tag {
        1 => Comparator::Eq,
        2 => Comparator::Ne,
        3 => Comparator::Lt,
        4 => Comparator::Le,
        5 => Comparator::Gt,
        6 => Comparator::Ge,
        _ => return None,
    })
}

fn value_name(i: usize) -> String {
    format!("{i:0width$}", width = VALUE_NAME_DIGITS)
}

#[derive(Default)]
struct Writer {
    tree: Vec<u8>,
    values: Vec<AttributeValue>,
}

impl Writer {
    fn finish(self, kind: u8) -> Vec<u8> {
        let table: Item = self
            .values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (value_name(i), v))
            .collect();
        let table = encode_item(&table);
        let mut out = Vec::with_capacity(8 + table.len() + self.tree.len());
        out.push(FORMAT);
        out.push(kind);
        put_varint(table.len(), &mut out);
        out.extend_from_slice(&table);
        out.extend_from_slice(&self.tree);
        out
    }

    fn u8(&mut self, b: u8) {
        self.tree.push(b);
    }

    fn varint(&mut self, n: usize) {
        put_varint(n, &mut self.tree);
    }

    fn string(&mut self, s: &str) {
        self.varint(s.len());
        self.tree.extend_from_slice(s.as_bytes());
    }

    fn value(&mut self, v: &AttributeValue) {
        assert!(
            self.values.len() < 10usize.pow(VALUE_NAME_DIGITS as u32),
            "value table overflow"
        );
        self.varint(self.values.len());
        self.values.push(v.clone());
    }

    fn path(&mut self, p: &Path) {
        self.varint(p.0.len());
        for e in &p.0 {
            match e {
                PathElem::Attr(name) => {
                    self.u8(P_ATTR);
                    self.string(name);
                }
                PathElem::Index(i) => {
                    self.u8(P_INDEX);
                    self.varint(*i as usize);
                }
            }
        }
    }

    fn operand(&mut self, o: &Operand) {
        match o {
            Operand::Path(p) => {
                self.u8(O_PATH);
                self.path(p);
            }
            Operand::Value(v) => {
                self.u8(O_VALUE);
                self.value(v);
            }
            Operand::Size(inner) => {
                self.u8(O_SIZE);
                self.operand(inner);
            }
        }
    }

    fn condition(&mut self, c: &Condition) {
        match c {
            Condition::Compare(cmp, a, b) => {
                self.u8(C_COMPARE);
                self.u8(comparator_tag(*cmp));
                self.operand(a);
                self.operand(b);
            }
            Condition::Between(a, lo, hi) => {
                self.u8(C_BETWEEN);
                self.operand(a);
                self.operand(lo);
                self.operand(hi);
            }
            Condition::In(a, list) => {
                self.u8(C_IN);
                self.operand(a);
                self.varint(list.len());
                for o in list {
                    self.operand(o);
                }
            }
            Condition::AttributeExists(p) => {
                self.u8(C_EXISTS);
                self.path(p);
            }
            Condition::AttributeNotExists(p) => {
                self.u8(C_NOT_EXISTS);
                self.path(p);
            }
            Condition::AttributeType(o, t) => {
                self.u8(C_TYPE);
                self.operand(o);
                self.string(t);
            }
            Condition::BeginsWith(a, b) => {
                self.u8(C_BEGINS);
                self.operand(a);
                self.operand(b);
            }
            Condition::Contains(a, b) => {
                self.u8(C_CONTAINS);
                self.operand(a);
                self.operand(b);
            }
            Condition::Not(inner) => {
                self.u8(C_NOT);
                self.condition(inner);
            }
            Condition::And(a, b) => {
                self.u8(C_AND);
                self.condition(a);
                self.condition(b);
            }
            Condition::Or(a, b) => {
                self.u8(C_OR);
                self.condition(a);
                self.condition(b);
            }
        }
    }

    fn update_operand(&mut self, o: &UpdateOperand) {
        match o {
            UpdateOperand::Path(p) => {
                self.u8(U_PATH);
                self.path(p);
            }
            UpdateOperand::Value(v) => {
                self.u8(U_VALUE);
                self.value(v);
            }
            UpdateOperand::IfNotExists(p, inner) => {
                self.u8(U_IF_NOT_EXISTS);
                self.path(p);
                self.update_operand(inner);
            }
            UpdateOperand::ListAppend(a, b) => {
                self.u8(U_LIST_APPEND);
                self.update_operand(a);
                self.update_operand(b);
            }
        }
    }

    fn action(&mut self, a: &UpdateAction) {
        match a {
            UpdateAction::Set(p, v) => {
                self.u8(A_SET);
                self.path(p);
                match v {
                    SetValue::Operand(o) => {
                        self.u8(S_OPERAND);
                        self.update_operand(o);
                    }
                    SetValue::Plus(a, b) => {
                        self.u8(S_PLUS);
                        self.update_operand(a);
                        self.update_operand(b);
                    }
                    SetValue::Minus(a, b) => {
                        self.u8(S_MINUS);
                        self.update_operand(a);
                        self.update_operand(b);
                    }
                }
            }
            UpdateAction::Remove(p) => {
                self.u8(A_REMOVE);
                self.path(p);
            }
            UpdateAction::Add(p, v) => {
                self.u8(A_ADD);
                self.path(p);
                self.value(v);
            }
            UpdateAction::Delete(p, v) => {
                self.u8(A_DELETE);
                self.path(p);
                self.value(v);
            }
            UpdateAction::LegacyAdd(p, v) => {
                self.u8(A_LEGACY_ADD);
                self.path(p);
                self.value(v);
            }
            UpdateAction::LegacyDelete(p, v) => {
                self.u8(A_LEGACY_DELETE);
                self.path(p);
                self.value(v);
            }
        }
    }
}

fn put_varint(mut n: usize, out: &mut Vec<u8>) {
    assert!(n <= u32::MAX as usize, "varint over 2^32");
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    values: Vec<AttributeValue>,
}

impl<'a> Reader<'a> {
    fn open(bytes: &'a [u8], kind: u8) -> Result<Reader<'a>, CodecError> {
        let mut r = Reader {
            bytes,
            at: 0,
            values: Vec::new(),
        };
        if r.u8()? != FORMAT {
            return Err(r.error("unknown format"));
        }
        if r.u8()? != kind {
            return Err(r.error("not the expected kind of expression"));
        }
        let table = r.slice()?;
        let at = r.at;
        let table: BTreeMap<String, AttributeValue> =
            decode_item(table).map_err(|_| CodecError {
                offset: at,
                reason: "value table does not decode",
            })?;
        for (i, (name, v)) in table.into_iter().enumerate() {
            if name != value_name(i) {
                return Err(r.error("value table names out of order"));
            }
            r.values.push(v);
        }
        Ok(r)
    }

    fn close(&self) -> Result<(), CodecError> {
        if self.at != self.bytes.len() {
            return Err(self.error("trailing bytes"));
        }
        Ok(())
    }

    fn error(&self, reason: &'static str) -> CodecError {
        CodecError {
            offset: self.at,
            reason,
        }
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.error("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, CodecError> {
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return usize::try_from(v)
                    .ok()
                    .filter(|&v| v <= u32::MAX as usize)
                    .ok_or_else(|| self.error("varint over 2^32"));
            }
        }
        Err(self.error("varint longer than 5 bytes"))
    }

    /// A count of elements that each take at least one byte.
    fn count(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()?;
        if n > self.bytes.len() - self.at {
            return Err(self.error("count larger than the bytes left"));
        }
        Ok(n)
    }

    fn slice(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.varint()?;
        if n > self.bytes.len() - self.at {
            return Err(self.error("length larger than the bytes left"));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let b = self.slice()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| self.error("string is not UTF-8"))
    }

    fn value(&mut self) -> Result<AttributeValue, CodecError> {
        let i = self.varint()?;
        self.values
            .get(i)
            .cloned()
            .ok_or_else(|| self.error("value index out of the table"))
    }

    fn path(&mut self) -> Result<Path, CodecError> {
        let n = self.count()?;
        if n == 0 {
            return Err(self.error("empty path"));
        }
        let mut elems = Vec::with_capacity(n);
        for i in 0..n {
            elems.push(match self.u8()? {
                P_ATTR => PathElem::Attr(self.string()?),
                P_INDEX if i > 0 => {
                    let v = self.varint()?;
                    PathElem::Index(u32::try_from(v).map_err(|_| self.error("index"))?)
                }
                _ => return Err(self.error("bad path element")),
            });
        }
        Ok(Path(elems))
    }

    fn deeper(&self, depth: usize) -> Result<usize, CodecError> {
        if depth >= DEPTH_MAX {
            return Err(self.error("nested too deep"));
        }
        Ok(depth + 1)
    }

    fn operand(&mut self, depth: usize) -> Result<Operand, CodecError> {
        let d = self.deeper(depth)?;
        Ok(match self.u8()? {
            O_PATH => Operand::Path(self.path()?),
            O_VALUE => Operand::Value(self.value()?),
            O_SIZE => Operand::Size(Box::new(self.operand(d)?)),
            _ => return Err(self.error("bad operand tag")),
        })
    }

    fn condition(&mut self, depth: usize) -> Result<Condition, CodecError> {
        let d = self.deeper(depth)?;
        Ok(match self.u8()? {
            C_COMPARE => {
                let tag = self.u8()?;
                let cmp = comparator_of(tag).ok_or_else(|| self.error("bad comparator"))?;
                Condition::Compare(cmp, self.operand(d)?, self.operand(d)?)
            }
            C_BETWEEN => Condition::Between(self.operand(d)?, self.operand(d)?, self.operand(d)?),
            C_IN => {
                let a = self.operand(d)?;
                let n = self.count()?;
                let mut list = Vec::with_capacity(n);
                for _ in 0..n {
                    list.push(self.operand(d)?);
                }
                Condition::In(a, list)
            }
            C_EXISTS => Condition::AttributeExists(self.path()?),
            C_NOT_EXISTS => Condition::AttributeNotExists(self.path()?),
            C_TYPE => Condition::AttributeType(self.operand(d)?, self.string()?),
            C_BEGINS => Condition::BeginsWith(self.operand(d)?, self.operand(d)?),
            C_CONTAINS => Condition::Contains(self.operand(d)?, self.operand(d)?),
            C_NOT => Condition::Not(Box::new(self.condition(d)?)),
            C_AND => Condition::And(Box::new(self.condition(d)?), Box::new(self.condition(d)?)),
            C_OR => Condition::Or(Box::new(self.condition(d)?), Box::new(self.condition(d)?)),
            _ => return Err(self.error("bad condition tag")),
        })
    }

    fn update_operand(&mut self, depth: usize) -> Result<UpdateOperand, CodecError> {
        let d = self.deeper(depth)?;
        Ok(match self.u8()? {
            U_PATH => UpdateOperand::Path(self.path()?),
            U_VALUE => UpdateOperand::Value(self.value()?),
            U_IF_NOT_EXISTS => {
                UpdateOperand::IfNotExists(self.path()?, Box::new(self.update_operand(d)?))
            }
            U_LIST_APPEND => UpdateOperand::ListAppend(
                Box::new(self.update_operand(d)?),
                Box::new(self.update_operand(d)?),
            ),
            _ => return Err(self.error("bad update operand tag")),
        })
    }

    fn action(&mut self) -> Result<UpdateAction, CodecError> {
        Ok(match self.u8()? {
            A_SET => {
                let p = self.path()?;
                let v = match self.u8()? {
                    S_OPERAND => SetValue::Operand(self.update_operand(0)?),
                    S_PLUS => SetValue::Plus(self.update_operand(0)?, self.update_operand(0)?),
                    S_MINUS => SetValue::Minus(self.update_operand(0)?, self.update_operand(0)?),
                    _ => return Err(self.error("bad SET value tag")),
                };
                UpdateAction::Set(p, v)
            }
            A_REMOVE => UpdateAction::Remove(self.path()?),
            A_ADD => UpdateAction::Add(self.path()?, self.value()?),
            A_DELETE => UpdateAction::Delete(self.path()?, self.value()?),
            A_LEGACY_ADD => UpdateAction::LegacyAdd(self.path()?, self.value()?),
            A_LEGACY_DELETE => UpdateAction::LegacyDelete(self.path()?, self.value()?),
            _ => return Err(self.error("bad action tag")),
        })
    }
}
