//! Consumed-capacity accounting: DynamoDB's read and write unit rules, computed exactly, and the
//! `ConsumedCapacity` response shapes for `ReturnConsumedCapacity = TOTAL | INDEXES`.
//!
//! Pure and sans-IO. The API layer (`storage-node/src/api/ops/`) sizes items with
//! [`crate::item::item_size_bytes`] (or keeps the size of a stored item next to it) and hands
//! **sizes in bytes** to the functions here; nothing here looks at an item.
//!
//! # Units are exact
//! Every charge is a whole number of half units (an eventually consistent read of up to 4 KB is
//! the smallest, ½ RCU), so [`CapacityUnits`] counts half units in a `u64` and becomes an `f64`
//! only in the JSON ([`CapacityUnits::as_f64`], exact below 2⁵³ half units).
//!
//! # The rules (dynamodb-facts §2.6; DynamoDB Developer Guide "read-write-operations")
//! * Reads are charged per 4 KB block ([`READ_BLOCK_BYTES`]), at least one block: strong 1 RCU,
//!   eventual ½, transactional 2 per block. A missing item costs one block (GetItem on nothing:
//!   1 or ½).
//! * GetItem, and each key of BatchGetItem and TransactGetItems, rounds **each item** up
//!   ([`item_read_units`]). Query and Scan **sum the sizes of all items evaluated** (before the
//!   filter and projection; `Select=COUNT` does not help) and round the **total** once
//!   ([`ReadTally`]); an empty result still costs one block.
//! * Writes are charged per 1 KB block ([`WRITE_BLOCK_BYTES`]), at least one: 1 WCU per block,
//!   2 in a transaction. PutItem takes the larger of the old and new item ([`put_units`]),
//!   UpdateItem the larger of before and after ([`update_units`]), DeleteItem the deleted item
//!   (1 WCU if there was none, [`delete_units`]). BatchWriteItem charges each put or delete the
//!   same way on its own.
//! * A write whose condition fails still costs: the size of the **existing** item, or 1 WCU if
//!   there is none ([`failed_condition_units`]; see its docs on the source). DynamoDB does not
//!   report it (an error response carries no `ConsumedCapacity`); it matters for metering.
//!
//! # Response shapes ([`ConsumedCapacity`])
//! Sourced from the AWS CLI's recorded examples (`aws/aws-cli` `awscli/examples/dynamodb/*.rst`),
//! the API reference (`API_ConsumedCapacity`, `API_Capacity`) and moto's DynamoDB mock:
//! * `TOTAL`: `{"TableName": t, "CapacityUnits": x}` (put-item, delete-item, update-item,
//!   batch-get-item examples).
//! * `INDEXES`: the same plus `"Table": {"CapacityUnits": x_table}` and, for tables whose
//!   indexes were touched, `"LocalSecondaryIndexes"` / `"GlobalSecondaryIndexes"` maps of
//!   `{"CapacityUnits": x}`; the top-level `CapacityUnits` is the sum of the table and its
//!   indexes (batch-write-item example: 6.0 = table 3.0 + LSI 3.0). GetItem and BatchGetItem
//!   touch no index, so they show `Table` only (API reference of `ReturnConsumedCapacity`).
//! * TransactGetItems / TransactWriteItems add `ReadCapacityUnits` / `WriteCapacityUnits`
//!   (transact-get-items example: `CapacityUnits 4.0, ReadCapacityUnits 4.0`;
//!   transact-write-items: `CapacityUnits 10.0, WriteCapacityUnits 10.0`). Other operations
//!   do not.
//! * Single-item operations, Query and Scan answer one object; BatchGetItem, BatchWriteItem and
//!   the transactions a list with one entry per table, in order of first appearance (the
//!   transaction responses are documented as ordered like `TransactItems`).
//! * `NONE` (or the parameter absent): no `ConsumedCapacity` member at all.
//!
//! Neighbours: item sizes in `crate::item`; the operations that call this in
//! `storage-node/src/api/ops/`. Tests in `capacity/tests.rs`.

