//! Tests of the pure table rules: DynamoDB's messages, partition counts, hash splits.

use storage_node::rng::{Rng, for_each_seed};
use wire::control::{
    AttributeDefinition, AttributeType, BillingMode, ControlErrorKind, CreateTableRequest, KeyRole,
    KeySchemaElement, ListTablesRequest, ProvisionedThroughput,
};

use super::*;

fn key(name: &str, role: KeyRole) -> KeySchemaElement {
    KeySchemaElement {
        attribute_name: name.into(),
        key_type: role,
    }
}

fn def(name: &str) -> AttributeDefinition {
    AttributeDefinition {
        attribute_name: name.into(),
        attribute_type: AttributeType::S,
    }
}

fn provisioned(r: u64, w: u64) -> Option<ProvisionedThroughput> {
    Some(ProvisionedThroughput {
        read_capacity_units: r,
        write_capacity_units: w,
    })
}

fn base() -> CreateTableRequest {
    CreateTableRequest {
        table_name: "Music".into(),
        key_schema: vec![key("Artist", KeyRole::Hash), key("Song", KeyRole::Range)],
        attribute_definitions: vec![def("Artist"), def("Song")],
        billing_mode: None,
        provisioned_throughput: provisioned(5, 5),
    }
}

fn err_of(req: &CreateTableRequest) -> (ControlErrorKind, String) {
    let e = validate_create(req, &TableConfig::default()).expect_err("should be refused");
    (e.kind, e.message)
}

#[test]
fn valid_requests_pass() {
    validate_create(&base(), &TableConfig::default()).unwrap();
    let mut r = base();
    r.key_schema.pop();
    r.attribute_definitions.pop();
    r.billing_mode = Some(BillingMode::PayPerRequest);
    r.provisioned_throughput = None;
    validate_create(&r, &TableConfig::default()).unwrap();
}

#[test]
fn framework_errors_are_collected_with_dynamodb_wording() {
    let mut r = base();
    r.table_name = "a!".into();
    r.provisioned_throughput = provisioned(0, 1);
    let (kind, msg) = err_of(&r);
    assert_eq!(kind, ControlErrorKind::Validation);
    assert_eq!(
        msg,
        "3 validation errors detected: \
         Value 'a!' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
         Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let mut r = base();
    r.table_name = "x".repeat(256);
    assert!(
        err_of(&r)
            .1
            .starts_with("1 validation error detected: Value 'xxx")
    );
    assert!(
        err_of(&r)
            .1
            .ends_with("Member must have length less than or equal to 255")
    );
    let mut r = base();
    r.key_schema.clear();
    assert_eq!(
        err_of(&r).1,
        "1 validation error detected: Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
}

#[test]
fn semantic_errors_match_dynamodb() {
    type Mutation = Box<dyn Fn(&mut CreateTableRequest)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|r| r.billing_mode = Some(BillingMode::PayPerRequest)),
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            Box::new(|r| r.provisioned_throughput = None),
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        (
            Box::new(|r| r.provisioned_throughput = provisioned(1_000_000_000_001, 1)),
            "Given value 1000000000001 for ReadCapacityUnits is out of bounds",
        ),
        (
            Box::new(|r| r.attribute_definitions = vec![def("Artist")]),
            "Invalid KeySchema: Some index key attribute have no definition",
        ),
        (
            Box::new(|r| {
                r.key_schema = vec![key("id", KeyRole::Hash)];
                r.attribute_definitions = vec![def("Artist")];
            }),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [id], AttributeDefinitions: [Artist]",
        ),
        (
            Box::new(|r| r.key_schema[1].attribute_name = "Artist".into()),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
        (
            Box::new(|r| r.key_schema.swap(0, 1)),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            Box::new(|r| r.key_schema[1].key_type = KeyRole::Hash),
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ),
        (
            Box::new(|r| r.attribute_definitions.push(def("Extra"))),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
    ];
    for (mutate, want) in cases {
        let mut r = base();
        mutate(&mut r);
        let (kind, msg) = err_of(&r);
        assert_eq!(kind, ControlErrorKind::Validation, "{want}");
        assert_eq!(msg, want);
    }
}

#[test]
fn capacity_above_the_quota_is_a_limit_error() {
    let mut r = base();
    r.provisioned_throughput = provisioned(40_001, 1);
    let (kind, msg) = err_of(&r);
    assert_eq!(kind, ControlErrorKind::LimitExceeded);
    assert!(msg.starts_with("Subscriber limit exceeded:"), "{msg}");
}

#[test]
fn list_tables_limits() {
    let req = |start: Option<&str>, limit| ListTablesRequest {
        exclusive_start_table_name: start.map(str::to_string),
        limit,
    };
    assert_eq!(validate_list(&req(None, None)).unwrap(), 100);
    assert_eq!(validate_list(&req(Some("abc"), Some(7))).unwrap(), 7);
    assert_eq!(
        validate_list(&req(None, Some(0))).unwrap_err().message,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        validate_list(&req(Some("ab"), Some(101)))
            .unwrap_err()
            .message,
        "2 validation errors detected: \
         Value 'ab' at 'exclusiveStartTableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
         Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
    );
}

#[test]
fn partition_count_follows_the_rule_of_thumb_and_the_config() {
    let cfg = TableConfig::default();
    let count = |r, w| {
        let mut req = base();
        req.provisioned_throughput = provisioned(r, w);
        partition_count(&req, &cfg)
    };
    assert_eq!(count(5, 5), 1);
    assert_eq!(count(3000, 0), 1);
    assert_eq!(count(3001, 0), 2);
    assert_eq!(count(3000, 1000), 2);
    assert_eq!(count(3000, 1001), 3);
    assert_eq!(count(40_000, 40_000), 54); // ceil(13.33 + 40)
    let mut req = base();
    req.billing_mode = Some(BillingMode::PayPerRequest);
    req.provisioned_throughput = None;
    assert_eq!(partition_count(&req, &cfg), 1);
    let cfg4 = TableConfig {
        partitions_on_demand: 4,
        partitions_min: 2,
        ..TableConfig::default()
    };
    assert_eq!(partition_count(&req, &cfg4), 4);
    assert_eq!(partition_count(&base(), &cfg4), 2, "minimum applies");
    let fixed = TableConfig {
        partitions_override: Some(8),
        ..TableConfig::default()
    };
    assert_eq!(partition_count(&base(), &fixed), 8);
    let capped = TableConfig {
        partitions_max: 10,
        ..TableConfig::default()
    };
    let mut big = base();
    big.provisioned_throughput = provisioned(40_000, 40_000);
    assert_eq!(partition_count(&big, &capped), 10);
}

#[test]
fn hash_splits_tile_the_space_evenly() {
    for_each_seed("hash_splits_tile_the_space_evenly", 100, |seed| {
        let mut rng = Rng::new(seed);
        let n = rng.range(1, 1000) as u32;
        let ranges = split_hash_space(n);
        assert_eq!(ranges.len(), n as usize);
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges.last().unwrap().end, None);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, Some(w[1].start), "gap or overlap");
        }
        let sizes: Vec<u128> = ranges
            .iter()
            .map(|r| r.end.map_or(1u128 << 64, u128::from) - r.start as u128)
            .collect();
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(hi - lo <= 1, "uneven: {lo} .. {hi}");
        let h = rng.next_u64();
        assert_eq!(ranges.iter().filter(|r| r.contains(h)).count(), 1);
    });
}
