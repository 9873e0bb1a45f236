//! Legacy conditions: `Expected` (ExpectedAttributeValue), `QueryFilter` / `ScanFilter` and
//! `KeyConditions` (the `Condition` data type), each a map from a top-level attribute name to a
//! `ComparisonOperator` with an `AttributeValueList` (or, in `Expected` only, the older
//! `Value` / `Exists` form). Validation runs in two passes as DynamoDB's does: framework
//! constraints (operator enum, operator not null) over the whole map first, then the semantic
//! checks entry by entry: values, argument count, one type across the list, the operator's
//! accepted types, BETWEEN order.
//!
//! Argument counts: NULL / NOT_NULL none; EQ NE LE LT GE GT CONTAINS NOT_CONTAINS BEGINS_WITH
//! one; BETWEEN two; IN one or more. Accepted types (dynalite's tests of the live service): LT LE
//! GT GE IN BETWEEN take S N B; CONTAINS / NOT_CONTAINS any scalar (S N B BOOL NULL), never a
//! set, M or L; BEGINS_WITH S or B; EQ / NE any type ("supported for all data types, including
//! lists and maps").
//!
//! Each entry becomes an expression-engine [`Condition`] with the same truth table as the
//! legacy operator (dynalite `db/index.js` `compare`, API reference `Condition`): EQ on a
//! missing attribute or one of another type is false; NE is true for both; ordering operators,
//! IN, BETWEEN and BEGINS_WITH are false on a missing or differently typed attribute; CONTAINS
//! is substring (S), sub-sequence (B) or membership (sets of the value's type, lists); NOT_CONTAINS
//! is its negation and so true on a missing attribute. All of that is exactly what `eval.rs`
//! gives `=`, `<>`, `<`…, `IN`, `BETWEEN`, `begins_with`, `contains` and `NOT contains`, so no
//! new condition variant was needed. Entries are joined by `ConditionalOperator` (AND by
//! default) into a balanced tree, so evaluation depth stays logarithmic in the entry count.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::LegacyError;
use crate::expr::ast::{Comparator, Condition, Operand, Path};
use crate::expr::error::ExprError;
use crate::expr::eval::compare_values;
use crate::expr::keycond::{KeyCondition, SortKeyCondition};
use crate::item::{AttributeValue, KeySchema, parse_value, type_error};
use crate::key::KeyType;

/// A legacy `ComparisonOperator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComparisonOperator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

/// The enum set as DynamoDB lists it in its constraint message.
const OPERATOR_SET: &str =
    "[IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]";

const ALL_OPERATORS: [ComparisonOperator; 13] = [
    ComparisonOperator::Eq,
    ComparisonOperator::Ne,
    ComparisonOperator::Le,
    ComparisonOperator::Lt,
    ComparisonOperator::Ge,
    ComparisonOperator::Gt,
    ComparisonOperator::NotNull,
    ComparisonOperator::Null,
    ComparisonOperator::Contains,
    ComparisonOperator::NotContains,
    ComparisonOperator::BeginsWith,
    ComparisonOperator::In,
    ComparisonOperator::Between,
];

impl ComparisonOperator {
    /// The wire name (`"NOT_CONTAINS"`).
    pub fn name(self) -> &'static str {
        match self {
            ComparisonOperator::Eq => "EQ",
            ComparisonOperator::Ne => "NE",
            ComparisonOperator::Le => "LE",
            ComparisonOperator::Lt => "LT",
            ComparisonOperator::Ge => "GE",
            ComparisonOperator::Gt => "GT",
            ComparisonOperator::NotNull => "NOT_NULL",
            ComparisonOperator::Null => "NULL",
            ComparisonOperator::Contains => "CONTAINS",
            ComparisonOperator::NotContains => "NOT_CONTAINS",
            ComparisonOperator::BeginsWith => "BEGINS_WITH",
            ComparisonOperator::In => "IN",
            ComparisonOperator::Between => "BETWEEN",
        }
    }

    /// The operator with this wire name (case-sensitive, as DynamoDB's enum is).
    pub fn parse(name: &str) -> Option<ComparisonOperator> {
        ALL_OPERATORS.into_iter().find(|op| op.name() == name)
    }

    fn arity_ok(self, n: usize) -> bool {
        match self {
            ComparisonOperator::Null | ComparisonOperator::NotNull => n == 0,
            ComparisonOperator::In => n >= 1,
            ComparisonOperator::Between => n == 2,
            _ => n == 1,
        }
    }

    fn accepts(self, v: &AttributeValue) -> bool {
        use AttributeValue as V;
        match self {
            ComparisonOperator::Eq | ComparisonOperator::Ne => true,
            ComparisonOperator::Le
            | ComparisonOperator::Lt
            | ComparisonOperator::Ge
            | ComparisonOperator::Gt
            | ComparisonOperator::In
            | ComparisonOperator::Between => matches!(v, V::S(_) | V::N(_) | V::B(_)),
            ComparisonOperator::Contains | ComparisonOperator::NotContains => {
                matches!(v, V::S(_) | V::N(_) | V::B(_) | V::Bool(_) | V::Null)
            }
            ComparisonOperator::BeginsWith => matches!(v, V::S(_) | V::B(_)),
            ComparisonOperator::Null | ComparisonOperator::NotNull => false,
        }
    }
}

