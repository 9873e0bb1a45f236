//! The seam between the DynamoDB API layer and everything below it (routing, the control
//! plane, replication, storage).
//!
//! The API layer parses and validates requests, resolves the table with
//! [`ApiBackend::describe_table`], extracts and encodes the primary key, and calls one of the
//! item methods with a fully validated request. The backend does the rest: finds the partition
//! for `key.hash`, forwards to its leader, applies the write, and answers with the old or
//! current item. It never needs to re-validate the item.
//!
//! Object safety: methods return [`BoxFuture`], so the server holds an `Arc<dyn ApiBackend>`.
//!
//! Conditional writes and updates go through [`ApiBackend::write_item`] (evaluated by the
//! partition leader), Query and Scan through [`ApiBackend::read_range`] (one partition per
//! call), table changes (UpdateTable, tags, time to live) through [`ApiBackend::alter_table`].
//! Every method is required: the two backends (`NodeBackend`, the test `MemBackend`) implement
//! all of them, so a new operation cannot silently answer "not supported" on one of them.
//!
//! Neighbours: the test backend in `api/testing.rs`; the types of table calls in
//! `wire/src/control.rs`; items in `wire/src/item.rs`.

use std::future::Future;
use std::pin::Pin;

use wire::TableId;
use wire::control::{
    ControlError, CreateTableRequest, ListTablesReply, ListTablesRequest, TableChange, TableDesc,
};
use wire::forward::{EvalWrite, PageEnd, RangeRead};
use wire::item::{Item, PrimaryKey};

use super::error::ApiError;

/// A boxed, sendable future (keeps [`ApiBackend`] object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which table an item call is for: the name (routing looks tables up by name) and the id
/// (the first component of every stored key, already inside [`PrimaryKey::encoded`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    pub name: String,
    pub id: TableId,
}

/// PutItem: store `item` (which contains `key`'s attributes) under `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutItemCall {
    pub table: TableRef,
    pub key: PrimaryKey,
    /// Validated: key attributes present with the schema's types; size ≤ 400 KB.
    pub item: Item,
    /// ReturnValues=ALL_OLD: the backend must return the replaced item, if any.
    pub return_old: bool,
}

/// GetItem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetItemCall {
    pub table: TableRef,
    pub key: PrimaryKey,
    /// ConsistentRead=true: read at the partition leader under its lease; false: any replica
    /// (the router prefers one in its own AZ).
    pub consistent: bool,
}

/// A write the partition leader evaluates against the current item: conditions, updates,
/// returned images, sizes for capacity (`wire::forward::EvalWrite`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteItemCall {
    pub table: TableRef,
    pub key: PrimaryKey,
    pub write: EvalWrite,
}

/// The leader's verdict on a [`WriteItemCall`] (an update that cannot apply is
/// `ApiError::Validation`). Sizes are DynamoDB's item sizes, 0 for no item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written {
        image: Option<Item>,
        old_bytes: usize,
        new_bytes: usize,
    },
    ConditionFailed {
        old: Option<Item>,
        old_bytes: usize,
    },
}

/// DeleteItem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteItemCall {
    pub table: TableRef,
    pub key: PrimaryKey,
    /// ReturnValues=ALL_OLD: the backend must return the deleted item, if any.
    pub return_old: bool,
}

/// Query and Scan: one read of a stored-key range (`wire::forward::RangeRead`) on the
/// partition that owns its lower bound (found by `wire::partition`'s hash in the bound's bytes
/// 4..12, so a bound is at least 12 bytes: table id and hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeCall {
    pub table: TableRef,
    pub read: RangeRead,
}

/// What one [`RangeCall`] read: the items in the order read, and why it stopped
/// ([`PageEnd::Boundary`]: the owning partition's keys end inside the range; the caller reads
/// on from the boundary with another call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePage {
    pub items: Vec<Item>,
    /// The stored bytes the read counted against `bytes_max` (the images' lengths).
    pub bytes: u64,
    pub end: PageEnd,
}

