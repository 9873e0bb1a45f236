//! Semantic checks and placeholder resolution: raw trees from `parser.rs` → the typed trees of
//! `ast.rs`. DynamoDB reports one error per expression, chosen by a fixed priority rather than
//! by position, so the walk records the first error of each category ([`Cat`]) and the
//! highest-priority one wins. Priorities follow dynalite's grammars (`checkErrors` in
//! `db/conditionParser.pegjs`, `db/updateParser.pegjs`, `db/projectionParser.pegjs`):
//!
//! * condition: redundant parentheses, unknown function, misused function, reserved word,
//!   undefined placeholder, operand count, operands not distinct, operand types;
//! * update: reserved word, unknown function, repeated section, undefined name, undefined
//!   value, overlapping paths, conflicting paths, ADD/DELETE operand type, function operands;
//! * projection: reserved word, undefined name, overlapping paths, conflicting paths.
//!
//! Limits we add in the same scheme: too many operators (after parentheses), paths nested
//! deeper than 32 levels (after reserved words), more than 100 IN operands (with operand counts).

use std::collections::{BTreeMap, BTreeSet};

use super::ast::{
    Condition, Operand, Path, PathElem, Projection, SetValue, UpdateAction, UpdateExpr,
    UpdateOperand, value_brief,
};
use super::error::{ExprError, ExprKind, Invalid};
use super::parser::{RawAction, RawCond, RawElem, RawFunc, RawOperand, RawPath, RawSetValue};
use super::reserved::is_reserved;
use super::{IN_OPERANDS_MAX, OPERATORS_MAX, PATH_DEPTH_MAX};
use crate::item::AttributeValue;

/// The placeholders of one request and which of them some expression has used.
pub(crate) struct Placeholders<'a> {
    pub names: &'a BTreeMap<String, String>,
    pub values: &'a BTreeMap<String, AttributeValue>,
    pub used_names: BTreeSet<String>,
    pub used_values: BTreeSet<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cat {
    Parens,
    Operators,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    PathDepth,
    Section,
    Undefined,
    UndefinedValue,
    Overlap,
    Conflict,
    Operand,
    Distinct,
    Function,
}

const CONDITION_ORDER: [Cat; 10] = [
    Cat::Parens,
    Cat::Operators,
    Cat::UnknownFunction,
    Cat::MisusedFunction,
    Cat::Reserved,
    Cat::PathDepth,
    Cat::Undefined,
    Cat::Operand,
    Cat::Distinct,
    Cat::Function,
];

const UPDATE_ORDER: [Cat; 12] = [
    Cat::Parens,
    Cat::Operators,
    Cat::Reserved,
    Cat::PathDepth,
    Cat::UnknownFunction,
    Cat::Section,
    Cat::Undefined,
    Cat::UndefinedValue,
    Cat::Overlap,
    Cat::Conflict,
    Cat::Operand,
    Cat::Function,
];

const PROJECTION_ORDER: [Cat; 5] = [
    Cat::Reserved,
    Cat::PathDepth,
    Cat::Undefined,
    Cat::Overlap,
    Cat::Conflict,
];

struct Lower<'p, 'a> {
    kind: ExprKind,
    ph: &'p mut Placeholders<'a>,
    errors: BTreeMap<Cat, Invalid>,
    operators: usize,
    /// Paths seen so far, for the overlap checks (updates and projections).
    paths: Vec<Path>,
}

const CONDITION_FUNCTIONS: [&str; 6] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
];
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];
const TYPE_NAMES: [&str; 10] = ["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"];

impl<'p, 'a> Lower<'p, 'a> {
    fn new(kind: ExprKind, ph: &'p mut Placeholders<'a>) -> Self {
        Lower {
            kind,
            ph,
            errors: BTreeMap::new(),
            operators: 0,
            paths: Vec::new(),
        }
    }

    fn note(&mut self, cat: Cat, reason: Invalid) {
        self.errors.entry(cat).or_insert(reason);
    }

    fn operator(&mut self) {
        self.operators += 1;
        if self.operators > OPERATORS_MAX {
            let n = self.operators;
            self.errors
                .insert(Cat::Operators, Invalid::TooManyOperators(n));
        }
    }

