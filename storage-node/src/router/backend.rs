//! [`NodeBackend`]: the `ApiBackend` of a cairn-node (design-driver §3.4). Table operations
//! go to the control plane; item operations go through the [`Router`].
//!
//! - CreateTable, DeleteTable, ListTables, AlterTable (UpdateTable, tags, time to live):
//!   `ControlClient::call` (follows the control
//!   leader). `ControlReply::Error(e)` is returned as `Err(e)` (so `api/error.rs` gives
//!   DynamoDB's error); when no instance answers, a `ControlErrorKind::Unavailable` error
//!   "control plane unavailable: …" (HTTP 503 ServiceUnavailable).
//! - DescribeTable (also called before every item operation): from the router's cache, so
//!   item operations on existing tables keep working while etcd or the control plane is
//!   down; a miss asks any control-plane instance.
//! - PutItem, GetItem, DeleteItem, evaluated writes and range reads (Query, Scan): items travel in their stored binary form
//!   (`wire::item::encode_item`/`decode_item`), routed by `key.hash`; router errors map to
//!   `ApiError` with `From<RouteError>` (`mod.rs`).
//!
//! Admission control (issue 6) will sit in front of the item calls here.

use std::sync::Arc;

use wire::control::{
    ControlError, ControlErrorKind, ControlReply, ControlRequest, CreateTableRequest,
    ListTablesReply, ListTablesRequest, TableChange, TableDesc,
};
use wire::forward::{ItemOp, PageEnd};
use wire::item::{Item, decode_item, encode_item};

use super::refresh::unavailable;
use super::{ItemCall, Router};
use crate::api::backend::{
    ApiBackend, BoxFuture, DeleteItemCall, GetItemCall, PutItemCall, RangeCall, RangePage,
    WriteItemCall, WriteOutcome, range_hash, write_outcome,
};
use crate::api::error::ApiError;

/// The node's API backend.
pub struct NodeBackend {
    router: Arc<Router>,
}

impl NodeBackend {
    pub fn new(router: Arc<Router>) -> NodeBackend {
        NodeBackend { router }
    }

    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// A table-changing or listing call at the control leader.
    async fn control(&self, req: ControlRequest) -> Result<ControlReply, ControlError> {
        match self.router.control().call(&req).await {
            Ok(ControlReply::Error(e)) => Err(e),
            Ok(r) => Ok(r),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }

    async fn table_call(&self, req: ControlRequest) -> Result<TableDesc, ControlError> {
        match self.control(req).await? {
            ControlReply::Table(d) => Ok(d),
            other => Err(unexpected(&other)),
        }
    }

    async fn item(
        &self,
        table: &str,
        key: wire::item::PrimaryKey,
        op: ItemOp,
    ) -> Result<Option<Item>, ApiError> {
        let call = ItemCall {
            key: key.encoded,
            hash: key.hash,
            op,
        };
        match self.router.item(table, call).await? {
            Some(bytes) => decode_item(&bytes)
                .map(Some)
                .map_err(|e| ApiError::Internal(format!("stored item image is damaged: {e}"))),
            None => Ok(None),
        }
    }
}

fn unexpected(reply: &ControlReply) -> ControlError {
    let what = match reply {
        ControlReply::Registered(_) => "Registered",
        ControlReply::Heartbeat(_) => "Heartbeat",
        ControlReply::Routing(_) => "Routing",
        ControlReply::Table(_) => "Table",
        ControlReply::Tables(_) => "Tables",
        ControlReply::Error(_) => "Error",
    };
    ControlError::new(
        ControlErrorKind::Internal,
        format!("the control plane answered with an unexpected {what} reply"),
    )
}

impl ApiBackend for NodeBackend {
    fn create_table(
        &self,
        req: CreateTableRequest,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        Box::pin(async move {
            let name = req.table_name.clone();
            let d = self.table_call(ControlRequest::CreateTable(req)).await?;
            self.router.table_created(&name);
            Ok(d)
        })
    }

    fn delete_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        Box::pin(async move {
            let r = self
                .table_call(ControlRequest::DeleteTable {
                    table_name: table_name.clone(),
                })
                .await;
            if r.is_ok() {
                self.router.forget_table(&table_name);
            }
            r
        })
    }

    fn describe_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        Box::pin(async move { self.router.describe_table(&table_name).await })
    }

    fn list_tables(
        &self,
        req: ListTablesRequest,
    ) -> BoxFuture<'_, Result<ListTablesReply, ControlError>> {
        Box::pin(async move {
            match self.control(ControlRequest::ListTables(req)).await? {
                ControlReply::Tables(t) => Ok(t),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn alter_table(
        &self,
        table_name: String,
        change: TableChange,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        Box::pin(async move {
            let d = self
                .table_call(ControlRequest::AlterTable { table_name, change })
                .await?;
            self.router.table_altered(d.clone());
            Ok(d)
        })
    }

    fn put_item(&self, call: PutItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        Box::pin(async move {
            let op = ItemOp::Put {
                item: encode_item(&call.item),
                return_old: call.return_old,
            };
            let old = self.item(&call.table.name, call.key, op).await?;
            Ok(old.filter(|_| call.return_old))
        })
    }

    fn get_item(&self, call: GetItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        Box::pin(async move {
            let op = ItemOp::Get {
                consistent: call.consistent,
            };
            self.item(&call.table.name, call.key, op).await
        })
    }

    fn delete_item(&self, call: DeleteItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        Box::pin(async move {
            let op = ItemOp::Delete {
                return_old: call.return_old,
            };
            let old = self.item(&call.table.name, call.key, op).await?;
            Ok(old.filter(|_| call.return_old))
        })
    }

    fn write_item(&self, call: WriteItemCall) -> BoxFuture<'_, Result<WriteOutcome, ApiError>> {
        Box::pin(async move {
            let item_call = ItemCall {
                key: call.key.encoded,
                hash: call.key.hash,
                op: ItemOp::Eval(call.write),
            };
            let reply = self.router.eval_write(&call.table.name, item_call).await?;
            write_outcome(reply)
        })
    }

    fn read_range(&self, call: RangeCall) -> BoxFuture<'_, Result<RangePage, ApiError>> {
        Box::pin(async move {
            let lower = call.read.lower.clone();
            let item_call = ItemCall {
                key: lower.clone(),
                hash: range_hash(&call.read)?,
                op: ItemOp::Range(call.read),
            };
            let (images, end) = self.router.range(&call.table.name, item_call).await?;
            let items = images
                .iter()
                .map(|b| decode_item(b))
                .collect::<Result<Vec<Item>, _>>()
                .map_err(|e| ApiError::Internal(format!("stored item image is damaged: {e}")))?;
            // The caller reads on from a boundary: one that does not advance would loop.
            if let PageEnd::Boundary(k) = &end
                && *k <= lower
            {
                return Err(ApiError::Internal(
                    "a range read's boundary does not advance".into(),
                ));
            }
            let bytes = images.iter().map(|b| b.len() as u64).sum();
            Ok(RangePage { items, bytes, end })
        })
    }
}
