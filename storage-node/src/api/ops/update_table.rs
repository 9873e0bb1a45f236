//! UpdateTable: the billing mode and provisioned throughput (`wire::control::alter` decides,
//! at the control plane); `{"TableDescription": …}` with the new values. Secondary indexes,
//! streams, encryption and replicas are not served yet and are refused by name.

use serde_json::{Value, json};
use wire::control::TableChange;

use super::create_table::{billing_mode, throughput};
use super::{
    Ctx, Params, Violations, member, opt_object, reject_unsupported, table_description, table_name,
};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let billing_mode = billing_mode(params, &mut v)?;
    let provisioned_throughput = match opt_object(params, "ProvisionedThroughput")? {
        None => None,
        Some(p) => throughput(p, &mut v)?,
    };
    v.finish()?;
    reject_unsupported(
        params,
        &[
            "AttributeDefinitions",
            "GlobalSecondaryIndexUpdates",
            "StreamSpecification",
            "SSESpecification",
            "ReplicaUpdates",
            "TableClass",
            "DeletionProtectionEnabled",
        ],
    )?;
    if member(params, "BillingMode").is_none() && member(params, "ProvisionedThroughput").is_none()
    {
        return Err(ApiError::Validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, \
             GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
                .into(),
        ));
    }
    let desc = ctx
        .backend
        .alter_table(
            name.to_owned(),
            TableChange::Capacity {
                billing_mode,
                provisioned_throughput,
            },
        )
        .await
        .map_err(ApiError::from_control)?;
    Ok(json!({"TableDescription": table_description(&desc, ctx.config)}))
}
