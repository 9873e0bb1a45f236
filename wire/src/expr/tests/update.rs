//! Update application and projection (Developer Guide `Expressions.UpdateExpressions`,
//! `Expressions.ProjectionExpressions`; dynalite `actions/updateItem.js`).

use super::helpers::*;
use crate::expr::{ExprError, Path, RequestExpressions, UpdateExpr, project};
use crate::item::Item;
use crate::number::NumberError;

fn upd(src: &str, vals: &str) -> UpdateExpr {
    let v = used_values(src, vals);
    RequestExpressions {
        update: Some(src),
        values: if v.is_empty() { None } else { Some(&v) },
        ..Default::default()
    }
    .parse()
    .unwrap_or_else(|e| panic!("{src}: {e}"))
    .update
    .unwrap()
}

fn apply(src: &str, vals: &str, base: &str) -> Result<Item, ExprError> {
    upd(src, vals).apply(&item(base)).map(|o| o.item)
}

#[test]
fn set_with_arithmetic_and_functions() {
    let base = r#"{"k": {"S": "1"}, "n": {"N": "5"}, "l": {"L": [{"N": "1"}]}}"#;
    let out = apply(
        "SET n = n + :one, m = n - :one, l = list_append(l, :l), c = if_not_exists(c, :one), d = if_not_exists(n, :one)",
        r#"{":one": {"N": "1"}, ":l": {"L": [{"S": "x"}]}}"#,
        base,
    )
    .unwrap();
    assert_eq!(
        out,
        item(
            r#"{"k": {"S": "1"}, "n": {"N": "6"}, "m": {"N": "4"}, "c": {"N": "1"}, "d": {"N": "5"},
                 "l": {"L": [{"N": "1"}, {"S": "x"}]}}"#
        )
    );
}

#[test]
fn actions_see_the_item_before_the_update() {
    let out = apply(
        "SET a = b, b = a",
        "",
        r#"{"a": {"N": "1"}, "b": {"N": "2"}}"#,
    )
    .unwrap();
    assert_eq!(out, item(r#"{"a": {"N": "2"}, "b": {"N": "1"}}"#));
}

#[test]
fn runtime_errors() {
    let v = r#"{":one": {"N": "1"}, ":s": {"S": "x"}, ":big": {"N": "9e125"}}"#;
    assert_eq!(
        apply("SET a = nope + :one", v, "{}"),
        Err(ExprError::MissingAttribute)
    );
    assert_eq!(
        ExprError::MissingAttribute.to_string(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        apply("SET a = s + :one", v, r#"{"s": {"S": "x"}}"#),
        Err(ExprError::IncorrectDataType)
    );
    assert_eq!(
        apply("SET a.b = :one", v, "{}"),
        Err(ExprError::InvalidUpdatePath)
    );
    assert_eq!(
        apply("SET a[0] = :one", v, r#"{"a": {"M": {}}}"#),
        Err(ExprError::InvalidUpdatePath)
    );
    assert_eq!(
        apply("ADD a :one", v, r#"{"a": {"S": "x"}}"#),
        Err(ExprError::IncorrectDataType)
    );
    assert_eq!(
        apply("SET a = :big + :big", v, "{}"),
        Err(ExprError::Number(NumberError::Overflow))
    );
}

#[test]
fn list_indexes_append_and_shift() {
    let base = r#"{"l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]}}"#;
    let v = r#"{":a": {"S": "a"}, ":b": {"S": "b"}}"#;
    // Past the end appends, in index order whatever the source order.
    let out = apply("SET l[9] = :b, l[7] = :a", v, base).unwrap();
    assert_eq!(
        out,
        item(
            r#"{"l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}, {"S": "a"}, {"S": "b"}]}}"#
        )
    );
    // Removed indexes refer to the original list.
    let out = apply("REMOVE l[1], l[2], l[10]", "", base).unwrap();
    assert_eq!(out, item(r#"{"l": {"L": [{"N": "0"}, {"N": "3"}]}}"#));
    let out = apply("SET l[0] = :a REMOVE l[1]", v, base).unwrap();
    assert_eq!(
        out,
        item(r#"{"l": {"L": [{"S": "a"}, {"N": "2"}, {"N": "3"}]}}"#)
    );
}

#[test]
fn add_and_delete() {
    let v = r#"{":one": {"N": "1"}, ":ss": {"SS": ["b", "c"]}, ":del": {"SS": ["a", "b", "c"]}}"#;
    let out = apply(
        "ADD n :one, s :ss, fresh :one",
        v,
        r#"{"n": {"N": "1"}, "s": {"SS": ["a"]}}"#,
    )
    .unwrap();
    assert_eq!(
        out,
        item(r#"{"n": {"N": "2"}, "s": {"SS": ["a", "b", "c"]}, "fresh": {"N": "1"}}"#)
    );
    let out = apply("DELETE s :del, absent :del", v, r#"{"s": {"SS": ["a"]}}"#).unwrap();
    assert_eq!(
        out,
        Item::new(),
        "an emptied set is removed; absent is a no-op"
    );
    assert_eq!(
        apply("DELETE s :ss", v, r#"{"s": {"NS": ["1"]}}"#),
        Err(ExprError::IncorrectDataType)
    );
}

#[test]
fn key_attributes_cannot_be_updated() {
    let u = upd("SET a = :v REMOVE pk", r#"{":v": {"N": "1"}}"#);
    let e = u.check_key_attributes(&["pk", "sk"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    );
    assert!(
        upd("SET a = :v", r#"{":v": {"N": "1"}}"#)
            .check_key_attributes(&["pk"])
            .is_ok()
    );
}

#[test]
fn updated_paths_give_updated_old_and_new() {
    let u = upd("SET m.a = :v REMOVE x", r#"{":v": {"N": "1"}}"#);
    let old = item(r#"{"m": {"M": {"a": {"N": "0"}, "b": {"N": "7"}}}, "x": {"S": "x"}}"#);
    let out = u.apply(&old).unwrap();
    assert_eq!(
        project(&old, &out.updated_paths),
        item(r#"{"m": {"M": {"a": {"N": "0"}}}, "x": {"S": "x"}}"#)
    );
    assert_eq!(
        project(&out.item, &out.updated_paths),
        item(r#"{"m": {"M": {"a": {"N": "1"}}}}"#)
    );
    assert_eq!(
        out.updated_attributes().into_iter().collect::<Vec<_>>(),
        ["m", "x"]
    );
}

#[test]
fn projection_keeps_the_document_shape() {
    let it = item(
        r#"{"a": {"M": {"b": {"L": [{"M": {"c": {"N": "1"}, "d": {"N": "2"}}}, {"N": "9"}, {"S": "z"}]}}}, "e": {"S": "e"}}"#,
    );
    let n = names(&[("#e", "e")]);
    let p = RequestExpressions {
        projection: Some("a.b[0].c, a.b[2], #e, absent.x"),
        names: Some(&n),
        ..Default::default()
    }
    .parse()
    .unwrap()
    .projection
    .unwrap();
    assert_eq!(
        p.apply(&it),
        item(
            r#"{"a": {"M": {"b": {"L": [{"M": {"c": {"N": "1"}}}, {"S": "z"}]}}}, "e": {"S": "e"}}"#
        )
    );
    assert_eq!(project(&it, &[Path::attr("nope")]), Item::new());
}
