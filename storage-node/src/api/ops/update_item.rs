//! UpdateItem: validate the `Key`, parse `UpdateExpression` (or the legacy
//! `AttributeUpdates`) and the condition, refuse updates of key attributes, and have the
//! partition leader apply the update to the current item (or to the key alone when there is
//! none) atomically with the write (`partition/eval.rs`). `ReturnValues` takes all five
//! values; an update that cannot apply (arithmetic on a missing attribute, a wrong type, an
//! item over 400 KB) is a ValidationException and changes nothing. Without any update action
//! the item is created with its key attributes only, as DynamoDB does.

use serde_json::Value;
use wire::capacity::CapacityOp;
use wire::expr::UpdateExpr;
use wire::expr::legacy::Operation as LegacyOp;
use wire::forward::WriteAction;
use wire::item::{encode_item, parse_item};

use super::item_common::resolve_table;
use super::write_common::{eval_write, expressions, knobs, run_eval, update_blob};
use super::{Ctx, Params, Violations, required, table_name};
use crate::api::backend::WriteItemCall;
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_json = required(params, "Key", "key", &mut v);
    let (returns, old_on_failure, capacity) = knobs(params, LegacyOp::UpdateItem, &mut v)?;
    v.finish()?;
    let (condition, update) = expressions(params, LegacyOp::UpdateItem)?;
    let key_item = parse_item(key_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_key(&key_item)?;
    let update = update.unwrap_or(UpdateExpr {
        actions: Vec::new(),
    });
    let mut key_names = vec![schema.hash.0.as_str()];
    if let Some((range, _)) = &schema.range {
        key_names.push(range.as_str());
    }
    update.check_key_attributes(&key_names)?;
    let action = WriteAction::Update {
        update: update_blob(&update),
        key_item: encode_item(&key_item),
    };
    let write = eval_write(action, condition.as_ref(), returns, old_on_failure);
    let call = WriteItemCall { table, key, write };
    run_eval(ctx, call, capacity, CapacityOp::UpdateItem).await
}
