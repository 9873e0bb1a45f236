//! Issue 5: table settings through real nodes (AWS Rust SDK).
//!
//! - Time to live: with `UpdateTimeToLive` on, each partition leader's sweeper deletes
//!   exactly the items whose TTL attribute is a number of epoch seconds now past (not those in
//!   the future, not those five years or more in the past, not those of another type), within
//!   a few sweeps (`--ttl-sweep-secs 1`); `DescribeTimeToLive` reports it; the nodes' metrics
//!   count the deletions.
//! - UpdateTable changes the throughput and billing mode; every node's DescribeTable shows it
//!   (others after their routing refresh).
//! - TagResource / ListTagsOfResource / UntagResource on the table's ARN.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, ProvisionedThroughput, Tag, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use cairn_cluster_tests::admin;
use cairn_cluster_tests::dynamo::{create_table_ready, describe_error};
use cairn_cluster_tests::{Cluster, ClusterSpec};

async fn count(client: &Client, table: &str) -> usize {
    let mut n = 0;
    let mut start = None;
    loop {
        let r = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("Scan: {}", describe_error(&e)));
        n += r.count as usize;
        match r.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return n,
        }
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn time_to_live_update_table_and_tags() {
    let cluster = Cluster::start(ClusterSpec {
        partitions: Some(3),
        node_args: vec!["--ttl-sweep-secs".into(), "1".into()],
        ..ClusterSpec::default()
    })
    .await;
    let table = "settings";
    create_table_ready(&cluster, table).await;
    let clients: Vec<Client> = (0..cluster.node_count())
        .map(|k| cluster.client(k))
        .collect();
    let c = &clients[0];

    // Time to live.
    c.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("exp")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateTimeToLive: {}", describe_error(&e)));
    let d = clients[1]
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeTimeToLive: {}", describe_error(&e)));
    let status = d
        .time_to_live_description
        .and_then(|t| t.time_to_live_status);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let kinds: [(&str, usize, Option<AttributeValue>); 5] = [
        (
            "expired",
            40,
            Some(AttributeValue::N((now - 100).to_string())),
        ),
        (
            "future",
            10,
            Some(AttributeValue::N((now + 3_600).to_string())),
        ),
        (
            "ancient",
            10,
            Some(AttributeValue::N((now - 6 * 365 * 86_400).to_string())),
        ),
        (
            "string",
            10,
            Some(AttributeValue::S((now - 100).to_string())),
        ),
        ("none", 10, None),
    ];
    let mut expected_left = 0;
    for (kind, n, exp) in &kinds {
        for i in 0..*n {
            let mut put = clients[i % clients.len()]
                .put_item()
                .table_name(table)
                .item("pk", AttributeValue::S(format!("{kind}{i}")));
            if let Some(v) = exp {
                put = put.item("exp", v.clone());
            }
            put.send()
                .await
                .unwrap_or_else(|e| panic!("PutItem: {}", describe_error(&e)));
        }
        if *kind != "expired" {
            expected_left += n;
        }
    }
    assert_eq!(
        status,
        Some(TimeToLiveStatus::Enabled),
        "DescribeTimeToLive via node1"
    );
    let t = Instant::now();
    loop {
        let left = count(c, table).await;
        if left == expected_left {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{left} items left after 30 s, expected {expected_left}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let swept_after = t.elapsed();
    for (kind, n, _) in &kinds {
        for i in 0..*n {
            let got = c
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("{kind}{i}")))
                .consistent_read(true)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GetItem: {}", describe_error(&e)))
                .item;
            assert_eq!(got.is_some(), *kind != "expired", "{kind}{i}");
        }
    }
    let mut deleted = 0;
    for k in 0..cluster.node_count() {
        let text = admin::metrics(cluster.admin_addr(k)).await.unwrap();
        deleted += metric(&text, "cairn_ttl_deleted_items_total");
    }
    assert_eq!(deleted, 40, "deletions counted in /metrics");
    println!("table_settings: 40 expired items swept within {swept_after:?}");

    // UpdateTable: on-demand → provisioned → new throughput.
    let tp = |r, w| {
        ProvisionedThroughput::builder()
            .read_capacity_units(r)
            .write_capacity_units(w)
            .build()
            .unwrap()
    };
    let d = c
        .update_table()
        .table_name(table)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(tp(7, 3))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateTable: {}", describe_error(&e)))
        .table_description
        .unwrap();
    assert_eq!(
        d.provisioned_throughput.and_then(|p| p.read_capacity_units),
        Some(7)
    );
    let e = c
        .update_table()
        .table_name(table)
        .provisioned_throughput(tp(7, 3))
        .send()
        .await
        .expect_err("an unchanged throughput is refused");
    assert!(
        describe_error(&e).contains("will not change"),
        "{}",
        describe_error(&e)
    );
    for (k, client) in clients.iter().enumerate() {
        let t = Instant::now();
        loop {
            let d = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .unwrap()
                .table
                .unwrap();
            if d.provisioned_throughput
                .and_then(|p| p.write_capacity_units)
                == Some(3)
            {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "node{k} never showed the update"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Tags.
    let arn = d.table_arn.expect("TableArn");
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("storage").build().unwrap())
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("TagResource: {}", describe_error(&e)));
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap_or_else(|e| panic!("UntagResource: {}", describe_error(&e)));
    let tags: HashMap<String, String> = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListTagsOfResource: {}", describe_error(&e)))
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(tags, HashMap::from([("team".into(), "storage".into())]));
}
