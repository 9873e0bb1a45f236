//! Operation-level tests without HTTP: request shapes, DynamoDB's validation messages, table
//! states, and random requests that must never panic or produce a 5xx.

use serde_json::{Value, json};
use wire::control::TableStatus;

use super::*;
use crate::api::auth::SigV4Keys;
use crate::api::testing::MemBackend;
use crate::rng::{Rng, for_each_seed};

fn config() -> ApiConfig {
    ApiConfig::new(SigV4Keys::new([]))
}

pub(super) fn run(backend: &MemBackend, op: &str, params: Value) -> Result<Value, ApiError> {
    let Value::Object(params) = params else {
        panic!("params must be an object")
    };
    let config = config();
    let ctx = Ctx {
        backend,
        config: &config,
    };
    let op = Operation::from_name(op).expect("a known operation");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(dispatch(&ctx, op, &params))
}

pub(super) fn validation(r: Result<Value, ApiError>) -> String {
    match r {
        Err(ApiError::Validation(m)) => m,
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

fn with_table() -> MemBackend {
    let b = MemBackend::new();
    run(
        &b,
        "CreateTable",
        json!({
            "TableName": "t",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "B"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .unwrap();
    b
}

#[test]
fn create_table_shapes_and_messages() {
    let b = MemBackend::new();
    assert_eq!(
        validation(run(&b, "CreateTable", json!({}))),
        "3 validation errors detected: \
         Value null at 'tableName' failed to satisfy constraint: Member must not be null; \
         Value null at 'keySchema' failed to satisfy constraint: Member must not be null; \
         Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null"
    );
    let m = validation(run(
        &b,
        "CreateTable",
        json!({"TableName": "t", "KeySchema": [{"AttributeName": "a", "KeyType": "PRIMARY"}],
               "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "X"}],
               "BillingMode": "FREE"}),
    ));
    assert!(m.starts_with("3 validation errors detected: "), "{m}");
    assert!(m.contains("Value 'PRIMARY' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"), "{m}");
    assert!(
        m.contains("at 'attributeDefinitions.1.member.attributeType'"),
        "{m}"
    );
    assert!(m.contains("Value 'FREE' at 'billingMode'"), "{m}");
    let m = validation(run(
        &b,
        "CreateTable",
        json!({"TableName": "t", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
               "ProvisionedThroughput": {"ReadCapacityUnits": 0}}),
    ));
    assert!(m.contains("'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"), "{m}");
    assert!(
        m.contains("Value null at 'provisionedThroughput.writeCapacityUnits'"),
        "{m}"
    );
    let m = validation(run(
        &b,
        "CreateTable",
        json!({"TableName": "t", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
               "GlobalSecondaryIndexes": []}),
    ));
    assert!(m.contains("GlobalSecondaryIndexes"), "{m}");
    assert!(matches!(
        run(
            &b,
            "CreateTable",
            json!({"TableName": "t", "KeySchema": "x"})
        ),
        Err(ApiError::Serialization(_))
    ));
    // The description of a created table.
    let b = with_table();
    let d = run(&b, "DescribeTable", json!({"TableName": "t"})).unwrap();
    let t = &d["Table"];
    assert_eq!(t["TableStatus"], "ACTIVE");
    assert_eq!(
        t["KeySchema"][1],
        json!({"AttributeName": "sk", "KeyType": "RANGE"})
    );
    assert_eq!(t["AttributeDefinitions"][1]["AttributeType"], "B");
    assert_eq!(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(t["ProvisionedThroughput"]["ReadCapacityUnits"], 0);
    assert!(t["CreationDateTime"].as_f64().unwrap() > 1.7e9);
}

#[test]
fn item_operation_parameters() {
    let b = with_table();
    let key = json!({"pk": {"S": "a"}, "sk": {"B": "AQ=="}});
    assert_eq!(
        validation(run(
            &b,
            "PutItem",
            json!({"TableName": "t", "Item": key, "ReturnValues": "ALL_NEW"})
        )),
        "ReturnValues can only be ALL_OLD or NONE"
    );
    assert!(
        validation(run(
            &b,
            "DeleteItem",
            json!({"TableName": "t", "Key": key, "ReturnValues": "EVERYTHING"})
        ))
        .contains("Value 'EVERYTHING' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set")
    );
    assert_eq!(
        validation(run(&b, "GetItem", json!({"TableName": "t"}))),
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null"
    );
    // A condition on a missing item fails; an unused placeholder is refused.
    assert!(matches!(
        run(
            &b,
            "DeleteItem",
            json!({"TableName": "t", "Key": key, "ConditionExpression": "attribute_exists(pk)"})
        ),
        Err(ApiError::ConditionalCheckFailed(None))
    ));
    assert_eq!(
        validation(run(
            &b,
            "GetItem",
            json!({"TableName": "t", "Key": key, "ProjectionExpression": "pk",
                   "ExpressionAttributeNames": {"#x": "y"}})
        )),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"
    );
    assert!(matches!(
        run(
            &b,
            "GetItem",
            json!({"TableName": "t", "Key": key, "ConsistentRead": "yes"})
        ),
        Err(ApiError::Serialization(_))
    ));
    // An empty binary sort key in a Key.
    let m = validation(run(
        &b,
        "GetItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"B": ""}}}),
    ));
    assert!(m.ends_with("empty binary value. Key: sk"), "{m}");
    // Round trip through the operations.
    run(
        &b,
        "PutItem",
        json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"B": "AQ=="}, "n": {"N": "1e1"}}}),
    )
    .unwrap();
    let got = run(&b, "GetItem", json!({"TableName": "t", "Key": key})).unwrap();
    assert_eq!(got["Item"]["n"], json!({"N": "10"}));
    let gone = run(
        &b,
        "DeleteItem",
        json!({"TableName": "t", "Key": key, "ReturnValues": "ALL_OLD"}),
    )
    .unwrap();
    assert_eq!(gone["Attributes"]["n"], json!({"N": "10"}));
    assert_eq!(
        run(&b, "GetItem", json!({"TableName": "t", "Key": key})).unwrap(),
        json!({})
    );
}

#[test]
fn tables_that_are_not_active_are_not_found_for_item_operations() {
    let b = with_table();
    b.set_table_status("t", TableStatus::Creating);
    let key = json!({"pk": {"S": "a"}, "sk": {"B": "AQ=="}});
    for op in ["GetItem", "DeleteItem"] {
        assert_eq!(
            run(&b, op, json!({"TableName": "t", "Key": key})),
            Err(ApiError::ResourceNotFound(
                "Requested resource not found".into()
            ))
        );
    }
    assert!(matches!(
        run(&b, "PutItem", json!({"TableName": "t", "Item": key})),
        Err(ApiError::ResourceNotFound(_))
    ));
    // DescribeTable still shows it.
    let d = run(&b, "DescribeTable", json!({"TableName": "t"})).unwrap();
    assert_eq!(d["Table"]["TableStatus"], "CREATING");
    assert!(matches!(
        run(&b, "Scan", json!({"TableName": "t"})),
        Err(ApiError::ResourceNotFound(_))
    ));
    // Operations not served yet say so.
    assert!(matches!(
        run(&b, "TransactWriteItems", json!({"TransactItems": []})),
        Err(ApiError::Validation(m)) if m.contains("TransactWriteItems")
    ));
}

/// A random JSON value: mostly DynamoDB-shaped fragments, sometimes junk, never deep enough
/// to matter to serde (the server's parser bounds nesting separately).
fn random_json(rng: &mut Rng, depth: u32) -> Value {
    const KEYS: &[&str] = &[
        "TableName",
        "Item",
        "Key",
        "pk",
        "sk",
        "S",
        "N",
        "B",
        "BOOL",
        "NULL",
        "M",
        "L",
        "SS",
        "NS",
        "BS",
        "ReturnValues",
        "ConsistentRead",
        "KeySchema",
        "AttributeDefinitions",
        "AttributeName",
        "KeyType",
        "AttributeType",
        "Limit",
        "x",
    ];
    const STRINGS: &[&str] = &[
        "t",
        "",
        "AQ==",
        "!!",
        "1e3",
        "-0",
        "1e200",
        "HASH",
        "RANGE",
        "S",
        "N",
        "B",
        "ALL_OLD",
        "NONE",
        "ALL_NEW",
        "abc",
        "99999999999999999999999999999999999999999",
    ];
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(1, 2)),
        2 => json!(rng.next_u64() as i64 >> rng.below(64)),
        3 => Value::String(STRINGS[rng.below(STRINGS.len() as u64) as usize].to_owned()),
        4 => {
            let len = rng.below(6) as usize;
            Value::String(String::from_utf8_lossy(&rng.bytes(len)).into())
        }
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| {
                    (
                        KEYS[rng.below(KEYS.len() as u64) as usize].to_owned(),
                        random_json(rng, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

/// A random attribute value: a real type tag over a random or well-formed payload.
fn random_attribute(rng: &mut Rng, depth: u32) -> Value {
    const TAGS: &[&str] = &["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];
    let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
    let payload = if rng.chance(1, 3) || depth == 0 {
        random_json(rng, 2)
    } else {
        match tag {
            "S" | "N" | "B" => random_json(rng, 0),
            "M" => Value::Object(
                (0..rng.below(3))
                    .map(|i| (format!("m{i}"), random_attribute(rng, depth - 1)))
                    .collect(),
            ),
            "L" => Value::Array(
                (0..rng.below(3))
                    .map(|_| random_attribute(rng, depth - 1))
                    .collect(),
            ),
            "SS" | "NS" | "BS" => {
                Value::Array((0..rng.below(3)).map(|_| random_json(rng, 0)).collect())
            }
            _ => Value::Bool(rng.chance(1, 2)),
        }
    };
    json!({ tag: payload })
}

#[test]
fn random_requests_never_panic_or_fail_internally() {
    const OPS: &[&str] = &[
        "CreateTable",
        "DeleteTable",
        "DescribeTable",
        "ListTables",
        "PutItem",
        "GetItem",
        "DeleteItem",
        "UpdateItem",
        "BatchGetItem",
        "BatchWriteItem",
        "Query",
        "Scan",
    ];
    for_each_seed(
        "random_requests_never_panic_or_fail_internally",
        40,
        |seed| {
            let mut rng = Rng::new(seed);
            let b = with_table();
            let mut successes = 0;
            for _ in 0..200 {
                let op = OPS[rng.below(OPS.len() as u64) as usize];
                let mut params = match random_json(&mut rng, 6) {
                    Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                if rng.chance(3, 4) {
                    params.insert("TableName".into(), json!("t"));
                }
                if rng.chance(1, 2) {
                    // An item-shaped Item or Key: attribute values with real type tags.
                    let mut item = serde_json::Map::new();
                    for name in ["pk", "sk", "x"] {
                        if rng.chance(4, 5) {
                            item.insert(name.into(), random_attribute(&mut rng, 3));
                        }
                    }
                    let member = ["Item", "Key", "ExclusiveStartKey"][rng.below(3) as usize];
                    params.insert(member.into(), Value::Object(item));
                }
                if rng.chance(1, 2) {
                    // Query and Scan knobs, in and out of range.
                    let n = |rng: &mut Rng| json!(rng.below(2_000_003) as i64 - 1);
                    for name in ["Limit", "Segment", "TotalSegments"] {
                        if rng.chance(1, 3) {
                            params.insert(name.into(), n(&mut rng));
                        }
                    }
                    if rng.chance(1, 2) {
                        let conds = [
                            "pk = :p",
                            "pk = :p AND sk > :p",
                            "pk = :p AND begins_with(sk, :p)",
                            "sk = :p",
                        ];
                        let cond = conds[rng.below(4) as usize];
                        params.insert("KeyConditionExpression".into(), json!(cond));
                        params.insert(
                            "ExpressionAttributeValues".into(),
                            json!({":p": random_attribute(&mut rng, 2)}),
                        );
                    }
                }
                match run(&b, op, Value::Object(params)) {
                    Ok(v) => {
                        assert!(v.is_object());
                        successes += 1;
                    }
                    Err(e) => assert!(
                        e.status().is_client_error(),
                        "seed {seed}: {op} answered {e:?}"
                    ),
                }
            }
            // The generator reaches the operations' success paths, not only their errors.
            assert!(
                successes > 5,
                "seed {seed}: only {successes} requests succeeded"
            );
        },
    );
}
