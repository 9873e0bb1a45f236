//! ListTables: names in order, paged by `ExclusiveStartTableName` and `Limit` (1..=100; the
//! control plane checks the bounds and the start name).

use serde_json::{Map, Value};
use wire::control::ListTablesRequest;

use super::{Ctx, Params, opt_i64, opt_str};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let exclusive_start_table_name = opt_str(params, "ExclusiveStartTableName")?.map(str::to_owned);
    // Out-of-range values reach the control plane as the nearest u32, which it rejects.
    let limit = opt_i64(params, "Limit")?.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
    let reply = ctx
        .backend
        .list_tables(ListTablesRequest {
            exclusive_start_table_name,
            limit,
        })
        .await
        .map_err(ApiError::from_control)?;
    let mut out = Map::new();
    out.insert(
        "TableNames".to_owned(),
        Value::Array(reply.table_names.into_iter().map(Value::String).collect()),
    );
    if let Some(last) = reply.last_evaluated_table_name {
        out.insert("LastEvaluatedTableName".to_owned(), Value::String(last));
    }
    Ok(Value::Object(out))
}
