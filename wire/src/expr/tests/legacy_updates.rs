//! Legacy KeyConditions, AttributesToGet and AttributeUpdates (API reference
//! `LegacyConditionalParameters.KeyConditions` / `.AttributesToGet` / `.AttributeUpdates`, data
//! type `AttributeValueUpdate`; dynalite's validation tests): key ranges against a key schema,
//! projections, and updates applied through `UpdateExpr::apply`.

use serde_json::{Map, Value, json};

use super::helpers::item;
use crate::expr::legacy::{LegacyKeyConditions, Operation, parse_legacy};
use crate::expr::{ExprError, KeyCondition, Path, SortKeyCondition};
use crate::ids::TableId;
use crate::item::{AttributeValue, Item, KeySchema};
use crate::key::KeyType;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn err(op: Operation, req: Value) -> String {
    parse_legacy(op, &obj(req)).unwrap_err().to_string()
}

fn schema(range: Option<KeyType>) -> KeySchema {
    KeySchema {
        table: TableId(1),
        hash: ("h".into(), KeyType::S),
        range: range.map(|t| ("r".into(), t)),
    }
}

fn keyconds(kc: Value, s: &KeySchema) -> Result<KeyCondition, String> {
    let req = obj(json!({ "KeyConditions": kc }));
    let parsed = parse_legacy(Operation::Query, &req).map_err(|e| e.to_string())?;
    parsed
        .key_conditions
        .unwrap()
        .resolve(s)
        .map_err(|e| e.to_string())
}

#[test]
fn key_conditions() {
    let hr = schema(Some(KeyType::N));
    let h = schema(None);
    let eq_h = json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]});
    let ok = keyconds(json!({"h": eq_h, "r": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "9"}]}}), &hr).unwrap();
    assert_eq!(ok.hash, AttributeValue::S("x".into()));
    assert!(matches!(ok.sort, Some(SortKeyCondition::Between(..))));
    for (op, check) in [("EQ", 0), ("LT", 1), ("LE", 2), ("GT", 3), ("GE", 4)] {
        let k = keyconds(
            json!({"h": eq_h, "r": {"ComparisonOperator": op, "AttributeValueList": [{"N": "2"}]}}),
            &hr,
        )
        .unwrap();
        let got = match k.sort.unwrap() {
            SortKeyCondition::Eq(_) => 0,
            SortKeyCondition::Lt(_) => 1,
            SortKeyCondition::Le(_) => 2,
            SortKeyCondition::Gt(_) => 3,
            SortKeyCondition::Ge(_) => 4,
            _ => 9,
        };
        assert_eq!(got, check, "{op}");
    }
    assert_eq!(keyconds(json!({"h": eq_h}), &hr).unwrap().sort, None);
    let hs = schema(Some(KeyType::S));
    let k = keyconds(json!({"h": eq_h, "r": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "a"}]}}), &hs).unwrap();
    assert_eq!(
        k.sort,
        Some(SortKeyCondition::BeginsWith(AttributeValue::S("a".into())))
    );
    assert_eq!(
        keyconds(
            json!({"r": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}}),
            &hr
        ),
        Err("Query condition missed key schema element: h".into())
    );
    assert_eq!(
        keyconds(json!({"h": eq_h, "x": eq_h}), &hr),
        Err("Query condition missed key schema element: r".into())
    );
    assert_eq!(
        keyconds(json!({"h": eq_h, "x": eq_h}), &h),
        Err("Query key condition not supported".into())
    );
    for op in [
        json!({"ComparisonOperator": "NULL"}),
        json!({"ComparisonOperator": "NE", "AttributeValueList": [{"S": "a"}]}),
        json!({"ComparisonOperator": "IN", "AttributeValueList": [{"S": "a"}]}),
        json!({"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "a"}]}),
    ] {
        assert_eq!(
            keyconds(json!({"h": op}), &h),
            Err("Attempted conditional constraint is not an indexable operation".into())
        );
        assert_eq!(
            keyconds(json!({"h": eq_h, "r": op}), &hs),
            Err("Attempted conditional constraint is not an indexable operation".into())
        );
    }
    assert_eq!(
        keyconds(
            json!({"h": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "a"}]}}),
            &h
        ),
        Err("Query key condition not supported".into())
    );
    assert_eq!(
        keyconds(json!({"h": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}}), &h),
        Err("One or more parameter values were invalid: Condition parameter type does not match schema type".into())
    );
    assert_eq!(
        keyconds(json!({}), &h),
        Err("Conditions can be of length 1 or 2 only".into())
    );
    assert_eq!(
        keyconds(
            json!({"a": {"ComparisonOperator": "NULL"}, "b": {"ComparisonOperator": "NULL"}, "c": {"ComparisonOperator": "NULL"}}),
            &h
        ),
        Err("Conditions can be of length 1 or 2 only".into())
    );
    assert_eq!(
        err(Operation::Query, json!({"QueryFilter": {}})),
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
    );
    assert_eq!(LegacyKeyConditions::parse(None), Ok(None));
    // The result equals what the expression path gives for the same condition.
    let expr = crate::expr::RequestExpressions {
        key_condition: Some("h = :h AND r BETWEEN :a AND :b"),
        values: Some(&super::helpers::values(
            r#"{":h": {"S": "x"}, ":a": {"N": "1"}, ":b": {"N": "9"}}"#,
        )),
        ..Default::default()
    }
    .parse()
    .unwrap();
    let from_expr = crate::expr::key_condition(&expr.key_condition.unwrap(), &hr).unwrap();
    assert_eq!(ok, from_expr);
}

