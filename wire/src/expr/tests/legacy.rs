//! Legacy conditions (API reference `LegacyConditionalParameters.Expected` / `.QueryFilter` /
//! `.ScanFilter` / `.ConditionalOperator`, data types `Condition` and `ExpectedAttributeValue`;
//! dynalite's validation tests): operator semantics through `evaluate`, validation messages,
//! and parameter mixing. KeyConditions, AttributesToGet, AttributeUpdates: `legacy_updates.rs`.

use serde_json::{Map, Value, json};

use super::helpers::item;
use crate::expr::evaluate;
use crate::expr::legacy::{ConditionalOperator, Operation, check_parameter_mix, parse_legacy};
use crate::item::{AttributeValue, Item};

const ITEM: &str = r#"{
    "n": {"N": "5"}, "s": {"S": "abcdef"}, "b": {"B": "AQIDBA=="},
    "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AQ=="]},
    "l": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": true}]}, "m": {"M": {"k": {"N": "10"}}},
    "t": {"BOOL": true}, "nul": {"NULL": true}
}"#;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// Evaluates a one-entry ScanFilter `{attr: {ComparisonOperator: op, AttributeValueList: list}}`.
fn filter(attr: &str, op: &str, list: Value, it: Option<&Item>) -> bool {
    let req =
        obj(json!({"ScanFilter": {attr: {"ComparisonOperator": op, "AttributeValueList": list}}}));
    let parsed = parse_legacy(Operation::Scan, &req).unwrap_or_else(|e| panic!("{op}: {e}"));
    evaluate(&parsed.filter.unwrap(), it)
}

fn err(op: Operation, req: Value) -> String {
    parse_legacy(op, &obj(req)).unwrap_err().to_string()
}

fn scan_err(filter: Value) -> String {
    err(Operation::Scan, json!({ "ScanFilter": filter }))
}

#[test]
fn eq_ne_and_ordering() {
    let it = item(ITEM);
    let i = Some(&it);
    assert!(filter("n", "EQ", json!([{"N": "5.0"}]), i));
    assert!(
        !filter("n", "EQ", json!([{"S": "5"}]), i),
        "another type is unequal"
    );
    assert!(
        !filter("zz", "EQ", json!([{"N": "5"}]), i),
        "EQ on a missing attribute"
    );
    assert!(
        filter("ss", "EQ", json!([{"SS": ["y", "x"]}]), i),
        "sets compare as sets"
    );
    assert!(filter("m", "EQ", json!([{"M": {"k": {"N": "10"}}}]), i));
    assert!(
        filter("zz", "NE", json!([{"N": "5"}]), i),
        "NE on a missing attribute"
    );
    assert!(filter("n", "NE", json!([{"S": "5"}]), i));
    assert!(!filter("n", "NE", json!([{"N": "5"}]), i));
    assert!(filter("n", "GT", json!([{"N": "4.99"}]), i));
    assert!(filter("n", "GE", json!([{"N": "5"}]), i));
    assert!(!filter("n", "LT", json!([{"N": "5"}]), i));
    assert!(filter("n", "LE", json!([{"N": "5"}]), i));
    assert!(filter("s", "LT", json!([{"S": "b"}]), i));
    assert!(filter("b", "GT", json!([{"B": "AQ=="}]), i));
    assert!(
        !filter("s", "GT", json!([{"N": "1"}]), i),
        "another type compares false"
    );
    assert!(!filter("zz", "LT", json!([{"N": "100"}]), i));
    assert!(!filter("zz", "GE", json!([{"N": "-100"}]), i));
}

