//! Seeded randomized robustness of the legacy parameters: random JSON shapes (near-valid
//! requests with mutations, and arbitrary JSON) for every operation never panic; accepted
//! requests then evaluate, apply and resolve without panicking, and each takes bounded time.
//! Replay with `CAIRN_SEED=<n>`.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::helpers::item;
use crate::expr::evaluate;
use crate::expr::legacy::{Operation, check_parameter_mix, parse_legacy};
use crate::ids::TableId;
use crate::item::{Item, KeySchema};
use crate::key::KeyType;
use crate::test_rng::{Rng, for_each_seed};

const OPS: [Operation; 7] = [
    Operation::PutItem,
    Operation::DeleteItem,
    Operation::UpdateItem,
    Operation::GetItem,
    Operation::BatchGetItem,
    Operation::Query,
    Operation::Scan,
];

const PARAMS: &[&str] = &[
    "Expected",
    "ConditionalOperator",
    "AttributeUpdates",
    "AttributesToGet",
    "QueryFilter",
    "ScanFilter",
    "KeyConditions",
    "ConditionExpression",
    "UpdateExpression",
    "ProjectionExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
];

const KEYS: &[&str] = &[
    "ComparisonOperator",
    "AttributeValueList",
    "Value",
    "Exists",
    "Action",
    "S",
    "N",
    "B",
    "SS",
    "NS",
    "L",
    "M",
    "BOOL",
    "NULL",
    "h",
    "r",
    "a",
];

const STRINGS: &[&str] = &[
    "",
    "a",
    "h",
    "1",
    "-1.5e3",
    "x",
    "AQ==",
    "EQ",
    "NE",
    "LT",
    "LE",
    "GT",
    "GE",
    "IN",
    "BETWEEN",
    "NULL",
    "NOT_NULL",
    "CONTAINS",
    "NOT_CONTAINS",
    "BEGINS_WITH",
    "AND",
    "OR",
    "PUT",
    "ADD",
    "DELETE",
    "eq",
    "1e200",
    "#",
];

fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 4 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(1, 2)),
        2 => json!(rng.below(5) as i64 - 2),
        3 | 4 => Value::String(rng.pick(STRINGS).to_string()),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (rng.pick(KEYS).to_string(), random_json(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// A plausible attribute value, sometimes broken.
fn value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!({"S": *rng.pick(&["a", "b", "ab", ""])}),
        1 => json!({"N": *rng.pick(&["1", "2.5", "-3", "1e5"])}),
        2 => json!({"B": *rng.pick(&["AQ==", "AQI="])}),
        3 => json!({"SS": ["a", "b"]}),
        4 => json!({"NS": ["1"]}),
        5 => json!({"L": [{"S": "a"}]}),
        6 => json!({"BOOL": true}),
        7 => json!({"NULL": true}),
        8 => json!({"M": {"k": {"N": "1"}}}),
        _ => random_json(rng, 3),
    }
}

fn condition(rng: &mut Rng, expected: bool) -> Value {
    let mut m = Map::new();
    if rng.chance(4, 5) {
        m.insert(
            "ComparisonOperator".into(),
            Value::String(rng.pick(&STRINGS[7..20]).to_string()),
        );
    }
    if rng.chance(3, 4) {
        let n = rng.below(4);
        m.insert(
            "AttributeValueList".into(),
            Value::Array((0..n).map(|_| value(rng)).collect()),
        );
    }
    if expected && rng.chance(1, 3) {
        m.insert("Value".into(), value(rng));
    }
    if expected && rng.chance(1, 3) {
        m.insert("Exists".into(), Value::Bool(rng.chance(1, 2)));
    }
    if rng.chance(1, 20) {
        return random_json(rng, 2);
    }
    Value::Object(m)
}

fn cond_map(rng: &mut Rng, expected: bool) -> Value {
    let n = rng.below(4);
    Value::Object(
        (0..n)
            .map(|_| {
                (
                    rng.pick(&["h", "r", "a", "b"]).to_string(),
                    condition(rng, expected),
                )
            })
            .collect(),
    )
}

