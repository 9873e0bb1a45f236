//! CreateTable: parses DynamoDB's request shape into `wire::control::CreateTableRequest`; the
//! control plane validates it (names, key schema, capacities, limits) and creates the table.
//! Secondary indexes and streams are not supported yet and are refused by name.

use serde_json::{Value, json};
use wire::control::{
    AttributeDefinition, AttributeType, BillingMode, CreateTableRequest, KeyRole, KeySchemaElement,
    ProvisionedThroughput,
};
use wire::item::type_error;

use super::{
    Ctx, Params, Violations, opt_array, opt_bool, opt_i64, opt_object, opt_str, reject_unsupported,
    table_description, table_name,
};
use crate::api::error::ApiError;

pub async fn run(ctx: &Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    let req = parse(params)?;
    let desc = ctx
        .backend
        .create_table(req)
        .await
        .map_err(ApiError::from_control)?;
    Ok(json!({"TableDescription": table_description(&desc, ctx.config)}))
}

fn parse(params: &Params) -> Result<CreateTableRequest, ApiError> {
    let mut v = Violations::default();
    let name = table_name(params, &mut v)?;
    let key_schema = match opt_array(params, "KeySchema")? {
        None => {
            v.null("keySchema");
            Vec::new()
        }
        Some(list) => key_schema(list, &mut v)?,
    };
    let attribute_definitions = match opt_array(params, "AttributeDefinitions")? {
        None => {
            v.null("attributeDefinitions");
            Vec::new()
        }
        Some(list) => attribute_definitions(list, &mut v)?,
    };
    let billing_mode = billing_mode(params, &mut v)?;
    let provisioned_throughput = match opt_object(params, "ProvisionedThroughput")? {
        None => None,
        Some(p) => throughput(p, &mut v)?,
    };
    v.finish()?;
    reject_unsupported(params, &["GlobalSecondaryIndexes", "LocalSecondaryIndexes"])?;
    if let Some(spec) = opt_object(params, "StreamSpecification")?
        && opt_bool(spec, "StreamEnabled")? == Some(true)
    {
        return Err(ApiError::Validation(
            "Cairn does not support the StreamSpecification parameter yet".to_owned(),
        ));
    }
    Ok(CreateTableRequest {
        table_name: name.to_owned(),
        key_schema,
        attribute_definitions,
        billing_mode,
        provisioned_throughput,
    })
}

fn element(v: &Value) -> Result<&Params, ApiError> {
    v.as_object()
        .ok_or_else(|| type_error(v, "Structure").into())
}

fn key_schema(list: &[Value], v: &mut Violations) -> Result<Vec<KeySchemaElement>, ApiError> {
    let mut out = Vec::with_capacity(list.len().min(2));
    for (i, e) in list.iter().enumerate() {
        let e = element(e)?;
        let field = |m: &str| format!("keySchema.{}.member.{m}", i + 1);
        let name = opt_str(e, "AttributeName")?;
        if name.is_none() {
            v.null(&field("attributeName"));
        }
        let key_type = match opt_str(e, "KeyType")? {
            None => {
                v.null(&field("keyType"));
                None
            }
            Some("HASH") => Some(KeyRole::Hash),
            Some("RANGE") => Some(KeyRole::Range),
            Some(other) => {
                v.enum_value(other, &field("keyType"), &["HASH", "RANGE"]);
                None
            }
        };
        if let (Some(name), Some(key_type)) = (name, key_type) {
            out.push(KeySchemaElement {
                attribute_name: name.to_owned(),
                key_type,
            });
        }
    }
    Ok(out)
}

fn attribute_definitions(
    list: &[Value],
    v: &mut Violations,
) -> Result<Vec<AttributeDefinition>, ApiError> {
    let mut out = Vec::with_capacity(list.len().min(64));
    for (i, e) in list.iter().enumerate() {
        let e = element(e)?;
        let field = |m: &str| format!("attributeDefinitions.{}.member.{m}", i + 1);
        let name = opt_str(e, "AttributeName")?;
        if name.is_none() {
            v.null(&field("attributeName"));
        }
        let attribute_type = match opt_str(e, "AttributeType")? {
            None => {
                v.null(&field("attributeType"));
                None
            }
            Some("S") => Some(AttributeType::S),
            Some("N") => Some(AttributeType::N),
            Some("B") => Some(AttributeType::B),
            Some(other) => {
                v.enum_value(other, &field("attributeType"), &["B", "N", "S"]);
                None
            }
        };
        if let (Some(name), Some(attribute_type)) = (name, attribute_type) {
            out.push(AttributeDefinition {
                attribute_name: name.to_owned(),
                attribute_type,
            });
        }
    }
    Ok(out)
}

/// `BillingMode` (CreateTable, UpdateTable).
pub(super) fn billing_mode(
    params: &Params,
    v: &mut Violations,
) -> Result<Option<BillingMode>, ApiError> {
    Ok(match opt_str(params, "BillingMode")? {
        None => None,
        Some("PROVISIONED") => Some(BillingMode::Provisioned),
        Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
        Some(other) => {
            v.enum_value(other, "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
            None
        }
    })
}

/// `ProvisionedThroughput`'s members (CreateTable, UpdateTable).
pub(super) fn throughput(
    p: &Params,
    v: &mut Violations,
) -> Result<Option<ProvisionedThroughput>, ApiError> {
    let mut units = |name: &str, field: &str| -> Result<Option<u64>, ApiError> {
        match opt_i64(p, name)? {
            None => {
                v.null(&format!("provisionedThroughput.{field}"));
                Ok(None)
            }
            Some(n) if n < 1 => {
                v.push(format!(
                    "Value '{n}' at 'provisionedThroughput.{field}' failed to satisfy constraint: Member must have value greater than or equal to 1"
                ));
                Ok(None)
            }
            Some(n) => Ok(Some(n as u64)),
        }
    };
    let read = units("ReadCapacityUnits", "readCapacityUnits")?;
    let write = units("WriteCapacityUnits", "writeCapacityUnits")?;
    Ok(match (read, write) {
        (Some(read_capacity_units), Some(write_capacity_units)) => Some(ProvisionedThroughput {
            read_capacity_units,
            write_capacity_units,
        }),
        _ => None,
    })
}
