//! Issue 4, "Shows it" (clients): `tests/api_boto3_smoke.py` — boto3 against a node of a real
//! cluster (table lifecycle, every attribute type, errors). Fails when python3 or boto3 is
//! missing (`scripts/test` installs python3-boto3).

use std::time::Instant;

use cairn_cluster_tests::dynamo::run_boto3_script;
use cairn_cluster_tests::{Cluster, ClusterSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_smoke() {
    let cluster = Cluster::start(ClusterSpec::default()).await;
    let started = Instant::now();
    // Through a node other than the first: any node serves any request.
    let node = cluster.node_count() - 1;
    let out = run_boto3_script(&cluster, node, "tests/api_boto3_smoke.py").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "boto3_smoke ({} ms):\n{stdout}{}",
        started.elapsed().as_millis(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "boto3 smoke test failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