fn request(rng: &mut Rng) -> Map<String, Value> {
    let mut req = Map::new();
    for _ in 0..rng.below(4) {
        let name = *rng.pick(PARAMS);
        let v = match name {
            "Expected" => cond_map(rng, true),
            "QueryFilter" | "ScanFilter" | "KeyConditions" => cond_map(rng, false),
            "ConditionalOperator" => Value::String(rng.pick(&["AND", "OR", "XOR"]).to_string()),
            "AttributeUpdates" => Value::Object(
                (0..rng.below(4))
                    .map(|_| {
                        let mut u = Map::new();
                        if rng.chance(3, 4) {
                            u.insert(
                                "Action".into(),
                                Value::String(
                                    rng.pick(&["PUT", "ADD", "DELETE", "SET"]).to_string(),
                                ),
                            );
                        }
                        if rng.chance(3, 4) {
                            u.insert("Value".into(), value(rng));
                        }
                        (rng.pick(&["a", "b", "h"]).to_string(), Value::Object(u))
                    })
                    .collect(),
            ),
            "AttributesToGet" => Value::Array(
                (0..rng.below(4))
                    .map(|_| Value::String(rng.pick(&["a", "b", "h"]).to_string()))
                    .collect(),
            ),
            _ => Value::String("a".into()),
        };
        let v = if rng.chance(1, 10) {
            random_json(rng, 0)
        } else {
            v
        };
        req.insert(name.to_owned(), v);
    }
    req
}

#[test]
fn random_legacy_requests_never_panic() {
    let items: Vec<Item> = [
        r#"{"h": {"S": "a"}, "r": {"N": "1"}, "a": {"SS": ["a", "b"]}, "b": {"L": [{"S": "a"}]}}"#,
        r#"{"h": {"S": "ab"}, "a": {"N": "2.5"}, "b": {"S": "ab"}}"#,
        r#"{"a": {"B": "AQI="}, "b": {"NS": ["1", "2"]}}"#,
    ]
    .iter()
    .map(|s| item(s))
    .collect();
    let schemas = [
        KeySchema {
            table: TableId(1),
            hash: ("h".into(), KeyType::S),
            range: Some(("r".into(), KeyType::N)),
        },
        KeySchema {
            table: TableId(1),
            hash: ("h".into(), KeyType::S),
            range: None,
        },
    ];
    let (mut accepted, mut rejected) = (0u32, 0u32);
    let mut slowest = Duration::ZERO;
    for_each_seed("random_legacy_requests_never_panic", 8, |seed| {
        let mut rng = Rng::new(seed);
        for _ in 0..2000 {
            let req = match rng.below(8) {
                0 => match random_json(&mut rng, 0) {
                    Value::Object(m) => m,
                    other => Map::from_iter([(rng.pick(PARAMS).to_string(), other)]),
                },
                _ => request(&mut rng),
            };
            let op = *rng.pick(&OPS);
            let start = Instant::now();
            let _ = check_parameter_mix(op, &req);
            match parse_legacy(op, &req) {
                Ok(p) => {
                    accepted += 1;
                    for it in &items {
                        for c in [&p.condition, &p.filter].into_iter().flatten() {
                            evaluate(c, Some(it));
                            evaluate(c, None);
                        }
                        if let Some(u) = &p.update {
                            let _ = u.apply(it);
                        }
                        if let Some(proj) = &p.projection {
                            proj.apply(it);
                        }
                    }
                    if let Some(k) = &p.key_conditions {
                        for s in &schemas {
                            let _ = k.resolve(s);
                        }
                    }
                }
                Err(e) => {
                    rejected += 1;
                    assert!(!e.to_string().is_empty(), "an error without a message");
                }
            }
            slowest = slowest.max(start.elapsed());
        }
    });
    assert!(
        accepted > 0 && rejected > 0,
        "accepted {accepted}, rejected {rejected}"
    );
    assert!(
        slowest < Duration::from_millis(200),
        "slowest input took {slowest:?}"
    );
}
