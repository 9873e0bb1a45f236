//! GetItem: validate the `Key` against the table's schema and read it, strongly consistent
//! (`ConsistentRead=true`, at the leader) or eventually consistent. Projections arrive with
//! issue 5 and are refused by name until then.

use serde_json::{Map, Value};
use wire::item::{item_to_json, parse_item};

use super::item_common::{accept_return_knobs, resolve_table};
use super::{Ctx, Params, Violations, member, opt_bool, reject_unsupported, table_name};
use crate::api::backend::GetItemCall;
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_json = member(params, "Key");
    if key_json.is_none() {
        v.null("key");
    }
    let consistent = opt_bool(params, "ConsistentRead")?.unwrap_or(false);
    accept_return_knobs(params, &mut v)?;
    v.finish()?;
    reject_unsupported(
        params,
        &[
            "ProjectionExpression",
            "AttributesToGet",
            "ExpressionAttributeNames",
        ],
    )?;
    let key_item = parse_item(key_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_key(&key_item)?;
    let item = ctx
        .backend
        .get_item(GetItemCall {
            table,
            key,
            consistent,
        })
        .await?;
    let mut out = Map::new();
    if let Some(item) = item {
        out.insert("Item".to_owned(), Value::Object(item_to_json(&item)));
    }
    Ok(Value::Object(out))
}
