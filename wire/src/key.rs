//! Stored item keys: the byte layout the storage engine's B-tree orders, and DynamoDB's key
//! rules (types S, N, B; sizes; no empty values).
//!
//! ```text
//! offset 0         4                  12          14                14+L
//!        ┌─────────┬──────────────────┬───────────┬─────────────────┬───────────────────┐
//!        │table_id │ hash64(pk)       │ pk_len=L  │ pk bytes        │ sort key bytes    │
//!        │ u32 BE  │ u64 BE           │ u16 BE    │ (L bytes)       │ (rest; absent if  │
//!        │         │                  │ 1..=2048  │                 │  no sort key)     │
//!        └─────────┴──────────────────┴───────────┴─────────────────┴───────────────────┘
//!        └──────────── collection_prefix(table, pk) ──────────────┘
//! ```
//!
//! Component bytes ("canonical bytes"): S → its UTF-8 bytes; B → its raw bytes; N → the
//! order-preserving number encoding (`number/encoding.rs`, at most 22 bytes).
//!
//! **Hash.** `hash64(pk)` = the first 8 bytes, read big-endian, of
//! `blake3(type_tag ‖ canonical bytes of pk)` with `type_tag` = `b'S'` (0x53), `b'N'` (0x4E)
//! or `b'B'` (0x42). It is part of the on-disk format and of routing (partitions are ranges of
//! the hash space), so it is fixed forever: never a seeded hasher. The golden values in the
//! tests pin it.
//!
//! **Invariants this layout gives.**
//! * Tables are contiguous and ordered by id: every key starts with the table id in big endian
//!   ([`table_prefix`], [`table_range`]).
//! * An item collection (all items with one partition key) is contiguous: its keys are exactly
//!   the keys that start with [`collection_prefix`], because the partition key is
//!   length-prefixed, so no collection prefix is a proper prefix of another (equal table, hash
//!   and length with a prefix relation means equal pk bytes).
//! * Within a collection, keys sort in DynamoDB's sort-key order, because the sort key is the
//!   last component and is stored raw: S by UTF-8 bytes, B by unsigned bytes, N numerically
//!   (the encoding is order-preserving). So `begins_with` on an S or B sort key is a byte-prefix
//!   scan of `collection_prefix ‖ prefix bytes`, and a sort-key range is a byte range.
//! * Collections of one table are ordered by hash, then length, then pk bytes — deterministic,
//!   but meaningless to users (DynamoDB's Scan order is unspecified too).
//!
//! **Limits** (DynamoDB's, dynamodb-facts §2.4): a partition key of 1..=2048 bytes and a sort
//! key of 1..=1024 bytes, counted as DynamoDB counts: UTF-8 bytes for S, raw bytes for B and
//! [`Number::dynamodb_size_bytes`] for N (at most 22, so numbers always fit). Empty S and B key
//! values are rejected. Hence no key is longer than [`MAX_ENCODED_KEY_BYTES`].
//!
//! Neighbours: numbers in `crate::number`; ids in `crate::ids`; the B-tree that stores these
//! keys in `storage-node/src/btree/`.

use std::fmt;

use crate::ids::TableId;
use crate::number::{MAX_ENCODED_NUMBER_BYTES, Number, decode_number_at};

#[cfg(test)]
mod tests;

/// Bytes of `table_id | hash64 | pk_len`, the fixed part before the partition key.
pub const KEY_HEADER_BYTES: usize = 4 + 8 + 2;
/// DynamoDB's largest partition key value.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// DynamoDB's largest sort key value.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// The longest key [`encode_item_key`] can produce; the B-tree must accept keys this long.
pub const MAX_ENCODED_KEY_BYTES: usize =
    KEY_HEADER_BYTES + MAX_PARTITION_KEY_BYTES + MAX_SORT_KEY_BYTES;

// A number component is never longer than the smaller limit, so the maximum above holds for N.
const _: () = assert!(MAX_ENCODED_NUMBER_BYTES <= MAX_SORT_KEY_BYTES);
// pk_len is a u16.
const _: () = assert!(MAX_PARTITION_KEY_BYTES <= u16::MAX as usize);

/// The end of [`table_range`] for the last table id: bytes 12..14 of a valid key are a
/// pk length ≤ 0x0800, so every key of table `u32::MAX` sorts below fourteen 0xFF bytes.
const END_OF_LAST_TABLE: [u8; KEY_HEADER_BYTES] = [0xFF; KEY_HEADER_BYTES];

/// The type of a key attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// String: compared by UTF-8 bytes.
    S,
    /// Number: compared numerically.
    N,
    /// Binary: compared by unsigned bytes.
    B,
}