    fn finish<T>(self, order: &[Cat], tree: T) -> Result<T, ExprError> {
        for cat in order {
            if let Some(reason) = self.errors.get(cat) {
                return Err(ExprError::invalid(self.kind, reason.clone()));
            }
        }
        Ok(tree)
    }

    fn path(&mut self, raw: &RawPath) -> Path {
        let levels = raw.0.len().saturating_sub(1);
        if levels > PATH_DEPTH_MAX {
            self.note(Cat::PathDepth, Invalid::PathTooDeep(levels));
        }
        let mut out = Vec::with_capacity(raw.0.len());
        for elem in &raw.0 {
            out.push(match elem {
                RawElem::Id(id) => {
                    if is_reserved(id) {
                        self.note(Cat::Reserved, Invalid::Reserved(id.clone()));
                    }
                    PathElem::Attr(id.clone())
                }
                RawElem::Name(name) => match self.ph.names.get(name) {
                    Some(real) => {
                        self.ph.used_names.insert(name.clone());
                        PathElem::Attr(real.clone())
                    }
                    None => {
                        self.note(Cat::Undefined, Invalid::UndefinedName(name.clone()));
                        PathElem::Attr(name.clone())
                    }
                },
                RawElem::Index(digits) => match digits.parse::<u32>() {
                    Ok(i) => PathElem::Index(i),
                    Err(_) => {
                        self.note(Cat::Operand, Invalid::IndexRange(digits.clone()));
                        PathElem::Index(0)
                    }
                },
            });
        }
        Path(out)
    }

    fn value(&mut self, name: &str, cat: Cat) -> AttributeValue {
        match self.ph.values.get(name) {
            Some(v) => {
                self.ph.used_values.insert(name.to_owned());
                v.clone()
            }
            None => {
                self.note(cat, Invalid::UndefinedValue(name.to_owned()));
                AttributeValue::Null
            }
        }
    }

    /// Records the overlap/conflict of `path` with every earlier path, then remembers it.
    fn check_overlap(&mut self, path: &Path) {
        for prev in &self.paths {
            let (a, b) = (&prev.0, &path.0);
            let mut verdict = Some(Cat::Overlap);
            for (x, y) in a.iter().zip(b.iter()) {
                let same_kind = matches!(
                    (x, y),
                    (PathElem::Attr(_), PathElem::Attr(_))
                        | (PathElem::Index(_), PathElem::Index(_))
                );
                if !same_kind {
                    verdict = Some(Cat::Conflict);
                    break;
                }
                if x != y {
                    verdict = None;
                    break;
                }
            }
            let (one, two) = (prev.to_string(), path.to_string());
            match verdict {
                Some(Cat::Overlap) => {
                    self.errors
                        .entry(Cat::Overlap)
                        .or_insert(Invalid::PathOverlap { one, two });
                }
                Some(_) => {
                    self.errors
                        .entry(Cat::Conflict)
                        .or_insert(Invalid::PathConflict { one, two });
                }
                None => {}
            }
        }
        self.paths.push(path.clone());
    }

    // ---- conditions ----

