//! The legacy (pre-expression) request parameters that older clients still send, mapped onto
//! the expression engine: `Expected` + `ConditionalOperator` → a condition, `QueryFilter` /
//! `ScanFilter` + `ConditionalOperator` → a filter, `KeyConditions` → the [`KeyCondition`] that
//! `keycond.rs` also produces, `AttributesToGet` → a [`Projection`], `AttributeUpdates` → an
//! [`UpdateExpr`]. Evaluation and application then go through `eval.rs`, `update.rs` and
//! `project.rs` like any expression.
//!
//! Entry point for the API layer: [`parse_legacy`] with the operation and the request's JSON
//! object (for BatchGetItem: one `RequestItems` entry). It runs DynamoDB's checks in its order:
//! 1. framework constraints on the legacy parameters (JSON shapes, `ComparisonOperator`,
//!    `ConditionalOperator` and `Action` enums, a filter's operator not null);
//! 2. [`check_parameter_mix`]: an expression parameter with its legacy counterpart, names
//!    without expressions, values without value-taking expressions;
//! 3. `ConditionalOperator` without conditions, or with fewer than two;
//! 4. each legacy parameter in the operation's order (dynalite `validations/<op>.js`).
//!
//! The API layer calls it before [`RequestExpressions::parse`](super::RequestExpressions::parse)
//! (whose placeholder rules then only meet requests that use expressions), and, for Query,
//! [`LegacyKeyConditions::resolve`] once the table's key schema is known. Checks of other
//! parameters (`Key`, `Item`, `ExclusiveStartKey`, `Segment`) interleave with these in DynamoDB;
//! the API layer runs those before or after as it sees fit.
//!
//! Files: `legacy/conditions.rs` (operators, Expected, filters, KeyConditions),
//! `legacy/updates.rs` (AttributeUpdates, AttributesToGet), `legacy/error.rs`; tests in
//! `expr/tests/legacy.rs`, `expr/tests/legacy_updates.rs` and `expr/tests/legacy_random.rs`.
//! Nothing here panics on any JSON, and work is linear in the request's size (conditions are
//! joined into balanced trees, so evaluation recursion is logarithmic in the entry count).

use serde_json::{Map, Value};

use super::ast::{Condition, Projection, UpdateExpr};
use super::error::ExprError;

mod conditions;
mod error;
mod updates;

pub use conditions::{
    AttrCondition, ComparisonOperator, ConditionalOperator, LegacyKeyConditions,
    parse_condition_map, parse_expected, parse_filter,
};
pub use error::LegacyError;
pub use updates::{ATTRIBUTES_TO_GET_MAX, parse_attribute_updates, parse_attributes_to_get};

#[cfg(doc)]
use super::keycond::KeyCondition;

/// The operations that take legacy parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    PutItem,
    DeleteItem,
    UpdateItem,
    GetItem,
    /// One `RequestItems` entry of a BatchGetItem.
    BatchGetItem,
    Query,
    Scan,
}

impl Operation {
    /// The expression parameters, in the order DynamoDB lists them in its messages.
    pub fn expression_params(self) -> &'static [&'static str] {
        match self {
            Operation::PutItem | Operation::DeleteItem => &["ConditionExpression"],
            Operation::UpdateItem => &["UpdateExpression", "ConditionExpression"],
            Operation::GetItem | Operation::BatchGetItem => &["ProjectionExpression"],
            Operation::Query => &[
                "ProjectionExpression",
                "FilterExpression",
                "KeyConditionExpression",
            ],
            Operation::Scan => &["ProjectionExpression", "FilterExpression"],
        }
    }

    /// The legacy parameters, in the order DynamoDB lists them in its messages.
    pub fn legacy_params(self) -> &'static [&'static str] {
        match self {
            Operation::PutItem | Operation::DeleteItem => &["Expected", "ConditionalOperator"],
            Operation::UpdateItem => &["AttributeUpdates", "Expected", "ConditionalOperator"],
            Operation::GetItem | Operation::BatchGetItem => &["AttributesToGet"],
            Operation::Query => &[
                "AttributesToGet",
                "QueryFilter",
                "ConditionalOperator",
                "KeyConditions",
            ],
            Operation::Scan => &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
        }
    }

    /// The legacy condition map that `ConditionalOperator` combines, if the operation has one.
    fn conditions_param(self) -> Option<&'static str> {
        match self {
            Operation::PutItem | Operation::DeleteItem | Operation::UpdateItem => Some("Expected"),
            Operation::Query => Some("QueryFilter"),
            Operation::Scan => Some("ScanFilter"),
            Operation::GetItem | Operation::BatchGetItem => None,
        }
    }
}

/// A request member that was sent (a JSON `null` counts as not sent, as in DynamoDB).
fn param<'a>(request: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    request.get(name).filter(|v| !v.is_null())
}

