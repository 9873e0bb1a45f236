//! TagResource, UntagResource and ListTagsOfResource on a table's ARN
//! (`arn:aws:dynamodb:<region>:<account>:table/<name>`, the `TableArn` DescribeTable reports).
//! Tags live in the table's description (`TableSettings::tags`), changed through
//! `wire::control::alter` at the control plane (merge by key, at most 50, `aws:` reserved).
//! Framework rules: keys of 1 to 128 characters, values of at most 256.

use serde_json::{Value, json};
use wire::control::{ResourceTag, TableChange, TableStatus};

use super::{Ctx, Params, Violations, opt_array, opt_str};
use crate::api::error::ApiError;

const KEY_CHARS_MAX: usize = 128;
const VALUE_CHARS_MAX: usize = 256;
const ARN_CHARS_MAX: usize = 1283;

/// The table a `ResourceArn` names: malformed is a ValidationException; another region or
/// account, or a missing table, is ResourceNotFound (as for any table we do not have).
fn table_of_arn<'a>(ctx: &Ctx<'_>, arn: &'a str) -> Result<&'a str, ApiError> {
    let invalid = || {
        ApiError::Validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    if prefix != "arn" || partition != "aws" || service != "dynamodb" {
        return Err(invalid());
    }
    let Some(name) = resource.strip_prefix("table/").filter(|n| !n.contains('/')) else {
        return Err(invalid());
    };
    if region != ctx.config.region || account != ctx.config.account_id {
        return Err(not_found(arn));
    }
    Ok(name)
}

fn not_found(arn: &str) -> ApiError {
    // Sic: DynamoDB's message spells it "ResourcArn".
    ApiError::ResourceNotFound(format!(
        "Requested resource not found: ResourcArn: {arn} not found"
    ))
}

fn resource_arn<'a>(params: &'a Params, v: &mut Violations) -> Result<&'a str, ApiError> {
    let arn = opt_str(params, "ResourceArn")?;
    match arn {
        None => v.null("resourceArn"),
        Some(a) if a.is_empty() || a.chars().count() > ARN_CHARS_MAX => v.push(format!(
            "Value '{a}' at 'resourceArn' failed to satisfy constraint: Member must have length \
             less than or equal to {ARN_CHARS_MAX}, Member must have length greater than or \
             equal to 1"
        )),
        Some(_) => {}
    }
    Ok(arn.unwrap_or(""))
}

fn key_violations(key: &str, field: &str, v: &mut Violations) {
    let n = key.chars().count();
    if n == 0 {
        v.push(format!(
            "Value '' at '{field}' failed to satisfy constraint: Member must have length greater \
             than or equal to 1"
        ));
    } else if n > KEY_CHARS_MAX {
        v.push(format!(
            "Value '{key}' at '{field}' failed to satisfy constraint: Member must have length \
             less than or equal to {KEY_CHARS_MAX}"
        ));
    }
}

async fn alter(ctx: &Ctx<'_>, arn: &str, change: TableChange) -> Result<Value, ApiError> {
    let name = table_of_arn(ctx, arn)?;
    match ctx.backend.alter_table(name.to_owned(), change).await {
        Ok(_) => Ok(json!({})),
        Err(e) if e.kind == wire::control::ControlErrorKind::ResourceNotFound => {
            Err(not_found(arn))
        }
        Err(e) => Err(ApiError::from_control(e)),
    }
}

pub async fn tag(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let arn = resource_arn(params, &mut v)?;
    let mut tags = Vec::new();
    match opt_array(params, "Tags")? {
        None => v.null("tags"),
        Some(list) => {
            for (i, t) in list.iter().enumerate() {
                let Value::Object(t) = t else {
                    return Err(wire::item::type_error(t, "Structure").into());
                };
                let field = |m: &str| format!("tags.{}.member.{m}", i + 1);
                let key = opt_str(t, "Key")?;
                let value = opt_str(t, "Value")?;
                match key {
                    None => v.null(&field("key")),
                    Some(k) => key_violations(k, &field("key"), &mut v),
                }
                match value {
                    None => v.null(&field("value")),
                    Some(val) if val.chars().count() > VALUE_CHARS_MAX => v.push(format!(
                        "Value '{val}' at '{}' failed to satisfy constraint: Member must have \
                         length less than or equal to {VALUE_CHARS_MAX}",
                        field("value")
                    )),
                    Some(_) => {}
                }
                if let (Some(key), Some(value)) = (key, value) {
                    tags.push(ResourceTag {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    });
                }
            }
        }
    }
    v.finish()?;
    if tags.len() > wire::control::TAGS_PER_RESOURCE_MAX {
        return Err(ApiError::LimitExceeded(format!(
            "The number of tags on a resource cannot exceed {}",
            wire::control::TAGS_PER_RESOURCE_MAX
        )));
    }
    alter(ctx, arn, TableChange::Tag(tags)).await
}

pub async fn untag(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let arn = resource_arn(params, &mut v)?;
    let mut keys = Vec::new();
    match opt_array(params, "TagKeys")? {
        None => v.null("tagKeys"),
        Some(list) => {
            for (i, k) in list.iter().enumerate() {
                let Value::String(k) = k else {
                    return Err(wire::item::type_error(k, "String").into());
                };
                key_violations(k, &format!("tagKeys.{}.member", i + 1), &mut v);
                keys.push(k.clone());
            }
        }
    }
    v.finish()?;
    if keys.len() > wire::control::TAGS_PER_RESOURCE_MAX {
        return Err(ApiError::Validation(format!(
            "At most {} tag keys may be removed at once",
            wire::control::TAGS_PER_RESOURCE_MAX
        )));
    }
    alter(ctx, arn, TableChange::Untag(keys)).await
}

/// Every tag fits one page (at most 50), so no `NextToken` is ever returned.
pub async fn list(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let arn = resource_arn(params, &mut v)?;
    opt_str(params, "NextToken")?;
    v.finish()?;
    let name = table_of_arn(ctx, arn)?;
    let desc = match ctx.backend.describe_table(name.to_owned()).await {
        Ok(d) if d.status != TableStatus::Deleting => d,
        Ok(_) => return Err(not_found(arn)),
        Err(e) if e.kind == wire::control::ControlErrorKind::ResourceNotFound => {
            return Err(not_found(arn));
        }
        Err(e) => return Err(ApiError::from_control(e)),
    };
    let tags: Vec<Value> = desc
        .settings
        .tags
        .iter()
        .map(|t| json!({"Key": t.key, "Value": t.value}))
        .collect();
    Ok(json!({ "Tags": tags }))
}
