//! Issue 4, "Shows it" 3: kill the control-plane leader (`kill -9`). A standby takes over, the
//! data plane keeps serving throughout (zero failed operations in a steady put/get load), and
//! CreateTable works again within 10 s.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use cairn_cluster_tests::dynamo::{
    create_table, create_table_ready, describe_error, wait_table_ready,
};
use cairn_cluster_tests::load::Load;
use cairn_cluster_tests::{Cluster, ClusterSpec};

const CREATE_AGAIN_MAX: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn control_leader_failover() {
    let mut cluster = Cluster::start(ClusterSpec::default()).await;
    create_table_ready(&cluster, "steady").await;
    let load = Load::start(&cluster, "steady", 8);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let killed = cluster.kill_control_leader().await;
    let killed_at = Instant::now();
    let mut attempts = 0;
    let mut last_error = String::new();
    // One SDK attempt per try, so the loop sees (and prints) when CreateTable first works.
    let client = Client::from_conf(
        cluster
            .sdk_config(1)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(8))
                    .build(),
            )
            .build(),
    );
    loop {
        attempts += 1;
        let t = Instant::now();
        match create_table(&client, "after_failover").await {
            Ok(()) => break,
            // An attempt that reached the old leader may have written the table already.
            Err(e) if describe_error(&e).starts_with("ResourceInUseException") => break,
            Err(e) => {
                last_error = describe_error(&e);
                println!(
                    "control_leader_failover: CreateTable at +{} ms failed after {} ms: {last_error}",
                    killed_at.elapsed().as_millis(),
                    t.elapsed().as_millis()
                );
            }
        }
        assert!(
            killed_at.elapsed() < CREATE_AGAIN_MAX,
            "CreateTable still failing {CREATE_AGAIN_MAX:?} after the control leader died: \
             {last_error}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let create_again = killed_at.elapsed();
    wait_table_ready(&cluster, "after_failover", Duration::from_secs(30)).await;
    let new_leader = cluster.control_leader().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    let flaps: usize = (0..cluster.control_count())
        .map(|i| {
            cluster
                .control_log(i)
                .matches("node down (no heartbeat)")
                .count()
        })
        .sum();

    println!(
        "control_leader_failover: killed ctl{killed}, new leader {new_leader:?}; CreateTable \
         worked again after {} ms ({attempts} attempts, last error before: {last_error:?}); \
         data plane: {} ok, {} errors, slowest op {} ms; \"node down (no heartbeat)\" lines in \
         the control logs: {flaps}",
        create_again.as_millis(),
        report.ok,
        report.errors,
        report.latency_max.as_millis()
    );
    assert!(
        new_leader.is_some_and(|i| i != killed),
        "no standby leads: {new_leader:?}"
    );
    assert!(report.ok > 0, "the load did nothing");
    assert_eq!(
        report.errors, 0,
        "the data plane failed while the control plane failed over: {:?}",
        report.first_errors
    );
    // The new table serves items too.
    let c = cluster.client(2);
    cairn_cluster_tests::dynamo::put(&c, "after_failover", "k", "v")
        .await
        .unwrap();
    let got = cairn_cluster_tests::dynamo::get(&c, "after_failover", "k", true)
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some("v"));
}