/// DynamoDB's rules on mixing expression and legacy parameters in one request of `op`:
/// * any expression parameter with any legacy one is an error listing both sets present, in
///   DynamoDB's order — except that Query's `KeyConditions` may go with `FilterExpression` /
///   `ProjectionExpression` when there is no `KeyConditionExpression`;
/// * `ExpressionAttributeNames` without any expression parameter is an error;
/// * `ExpressionAttributeValues` when every expression parameter that takes values
///   (all but `ProjectionExpression`) is absent is an error naming them (GetItem and
///   BatchGetItem have none, and no such parameter: nothing is checked).
pub fn check_parameter_mix(op: Operation, request: &Map<String, Value>) -> Result<(), ExprError> {
    let expression: Vec<&'static str> = op
        .expression_params()
        .iter()
        .copied()
        .filter(|p| param(request, p).is_some())
        .collect();
    if !expression.is_empty() {
        let keycond_alone =
            op == Operation::Query && param(request, "KeyConditionExpression").is_none();
        let non_expression: Vec<&'static str> = op
            .legacy_params()
            .iter()
            .copied()
            .filter(|p| param(request, p).is_some())
            .filter(|p| !(keycond_alone && *p == "KeyConditions"))
            .collect();
        if !non_expression.is_empty() {
            return Err(LegacyError::Mixed {
                non_expression,
                expression,
            }
            .into());
        }
    }
    if param(request, "ExpressionAttributeNames").is_some() && expression.is_empty() {
        return Err(ExprError::NamesWithoutExpressions);
    }
    let value_params: Vec<&'static str> = op
        .expression_params()
        .iter()
        .copied()
        .filter(|p| *p != "ProjectionExpression")
        .collect();
    if !value_params.is_empty()
        && param(request, "ExpressionAttributeValues").is_some()
        && value_params.iter().all(|p| param(request, p).is_none())
    {
        return Err(LegacyError::ValuesWithoutExpressions(value_params).into());
    }
    Ok(())
}

/// The legacy parameters of one request, parsed and validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyParams {
    /// `Expected` (+ `ConditionalOperator`): check before the write.
    pub condition: Option<Condition>,
    /// `QueryFilter` / `ScanFilter` (+ `ConditionalOperator`).
    pub filter: Option<Condition>,
    /// `KeyConditions`, validated without the table; [`LegacyKeyConditions::resolve`] it.
    pub key_conditions: Option<LegacyKeyConditions>,
    /// `AttributesToGet`.
    pub projection: Option<Projection>,
    /// `AttributeUpdates`.
    pub update: Option<UpdateExpr>,
}

impl LegacyParams {
    /// True if the request used no legacy parameter.
    pub fn is_empty(&self) -> bool {
        *self == LegacyParams::default()
    }
}

/// The framework pass over every legacy parameter `op` takes.
fn framework(op: Operation, request: &Map<String, Value>) -> Result<(), LegacyError> {
    for name in op.legacy_params() {
        let json = request.get(*name);
        match *name {
            "ConditionalOperator" => {
                ConditionalOperator::parse(json)?;
            }
            "Expected" => {
                if let Some(map) = conditions::param_map(json)? {
                    conditions::framework_conditions(map, name, false)?;
                }
            }
            "QueryFilter" | "ScanFilter" | "KeyConditions" => {
                if let Some(map) = conditions::param_map(json)? {
                    conditions::framework_conditions(map, name, true)?;
                }
            }
            "AttributeUpdates" => updates::framework_updates(json)?,
            _ => {}
        }
    }
    Ok(())
}

/// `ConditionalOperator` needs a condition map of two or more entries (DAX client's copy of
/// DynamoDB's rule).
fn check_conditional_operator(
    op: Operation,
    request: &Map<String, Value>,
) -> Result<(), LegacyError> {
    if param(request, "ConditionalOperator").is_none() {
        return Ok(());
    }
    let Some(name) = op.conditions_param() else {
        return Ok(());
    };
    match param(request, name) {
        None => Err(LegacyError::ConditionalOperatorAlone),
        Some(Value::Object(m)) if m.len() <= 1 => Err(LegacyError::ConditionalOperatorSingle),
        Some(_) => Ok(()),
    }
}

/// Parses and validates every legacy parameter of one `op` request (see the module docs for
/// the order). Parameters `op` does not take are ignored, as DynamoDB ignores unknown members.
pub fn parse_legacy(
    op: Operation,
    request: &Map<String, Value>,
) -> Result<LegacyParams, ExprError> {
    framework(op, request)?;
    check_parameter_mix(op, request)?;
    check_conditional_operator(op, request)?;
    let joiner = match op.conditions_param() {
        Some(_) => ConditionalOperator::parse(request.get("ConditionalOperator"))?,
        None => None,
    }
    .unwrap_or_default();
    let mut out = LegacyParams::default();
    let projection = |out: &mut LegacyParams| -> Result<(), ExprError> {
        out.projection =
            parse_attributes_to_get(request.get("AttributesToGet"), "attributesToGet")?;
        Ok(())
    };
    match op {
        Operation::PutItem | Operation::DeleteItem => {
            out.condition = parse_expected(request.get("Expected"), joiner)?;
        }
        Operation::UpdateItem => {
            out.update = parse_attribute_updates(request.get("AttributeUpdates"))?;
            out.condition = parse_expected(request.get("Expected"), joiner)?;
        }
        Operation::GetItem | Operation::BatchGetItem => projection(&mut out)?,
        Operation::Query => {
            out.filter = parse_filter(request.get("QueryFilter"), "QueryFilter", joiner)?;
            projection(&mut out)?;
            if param(request, "KeyConditions").is_none()
                && param(request, "KeyConditionExpression").is_none()
            {
                return Err(LegacyError::KeyConditionsRequired.into());
            }
            out.key_conditions = LegacyKeyConditions::parse(request.get("KeyConditions"))?;
        }
        Operation::Scan => {
            projection(&mut out)?;
            out.filter = parse_filter(request.get("ScanFilter"), "ScanFilter", joiner)?;
        }
    }
    Ok(out)
}
