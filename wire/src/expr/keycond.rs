//! KeyConditionExpression: a parsed [`Condition`] checked against a key schema and turned into
//! the key range a Query reads. Allowed (Developer Guide `Query.KeyConditionExpressions`):
//! `pk = :v`, optionally `AND` one sort-key condition `= < <= > >= BETWEEN begins_with`, each on
//! a top-level key attribute compared with a constant of the key's type.
//!
//! Messages (DynamoDB's): OR, NOT, IN, `<>` and other functions are "Invalid
//! KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"; no partition-key
//! condition is "Query condition missed key schema element: pk"; two conditions on one key are
//! "KeyConditionExpressions must only contain one condition per key"; a non-key attribute, a
//! non-`=` partition-key condition, nested paths or `size` are "Query key condition not
//! supported"; a constant of the wrong type is "One or more parameter values were invalid:
//! Condition parameter type does not match schema type".

use super::ast::{Comparator, Condition, Operand};
use super::error::{ExprError, ExprKind, Invalid};
use crate::item::{AttributeValue, KeySchema};
use crate::key::KeyType;

/// The sort-key part of a key condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKeyCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

/// A validated key condition: the partition-key value and the optional sort-key condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCondition {
    pub hash: AttributeValue,
    pub sort: Option<SortKeyCondition>,
}

/// One leaf: the key attribute it constrains and the constraint.
struct Leaf<'a> {
    name: &'a str,
    cond: SortKeyCondition,
}

fn flatten<'a>(c: &'a Condition, out: &mut Vec<&'a Condition>) -> Result<(), ExprError> {
    let bad = |op: &str| {
        Err(ExprError::invalid(
            ExprKind::KeyCondition,
            Invalid::KeyOperator(op.to_owned()),
        ))
    };
    match c {
        Condition::And(a, b) => {
            flatten(a, out)?;
            flatten(b, out)
        }
        Condition::Or(..) => bad("OR"),
        Condition::Not(..) => bad("NOT"),
        Condition::In(..) => bad("IN"),
        Condition::Compare(Comparator::Ne, ..) => bad("<>"),
        Condition::AttributeExists(_) => bad("attribute_exists"),
        Condition::AttributeNotExists(_) => bad("attribute_not_exists"),
        Condition::AttributeType(..) => bad("attribute_type"),
        Condition::Contains(..) => bad("contains"),
        _ => {
            out.push(c);
            Ok(())
        }
    }
}

/// The top-level attribute name of a one-element path operand.
fn key_name(op: &Operand) -> Option<&str> {
    match op {
        Operand::Path(p) if p.0.len() == 1 => Some(p.head()),
        _ => None,
    }
}

fn constant(op: &Operand) -> Option<&AttributeValue> {
    match op {
        Operand::Value(v) => Some(v),
        _ => None,
    }
}

fn leaf(c: &Condition) -> Result<Leaf<'_>, ExprError> {
    let unsupported = || ExprError::KeyConditionNotSupported;
    match c {
        Condition::Compare(cmp, a, b) => {
            // `:v < pk` is `pk > :v`.
            let (name, value, cmp) = match (key_name(a), constant(b), key_name(b), constant(a)) {
                (Some(n), Some(v), _, _) => (n, v.clone(), *cmp),
                (_, _, Some(n), Some(v)) => (n, v.clone(), flip(*cmp)),
                _ => return Err(unsupported()),
            };
            let cond = match cmp {
                Comparator::Eq => SortKeyCondition::Eq(value),
                Comparator::Lt => SortKeyCondition::Lt(value),
                Comparator::Le => SortKeyCondition::Le(value),
                Comparator::Gt => SortKeyCondition::Gt(value),
                Comparator::Ge => SortKeyCondition::Ge(value),
                Comparator::Ne => return Err(unsupported()),
            };
            Ok(Leaf { name, cond })
        }
        Condition::Between(a, lo, hi) => match (key_name(a), constant(lo), constant(hi)) {
            (Some(name), Some(l), Some(h)) => Ok(Leaf {
                name,
                cond: SortKeyCondition::Between(l.clone(), h.clone()),
            }),
            _ => Err(unsupported()),
        },
        Condition::BeginsWith(a, p) => match (key_name(a), constant(p)) {
            (Some(name), Some(v)) => Ok(Leaf {
                name,
                cond: SortKeyCondition::BeginsWith(v.clone()),
            }),
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    }
}

fn flip(c: Comparator) -> Comparator {
    match c {
        Comparator::Lt => Comparator::Gt,
        Comparator::Le => Comparator::Ge,
        Comparator::Gt => Comparator::Lt,
        Comparator::Ge => Comparator::Le,
        other => other,
    }
}

fn has_type(v: &AttributeValue, t: KeyType) -> bool {
    matches!(
        (v, t),
        (AttributeValue::S(_), KeyType::S)
            | (AttributeValue::N(_), KeyType::N)
            | (AttributeValue::B(_), KeyType::B)
    )
}

/// Checks `cond` (a parsed KeyConditionExpression) against `schema` (the table's or an index's
/// key attributes) and returns the key range it selects.
pub fn key_condition(cond: &Condition, schema: &KeySchema) -> Result<KeyCondition, ExprError> {
    let mut leaves = Vec::new();
    flatten(cond, &mut leaves)?;
    if leaves.len() > 2 {
        return Err(ExprError::KeyConditionCount);
    }
    let leaves = leaves
        .into_iter()
        .map(leaf)
        .collect::<Result<Vec<_>, _>>()?;
    let (hash_name, hash_type) = (&schema.hash.0, schema.hash.1);
    let mut hash = None;
    let mut sort = None;
    let mut other = false;
    for l in leaves {
        let slot = if l.name == hash_name {
            &mut hash
        } else if schema.range.as_ref().is_some_and(|(n, _)| n == l.name) {
            &mut sort
        } else {
            other = true;
            continue;
        };
        if slot.is_some() {
            return Err(ExprError::KeyConditionDuplicate);
        }
        *slot = Some(l.cond);
    }
    let Some(hash) = hash else {
        return Err(ExprError::KeyConditionMissing(hash_name.clone()));
    };
    if other {
        return Err(ExprError::KeyConditionNotSupported);
    }
    let SortKeyCondition::Eq(hash) = hash else {
        return Err(ExprError::KeyConditionNotSupported);
    };
    if !has_type(&hash, hash_type) {
        return Err(ExprError::KeyConditionType);
    }
    if let (Some(s), Some((_, t))) = (&sort, &schema.range) {
        let ok = match s {
            SortKeyCondition::Between(l, h) => has_type(l, *t) && has_type(h, *t),
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => has_type(v, *t),
        };
        if !ok {
            return Err(ExprError::KeyConditionType);
        }
    }
    Ok(KeyCondition { hash, sort })
}
