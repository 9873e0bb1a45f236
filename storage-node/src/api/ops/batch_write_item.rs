//! BatchWriteItem: up to 25 puts and deletes over one or more tables, each atomic on its own,
//! the batch not. The whole batch is validated first (tables exist and are ACTIVE, items and
//! keys match their schemas, 400 KB per item, no item twice, at most 25 requests) and refused
//! as a whole if any part is bad; then the writes run concurrently through the router, and a
//! write that could not be done (no leader in time, overload) comes back in
//! `UnprocessedItems` for the client to retry, as DynamoDB does. No conditions, no
//! `ReturnValues`; `ReturnConsumedCapacity` reports per table (blind writes are charged for
//! the new item's size: the old item is not read).

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use wire::capacity::{CapacityOp, ConsumedCapacity, WriteMode, write_units};
use wire::item::{PrimaryKey, check_item_size, item_size_bytes, parse_item};

use super::item_common::resolve_table;
use super::write_common::{item_collection_metrics, return_consumed_capacity};
use super::{Ctx, Params, Violations, join_all, member, request_items};
use crate::api::backend::{DeleteItemCall, PutItemCall, TableRef};
use crate::api::error::ApiError;

/// DynamoDB's limit on requests in one BatchWriteItem.
pub const BATCH_WRITE_REQUESTS_MAX: usize = 25;

enum Write {
    Put(PutItemCall, usize),
    Delete(DeleteItemCall),
}

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let request_items = request_items(params, &mut v)?;
    let capacity = return_consumed_capacity(params, &mut v)?;
    item_collection_metrics(params, &mut v)?;
    v.finish()?;
    let mut total = 0usize;
    let mut lists = Vec::new();
    for (table, list) in &request_items {
        let Value::Array(list) = list else {
            return Err(wire::item::type_error(list, "List").into());
        };
        if list.is_empty() || list.len() > BATCH_WRITE_REQUESTS_MAX {
            return Err(ApiError::Validation(format!(
                "1 validation error detected: Value at 'requestItems.{table}.member' failed to \
                 satisfy constraint: Member must have length less than or equal to 25 and \
                 greater than or equal to 1"
            )));
        }
        total += list.len();
        lists.push((table.clone(), list));
    }
    if total > BATCH_WRITE_REQUESTS_MAX {
        return Err(ApiError::Validation(
            "Too many items requested for the BatchWriteItem call".to_owned(),
        ));
    }
    // Validate everything before writing anything.
    let mut writes: Vec<(TableRef, Value, Write)> = Vec::with_capacity(total);
    let mut seen: HashSet<(String, Vec<u8>)> = HashSet::new();
    for (name, list) in lists {
        let (table, schema) = resolve_table(ctx, &name).await?;
        for req in list {
            let Value::Object(req) = req else {
                return Err(wire::item::type_error(req, "Structure").into());
            };
            let put = member(req, "PutRequest");
            let delete = member(req, "DeleteRequest");
            let (key, write): (PrimaryKey, Write) = match (put, delete) {
                (Some(Value::Object(p)), None) => {
                    let item = parse_item(member(p, "Item").unwrap_or(&Value::Null))?;
                    let key = schema.key_of_item(&item)?;
                    check_item_size(&item)?;
                    let size = item_size_bytes(&item);
                    let call = PutItemCall {
                        table: table.clone(),
                        key: key.clone(),
                        item,
                        return_old: false,
                    };
                    (key, Write::Put(call, size))
                }
                (None, Some(Value::Object(d))) => {
                    let key_item = parse_item(member(d, "Key").unwrap_or(&Value::Null))?;
                    let key = schema.key_of_key(&key_item)?;
                    let call = DeleteItemCall {
                        table: table.clone(),
                        key: key.clone(),
                        return_old: false,
                    };
                    (key, Write::Delete(call))
                }
                _ => {
                    return Err(ApiError::Validation(
                        "Supplied WriteRequest must contain exactly one of PutRequest or \
                         DeleteRequest"
                            .to_owned(),
                    ));
                }
            };
            if !seen.insert((name.clone(), key.encoded)) {
                return Err(ApiError::Validation(
                    "Provided list of item keys contains duplicates".to_owned(),
                ));
            }
            writes.push((table.clone(), Value::Object(req.clone()), write));
        }
    }
    let results = join_all(writes.iter().map(|(_, _, w)| async move {
        match w {
            Write::Put(call, _) => ctx.backend.put_item(call.clone()).await.map(|_| ()),
            Write::Delete(call) => ctx.backend.delete_item(call.clone()).await.map(|_| ()),
        }
    }))
    .await;
    let mut unprocessed: Map<String, Value> = Map::new();
    let mut cc = ConsumedCapacity::new(capacity, CapacityOp::BatchWriteItem);
    for ((table, req, w), result) in writes.iter().zip(results) {
        match result {
            Ok(()) => {
                let bytes = match w {
                    Write::Put(_, size) => *size,
                    Write::Delete(_) => 0,
                };
                cc.add_write(&table.name, write_units(bytes as u64, WriteMode::Standard));
            }
            // Validation passed, so a failure here is the service's: retryable.
            Err(e) => {
                tracing::debug!(table = %table.name, error = %e, "batch write left unprocessed");
                unprocessed
                    .entry(table.name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .expect("an array")
                    .push(req.clone());
            }
        }
    }
    let mut out = Map::new();
    out.insert("UnprocessedItems".to_owned(), Value::Object(unprocessed));
    cc.write_into(&mut out);
    Ok(json!(out))
}
