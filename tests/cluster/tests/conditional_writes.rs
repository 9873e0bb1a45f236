//! Issue 5: conditions and updates are evaluated by the partition leader against the current
//! item, atomically with the write, through real nodes with the AWS Rust SDK.
//!
//! - `ADD n :one` from 8 concurrent clients spread over every node: the final counter equals
//!   the number of acknowledged updates (a read-modify-write that raced would lose some).
//! - Optimistic locking: 8 clients each read the version, then `SET v = :new` with
//!   `ConditionExpression v = :old`; every acknowledged write is a distinct version step, the
//!   others get `ConditionalCheckFailedException`, and the final version counts the winners.
//! - `attribute_not_exists` creates once; the loser gets the item back with
//!   `ReturnValuesOnConditionCheckFailure=ALL_OLD`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use cairn_cluster_tests::dynamo::{create_table_ready, describe_error};
use cairn_cluster_tests::{Cluster, ClusterSpec};

const CLIENTS: usize = 8;
const ROUNDS: usize = 25;

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {item:?}"))
}

async fn consistent_item(
    client: &Client,
    table: &str,
    key: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {}", describe_error(&e)))
        .item
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditions_and_updates_are_atomic_at_the_leader() {
    let cluster = Cluster::start(ClusterSpec::default()).await;
    let table = "cond";
    create_table_ready(&cluster, table).await;
    let clients: Vec<Client> = (0..cluster.node_count())
        .map(|k| cluster.client(k))
        .collect();

    // 1. Concurrent counters.
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let client = clients[c % clients.len()].clone();
        let acked = acked.clone();
        tasks.spawn(async move {
            for _ in 0..ROUNDS {
                match client
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S("counter".into()))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", n(1))
                    .send()
                    .await
                {
                    Ok(_) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("counter update failed (allowed): {}", describe_error(&e)),
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("counter task");
    }
    let acked = acked.load(Ordering::Relaxed);
    assert!(
        acked >= (CLIENTS * ROUNDS) as u64 * 9 / 10,
        "{acked} updates acknowledged"
    );
    let item = consistent_item(&clients[0], table, "counter")
        .await
        .unwrap();
    // Unacknowledged updates may have applied (ambiguous outcome), never the reverse.
    let total = number(&item, "n");
    assert!(
        total >= acked && total <= (CLIENTS * ROUNDS) as u64,
        "counter {total}, acknowledged {acked}"
    );
    eprintln!("counter: {acked} acknowledged, final {total}");

    // 2. Optimistic locking on a version attribute.
    clients[0]
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S("doc".into()))
        .item("v", n(0))
        .send()
        .await
        .unwrap();
    let wins = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    for c in 0..CLIENTS {
        let client = clients[c % clients.len()].clone();
        let (wins, conflicts) = (wins.clone(), conflicts.clone());
        tasks.spawn(async move {
            for _ in 0..ROUNDS {
                let cur = number(&consistent_item(&client, table, "doc").await.unwrap(), "v");
                let r = client
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S("doc".into()))
                    .update_expression("SET v = :new")
                    .condition_expression("v = :old")
                    .expression_attribute_values(":new", n(cur + 1))
                    .expression_attribute_values(":old", n(cur))
                    .send()
                    .await;
                match r {
                    Ok(_) => wins.fetch_add(1, Ordering::Relaxed),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        conflicts.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => panic!("versioned update: {}", describe_error(&e)),
                };
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("versioned task");
    }
    let (wins, conflicts) = (
        wins.load(Ordering::Relaxed),
        conflicts.load(Ordering::Relaxed),
    );
    let v = number(
        &consistent_item(&clients[1], table, "doc").await.unwrap(),
        "v",
    );
    eprintln!("optimistic locking: {wins} wins, {conflicts} conflicts, version {v}");
    assert_eq!(
        v, wins,
        "every win is one version step, and no step was lost"
    );
    assert!(conflicts > 0, "8 racing clients never conflicted");

    // 3. Create-once, and the loser sees the item.
    let create = |client: Client, value: &'static str| async move {
        client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S("once".into()))
            .item("who", AttributeValue::S(value.into()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
    };
    create(clients[0].clone(), "first").await.unwrap();
    let err = create(clients[2 % clients.len()].clone(), "second")
        .await
        .expect_err("the second create must fail");
    let svc = err.into_service_error();
    assert!(svc.is_conditional_check_failed_exception(), "{svc:?}");
    let seen = match svc {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            e.item
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        seen.and_then(|i| i.get("who").cloned()),
        Some(AttributeValue::S("first".into()))
    );

    // 4. ReturnValues of UpdateItem through a node that is not the leader of every partition.
    let out = clients[1]
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S("doc".into()))
        .update_expression("SET v = v + :one, t = :t")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":t", AttributeValue::S("x".into()))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.expect("UPDATED_NEW attributes");
    assert_eq!(number(&attrs, "v"), v + 1);
    assert_eq!(attrs.len(), 2, "{attrs:?}");
}
