//! GetItem: validate the `Key` against the table's schema and read it, strongly consistent
//! (`ConsistentRead=true`, at the leader) or eventually consistent; `ProjectionExpression`
//! (or the legacy `AttributesToGet`) trims the answer, and `ReturnConsumedCapacity` reports
//! the read units of the whole item (a projection does not reduce them; a missing item costs
//! the minimum).

use serde_json::{Map, Value};
use wire::capacity::{CapacityOp, ConsumedCapacity, ReadConsistency, item_read_units};
use wire::expr::RequestExpressions;
use wire::expr::legacy::{self, Operation as LegacyOp};
use wire::item::{item_size_bytes, item_to_json, parse_item};

use super::item_common::resolve_table;
use super::write_common::{placeholder_maps, return_consumed_capacity};
use super::{Ctx, Params, Violations, opt_bool, opt_str, required, table_name};
use crate::api::backend::GetItemCall;
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_json = required(params, "Key", "key", &mut v);
    let consistent = opt_bool(params, "ConsistentRead")?.unwrap_or(false);
    let capacity = return_consumed_capacity(params, &mut v)?;
    v.finish()?;
    let legacy = legacy::parse_legacy(LegacyOp::GetItem, params)?;
    let (names, values) = placeholder_maps(params)?;
    let parsed = RequestExpressions {
        projection: opt_str(params, "ProjectionExpression")?,
        names: names.as_ref(),
        values: values.as_ref(),
        ..Default::default()
    }
    .parse()?;
    let projection = parsed.projection.or(legacy.projection);
    let key_item = parse_item(key_json.unwrap_or(&Value::Null))?;
    let (table, schema) = resolve_table(ctx, name).await?;
    let key = schema.key_of_key(&key_item)?;
    let item = ctx
        .backend
        .get_item(GetItemCall {
            table: table.clone(),
            key,
            consistent,
        })
        .await?;
    let mut out = Map::new();
    let size = item.as_ref().map(item_size_bytes);
    if let Some(item) = item {
        let item = match &projection {
            Some(p) => p.apply(&item),
            None => item,
        };
        out.insert("Item".to_owned(), Value::Object(item_to_json(&item)));
    }
    let mut cc = ConsumedCapacity::new(capacity, CapacityOp::GetItem);
    cc.add_read(
        &table.name,
        item_read_units(size, ReadConsistency::from_consistent_read(consistent)),
    );
    cc.write_into(&mut out);
    Ok(Value::Object(out))
}
