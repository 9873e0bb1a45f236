//! DescribeLimits and DescribeEndpoints: answers about the service rather than a table.
//! DescribeLimits reports DynamoDB's default account and table quotas
//! (`wire::capacity::describe_limits_json`), which are Cairn's per-table limits too;
//! DescribeEndpoints names this node's API address, cached for a day as DynamoDB's is.

use serde_json::{Value, json};

use super::{Ctx, Params};
use crate::api::error::ApiError;

pub fn describe_limits(_ctx: &Ctx<'_>, _params: &Params) -> Result<Value, ApiError> {
    Ok(wire::capacity::describe_limits_json())
}

pub fn describe_endpoints(ctx: &Ctx<'_>, _params: &Params) -> Result<Value, ApiError> {
    Ok(json!({"Endpoints": [{
        "Address": ctx.config.endpoint_address,
        "CachePeriodInMinutes": 1440,
    }]}))
}
