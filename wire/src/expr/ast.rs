//! The parsed, placeholder-resolved forms of DynamoDB expressions. Every `#name` is replaced by
//! its attribute name and every `:value` by its [`AttributeValue`]; checks that DynamoDB makes
//! at validation time (function arity and constant operand types, BETWEEN bounds, overlapping
//! update paths…) have passed. Evaluation lives in `eval.rs`, `update.rs`, `project.rs`.
//!
//! The legacy parameters map onto these types: `Expected` / `QueryFilter` / `ScanFilter`
//! conditions become [`Condition`]s (`EQ` → `Compare(Eq)`, `NULL` → `AttributeNotExists`,
//! `NOT_CONTAINS` → `Not(Contains)`, `ConditionalOperator` → `And`/`Or`), `AttributesToGet`
//! becomes a list of one-element [`Path`]s, and `AttributeUpdates` becomes [`UpdateAction`]s
//! (`PUT` → `Set`, `DELETE` without a value → `Remove`, and the two `Legacy*` actions, whose
//! type rules and error differ from the expression's ADD / DELETE). See `expr/legacy.rs`.

use std::fmt;

use crate::item::AttributeValue;

/// One step of a document path: a map key / top-level attribute name, or a list index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElem {
    Attr(String),
    Index(u32),
}

/// A document path such as `a.b[3].c`: non-empty, and the first element is an [`PathElem::Attr`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// A top-level attribute.
    pub fn attr(name: &str) -> Path {
        Path(vec![PathElem::Attr(name.to_owned())])
    }

    /// The top-level attribute the path starts in.
    pub fn head(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Attr(name)) => name,
            _ => "",
        }
    }
}

/// DynamoDB's way of showing a path in messages: `[a, b, [3]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                PathElem::Attr(name) => f.write_str(name)?,
                PathElem::Index(i) => write!(f, "[{i}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value in a condition: an attribute of the item, a constant, or `size(operand)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Box<Operand>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }
}

/// A ConditionExpression, FilterExpression or KeyConditionExpression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Compare(Comparator, Operand, Operand),
    /// `operand BETWEEN lower AND upper`.
    Between(Operand, Operand, Operand),
    /// `operand IN (list…)`, 1..=100 list entries.
    In(Operand, Vec<Operand>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    /// `attribute_type(operand, :t)`; the type name was checked to be one of DynamoDB's ten.
    AttributeType(Operand, String),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    /// The top-level attribute of every path the condition reads, in order of appearance.
    pub fn top_level_names(&self) -> Vec<&str> {
        fn operand<'a>(o: &'a Operand, out: &mut Vec<&'a str>) {
            match o {
                Operand::Path(p) => out.push(p.head()),
                Operand::Value(_) => {}
                Operand::Size(inner) => operand(inner, out),
            }
        }
        fn walk<'a>(c: &'a Condition, out: &mut Vec<&'a str>) {
            match c {
                Condition::Compare(_, a, b)
                | Condition::BeginsWith(a, b)
                | Condition::Contains(a, b) => {
                    operand(a, out);
                    operand(b, out);
                }
                Condition::Between(a, b, d) => {
                    for o in [a, b, d] {
                        operand(o, out);
                    }
                }
                Condition::In(a, list) => {
                    operand(a, out);
                    list.iter().for_each(|o| operand(o, out));
                }
                Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => {
                    out.push(p.head());
                }
                Condition::AttributeType(a, _) => operand(a, out),
                Condition::Not(c) => walk(c, out),
                Condition::And(a, b) | Condition::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// An operand on the right of `SET path = …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOperand {
    Path(Path),
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`.
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// The right side of a SET action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateAction {
    Set(Path, SetValue),
    Remove(Path),
    /// A number or a set (checked at validation).
    Add(Path, AttributeValue),
    /// A set (checked at validation).
    Delete(Path, AttributeValue),
    /// Legacy `AttributeUpdates` ADD (`expr/legacy/updates.rs`): number + number, set ∪ set of
    /// the same type, and also list ++ list (append); creates the attribute when absent. Any
    /// other pairing is "Type mismatch for attribute to update".
    LegacyAdd(Path, AttributeValue),
    /// Legacy `AttributeUpdates` DELETE with a set value: set − set of the same type (a set left
    /// empty is removed; absent is a no-op); another existing type is "Type mismatch for
    /// attribute to update".
    LegacyDelete(Path, AttributeValue),
}

impl UpdateAction {
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _)
            | UpdateAction::LegacyAdd(p, _)
            | UpdateAction::LegacyDelete(p, _) => p,
        }
    }
}

/// An UpdateExpression: its actions in source order (no two paths overlap or conflict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateExpr {
    pub actions: Vec<UpdateAction>,
}

/// A ProjectionExpression: paths in source order (no two overlap or conflict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    pub paths: Vec<Path>,
}

/// DynamoDB's short form of a constant in messages: `{N:5}`, `{S:abc}`.
pub(crate) fn value_brief(v: &AttributeValue) -> String {
    use base64::Engine as _;
    let body = match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        AttributeValue::B(b) => base64::engine::general_purpose::STANDARD.encode(b),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null => "true".to_owned(),
        other => other.to_json().to_string(),
    };
    format!("{{{}:{body}}}", v.type_name())
}
