//! Tests of item parsing, validation, size, binary encoding and key extraction.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::control::{
    AttributeDefinition, AttributeType, BillingMode, KeyRole, KeySchemaElement, TableDesc,
    TableStatus,
};
use crate::ids::TableId;
use crate::key::{KeyAttr, decode_item_key, hash64};
use crate::test_support::{num_parts, proptest_config};

fn item(v: Value) -> Result<Item, ItemError> {
    parse_item(&v)
}

fn validation(v: Value) -> String {
    match item(v) {
        Err(ItemError::Validation(m)) => m,
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

fn serialization(v: Value) -> String {
    match item(v) {
        Err(ItemError::Serialization(m)) => m,
        other => panic!("expected a SerializationException, got {other:?}"),
    }
}

#[test]
fn every_type_parses_and_writes_back_canonically() {
    let input = json!({
        "s": {"S": "héllo"}, "empty_s": {"S": ""},
        "n": {"N": "12345678901234567890123456789012345678"},
        "n2": {"N": "1e3"}, "neg": {"N": "-0.50"},
        "b": {"B": "AAEC/w=="}, "empty_b": {"B": ""},
        "t": {"BOOL": true}, "f": {"BOOL": false}, "nul": {"NULL": true},
        "m": {"M": {"x": {"S": "y"}, "l": {"L": []}}}, "em": {"M": {}},
        "l": {"L": [{"N": "1"}, {"S": "a"}, {"M": {}}]},
        "ss": {"SS": ["b", "a", "B"]}, "ns": {"NS": ["10", "-1", "2.5"]},
        "bs": {"BS": ["Ag==", "AQ=="]}
    });
    let it = item(input).unwrap();
    assert_eq!(
        it["n"],
        AttributeValue::N(Number::parse("12345678901234567890123456789012345678").unwrap())
    );
    assert_eq!(it["b"], AttributeValue::B(vec![0, 1, 2, 255]));
    assert_eq!(
        it["ss"],
        AttributeValue::Ss(vec!["B".into(), "a".into(), "b".into()])
    );
    let out = Value::Object(item_to_json(&it));
    assert_eq!(out["n2"], json!({"N": "1000"}));
    assert_eq!(out["neg"], json!({"N": "-0.5"}));
    assert_eq!(out["ns"], json!({"NS": ["-1", "2.5", "10"]}));
    assert_eq!(out["bs"], json!({"BS": ["AQ==", "Ag=="]}));
    assert_eq!(out["nul"], json!({"NULL": true}));
    assert_eq!(out["empty_s"], json!({"S": ""}));
    // What we write parses back to the same item.
    assert_eq!(parse_item(&out).unwrap(), it);
}

#[test]
fn dynamodb_validation_messages() {
    assert_eq!(
        validation(json!({"a": {}})),
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    );
    assert!(validation(json!({"a": {"S": "x", "N": "1"}})).contains("more than one datatypes"));
    // Unknown members are ignored, as DynamoDB's deserializer does.
    assert!(validation(json!({"a": {"XX": "1"}})).starts_with("Supplied AttributeValue is empty"));
    assert_eq!(
        item(json!({"a": {"S": "x", "XX": 1}})).unwrap()["a"],
        AttributeValue::S("x".into())
    );
    assert_eq!(
        validation(json!({"a": {"SS": []}})),
        "One or more parameter values were invalid: An string set  may not be empty"
    );
    assert!(validation(json!({"a": {"NS": []}})).contains("An number set  may not be empty"));
    assert!(validation(json!({"a": {"BS": []}})).contains("An binary set  may not be empty"));
    // Members shown as sent, not sorted.
    assert_eq!(
        validation(json!({"a": {"SS": ["y", "x", "y"]}})),
        "One or more parameter values were invalid: Input collection [y, x, y] contains duplicates."
    );
    // Numbers are compared by value: 1 and 1.0 are duplicates.
    assert_eq!(
        validation(json!({"a": {"NS": ["1", "1.0"]}})),
        "One or more parameter values were invalid: Input collection contains duplicates."
    );
    assert_eq!(
        validation(json!({"a": {"BS": ["Yg==", "Yg=="]}})),
        "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS contains duplicates."
    );
    assert_eq!(
        validation(json!({"a": {"N": "1e126"}})),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    assert!(validation(json!({"a": {"N": "1e-131"}})).starts_with("Number underflow"));
    assert_eq!(
        validation(json!({"a": {"N": "123456789012345678901234567890123456789"}})),
        "Attempting to store more than 38 significant digits in a Number"
    );
    assert_eq!(
        validation(json!({"a": {"N": "abc"}})),
        "The parameter cannot be converted to a numeric value: abc"
    );
    assert!(validation(json!({"a": {"NULL": false}})).contains("Null attribute value"));
    assert!(validation(json!({"": {"S": "x"}})).contains("attribute name cannot be empty"));
}

#[test]
fn wrong_json_shapes_are_serialization_errors() {
    for bad in [
        json!([]),
        json!({"a": "x"}),
        json!({"a": {"S": 5}}),
        json!({"a": {"N": 5}}),
        json!({"a": {"BOOL": "true"}}),
        json!({"a": {"M": []}}),
        json!({"a": {"L": {}}}),
        json!({"a": {"SS": "x"}}),
        json!({"a": {"SS": [1]}}),
        json!({"a": {"B": "not base64!"}}),
        json!({"a": {"B": "AQ="}}),
    ] {
        serialization(bad);
    }
}

fn nested(levels: usize) -> Value {
    let mut v = json!({"S": "leaf"});
    for i in 0..levels {
        v = if i % 2 == 0 {
            json!({"M": {"k": v}})
        } else {
            json!({"L": [v]})
        };
    }
    json!({ "a": v })
}

#[test]
fn nesting_is_limited_to_31_levels() {
    let ok = item(nested(31)).unwrap();
    assert_eq!(ok["a"].depth(), 31);
    assert_eq!(
        validation(nested(32)),
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    );
}

#[test]
fn sizes_follow_dynamodbs_formula() {
    // The example in DynamoDB's ServiceQuotas docs.
    let shirt = item(json!({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}})).unwrap();
    assert_eq!(item_size_bytes(&shirt), 23);
    let size = |v: Value| parse_value(&v).unwrap().size_bytes();
    assert_eq!(size(json!({"S": "héllo"})), 6);
    assert_eq!(size(json!({"B": "AAEC"})), 3);
    assert_eq!(size(json!({"BOOL": false})), 1);
    assert_eq!(size(json!({"NULL": true})), 1);
    assert_eq!(size(json!({"N": "0"})), 1);
    assert_eq!(size(json!({"N": "1"})), 2);
    assert_eq!(size(json!({"N": "-1"})), 3);
    // L: 3 + per element (1 + size); M: 3 + per entry (1 + name + size).
    assert_eq!(size(json!({"L": []})), 3);
    assert_eq!(size(json!({"L": [{"S": "ab"}, {"NULL": true}]})), 3 + 3 + 2);
    assert_eq!(size(json!({"M": {"ab": {"S": "xyz"}}})), 3 + 1 + 2 + 3);
    assert_eq!(size(json!({"SS": ["a", "bc"]})), 3);
    assert_eq!(size(json!({"NS": ["1", "-1"]})), 5);
    assert_eq!(size(json!({"BS": ["AQ==", "AQID"]})), 4);
}

#[test]
fn the_400_kb_limit_is_inclusive() {
    // name "a" (1 byte) + value: exactly at the limit, then one byte over.
    let at = item(json!({"a": {"S": "x".repeat(MAX_ITEM_BYTES - 1)}})).unwrap();
    assert_eq!(item_size_bytes(&at), MAX_ITEM_BYTES);
    assert!(check_item_size(&at).is_ok());
    let over = item(json!({"a": {"S": "x".repeat(MAX_ITEM_BYTES)}})).unwrap();
    assert_eq!(
        check_item_size(&over),
        Err(ItemError::Validation(
            "Item size has exceeded the maximum allowed size".into()
        ))
    );
}

fn table(range: Option<AttributeType>) -> TableDesc {
    let mut key_schema = vec![KeySchemaElement {
        attribute_name: "pk".into(),
        key_type: KeyRole::Hash,
    }];
    let mut attribute_definitions = vec![AttributeDefinition {
        attribute_name: "pk".into(),
        attribute_type: AttributeType::S,
    }];
    if let Some(t) = range {
        key_schema.push(KeySchemaElement {
            attribute_name: "sk".into(),
            key_type: KeyRole::Range,
        });
        attribute_definitions.push(AttributeDefinition {
            attribute_name: "sk".into(),
            attribute_type: t,
        });
    }
    TableDesc {
        name: "t".into(),
        id: TableId(9),
        key_schema,
        attribute_definitions,
        billing_mode: BillingMode::PayPerRequest,
        provisioned_throughput: None,
        status: TableStatus::Active,
        creation_time_ms: 0,
        item_count: 0,
        size_bytes: 0,
        partitions: vec![],
        settings: Default::default(),
    }
}

#[test]
fn key_of_item_encodes_with_the_key_layout() {
    let schema = KeySchema::from_table(&table(Some(AttributeType::N))).unwrap();
    let it = item(json!({"pk": {"S": "a"}, "sk": {"N": "1e2"}, "x": {"S": ""}})).unwrap();
    let key = schema.key_of_item(&it).unwrap();
    assert_eq!(key.hash, hash64(&KeyAttr::S("a".into())));
    let decoded = decode_item_key(
        &key.encoded,
        crate::key::KeyType::S,
        Some(crate::key::KeyType::N),
    )
    .unwrap();
    assert_eq!(decoded.table, TableId(9));
    assert_eq!(decoded.sk, Some(KeyAttr::N(Number::parse("100").unwrap())));
    // The same key given as a Key parameter gives the same bytes.
    let k = item(json!({"pk": {"S": "a"}, "sk": {"N": "100"}})).unwrap();
    assert_eq!(schema.key_of_key(&k).unwrap(), key);
}

#[test]
fn key_errors_use_dynamodbs_messages() {
    let schema = KeySchema::from_table(&table(Some(AttributeType::N))).unwrap();
    let of_item = |v: Value| {
        schema
            .key_of_item(&item(v).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        of_item(json!({"sk": {"N": "1"}})),
        "One or more parameter values were invalid: Missing the key pk in the item"
    );
    assert_eq!(
        of_item(json!({"pk": {"S": "a"}, "sk": {"S": "1"}})),
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    );
    assert_eq!(
        of_item(json!({"pk": {"S": ""}, "sk": {"N": "1"}})),
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
    );
    assert!(
        of_item(json!({"pk": {"S": "x".repeat(2049)}, "sk": {"N": "1"}}))
            .contains("maximum size limit of2048 bytes")
    );
    let of_key = |v: Value| {
        schema
            .key_of_key(&item(v).unwrap())
            .unwrap_err()
            .to_string()
    };
    let mismatch = "The provided key element does not match the schema";
    assert_eq!(of_key(json!({"pk": {"S": "a"}})), mismatch);
    assert_eq!(
        of_key(json!({"pk": {"S": "a"}, "sk": {"S": "1"}})),
        mismatch
    );
    assert_eq!(
        of_key(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"N": "1"}})),
        mismatch
    );
    let bschema = KeySchema::from_table(&table(Some(AttributeType::B))).unwrap();
    let err = bschema
        .key_of_key(&item(json!({"pk": {"S": "a"}, "sk": {"B": ""}})).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("empty binary value. Key: sk"), "{err}");
    // Limits are inclusive: a 2048-byte partition key and a 1024-byte sort key are fine.
    let sschema = KeySchema::from_table(&table(Some(AttributeType::S))).unwrap();
    let big = item(json!({"pk": {"S": "p".repeat(2048)}, "sk": {"S": "s".repeat(1024)}})).unwrap();
    assert!(sschema.key_of_item(&big).is_ok());
    let too_big =
        item(json!({"pk": {"S": "p".repeat(2048)}, "sk": {"S": "s".repeat(1025)}})).unwrap();
    assert!(
        sschema
            .key_of_item(&too_big)
            .unwrap_err()
            .to_string()
            .contains("range keys has exceeded the size limit of 1024 bytes")
    );
}

