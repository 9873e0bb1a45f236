//! Issue 4, "Shows it" 4: stop etcd for 10 s. Reads and writes on existing tables keep working
//! (zero failed operations in a steady put/get load); CreateTable fails with a clear error (an
//! HTTP 5xx, `ServiceUnavailable`-class, whose message names etcd or the control plane) and
//! works again after etcd returns.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use cairn_cluster_tests::dynamo::{
    create_table, create_table_ready, describe_error, error_status, get, put, wait_table_ready,
};
use cairn_cluster_tests::load::Load;
use cairn_cluster_tests::{Cluster, ClusterSpec};

const OUTAGE: Duration = Duration::from_secs(10);
const CREATE_AGAIN_MAX: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_outage() {
    let mut cluster = Cluster::start(ClusterSpec::default()).await;
    create_table_ready(&cluster, "survivor").await;
    // Every node has routed this table before the outage.
    for k in 0..cluster.node_count() {
        put(&cluster.client(k), "survivor", &format!("warm{k}"), "x")
            .await
            .unwrap_or_else(|e| panic!("warm-up put via node{k}: {e}"));
    }
    let load = Load::start(&cluster, "survivor", 8);
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster.stop_etcd();
    let stopped_at = Instant::now();
    // One attempt: the point is the error the user sees, not the SDK's retries. Asked twice:
    // early (the control leader still leads and its etcd write fails) and late (its lease ran
    // out and it stepped down, so no instance leads).
    let once = Client::from_conf(
        cluster
            .sdk_config(0)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    for (at, name) in [
        (Duration::from_millis(500), "during_outage_a"),
        (Duration::from_secs(6), "during_outage_b"),
    ] {
        tokio::time::sleep(at.saturating_sub(stopped_at.elapsed())).await;
        let t = Instant::now();
        let err = create_table(&once, name)
            .await
            .expect_err("CreateTable succeeded while etcd was down");
        let status = error_status(&err);
        let text = describe_error(&err);
        println!(
            "etcd_outage: CreateTable {} ms into the outage answered in {} ms: {text}",
            at.as_millis(),
            t.elapsed().as_millis()
        );
        assert!(
            status.is_some_and(|s| (500..600).contains(&s)),
            "expected an HTTP 5xx, got {text}"
        );
        let lower = text.to_ascii_lowercase();
        assert!(
            lower.contains("etcd")
                || lower.contains("control plane")
                || lower.contains("control-plane"),
            "the error does not say what is down: {text}"
        );
    }
    tokio::time::sleep(OUTAGE.saturating_sub(stopped_at.elapsed())).await;
    let during = load.stop().await;

    cluster.start_etcd().await;
    let back_at = Instant::now();
    let client = cluster.client(1);
    let mut last_error;
    loop {
        match create_table(&client, "after_outage").await {
            Ok(()) => break,
            Err(e) if describe_error(&e).starts_with("ResourceInUseException") => break,
            Err(e) => last_error = describe_error(&e),
        }
        assert!(
            back_at.elapsed() < CREATE_AGAIN_MAX,
            "CreateTable still failing {CREATE_AGAIN_MAX:?} after etcd returned: {last_error}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let create_again = back_at.elapsed();
    wait_table_ready(&cluster, "after_outage", Duration::from_secs(30)).await;
    put(&client, "after_outage", "k", "v").await.unwrap();
    assert_eq!(
        get(&client, "after_outage", "k", true)
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );

    println!(
        "etcd_outage: {} s without etcd: data plane {} ok, {} errors, slowest op {} ms; \
         CreateTable worked again {} ms after etcd returned",
        OUTAGE.as_secs(),
        during.ok,
        during.errors,
        during.latency_max.as_millis(),
        create_again.as_millis()
    );
    assert!(during.ok > 0, "the load did nothing");
    assert_eq!(
        during.errors, 0,
        "reads/writes failed while etcd was down: {:?}",
        during.first_errors
    );
}