/// One validated legacy condition on one attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrCondition {
    pub operator: ComparisonOperator,
    /// As many values as the operator takes, all of one type the operator accepts.
    pub values: Vec<AttributeValue>,
}

impl AttrCondition {
    /// The expression-engine condition with the legacy operator's semantics on attribute `name`.
    pub fn to_condition(&self, name: &str) -> Condition {
        let attr = || Operand::Path(Path::attr(name));
        let value =
            |i: usize| Operand::Value(self.values.get(i).cloned().unwrap_or(AttributeValue::Null));
        let compare = |c: Comparator| Condition::Compare(c, attr(), value(0));
        match self.operator {
            ComparisonOperator::Eq => compare(Comparator::Eq),
            ComparisonOperator::Ne => compare(Comparator::Ne),
            ComparisonOperator::Le => compare(Comparator::Le),
            ComparisonOperator::Lt => compare(Comparator::Lt),
            ComparisonOperator::Ge => compare(Comparator::Ge),
            ComparisonOperator::Gt => compare(Comparator::Gt),
            ComparisonOperator::NotNull => Condition::AttributeExists(Path::attr(name)),
            ComparisonOperator::Null => Condition::AttributeNotExists(Path::attr(name)),
            ComparisonOperator::Contains => Condition::Contains(attr(), value(0)),
            ComparisonOperator::NotContains => {
                Condition::Not(Box::new(Condition::Contains(attr(), value(0))))
            }
            ComparisonOperator::BeginsWith => Condition::BeginsWith(attr(), value(0)),
            ComparisonOperator::In => Condition::In(
                attr(),
                self.values.iter().cloned().map(Operand::Value).collect(),
            ),
            ComparisonOperator::Between => Condition::Between(attr(), value(0), value(1)),
        }
    }
}

/// `ConditionalOperator`: how the entries of one map combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    #[default]
    And,
    Or,
}

impl ConditionalOperator {
    /// Parses the request's `ConditionalOperator` (absent or null: `None`).
    pub fn parse(json: Option<&Value>) -> Result<Option<ConditionalOperator>, LegacyError> {
        match json {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s == "AND" => Ok(Some(ConditionalOperator::And)),
            Some(Value::String(s)) if s == "OR" => Ok(Some(ConditionalOperator::Or)),
            Some(Value::String(s)) => Err(LegacyError::enum_value(
                s,
                "conditionalOperator".to_owned(),
                "[OR, AND]",
            )),
            Some(other) => Err(type_error(other, "String").into()),
        }
    }
}

/// Joins conditions into a balanced AND / OR tree; `None` for an empty list.
pub(crate) fn join(mut conds: Vec<Condition>, op: ConditionalOperator) -> Option<Condition> {
    while conds.len() > 1 {
        let mut next = Vec::with_capacity(conds.len().div_ceil(2));
        let mut it = conds.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => match op {
                    ConditionalOperator::And => Condition::And(Box::new(a), Box::new(b)),
                    ConditionalOperator::Or => Condition::Or(Box::new(a), Box::new(b)),
                },
                None => a,
            });
        }
        conds = next;
    }
    conds.pop()
}

/// The field path DynamoDB shows for a member of a map parameter: `scanFilter.a.member`.
fn member_field(param: &str, key: &str) -> String {
    let mut lower = param.to_owned();
    if let Some(first) = lower.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    format!("{lower}.{key}.member")
}

/// A non-null member of a JSON object.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// The request parameter as a map of structures (`None`: absent or null).
pub(crate) fn param_map(json: Option<&Value>) -> Result<Option<&Map<String, Value>>, LegacyError> {
    match json {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(type_error(other, "Map").into()),
    }
}

/// The entry's structure.
fn entry<'a>(v: &'a Value, type_name: &str) -> Result<Option<&'a Map<String, Value>>, LegacyError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(type_error(other, type_name).into()),
    }
}

