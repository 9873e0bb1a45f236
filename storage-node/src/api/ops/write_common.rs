//! What PutItem, DeleteItem and UpdateItem share beyond `item_common.rs`: the write-side
//! parameters (`ConditionExpression` or `Expected`, `UpdateExpression` or `AttributeUpdates`,
//! the placeholder maps, `ReturnValues`, `ReturnValuesOnConditionCheckFailure`,
//! `ReturnConsumedCapacity`) parsed in DynamoDB's order, and the evaluated write sent to the
//! partition leader (`partition/eval.rs`), whose answer becomes the response or a
//! `ConditionalCheckFailedException`.
//!
//! Order: framework checks (required members, enum values: one ValidationException listing
//! them all), then the legacy parameters and the expression/legacy mix
//! (`wire::expr::legacy`), then the expressions themselves (`wire::expr`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use wire::capacity::{
    CapacityOp, CapacityUnits, ConsumedCapacity, ReturnConsumedCapacity, WriteMode, delete_units,
    put_units, update_units,
};
use wire::expr::codec::{encode_condition, encode_update};
use wire::expr::legacy::{self, Operation as LegacyOp};
use wire::expr::{Condition, RequestExpressions, UpdateExpr};
use wire::forward::{EvalWrite, ReturnImage, WriteAction};
use wire::item::{AttributeValue, item_to_json, parse_value, type_error};

use super::{Params, Violations, opt_object, opt_str};
use crate::api::backend::{TableRef, WriteItemCall, WriteOutcome};
use crate::api::error::ApiError;
use crate::api::ops::Ctx;

const RETURN_VALUES: [&str; 5] = ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];

/// `ReturnValues`: PutItem and DeleteItem take `NONE | ALL_OLD`, UpdateItem all five.
fn return_values(
    params: &Params,
    op: LegacyOp,
    v: &mut Violations,
) -> Result<ReturnImage, ApiError> {
    let image = match opt_str(params, "ReturnValues")? {
        None | Some("NONE") => ReturnImage::None,
        Some("ALL_OLD") => ReturnImage::AllOld,
        Some(other) if !RETURN_VALUES.contains(&other) => {
            v.enum_value(other, "returnValues", &RETURN_VALUES);
            ReturnImage::None
        }
        Some(_) if op != LegacyOp::UpdateItem => {
            return Err(ApiError::Validation(
                "ReturnValues can only be ALL_OLD or NONE".to_owned(),
            ));
        }
        Some("ALL_NEW") => ReturnImage::AllNew,
        Some("UPDATED_OLD") => ReturnImage::UpdatedOld,
        Some(_) => ReturnImage::UpdatedNew,
    };
    Ok(image)
}

/// Framework-level checks of the knobs (recorded in `v`; the caller finishes `v`).
pub fn knobs(
    params: &Params,
    op: LegacyOp,
    v: &mut Violations,
) -> Result<(ReturnImage, bool, ReturnConsumedCapacity), ApiError> {
    let returns = return_values(params, op, v)?;
    let old_on_failure = match opt_str(params, "ReturnValuesOnConditionCheckFailure")? {
        None | Some("NONE") => false,
        Some("ALL_OLD") => true,
        Some(other) => {
            v.enum_value(
                other,
                "returnValuesOnConditionCheckFailure",
                &["ALL_OLD", "NONE"],
            );
            false
        }
    };
    let capacity = return_consumed_capacity(params, v)?;
    item_collection_metrics(params, v)?;
    Ok((returns, old_on_failure, capacity))
}

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
pub type PlaceholderMaps = (
    Option<BTreeMap<String, String>>,
    Option<BTreeMap<String, AttributeValue>>,
);

/// `ReturnConsumedCapacity` (an enum violation is recorded in `v`).
pub fn return_consumed_capacity(
    params: &Params,
    v: &mut Violations,
) -> Result<ReturnConsumedCapacity, ApiError> {
    Ok(
        match ReturnConsumedCapacity::parse(opt_str(params, "ReturnConsumedCapacity")?) {
            Ok(c) => c,
            Err(e) => {
                v.push(e.violation().to_owned());
                ReturnConsumedCapacity::None
            }
        },
    )
}

