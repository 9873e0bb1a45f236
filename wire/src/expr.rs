//! DynamoDB expressions, pure and sans-IO: ConditionExpression, FilterExpression,
//! KeyConditionExpression, UpdateExpression and ProjectionExpression, with
//! ExpressionAttributeNames / ExpressionAttributeValues.
//!
//! Flow: [`RequestExpressions::parse`] takes all of one request's expressions and placeholder
//! maps, and returns typed trees ([`ast`]) with every placeholder resolved, or the one
//! [`ExprError`] DynamoDB would answer (its `Display` is the ValidationException message). The
//! request-wide rules live there: placeholders used but undefined, defined but unused by every
//! expression of the request, empty maps, maps without expressions. Then:
//! * [`eval::evaluate`] — a condition or filter against an item (`None`: no item);
//! * [`UpdateExpr::apply`](ast::UpdateExpr::apply) — an update on an item, reporting the
//!   updated paths (for `UPDATED_OLD` / `UPDATED_NEW` through [`project::project`]);
//!   [`UpdateExpr::check_key_attributes`](ast::UpdateExpr::check_key_attributes) refuses key
//!   attributes;
//! * [`Projection::apply`](ast::Projection::apply) — projection;
//! * [`legacy::parse_legacy`] — the legacy parameters (`Expected`, `AttributesToGet`,
//!   `KeyConditions`, `QueryFilter`, `ScanFilter`, `AttributeUpdates`, `ConditionalOperator`)
//!   turned into the same trees, and the rules on mixing them with expressions;
//! * [`keycond::key_condition`] — a key condition checked against a [`KeySchema`] and turned
//!   into a partition value plus sort-key condition.
//!
//! Files: `expr/lexer.rs` (tokens), `expr/parser.rs` (grammar → raw trees), `expr/lower.rs`
//! (checks with DynamoDB's error priority, placeholder resolution), `expr/ast.rs`,
//! `expr/eval.rs`, `expr/update.rs`, `expr/project.rs`, `expr/keycond.rs`, `expr/reserved.rs`
//! (the 573 reserved words), `expr/error.rs`; tests in `expr/tests/`. Exact number arithmetic is
//! `crate::number` (`number/arith.rs`). Nothing here panics on any input, and work is bounded
//! by the limits below (a 4 KB expression, bounded recursion).
//!
//! [`KeySchema`]: crate::item::KeySchema

use std::collections::BTreeMap;

use crate::item::AttributeValue;

pub mod ast;
pub mod codec;
pub mod error;
pub mod eval;
pub mod keycond;
pub mod legacy;
mod lexer;
mod lower;
mod parser;
pub mod project;
pub mod reserved;
#[cfg(test)]
mod tests;
pub mod update;

pub use ast::{
    Comparator, Condition, Operand, Path, PathElem, Projection, SetValue, UpdateAction, UpdateExpr,
    UpdateOperand,
};
pub use error::{ExprError, ExprKind, Invalid};
pub use eval::evaluate;
pub use keycond::{KeyCondition, SortKeyCondition, key_condition};
pub use project::project;
pub use update::UpdateOutcome;

/// The longest expression DynamoDB accepts, in bytes.
pub const EXPRESSION_BYTES_MAX: usize = 4096;
/// The longest `#name` or `:value` placeholder token, in bytes.
pub const PLACEHOLDER_BYTES_MAX: usize = 255;
/// The most operands after `IN`.
pub const IN_OPERANDS_MAX: usize = 100;
/// The most operators and functions in one expression.
pub const OPERATORS_MAX: usize = 300;
/// The deepest document path (levels of `.name` / `[i]` below the top-level attribute).
pub const PATH_DEPTH_MAX: usize = 32;
/// The deepest nesting of parentheses, `NOT` and function calls (ours: bounds recursion).
pub const NESTING_MAX: usize = 64;

