//! PutItem: validate the item (values, key attributes against the table's schema, 400 KB)
//! and store it. A plain put (no condition, no capacity report) is sent blind, with the old
//! image read only for `ReturnValues=ALL_OLD`; a put with `ConditionExpression` / `Expected`
//! or `ReturnConsumedCapacity` is evaluated at the partition leader against the current item
//! (`write_common.rs`), atomically with the write.

use serde_json::{Map, Value};
use wire::capacity::CapacityOp;
use wire::expr::legacy::Operation as LegacyOp;
use wire::forward::{ReturnImage, WriteAction};
use wire::item::{check_item_size, encode_item, item_size_bytes, item_to_json, parse_item};

use super::item_common::resolve_table;
use super::write_common::{eval_write, expressions, knobs, run_eval};
use super::{Ctx, Params, Violations, required, table_name};
use crate::api::backend::{PutItemCall, WriteItemCall};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let item_json = required(params, "Item", "item", &mut v);
    let (returns, old_on_failure, capacity) = knobs(params, LegacyOp::PutItem, &mut v)?;
    v.finish()?;
    let (condition, _) = expressions(params, LegacyOp::PutItem)?;
    let item = parse_item(item_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_item(&item)?;
    check_item_size(&item)?;
    if condition.is_some() || capacity.is_requested() {
        let size_bytes = u32::try_from(item_size_bytes(&item)).unwrap_or(u32::MAX);
        let action = WriteAction::Put {
            item: encode_item(&item),
            size_bytes,
        };
        let write = eval_write(action, condition.as_ref(), returns, old_on_failure);
        let call = WriteItemCall { table, key, write };
        return run_eval(ctx, call, capacity, CapacityOp::PutItem).await;
    }
    let return_old = returns == ReturnImage::AllOld;
    let old = ctx
        .backend
        .put_item(PutItemCall {
            table,
            key,
            item,
            return_old,
        })
        .await?;
    let mut out = Map::new();
    if let Some(old) = old.filter(|_| return_old) {
        out.insert("Attributes".to_owned(), Value::Object(item_to_json(&old)));
    }
    Ok(Value::Object(out))
}
