//! BatchGetItem: up to 100 keys over one or more tables, each table with its own
//! `ConsistentRead` and projection (`ProjectionExpression` with `ExpressionAttributeNames`,
//! or `AttributesToGet`). All keys are validated first (tables ACTIVE, keys match their
//! schemas, no key twice, at most 100); the reads then run concurrently through the router.
//! A read that could not be done, or any read after the response holds 16 MB, comes back
//! in `UnprocessedKeys` (with the table's options) for the client to retry. Missing items are
//! absent from `Responses` and still cost the minimum read units.

use std::collections::HashSet;

use serde_json::{Map, Value};
use wire::capacity::{CapacityOp, ConsumedCapacity, ReadConsistency, item_read_units};
use wire::expr::RequestExpressions;
use wire::expr::legacy::{self, Operation as LegacyOp};
use wire::item::{item_size_bytes, item_to_json, parse_item};

use super::item_common::resolve_table;
use super::write_common::{placeholder_maps, return_consumed_capacity};
use super::{Ctx, Params, Violations, join_all, member, opt_bool, opt_str, request_items};
use crate::api::backend::GetItemCall;
use crate::api::error::ApiError;

/// DynamoDB's limit on keys in one BatchGetItem.
pub const BATCH_GET_KEYS_MAX: usize = 100;
/// The most item bytes one response carries (DynamoDB: 16 MB).
pub const BATCH_GET_RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let request_items = request_items(params, &mut v)?;
    let capacity = return_consumed_capacity(params, &mut v)?;
    v.finish()?;
    let mut total = 0usize;
    for (_, entry) in &request_items {
        if let Some(Value::Array(keys)) = entry.get("Keys") {
            total += keys.len();
        }
    }
    if total > BATCH_GET_KEYS_MAX {
        return Err(ApiError::Validation(
            "Too many items requested for the BatchGetItem call".to_owned(),
        ));
    }
    // Validate every table entry and key first.
    let mut calls = Vec::with_capacity(total);
    let mut seen = HashSet::new();
    for (name, entry) in &request_items {
        let Value::Object(entry) = entry else {
            return Err(wire::item::type_error(entry, "Structure").into());
        };
        let Some(Value::Array(keys)) = member(entry, "Keys") else {
            return Err(ApiError::Validation(format!(
                "1 validation error detected: Value null at 'requestItems.{name}.member.keys' \
                 failed to satisfy constraint: Member must not be null"
            )));
        };
        if keys.is_empty() {
            return Err(ApiError::Validation(format!(
                "1 validation error detected: Value '[]' at 'requestItems.{name}.member.keys' \
                 failed to satisfy constraint: Member must have length greater than or equal to 1"
            )));
        }
        let consistent = opt_bool(entry, "ConsistentRead")?.unwrap_or(false);
        let legacy = legacy::parse_legacy(LegacyOp::BatchGetItem, entry)?;
        let (names, values) = placeholder_maps(entry)?;
        let projection = RequestExpressions {
            projection: opt_str(entry, "ProjectionExpression")?,
            names: names.as_ref(),
            values: values.as_ref(),
            ..Default::default()
        }
        .parse()?
        .projection
        .or(legacy.projection);
        let (table, schema) = resolve_table(ctx, name).await?;
        for key_json in keys {
            let key_item = parse_item(key_json)?;
            let key = schema.key_of_key(&key_item)?;
            if !seen.insert((name.clone(), key.encoded.clone())) {
                return Err(ApiError::Validation(
                    "Provided list of item keys contains duplicates".to_owned(),
                ));
            }
            let call = GetItemCall {
                table: table.clone(),
                key,
                consistent,
            };
            calls.push((name, entry, key_json, projection.clone(), call));
        }
    }
    let results = join_all(
        calls
            .iter()
            .map(|(_, _, _, _, call)| ctx.backend.get_item(call.clone())),
    )
    .await;
    let mut responses: Map<String, Value> = Map::new();
    let mut unprocessed: Map<String, Value> = Map::new();
    let mut cc = ConsumedCapacity::new(capacity, CapacityOp::BatchGetItem);
    let mut bytes = 0usize;
    for ((name, entry, key_json, projection, call), result) in calls.iter().zip(results) {
        responses
            .entry((*name).clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let item = match result {
            Ok(item) if bytes < BATCH_GET_RESPONSE_BYTES_MAX => item,
            other => {
                if let Err(e) = other {
                    tracing::debug!(table = %name, error = %e, "batch get left unprocessed");
                }
                let slot = unprocessed.entry((*name).clone()).or_insert_with(|| {
                    let mut options = (*entry).clone();
                    options.insert("Keys".to_owned(), Value::Array(Vec::new()));
                    Value::Object(options)
                });
                slot["Keys"]
                    .as_array_mut()
                    .expect("an array")
                    .push((*key_json).clone());
                continue;
            }
        };
        let size = item.as_ref().map(item_size_bytes);
        cc.add_read(
            &call.table.name,
            item_read_units(size, ReadConsistency::from_consistent_read(call.consistent)),
        );
        if let Some(item) = item {
            bytes += size.unwrap_or(0);
            let item = match projection {
                Some(p) => p.apply(&item),
                None => item,
            };
            responses[name.as_str()]
                .as_array_mut()
                .expect("an array")
                .push(Value::Object(item_to_json(&item)));
        }
    }
    let mut out = Map::new();
    out.insert("Responses".to_owned(), Value::Object(responses));
    out.insert("UnprocessedKeys".to_owned(), Value::Object(unprocessed));
    cc.write_into(&mut out);
    Ok(Value::Object(out))
}
