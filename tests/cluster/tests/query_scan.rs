//! Issue 5: Query and Scan through real nodes (AWS Rust SDK), on a table of four partitions
//! spread over three nodes in three AZs.
//!
//! - Every collection, queried with a small `Limit` both ways and resumed with each
//!   `LastEvaluatedKey`, returns its items exactly once, in sort-key order.
//! - A paginated Scan, from any node, returns every item of the table exactly once, across
//!   every partition; so do the segments of a parallel scan run through different nodes.
//! - Eventually consistent reads (served by a replica in the router's AZ) converge on the
//!   same items; `Select=COUNT` and consumed capacity are reported.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ReturnConsumedCapacity, ScalarAttributeType, Select, WriteRequest,
};
use cairn_cluster_tests::dynamo::{describe_error, wait_table_ready};
use cairn_cluster_tests::{Cluster, ClusterSpec};

const TABLE: &str = "qscan";
const COLLECTIONS: usize = 12;
const PER: usize = 30;

type Item = HashMap<String, AttributeValue>;

fn key_of(item: &Item) -> (String, i64) {
    let pk = item["pk"].as_s().unwrap().clone();
    let sk = item["sk"].as_n().unwrap().parse().unwrap();
    (pk, sk)
}

async fn create(client: &Client) {
    let ks = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .unwrap()
    };
    let ad = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(TABLE)
        .key_schema(ks("pk", KeyType::Hash))
        .key_schema(ks("sk", KeyType::Range))
        .attribute_definitions(ad("pk", ScalarAttributeType::S))
        .attribute_definitions(ad("sk", ScalarAttributeType::N))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable: {}", describe_error(&e)));
}

async fn fill(clients: &[Client]) {
    let mut requests = Vec::new();
    for c in 0..COLLECTIONS {
        for s in 0..PER {
            let item = PutRequest::builder()
                .item("pk", AttributeValue::S(format!("c{c}")))
                .item("sk", AttributeValue::N(s.to_string()))
                .item("v", AttributeValue::S("x".repeat(200)))
                .build()
                .unwrap();
            requests.push(WriteRequest::builder().put_request(item).build());
        }
    }
    for (i, chunk) in requests.chunks(25).enumerate() {
        let mut pending = chunk.to_vec();
        let t = Instant::now();
        while !pending.is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "batch {i} never finished"
            );
            let r = clients[i % clients.len()]
                .batch_write_item()
                .request_items(TABLE, pending.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("BatchWriteItem: {}", describe_error(&e)));
            pending = r
                .unprocessed_items
                .and_then(|mut u| u.remove(TABLE))
                .unwrap_or_default();
        }
    }
}

/// Every page of a Query of collection `c`, resumed until the end.
async fn query_all(client: &Client, c: usize, forward: bool, consistent: bool) -> Vec<i64> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let r = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(format!("c{c}")))
            .scan_index_forward(forward)
            .consistent_read(consistent)
            .limit(7)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("Query c{c}: {}", describe_error(&e)));
        assert!(r.count <= 7);
        out.extend(r.items().iter().map(|i| key_of(i).1));
        match r.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Every page of a (segment of a) Scan.
async fn scan_all(client: &Client, segment: Option<(i32, i32)>, limit: i32) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let r = client
            .scan()
            .table_name(TABLE)
            .consistent_read(true)
            .limit(limit)
            .set_segment(segment.map(|s| s.0))
            .set_total_segments(segment.map(|s| s.1))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("Scan {segment:?}: {}", describe_error(&e)));
        out.extend(r.items().iter().map(key_of));
        match r.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

fn exactly_once(got: &[(String, i64)], what: &str) {
    let set: BTreeSet<&(String, i64)> = got.iter().collect();
    assert_eq!(set.len(), got.len(), "{what}: an item came back twice");
    assert_eq!(got.len(), COLLECTIONS * PER, "{what}: items missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn query_and_scan_across_partitions() {
    let cluster = Cluster::start(ClusterSpec {
        partitions: Some(4),
        ..ClusterSpec::default()
    })
    .await;
    let clients: Vec<Client> = (0..cluster.node_count())
        .map(|k| cluster.client(k))
        .collect();
    create(&clients[0]).await;
    let groups = wait_table_ready(&cluster, TABLE, Duration::from_secs(30)).await;
    assert_eq!(groups.len(), 4, "--partitions-override 4");
    fill(&clients).await;

    let want: Vec<i64> = (0..PER as i64).collect();
    for c in 0..COLLECTIONS {
        let client = &clients[c % clients.len()];
        assert_eq!(
            query_all(client, c, true, true).await,
            want,
            "c{c} ascending"
        );
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(
            query_all(client, c, false, true).await,
            rev,
            "c{c} descending"
        );
    }

    for (k, client) in clients.iter().enumerate() {
        exactly_once(
            &scan_all(client, None, 37).await,
            &format!("scan via node{k}"),
        );
    }
    let mut all = Vec::new();
    for s in 0..3 {
        all.extend(scan_all(&clients[s as usize % clients.len()], Some((s, 3)), 11).await);
    }
    exactly_once(&all, "parallel scan of 3 segments");

    // Eventually consistent reads come from a replica in the router's AZ; they converge.
    let t = Instant::now();
    for c in 0..COLLECTIONS {
        loop {
            let got = query_all(&clients[(c + 1) % clients.len()], c, true, false).await;
            if got == want {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "eventual reads of c{c} never converged: {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let r = clients[1]
        .scan()
        .table_name(TABLE)
        .select(Select::Count)
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap_or_else(|e| panic!("Scan COUNT: {}", describe_error(&e)));
    assert_eq!(r.count as usize, COLLECTIONS * PER);
    assert_eq!(r.scanned_count as usize, COLLECTIONS * PER);
    assert!(r.items.is_none() || r.items().is_empty());
    let units = r
        .consumed_capacity
        .and_then(|c| c.capacity_units)
        .expect("ConsumedCapacity");
    // 360 items of ~215 bytes, summed then rounded up to 4 KB blocks.
    assert!((18.0..=22.0).contains(&units), "{units} read units");
    println!(
        "query_scan: {} items in {} partitions; scan COUNT consumed {units} RCU",
        COLLECTIONS * PER,
        groups.len()
    );
}