impl KeyType {
    /// The type-tag byte that starts the hash input (`b'S'`, `b'N'`, `b'B'`); fixed forever.
    pub const fn hash_tag(self) -> u8 {
        match self {
            KeyType::S => b'S',
            KeyType::N => b'N',
            KeyType::B => b'B',
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        })
    }
}

/// A key attribute value: a partition key or a sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyAttr {
    /// A string.
    S(String),
    /// A number.
    N(Number),
    /// A binary value.
    B(Vec<u8>),
}

impl KeyAttr {
    /// The attribute's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            KeyAttr::S(_) => KeyType::S,
            KeyAttr::N(_) => KeyType::N,
            KeyAttr::B(_) => KeyType::B,
        }
    }

    /// The size DynamoDB counts against key limits (and item size): UTF-8 bytes for S, raw
    /// bytes for B, [`Number::dynamodb_size_bytes`] for N.
    pub fn dynamodb_size_bytes(&self) -> usize {
        match self {
            KeyAttr::S(s) => s.len(),
            KeyAttr::N(n) => n.dynamodb_size_bytes(),
            KeyAttr::B(b) => b.len(),
        }
    }

    /// The length of the canonical bytes [`KeyAttr::encode_into`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            KeyAttr::S(s) => s.len(),
            KeyAttr::N(n) => n.encoded_len(),
            KeyAttr::B(b) => b.len(),
        }
    }

    /// Appends the canonical bytes: UTF-8 for S, raw for B, the order-preserving encoding for
    /// N. For a sort key these are exactly the key's last component, so a query bound or a
    /// `begins_with` prefix is `collection_prefix ‖ these bytes`. No limits are checked here.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            KeyAttr::S(s) => out.extend_from_slice(s.as_bytes()),
            KeyAttr::N(n) => n.encode_into(out),
            KeyAttr::B(b) => out.extend_from_slice(b),
        }
    }
}

/// Which key attribute an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyPart {
    /// The partition (hash) key.
    Partition,
    /// The sort (range) key.
    Sort,
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyPart::Partition => "partition",
            KeyPart::Sort => "sort",
        })
    }
}

/// A key that breaks DynamoDB's rules (the first three variants: `Display` is DynamoDB's
/// ValidationException message), or stored key bytes that do not decode (the rest: corruption,
/// with the byte offset inside the key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An empty S or B key value. DynamoDB appends `. Key: <attribute name>`; see
    /// [`KeyError::dynamodb_message`].
    #[error(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value",
        if *key_type == KeyType::B { "binary" } else { "string" }
    )]
    EmptyKeyValue {
        /// Partition or sort key.
        part: KeyPart,
        /// S or B.
        key_type: KeyType,
    },
    /// A partition key over 2048 bytes (sic: DynamoDB's text has no space in "of2048").
    #[error(
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    )]
    PartitionKeyTooLarge {
        /// The key's size as DynamoDB counts it.
        size_bytes: usize,
    },
    /// A sort key over 1024 bytes.
    #[error(
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    )]
    SortKeyTooLarge {
        /// The key's size as DynamoDB counts it.
        size_bytes: usize,
    },
    /// The key ends before a component is complete.
    #[error("stored key truncated at byte {offset}: expected {expected}")]
    Truncated {
        /// Where the missing byte should be.
        offset: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A number component is not a valid encoding.
    #[error("stored key has a corrupt number at byte {offset}: {reason}")]
    CorruptNumber {
        /// The offending byte.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stored partition-key length is 0 or over 2048.
    #[error("stored key has partition-key length {len} at byte {offset}, outside 1..=2048")]
    BadPartitionKeyLength {
        /// Offset of the length field.
        offset: usize,
        /// The stored length.
        len: usize,
    },
    /// A stored S or B sort key is longer than 1024 bytes.
    #[error("stored key has a sort key of {len} bytes at byte {offset}, over 1024")]
    BadSortKeyLength {
        /// Offset of the sort key.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// A stored S component is not UTF-8.
    #[error("stored key has a {part} key at byte {offset} that is not valid UTF-8")]
    InvalidUtf8 {
        /// Which component.
        part: KeyPart,
        /// Offset of the component.
        offset: usize,
    },
    /// The stored hash is not the hash of the stored partition key.
    #[error(
        "stored key hash {stored:#018x} differs from hash64 of its partition key {computed:#018x}"
    )]
    HashMismatch {
        /// The hash in the key.
        stored: u64,
        /// hash64 of the decoded partition key.
        computed: u64,
    },
    /// Bytes follow the last component the schema allows.
    #[error("stored key has {count} unexpected bytes at byte {offset}")]
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many.
        count: usize,
    },
}

