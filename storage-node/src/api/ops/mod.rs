//! One file per DynamoDB operation; this file holds the dispatch and the request-parsing helpers
//! they share.
//!
//! Each operation takes the request's JSON object and returns the response's JSON object or an
//! [`ApiError`]. Parsing follows DynamoDB's split: a member of the wrong JSON type is a
//! `SerializationException`; a missing required member or a bad enum value is a
//! framework-style `ValidationException` (`1 validation error detected: Value null at
//! 'tableName' failed to satisfy constraint: Member must not be null`); table-level rules
//! (name patterns, key schema, capacities) are the control plane's (`control-plane/src/tables.rs`).
//!
//! Operations DynamoDB has that Cairn does not serve yet answer with a `ValidationException`
//! naming the operation, so that a client sees why; names DynamoDB does not have are
//! `UnknownOperationException` (`server.rs`).

use serde_json::{Map, Value, json};
use wire::control::{BillingMode, TableDesc};
use wire::item::type_error;

use super::backend::ApiBackend;
use super::error::ApiError;
use super::server::ApiConfig;

mod batch_get_item;
mod batch_write_item;
mod create_table;
mod delete_item;
mod delete_table;
mod describe_table;
mod get_item;
mod item_common;
mod list_tables;
mod put_item;
mod query;
mod read_common;
mod scan;
mod service_info;
mod tags;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reads;
#[cfg(test)]
mod tests_tables;
#[cfg(test)]
mod tests_writes;
mod time_to_live;
mod update_item;
mod update_table;
mod write_common;

/// A request's parameters.
pub type Params = Map<String, Value>;

/// What an operation may use.
pub struct Ctx<'a> {
    pub backend: &'a dyn ApiBackend,
    pub config: &'a ApiConfig,
}

/// The operations the endpoint knows, served or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateTable,
    DeleteTable,
    DescribeTable,
    ListTables,
    PutItem,
    GetItem,
    DeleteItem,
    UpdateItem,
    BatchGetItem,
    BatchWriteItem,
    Query,
    Scan,
    UpdateTable,
    DescribeLimits,
    DescribeEndpoints,
    TagResource,
    UntagResource,
    ListTagsOfResource,
    UpdateTimeToLive,
    DescribeTimeToLive,
    /// A DynamoDB operation Cairn does not serve yet (issue 5 and later).
    NotYet(&'static str),
}

/// DynamoDB operations not served yet.
const NOT_YET: &[&str] = &[
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
    "CreateBackup",
    "DeleteBackup",
    "DescribeBackup",
    "ListBackups",
    "RestoreTableFromBackup",
    "DescribeContinuousBackups",
    "UpdateContinuousBackups",
    "CreateGlobalTable",
    "DescribeGlobalTable",
    "ListGlobalTables",
    "DescribeKinesisStreamingDestination",
    "DescribeContributorInsights",
];

impl Operation {
    /// The operation named by `X-Amz-Target` after `DynamoDB_20120810.`.
    pub fn from_name(name: &str) -> Option<Operation> {
        Some(match name {
            "CreateTable" => Operation::CreateTable,
            "DeleteTable" => Operation::DeleteTable,
            "DescribeTable" => Operation::DescribeTable,
            "ListTables" => Operation::ListTables,
            "PutItem" => Operation::PutItem,
            "GetItem" => Operation::GetItem,
            "DeleteItem" => Operation::DeleteItem,
            "UpdateItem" => Operation::UpdateItem,
            "BatchGetItem" => Operation::BatchGetItem,
            "BatchWriteItem" => Operation::BatchWriteItem,
            "Query" => Operation::Query,
            "Scan" => Operation::Scan,
            "DescribeTimeToLive" => Operation::DescribeTimeToLive,
            "UpdateTimeToLive" => Operation::UpdateTimeToLive,
            "ListTagsOfResource" => Operation::ListTagsOfResource,
            "UntagResource" => Operation::UntagResource,
            "TagResource" => Operation::TagResource,
            "DescribeEndpoints" => Operation::DescribeEndpoints,
            "DescribeLimits" => Operation::DescribeLimits,
            "UpdateTable" => Operation::UpdateTable,
            other => Operation::NotYet(NOT_YET.iter().copied().find(|n| *n == other)?),
        })
    }
}

