//! `AttributeUpdates` (UpdateItem) and `AttributesToGet` (GetItem, BatchGetItem, Query, Scan).
//!
//! `AttributeUpdates` maps a top-level attribute name to an `AttributeValueUpdate`: `Action`
//! (`PUT` by default, `ADD`, `DELETE`) and `Value`. Checks per entry, in DynamoDB's order
//! (dynalite `validations/updateItem.js`): the value; no value is allowed only with DELETE;
//! DELETE with a value takes a set; ADD takes N, a set or L. The result is an [`UpdateExpr`]:
//! PUT → `Set`, DELETE without a value → `Remove`, DELETE with a set → `LegacyDelete`, ADD →
//! `LegacyAdd` (number addition, set union, list append; creates the attribute when absent;
//! "Type mismatch for attribute to update" at apply time otherwise — see `expr/update.rs`).
//!
//! `AttributesToGet` is a list of 1..=[`ATTRIBUTES_TO_GET_MAX`] top-level names without
//! duplicates; it becomes a [`Projection`] of one-element paths.

use serde_json::{Map, Value};

use super::LegacyError;
use crate::expr::ast::{Path, Projection, SetValue, UpdateAction, UpdateExpr, UpdateOperand};
use crate::item::{AttributeValue, parse_value, type_error};

/// The most names `AttributesToGet` may hold (the API's list-length constraint).
pub const ATTRIBUTES_TO_GET_MAX: usize = 255;

/// The legacy update action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Put,
    Add,
    Delete,
}

fn action(obj: &Map<String, Value>, name: &str) -> Result<Action, LegacyError> {
    match obj.get("Action") {
        None | Some(Value::Null) => Ok(Action::Put),
        Some(Value::String(s)) => match s.as_str() {
            "PUT" => Ok(Action::Put),
            "ADD" => Ok(Action::Add),
            "DELETE" => Ok(Action::Delete),
            _ => Err(LegacyError::enum_value(
                s,
                format!("attributeUpdates.{name}.member.action"),
                "[ADD, PUT, DELETE]",
            )),
        },
        Some(other) => Err(type_error(other, "String").into()),
    }
}

fn entries(json: Option<&Value>) -> Result<Option<&Map<String, Value>>, LegacyError> {
    super::conditions::param_map(json)
}

fn structure<'a>(
    v: &'a Value,
    empty: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>, LegacyError> {
    match v {
        Value::Null => Ok(empty),
        Value::Object(m) => Ok(m),
        other => Err(type_error(other, "AttributeValueUpdate").into()),
    }
}

/// The framework pass: every entry's shape and `Action` enum.
pub(crate) fn framework_updates(json: Option<&Value>) -> Result<(), LegacyError> {
    let Some(map) = entries(json)? else {
        return Ok(());
    };
    let empty = Map::new();
    for (name, v) in map {
        action(structure(v, &empty)?, name)?;
    }
    Ok(())
}

fn is_set(v: &AttributeValue) -> bool {
    matches!(
        v,
        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
    )
}

/// Parses `AttributeUpdates` into an update (`None`: absent or null). An empty map is an update
/// without actions.
pub fn parse_attribute_updates(json: Option<&Value>) -> Result<Option<UpdateExpr>, LegacyError> {
    let Some(map) = entries(json)? else {
        return Ok(None);
    };
    framework_updates(json)?;
    let empty = Map::new();
    let mut actions = Vec::with_capacity(map.len());
    for (name, v) in map {
        let obj = structure(v, &empty)?;
        let act = action(obj, name)?;
        let value = match obj.get("Value") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_value(v)?),
        };
        let path = Path::attr(name);
        actions.push(match (act, value) {
            (Action::Delete, None) => UpdateAction::Remove(path),
            (_, None) => return Err(LegacyError::OnlyDeleteWithoutValue),
            (Action::Delete, Some(v)) if is_set(&v) => UpdateAction::LegacyDelete(path, v),
            (Action::Delete, Some(v)) => return Err(LegacyError::DeleteType(v.type_name())),
            (Action::Add, Some(v))
                if is_set(&v) || matches!(v, AttributeValue::N(_) | AttributeValue::L(_)) =>
            {
                UpdateAction::LegacyAdd(path, v)
            }
            (Action::Add, Some(v)) => return Err(LegacyError::AddType(v.type_name())),
            (Action::Put, Some(v)) => {
                UpdateAction::Set(path, SetValue::Operand(UpdateOperand::Value(v)))
            }
        });
    }
    Ok(Some(UpdateExpr { actions }))
}

/// How DynamoDB shows a list of strings in a constraint message: `'[a, b]'`.
fn list_display(list: &[Value]) -> String {
    let names: Vec<String> = list
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    format!("'[{}]'", names.join(", "))
}

/// Parses `AttributesToGet` into a projection (`None`: absent or null). `field` is the framework
/// path DynamoDB names in constraint messages: `attributesToGet`, or for BatchGetItem
/// `requestItems.<table>.member.attributesToGet`.
pub fn parse_attributes_to_get(
    json: Option<&Value>,
    field: &str,
) -> Result<Option<Projection>, LegacyError> {
    let list = match json {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(type_error(other, "List").into()),
    };
    let constraint = |text: String| LegacyError::Constraint {
        value: list_display(list),
        field: field.to_owned(),
        constraint: text,
    };
    if list.is_empty() {
        return Err(constraint(
            "Member must have length greater than or equal to 1".to_owned(),
        ));
    }
    if list.len() > ATTRIBUTES_TO_GET_MAX {
        return Err(constraint(format!(
            "Member must have length less than or equal to {ATTRIBUTES_TO_GET_MAX}"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut paths = Vec::with_capacity(list.len());
    for v in list {
        let Value::String(name) = v else {
            return Err(type_error(v, "String").into());
        };
        if !seen.insert(name.as_str()) {
            return Err(LegacyError::DuplicateAttributeName(name.clone()));
        }
        paths.push(Path::attr(name));
    }
    Ok(Some(Projection { paths }))
}