impl KeyError {
    /// True for the variants that reject a client's value (a ValidationException), false for
    /// the ones that report corrupt stored bytes.
    pub fn is_validation(&self) -> bool {
        matches!(
            self,
            KeyError::EmptyKeyValue { .. }
                | KeyError::PartitionKeyTooLarge { .. }
                | KeyError::SortKeyTooLarge { .. }
        )
    }

    /// DynamoDB's full message, which for an empty key value names the attribute.
    pub fn dynamodb_message(&self, attribute_name: &str) -> String {
        match self {
            KeyError::EmptyKeyValue { .. } => format!("{self}. Key: {attribute_name}"),
            other => other.to_string(),
        }
    }
}

/// A stored key taken apart by [`decode_item_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedKey {
    /// The table.
    pub table: TableId,
    /// The partition key.
    pub pk: KeyAttr,
    /// The sort key, if the table has one.
    pub sk: Option<KeyAttr>,
}

/// The fixed-size front of a stored key, readable without decoding the components (routing
/// needs only the table and the hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHeader {
    /// The table.
    pub table: TableId,
    /// hash64 of the partition key.
    pub hash: u64,
    /// Length of the partition key's canonical bytes (1..=2048).
    pub pk_len: usize,
}

/// The partition-key hash: the first 8 bytes (big endian) of `blake3(tag ‖ canonical bytes)`.
/// Part of the on-disk format and of routing; see the module docs.
pub fn hash64(pk: &KeyAttr) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[pk.key_type().hash_tag()]);
    match pk {
        KeyAttr::S(s) => hasher.update(s.as_bytes()),
        KeyAttr::B(b) => hasher.update(b),
        KeyAttr::N(n) => {
            let mut bytes = Vec::with_capacity(MAX_ENCODED_NUMBER_BYTES);
            n.encode_into(&mut bytes);
            hasher.update(&bytes)
        }
    };
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_be_bytes(first)
}

/// Checks a partition key value against DynamoDB's rules (non-empty S/B, ≤ 2048 bytes).
pub fn validate_partition_key(pk: &KeyAttr) -> Result<(), KeyError> {
    validate(pk, KeyPart::Partition)
}

/// Checks a sort key value against DynamoDB's rules (non-empty S/B, ≤ 1024 bytes).
pub fn validate_sort_key(sk: &KeyAttr) -> Result<(), KeyError> {
    validate(sk, KeyPart::Sort)
}

fn validate(value: &KeyAttr, part: KeyPart) -> Result<(), KeyError> {
    let size_bytes = value.dynamodb_size_bytes();
    if size_bytes == 0 {
        return Err(KeyError::EmptyKeyValue {
            part,
            key_type: value.key_type(),
        });
    }
    match part {
        KeyPart::Partition if size_bytes > MAX_PARTITION_KEY_BYTES => {
            Err(KeyError::PartitionKeyTooLarge { size_bytes })
        }
        KeyPart::Sort if size_bytes > MAX_SORT_KEY_BYTES => {
            Err(KeyError::SortKeyTooLarge { size_bytes })
        }
        _ => Ok(()),
    }
}

/// The stored key of an item: `table | hash64(pk) | pk_len | pk | sk`, after checking both key
/// values against DynamoDB's rules. The result is at most [`MAX_ENCODED_KEY_BYTES`] long.
pub fn encode_item_key(
    table: TableId,
    pk: &KeyAttr,
    sk: Option<&KeyAttr>,
) -> Result<Vec<u8>, KeyError> {
    validate_partition_key(pk)?;
    if let Some(sk) = sk {
        validate_sort_key(sk)?;
    }
    let len = KEY_HEADER_BYTES + pk.encoded_len() + sk.map_or(0, KeyAttr::encoded_len);
    let mut out = Vec::with_capacity(len);
    write_collection_prefix(table, pk, &mut out);
    if let Some(sk) = sk {
        sk.encode_into(&mut out);
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

/// The prefix shared by exactly the keys of one item collection (`table | hash | pk_len | pk`);
/// also the whole key of an item in a table without a sort key.
pub fn collection_prefix(table: TableId, pk: &KeyAttr) -> Result<Vec<u8>, KeyError> {
    validate_partition_key(pk)?;
    let mut out = Vec::with_capacity(KEY_HEADER_BYTES + pk.encoded_len());
    write_collection_prefix(table, pk, &mut out);
    Ok(out)
}

/// The key range `[start, end)` of one item collection.
pub fn collection_range(table: TableId, pk: &KeyAttr) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let start = collection_prefix(table, pk)?;
    // Byte 12 is the high byte of pk_len ≤ 0x08, so the prefix is never all 0xFF.
    let end = prefix_successor(&start).expect("a collection prefix has a byte below 0xFF");
    Ok((start, end))
}

fn write_collection_prefix(table: TableId, pk: &KeyAttr, out: &mut Vec<u8>) {
    let pk_len =
        u16::try_from(pk.encoded_len()).expect("a validated partition key is at most 2048 bytes");
    out.extend_from_slice(&table.to_be_bytes());
    out.extend_from_slice(&hash64(pk).to_be_bytes());
    out.extend_from_slice(&pk_len.to_be_bytes());
    pk.encode_into(out);
}

/// The 4-byte prefix shared by all keys of `table`.
pub fn table_prefix(table: TableId) -> Vec<u8> {
    table.to_be_bytes().to_vec()
}

/// The key range `[start, end)` holding every key of `table` and nothing else.
pub fn table_range(table: TableId) -> (Vec<u8>, Vec<u8>) {
    let end = match table.0.checked_add(1) {
        Some(next) => table_prefix(TableId(next)),
        None => END_OF_LAST_TABLE.to_vec(),
    };
    (table_prefix(table), end)
}

/// The smallest byte string greater than every string that starts with `prefix`: drop trailing
/// 0xFF bytes and increment the last remaining byte. `None` if `prefix` is all 0xFF (or empty):
/// no such bound exists. Useful as the exclusive end of a prefix scan.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=keep].to_vec();
    end[keep] += 1;
    Some(end)
}