    fn condition(&mut self, raw: &RawCond) -> Condition {
        match raw {
            RawCond::Cmp(cmp, a, b) => {
                self.operator();
                let (x, y) = (self.operand(a), self.operand(b));
                if let (Operand::Path(p), Operand::Path(q)) = (&x, &y)
                    && p == q
                {
                    self.note(
                        Cat::Distinct,
                        Invalid::NotDistinct {
                            operator: cmp.symbol().to_owned(),
                            path: p.to_string(),
                        },
                    );
                }
                Condition::Compare(*cmp, x, y)
            }
            RawCond::Between(a, lo, hi) => {
                self.operator();
                let (x, lo, hi) = (self.operand(a), self.operand(lo), self.operand(hi));
                if let (Operand::Value(l), Operand::Value(h)) = (&lo, &hi) {
                    let (lower, upper) = (value_brief(l), value_brief(h));
                    if l.type_name() != h.type_name() {
                        self.note(Cat::Function, Invalid::BetweenTypes { lower, upper });
                    } else if super::eval::compare_values(l, h)
                        .is_some_and(|o| o == std::cmp::Ordering::Greater)
                    {
                        self.note(Cat::Function, Invalid::BetweenOrder { lower, upper });
                    }
                }
                Condition::Between(x, lo, hi)
            }
            RawCond::In(a, list) => {
                self.operator();
                if list.len() > IN_OPERANDS_MAX {
                    self.note(Cat::Operand, Invalid::TooManyInOperands(list.len()));
                }
                let x = self.operand(a);
                let list = list.iter().map(|o| self.operand(o)).collect();
                Condition::In(x, list)
            }
            RawCond::Func(f) => self.function_condition(f),
            RawCond::Not(c) => {
                self.operator();
                Condition::Not(Box::new(self.condition(c)))
            }
            RawCond::And(a, b) => {
                self.operator();
                let a = self.condition(a);
                Condition::And(Box::new(a), Box::new(self.condition(b)))
            }
            RawCond::Or(a, b) => {
                self.operator();
                let a = self.condition(a);
                Condition::Or(Box::new(a), Box::new(self.condition(b)))
            }
        }
    }

    /// A function's name class: `Ok(true)` for condition functions; notes the error otherwise.
    fn known_condition_function(&mut self, name: &str) -> bool {
        if CONDITION_FUNCTIONS.contains(&name) {
            return true;
        }
        let reason = if UPDATE_FUNCTIONS.contains(&name) {
            Invalid::FunctionNotAllowed {
                function: name.to_owned(),
                context: "a condition",
            }
        } else {
            Invalid::UnknownFunction(name.to_owned())
        };
        self.note(Cat::UnknownFunction, reason);
        false
    }

    fn function_condition(&mut self, f: &RawFunc) -> Condition {
        self.operator();
        let known = self.known_condition_function(&f.name);
        let args: Vec<Operand> = f.args.iter().map(|a| self.operand(a)).collect();
        if !known {
            return Condition::AttributeExists(Path::attr(&f.name));
        }
        if f.name == "size" {
            self.note(
                Cat::MisusedFunction,
                Invalid::MisusedFunction(f.name.clone()),
            );
        }
        self.check_function_operands(&f.name, &args);
        let mut args = args.into_iter();
        let mut next = || args.next().unwrap_or(Operand::Value(AttributeValue::Null));
        let path_of = |o: Operand| match o {
            Operand::Path(p) => p,
            _ => Path::attr(""),
        };
        match f.name.as_str() {
            "attribute_exists" => Condition::AttributeExists(path_of(next())),
            "attribute_not_exists" => Condition::AttributeNotExists(path_of(next())),
            "attribute_type" => {
                let x = next();
                let t = match next() {
                    Operand::Value(AttributeValue::S(s)) => s,
                    _ => String::new(),
                };
                Condition::AttributeType(x, t)
            }
            "begins_with" => Condition::BeginsWith(next(), next()),
            "contains" => Condition::Contains(next(), next()),
            // size as a condition was noted as misused above.
            _ => Condition::AttributeExists(Path::attr("size")),
        }
    }

