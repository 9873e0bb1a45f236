//! The parser and evaluator against a simple reference: random condition trees over a few
//! attributes are rendered as ConditionExpression text (parentheses only where precedence
//! needs them, sometimes more), parsed with placeholders, evaluated on random items, and
//! compared with a direct evaluation of the tree by DynamoDB's documented rules (written here
//! independently of `eval.rs`): a missing attribute matches nothing except `<>`; values of
//! different types are never equal or ordered; numbers order numerically, strings by bytes;
//! NOT binds tighter than AND, AND tighter than OR. Replay with `CAIRN_SEED=<n>`.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::expr::{RequestExpressions, evaluate};
use crate::item::{AttributeValue, Item};
use crate::number::Number;
use crate::test_rng::{Rng, for_each_seed};

const ATTRS: [&str; 3] = ["a", "b", "c"];
const STRINGS: [&str; 4] = ["a", "ab", "b", "ba"];

/// A scalar the tests use: a small number or a short string.
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    N(i64),
    S(&'static str),
}

impl Scalar {
    fn random(rng: &mut Rng) -> Scalar {
        if rng.chance(1, 2) {
            Scalar::N(rng.below(5) as i64 - 1)
        } else {
            Scalar::S(STRINGS[rng.below(4) as usize])
        }
    }

    fn value(&self) -> AttributeValue {
        match self {
            Scalar::N(n) => AttributeValue::N(Number::from_str(&n.to_string()).unwrap()),
            Scalar::S(s) => AttributeValue::S((*s).to_owned()),
        }
    }

