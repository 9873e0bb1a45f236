//! Condition evaluation (Developer Guide `Expressions.OperatorsAndFunctions`).

use super::helpers::*;
use crate::expr::{Condition, evaluate};
use crate::item::Item;

const VALUES: &str = r#"{
    ":one": {"N": "1"}, ":ten": {"N": "10.0"}, ":s": {"S": "abc"}, ":pre": {"S": "ab"},
    ":b": {"B": "AQID"}, ":bpre": {"B": "AQ=="}, ":x": {"S": "x"}, ":two": {"N": "2"},
    ":t": {"S": "SS"}, ":l": {"L": [{"N": "1"}]}
}"#;

const ITEM: &str = r#"{
    "n": {"N": "5"}, "s": {"S": "abcdef"}, "b": {"B": "AQIDBA=="},
    "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]},
    "l": {"L": [{"N": "1"}, {"S": "x"}]}, "m": {"M": {"k": {"N": "10"}}},
    "u": {"S": "é😀"}, "nul": {"NULL": true}
}"#;

fn check(src: &str, item: Option<&Item>) -> bool {
    let used = used_values(src, VALUES);
    let parsed = cond(src, None, if used.is_empty() { None } else { Some(&used) })
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    let c: Condition = parsed.condition.unwrap();
    evaluate(&c, item)
}

#[test]
fn comparisons() {
    let it = item(ITEM);
    let i = Some(&it);
    assert!(check("n > :one", i));
    assert!(check("n < :ten", i));
    assert!(check("m.k = :ten", i), "10 = 10.0 numerically");
    assert!(check("s > :s", i), "strings by bytes");
    assert!(
        !check("n > :s", i),
        "different types compare false, no error"
    );
    assert!(!check("n = :s", i));
    assert!(check("n <> :s", i));
    assert!(
        check("absent <> :one", i),
        "absent is unequal to everything"
    );
    assert!(!check("absent = :one", i));
    assert!(!check("absent < :one", i));
    assert!(check("l[0] = :one", i));
    assert!(!check("l[5] = :one", i));
    assert!(check("b > :bpre", i));
}

#[test]
fn between_and_in() {
    let it = item(ITEM);
    let i = Some(&it);
    assert!(check("n BETWEEN :one AND :ten", i));
    assert!(!check("s BETWEEN :one AND :ten", i));
    assert!(check("n IN (:one, :two, m.k, n)", i));
    assert!(!check("n IN (:one, :two)", i));
}

#[test]
fn functions() {
    let it = item(ITEM);
    let i = Some(&it);
    assert!(check("attribute_exists(m.k)", i));
    assert!(check("attribute_not_exists(m.z)", i));
    assert!(check("attribute_type(ss, :t)", i));
    assert!(check("begins_with(s, :pre)", i));
    assert!(check("begins_with(b, :bpre)", i));
    assert!(!check("begins_with(n, :pre)", i));
    assert!(check("contains(s, :pre)", i));
    assert!(check("contains(ss, :x)", i));
    assert!(check("contains(ns, :two)", i));
    assert!(check("contains(l, :x)", i));
    assert!(!check("contains(ns, :x)", i));
    assert!(check("contains(b, :b)", i));
    assert!(check("size(s) = :one OR size(ss) = :two", i));
    assert!(check("size(l) = :two AND size(m) = :one", i));
    // UTF-16 code units: "é😀" is 3.
    assert!(!check("size(u) = :two", i));
    assert!(
        !check("size(absent) <> :one", i),
        "size of nothing fails the comparison"
    );
    assert!(!check("size(n) <> :one", i));
    assert!(check("attribute_type(nul, :t) OR attribute_exists(nul)", i));
}

#[test]
fn logic_and_absent_items() {
    let it = item(ITEM);
    assert!(check("NOT (n = :one) AND (s = :s OR n > :one)", Some(&it)));
    assert!(check("attribute_not_exists(n)", None));
    assert!(!check("attribute_exists(n)", None));
    assert!(check("NOT n = :one", None));
}
