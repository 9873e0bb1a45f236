//! Query: the items of one item collection (one partition-key value), in sort-key order
//! (`ScanIndexForward=false`: descending), narrowed by one sort-key condition, then filtered
//! (`FilterExpression` / `QueryFilter`), projected and paged (`read_common.rs`).
//!
//! The key condition (`KeyConditionExpression` or the legacy `KeyConditions`) becomes a span of
//! stored keys: the collection is `collection_prefix(table, pk)` and its successor, and a
//! sort-key bound is the prefix followed by the sort key's canonical bytes, whose byte order
//! is DynamoDB's sort order (`wire::key`). A collection lives in one partition, so the read
//! never crosses a partition boundary, in either direction.
//!
//! Validation order: framework violations (table name, enums, bounds), the legacy and
//! expression parameters, `Select` against the projection, then the table, the index, the key
//! condition against the schema and `ExclusiveStartKey`.

use serde_json::Value;
use wire::capacity::CapacityOp;
use wire::expr::legacy::Operation as LegacyOp;
use wire::expr::{KeyCondition, SortKeyCondition, key_condition};
use wire::item::{AttributeValue, KeySchema};
use wire::key::{KeyAttr, collection_range, prefix_successor, validate_sort_key};

use super::read_common::{Knobs, Span, bounded, exclusive_start_key, index_name, prepare, select};
use super::write_common::return_consumed_capacity;
use super::{Ctx, Params, Violations, opt_bool, opt_str, table_name};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let index = index_name(params, &mut v)?;
    let select = select(params, &mut v)?;
    let limit = bounded(params, "Limit", "limit", 1, None, &mut v)?;
    let capacity = return_consumed_capacity(params, &mut v)?;
    let consistent = opt_bool(params, "ConsistentRead")?.unwrap_or(false);
    let forward = opt_bool(params, "ScanIndexForward")?.unwrap_or(true);
    v.finish()?;
    let prep = prepare(
        ctx,
        params,
        LegacyOp::Query,
        name,
        opt_str(params, "KeyConditionExpression")?,
        select,
        index,
    )
    .await?;
    let kc = match (&prep.parsed.key_condition, &prep.legacy.key_conditions) {
        (Some(c), _) => key_condition(c, &prep.schema)?,
        (None, Some(k)) => k.resolve(&prep.schema)?,
        (None, None) => {
            return Err(ApiError::Validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be \
                 specified in the request."
                    .into(),
            ));
        }
    };
    // A filter may not test key attributes (the key condition does).
    let key_in_filter = |c: &wire::expr::Condition| {
        c.top_level_names()
            .into_iter()
            .find(|n| prep.schema.is_key_attribute(n))
            .map(str::to_owned)
    };
    if let Some(f) = &prep.parsed.filter
        && let Some(k) = key_in_filter(f)
    {
        return Err(ApiError::Validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key \
             attribute: {k}"
        )));
    }
    if let Some(f) = &prep.legacy.filter
        && let Some(k) = key_in_filter(f)
    {
        return Err(ApiError::Validation(format!(
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: {k}"
        )));
    }
    let mut span = key_span(&prep.schema, &kc, !forward)?;
    let start = exclusive_start_key(params, &prep.schema).map_err(|e| match e {
        // Query names no detail (Scan does).
        ApiError::Validation(_) => {
            ApiError::Validation("The provided starting key is invalid".into())
        }
        other => other,
    })?;
    if let Some(start) = start {
        if !span.contains(&start.encoded) {
            return Err(ApiError::Validation(
                "The provided starting key is outside query boundaries based on provided \
                 conditions"
                    .into(),
            ));
        }
        span = span.after(start.encoded);
    }
    prep.answer(
        ctx,
        CapacityOp::Query,
        span,
        Knobs {
            select,
            limit,
            consistent,
            capacity,
        },
    )
    .await
}

fn key_attr(v: &AttributeValue) -> Option<KeyAttr> {
    match v {
        AttributeValue::S(s) => Some(KeyAttr::S(s.clone())),
        AttributeValue::N(n) => Some(KeyAttr::N(*n)),
        AttributeValue::B(b) => Some(KeyAttr::B(b.clone())),
        _ => None,
    }
}

/// The stored keys `kc` selects (see the module docs).
fn key_span(schema: &KeySchema, kc: &KeyCondition, reverse: bool) -> Result<Span, ApiError> {
    let type_mismatch = || {
        ApiError::Validation(
            "One or more parameter values were invalid: Condition parameter type does not match \
             schema type"
                .into(),
        )
    };
    let pk = key_attr(&kc.hash).ok_or_else(type_mismatch)?;
    let (start, end) = collection_range(schema.table, &pk)
        .map_err(|e| ApiError::Validation(e.dynamodb_message(&schema.hash.0)))?;
    let sort_name = schema.range.as_ref().map_or("", |(n, _)| n.as_str());
    let bound = |v: &AttributeValue| -> Result<Vec<u8>, ApiError> {
        let sk = key_attr(v).ok_or_else(type_mismatch)?;
        validate_sort_key(&sk).map_err(|e| ApiError::Validation(e.dynamodb_message(sort_name)))?;
        let mut k = start.clone();
        sk.encode_into(&mut k);
        Ok(k)
    };
    let whole = Span {
        lower: start.clone(),
        lower_inclusive: true,
        upper: end.clone(),
        upper_inclusive: false,
        reverse,
    };
    let Some(sort) = &kc.sort else {
        return Ok(whole);
    };
    let span = |lower: Vec<u8>, li: bool, upper: Vec<u8>, ui: bool| Span {
        lower,
        lower_inclusive: li,
        upper,
        upper_inclusive: ui,
        reverse,
    };
    Ok(match sort {
        SortKeyCondition::Eq(v) => {
            let k = bound(v)?;
            span(k.clone(), true, k, true)
        }
        SortKeyCondition::Lt(v) => span(start.clone(), true, bound(v)?, false),
        SortKeyCondition::Le(v) => span(start.clone(), true, bound(v)?, true),
        SortKeyCondition::Gt(v) => span(bound(v)?, false, end, false),
        SortKeyCondition::Ge(v) => span(bound(v)?, true, end, false),
        SortKeyCondition::Between(lo, hi) => span(bound(lo)?, true, bound(hi)?, true),
        SortKeyCondition::BeginsWith(v) => {
            if let AttributeValue::N(_) = v {
                return Err(ApiError::Validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or \
                     function; operator or function: begins_with, operand type: N"
                        .into(),
                ));
            }
            let lower = bound(v)?;
            // The prefix holds the collection's header, which is never all 0xFF.
            let upper = prefix_successor(&lower).unwrap_or(end);
            span(lower, true, upper, false)
        }
    })
}
