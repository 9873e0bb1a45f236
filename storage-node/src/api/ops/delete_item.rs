//! DeleteItem: validate the `Key`, delete through the backend (a missing item is not an
//! error); `ReturnValues=ALL_OLD` returns the deleted item as `Attributes`.

use serde_json::{Map, Value};
use wire::item::{item_to_json, parse_item};

use super::item_common::{CONDITION_PARAMS, accept_return_knobs, resolve_table, return_old};
use super::{Ctx, Params, Violations, member, reject_unsupported, table_name};
use crate::api::backend::DeleteItemCall;
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_json = member(params, "Key");
    if key_json.is_none() {
        v.null("key");
    }
    let return_old = return_old(params, &mut v)?;
    accept_return_knobs(params, &mut v)?;
    v.finish()?;
    reject_unsupported(params, CONDITION_PARAMS)?;
    let key_item = parse_item(key_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_key(&key_item)?;
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
