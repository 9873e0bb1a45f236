//! Issue 4, "Shows it" 1: create a table, put items through every node, read them back
//! consistently through every node, and see eventually consistent reads converge (< 2 s).
//!
//! How convergence is measured: replicas apply a partition's log in order, so once the last
//! writes are visible through a node, everything before them is too. The timed part polls
//! the last [`PROBE_KEYS`] written keys (covering every partition of a small table) through
//! every node with eventually consistent reads, from the last write's acknowledgement until
//! all of them show their new value (`eventual_converge_ms`); reading all 300 keys in that
//! window would time the reads, not the replication. An untimed pass then checks that every
//! key reads back right, eventually consistently, through every node.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use cairn_cluster_tests::dynamo::{create_table_ready, get, put};
use cairn_cluster_tests::{Cluster, ClusterSpec};

const ITEMS: usize = 300;
const PROBE_KEYS: usize = 20;
const CONVERGE_MAX: Duration = Duration::from_secs(2);
/// How long the untimed full pass may retry stale keys.
const FULL_PASS_MAX: Duration = Duration::from_secs(10);

/// Polls keys `ITEMS - PROBE_KEYS..ITEMS` through every node until each shows `value(i)`;
/// returns the time since `since` when the last one did. Panics after 5 × the limit.
async fn eventual_convergence(
    clients: &[Client],
    table: &str,
    since: Instant,
    value: fn(usize) -> String,
) -> Duration {
    let mut tasks = tokio::task::JoinSet::new();
    for (k, client) in clients.iter().enumerate() {
        for i in ITEMS - PROBE_KEYS..ITEMS {
            let (client, table) = (client.clone(), table.to_owned());
            tasks.spawn(async move {
                loop {
                    let got = get(&client, &table, &format!("k{i}"), false).await;
                    if got.ok().flatten().as_deref() == Some(value(i).as_str()) {
                        return since.elapsed();
                    }
                    assert!(
                        since.elapsed() < CONVERGE_MAX * 5,
                        "k{i} via node{k} still stale after {:?}",
                        CONVERGE_MAX * 5
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
    }
    let mut worst = Duration::ZERO;
    while let Some(t) = tasks.join_next().await {
        worst = worst.max(t.expect("probe task"));
    }
    worst
}

/// Every key read eventually-consistently through every node shows `value(i)` (stale keys are
/// retried for [`FULL_PASS_MAX`]); returns how many were stale on the first read.
async fn all_keys_read_back(clients: &[Client], table: &str, value: fn(usize) -> String) -> usize {
    let started = Instant::now();
    let mut stale_first = 0;
    for (k, client) in clients.iter().enumerate() {
        for i in 0..ITEMS {
            let mut first = true;
            loop {
                let got = get(client, table, &format!("k{i}"), false).await;
                if got.as_ref().ok().and_then(|v| v.as_deref()) == Some(value(i).as_str()) {
                    break;
                }
                if first {
                    stale_first += 1;
                    first = false;
                }
                assert!(
                    started.elapsed() < FULL_PASS_MAX,
                    "k{i} via node{k}: eventually consistent read gives {got:?}, want {}",
                    value(i)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    stale_first
}

fn first_value(i: usize) -> String {
    format!("v{i}")
}

fn second_value(i: usize) -> String {
    format!("w{i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_get_every_node() {
    let cluster = Cluster::start(ClusterSpec::default()).await;
    let table = "every_node";
    create_table_ready(&cluster, table).await;
    let n = cluster.node_count();
    let clients: Vec<_> = (0..n).map(|k| cluster.client(k)).collect();

    let t = Instant::now();
    for i in 0..ITEMS {
        put(&clients[i % n], table, &format!("k{i}"), &first_value(i))
            .await
            .unwrap_or_else(|e| panic!("put k{i} through node{}: {e}", i % n));
    }
    let put_ms = t.elapsed().as_millis();
    let first = eventual_convergence(&clients, table, Instant::now(), first_value).await;
    let stale = all_keys_read_back(&clients, table, first_value).await;

    let t = Instant::now();
    for (k, c) in clients.iter().enumerate() {
        for i in 0..ITEMS {
            let got = get(c, table, &format!("k{i}"), true)
                .await
                .unwrap_or_else(|e| panic!("consistent get k{i} through node{k}: {e}"));
            assert_eq!(got, Some(first_value(i)), "k{i} via node{k}");
        }
    }
    let get_ms = t.elapsed().as_millis();

    // Overwrite everything through rotating nodes, then converge again right away.
    for i in 0..ITEMS {
        put(
            &clients[(i + 1) % n],
            table,
            &format!("k{i}"),
            &second_value(i),
        )
        .await
        .unwrap_or_else(|e| panic!("overwrite k{i}: {e}"));
    }
    let second = eventual_convergence(&clients, table, Instant::now(), second_value).await;
    let stale_after_overwrite = all_keys_read_back(&clients, table, second_value).await;
    let missing = get(&clients[0], table, "never-written", true)
        .await
        .unwrap();
    assert_eq!(missing, None);

    println!(
        "put_get_every_node: {ITEMS} puts in {put_ms} ms, {} consistent gets in {get_ms} ms; \
         eventual_converge_ms={} (after the first writes) {} (after overwrites); keys stale on \
         the first full eventual pass: {stale} and {stale_after_overwrite}",
        ITEMS * n,
        first.as_millis(),
        second.as_millis()
    );
    assert!(
        first.max(second) < CONVERGE_MAX,
        "eventually consistent reads took {:?} to converge (limit {CONVERGE_MAX:?})",
        first.max(second)
    );
}
