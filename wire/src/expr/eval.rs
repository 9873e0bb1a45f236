//! Evaluating a [`Condition`] against an item (ConditionExpression before a write, FilterExpression
//! on each read item). An absent item behaves as an item with no attributes.
//!
//! Semantics (Developer Guide `Expressions.OperatorsAndFunctions`; dynalite `db/index.js`):
//! * `=` / `<>` compare type and value (sets as sets; numbers numerically); a missing
//!   attribute is unequal to everything, so `missing <> :v` is true.
//! * `<  <= > >=` and BETWEEN are defined between two values of the same scalar type (N
//!   numerically, S by UTF-8 bytes, B by unsigned bytes); any other pair makes them false —
//!   never an error at run time.
//! * IN is true if the operand equals one of the list.
//! * `begins_with` on S or B prefixes of the same type; `contains` is substring for S,
//!   sub-sequence for B, membership for SS/NS/BS (same element type) and L (any element equal).
//! * `size` is the length of S (in UTF-16 code units, as DynamoDB's Java service measures it),
//!   B (bytes), and the element count of sets, L and M. `size` of a missing attribute or of
//!   N/BOOL/NULL has no value, which makes the comparison holding it false (even `<>`).

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand, Path, PathElem};
use crate::item::{AttributeValue, Item};
use crate::number::Number;

/// The value at `path` in `item`, if there is one.
pub fn resolve<'a>(item: Option<&'a Item>, path: &Path) -> Option<&'a AttributeValue> {
    let mut elems = path.0.iter();
    let mut cur = match elems.next()? {
        PathElem::Attr(name) => item?.get(name)?,
        PathElem::Index(_) => return None,
    };
    for e in elems {
        cur = match (e, cur) {
            (PathElem::Attr(name), AttributeValue::M(m)) => m.get(name)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Order of two values of the same scalar type (N, S, B); `None` for any other pair.
pub fn compare_values(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// An operand's value: borrowed from the item or the expression, or computed by `size`.
enum Val<'a> {
    Ref(&'a AttributeValue),
    Owned(AttributeValue),
}

impl Val<'_> {
    fn get(&self) -> &AttributeValue {
        match self {
            Val::Ref(v) => v,
            Val::Owned(v) => v,
        }
    }
}

fn operand<'a>(item: Option<&'a Item>, op: &'a Operand) -> Option<Val<'a>> {
    match op {
        Operand::Path(p) => resolve(item, p).map(Val::Ref),
        Operand::Value(v) => Some(Val::Ref(v)),
        Operand::Size(inner) => {
            let v = operand(item, inner)?;
            let n = size_of(v.get())?;
            Some(Val::Owned(AttributeValue::N(
                Number::from_parts(false, n as u128, 0).ok()?,
            )))
        }
    }
}

/// `size(v)`, or `None` for types without a size.
pub fn size_of(v: &AttributeValue) -> Option<usize> {
    Some(match v {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    })
}

/// True if `cond` holds for `item` (`None`: the item does not exist).
pub fn evaluate(cond: &Condition, item: Option<&Item>) -> bool {
    match cond {
        Condition::Compare(cmp, a, b) => {
            let (Some(x), Some(y)) = (operand(item, a), operand(item, b)) else {
                // A missing attribute equals nothing; `size` without a value fails any comparison.
                let sized = matches!(a, Operand::Size(_)) || matches!(b, Operand::Size(_));
                return *cmp == Comparator::Ne && !sized;
            };
            let (x, y) = (x.get(), y.get());
            match cmp {
                Comparator::Eq => x == y,
                Comparator::Ne => x != y,
                _ => compare_values(x, y).is_some_and(|o| match cmp {
                    Comparator::Lt => o == Ordering::Less,
                    Comparator::Le => o != Ordering::Greater,
                    Comparator::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }),
            }
        }
        Condition::Between(a, lo, hi) => {
            let (Some(x), Some(l), Some(h)) =
                (operand(item, a), operand(item, lo), operand(item, hi))
            else {
                return false;
            };
            compare_values(x.get(), l.get()).is_some_and(|o| o != Ordering::Less)
                && compare_values(x.get(), h.get()).is_some_and(|o| o != Ordering::Greater)
        }
        Condition::In(a, list) => {
            let Some(x) = operand(item, a) else {
                return false;
            };
            list.iter()
                .any(|o| operand(item, o).is_some_and(|v| v.get() == x.get()))
        }
        Condition::AttributeExists(p) => resolve(item, p).is_some(),
        Condition::AttributeNotExists(p) => resolve(item, p).is_none(),
        Condition::AttributeType(a, t) => {
            operand(item, a).is_some_and(|v| v.get().type_name() == t)
        }
        Condition::BeginsWith(a, prefix) => {
            let (Some(x), Some(p)) = (operand(item, a), operand(item, prefix)) else {
                return false;
            };
            match (x.get(), p.get()) {
                (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
                (AttributeValue::B(b), AttributeValue::B(p)) => b.starts_with(p),
                _ => false,
            }
        }
        Condition::Contains(a, needle) => {
            let (Some(x), Some(n)) = (operand(item, a), operand(item, needle)) else {
                return false;
            };
            contains(x.get(), n.get())
        }
        Condition::Not(c) => !evaluate(c, item),
        Condition::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Condition::Or(a, b) => evaluate(a, item) || evaluate(b, item),
    }
}

fn contains(haystack: &AttributeValue, needle: &AttributeValue) -> bool {
    match (haystack, needle) {
        (AttributeValue::S(s), AttributeValue::S(n)) => s.contains(n.as_str()),
        (AttributeValue::B(b), AttributeValue::B(n)) => {
            n.is_empty() || b.windows(n.len()).any(|w| w == n.as_slice())
        }
        (AttributeValue::Ss(set), AttributeValue::S(n)) => set.binary_search(n).is_ok(),
        (AttributeValue::Ns(set), AttributeValue::N(n)) => set.binary_search(n).is_ok(),
        (AttributeValue::Bs(set), AttributeValue::B(n)) => set.binary_search(n).is_ok(),
        (AttributeValue::L(list), n) => list.iter().any(|e| e == n),
        _ => false,
    }
}