    /// Arity, distinctness and constant operand types of a condition function.
    fn check_function_operands(&mut self, name: &str, args: &[Operand]) {
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" | "size" => 1,
            _ => 2,
        };
        if args.len() != arity {
            self.note(
                Cat::Operand,
                Invalid::OperandCount {
                    function: name.to_owned(),
                    count: args.len(),
                },
            );
            return;
        }
        if let [Operand::Path(p), Operand::Path(q)] = args
            && p == q
        {
            self.note(
                Cat::Distinct,
                Invalid::NotDistinct {
                    operator: name.to_owned(),
                    path: p.to_string(),
                },
            );
        }
        let type_error = |t: &str| Invalid::OperandType {
            function: name.to_owned(),
            operand_type: t.to_owned(),
        };
        match name {
            "attribute_exists" | "attribute_not_exists" if !matches!(args[0], Operand::Path(_)) => {
                self.note(Cat::Function, Invalid::RequiresPath(name.to_owned()));
            }
            "begins_with" => {
                if let Some(t) = args
                    .iter()
                    .filter_map(operand_type)
                    .find(|t| *t != "S" && *t != "B")
                {
                    self.note(Cat::Function, type_error(t));
                }
            }
            "attribute_type" => match &args[1] {
                Operand::Value(AttributeValue::S(s)) => {
                    if !TYPE_NAMES.contains(&s.as_str()) {
                        self.note(Cat::Function, Invalid::TypeName(s.clone()));
                    }
                }
                other => {
                    let t = operand_type(other).unwrap_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
                    self.note(Cat::Function, type_error(t));
                }
            },
            "size" => {
                if let Some(t) =
                    operand_type(&args[0]).filter(|t| ["N", "BOOL", "NULL"].contains(t))
                {
                    self.note(Cat::Function, type_error(t));
                }
            }
            _ => {}
        }
    }

    fn operand(&mut self, raw: &RawOperand) -> Operand {
        match raw {
            RawOperand::Path(p) => Operand::Path(self.path(p)),
            RawOperand::Value(v) => Operand::Value(self.value(v, Cat::Undefined)),
            RawOperand::Func(f) => {
                self.operator();
                let known = self.known_condition_function(&f.name);
                if known && f.name != "size" {
                    self.note(
                        Cat::MisusedFunction,
                        Invalid::MisusedFunction(f.name.clone()),
                    );
                }
                let args: Vec<Operand> = f.args.iter().map(|a| self.operand(a)).collect();
                if known {
                    self.check_function_operands(&f.name, &args);
                }
                let inner = args
                    .into_iter()
                    .next()
                    .unwrap_or(Operand::Value(AttributeValue::Null));
                Operand::Size(Box::new(inner))
            }
        }
    }

    // ---- updates ----

    fn action(&mut self, raw: &RawAction) -> UpdateAction {
        match raw {
            RawAction::Set(p, v) => {
                let path = self.path(p);
                self.check_overlap(&path);
                let value = match v {
                    RawSetValue::Operand(o) => SetValue::Operand(self.update_operand(o)),
                    RawSetValue::Plus(a, b) | RawSetValue::Minus(a, b) => {
                        self.operator();
                        let sym = if matches!(v, RawSetValue::Plus(..)) {
                            "+"
                        } else {
                            "-"
                        };
                        let (x, y) = (self.update_operand(a), self.update_operand(b));
                        self.require_immediate(sym, &[&x, &y], "N");
                        if sym == "+" {
                            SetValue::Plus(x, y)
                        } else {
                            SetValue::Minus(x, y)
                        }
                    }
                };
                UpdateAction::Set(path, value)
            }
            RawAction::Remove(p) => {
                let path = self.path(p);
                self.check_overlap(&path);
                UpdateAction::Remove(path)
            }
            RawAction::Add(p, v) | RawAction::Delete(p, v) => {
                let add = matches!(raw, RawAction::Add(..));
                let path = self.path(p);
                self.check_overlap(&path);
                let value = self.value(v, Cat::UndefinedValue);
                let operator = if add { "ADD" } else { "DELETE" };
                let bad = match &value {
                    AttributeValue::S(_) => Some("STRING"),
                    AttributeValue::N(_) if !add => Some("NUMBER"),
                    AttributeValue::B(_) => Some("BINARY"),
                    AttributeValue::Null => Some("NULL"),
                    AttributeValue::Bool(_) => Some("BOOLEAN"),
                    AttributeValue::L(_) => Some("LIST"),
                    AttributeValue::M(_) => Some("MAP"),
                    _ => None,
                };
                // An undefined value resolved to NULL: that error outranks this one.
                if let Some(operand_type) = bad
                    && self.ph.values.contains_key(v)
                {
                    self.note(
                        Cat::Operand,
                        Invalid::ActionOperandType {
                            operator,
                            operand_type,
                        },
                    );
                }
                if add {
                    UpdateAction::Add(path, value)
                } else {
                    UpdateAction::Delete(path, value)
                }
            }
        }
    }

    /// Notes an operand-type error if an immediate value among `ops` is not of type `want`.
    fn require_immediate(&mut self, function: &str, ops: &[&UpdateOperand], want: &str) {
        for op in ops {
            if let UpdateOperand::Value(v) = op
                && v.type_name() != want
            {
                self.note(
                    Cat::Function,
                    Invalid::OperandType {
                        function: function.to_owned(),
                        operand_type: v.type_name().to_owned(),
                    },
                );
                return;
            }
        }
    }

    fn update_operand(&mut self, raw: &RawOperand) -> UpdateOperand {
        match raw {
            RawOperand::Path(p) => UpdateOperand::Path(self.path(p)),
            RawOperand::Value(v) => UpdateOperand::Value(self.value(v, Cat::UndefinedValue)),
            RawOperand::Func(f) => {
                self.operator();
                let args: Vec<UpdateOperand> =
                    f.args.iter().map(|a| self.update_operand(a)).collect();
                let placeholder = || UpdateOperand::Value(AttributeValue::Null);
                if !UPDATE_FUNCTIONS.contains(&f.name.as_str()) {
                    let reason = if CONDITION_FUNCTIONS.contains(&f.name.as_str()) {
                        Invalid::FunctionNotAllowed {
                            function: f.name.clone(),
                            context: "an update",
                        }
                    } else {
                        Invalid::UnknownFunction(f.name.clone())
                    };
                    self.note(Cat::UnknownFunction, reason);
                    return placeholder();
                }
                if args.len() != 2 {
                    self.note(
                        Cat::Function,
                        Invalid::OperandCount {
                            function: f.name.clone(),
                            count: args.len(),
                        },
                    );
                    return placeholder();
                }
                let mut args = args.into_iter();
                let (a, b) = (
                    args.next().unwrap_or_else(placeholder),
                    args.next().unwrap_or_else(placeholder),
                );
                if f.name == "if_not_exists" {
                    match a {
                        UpdateOperand::Path(p) => UpdateOperand::IfNotExists(p, Box::new(b)),
                        _ => {
                            self.note(Cat::Function, Invalid::RequiresPath(f.name.clone()));
                            placeholder()
                        }
                    }
                } else {
                    self.require_immediate("list_append", &[&a, &b], "L");
                    UpdateOperand::ListAppend(Box::new(a), Box::new(b))
                }
            }
        }
    }
}