fn value_strategy() -> impl Strategy<Value = AttributeValue> {
    let number = || num_parts().prop_map(|p| p.number());
    let bytes = proptest::collection::vec(any::<u8>(), 0..8);
    let leaf = prop_oneof![
        ".{0,6}".prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        bytes.clone().prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        proptest::collection::btree_set(".{0,4}", 1..4)
            .prop_map(|s| AttributeValue::Ss(s.into_iter().collect())),
        proptest::collection::btree_set(number(), 1..4)
            .prop_map(|s| AttributeValue::Ns(s.into_iter().collect())),
        proptest::collection::btree_set(bytes, 1..4)
            .prop_map(|s| AttributeValue::Bs(s.into_iter().collect())),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            proptest::collection::btree_map(".{1,4}", inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

fn item_strategy() -> impl Strategy<Value = Item> {
    proptest::collection::btree_map(".{1,6}", value_strategy(), 0..6)
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn binary_encoding_round_trips(it in item_strategy()) {
        let bytes = encode_item(&it);
        prop_assert_eq!(decode_item(&bytes).unwrap(), it.clone());
        // The JSON form round-trips too, and both views agree on validity.
        let json = Value::Object(item_to_json(&it));
        prop_assert_eq!(parse_item(&json).unwrap(), it);
    }

    #[test]
    fn corrupt_bytes_never_panic_and_never_decode_to_a_different_encoding(
        it in item_strategy(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode_item(&it);
        let mut bad = bytes.clone();
        for (i, b) in flips {
            let i = i.index(bad.len());
            bad[i] ^= b | 1;
        }
        // Whatever decodes re-encodes to exactly the bytes it came from: the encoding is unique.
        if let Ok(decoded) = decode_item(&bad) {
            prop_assert_eq!(encode_item(&decoded), bad);
        }
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(decode_item(truncated).is_err());
    }
}

#[test]
fn decoding_rejects_non_canonical_forms() {
    let it: Item = BTreeMap::from([("a".to_owned(), AttributeValue::Ss(vec!["x".into()]))]);
    let good = encode_item(&it);
    assert_eq!(good, vec![1, 1, 1, b'a', 0x09, 1, 1, b'x']);
    // Empty set, duplicate set members, trailing bytes, unknown version, unknown tag.
    assert!(decode_item(&[1, 1, 1, b'a', 0x09, 0]).is_err());
    assert!(decode_item(&[1, 1, 1, b'a', 0x09, 2, 1, b'x', 1, b'x']).is_err());
    assert!(decode_item(&[1, 1, 1, b'a', 0x09, 1, 1, b'x', 0]).is_err());
    assert!(decode_item(&[2, 0]).is_err());
    assert!(decode_item(&[1, 1, 1, b'a', 0x0C]).is_err());
    // Non-minimal varint for the count.
    assert!(decode_item(&[1, 0x80, 0x00]).is_err());
    // Names out of order.
    assert!(decode_item(&[1, 2, 1, b'b', 0x06, 1, b'a', 0x06]).is_err());
    // A huge count with few bytes left fails before allocating.
    assert!(decode_item(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).is_err());
    assert_eq!(decode_item(&[1, 0]).unwrap(), Item::new());
}
