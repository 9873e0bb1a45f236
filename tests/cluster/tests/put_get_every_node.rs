//! Issue 4, "Shows it" 1: create a table, put items through every node, read them back
//! consistently through every node, and see eventually consistent reads converge (< 2 s).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_cluster_tests::dynamo::{create_table_ready, get, put};
use cairn_cluster_tests::{Cluster, ClusterSpec};

const ITEMS: usize = 300;
const CONVERGE_MAX: Duration = Duration::from_secs(2);
const READ_CONCURRENCY: usize = 32;

/// Reads every key eventually-consistently through every node until each returns `value(i)`;
/// returns the time from the call until the last one did.
async fn eventual_convergence(
    cluster: &Cluster,
    table: &str,
    value: impl Fn(usize) -> String + Clone + Send + 'static,
) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..cluster.node_count() {
        let client = cluster.client(k);
        let table = table.to_owned();
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut pending: BTreeSet<usize> = (0..ITEMS).collect();
            while !pending.is_empty() && started.elapsed() < CONVERGE_MAX * 5 {
                // One pass over the stale keys, READ_CONCURRENCY reads at a time, so that the
                // measurement is about replication, not about reading 300 keys in a row.
                let mut still = BTreeSet::new();
                let keys: Vec<usize> = pending.iter().copied().collect();
                for chunk in keys.chunks(READ_CONCURRENCY) {
                    let mut reads = tokio::task::JoinSet::new();
                    for &i in chunk {
                        let (client, table) = (client.clone(), table.clone());
                        reads.spawn(async move {
                            (i, get(&client, &table, &format!("k{i}"), false).await)
                        });
                    }
                    while let Some(r) = reads.join_next().await {
                        let (i, got) = r.unwrap();
                        if got.ok().flatten().as_deref() != Some(value(i).as_str()) {
                            still.insert(i);
                        }
                    }
                }
                pending = still;
            }
            (started.elapsed(), pending.len())
        }));
    }
    let mut worst = Duration::ZERO;
    for (k, t) in tasks.into_iter().enumerate() {
        let (took, stale) = t.await.unwrap();
        assert_eq!(stale, 0, "node{k}: {stale} keys never converged");
        worst = worst.max(took);
    }
    worst
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
        put(&clients[i % n], table, &format!("k{i}"), &format!("v{i}"))
            .await
            .unwrap_or_else(|e| panic!("put k{i} through node{}: {e}", i % n));
    }
    let put_ms = t.elapsed().as_millis();
    let first = eventual_convergence(&cluster, table, |i| format!("v{i}")).await;

    let t = Instant::now();
    for (k, c) in clients.iter().enumerate() {
        for i in 0..ITEMS {
            let got = get(c, table, &format!("k{i}"), true)
                .await
                .unwrap_or_else(|e| panic!("consistent get k{i} through node{k}: {e}"));
            assert_eq!(
                got.as_deref(),
                Some(format!("v{i}").as_str()),
                "k{i} via node{k}"
            );
        }
    }
    let get_ms = t.elapsed().as_millis();

    // Overwrite everything through rotating nodes, then converge again right away.
    for i in 0..ITEMS {
        put(
            &clients[(i + 1) % n],
            table,
            &format!("k{i}"),
            &format!("w{i}"),
        )
        .await
        .unwrap_or_else(|e| panic!("overwrite k{i}: {e}"));
    }
    let second = eventual_convergence(&cluster, table, |i| format!("w{i}")).await;
    let missing = get(&clients[0], table, "never-written", true)
        .await
        .unwrap();
    assert_eq!(missing, None);

    println!(
        "put_get_every_node: {ITEMS} puts in {put_ms} ms, {} consistent gets in {get_ms} ms, \
         eventual_converge_ms={} (after first writes) {} (after overwrites)",
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
