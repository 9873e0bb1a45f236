//! What the item operations share: resolving the table (it must exist and be ACTIVE, else
//! `ResourceNotFoundException: Requested resource not found`, as DynamoDB answers item
//! operations) and its key schema. The write-side parameters are in `write_common.rs`.

use wire::control::{ControlErrorKind, TableStatus};
use wire::item::KeySchema;

use super::Ctx;
use crate::api::backend::TableRef;
use crate::api::error::ApiError;

const NOT_FOUND: &str = "Requested resource not found";

/// The table's reference and key schema, for an item operation.
pub async fn resolve_table(ctx: &Ctx<'_>, name: &str) -> Result<(TableRef, KeySchema), ApiError> {
    let desc = match ctx.backend.describe_table(name.to_owned()).await {
        Ok(desc) => desc,
        // A name that breaks the naming rules cannot exist either.
        Err(e)
            if matches!(
                e.kind,
                ControlErrorKind::ResourceNotFound | ControlErrorKind::Validation
            ) =>
        {
            return Err(ApiError::ResourceNotFound(NOT_FOUND.to_owned()));
        }
        Err(e) => return Err(ApiError::from_control(e)),
    };
    if desc.status != TableStatus::Active {
        return Err(ApiError::ResourceNotFound(NOT_FOUND.to_owned()));
    }
    let schema = KeySchema::from_table(&desc)
        .ok_or_else(|| ApiError::Internal(format!("table {name} has an invalid key schema")))?;
    Ok((
        TableRef {
            name: desc.name,
            id: desc.id,
        },
        schema,
    ))
}
