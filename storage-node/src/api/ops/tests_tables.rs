//! UpdateTable, time to live, tags, DescribeLimits and DescribeEndpoints through the
//! operations, over the in-memory backend (which decides changes with the control plane's own
//! `wire::control::alter`).

use serde_json::json;

use super::tests::{run, validation};
use crate::api::error::ApiError;
use crate::api::testing::MemBackend;

fn table(mode: &str) -> MemBackend {
    let b = MemBackend::new();
    let mut p = json!({
        "TableName": "t",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": mode
    });
    if mode == "PROVISIONED" {
        p["ProvisionedThroughput"] = json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 5});
    }
    run(&b, "CreateTable", p).unwrap();
    b
}

#[test]
fn update_table_changes_capacity_and_billing_mode() {
    let b = table("PROVISIONED");
    let r = run(
        &b,
        "UpdateTable",
        json!({"TableName": "t",
               "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 2}}),
    )
    .unwrap();
    let pt = &r["TableDescription"]["ProvisionedThroughput"];
    assert_eq!(
        (
            pt["ReadCapacityUnits"].as_u64(),
            pt["WriteCapacityUnits"].as_u64()
        ),
        (Some(10), Some(2))
    );
    let d = run(&b, "DescribeTable", json!({"TableName": "t"})).unwrap();
    assert_eq!(d["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"], 10);
    let m = validation(run(
        &b,
        "UpdateTable",
        json!({"TableName": "t",
               "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 2}}),
    ));
    assert!(
        m.starts_with("The provisioned throughput for the table will not change"),
        "{m}"
    );
    let r = run(
        &b,
        "UpdateTable",
        json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST"}),
    )
    .unwrap();
    assert_eq!(
        r["TableDescription"]["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );
    assert!(
        validation(run(&b, "UpdateTable", json!({"TableName": "t"})))
            .starts_with("At least one of ProvisionedThroughput, BillingMode")
    );
    assert!(
        validation(run(
            &b,
            "UpdateTable",
            json!({"TableName": "t", "ProvisionedThroughput": {"ReadCapacityUnits": 0}})
        ))
        .starts_with("2 validation errors detected")
    );
    assert!(matches!(
        run(
            &b,
            "UpdateTable",
            json!({"TableName": "nope", "BillingMode": "PROVISIONED"})
        ),
        Err(ApiError::ResourceNotFound(_))
    ));
}

#[test]
fn time_to_live_is_enabled_once_and_described() {
    let b = table("PAY_PER_REQUEST");
    let d = run(&b, "DescribeTimeToLive", json!({"TableName": "t"})).unwrap();
    assert_eq!(
        d,
        json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
    );
    let spec = json!({"Enabled": true, "AttributeName": "expires"});
    let r = run(
        &b,
        "UpdateTimeToLive",
        json!({"TableName": "t", "TimeToLiveSpecification": spec}),
    )
    .unwrap();
    assert_eq!(r, json!({"TimeToLiveSpecification": spec}));
    let d = run(&b, "DescribeTimeToLive", json!({"TableName": "t"})).unwrap();
    assert_eq!(d["TimeToLiveDescription"]["AttributeName"], "expires");
    assert_eq!(
        validation(run(
            &b,
            "UpdateTimeToLive",
            json!({"TableName": "t", "TimeToLiveSpecification": spec})
        )),
        "TimeToLive is already enabled"
    );
    assert_eq!(
        validation(run(&b, "UpdateTimeToLive", json!({"TableName": "t"}))),
        "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn tags_are_added_listed_and_removed_by_arn() {
    let b = table("PAY_PER_REQUEST");
    let arn = run(&b, "DescribeTable", json!({"TableName": "t"})).unwrap()["Table"]["TableArn"]
        .as_str()
        .unwrap()
        .to_owned();
    run(
        &b,
        "TagResource",
        json!({"ResourceArn": arn, "Tags": [{"Key": "team", "Value": "db"},
                                           {"Key": "env", "Value": ""}]}),
    )
    .unwrap();
    let l = run(&b, "ListTagsOfResource", json!({"ResourceArn": arn})).unwrap();
    assert_eq!(
        l,
        json!({"Tags": [{"Key": "env", "Value": ""}, {"Key": "team", "Value": "db"}]})
    );
    run(
        &b,
        "UntagResource",
        json!({"ResourceArn": arn, "TagKeys": ["env"]}),
    )
    .unwrap();
    let l = run(&b, "ListTagsOfResource", json!({"ResourceArn": arn})).unwrap();
    assert_eq!(l["Tags"].as_array().unwrap().len(), 1);
    assert!(
        validation(run(
            &b,
            "ListTagsOfResource",
            json!({"ResourceArn": "nonsense"})
        ))
        .starts_with("Invalid TableArn")
    );
    let other = arn.replace("table/t", "table/nope");
    assert!(matches!(
        run(&b, "TagResource", json!({"ResourceArn": other, "Tags": [{"Key": "a", "Value": "b"}]})),
        Err(ApiError::ResourceNotFound(m)) if m.contains("ResourcArn")
    ));
    let m = validation(run(
        &b,
        "TagResource",
        json!({"ResourceArn": arn, "Tags": [{"Key": "", "Value": "x".repeat(257)}]}),
    ));
    assert!(m.starts_with("2 validation errors detected"), "{m}");
    assert!(
        validation(run(
            &b,
            "TagResource",
            json!({"ResourceArn": arn, "Tags": [{"Key": "aws:x", "Value": "b"}]})
        ))
        .contains("aws:")
    );
}

#[test]
fn limits_and_endpoints() {
    let b = MemBackend::new();
    let l = run(&b, "DescribeLimits", json!({})).unwrap();
    assert_eq!(l["TableMaxReadCapacityUnits"], 40_000);
    let e = run(&b, "DescribeEndpoints", json!({})).unwrap();
    assert_eq!(e["Endpoints"][0]["CachePeriodInMinutes"], 1440);
    assert!(e["Endpoints"][0]["Address"].as_str().unwrap().contains(':'));
}