#[test]
fn null_contains_begins_in_between() {
    let it = item(ITEM);
    let i = Some(&it);
    assert!(filter("nul", "NOT_NULL", json!([]), i));
    assert!(!filter("zz", "NOT_NULL", json!([]), i));
    assert!(filter("zz", "NULL", json!([]), i));
    assert!(!filter("nul", "NULL", json!([]), i), "a NULL value exists");
    assert!(filter("zz", "NULL", Value::Null, None), "no item at all");
    assert!(filter("s", "CONTAINS", json!([{"S": "cde"}]), i));
    assert!(
        filter("ss", "CONTAINS", json!([{"S": "x"}]), i),
        "set membership"
    );
    assert!(!filter("ss", "CONTAINS", json!([{"S": "z"}]), i));
    assert!(filter("ns", "CONTAINS", json!([{"N": "2.0"}]), i));
    assert!(filter("bs", "CONTAINS", json!([{"B": "AQ=="}]), i));
    assert!(
        filter("b", "CONTAINS", json!([{"B": "AgM="}]), i),
        "binary sub-sequence"
    );
    assert!(
        filter("l", "CONTAINS", json!([{"S": "x"}]), i),
        "list element"
    );
    assert!(
        filter("l", "CONTAINS", json!([{"BOOL": true}]), i),
        "list element of BOOL"
    );
    assert!(
        !filter("n", "CONTAINS", json!([{"N": "5"}]), i),
        "a number contains nothing"
    );
    assert!(!filter("zz", "CONTAINS", json!([{"S": "a"}]), i));
    assert!(
        filter("zz", "NOT_CONTAINS", json!([{"S": "a"}]), i),
        "missing: true"
    );
    assert!(!filter("ss", "NOT_CONTAINS", json!([{"S": "x"}]), i));
    assert!(filter("ss", "NOT_CONTAINS", json!([{"S": "q"}]), i));
    assert!(!filter("l", "NOT_CONTAINS", json!([{"N": "1"}]), i));
    assert!(filter("n", "NOT_CONTAINS", json!([{"S": "5"}]), i));
    assert!(filter("s", "BEGINS_WITH", json!([{"S": "abc"}]), i));
    assert!(!filter("s", "BEGINS_WITH", json!([{"S": "bc"}]), i));
    assert!(filter("b", "BEGINS_WITH", json!([{"B": "AQI="}]), i));
    assert!(!filter("ss", "BEGINS_WITH", json!([{"S": "x"}]), i));
    assert!(!filter("zz", "BEGINS_WITH", json!([{"S": "a"}]), i));
    assert!(filter("n", "IN", json!([{"N": "1"}, {"N": "5"}]), i));
    assert!(!filter("n", "IN", json!([{"N": "1"}, {"N": "6"}]), i));
    assert!(!filter("zz", "IN", json!([{"N": "5"}]), i));
    assert!(
        filter("n", "BETWEEN", json!([{"N": "5"}, {"N": "5"}]), i),
        "inclusive"
    );
    assert!(filter("s", "BETWEEN", json!([{"S": "a"}, {"S": "b"}]), i));
    assert!(!filter("n", "BETWEEN", json!([{"N": "6"}, {"N": "9"}]), i));
    assert!(!filter("s", "BETWEEN", json!([{"N": "1"}, {"N": "9"}]), i));
    assert!(!filter("zz", "BETWEEN", json!([{"N": "1"}, {"N": "9"}]), i));
}

#[test]
fn conditional_operator_joins_entries() {
    let it = item(ITEM);
    let f = json!({
        "n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "5"}]},
        "s": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "nope"}]}
    });
    let and = parse_legacy(Operation::Scan, &obj(json!({"ScanFilter": f}))).unwrap();
    assert!(!evaluate(&and.filter.unwrap(), Some(&it)), "AND by default");
    let or = parse_legacy(
        Operation::Scan,
        &obj(json!({"ScanFilter": f, "ConditionalOperator": "OR"})),
    )
    .unwrap();
    assert!(evaluate(&or.filter.unwrap(), Some(&it)));
    // Many entries stay shallow (balanced) and evaluate correctly.
    let mut many = Map::new();
    for i in 0..1000 {
        many.insert(format!("a{i}"), json!({"ComparisonOperator": "NULL"}));
    }
    let req = obj(json!({"ScanFilter": many, "ConditionalOperator": "AND"}));
    let c = parse_legacy(Operation::Scan, &req).unwrap().filter.unwrap();
    assert!(evaluate(&c, Some(&it)));
    let mut with_a5 = it.clone();
    with_a5.insert("a5".into(), AttributeValue::Null);
    assert!(!evaluate(&c, Some(&with_a5)));
    assert_eq!(ConditionalOperator::parse(None), Ok(None));
}

