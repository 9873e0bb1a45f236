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
//! Growth (issue 5): conditions, UpdateItem, Query/Scan and batches arrive as new fields on the
//! call structs (e.g. `condition: Option<Condition>` on [`PutItemCall`]) and as new methods with
//! their own call structs; existing backends keep compiling only if new methods get default
//! bodies, so add them with one returning `ApiError::Validation("… not supported")`.
//!
//! Neighbours: the test backend in `api/testing.rs`; the types of table calls in
//! `wire/src/control.rs`; items in `wire/src/item.rs`.

use std::future::Future;
use std::pin::Pin;

use wire::TableId;
use wire::control::{
    ControlError, CreateTableRequest, ListTablesReply, ListTablesRequest, TableDesc,
};
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

/// DeleteItem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteItemCall {
    pub table: TableRef,
    pub key: PrimaryKey,
    /// ReturnValues=ALL_OLD: the backend must return the deleted item, if any.
    pub return_old: bool,
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
}