/// The entry's `ComparisonOperator` (framework checks: type, enum, and not-null if `required`).
fn operator(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
) -> Result<Option<ComparisonOperator>, LegacyError> {
    match member(obj, "ComparisonOperator") {
        None if required => Err(LegacyError::Constraint {
            value: "null".to_owned(),
            field: format!("{field}.comparisonOperator"),
            constraint: "Member must not be null".to_owned(),
        }),
        None => Ok(None),
        Some(Value::String(s)) => ComparisonOperator::parse(s).map(Some).ok_or_else(|| {
            LegacyError::enum_value(s, format!("{field}.comparisonOperator"), OPERATOR_SET)
        }),
        Some(other) => Err(type_error(other, "String").into()),
    }
}

/// The `AttributeValueList`, parsed (`None`: absent).
fn value_list(obj: &Map<String, Value>) -> Result<Option<Vec<AttributeValue>>, LegacyError> {
    let Some(list) = member(obj, "AttributeValueList") else {
        return Ok(None);
    };
    let Value::Array(list) = list else {
        return Err(type_error(list, "List").into());
    };
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        out.push(parse_value(v)?);
    }
    Ok(Some(out))
}

/// Count, single type, accepted types, BETWEEN order.
fn check_values(op: ComparisonOperator, values: &[AttributeValue]) -> Result<(), LegacyError> {
    if !op.arity_ok(values.len()) {
        return Err(LegacyError::ArgumentCount(op.name()));
    }
    if let Some(first) = values.first()
        && values.iter().any(|v| v.type_name() != first.type_name())
    {
        return Err(LegacyError::MixedTypes);
    }
    if let Some(bad) = values.iter().find(|v| !op.accepts(v)) {
        return Err(LegacyError::OperatorType {
            operator: op.name(),
            value_type: bad.type_name(),
        });
    }
    if op == ComparisonOperator::Between
        && let [lo, hi] = values
        && compare_values(lo, hi) == Some(Ordering::Greater)
    {
        return Err(LegacyError::BetweenOrder);
    }
    Ok(())
}

/// A map of `Condition` structures (QueryFilter, ScanFilter, KeyConditions), validated.
/// `param` is the request parameter's name (for the framework messages).
pub fn parse_condition_map(
    json: Option<&Value>,
    param: &str,
) -> Result<Option<BTreeMap<String, AttrCondition>>, LegacyError> {
    let Some(map) = param_map(json)? else {
        return Ok(None);
    };
    framework_conditions(map, param, true)?;
    let mut out = BTreeMap::new();
    for (name, v) in map {
        let Some(obj) = entry(v, "Condition")? else {
            continue;
        };
        let field = member_field(param, name);
        let values = value_list(obj)?.unwrap_or_default();
        let Some(op) = operator(obj, &field, true)? else {
            continue;
        };
        check_values(op, &values)?;
        out.insert(
            name.clone(),
            AttrCondition {
                operator: op,
                values,
            },
        );
    }
    Ok(Some(out))
}

/// The framework pass over a map of conditions: every entry's shape and operator enum (and
/// not-null when `required`), before any semantic check.
pub(crate) fn framework_conditions(
    map: &Map<String, Value>,
    param: &str,
    required: bool,
) -> Result<(), LegacyError> {
    let type_name = if required {
        "Condition"
    } else {
        "ExpectedAttributeValue"
    };
    for (name, v) in map {
        // A null entry is a null structure: its operator is null too.
        let empty = Map::new();
        let obj = entry(v, type_name)?.unwrap_or(&empty);
        operator(obj, &member_field(param, name), required)?;
    }
    Ok(())
}

/// QueryFilter / ScanFilter (`param`) joined by `op` into one filter (`None`: absent or empty).
pub fn parse_filter(
    json: Option<&Value>,
    param: &str,
    op: ConditionalOperator,
) -> Result<Option<Condition>, LegacyError> {
    let Some(map) = parse_condition_map(json, param)? else {
        return Ok(None);
    };
    Ok(join(
        map.iter().map(|(n, c)| c.to_condition(n)).collect(),
        op,
    ))
}

/// `Expected` joined by `op` into one condition (`None`: absent or empty).
pub fn parse_expected(
    json: Option<&Value>,
    op: ConditionalOperator,
) -> Result<Option<Condition>, LegacyError> {
    let Some(map) = param_map(json)? else {
        return Ok(None);
    };
    framework_conditions(map, "Expected", false)?;
    let mut conds = Vec::with_capacity(map.len());
    for (name, v) in map {
        let empty = Map::new();
        let obj = entry(v, "ExpectedAttributeValue")?.unwrap_or(&empty);
        conds.push(expected_entry(name, obj)?);
    }
    Ok(join(conds, op))
}