use std::ops::{Add, AddAssign};

use serde_json::{Map, Value};

mod report;
#[cfg(test)]
mod tests;

pub use report::{Access, CapacityOp, ConsumedCapacity, IndexKind, Usage};

/// One read unit covers up to this many bytes (4 KB).
pub const READ_BLOCK_BYTES: u64 = 4 * 1024;
/// One write unit covers up to this many bytes (1 KB).
pub const WRITE_BLOCK_BYTES: u64 = 1024;

/// DynamoDB's default provisioned-throughput quotas, as `DescribeLimits` reports them
/// (dynamodb-facts §2.4, from the Developer Guide's `ServiceQuotas.md`: 40,000 RCU and 40,000
/// WCU per table, 80,000 each per account). Cairn enforces none of them; it reports them so
/// that tools which compare provisioned capacity against `DescribeLimits` keep working.
pub const ACCOUNT_MAX_READ_CAPACITY_UNITS: u64 = 80_000;
/// See [`ACCOUNT_MAX_READ_CAPACITY_UNITS`].
pub const ACCOUNT_MAX_WRITE_CAPACITY_UNITS: u64 = 80_000;
/// See [`ACCOUNT_MAX_READ_CAPACITY_UNITS`].
pub const TABLE_MAX_READ_CAPACITY_UNITS: u64 = 40_000;
/// See [`ACCOUNT_MAX_READ_CAPACITY_UNITS`].
pub const TABLE_MAX_WRITE_CAPACITY_UNITS: u64 = 40_000;

/// The body of a `DescribeLimits` answer with the default quotas above.
pub fn describe_limits_json() -> Value {
    let mut m = Map::new();
    m.insert(
        "AccountMaxReadCapacityUnits".to_owned(),
        ACCOUNT_MAX_READ_CAPACITY_UNITS.into(),
    );
    m.insert(
        "AccountMaxWriteCapacityUnits".to_owned(),
        ACCOUNT_MAX_WRITE_CAPACITY_UNITS.into(),
    );
    m.insert(
        "TableMaxReadCapacityUnits".to_owned(),
        TABLE_MAX_READ_CAPACITY_UNITS.into(),
    );
    m.insert(
        "TableMaxWriteCapacityUnits".to_owned(),
        TABLE_MAX_WRITE_CAPACITY_UNITS.into(),
    );
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// ReturnConsumedCapacity
// ---------------------------------------------------------------------------------------------

/// The request's `ReturnConsumedCapacity`: how much of [`ConsumedCapacity`] to answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReturnConsumedCapacity {
    /// Absent or `NONE`: no `ConsumedCapacity` in the response.
    #[default]
    None,
    /// `TOTAL`: per table, the units consumed.
    Total,
    /// `INDEXES`: `TOTAL` plus the table's own share and each index's.
    Indexes,
}

impl ReturnConsumedCapacity {
    /// The allowed values, in the order DynamoDB lists them in its message.
    pub const ALLOWED: [&'static str; 3] = ["INDEXES", "TOTAL", "NONE"];
    /// The member's name as DynamoDB's framework-style validation messages spell it.
    pub const FIELD: &'static str = "returnConsumedCapacity";

    /// Parses the request member (`None` when absent or JSON `null`). Values are
    /// case-sensitive, as in DynamoDB.
    pub fn parse(value: Option<&str>) -> Result<Self, InvalidReturnConsumedCapacity> {
        match value {
            None | Some("NONE") => Ok(Self::None),
            Some("TOTAL") => Ok(Self::Total),
            Some("INDEXES") => Ok(Self::Indexes),
            Some(other) => Err(InvalidReturnConsumedCapacity {
                violation: format!(
                    "Value '{other}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    Self::FIELD,
                    Self::ALLOWED.join(", ")
                ),
            }),
        }
    }

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Total => "TOTAL",
            Self::Indexes => "INDEXES",
        }
    }

    /// True for `TOTAL` and `INDEXES`.
    pub const fn is_requested(self) -> bool {
        !matches!(self, Self::None)
    }
}

