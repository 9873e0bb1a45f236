//! Query and Scan through the operations, over the in-memory backend (which splits each table
//! into `MEM_PARTITIONS` hash partitions and reads them with the partitions' own
//! `partition::range`, so pages meet partition boundaries as on a cluster): key conditions in
//! both directions, pagination (every item exactly once, whatever the `Limit`), the 1 MB page,
//! parallel scan segments, `Select`, filters, projections, consumed capacity and DynamoDB's
//! messages. The multi-process tests in `tests/` read through real nodes.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::tests::{run, validation};
use crate::api::testing::MemBackend;
use crate::rng::{Rng, test_seeds};

/// Table `q` (pk S, sk N) with `per` items in each of collections `a` and `b`, and table `h`
/// (pk S only) with `h_items` items.
fn tables(per: u64, h_items: u64) -> MemBackend {
    let b = MemBackend::new();
    run(
        &b,
        "CreateTable",
        json!({
            "TableName": "q",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .unwrap();
    run(
        &b,
        "CreateTable",
        json!({
            "TableName": "h",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .unwrap();
    for pk in ["a", "b"] {
        for sk in 0..per {
            let item = json!({"pk": {"S": pk}, "sk": {"N": (sk as i64 - 5).to_string()},
                              "odd": {"BOOL": sk % 2 == 1}, "pad": {"S": "x".repeat(100)}});
            run(&b, "PutItem", json!({"TableName": "q", "Item": item})).unwrap();
        }
    }
    for i in 0..h_items {
        let item = json!({"pk": {"S": format!("h{i}")}, "n": {"N": i.to_string()}});
        run(&b, "PutItem", json!({"TableName": "h", "Item": item})).unwrap();
    }
    b
}

fn sks(r: &Value) -> Vec<i64> {
    r["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sk"]["N"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn query(b: &MemBackend, extra: Value) -> Value {
    let mut p = json!({"TableName": "q", "KeyConditionExpression": "pk = :p",
                       "ExpressionAttributeValues": {":p": {"S": "a"}}});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    run(b, "Query", p).unwrap()
}

#[test]
fn query_reads_one_collection_in_sort_key_order_both_ways() {
    let b = tables(30, 0);
    let r = query(&b, json!({}));
    assert_eq!(sks(&r), (-5..25).collect::<Vec<_>>());
    assert_eq!(
        (r["Count"].as_u64(), r["ScannedCount"].as_u64()),
        (Some(30), Some(30))
    );
    assert!(r.get("LastEvaluatedKey").is_none());
    let r = query(&b, json!({"ScanIndexForward": false}));
    assert_eq!(sks(&r), (-5..25).rev().collect::<Vec<_>>());
    let cond = |c: &str, vals: Value| {
        let mut v = json!({":p": {"S": "a"}});
        for (k, x) in vals.as_object().unwrap() {
            v[k] = x.clone();
        }
        sks(&query(
            &b,
            json!({"KeyConditionExpression": format!("pk = :p AND {c}"),
                   "ExpressionAttributeValues": v}),
        ))
    };
    assert_eq!(cond("sk < :x", json!({":x": {"N": "-3"}})), vec![-5, -4]);
    assert_eq!(
        cond("sk <= :x", json!({":x": {"N": "-3"}})),
        vec![-5, -4, -3]
    );
    assert_eq!(cond("sk > :x", json!({":x": {"N": "22"}})), vec![23, 24]);
    assert_eq!(cond("sk >= :x", json!({":x": {"N": "22.5"}})), vec![23, 24]);
    assert_eq!(cond("sk = :x", json!({":x": {"N": "7"}})), vec![7]);
    assert_eq!(
        cond(
            "sk BETWEEN :x AND :y",
            json!({":x": {"N": "-1"}, ":y": {"N": "2"}})
        ),
        vec![-1, 0, 1, 2]
    );
    assert_eq!(
        cond("sk = :x", json!({":x": {"N": "100"}})),
        Vec::<i64>::new()
    );
    // The legacy form selects the same.
    let r = run(
        &b,
        "Query",
        json!({"TableName": "q", "KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
            "sk": {"ComparisonOperator": "BETWEEN",
                   "AttributeValueList": [{"N": "-1"}, {"N": "2"}]}}}),
    )
    .unwrap();
    assert_eq!(sks(&r), vec![-1, 0, 1, 2]);
}

#[test]
fn begins_with_on_a_string_sort_key() {
    let b = MemBackend::new();
    run(
        &b,
        "CreateTable",
        json!({"TableName": "s",
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                             {"AttributeName": "sk", "KeyType": "RANGE"}],
               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                        {"AttributeName": "sk", "AttributeType": "S"}],
               "BillingMode": "PAY_PER_REQUEST"}),
    )
    .unwrap();
    for sk in ["a", "ab", "abc", "abd", "ac", "b", "\u{ff}", "\u{ff}\u{ff}"] {
        run(
            &b,
            "PutItem",
            json!({"TableName": "s", "Item": {"pk": {"S": "p"}, "sk": {"S": sk}}}),
        )
        .unwrap();
    }
    let got = |prefix: &str| -> Vec<String> {
        let r = run(
            &b,
            "Query",
            json!({"TableName": "s", "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                   "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": prefix}}}),
        )
        .unwrap();
        r["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sk"]["S"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(got("ab"), vec!["ab", "abc", "abd"]);
    assert_eq!(got("a"), vec!["a", "ab", "abc", "abd", "ac"]);
    assert_eq!(got("\u{ff}"), vec!["\u{ff}", "\u{ff}\u{ff}"]);
    assert_eq!(got("z"), Vec::<String>::new());
}

/// Pages of every `Limit`, both ways, resumed with each `LastEvaluatedKey`: every item of the
/// collection exactly once, in order; a page that reaches its `Limit` has a
/// `LastEvaluatedKey` even when nothing follows (as DynamoDB's).
#[test]
fn query_pages_resume_where_they_stopped() {
    let b = tables(23, 0);
    for forward in [true, false] {
        for limit in [1u64, 2, 5, 22, 23, 24, 100] {
            let mut got = Vec::new();
            let mut start: Option<Value> = None;
            let mut pages = 0;
            loop {
                let mut extra = json!({"Limit": limit, "ScanIndexForward": forward});
                if let Some(s) = &start {
                    extra["ExclusiveStartKey"] = s.clone();
                }
                let r = query(&b, extra);
                pages += 1;
                assert!(r["Count"].as_u64().unwrap() <= limit);
                got.extend(sks(&r));
                match r.get("LastEvaluatedKey") {
                    Some(k) => {
                        assert_eq!(k.as_object().unwrap().len(), 2, "{k}");
                        start = Some(k.clone());
                    }
                    None => break,
                }
            }
            let mut want: Vec<i64> = (-5..18).collect();
            if !forward {
                want.reverse();
            }
            assert_eq!(got, want, "limit {limit} forward {forward}");
            assert_eq!(pages, 23 / limit + 1, "limit {limit}");
        }
    }
}

#[test]
fn filters_count_select_projection_and_capacity() {
    let b = tables(10, 0);
    let r = query(
        &b,
        json!({"FilterExpression": "odd = :t",
               "ExpressionAttributeValues": {":p": {"S": "a"}, ":t": {"BOOL": true}},
               "ReturnConsumedCapacity": "TOTAL", "ConsistentRead": true}),
    );
    assert_eq!(
        (r["Count"].as_u64(), r["ScannedCount"].as_u64()),
        (Some(5), Some(10))
    );
    // 10 items of ~130 bytes: one 4 KB block, a strongly consistent read costs 1.
    assert_eq!(r["ConsumedCapacity"]["CapacityUnits"], json!(1.0));
    let r = query(&b, json!({"ReturnConsumedCapacity": "TOTAL"}));
    assert_eq!(r["ConsumedCapacity"]["CapacityUnits"], json!(0.5));
    // A filter that matches nothing still pages by what it read.
    let r = query(
        &b,
        json!({"FilterExpression": "attribute_exists(nope)", "Limit": 3}),
    );
    assert_eq!(
        (r["Count"].as_u64(), r["ScannedCount"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(r["Items"], json!([]));
    assert!(r.get("LastEvaluatedKey").is_some());
    let r = query(&b, json!({"Select": "COUNT"}));
    assert_eq!(r["Count"].as_u64(), Some(10));
    assert!(r.get("Items").is_none());
    let r = query(&b, json!({"ProjectionExpression": "sk", "Limit": 1}));
    assert_eq!(r["Items"], json!([{"sk": {"N": "-5"}}]));
    assert_eq!(
        r["LastEvaluatedKey"],
        json!({"pk": {"S": "a"}, "sk": {"N": "-5"}})
    );
    let r = run(
        &b,
        "Query",
        json!({"TableName": "q", "AttributesToGet": ["odd"], "Select": "SPECIFIC_ATTRIBUTES",
               "KeyConditions": {"pk": {"ComparisonOperator": "EQ",
                                        "AttributeValueList": [{"S": "b"}]}}}),
    )
    .unwrap();
    assert_eq!(r["Items"][1], json!({"odd": {"BOOL": true}}));
}

#[test]
fn query_and_scan_messages() {
    let b = tables(3, 3);
    let q = |p: Value| validation(run(&b, "Query", p));
    assert_eq!(
        q(json!({"TableName": "q"})),
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the \
         request."
    );
    let base = json!({"TableName": "q", "KeyConditionExpression": "pk = :p",
                      "ExpressionAttributeValues": {":p": {"S": "a"}}});
    let with = |extra: Value| {
        let mut p = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    assert_eq!(
        q(with(json!({"Limit": 0}))),
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 1"
    );
    assert!(q(with(json!({"Select": "SOME"}))).contains("Value 'SOME' at 'select'"));
    assert_eq!(
        q(with(
            json!({"Select": "COUNT", "ProjectionExpression": "sk"})
        )),
        "Cannot specify the ProjectionExpression when choosing to get only the Count"
    );
    assert_eq!(
        q(with(json!({"Select": "SPECIFIC_ATTRIBUTES"}))),
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression \
         when choosing to get SPECIFIC_ATTRIBUTES"
    );
    assert_eq!(
        q(with(json!({"Select": "ALL_PROJECTED_ATTRIBUTES"}))),
        "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
    );
    assert_eq!(
        q(with(json!({"IndexName": "byDate"}))),
        "The table does not have the specified index: byDate"
    );
    assert_eq!(
        q(with(json!({"KeyConditionExpression": "sk = :p"}))),
        "Query condition missed key schema element: pk"
    );
    assert_eq!(
        q(with(
            json!({"ExpressionAttributeValues": {":p": {"N": "1"}}})
        )),
        "One or more parameter values were invalid: Condition parameter type does not match \
         schema type"
    );
    assert_eq!(
        q(with(json!({"ExclusiveStartKey": {"pk": {"S": "a"}}}))),
        "The provided starting key is invalid"
    );
    assert_eq!(
        q(with(
            json!({"ExclusiveStartKey": {"pk": {"S": "b"}, "sk": {"N": "1"}}})
        )),
        "The provided starting key is outside query boundaries based on provided conditions"
    );
    assert_eq!(
        q(with(json!({"FilterExpression": "sk > :p"}))),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: \
         sk"
    );
    assert!(matches!(
        run(&b, "Query", with(json!({"TableName": "nope"}))),
        Err(crate::api::error::ApiError::ResourceNotFound(_))
    ));
    let s = |p: Value| validation(run(&b, "Scan", p));
    assert_eq!(
        s(json!({"TableName": "h", "Segment": 1})),
        "The TotalSegments parameter is required but was not present in the request when \
         Segment parameter is present"
    );
    assert_eq!(
        s(json!({"TableName": "h", "TotalSegments": 2})),
        "The Segment parameter is required but was not present in the request when parameter \
         TotalSegments is present"
    );
    assert_eq!(
        s(json!({"TableName": "h", "Segment": 2, "TotalSegments": 2})),
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: \
         Segment: 2 is not less than TotalSegments: 2"
    );
    assert!(
        s(json!({"TableName": "h", "Segment": 0, "TotalSegments": 1_000_001}))
            .contains("Member must have value less than or equal to 1000000")
    );
    assert!(
        s(json!({"TableName": "h", "ExclusiveStartKey": {"pk": {"N": "1"}}}))
            .starts_with("The provided starting key is invalid: ")
    );
}

fn scan_all(b: &MemBackend, extra: Value) -> (Vec<String>, usize) {
    let mut got = Vec::new();
    let mut start: Option<Value> = None;
    let mut pages = 0;
    loop {
        let mut p = json!({"TableName": "h"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        if let Some(s) = &start {
            p["ExclusiveStartKey"] = s.clone();
        }
        let r = run(b, "Scan", p).unwrap();
        pages += 1;
        got.extend(
            r["Items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["pk"]["S"].as_str().unwrap().to_owned()),
        );
        match r.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return (got, pages),
        }
    }
}

/// Scans cross every test partition; whatever the `Limit` and segmentation, each item comes
/// back exactly once.
#[test]
fn scans_and_parallel_scans_return_every_item_once() {
    let b = tables(0, 200);
    let want: BTreeSet<String> = (0..200).map(|i| format!("h{i}")).collect();
    for limit in [None, Some(1), Some(7), Some(199), Some(200)] {
        let extra = limit.map_or(json!({}), |l| json!({"Limit": l}));
        let (got, _) = scan_all(&b, extra);
        assert_eq!(got.len(), 200, "limit {limit:?}");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    }
    for total in [1u64, 2, 3, 16] {
        let mut all = Vec::new();
        for seg in 0..total {
            let (got, _) = scan_all(
                &b,
                json!({"Segment": seg, "TotalSegments": total, "Limit": 9}),
            );
            all.extend(got);
        }
        assert_eq!(all.len(), 200, "{total} segments");
        assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), want);
    }
    // A key of one segment is refused with another.
    let r = run(
        &b,
        "Scan",
        json!({"TableName": "h", "Segment": 0, "TotalSegments": 2}),
    )
    .unwrap();
    let first = r["Items"][0]["pk"].clone();
    let other = run(
        &b,
        "Scan",
        json!({"TableName": "h", "Segment": 1, "TotalSegments": 2,
               "ExclusiveStartKey": {"pk": first}}),
    );
    assert!(validation(other).contains("does not belong to Segment 1"));
}

/// A page stops at 1 MB of items read, the item that reaches it included.
#[test]
fn a_page_holds_at_most_a_megabyte() {
    let b = tables(0, 0);
    let pad = "p".repeat(100 * 1024);
    for i in 0..25 {
        run(
            &b,
            "PutItem",
            json!({"TableName": "h", "Item": {"pk": {"S": format!("h{i}")}, "pad": {"S": pad}}}),
        )
        .unwrap();
    }
    let r = run(&b, "Scan", json!({"TableName": "h", "Select": "COUNT"})).unwrap();
    // Stored images of ~100 KB: the eleventh reaches 1 MB.
    assert_eq!(r["ScannedCount"].as_u64(), Some(11), "{r}");
    assert!(r.get("LastEvaluatedKey").is_some());
    let (got, pages) = scan_all(&b, json!({}));
    assert_eq!((got.len(), pages), (25, 3));
}

/// Random collections, sort-key conditions, limits and directions: the pages, resumed, equal
/// the reference (the items sorted numerically, selected by the condition).
#[test]
fn random_queries_match_a_reference() {
    for seed in test_seeds(30) {
        let mut rng = Rng::new(seed);
        let b = tables(0, 0);
        let mut sks: BTreeSet<i64> = BTreeSet::new();
        for _ in 0..rng.below(40) {
            let sk = rng.below(60) as i64 - 30;
            sks.insert(sk);
            let item = json!({"pk": {"S": "r"}, "sk": {"N": sk.to_string()}});
            run(&b, "PutItem", json!({"TableName": "q", "Item": item})).unwrap();
        }
        let (x, y) = (rng.below(70) as i64 - 35, rng.below(70) as i64 - 35);
        let (lo, hi) = (x.min(y), x.max(y));
        let (cond, pick): (&str, Box<dyn Fn(i64) -> bool>) = match rng.below(6) {
            0 => ("sk < :x", Box::new(move |s| s < x)),
            1 => ("sk <= :x", Box::new(move |s| s <= x)),
            2 => ("sk > :x", Box::new(move |s| s > x)),
            3 => ("sk >= :x", Box::new(move |s| s >= x)),
            4 => ("sk = :x", Box::new(move |s| s == x)),
            _ => (
                "sk BETWEEN :lo AND :hi",
                Box::new(move |s| lo <= s && s <= hi),
            ),
        };
        let forward = rng.below(2) == 0;
        let limit = 1 + rng.below(8);
        let mut want: Vec<i64> = sks.iter().copied().filter(|&s| pick(s)).collect();
        if !forward {
            want.reverse();
        }
        let mut got = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut p = json!({"TableName": "q",
                "KeyConditionExpression": format!("pk = :p AND {cond}"),
                "ExpressionAttributeValues": {":p": {"S": "r"}},
                "ScanIndexForward": forward, "Limit": limit});
            let vals = &mut p["ExpressionAttributeValues"];
            if cond.contains(":x") {
                vals[":x"] = json!({"N": x.to_string()});
            } else {
                vals[":lo"] = json!({"N": lo.to_string()});
                vals[":hi"] = json!({"N": hi.to_string()});
            }
            if let Some(s) = &start {
                p["ExclusiveStartKey"] = s.clone();
            }
            let r = run(&b, "Query", p).unwrap();
            got.extend(self::sks(&r));
            match r.get("LastEvaluatedKey") {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        assert_eq!(
            got, want,
            "seed {seed}: {cond} x={x} lo={lo} hi={hi} limit {limit}"
        );
    }
}
