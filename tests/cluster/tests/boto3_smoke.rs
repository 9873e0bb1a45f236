//! Issue 4, "Shows it" (clients): `tests/api_boto3_smoke.py` — boto3 against a node of a real
//! cluster (table lifecycle, every attribute type, errors). Fails when python3 or boto3 is
//! missing (`scripts/test` installs python3-boto3).

use std::process::Command;
use std::time::Instant;

use cairn_cluster_tests::{Cluster, ClusterSpec, repo_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_smoke() {
    let probe = Command::new("python3")
        .args(["-c", "import boto3; print(boto3.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): apt-get install python3-boto3"));
    assert!(
        probe.status.success(),
        "python3 cannot import boto3: apt-get install python3-boto3 (scripts/test does)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let cluster = Cluster::start(ClusterSpec::default()).await;
    let script = repo_root().join("tests/api_boto3_smoke.py");
    let key = cluster.access_key().clone();
    // Through a node other than the first: any node serves any request.
    let endpoint = cluster.endpoint(cluster.node_count() - 1);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&script)
            .arg(&endpoint)
            .env("AWS_ACCESS_KEY_ID", &key.id)
            .env("AWS_SECRET_ACCESS_KEY", &key.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            // No profile, config or session token of the machine's user may leak in.
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "boto3_smoke ({} ms):\n{stdout}{}",
        started.elapsed().as_millis(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "boto3 smoke test failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