/// What the API layer needs from the rest of the node.
///
/// Table methods answer with `wire::control` types and errors, as the control plane does;
/// [`ControlError::kind`] picks the DynamoDB error (`ControlErrorKind::dynamodb_type`). Item
/// methods answer with an [`ApiError`] directly (ResourceNotFound, ProvisionedThroughputExceeded,
/// InternalServerError, ServiceUnavailable…), because only the backend knows which applies.
pub trait ApiBackend: Send + Sync + 'static {
    /// CreateTable. The control plane validates the request and answers with the new table's
    /// description (status CREATING or, if it is immediate, ACTIVE).
    fn create_table(
        &self,
        req: CreateTableRequest,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>>;

    /// DeleteTable: the description with status DELETING.
    fn delete_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>>;

    /// DescribeTable. Also called before every item operation to get the key schema and the
    /// status, so it should be served from a cache. A missing table is
    /// `ControlErrorKind::ResourceNotFound`.
    fn describe_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>>;

    /// ListTables (names in ascending order, after `exclusive_start_table_name`, at most
    /// `limit`, with `last_evaluated_table_name` when more remain).
    fn list_tables(
        &self,
        req: ListTablesRequest,
    ) -> BoxFuture<'_, Result<ListTablesReply, ControlError>>;

    /// PutItem. Returns the replaced item when `call.return_old` (else `None` is fine).
    fn put_item(&self, call: PutItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>>;

    /// GetItem. Returns the item, or `None` if there is none under the key.
    fn get_item(&self, call: GetItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>>;

    /// DeleteItem. Returns the deleted item when `call.return_old` (else `None` is fine).
    /// Deleting a missing item succeeds.
    fn delete_item(&self, call: DeleteItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>>;

    /// UpdateTable, TagResource, UntagResource, UpdateTimeToLive (`wire::control::alter`
    /// decides): the table's new description.
    fn alter_table(
        &self,
        table_name: String,
        change: TableChange,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>>;

    fn write_item(&self, call: WriteItemCall) -> BoxFuture<'_, Result<WriteOutcome, ApiError>>;

    /// Query/Scan: one range read (see [`RangeCall`]). The read stops after
    /// `read.items_max` items or once the *stored* images (`wire::item::encode_item`) read
    /// reach `read.bytes_max` bytes, the item that reaches it included.
    fn read_range(&self, call: RangeCall) -> BoxFuture<'_, Result<RangePage, ApiError>>;
}

/// The hash a range read is routed by: bytes 4..12 of its lower bound.
pub fn range_hash(read: &RangeRead) -> Result<u64, ApiError> {
    read.lower
        .get(4..12)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| ApiError::Internal("range read without a hash in its lower bound".into()))
}

/// Turns the leader's reply to an evaluated write into a [`WriteOutcome`].
pub fn write_outcome(reply: wire::forward::ItemReply) -> Result<WriteOutcome, ApiError> {
    use wire::forward::ItemReply;
    let decode = |b: Vec<u8>| {
        wire::item::decode_item(&b)
            .map_err(|e| ApiError::Internal(format!("stored item image is damaged: {e}")))
    };
    match reply {
        ItemReply::Written {
            image,
            old_bytes,
            new_bytes,
        } => Ok(WriteOutcome::Written {
            image: image.map(decode).transpose()?,
            old_bytes: old_bytes as usize,
            new_bytes: new_bytes as usize,
        }),
        ItemReply::ConditionFailed { old, old_bytes } => Ok(WriteOutcome::ConditionFailed {
            old: old.map(decode).transpose()?,
            old_bytes: old_bytes as usize,
        }),
        ItemReply::Invalid(m) => Err(ApiError::Validation(m)),
        other => Err(ApiError::Internal(format!(
            "unexpected answer to an evaluated write: {other:?}"
        ))),
    }
}