    /// The order of two scalars of one type; `None` across types.
    fn cmp(&self, other: &Scalar) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Scalar::N(a), Scalar::N(b)) => Some(a.cmp(b)),
            (Scalar::S(a), Scalar::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
enum Tree {
    /// attribute, operator, value placeholder
    Cmp(usize, &'static str, usize),
    Between(usize, usize, usize),
    In(usize, Vec<usize>),
    Exists(usize),
    NotExists(usize),
    BeginsWith(usize, usize),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

const OPS: [&str; 6] = ["=", "<>", "<", "<=", ">", ">="];

fn random_tree(rng: &mut Rng, values: &[Scalar], depth: u32) -> Tree {
    let attr = |rng: &mut Rng| rng.below(3) as usize;
    let val = |rng: &mut Rng| rng.below(values.len() as u64) as usize;
    if depth > 0 && rng.chance(1, 2) {
        return match rng.below(3) {
            0 => Tree::Not(Box::new(random_tree(rng, values, depth - 1))),
            1 => Tree::And(
                Box::new(random_tree(rng, values, depth - 1)),
                Box::new(random_tree(rng, values, depth - 1)),
            ),
            _ => Tree::Or(
                Box::new(random_tree(rng, values, depth - 1)),
                Box::new(random_tree(rng, values, depth - 1)),
            ),
        };
    }
    match rng.below(6) {
        0 | 1 => Tree::Cmp(attr(rng), OPS[rng.below(6) as usize], val(rng)),
        2 => {
            // BETWEEN needs bounds of one type in order, else the parser refuses it.
            let (lo, hi) = (val(rng), val(rng));
            match values[lo].cmp(&values[hi]) {
                Some(o) if o != std::cmp::Ordering::Greater => Tree::Between(attr(rng), lo, hi),
                Some(_) => Tree::Between(attr(rng), hi, lo),
                None => Tree::Exists(attr(rng)),
            }
        }
        3 => Tree::In(attr(rng), (0..1 + rng.below(3)).map(|_| val(rng)).collect()),
        4 => {
            if rng.chance(1, 2) {
                Tree::Exists(attr(rng))
            } else {
                Tree::NotExists(attr(rng))
            }
        }
        _ => {
            let v = val(rng);
            match values[v] {
                Scalar::S(_) => Tree::BeginsWith(attr(rng), v),
                Scalar::N(_) => Tree::NotExists(attr(rng)),
            }
        }
    }
}

/// 0: OR, 1: AND, 2: NOT, 3: an atom.
fn precedence(t: &Tree) -> u8 {
    match t {
        Tree::Or(..) => 0,
        Tree::And(..) => 1,
        Tree::Not(_) => 2,
        _ => 3,
    }
}

fn render(t: &Tree, rng: &mut Rng, out: &mut String) {
    let child = |c: &Tree, min: u8, rng: &mut Rng, out: &mut String| {
        let paren = precedence(c) < min || rng.chance(1, 6);
        if paren {
            out.push('(');
        }
        render(c, rng, out);
        if paren {
            out.push(')');
        }
    };
    match t {
        Tree::Cmp(a, op, v) => out.push_str(&format!("{} {op} :v{v}", ATTRS[*a])),
        Tree::Between(a, lo, hi) => {
            out.push_str(&format!("{} BETWEEN :v{lo} AND :v{hi}", ATTRS[*a]));
        }
        Tree::In(a, vs) => {
            let list: Vec<String> = vs.iter().map(|v| format!(":v{v}")).collect();
            out.push_str(&format!("{} IN ({})", ATTRS[*a], list.join(", ")));
        }
        Tree::Exists(a) => out.push_str(&format!("attribute_exists({})", ATTRS[*a])),
        Tree::NotExists(a) => out.push_str(&format!("attribute_not_exists({})", ATTRS[*a])),
        Tree::BeginsWith(a, v) => out.push_str(&format!("begins_with({}, :v{v})", ATTRS[*a])),
        Tree::Not(c) => {
            out.push_str("NOT ");
            child(c, 2, rng, out);
        }
        Tree::And(x, y) => {
            child(x, 1, rng, out);
            out.push_str(" AND ");
            // AND is left-associative: a right operand of equal precedence needs parentheses
            // only to keep the tree's shape, and (x AND y) AND z = x AND (y AND z) anyway.
            child(y, 1, rng, out);
        }
        Tree::Or(x, y) => {
            child(x, 0, rng, out);
            out.push_str(" OR ");
            child(y, 0, rng, out);
        }
    }
}

/// DynamoDB's rules, directly on the tree.
fn reference(t: &Tree, item: &[Option<Scalar>; 3], values: &[Scalar]) -> bool {
    match t {
        Tree::Cmp(a, op, v) => {
            let Some(x) = &item[*a] else {
                return *op == "<>";
            };
            let y = &values[*v];
            match *op {
                "=" => x == y,
                "<>" => x != y,
                _ => x.cmp(y).is_some_and(|o| match *op {
                    "<" => o.is_lt(),
                    "<=" => o.is_le(),
                    ">" => o.is_gt(),
                    _ => o.is_ge(),
                }),
            }
        }
        Tree::Between(a, lo, hi) => item[*a].as_ref().is_some_and(|x| {
            x.cmp(&values[*lo]).is_some_and(|o| o.is_ge())
                && x.cmp(&values[*hi]).is_some_and(|o| o.is_le())
        }),
        Tree::In(a, vs) => item[*a]
            .as_ref()
            .is_some_and(|x| vs.iter().any(|v| values[*v] == *x)),
        Tree::Exists(a) => item[*a].is_some(),
        Tree::NotExists(a) => item[*a].is_none(),
        Tree::BeginsWith(a, v) => match (&item[*a], &values[*v]) {
            (Some(Scalar::S(s)), Scalar::S(p)) => s.starts_with(p),
            _ => false,
        },
        Tree::Not(c) => !reference(c, item, values),
        Tree::And(x, y) => reference(x, item, values) && reference(y, item, values),
        Tree::Or(x, y) => reference(x, item, values) || reference(y, item, values),
    }
}

fn uses(t: &Tree, out: &mut Vec<usize>) {
    match t {
        Tree::Cmp(_, _, v) | Tree::BeginsWith(_, v) => out.push(*v),
        Tree::Between(_, lo, hi) => out.extend([*lo, *hi]),
        Tree::In(_, vs) => out.extend(vs),
        Tree::Exists(_) | Tree::NotExists(_) => {}
        Tree::Not(c) => uses(c, out),
        Tree::And(x, y) | Tree::Or(x, y) => {
            uses(x, out);
            uses(y, out);
        }
    }
}

#[test]
fn conditions_match_the_reference_evaluator() {
    let mut compared = 0u64;
    for_each_seed("conditions_match_the_reference_evaluator", 300, |seed| {
        let mut rng = Rng::new(seed);
        let values: Vec<Scalar> = (0..4).map(|_| Scalar::random(&mut rng)).collect();
        let tree = random_tree(&mut rng, &values, 4);
        let mut src = String::new();
        render(&tree, &mut rng, &mut src);
        let mut used = Vec::new();
        uses(&tree, &mut used);
        let placeholders: BTreeMap<String, AttributeValue> = used
            .iter()
            .map(|&v| (format!(":v{v}"), values[v].value()))
            .collect();
        let parsed = RequestExpressions {
            condition: Some(&src),
            values: (!placeholders.is_empty()).then_some(&placeholders),
            ..Default::default()
        }
        .parse()
        .unwrap_or_else(|e| panic!("seed {seed}: {src:?} refused: {e}"));
        let cond = parsed.condition.expect("a condition");
        for _ in 0..20 {
            let fields: [Option<Scalar>; 3] =
                std::array::from_fn(|_| rng.chance(3, 4).then(|| Scalar::random(&mut rng)));
            let item: Item = ATTRS
                .iter()
                .zip(&fields)
                .filter_map(|(name, v)| Some(((*name).to_owned(), v.as_ref()?.value())))
                .collect();
            assert_eq!(
                evaluate(&cond, Some(&item)),
                reference(&tree, &fields, &values),
                "seed {seed}: {src} on {fields:?} with {values:?}"
            );
            compared += 1;
        }
    });
    assert!(compared > 0);
}