/// The type DynamoDB knows for an operand before evaluation: a constant's type, `N` for
/// `size(…)`, nothing for a path.
fn operand_type(op: &Operand) -> Option<&'static str> {
    match op {
        Operand::Path(_) => None,
        Operand::Value(v) => Some(v.type_name()),
        Operand::Size(_) => Some("N"),
    }
}

pub(crate) fn lower_condition(
    raw: &RawCond,
    redundant_parens: bool,
    kind: ExprKind,
    ph: &mut Placeholders<'_>,
) -> Result<Condition, ExprError> {
    let mut l = Lower::new(kind, ph);
    if redundant_parens {
        l.note(Cat::Parens, Invalid::RedundantParentheses);
    }
    let tree = l.condition(raw);
    l.finish(&CONDITION_ORDER, tree)
}

pub(crate) fn lower_update(
    sections: &[(super::parser::Section, Vec<RawAction>)],
    redundant_parens: bool,
    ph: &mut Placeholders<'_>,
) -> Result<UpdateExpr, ExprError> {
    let mut l = Lower::new(ExprKind::Update, ph);
    if redundant_parens {
        l.note(Cat::Parens, Invalid::RedundantParentheses);
    }
    let mut seen = Vec::new();
    let mut actions = Vec::new();
    for (section, raw_actions) in sections {
        if seen.contains(section) {
            l.note(Cat::Section, Invalid::DuplicateSection(section.name()));
        }
        seen.push(*section);
        for raw in raw_actions {
            actions.push(l.action(raw));
        }
    }
    l.finish(&UPDATE_ORDER, UpdateExpr { actions })
}

pub(crate) fn lower_projection(
    raw: &[RawPath],
    ph: &mut Placeholders<'_>,
) -> Result<Projection, ExprError> {
    let mut l = Lower::new(ExprKind::Projection, ph);
    let mut paths = Vec::with_capacity(raw.len());
    for p in raw {
        let path = l.path(p);
        l.check_overlap(&path);
        paths.push(path);
    }
    l.finish(&PROJECTION_ORDER, Projection { paths })
}
