//! UpdateTimeToLive and DescribeTimeToLive. The setting lives in the table's description
//! (`TableSettings::ttl_attribute`, changed through `wire::control::alter` at the control
//! plane); each partition leader's sweeper (`driver/ttl.rs`) deletes the items whose
//! attribute holds a number of seconds since the Unix epoch that has passed.

use serde_json::{Value, json};
use wire::control::TableChange;

use super::{Ctx, Params, Violations, opt_bool, opt_object, opt_str, table_name};
use crate::api::error::ApiError;

/// DynamoDB's longest attribute name for time to live.
const ATTRIBUTE_NAME_BYTES_MAX: usize = 255;

pub async fn update(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let spec = opt_object(params, "TimeToLiveSpecification")?;
    let (mut enabled, mut attribute) = (None, None);
    match spec {
        None => v.null("timeToLiveSpecification"),
        Some(spec) => {
            enabled = opt_bool(spec, "Enabled")?;
            if enabled.is_none() {
                v.null("timeToLiveSpecification.enabled");
            }
            attribute = opt_str(spec, "AttributeName")?;
            match attribute {
                None => v.null("timeToLiveSpecification.attributeName"),
                Some("") => v.push(
                    "Value '' at 'timeToLiveSpecification.attributeName' failed to satisfy \
                     constraint: Member must have length greater than or equal to 1"
                        .into(),
                ),
                Some(a) if a.len() > ATTRIBUTE_NAME_BYTES_MAX => v.push(format!(
                    "Value '{a}' at 'timeToLiveSpecification.attributeName' failed to satisfy \
                     constraint: Member must have length less than or equal to \
                     {ATTRIBUTE_NAME_BYTES_MAX}"
                )),
                Some(_) => {}
            }
        }
    }
    v.finish()?;
    let (Some(enabled), Some(attribute)) = (enabled, attribute) else {
        unreachable!("both present once the violations are empty");
    };
    ctx.backend
        .alter_table(
            name.to_owned(),
            TableChange::TimeToLive {
                enabled,
                attribute_name: attribute.to_owned(),
            },
        )
        .await
        .map_err(ApiError::from_control)?;
    Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}))
}

pub async fn describe(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let desc = super::describe_table::described(ctx, params).await?;
    Ok(match desc.settings.ttl_attribute {
        Some(a) => {
            json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": a}})
        }
        None => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
    })
}