/// All the expressions of one request with its placeholder maps. `None` means the parameter
/// was not sent; `Some("")` was sent empty (an error).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestExpressions<'a> {
    pub key_condition: Option<&'a str>,
    pub condition: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub update: Option<&'a str>,
    pub projection: Option<&'a str>,
    pub names: Option<&'a BTreeMap<String, String>>,
    pub values: Option<&'a BTreeMap<String, AttributeValue>>,
}

/// The parsed expressions of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedExpressions {
    pub key_condition: Option<Condition>,
    pub condition: Option<Condition>,
    pub filter: Option<Condition>,
    pub update: Option<UpdateExpr>,
    pub projection: Option<Projection>,
}

fn valid_placeholder_key(key: &str, sigil: u8) -> bool {
    let b = key.as_bytes();
    b.len() >= 2
        && b[0] == sigil
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

impl RequestExpressions<'_> {
    /// Parses and checks every expression of the request, in this order: the placeholder maps
    /// themselves, then UpdateExpression, ConditionExpression, KeyConditionExpression,
    /// FilterExpression, ProjectionExpression, then unused names, then unused values.
    pub fn parse(&self) -> Result<ParsedExpressions, ExprError> {
        let empty_names = BTreeMap::new();
        let empty_values = BTreeMap::new();
        let names = self.names.unwrap_or(&empty_names);
        let values = self.values.unwrap_or(&empty_values);
        if self.names.is_some_and(BTreeMap::is_empty) {
            return Err(ExprError::NamesEmpty);
        }
        if self.values.is_some_and(BTreeMap::is_empty) {
            return Err(ExprError::ValuesEmpty);
        }
        let any = [
            self.key_condition,
            self.condition,
            self.filter,
            self.update,
            self.projection,
        ]
        .iter()
        .any(Option::is_some);
        if !any && self.names.is_some() {
            return Err(ExprError::NamesWithoutExpressions);
        }
        if !any && self.values.is_some() {
            return Err(ExprError::ValuesWithoutExpressions);
        }
        if let Some(bad) = names.keys().find(|k| !valid_placeholder_key(k, b'#')) {
            return Err(ExprError::InvalidNameKey(bad.clone()));
        }
        if let Some((key, _)) = names.iter().find(|(_, v)| v.is_empty()) {
            return Err(ExprError::EmptyName(key.clone()));
        }
        if let Some(bad) = values.keys().find(|k| !valid_placeholder_key(k, b':')) {
            return Err(ExprError::InvalidValueKey(bad.clone()));
        }
        let mut ph = lower::Placeholders {
            names,
            values,
            used_names: Default::default(),
            used_values: Default::default(),
        };
        let mut out = ParsedExpressions::default();
        if let Some(src) = self.update {
            let parsed = parser::parse_update(src)?;
            out.update = Some(lower::lower_update(
                &parsed.tree,
                parsed.redundant_parens,
                &mut ph,
            )?);
        }
        let conditions = [
            (self.condition, ExprKind::Condition),
            (self.key_condition, ExprKind::KeyCondition),
            (self.filter, ExprKind::Filter),
        ];
        for (src, kind) in conditions {
            let Some(src) = src else { continue };
            let parsed = parser::parse_condition(src, kind)?;
            let cond =
                lower::lower_condition(&parsed.tree, parsed.redundant_parens, kind, &mut ph)?;
            match kind {
                ExprKind::Condition => out.condition = Some(cond),
                ExprKind::KeyCondition => out.key_condition = Some(cond),
                _ => out.filter = Some(cond),
            }
        }
        if let Some(src) = self.projection {
            let parsed = parser::parse_projection(src)?;
            out.projection = Some(lower::lower_projection(&parsed.tree, &mut ph)?);
        }
        let unused: Vec<String> = names
            .keys()
            .filter(|k| !ph.used_names.contains(*k))
            .cloned()
            .collect();
        if !unused.is_empty() {
            return Err(ExprError::UnusedNames(unused));
        }
        let unused: Vec<String> = values
            .keys()
            .filter(|k| !ph.used_values.contains(*k))
            .cloned()
            .collect();
        if !unused.is_empty() {
            return Err(ExprError::UnusedValues(unused));
        }
        Ok(out)
    }
}