/// Reads the fixed front of a stored key.
pub fn decode_key_header(key: &[u8]) -> Result<KeyHeader, KeyError> {
    let Some(header) = key.first_chunk::<KEY_HEADER_BYTES>() else {
        return Err(KeyError::Truncated {
            offset: key.len(),
            expected: "key header (table id, hash, partition-key length)",
        });
    };
    let mut table = [0u8; 4];
    table.copy_from_slice(&header[0..4]);
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&header[4..12]);
    let pk_len = usize::from(u16::from_be_bytes([header[12], header[13]]));
    if pk_len == 0 || pk_len > MAX_PARTITION_KEY_BYTES {
        return Err(KeyError::BadPartitionKeyLength {
            offset: 12,
            len: pk_len,
        });
    }
    Ok(KeyHeader {
        table: TableId::from_be_bytes(table),
        hash: u64::from_be_bytes(hash),
        pk_len,
    })
}

/// Takes a stored key apart, given the table's key schema. Checks everything a stored key must
/// satisfy (lengths, UTF-8, number encodings, the hash, no stray bytes), so corruption is a
/// typed error rather than a wrong value.
pub fn decode_item_key(
    key: &[u8],
    pk_type: KeyType,
    sk_type: Option<KeyType>,
) -> Result<DecodedKey, KeyError> {
    let header = decode_key_header(key)?;
    let pk_end = KEY_HEADER_BYTES + header.pk_len;
    let Some(pk_bytes) = key.get(KEY_HEADER_BYTES..pk_end) else {
        return Err(KeyError::Truncated {
            offset: key.len(),
            expected: "partition key bytes",
        });
    };
    let pk = decode_component(pk_bytes, KEY_HEADER_BYTES, pk_type, KeyPart::Partition)?;
    let computed = hash64(&pk);
    if computed != header.hash {
        return Err(KeyError::HashMismatch {
            stored: header.hash,
            computed,
        });
    }
    let rest = &key[pk_end..];
    let sk = match sk_type {
        None if rest.is_empty() => None,
        None => {
            return Err(KeyError::TrailingBytes {
                offset: pk_end,
                count: rest.len(),
            });
        }
        Some(_) if rest.is_empty() => {
            return Err(KeyError::Truncated {
                offset: pk_end,
                expected: "sort key bytes",
            });
        }
        Some(_) if rest.len() > MAX_SORT_KEY_BYTES => {
            return Err(KeyError::BadSortKeyLength {
                offset: pk_end,
                len: rest.len(),
            });
        }
        Some(sk_type) => Some(decode_component(rest, pk_end, sk_type, KeyPart::Sort)?),
    };
    Ok(DecodedKey {
        table: header.table,
        pk,
        sk,
    })
}

/// Decodes one whole component (`bytes` is exactly it; `offset` is where it starts in the key).
fn decode_component(
    bytes: &[u8],
    offset: usize,
    key_type: KeyType,
    part: KeyPart,
) -> Result<KeyAttr, KeyError> {
    match key_type {
        KeyType::S => std::str::from_utf8(bytes)
            .map(|s| KeyAttr::S(s.to_owned()))
            .map_err(|_| KeyError::InvalidUtf8 { part, offset }),
        KeyType::B => Ok(KeyAttr::B(bytes.to_vec())),
        KeyType::N => {
            let (number, used) = decode_number_at(bytes, offset)?;
            if used != bytes.len() {
                return Err(KeyError::TrailingBytes {
                    offset: offset + used,
                    count: bytes.len() - used,
                });
            }
            Ok(KeyAttr::N(number))
        }
    }
}