/// A `ReturnConsumedCapacity` outside the enum: a `ValidationException`. `Display` is the whole
/// message for a request with only this violation (`1 validation error detected: Value 'X' at
/// 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set:
/// [INDEXES, TOTAL, NONE]`, the text moto reproduces from DynamoDB); [`Self::violation`] is the
/// part after the prefix, for an API layer that reports several violations together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("1 validation error detected: {violation}")]
pub struct InvalidReturnConsumedCapacity {
    violation: String,
}

impl InvalidReturnConsumedCapacity {
    /// `Value 'X' at 'returnConsumedCapacity' failed to satisfy constraint: …`.
    pub fn violation(&self) -> &str {
        &self.violation
    }
}

// ---------------------------------------------------------------------------------------------
// Exact units
// ---------------------------------------------------------------------------------------------

/// A number of capacity units, exact: counted in half units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CapacityUnits(u64);

impl CapacityUnits {
    /// No units.
    pub const ZERO: CapacityUnits = CapacityUnits(0);

    /// `n` half units (`n / 2` capacity units).
    pub const fn from_half_units(n: u64) -> Self {
        CapacityUnits(n)
    }

    /// `n` whole units (saturating).
    pub const fn whole(n: u64) -> Self {
        CapacityUnits(n.saturating_mul(2))
    }

    /// The count of half units.
    pub const fn half_units(self) -> u64 {
        self.0
    }