#[test]
fn expected_forms() {
    let it = item(ITEM);
    let cond = |e: Value| {
        parse_legacy(Operation::PutItem, &obj(json!({ "Expected": e })))
            .unwrap()
            .condition
            .unwrap()
    };
    let c = cond(json!({"n": {"Value": {"N": "5"}}}));
    assert!(evaluate(&c, Some(&it)));
    assert!(!evaluate(&c, None));
    let c = cond(json!({"n": {"Value": {"N": "5"}, "Exists": true}}));
    assert!(evaluate(&c, Some(&it)));
    let c = cond(json!({"zz": {"Exists": false}}));
    assert!(evaluate(&c, Some(&it)) && evaluate(&c, None));
    assert!(!evaluate(&cond(json!({"n": {"Exists": false}})), Some(&it)));
    let c = cond(json!({"n": {"ComparisonOperator": "GT", "Value": {"N": "4"}}}));
    assert!(evaluate(&c, Some(&it)));
    let c = cond(
        json!({"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "4"}]}}),
    );
    assert!(!evaluate(&c, Some(&it)));
    let c = cond(json!({"zz": {"ComparisonOperator": "NOT_NULL"}}));
    assert!(!evaluate(&c, Some(&it)));
    let req = json!({
        "Expected": {"n": {"Value": {"N": "1"}}, "s": {"Value": {"S": "abcdef"}}},
        "ConditionalOperator": "OR"
    });
    let c = parse_legacy(Operation::DeleteItem, &obj(req))
        .unwrap()
        .condition
        .unwrap();
    assert!(evaluate(&c, Some(&it)));
}

#[test]
fn expected_errors() {
    let e = |x: Value| err(Operation::PutItem, json!({ "Expected": x }));
    let p = "One or more parameter values were invalid: ";
    assert_eq!(
        e(json!({"a": {"Value": {"S": "a"}, "AttributeValueList": []}})),
        format!("{p}Value and AttributeValueList cannot be used together for Attribute: a")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "EQ", "Exists": true, "Value": {"S": "a"}}})),
        format!("{p}Exists and ComparisonOperator cannot be used together for Attribute: a")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "GT"}})),
        format!(
            "{p}Value or AttributeValueList must be used with ComparisonOperator: GT for Attribute: a"
        )
    );
    assert_eq!(
        e(json!({"a": {"AttributeValueList": [{"S": "a"}]}})),
        format!(
            "{p}AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
        )
    );
    assert_eq!(
        e(json!({"a": {}})),
        format!("{p}Value must be provided when Exists is null for Attribute: a")
    );
    assert_eq!(
        e(json!({"a": {"Exists": true}})),
        format!("{p}Value must be provided when Exists is true for Attribute: a")
    );
    assert_eq!(
        e(json!({"a": {"Exists": false, "Value": {"S": "a"}}})),
        format!("{p}Value cannot be used when Exists is false for Attribute: a")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "BETWEEN", "Value": {"S": "a"}}})),
        format!("{p}Invalid number of argument(s) for the BETWEEN ComparisonOperator")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "NULL", "Value": {"S": "a"}}})),
        format!("{p}Invalid number of argument(s) for the NULL ComparisonOperator")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "LT", "Value": {"BOOL": true}}})),
        format!("{p}ComparisonOperator LT is not valid for BOOL AttributeValue type")
    );
    assert_eq!(
        e(json!({"a": {"ComparisonOperator": "XX"}})),
        "1 validation error detected: Value 'XX' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
    );
    assert_eq!(
        e(json!({"a": {"Value": {"SS": []}}})),
        format!("{p}An string set  may not be empty")
    );
    let shape = parse_legacy(
        Operation::PutItem,
        &obj(json!({"Expected": {"a": {"Exists": "yes"}}})),
    )
    .unwrap_err();
    assert!(shape.is_serialization(), "{shape}");
    let shape = parse_legacy(Operation::PutItem, &obj(json!({"Expected": [1]}))).unwrap_err();
    assert!(shape.is_serialization(), "{shape}");
    assert!(
        !parse_legacy(Operation::PutItem, &obj(json!({"Expected": {"a": {}}})))
            .unwrap_err()
            .is_serialization()
    );
}

