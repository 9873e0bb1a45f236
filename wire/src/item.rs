//! DynamoDB items: attribute values (`S N B BOOL NULL M L SS NS BS`), their DynamoDB-JSON form,
//! DynamoDB's validation rules and messages, and DynamoDB's item-size formula.
//!
//! Every [`AttributeValue`] that exists was validated, whichever way it came in
//! ([`parse_item`] / [`parse_value`] from DynamoDB JSON, [`decode_item`] from stored bytes):
//! * numbers are [`Number`]s (38 digits, DynamoDB's range, canonical form);
//! * sets are non-empty, hold no duplicates, and are kept **sorted** (SS and BS by bytes, NS
//!   numerically; DynamoDB does not preserve set order, so canonical order costs nothing and
//!   makes equality, encoding and output deterministic);
//! * nesting of M and L is at most [`MAX_NESTING_DEPTH`] (31) levels: a top-level `M` holding
//!   scalars is 1 level (DynamoDB's "32 levels" count the item itself: real DynamoDB refuses
//!   an attribute of 32 nested maps, as recorded by conformance suites run against it);
//! * empty S and B values are allowed here: only key attributes forbid them
//!   (`item/key.rs`, with `crate::key`'s rules).
//!
//! [`item_size_bytes`] is DynamoDB's formula (dynamodb-facts §2.5): names count their UTF-8
//! bytes; S by UTF-8 bytes, B by raw bytes, N by [`Number::dynamodb_size_bytes`], BOOL and NULL
//! 1 byte, sets the sum of their members, M and L 3 bytes plus 1 byte per element plus the
//! elements (and, for M, the element names). An item may be at most [`MAX_ITEM_BYTES`].
//!
//! Binary values travel as standard base64 (RFC 4648 with padding) in JSON. The `base64` crate
//! (0.22, already in the lock file through tonic) does that; it rejects non-canonical trailing
//! bits and bad padding, so a stored B value round-trips byte-exactly.
//!
//! Submodules: `item/encoding.rs` is the compact binary form stored by the engine;
//! `item/key.rs` takes the primary key out of an item or a `Key` parameter and encodes it with
//! `crate::key`. Neighbours: numbers in `crate::number`; the API operations that use all this
//! in `storage-node/src/api/ops/`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::number::Number;

mod encoding;
mod key;
#[cfg(test)]
mod tests;

pub use encoding::{ItemDecodeError, decode_item, encode_item, encode_item_into};
pub use key::{KeySchema, PrimaryKey};

/// DynamoDB's largest item: 400 KB as DynamoDB counts it ([`item_size_bytes`]).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// The deepest nesting of M and L DynamoDB accepts.
pub const MAX_NESTING_DEPTH: usize = 31;

/// An item: attribute name → value. Names are unique and non-empty; a `BTreeMap` keeps them in
/// byte order, which the binary encoding relies on.
pub type Item = BTreeMap<String, AttributeValue>;

const EMPTY_VALUE: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";

/// DynamoDB's type descriptors.
const TYPE_TAGS: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

/// One DynamoDB attribute value. See the module docs for the invariants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    /// Sorted by UTF-8 bytes, unique, non-empty.
    Ss(Vec<String>),
    /// Sorted numerically, unique, non-empty.
    Ns(Vec<Number>),
    /// Sorted by unsigned bytes, unique, non-empty.
    Bs(Vec<Vec<u8>>),
}