    /// The value DynamoDB reports (a JSON double). Exact while below 2⁵³ half units.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 2.0
    }

    /// True for zero units.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add for CapacityUnits {
    type Output = CapacityUnits;
    fn add(self, rhs: CapacityUnits) -> CapacityUnits {
        CapacityUnits(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for CapacityUnits {
    fn add_assign(&mut self, rhs: CapacityUnits) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for CapacityUnits {
    fn sum<I: Iterator<Item = CapacityUnits>>(iter: I) -> CapacityUnits {
        iter.fold(CapacityUnits::ZERO, Add::add)
    }
}

/// How a read is charged per 4 KB block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadConsistency {
    /// ½ RCU per block (the default of GetItem, Query, Scan, BatchGetItem).
    Eventual,
    /// 1 RCU per block (`ConsistentRead: true`).
    Strong,
    /// 2 RCU per block (TransactGetItems).
    Transactional,
}

impl ReadConsistency {
    /// `ConsistentRead` of GetItem, Query, Scan and BatchGetItem (absent = false).
    pub const fn from_consistent_read(consistent: bool) -> Self {
        if consistent {
            Self::Strong
        } else {
            Self::Eventual
        }
    }

    const fn half_units_per_block(self) -> u64 {
        match self {
            Self::Eventual => 1,
            Self::Strong => 2,
            Self::Transactional => 4,
        }
    }
}

/// How a write is charged per 1 KB block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// 1 WCU per block: PutItem, UpdateItem, DeleteItem, BatchWriteItem.
    Standard,
    /// 2 WCU per block: each action of TransactWriteItems.
    Transactional,
}

impl WriteMode {
    const fn half_units_per_block(self) -> u64 {
        match self {
            Self::Standard => 2,
            Self::Transactional => 4,
        }
    }
}

/// 4 KB blocks a read of `bytes` is charged for: rounded up, at least one.
pub const fn read_blocks(bytes: u64) -> u64 {
    if bytes == 0 {
        1
    } else {
        bytes.div_ceil(READ_BLOCK_BYTES)
    }
}

/// 1 KB blocks a write of `bytes` is charged for: rounded up, at least one.
pub const fn write_blocks(bytes: u64) -> u64 {
    if bytes == 0 {
        1
    } else {
        bytes.div_ceil(WRITE_BLOCK_BYTES)
    }
}

/// Units for reading `bytes` in one rounding (one item, or a Query/Scan total).
pub const fn read_units(bytes: u64, consistency: ReadConsistency) -> CapacityUnits {
    CapacityUnits(read_blocks(bytes).saturating_mul(consistency.half_units_per_block()))
}

/// Units for writing `bytes` in one rounding.
pub const fn write_units(bytes: u64, mode: WriteMode) -> CapacityUnits {
    CapacityUnits(write_blocks(bytes).saturating_mul(mode.half_units_per_block()))
}

/// GetItem, one key of BatchGetItem, one Get of TransactGetItems: the item's size rounded up
/// on its own; `None` (no such item) costs the minimum.
pub const fn item_read_units(
    item_bytes: Option<usize>,
    consistency: ReadConsistency,
) -> CapacityUnits {
    read_units(opt_bytes(item_bytes), consistency)
}

/// PutItem (and a put of BatchWriteItem or TransactWriteItems): the larger of the item it
/// replaces (`None` if none) and the new item.
pub const fn put_units(
    old_bytes: Option<usize>,
    new_bytes: usize,
    mode: WriteMode,
) -> CapacityUnits {
    write_units(max_u64(opt_bytes(old_bytes), new_bytes as u64), mode)
}

/// UpdateItem (and an Update of TransactWriteItems): the larger of the item before (`None` if
/// it did not exist) and after the update, whatever part of it the update touched.
pub const fn update_units(
    before_bytes: Option<usize>,
    after_bytes: usize,
    mode: WriteMode,
) -> CapacityUnits {
    write_units(max_u64(opt_bytes(before_bytes), after_bytes as u64), mode)
}

/// DeleteItem (and a delete of BatchWriteItem or TransactWriteItems): the deleted item's size;
/// deleting nothing costs the minimum.
pub const fn delete_units(old_bytes: Option<usize>, mode: WriteMode) -> CapacityUnits {
    write_units(opt_bytes(old_bytes), mode)
}

/// A PutItem, UpdateItem or DeleteItem whose condition failed: the size of the **existing**
/// item, or the minimum when there is none.
///
/// Basis: the Developer Guide's write-consumption section ties the charge to "the size of the
/// existing item (or a minimum of 1)" (quoted from memory of the Guide: the stored copy could
/// not be retrieved while writing this), and Amazon Keyspaces documents the same rule for its
/// failed conditional writes (row size, or 1 unit if the row does not exist). dynamodb-facts
/// §2.6 says "the new item's size if the item exists" instead; the two agree whenever the new
/// item is not larger. The new item's size is deliberately not a parameter.
pub const fn failed_condition_units(
    existing_bytes: Option<usize>,
    mode: WriteMode,
) -> CapacityUnits {
    write_units(opt_bytes(existing_bytes), mode)
}

/// A ConditionCheck action of TransactWriteItems: charged as a transactional write of the
/// checked item (the minimum if it does not exist).
pub const fn condition_check_units(existing_bytes: Option<usize>) -> CapacityUnits {
    write_units(opt_bytes(existing_bytes), WriteMode::Transactional)
}

const fn opt_bytes(bytes: Option<usize>) -> u64 {
    match bytes {
        Some(b) => b as u64,
        None => 0,
    }
}

const fn max_u64(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

/// The items a Query or Scan page evaluated (read from storage, before the filter, projection
/// and `Select`), summed so that the total is rounded up once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadTally {
    bytes: u64,
    items: u64,
}

impl ReadTally {
    /// Nothing read yet (which still costs the minimum).
    pub const fn new() -> Self {
        ReadTally { bytes: 0, items: 0 }
    }

    /// Counts one evaluated item of `item_bytes`.
    pub fn add_item(&mut self, item_bytes: usize) {
        self.bytes = self.bytes.saturating_add(item_bytes as u64);
        self.items += 1;
    }

    /// Bytes evaluated so far.
    pub const fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Items evaluated so far.
    pub const fn items(&self) -> u64 {
        self.items
    }

    /// What the page costs: the total rounded up to 4 KB blocks, at least one block.
    pub const fn units(&self, consistency: ReadConsistency) -> CapacityUnits {
        read_units(self.bytes, consistency)
    }
}
