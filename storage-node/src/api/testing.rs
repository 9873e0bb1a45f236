//! Test helpers for the API layer: an in-memory [`ApiBackend`] and a client-side SigV4 signer.
//!
//! **Tests only.** [`MemBackend`] keeps tables and items in `BTreeMap`s behind one mutex, has
//! no replication, no durability and no limits beyond the API's own, and tables become ACTIVE
//! at once. Range reads (Query, Scan) see each table as [`MEM_PARTITIONS`] equal hash
//! partitions, so that callers meet partition boundaries as they do on a cluster. It is
//! public only so that integration tests (`storage-node/tests/api_sdk.rs`) can
//! start a server with it; the `cairn-node` binary never constructs one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use wire::TableId;
use wire::control::{
    BillingMode, ControlError, ControlErrorKind, CreateTableRequest, HashRange, ListTablesReply,
    ListTablesRequest, TableChange, TableDesc, TableStatus,
};
use wire::item::{Item, KeySchema, decode_item, encode_item};
use wire::key::table_range;

use super::backend::{
    ApiBackend, BoxFuture, DeleteItemCall, GetItemCall, PutItemCall, RangeCall, RangePage,
    WriteItemCall, WriteOutcome, range_hash, write_outcome,
};
use super::error::ApiError;
use crate::partition::eval::{Decision, evaluate};
use crate::partition::range::{self, PageBuilder};
use crate::partition::{Command, key_range};

/// How many equal hash partitions range reads see per table.
pub const MEM_PARTITIONS: u64 = 4;

/// The hash range of the test partition owning `hash`.
fn mem_partition(hash: u64) -> HashRange {
    let width = u64::MAX / MEM_PARTITIONS + 1;
    let i = hash / width;
    HashRange {
        start: i * width,
        end: (i + 1 < MEM_PARTITIONS).then(|| (i + 1) * width),
    }
}

#[derive(Default)]
struct MemState {
    tables: BTreeMap<String, TableDesc>,
    /// Encoded key (`wire::key` layout) → item.
    items: BTreeMap<Vec<u8>, Item>,
    next_table_id: u32,
}

/// An in-memory backend for tests (see the module docs).
#[derive(Default)]
pub struct MemBackend {
    state: Mutex<MemState>,
}

impl MemBackend {
    pub fn new() -> MemBackend {
        MemBackend::default()
    }

    /// How many items are stored, over all tables.
    pub fn item_count(&self) -> usize {
        self.lock().items.len()
    }

    /// Sets a table's status (to test CREATING and DELETING tables).
    pub fn set_table_status(&self, name: &str, status: TableStatus) {
        if let Some(t) = self.lock().tables.get_mut(name) {
            t.status = status;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemState> {
        // A panicking test thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn table(&self, name: &str) -> Result<TableDesc, ControlError> {
        self.lock().tables.get(name).cloned().ok_or_else(|| {
            ControlError::new(
                ControlErrorKind::ResourceNotFound,
                format!("Requested resource not found: Table: {name} not found"),
            )
        })
    }
}

fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

impl ApiBackend for MemBackend {
    fn create_table(
        &self,
        req: CreateTableRequest,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        let mut s = self.lock();
        if s.tables.contains_key(&req.table_name) {
            return ready(Err(ControlError::new(
                ControlErrorKind::ResourceInUse,
                format!("Table already exists: {}", req.table_name),
            )));
        }
        s.next_table_id += 1;
        let creation_time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let billing_mode = req.billing_mode.unwrap_or(BillingMode::Provisioned);
        let desc = TableDesc {
            name: req.table_name.clone(),
            id: TableId(s.next_table_id),
            key_schema: req.key_schema,
            attribute_definitions: req.attribute_definitions,
            billing_mode,
            provisioned_throughput: req.provisioned_throughput,
            status: TableStatus::Active,
            creation_time_ms,
            item_count: 0,
            size_bytes: 0,
            partitions: vec![],
            settings: Default::default(),
        };
        // The control plane validates key schemas fully; this backend only refuses what would
        // leave a table without a usable key.
        if KeySchema::from_table(&desc).is_none() {
            return ready(Err(ControlError::new(
                ControlErrorKind::Validation,
                "Invalid KeySchema: the test backend needs one HASH element and definitions",
            )));
        }
        s.tables.insert(req.table_name, desc.clone());
        ready(Ok(desc))
    }

    fn delete_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        let mut s = self.lock();
        let Some(mut desc) = s.tables.remove(&table_name) else {
            return ready(Err(ControlError::new(
                ControlErrorKind::ResourceNotFound,
                format!("Requested resource not found: Table: {table_name} not found"),
            )));
        };
        let (start, end) = table_range(desc.id);
        let doomed: Vec<Vec<u8>> = s.items.range(start..end).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            s.items.remove(&k);
        }
        desc.status = TableStatus::Deleting;
        ready(Ok(desc))
    }

