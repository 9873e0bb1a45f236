//! DeleteItem: validate the `Key` and delete (a missing item is not an error). A plain delete
//! is sent blind (the old image read only for `ReturnValues=ALL_OLD`); with a condition or a
//! capacity report it is evaluated at the partition leader (`write_common.rs`).

use serde_json::{Map, Value};
use wire::capacity::CapacityOp;
use wire::expr::legacy::Operation as LegacyOp;
use wire::forward::{ReturnImage, WriteAction};
use wire::item::{item_to_json, parse_item};

use super::item_common::resolve_table;
use super::write_common::{eval_write, expressions, knobs, run_eval};
use super::{Ctx, Params, Violations, required, table_name};
use crate::api::backend::{DeleteItemCall, WriteItemCall};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_json = required(params, "Key", "key", &mut v);
    let (returns, old_on_failure, capacity) = knobs(params, LegacyOp::DeleteItem, &mut v)?;
    v.finish()?;
    let (condition, _) = expressions(params, LegacyOp::DeleteItem)?;
    let key_item = parse_item(key_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_key(&key_item)?;
    if condition.is_some() || capacity.is_requested() {
        let write = eval_write(
            WriteAction::Delete,
            condition.as_ref(),
            returns,
            old_on_failure,
        );
        let call = WriteItemCall { table, key, write };
        return run_eval(ctx, call, capacity, CapacityOp::DeleteItem).await;
    }
    let return_old = returns == ReturnImage::AllOld;
    let old = ctx
        .backend
        .delete_item(DeleteItemCall {
            table,
            key,
            return_old,
        })
        .await?;
    let mut out = Map::new();
    if let Some(old) = old.filter(|_| return_old) {
        out.insert("Attributes".to_owned(), Value::Object(item_to_json(&old)));
    }
    Ok(Value::Object(out))
}