#[test]
fn attributes_to_get() {
    let p = parse_legacy(
        Operation::GetItem,
        &obj(json!({"AttributesToGet": ["a", "b.c"]})),
    )
    .unwrap()
    .projection
    .unwrap();
    assert_eq!(
        p.paths,
        vec![Path::attr("a"), Path::attr("b.c")],
        "names are literal"
    );
    let it = item(
        r#"{"a": {"S": "1"}, "b": {"M": {"c": {"S": "2"}}}, "b.c": {"S": "3"}, "z": {"S": "4"}}"#,
    );
    assert_eq!(
        p.apply(&it),
        item(r#"{"a": {"S": "1"}, "b.c": {"S": "3"}}"#)
    );
    assert_eq!(
        err(Operation::Scan, json!({"AttributesToGet": ["a", "b", "a"]})),
        "One or more parameter values were invalid: Duplicate value in attribute name: a"
    );
    assert_eq!(
        err(Operation::GetItem, json!({"AttributesToGet": []})),
        "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let many: Vec<String> = (0..256).map(|i| format!("a{i}")).collect();
    let e = err(
        Operation::Query,
        json!({"AttributesToGet": many, "KeyConditions": {"h": {"ComparisonOperator": "NULL"}}}),
    );
    assert!(e.ends_with("at 'attributesToGet' failed to satisfy constraint: Member must have length less than or equal to 255"), "{e}");
    let ok: Vec<String> = (0..255).map(|i| format!("a{i}")).collect();
    assert!(parse_legacy(Operation::Scan, &obj(json!({ "AttributesToGet": ok }))).is_ok());
    assert!(
        parse_legacy(Operation::Scan, &obj(json!({"AttributesToGet": [1]})))
            .unwrap_err()
            .is_serialization()
    );
}

fn updates(u: Value) -> Result<crate::expr::UpdateExpr, String> {
    parse_legacy(
        Operation::UpdateItem,
        &obj(json!({ "AttributeUpdates": u })),
    )
    .map(|p| p.update.unwrap())
    .map_err(|e| e.to_string())
}

fn apply(u: Value, base: &str) -> Result<Item, ExprError> {
    updates(u).unwrap().apply(&item(base)).map(|o| o.item)
}

#[test]
fn attribute_updates_apply() {
    let base = r#"{"k": {"S": "1"}, "n": {"N": "5"}, "ss": {"SS": ["a", "b"]}, "l": {"L": [{"N": "1"}]}, "s": {"S": "x"}}"#;
    let out = apply(
        json!({
            "n": {"Action": "ADD", "Value": {"N": "-2.5"}},
            "ss": {"Action": "ADD", "Value": {"SS": ["c", "a"]}},
            "l": {"Action": "ADD", "Value": {"L": [{"N": "1"}, {"S": "y"}]}},
            "s": {"Value": {"N": "7"}},
            "new_n": {"Action": "ADD", "Value": {"N": "3"}},
            "new_l": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}},
            "new_ns": {"Action": "ADD", "Value": {"NS": ["1"]}}
        }),
        base,
    )
    .unwrap();
    assert_eq!(
        out,
        item(
            r#"{"k": {"S": "1"}, "n": {"N": "2.5"}, "ss": {"SS": ["a", "b", "c"]},
            "l": {"L": [{"N": "1"}, {"N": "1"}, {"S": "y"}]}, "s": {"N": "7"},
            "new_n": {"N": "3"}, "new_l": {"L": [{"S": "z"}]}, "new_ns": {"NS": ["1"]}}"#
        )
    );
    let out = apply(
        json!({
            "ss": {"Action": "DELETE", "Value": {"SS": ["a", "q"]}},
            "n": {"Action": "DELETE"},
            "missing": {"Action": "DELETE"},
            "missing_set": {"Action": "DELETE", "Value": {"NS": ["1"]}}
        }),
        base,
    )
    .unwrap();
    assert_eq!(
        out,
        item(
            r#"{"k": {"S": "1"}, "ss": {"SS": ["b"]}, "l": {"L": [{"N": "1"}]}, "s": {"S": "x"}}"#
        )
    );
    let out = apply(
        json!({"ss": {"Action": "DELETE", "Value": {"SS": ["a", "b"]}}}),
        base,
    )
    .unwrap();
    assert!(!out.contains_key("ss"), "a set left empty is removed");
    let mismatch = "Type mismatch for attribute to update";
    assert_eq!(
        apply(json!({"s": {"Action": "ADD", "Value": {"N": "1"}}}), base)
            .unwrap_err()
            .to_string(),
        mismatch
    );
    assert_eq!(
        apply(
            json!({"ss": {"Action": "ADD", "Value": {"NS": ["1"]}}}),
            base
        )
        .unwrap_err()
        .to_string(),
        mismatch
    );
    assert_eq!(
        apply(json!({"l": {"Action": "ADD", "Value": {"N": "1"}}}), base)
            .unwrap_err()
            .to_string(),
        mismatch
    );
    assert_eq!(
        apply(json!({"n": {"Action": "ADD", "Value": {"L": []}}}), base)
            .unwrap_err()
            .to_string(),
        mismatch
    );
    assert_eq!(
        apply(
            json!({"ss": {"Action": "DELETE", "Value": {"NS": ["1"]}}}),
            base
        )
        .unwrap_err()
        .to_string(),
        mismatch
    );
    assert_eq!(
        apply(
            json!({"n": {"Action": "DELETE", "Value": {"NS": ["1"]}}}),
            base
        )
        .unwrap_err()
        .to_string(),
        mismatch
    );
    // Updated paths feed UPDATED_OLD / UPDATED_NEW.
    let o = updates(json!({"n": {"Action": "ADD", "Value": {"N": "1"}}}))
        .unwrap()
        .apply(&item(base))
        .unwrap();
    assert_eq!(o.updated_paths, vec![Path::attr("n")]);
    // Key attributes are refused as for expressions.
    assert_eq!(
        updates(json!({"k": {"Value": {"S": "2"}}}))
            .unwrap()
            .check_key_attributes(&["k"])
            .unwrap_err()
            .to_string(),
        "One or more parameter values were invalid: Cannot update attribute k. This attribute is part of the key"
    );
}