impl AttributeValue {
    /// DynamoDB's type descriptor (`"S"`, `"NS"`, `"BOOL"`…).
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// The value's size by DynamoDB's formula, without the attribute name.
    pub fn size_bytes(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.dynamodb_size_bytes(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| 1 + k.len() + v.size_bytes())
                    .sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + v.size_bytes()).sum::<usize>(),
            AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
            AttributeValue::Ns(n) => n.iter().map(Number::dynamodb_size_bytes).sum(),
            AttributeValue::Bs(b) => b.iter().map(Vec::len).sum(),
        }
    }

    /// Levels of M/L nesting: 0 for scalars and sets, 1 + the deepest element for M and L.
    pub fn depth(&self) -> usize {
        match self {
            AttributeValue::M(m) => 1 + m.values().map(Self::depth).max().unwrap_or(0),
            AttributeValue::L(l) => 1 + l.iter().map(Self::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// The DynamoDB JSON form, e.g. `{"N":"1000"}` (numbers in canonical text, binary in base64,
    /// sets in canonical order).
    pub fn to_json(&self) -> Value {
        let (tag, v) = match self {
            AttributeValue::S(s) => ("S", Value::String(s.clone())),
            AttributeValue::N(n) => ("N", Value::String(n.to_canonical_string())),
            AttributeValue::B(b) => ("B", Value::String(BASE64.encode(b))),
            AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
            AttributeValue::Null => ("NULL", Value::Bool(true)),
            AttributeValue::M(m) => ("M", Value::Object(item_to_json(m))),
            AttributeValue::L(l) => ("L", Value::Array(l.iter().map(Self::to_json).collect())),
            AttributeValue::Ss(s) => (
                "SS",
                Value::Array(s.iter().cloned().map(Value::String).collect()),
            ),
            AttributeValue::Ns(n) => (
                "NS",
                Value::Array(
                    n.iter()
                        .map(|n| Value::String(n.to_canonical_string()))
                        .collect(),
                ),
            ),
            AttributeValue::Bs(b) => (
                "BS",
                Value::Array(b.iter().map(|b| Value::String(BASE64.encode(b))).collect()),
            ),
        };
        let mut obj = Map::with_capacity(1);
        obj.insert(tag.to_owned(), v);
        Value::Object(obj)
    }
}

/// Why an item or value from a client is not acceptable. `Display` is DynamoDB's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// The JSON does not have the shape of an attribute value (a wrong JSON type, bad base64):
    /// DynamoDB answers `SerializationException`.
    #[error("{0}")]
    Serialization(String),
    /// Well-formed, but breaks a DynamoDB rule: `ValidationException`.
    #[error("{0}")]
    Validation(String),
}

/// The item's size by DynamoDB's formula: per attribute, name bytes + value size.
pub fn item_size_bytes(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size_bytes()).sum()
}

/// Checks the 400 KB limit (DynamoDB's message).
pub fn check_item_size(item: &Item) -> Result<(), ItemError> {
    if item_size_bytes(item) > MAX_ITEM_BYTES {
        return Err(ItemError::Validation(
            "Item size has exceeded the maximum allowed size".to_owned(),
        ));
    }
    Ok(())
}

/// An item in DynamoDB JSON: `{"name": {"S": "x"}, …}`.
pub fn item_to_json(item: &Item) -> Map<String, Value> {
    item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()
}

/// Parses an item (or a `Key`) from DynamoDB JSON: a JSON object of attribute values. Checks
/// every value rule of the module docs; not the item size (see [`check_item_size`]) nor key
/// rules (see [`KeySchema`]).
pub fn parse_item(json: &Value) -> Result<Item, ItemError> {
    let Value::Object(map) = json else {
        return Err(type_error(json, "Map"));
    };
    parse_map(map, 0)
}

/// Parses one attribute value such as `{"N": "1"}`.
pub fn parse_value(json: &Value) -> Result<AttributeValue, ItemError> {
    parse_value_at(json, 0)
}

fn parse_map(map: &Map<String, Value>, depth: usize) -> Result<Item, ItemError> {
    let mut out = BTreeMap::new();
    for (name, v) in map {
        if name.is_empty() {
            return Err(ItemError::Validation(
                "One or more parameter values were invalid: An attribute name cannot be empty"
                    .to_owned(),
            ));
        }
        out.insert(name.clone(), parse_value_at(v, depth)?);
    }
    Ok(out)
}