#[test]
fn filter_argument_counts_and_types() {
    let p = "One or more parameter values were invalid: ";
    let count = |op: &str, list: Value| {
        scan_err(json!({"a": {"ComparisonOperator": op, "AttributeValueList": list}}))
    };
    for op in [
        "EQ",
        "NE",
        "LE",
        "LT",
        "GE",
        "GT",
        "CONTAINS",
        "NOT_CONTAINS",
        "BEGINS_WITH",
        "IN",
        "BETWEEN",
    ] {
        assert_eq!(
            count(op, json!([])),
            format!("{p}Invalid number of argument(s) for the {op} ComparisonOperator")
        );
    }
    for op in [
        "EQ",
        "NE",
        "LE",
        "LT",
        "GE",
        "GT",
        "CONTAINS",
        "NOT_CONTAINS",
        "NULL",
        "NOT_NULL",
    ] {
        assert_eq!(
            count(op, json!([{"S": "a"}, {"S": "a"}])),
            format!("{p}Invalid number of argument(s) for the {op} ComparisonOperator")
        );
    }
    assert_eq!(
        count("BETWEEN", json!([{"S": "a"}, {"S": "b"}, {"S": "c"}])),
        format!("{p}Invalid number of argument(s) for the BETWEEN ComparisonOperator")
    );
    // A missing AttributeValueList is an empty one.
    assert_eq!(
        scan_err(json!({"a": {"ComparisonOperator": "EQ"}})),
        format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator")
    );
    let bad = [
        json!({"BOOL": true}),
        json!({"NULL": true}),
        json!({"SS": ["a"]}),
        json!({"NS": ["1"]}),
        json!({"BS": ["YQ=="]}),
        json!({"M": {}}),
        json!({"L": []}),
    ];
    for op in ["LT", "LE", "GT", "GE", "IN"] {
        for v in &bad {
            let t = v.as_object().unwrap().keys().next().unwrap().clone();
            assert_eq!(
                count(op, json!([v])),
                format!("{p}ComparisonOperator {op} is not valid for {t} AttributeValue type")
            );
        }
    }
    for v in &bad {
        let t = v.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(
            count("BETWEEN", json!([v, v])),
            format!("{p}ComparisonOperator BETWEEN is not valid for {t} AttributeValue type")
        );
        let begins = count("BEGINS_WITH", json!([v]));
        assert_eq!(
            begins,
            format!("{p}ComparisonOperator BEGINS_WITH is not valid for {t} AttributeValue type")
        );
    }
    for v in &bad[2..] {
        let t = v.as_object().unwrap().keys().next().unwrap().clone();
        for op in ["CONTAINS", "NOT_CONTAINS"] {
            assert_eq!(
                count(op, json!([v])),
                format!("{p}ComparisonOperator {op} is not valid for {t} AttributeValue type")
            );
        }
    }
    assert_eq!(
        count("BEGINS_WITH", json!([{"N": "1"}])),
        format!("{p}ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")
    );
    // Accepted: CONTAINS with BOOL / NULL, EQ with anything.
    let it = item(ITEM);
    assert!(!filter("n", "CONTAINS", json!([{"NULL": true}]), Some(&it)));
    assert!(filter(
        "l",
        "EQ",
        json!([{"L": [{"N": "1"}, {"S": "x"}, {"BOOL": true}]}]),
        Some(&it)
    ));
    assert_eq!(
        count("IN", json!([{"S": "b"}, {"N": "1"}])),
        format!("{p}AttributeValues inside AttributeValueList must be of same type")
    );
    assert_eq!(
        count("BETWEEN", json!([{"S": "b"}, {"S": "a"}])),
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
    );
    // A bad value is reported before the count.
    assert_eq!(
        count("EQ", json!([{"N": "1"}, {"NULL": false}, {}])),
        format!("{p}Null attribute value types must have the value of true")
    );
    // Framework checks on the whole map come first.
    assert_eq!(
        scan_err(json!({"a": {"ComparisonOperator": "EQ"}, "b": {}})),
        "1 validation error detected: Value null at 'scanFilter.b.member.comparisonOperator' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        err(Operation::Scan, json!({"ConditionalOperator": "AN"})),
        "1 validation error detected: Value 'AN' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]"
    );
}

