//! DescribeTable: `{"Table": TableDescription}` from the backend's description.

use serde_json::{Value, json};
use wire::control::TableDesc;

use super::{Ctx, Params, Violations, table_description, table_name};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let desc = described(ctx, params).await?;
    Ok(json!({"Table": table_description(&desc, ctx.config)}))
}

/// The description of the table a request's `TableName` names (DescribeTable,
/// DescribeTimeToLive), with DynamoDB's errors for a missing name or table.
pub async fn described(ctx: &Ctx<'_>, params: &Params) -> Result<TableDesc, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    v.finish()?;
    ctx.backend
        .describe_table(name.to_owned())
        .await
        .map_err(ApiError::from_control)
}
