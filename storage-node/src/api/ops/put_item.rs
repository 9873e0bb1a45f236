//! PutItem: validate the item (values, key attributes against the table's schema, 400 KB),
//! encode its key, store it through the backend; `ReturnValues=ALL_OLD` returns the replaced
//! item as `Attributes`.

use serde_json::{Map, Value};
use wire::item::{check_item_size, item_to_json, parse_item};

use super::item_common::{CONDITION_PARAMS, accept_return_knobs, resolve_table, return_old};
use super::{Ctx, Params, Violations, member, reject_unsupported, table_name};
use crate::api::backend::PutItemCall;
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let item_json = member(params, "Item");
    if item_json.is_none() {
        v.null("item");
    }
    let return_old = return_old(params, &mut v)?;
    accept_return_knobs(params, &mut v)?;
    v.finish()?;
    reject_unsupported(params, CONDITION_PARAMS)?;
    let item = parse_item(item_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_item(&item)?;
    check_item_size(&item)?;
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
