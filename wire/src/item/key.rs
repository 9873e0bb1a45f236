//! The primary key of an item: taken out of a whole item (PutItem) or out of a `Key` parameter
//! (GetItem, DeleteItem), checked against the table's key schema with DynamoDB's messages, and
//! encoded with `crate::key` (`table | hash64(pk) | pk_len | pk | sk`).
//!
//! The two entry points differ as DynamoDB does: an item may hold any other attributes and names
//! a missing or mistyped key attribute in its message; a `Key` must hold exactly the key
//! attributes, else "The provided key element does not match the schema".

use crate::control::TableDesc;
use crate::ids::TableId;
use crate::key::{KeyAttr, KeyError, KeyType, encode_item_key, hash64};

use super::{AttributeValue, Item, ItemError};

/// A table's key attributes: the partition key and the optional sort key, each a name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub table: TableId,
    pub hash: (String, KeyType),
    pub range: Option<(String, KeyType)>,
}

/// A validated primary key in stored form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryKey {
    pub pk: KeyAttr,
    pub sk: Option<KeyAttr>,
    /// `crate::key::encode_item_key(table, pk, sk)`.
    pub encoded: Vec<u8>,
    /// `crate::key::hash64(pk)`: the partition-routing hash (also inside `encoded`).
    pub hash: u64,
}

impl KeySchema {
    /// The schema of a table description; `None` if the description has no `HASH` element or
    /// a key attribute lacks its definition (the control plane never stores such a table).
    pub fn from_table(desc: &TableDesc) -> Option<KeySchema> {
        let (hash_name, hash_type) = desc.hash_key()?;
        let range = match desc
            .key_schema
            .iter()
            .any(|e| e.key_type == crate::control::KeyRole::Range)
        {
            true => {
                let (name, t) = desc.range_key()?;
                Some((name.to_owned(), t.key_type()))
            }
            false => None,
        };
        Some(KeySchema {
            table: desc.id,
            hash: (hash_name.to_owned(), hash_type.key_type()),
            range,
        })
    }

    /// True if `name` is one of the key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.hash.0 == name || self.range.as_ref().is_some_and(|(n, _)| n == name)
    }

    /// The primary key of a whole item (PutItem's `Item`): each key attribute must be present
    /// with its declared type; the values must satisfy DynamoDB's key rules.
    pub fn key_of_item(&self, item: &Item) -> Result<PrimaryKey, ItemError> {
        let pk = item_component(item, &self.hash)?;
        let sk = match &self.range {
            Some(range) => Some(item_component(item, range)?),
            None => None,
        };
        self.encode(pk, sk)
    }

    /// The primary key in a `Key` parameter (GetItem, DeleteItem): exactly the key attributes,
    /// with their declared types.
    pub fn key_of_key(&self, key: &Item) -> Result<PrimaryKey, ItemError> {
        let mismatch =
            || ItemError::Validation("The provided key element does not match the schema".into());
        let expected = 1 + usize::from(self.range.is_some());
        if key.len() != expected {
            return Err(mismatch());
        }
        let pk = key
            .get(&self.hash.0)
            .and_then(|v| key_attr(v, self.hash.1))
            .ok_or_else(mismatch)?;
        let sk = match &self.range {
            Some((name, t)) => Some(
                key.get(name)
                    .and_then(|v| key_attr(v, *t))
                    .ok_or_else(mismatch)?,
            ),
            None => None,
        };
        self.encode(pk, sk)
    }

    fn encode(&self, pk: KeyAttr, sk: Option<KeyAttr>) -> Result<PrimaryKey, ItemError> {
        let encoded = encode_item_key(self.table, &pk, sk.as_ref()).map_err(|e| {
            let name = match &e {
                KeyError::EmptyKeyValue {
                    part: crate::key::KeyPart::Sort,
                    ..
                } => self.range.as_ref().map_or("", |(n, _)| n.as_str()),
                _ => self.hash.0.as_str(),
            };
            ItemError::Validation(e.dynamodb_message(name))
        })?;
        let hash = hash64(&pk);
        Ok(PrimaryKey {
            pk,
            sk,
            encoded,
            hash,
        })
    }
}

fn item_component(item: &Item, (name, t): &(String, KeyType)) -> Result<KeyAttr, ItemError> {
    let v = item.get(name).ok_or_else(|| {
        ItemError::Validation(format!(
            "One or more parameter values were invalid: Missing the key {name} in the item"
        ))
    })?;
    key_attr(v, *t).ok_or_else(|| {
        ItemError::Validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {name} expected: {t} actual: {}",
            v.type_name()
        ))
    })
}

/// The value as a key attribute of type `t`, if it has that type.
fn key_attr(v: &AttributeValue, t: KeyType) -> Option<KeyAttr> {
    match (v, t) {
        (AttributeValue::S(s), KeyType::S) => Some(KeyAttr::S(s.clone())),
        (AttributeValue::N(n), KeyType::N) => Some(KeyAttr::N(*n)),
        (AttributeValue::B(b), KeyType::B) => Some(KeyAttr::B(b.clone())),
        _ => None,
    }
}