/// `depth` is the number of M/L levels enclosing `json`.
fn parse_value_at(json: &Value, depth: usize) -> Result<AttributeValue, ItemError> {
    let Value::Object(obj) = json else {
        return Err(type_error(json, "AttributeValue"));
    };
    // Null members count as absent, and unknown members are ignored, as DynamoDB's
    // deserializer does: `{"a": ""}` is an empty AttributeValue.
    let mut members = obj
        .iter()
        .filter(|(k, v)| !v.is_null() && TYPE_TAGS.contains(&k.as_str()));
    let Some((tag, v)) = members.next() else {
        return Err(ItemError::Validation(EMPTY_VALUE.to_owned()));
    };
    if members.next().is_some() {
        return Err(ItemError::Validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
                .to_owned(),
        ));
    }
    let nested = |d: usize| -> Result<(), ItemError> {
        if d > MAX_NESTING_DEPTH {
            Err(ItemError::Validation(
                "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit".to_owned(),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(string(v)?.to_owned()),
        "N" => AttributeValue::N(number(string(v)?)?),
        "B" => AttributeValue::B(binary(v)?),
        "BOOL" => AttributeValue::Bool(boolean(v)?),
        "NULL" => {
            if !boolean(v)? {
                return Err(ItemError::Validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true"
                        .to_owned(),
                ));
            }
            AttributeValue::Null
        }
        "M" => {
            nested(depth + 1)?;
            let Value::Object(m) = v else {
                return Err(type_error(v, "Map"));
            };
            AttributeValue::M(parse_map(m, depth + 1)?)
        }
        "L" => {
            nested(depth + 1)?;
            let list = array(v)?;
            let mut out = Vec::with_capacity(list.len());
            for e in list {
                out.push(parse_value_at(e, depth + 1)?);
            }
            AttributeValue::L(out)
        }
        "SS" => {
            let list = array(v)?;
            let mut set = list
                .iter()
                .map(|e| string(e).map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            let shown = || format!("[{}]", set_display(list));
            set.sort();
            check_set(&set, "string", || {
                format!("Input collection {} contains duplicates.", shown())
            })?;
            AttributeValue::Ss(set)
        }
        "NS" => {
            let mut set = array(v)?
                .iter()
                .map(|e| string(e).and_then(number))
                .collect::<Result<Vec<_>, _>>()?;
            set.sort();
            check_set(&set, "number", || {
                "Input collection contains duplicates.".to_owned()
            })?;
            AttributeValue::Ns(set)
        }
        "BS" => {
            let list = array(v)?;
            let mut set = list.iter().map(binary).collect::<Result<Vec<_>, _>>()?;
            let shown = || format!("[{}]", set_display(list));
            set.sort();
            check_set(&set, "binary", || {
                format!(
                    "Input collection {}of type BS contains duplicates.",
                    shown()
                )
            })?;
            AttributeValue::Bs(set)
        }
        // Not reached: members are filtered to TYPE_TAGS. An error, not a panic, all the same.
        _ => return Err(ItemError::Validation(EMPTY_VALUE.to_owned())),
    })
}

/// A sorted set must be non-empty and free of duplicates. The messages are DynamoDB's ("An
/// string set  may not be empty" with two spaces; the duplicate message differs per set type
/// and shows the members as sent).
fn check_set<T: PartialEq>(
    sorted: &[T],
    kind: &str,
    duplicates: impl FnOnce() -> String,
) -> Result<(), ItemError> {
    if sorted.is_empty() {
        return Err(ItemError::Validation(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(ItemError::Validation(format!(
            "One or more parameter values were invalid: {}",
            duplicates()
        )));
    }
    Ok(())
}

/// The members of a set as sent, comma-separated (strings unquoted).
fn set_display(list: &[Value]) -> String {
    let shown: Vec<&str> = list.iter().map(|e| e.as_str().unwrap_or("")).collect();
    shown.join(", ")
}

fn string(v: &Value) -> Result<&str, ItemError> {
    v.as_str().ok_or_else(|| type_error(v, "String"))
}

fn boolean(v: &Value) -> Result<bool, ItemError> {
    v.as_bool().ok_or_else(|| type_error(v, "Boolean"))
}

fn array(v: &Value) -> Result<&Vec<Value>, ItemError> {
    v.as_array().ok_or_else(|| type_error(v, "List"))
}

fn number(text: &str) -> Result<Number, ItemError> {
    Number::parse(text).map_err(|e| ItemError::Validation(e.to_string()))
}

fn binary(v: &Value) -> Result<Vec<u8>, ItemError> {
    let text = string(v)?;
    BASE64.decode(text).map_err(|e| {
        ItemError::Serialization(format!("Base64 encoded binary value is invalid: {e}"))
    })
}

/// DynamoDB's (Jackson's) wording for a JSON value of the wrong type.
pub fn type_error(v: &Value, expected: &str) -> ItemError {
    let found = match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    };
    ItemError::Serialization(format!(
        "Unexpected token {found}: expected a {expected} value"
    ))
}
