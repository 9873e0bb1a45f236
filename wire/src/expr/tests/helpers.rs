//! Shorthand for the tests: values, items and one-call parsing.

use std::collections::BTreeMap;

use crate::expr::{ExprError, ParsedExpressions, RequestExpressions};
use crate::item::{AttributeValue, Item, parse_item};

/// An item from DynamoDB JSON text.
pub fn item(json: &str) -> Item {
    parse_item(&serde_json::from_str(json).unwrap()).unwrap()
}

/// Values (`{":v": {"N": "1"}}`) from DynamoDB JSON text.
pub fn values(json: &str) -> BTreeMap<String, AttributeValue> {
    if json.trim().is_empty() {
        return BTreeMap::new();
    }
    item(json)
}

/// The values of `json` that `src` mentions (so the unused-value rule does not fire).
pub fn used_values(src: &str, json: &str) -> BTreeMap<String, AttributeValue> {
    values(json)
        .into_iter()
        .filter(|(k, _)| {
            src.match_indices(k.as_str()).any(|(i, _)| {
                !src[i + k.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .collect()
}

pub fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parses one ConditionExpression with optional placeholder maps.
pub fn cond(
    src: &str,
    n: Option<&BTreeMap<String, String>>,
    v: Option<&BTreeMap<String, AttributeValue>>,
) -> Result<ParsedExpressions, ExprError> {
    RequestExpressions {
        condition: Some(src),
        names: n,
        values: v,
        ..Default::default()
    }
    .parse()
}

/// The message of a ConditionExpression's error.
pub fn cond_err(src: &str, v: &str) -> String {
    let vals = values(v);
    let v = if vals.is_empty() { None } else { Some(&vals) };
    cond(src, None, v).unwrap_err().to_string()
}

pub fn update_err(src: &str, v: &str) -> String {
    let vals = values(v);
    RequestExpressions {
        update: Some(src),
        values: if vals.is_empty() { None } else { Some(&vals) },
        ..Default::default()
    }
    .parse()
    .unwrap_err()
    .to_string()
}