    fn describe_table(&self, table_name: String) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        ready(self.table(&table_name))
    }

    fn list_tables(
        &self,
        req: ListTablesRequest,
    ) -> BoxFuture<'_, Result<ListTablesReply, ControlError>> {
        let s = self.lock();
        let limit = req.limit.unwrap_or(100) as usize;
        let mut names = s
            .tables
            .keys()
            .filter(|n| {
                req.exclusive_start_table_name
                    .as_ref()
                    .is_none_or(|start| *n > start)
            })
            .cloned();
        let table_names: Vec<String> = names.by_ref().take(limit).collect();
        let last_evaluated_table_name = match names.next() {
            Some(_) => table_names.last().cloned(),
            None => None,
        };
        ready(Ok(ListTablesReply {
            table_names,
            last_evaluated_table_name,
        }))
    }

    /// Decided by the control plane's own rules (`wire::control::alter`).
    fn alter_table(
        &self,
        table_name: String,
        change: TableChange,
    ) -> BoxFuture<'_, Result<TableDesc, ControlError>> {
        let mut s = self.lock();
        let Some(desc) = s.tables.get_mut(&table_name) else {
            return ready(Err(ControlError::new(
                ControlErrorKind::ResourceNotFound,
                format!("Requested resource not found: Table: {table_name} not found"),
            )));
        };
        let r = wire::control::alter::alter(desc, &change, 40_000).inspect(|next| {
            *desc = next.clone();
        });
        ready(r)
    }

    fn put_item(&self, call: PutItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        let mut s = self.lock();
        if !s.tables.contains_key(&call.table.name) {
            return ready(Err(ApiError::ResourceNotFound(
                "Requested resource not found".into(),
            )));
        }
        let old = s.items.insert(call.key.encoded, call.item);
        ready(Ok(old.filter(|_| call.return_old)))
    }

    fn get_item(&self, call: GetItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        ready(Ok(self.lock().items.get(&call.key.encoded).cloned()))
    }

    fn delete_item(&self, call: DeleteItemCall) -> BoxFuture<'_, Result<Option<Item>, ApiError>> {
        let old = self.lock().items.remove(&call.key.encoded);
        ready(Ok(old.filter(|_| call.return_old)))
    }

    /// Evaluated as the partition leader does (`partition::eval`), under the one lock.
    fn write_item(&self, call: WriteItemCall) -> BoxFuture<'_, Result<WriteOutcome, ApiError>> {
        let mut s = self.lock();
        let key = call.key.encoded;
        let old = s.items.get(&key).map(encode_item);
        let reply = match evaluate(&key, &call.write, old.as_deref()) {
            Ok(Decision::Reply(r)) => r,
            Ok(Decision::Propose { command, reply }) => {
                match command {
                    Command::Put { key, value } => {
                        let item = match decode_item(&value) {
                            Ok(item) => item,
                            Err(e) => return ready(Err(ApiError::Internal(e.to_string()))),
                        };
                        s.items.insert(key, item);
                    }
                    Command::Delete { key } => {
                        s.items.remove(&key);
                    }
                }
                reply
            }
            Err(e) => return ready(Err(ApiError::Internal(e.to_string()))),
        };
        ready(write_outcome(reply))
    }

    /// Read as a partition does (`partition::range`), on the test partition owning the
    /// lower bound's hash.
    fn read_range(&self, call: RangeCall) -> BoxFuture<'_, Result<RangePage, ApiError>> {
        let hash = match range_hash(&call.read) {
            Ok(h) => h,
            Err(e) => return ready(Err(e)),
        };
        let owned = key_range(call.table.id, &mem_partition(hash));
        let plan = range::plan(&call.read, &owned);
        let s = self.lock();
        let in_plan = s
            .items
            .range::<Vec<u8>, _>((plan.lower.clone(), plan.upper.clone()));
        let mut page = PageBuilder::new(&call.read);
        let mut push = |item: &Item| page.push(&encode_item(item));
        if plan.reverse {
            for (_, item) in in_plan.rev() {
                if push(item) {
                    break;
                }
            }
        } else {
            for (_, item) in in_plan {
                if push(item) {
                    break;
                }
            }
        }
        let (images, end) = page.finish(&plan);
        let items = images
            .iter()
            .map(|b| decode_item(b).map_err(|e| ApiError::Internal(e.to_string())))
            .collect::<Result<Vec<Item>, _>>();
        let bytes = images.iter().map(|b| b.len() as u64).sum();
        ready(items.map(|items| RangePage { items, bytes, end }))
    }
}

/// The `x-amz-date` and `authorization` headers a client adds when it signs a request with
/// `headers` (which must include `host`) and `body`, as the AWS SDKs do (`aws-sigv4` with its
/// default settings).
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    access_key: &str,
    secret: &str,
    region: &str,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> Vec<(String, String)> {
    let identity = Credentials::new(access_key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(super::auth::SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("complete signing params")
        .into();
    let request = SignableRequest::new(
        method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .expect("a valid request");
    let (instructions, _) = sign(request, &params).expect("signable").into_parts();
    let (out, _) = instructions.into_parts();
    out.into_iter()
        .map(|h| (h.name().to_owned(), h.value().to_owned()))
        .collect()
}