#[test]
fn attribute_updates_validation() {
    let p = "One or more parameter values were invalid: ";
    assert_eq!(
        updates(json!({"a": {"Action": "PUT"}})),
        Err(format!(
            "{p}Only DELETE action is allowed when no attribute value is specified"
        ))
    );
    assert_eq!(
        updates(json!({"a": {}})),
        Err(format!(
            "{p}Only DELETE action is allowed when no attribute value is specified"
        ))
    );
    assert_eq!(
        updates(json!({"a": {"Action": "ADD"}})),
        Err(format!(
            "{p}Only DELETE action is allowed when no attribute value is specified"
        ))
    );
    for t in [
        json!({"N": "1"}),
        json!({"S": "a"}),
        json!({"L": []}),
        json!({"M": {}}),
        json!({"BOOL": true}),
    ] {
        let name = t.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(
            updates(json!({"a": {"Action": "DELETE", "Value": t}})),
            Err(format!(
                "{p}DELETE action with value is not supported for the type {name}"
            ))
        );
    }
    for t in [
        json!({"S": "a"}),
        json!({"B": "YQ=="}),
        json!({"M": {}}),
        json!({"BOOL": true}),
        json!({"NULL": true}),
    ] {
        let name = t.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(
            updates(json!({"a": {"Action": "ADD", "Value": t}})),
            Err(format!(
                "{p}ADD action is not supported for the type {name}"
            ))
        );
    }
    assert_eq!(
        updates(json!({"a": {"Action": "SET", "Value": {"S": "a"}}})),
        Err("1 validation error detected: Value 'SET' at 'attributeUpdates.a.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]".into())
    );
    assert_eq!(
        updates(json!({"a": {"Value": {"NS": ["1", "1.0"]}}})),
        Err(format!("{p}Input collection contains duplicates."))
    );
    assert_eq!(updates(json!({})).unwrap().actions, vec![]);
}