impl Operation {
    /// The operation's DynamoDB name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateTable => "CreateTable",
            Operation::DeleteTable => "DeleteTable",
            Operation::DescribeTable => "DescribeTable",
            Operation::ListTables => "ListTables",
            Operation::PutItem => "PutItem",
            Operation::GetItem => "GetItem",
            Operation::DeleteItem => "DeleteItem",
            Operation::UpdateItem => "UpdateItem",
            Operation::BatchGetItem => "BatchGetItem",
            Operation::BatchWriteItem => "BatchWriteItem",
            Operation::Query => "Query",
            Operation::Scan => "Scan",
            Operation::DescribeTimeToLive => "DescribeTimeToLive",
            Operation::UpdateTimeToLive => "UpdateTimeToLive",
            Operation::ListTagsOfResource => "ListTagsOfResource",
            Operation::UntagResource => "UntagResource",
            Operation::TagResource => "TagResource",
            Operation::DescribeEndpoints => "DescribeEndpoints",
            Operation::DescribeLimits => "DescribeLimits",
            Operation::UpdateTable => "UpdateTable",
            Operation::NotYet(name) => name,
        }
    }
}

/// Runs the operation.
pub async fn dispatch(ctx: &Ctx<'_>, op: Operation, params: &Params) -> Result<Value, ApiError> {
    match op {
        Operation::CreateTable => create_table::run(ctx, params).await,
        Operation::DeleteTable => delete_table::run(ctx, params).await,
        Operation::DescribeTable => describe_table::run(ctx, params).await,
        Operation::ListTables => list_tables::run(ctx, params).await,
        Operation::PutItem => put_item::run(ctx, params).await,
        Operation::GetItem => get_item::run(ctx, params).await,
        Operation::DeleteItem => delete_item::run(ctx, params).await,
        Operation::UpdateItem => update_item::run(ctx, params).await,
        Operation::BatchGetItem => batch_get_item::run(ctx, params).await,
        Operation::BatchWriteItem => batch_write_item::run(ctx, params).await,
        Operation::Query => query::run(ctx, params).await,
        Operation::Scan => scan::run(ctx, params).await,
        Operation::DescribeTimeToLive => time_to_live::describe(ctx, params).await,
        Operation::UpdateTimeToLive => time_to_live::update(ctx, params).await,
        Operation::ListTagsOfResource => tags::list(ctx, params).await,
        Operation::UntagResource => tags::untag(ctx, params).await,
        Operation::TagResource => tags::tag(ctx, params).await,
        Operation::DescribeEndpoints => service_info::describe_endpoints(ctx, params),
        Operation::DescribeLimits => service_info::describe_limits(ctx, params),
        Operation::UpdateTable => update_table::run(ctx, params).await,
        Operation::NotYet(name) => Err(ApiError::Validation(format!(
            "Cairn does not support the {name} operation yet"
        ))),
    }
}

/// Runs `futs` concurrently on the calling task and returns their outputs in order (batch
/// operations: at most 100 futures, each polled on every wake-up).
pub async fn join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// A batch operation's `RequestItems` (table name → its requests): null or empty is a
/// framework violation recorded in `v` (and an empty map returned).
pub fn request_items(params: &Params, v: &mut Violations) -> Result<Params, ApiError> {
    let items = opt_object(params, "RequestItems")?;
    match items {
        None => v.null("requestItems"),
        Some(m) if m.is_empty() => v.push(
            "Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length \
             greater than or equal to 1"
                .to_owned(),
        ),
        Some(_) => {}
    }
    Ok(items.cloned().unwrap_or_default())
}

/// Framework-style violations, reported together as DynamoDB does.
#[derive(Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// `Value null at '<field>' failed to satisfy constraint: Member must not be null`.
    pub fn null(&mut self, field: &str) {
        self.0.push(format!(
            "Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// `Value '<v>' at '<field>' failed to satisfy constraint: Member must satisfy enum value
    /// set: [..]`.
    pub fn enum_value(&mut self, value: &str, field: &str, allowed: &[&str]) {
        self.0.push(format!(
            "Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ));
    }

    /// Any other constraint.
    pub fn push(&mut self, message: String) {
        self.0.push(message);
    }

    /// The ValidationException, if any violation was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::Validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::Validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// The member, treating JSON `null` as absent (as DynamoDB does).
pub fn member<'a>(params: &'a Params, name: &str) -> Option<&'a Value> {
    params.get(name).filter(|v| !v.is_null())
}

/// A required member: when absent (or null) the framework's "must not be null" violation for
/// `field` is recorded in `v`.
pub fn required<'a>(
    params: &'a Params,
    name: &str,
    field: &str,
    v: &mut Violations,
) -> Option<&'a Value> {
    let m = member(params, name);
    if m.is_none() {
        v.null(field);
    }
    m
}

/// A string member, or a SerializationException for another JSON type.
pub fn opt_str<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, ApiError> {
    match member(params, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(type_error(v, "String").into()),
    }
}

/// A boolean member.
pub fn opt_bool(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match member(params, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(type_error(v, "Boolean").into()),
    }
}

/// An integer member (DynamoDB's `Long`/`Integer`): JSON numbers without a fraction.
pub fn opt_i64(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match member(params, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::Serialization(format!("Invalid integer value: {n}"))),
        Some(v) => Err(type_error(v, "Long").into()),
    }
}