/// `ReturnItemCollectionMetrics`: its enum checked (there are no local secondary indexes, so
/// `SIZE` has nothing to report).
pub fn item_collection_metrics(params: &Params, v: &mut Violations) -> Result<(), ApiError> {
    if let Some(c) = opt_str(params, "ReturnItemCollectionMetrics")?
        && !["SIZE", "NONE"].contains(&c)
    {
        v.enum_value(c, "returnItemCollectionMetrics", &["SIZE", "NONE"]);
    }
    Ok(())
}

/// `ExpressionAttributeNames` and `ExpressionAttributeValues` as maps.
pub fn placeholder_maps(params: &Params) -> Result<PlaceholderMaps, ApiError> {
    let names = match opt_object(params, "ExpressionAttributeNames")? {
        None => None,
        Some(m) => Some(
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(ApiError::from(type_error(other, "String"))),
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let values = match opt_object(params, "ExpressionAttributeValues")? {
        None => None,
        Some(m) => Some(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), parse_value(v)?)))
                .collect::<Result<_, ApiError>>()?,
        ),
    };
    Ok((names, values))
}

/// The condition and update of a write request, from expressions or legacy parameters.
pub fn expressions(
    params: &Params,
    op: LegacyOp,
) -> Result<(Option<Condition>, Option<UpdateExpr>), ApiError> {
    let legacy = legacy::parse_legacy(op, params)?;
    let (names, values) = placeholder_maps(params)?;
    let parsed = RequestExpressions {
        condition: opt_str(params, "ConditionExpression")?,
        update: if op == LegacyOp::UpdateItem {
            opt_str(params, "UpdateExpression")?
        } else {
            None
        },
        names: names.as_ref(),
        values: values.as_ref(),
        ..Default::default()
    }
    .parse()?;
    Ok((
        parsed.condition.or(legacy.condition),
        parsed.update.or(legacy.update),
    ))
}

/// Sends an evaluated write and renders its answer: `Attributes` (the image asked for) and
/// `ConsumedCapacity`; a failed condition is a `ConditionalCheckFailedException`.
pub async fn run_eval(
    ctx: &Ctx<'_>,
    call: WriteItemCall,
    capacity: ReturnConsumedCapacity,
    op: CapacityOp,
) -> Result<Value, ApiError> {
    let table: TableRef = call.table.clone();
    // DynamoDB's charge for each kind of write, from the sizes before and after.
    let charge: fn(Option<usize>, usize) -> CapacityUnits = match &call.write.action {
        WriteAction::Put { .. } => |old, new| put_units(old, new, WriteMode::Standard),
        WriteAction::Delete => |old, _| delete_units(old, WriteMode::Standard),
        WriteAction::Update { .. } => |old, new| update_units(old, new, WriteMode::Standard),
    };
    match ctx.backend.write_item(call).await? {
        WriteOutcome::Written {
            image,
            old_bytes,
            new_bytes,
        } => {
            let units = charge((old_bytes > 0).then_some(old_bytes), new_bytes);
            let mut out = Map::new();
            if let Some(image) = image {
                out.insert("Attributes".to_owned(), Value::Object(item_to_json(&image)));
            }
            let mut cc = ConsumedCapacity::new(capacity, op);
            cc.add_write(&table.name, units);
            cc.write_into(&mut out);
            Ok(Value::Object(out))
        }
        WriteOutcome::ConditionFailed { old, .. } => Err(ApiError::ConditionalCheckFailed(
            old.map(|item| item_to_json(&item)),
        )),
    }
}

/// An [`EvalWrite`] from parsed parts.
pub fn eval_write(
    action: WriteAction,
    condition: Option<&Condition>,
    returns: ReturnImage,
    old_on_failure: bool,
) -> EvalWrite {
    EvalWrite {
        action,
        condition: condition.map(encode_condition),
        returns,
        old_on_failure,
    }
}

/// The update blob of an [`UpdateExpr`].
pub fn update_blob(u: &UpdateExpr) -> Vec<u8> {
    encode_update(u)
}