fn expected_entry(name: &str, obj: &Map<String, Value>) -> Result<Condition, LegacyError> {
    let value = member(obj, "Value");
    let list = member(obj, "AttributeValueList");
    let exists = match member(obj, "Exists") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => return Err(type_error(other, "Boolean").into()),
    };
    if value.is_some() && list.is_some() {
        return Err(LegacyError::ValueAndList(name.to_owned()));
    }
    let field = member_field("Expected", name);
    if let Some(op) = operator(obj, &field, false)? {
        if exists.is_some() {
            return Err(LegacyError::ExistsAndOperator(name.to_owned()));
        }
        let nullary = matches!(op, ComparisonOperator::Null | ComparisonOperator::NotNull);
        if !nullary && value.is_none() && list.is_none() {
            return Err(LegacyError::ValueOrListRequired {
                operator: op.name(),
                attribute: name.to_owned(),
            });
        }
        let values = match value {
            Some(v) => vec![parse_value(v)?],
            None => value_list(obj)?.unwrap_or_default(),
        };
        check_values(op, &values)?;
        return Ok(AttrCondition {
            operator: op,
            values,
        }
        .to_condition(name));
    }
    if list.is_some() {
        return Err(LegacyError::ListWithoutOperator(name.to_owned()));
    }
    match (exists, value) {
        (Some(false), Some(_)) => Err(LegacyError::ValueWithExistsFalse(name.to_owned())),
        (Some(false), None) => Ok(Condition::AttributeNotExists(Path::attr(name))),
        (_, None) => Err(LegacyError::ValueRequired {
            exists: if exists.is_some() { "true" } else { "null" },
            attribute: name.to_owned(),
        }),
        (_, Some(v)) => Ok(Condition::Compare(
            Comparator::Eq,
            Operand::Path(Path::attr(name)),
            Operand::Value(parse_value(v)?),
        )),
    }
}

/// `KeyConditions`, validated without the table: each entry as a filter condition, and one or
/// two entries. [`LegacyKeyConditions::resolve`] then checks them against the key schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyKeyConditions {
    pub conditions: BTreeMap<String, AttrCondition>,
}

impl LegacyKeyConditions {
    /// Parses and validates `KeyConditions` (`None`: absent or null).
    pub fn parse(json: Option<&Value>) -> Result<Option<LegacyKeyConditions>, ExprError> {
        let Some(conditions) = parse_condition_map(json, "KeyConditions")? else {
            return Ok(None);
        };
        if !(1..=2).contains(&conditions.len()) {
            return Err(ExprError::KeyConditionCount);
        }
        Ok(Some(LegacyKeyConditions { conditions }))
    }

    /// The key range these conditions select in a table or index with key `schema`, checked
    /// key by key (partition key first) as DynamoDB does.
    pub fn resolve(&self, schema: &KeySchema) -> Result<KeyCondition, ExprError> {
        let count = self.conditions.len();
        if schema.range.is_none() && count > 1 {
            return Err(ExprError::KeyConditionNotSupported);
        }
        let mut hash = None;
        let mut sort = None;
        let keys =
            std::iter::once((&schema.hash, true)).chain(schema.range.iter().map(|r| (r, false)));
        for ((name, key_type), is_hash) in keys {
            let Some(c) = self.conditions.get(name) else {
                if is_hash || count > 1 {
                    return Err(ExprError::KeyConditionMissing(name.clone()));
                }
                continue;
            };
            use ComparisonOperator as Op;
            if matches!(
                c.operator,
                Op::Null | Op::NotNull | Op::Ne | Op::Contains | Op::NotContains | Op::In
            ) {
                return Err(LegacyError::NotIndexable.into());
            }
            if !c.values.iter().all(|v| has_type(v, *key_type)) {
                return Err(ExprError::KeyConditionType);
            }
            let v = |i: usize| c.values.get(i).cloned().ok_or(ExprError::KeyConditionType);
            if is_hash {
                if c.operator != Op::Eq {
                    return Err(ExprError::KeyConditionNotSupported);
                }
                hash = Some(v(0)?);
                continue;
            }
            sort = Some(match c.operator {
                Op::Eq => SortKeyCondition::Eq(v(0)?),
                Op::Le => SortKeyCondition::Le(v(0)?),
                Op::Lt => SortKeyCondition::Lt(v(0)?),
                Op::Ge => SortKeyCondition::Ge(v(0)?),
                Op::Gt => SortKeyCondition::Gt(v(0)?),
                Op::BeginsWith => SortKeyCondition::BeginsWith(v(0)?),
                Op::Between => SortKeyCondition::Between(v(0)?, v(1)?),
                _ => return Err(LegacyError::NotIndexable.into()),
            });
        }
        let hash = hash.ok_or_else(|| ExprError::KeyConditionMissing(schema.hash.0.clone()))?;
        Ok(KeyCondition { hash, sort })
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