/// An object member.
pub fn opt_object<'a>(params: &'a Params, name: &str) -> Result<Option<&'a Params>, ApiError> {
    match member(params, name) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(v) => Err(type_error(v, "Structure").into()),
    }
}

/// An array member.
pub fn opt_array<'a>(params: &'a Params, name: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match member(params, name) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(type_error(v, "List").into()),
    }
}

/// Rejects members that ask for something Cairn does not do yet, naming them.
pub fn reject_unsupported(params: &Params, names: &[&str]) -> Result<(), ApiError> {
    for name in names {
        if member(params, name).is_some() {
            return Err(ApiError::Validation(format!(
                "Cairn does not support the {name} parameter yet"
            )));
        }
    }
    Ok(())
}

/// The required `TableName` (null check only; the pattern and length rules are the control
/// plane's for table operations, and item operations get ResourceNotFound for a bad name).
pub fn table_name<'a>(params: &'a Params, v: &mut Violations) -> Result<&'a str, ApiError> {
    let name = opt_str(params, "TableName")?;
    if name.is_none() {
        v.null("tableName");
    }
    Ok(name.unwrap_or(""))
}

/// DynamoDB's `TableDescription` for a table.
pub fn table_description(desc: &TableDesc, config: &ApiConfig) -> Value {
    let key_schema: Vec<Value> = desc
        .key_schema
        .iter()
        .map(|k| json!({"AttributeName": k.attribute_name, "KeyType": k.key_type.as_str()}))
        .collect();
    let attribute_definitions: Vec<Value> = desc
        .attribute_definitions
        .iter()
        .map(|d| {
            let t = match d.attribute_type {
                wire::control::AttributeType::S => "S",
                wire::control::AttributeType::N => "N",
                wire::control::AttributeType::B => "B",
            };
            json!({"AttributeName": d.attribute_name, "AttributeType": t})
        })
        .collect();
    let (rcu, wcu) = desc
        .provisioned_throughput
        .map_or((0, 0), |p| (p.read_capacity_units, p.write_capacity_units));
    let mut out = json!({
        "TableName": desc.name,
        "TableStatus": desc.status.as_str(),
        "KeySchema": key_schema,
        "AttributeDefinitions": attribute_definitions,
        "CreationDateTime": desc.creation_time_ms as f64 / 1000.0,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": rcu,
            "WriteCapacityUnits": wcu,
        },
        "TableSizeBytes": desc.size_bytes,
        "ItemCount": desc.item_count,
        "TableArn": format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            config.region, config.account_id, desc.name
        ),
        "TableId": table_uuid(desc),
        "DeletionProtectionEnabled": false,
    });
    if desc.billing_mode == BillingMode::PayPerRequest {
        out["BillingModeSummary"] = json!({
            "BillingMode": BillingMode::PayPerRequest.as_str(),
            "LastUpdateToPayPerRequestDateTime": desc.creation_time_ms as f64 / 1000.0,
        });
    }
    out
}

/// A stable UUID-shaped `TableId`: derived from the table's numeric id, name and creation
/// time, so a re-created table with the same name gets a different one.
fn table_uuid(desc: &TableDesc) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&desc.id.to_be_bytes());
    h.update(&desc.creation_time_ms.to_be_bytes());
    h.update(desc.name.as_bytes());
    let b = h.finalize();
    let x = b.as_bytes();
    let hex =
        |r: std::ops::Range<usize>| -> String { x[r].iter().map(|b| format!("{b:02x}")).collect() };
    format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}