#[test]
fn conditional_operator_rules() {
    assert_eq!(
        err(Operation::Scan, json!({"ConditionalOperator": "OR"})),
        "ConditionalOperator cannot be used without Filter or Expected"
    );
    assert_eq!(
        err(
            Operation::PutItem,
            json!({"ConditionalOperator": "OR", "Expected": {"a": {"Exists": false}}})
        ),
        "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    );
    // GetItem takes neither ConditionalOperator nor ScanFilter: ignored, whatever they hold.
    for extra in [
        json!({"ConditionalOperator": "XX"}),
        json!({"ScanFilter": 5}),
    ] {
        assert!(parse_legacy(Operation::GetItem, &obj(extra)).is_ok());
    }
    assert!(
        parse_legacy(
            Operation::GetItem,
            &obj(json!({"ConditionalOperator": "OR"}))
        )
        .is_ok()
    );
}

#[test]
fn parameter_mix() {
    let mix =
        |op: Operation, req: Value| check_parameter_mix(op, &obj(req)).map_err(|e| e.to_string());
    assert_eq!(
        mix(
            Operation::Scan,
            json!({"ScanFilter": {}, "AttributesToGet": ["a"], "ConditionalOperator": "OR",
                   "FilterExpression": "", "ProjectionExpression": "",
                   "ExpressionAttributeNames": {}, "ExpressionAttributeValues": {}})
        ),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet, ScanFilter, ConditionalOperator} Expression parameters: {ProjectionExpression, FilterExpression}".into())
    );
    assert_eq!(
        mix(Operation::PutItem, json!({"Expected": {}, "ConditionExpression": ""})),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}".into())
    );
    assert_eq!(
        mix(Operation::UpdateItem, json!({"AttributeUpdates": {}, "ConditionExpression": "a = a"})),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates} Expression parameters: {ConditionExpression}".into())
    );
    assert_eq!(
        mix(Operation::BatchGetItem, json!({"AttributesToGet": ["a"], "ProjectionExpression": "a"})),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}".into())
    );
    let all = json!({"AttributesToGet": ["a"], "QueryFilter": {}, "ConditionalOperator": "OR",
        "KeyConditions": {}, "ProjectionExpression": "a", "FilterExpression": "a", "KeyConditionExpression": "a"});
    assert_eq!(
        mix(Operation::Query, all),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet, QueryFilter, ConditionalOperator, KeyConditions} Expression parameters: {ProjectionExpression, FilterExpression, KeyConditionExpression}".into())
    );
    // KeyConditions may go with a FilterExpression when there is no KeyConditionExpression.
    assert_eq!(
        mix(
            Operation::Query,
            json!({"KeyConditions": {}, "FilterExpression": "a = :v"})
        ),
        Ok(())
    );
    assert_eq!(
        mix(Operation::Query, json!({"KeyConditions": {}, "QueryFilter": {}, "FilterExpression": "a"})),
        Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {QueryFilter} Expression parameters: {FilterExpression}".into())
    );
    // A JSON null is an absent parameter.
    assert_eq!(
        mix(
            Operation::PutItem,
            json!({"Expected": null, "ConditionExpression": "a = a"})
        ),
        Ok(())
    );
    assert_eq!(
        mix(
            Operation::PutItem,
            json!({"Expected": {}, "ExpressionAttributeNames": {}, "ExpressionAttributeValues": {}})
        ),
        Err("ExpressionAttributeNames can only be specified when using expressions".into())
    );
    assert_eq!(
        mix(Operation::PutItem, json!({"Expected": {}, "ExpressionAttributeValues": {}})),
        Err("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null".into())
    );
    assert_eq!(
        mix(Operation::Query, json!({"ExpressionAttributeValues": {}})),
        Err("ExpressionAttributeValues can only be specified when using expressions: FilterExpression and KeyConditionExpression are null".into())
    );
    assert_eq!(
        mix(Operation::Scan, json!({"ProjectionExpression": "a", "ExpressionAttributeValues": {":v": {"S": "a"}}})),
        Err("ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null".into())
    );
    assert_eq!(
        mix(Operation::UpdateItem, json!({"ExpressionAttributeValues": {}})),
        Err("ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null".into())
    );
    assert_eq!(
        mix(
            Operation::GetItem,
            json!({"ProjectionExpression": "a", "ExpressionAttributeNames": {"#a": "a"}})
        ),
        Ok(())
    );
    // parse_legacy runs the mix check too.
    assert!(
        err(
            Operation::Scan,
            json!({"ScanFilter": {}, "FilterExpression": "a"})
        )
        .starts_with("Can not use both")
    );
}
