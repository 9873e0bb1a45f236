//! Conditional writes, UpdateItem, projections and consumed capacity through the operations
//! (over the in-memory backend, which evaluates writes with the leader's own
//! `partition::eval`; the multi-process tests in `tests/` do the same through real nodes).

use serde_json::{Value, json};

use super::tests::{run, validation};
use crate::api::error::ApiError;
use crate::api::testing::MemBackend;

fn table() -> MemBackend {
    let b = MemBackend::new();
    run(
        &b,
        "CreateTable",
        json!({
            "TableName": "t",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .unwrap();
    b
}

#[test]
fn conditional_puts_and_deletes() {
    let b = table();
    let put = |item: Value, cond: &str, vals: Value| {
        let mut p = json!({"TableName": "t", "Item": item, "ConditionExpression": cond,
                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"});
        if vals.as_object().is_some_and(|m| !m.is_empty()) {
            p["ExpressionAttributeValues"] = vals;
        }
        run(&b, "PutItem", p)
    };
    let v1 = json!({"pk": {"S": "a"}, "v": {"N": "1"}});
    let v2 = json!({"pk": {"S": "a"}, "v": {"N": "2"}});
    // Create only if absent: the first succeeds, the second fails and returns the item.
    put(v1.clone(), "attribute_not_exists(pk)", json!({})).unwrap();
    match put(v2.clone(), "attribute_not_exists(pk)", json!({})) {
        Err(ApiError::ConditionalCheckFailed(Some(item))) => {
            assert_eq!(Value::Object(item), v1)
        }
        other => panic!("{other:?}"),
    }
    // Optimistic locking on a version attribute.
    put(v2.clone(), "v = :one", json!({":one": {"N": "1"}})).unwrap();
    assert!(matches!(
        put(v1.clone(), "v = :one", json!({":one": {"N": "1"}})),
        Err(ApiError::ConditionalCheckFailed(_))
    ));
    // The legacy Expected form means the same.
    assert!(matches!(
        run(
            &b,
            "PutItem",
            json!({"TableName": "t", "Item": v1, "Expected": {"v": {"Value": {"N": "1"}}}})
        ),
        Err(ApiError::ConditionalCheckFailed(None))
    ));
    // Mixing both kinds is refused.
    assert!(
        validation(run(
            &b,
            "PutItem",
            json!({"TableName": "t", "Item": v2, "Expected": {"v": {"Exists": false}},
                   "ConditionExpression": "attribute_not_exists(pk)"})
        ))
        .starts_with("Can not use both expression and non-expression parameters")
    );
    // A conditional delete with ALL_OLD and capacity.
    let out = run(
        &b,
        "DeleteItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConditionExpression": "v = :two",
               "ExpressionAttributeValues": {":two": {"N": "2"}}, "ReturnValues": "ALL_OLD",
               "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    assert_eq!(out["Attributes"], v2);
    assert_eq!(
        out["ConsumedCapacity"],
        json!({"TableName": "t", "CapacityUnits": 1.0})
    );
    assert_eq!(b.item_count(), 0);
}

#[test]
fn update_item_creates_changes_and_returns() {
    let b = table();
    let update = |expr: &str, vals: Value, returns: &str| {
        run(
            &b,
            "UpdateItem",
            json!({"TableName": "t", "Key": {"pk": {"S": "k"}}, "UpdateExpression": expr,
                   "ExpressionAttributeValues": vals, "ReturnValues": returns}),
        )
    };
    let out = update(
        "SET n = if_not_exists(n, :z) + :one",
        json!({":z": {"N": "0"}, ":one": {"N": "1"}}),
        "ALL_NEW",
    )
    .unwrap();
    assert_eq!(
        out["Attributes"],
        json!({"pk": {"S": "k"}, "n": {"N": "1"}})
    );
    let out = update(
        "SET n = n + :one ADD s :s",
        json!({":one": {"N": "1"}, ":s": {"SS": ["x"]}}),
        "UPDATED_OLD",
    )
    .unwrap();
    assert_eq!(out["Attributes"], json!({"n": {"N": "1"}}));
    let out = update(
        "REMOVE s SET m = :m",
        json!({":m": {"S": "v"}}),
        "UPDATED_NEW",
    )
    .unwrap();
    assert_eq!(out["Attributes"], json!({"m": {"S": "v"}}));
    // Arithmetic on a missing attribute changes nothing.
    assert_eq!(
        validation(update(
            "SET q = nope + :one",
            json!({":one": {"N": "1"}}),
            "NONE"
        )),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    // Key attributes cannot be updated.
    assert!(
        validation(update("SET pk = :m", json!({":m": {"S": "v"}}), "NONE"))
            .contains("This attribute is part of the key")
    );
    let got = run(
        &b,
        "GetItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "k"}}, "ConsistentRead": true,
               "ProjectionExpression": "n, #m", "ExpressionAttributeNames": {"#m": "m"},
               "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    assert_eq!(got["Item"], json!({"n": {"N": "2"}, "m": {"S": "v"}}));
    assert_eq!(
        got["ConsumedCapacity"],
        json!({"TableName": "t", "CapacityUnits": 1.0})
    );
    // The legacy AttributeUpdates form, and an UpdateItem with no action creating the key.
    run(
        &b,
        "UpdateItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "k"}},
               "AttributeUpdates": {"n": {"Action": "ADD", "Value": {"N": "5"}}}}),
    )
    .unwrap();
    run(
        &b,
        "UpdateItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "empty"}}}),
    )
    .unwrap();
    let got = run(
        &b,
        "GetItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "k"}}, "AttributesToGet": ["n"]}),
    )
    .unwrap();
    assert_eq!(got["Item"], json!({"n": {"N": "7"}}));
    let got = run(
        &b,
        "GetItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "empty"}}}),
    )
    .unwrap();
    assert_eq!(got["Item"], json!({"pk": {"S": "empty"}}));
}

#[test]
fn write_capacity_is_the_larger_item_in_1_kb_units() {
    let b = table();
    let big = "x".repeat(3000);
    let out = run(
        &b,
        "PutItem",
        json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "b": {"S": big}},
               "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    // 3000 + 1 + 2 + 1 = 3004 bytes: 3 units.
    assert_eq!(out["ConsumedCapacity"]["CapacityUnits"], json!(3.0));
    let out = run(
        &b,
        "PutItem",
        json!({"TableName": "t", "Item": {"pk": {"S": "a"}}, "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    // Replacing the 3 KB item with a tiny one still costs the larger: 3.
    assert_eq!(out["ConsumedCapacity"]["CapacityUnits"], json!(3.0));
    assert!(
        validation(run(
            &b,
            "PutItem",
            json!({"TableName": "t", "Item": {"pk": {"S": "a"}}, "ReturnConsumedCapacity": "ALL"}),
        ))
        .contains("at 'returnConsumedCapacity' failed to satisfy constraint")
    );
}

#[test]
fn batch_writes_and_gets() {
    let b = table();
    let puts: Vec<Value> = (0..25)
        .map(|i| json!({"PutRequest": {"Item": {"pk": {"S": format!("k{i}")}, "v": {"N": i.to_string()}}}}))
        .collect();
    let out = run(
        &b,
        "BatchWriteItem",
        json!({"RequestItems": {"t": puts}, "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    assert_eq!(out["UnprocessedItems"], json!({}));
    assert_eq!(
        out["ConsumedCapacity"],
        json!([{"TableName": "t", "CapacityUnits": 25.0}])
    );
    assert_eq!(b.item_count(), 25);
    // 26 requests, a duplicate key, or an unknown table: the whole batch is refused.
    let too_many: Vec<Value> = (0..26)
        .map(|i| json!({"DeleteRequest": {"Key": {"pk": {"S": format!("k{i}")}}}}))
        .collect();
    assert!(
        validation(run(
            &b,
            "BatchWriteItem",
            json!({"RequestItems": {"t": too_many}})
        ))
        .contains("25")
    );
    let dup = json!([{"DeleteRequest": {"Key": {"pk": {"S": "k1"}}}},
                     {"PutRequest": {"Item": {"pk": {"S": "k1"}}}}]);
    assert_eq!(
        validation(run(
            &b,
            "BatchWriteItem",
            json!({"RequestItems": {"t": dup}})
        )),
        "Provided list of item keys contains duplicates"
    );
    assert_eq!(b.item_count(), 25, "a refused batch wrote nothing");
    assert!(matches!(
        run(
            &b,
            "BatchWriteItem",
            json!({"RequestItems": {"nope": [{"DeleteRequest": {"Key": {"pk": {"S": "x"}}}}]}})
        ),
        Err(ApiError::ResourceNotFound(_))
    ));
    // Deletes, then a BatchGetItem with a projection and a missing key.
    let out = run(
        &b,
        "BatchWriteItem",
        json!({"RequestItems": {"t": [{"DeleteRequest": {"Key": {"pk": {"S": "k0"}}}}]}}),
    )
    .unwrap();
    assert_eq!(out["UnprocessedItems"], json!({}));
    let out = run(
        &b,
        "BatchGetItem",
        json!({"RequestItems": {"t": {"Keys": [{"pk": {"S": "k0"}}, {"pk": {"S": "k3"}}, {"pk": {"S": "k4"}}],
                                      "ProjectionExpression": "v", "ConsistentRead": true}},
               "ReturnConsumedCapacity": "TOTAL"}),
    )
    .unwrap();
    let mut got: Vec<Value> = out["Responses"]["t"].as_array().unwrap().clone();
    got.sort_by_key(|v| v["v"]["N"].as_str().unwrap().to_owned());
    assert_eq!(
        got,
        vec![json!({"v": {"N": "3"}}), json!({"v": {"N": "4"}})]
    );
    assert_eq!(out["UnprocessedKeys"], json!({}));
    // Three strong reads, one of a missing item: 3 units.
    assert_eq!(
        out["ConsumedCapacity"],
        json!([{"TableName": "t", "CapacityUnits": 3.0}])
    );
    let keys: Vec<Value> = (0..101)
        .map(|i| json!({"pk": {"S": format!("k{i}")}}))
        .collect();
    assert_eq!(
        validation(run(
            &b,
            "BatchGetItem",
            json!({"RequestItems": {"t": {"Keys": keys}}})
        )),
        "Too many items requested for the BatchGetItem call"
    );
}
