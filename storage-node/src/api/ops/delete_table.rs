//! DeleteTable: the control plane marks the table DELETING and answers with its description.

use serde_json::{Value, json};

use super::{Ctx, Params, Violations, table_description, table_name};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    v.finish()?;
    let desc = ctx
        .backend
        .delete_table(name.to_owned())
        .await
        .map_err(ApiError::from_control)?;
    Ok(json!({"TableDescription": table_description(&desc, ctx.config)}))
}
