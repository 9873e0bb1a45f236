//! The harness itself, on a control-plane-only cluster (real etcd and two `cairn-control`
//! processes, no nodes): certificates and key files, readiness, control-leader failover through
//! `kill_control_leader`, etcd stop/start, and that teardown kills exactly what it spawned.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use cairn_cluster_tests::{Cluster, ClusterSpec, http};

fn control_only() -> ClusterSpec {
    ClusterSpec {
        nodes_per_az: 0,
        ..ClusterSpec::default()
    }
}

fn alive(pid: u32) -> bool {
    // A killed-and-reaped child has no /proc entry (or a recycled one running something else).
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            String::from_utf8_lossy(&c).contains("cairn-control")
                || String::from_utf8_lossy(&c).contains("etcd")
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_only_cluster_starts_fails_over_and_cleans_up() {
    let started = Instant::now();
    let mut cluster = Cluster::start(control_only()).await;
    println!(
        "control-plane cluster up in {} ms",
        started.elapsed().as_millis()
    );
    let dir = cluster.dir().to_path_buf();

    // Certificates from cairnctl, one per process, and private key files.
    for f in [
        "ca.pem", "ca.key", "ctl0.pem", "ctl0.key", "ctl1.pem", "ctl1.key",
    ] {
        assert!(dir.join("certs").join(f).is_file(), "missing certs/{f}");
    }
    for f in ["access-keys", "admin-token"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} must be private");
    }
    let keys = std::fs::read_to_string(dir.join("access-keys")).unwrap();
    let key = cluster.access_key().clone();
    assert!(
        keys.contains(&format!("{} {}", key.id, key.secret)),
        "{keys}"
    );
    assert!(key.id.starts_with("AKIA") && key.id.len() == 20);
    assert_eq!(key.secret.len(), 40);

    // etcd answers over the HTTP helper.
    let health = http::get(
        cluster
            .etcd_endpoint()
            .trim_start_matches("http://")
            .parse()
            .unwrap(),
        "/health",
        None,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    // Each control instance serves /metrics on its own port.
    for i in 0..cluster.control_count() {
        let m = http::get(
            cluster.control_metrics_addr(i),
            "/metrics",
            None,
            Duration::from_secs(2),
        )
        .await
        .unwrap_or_else(|e| panic!("ctl{i} /metrics: {e}"));
        assert_eq!(m.status, 200, "ctl{i}: {}", m.text());
        assert!(m.text().contains("cairn_"), "ctl{i}: {}", m.text());
    }

    // Control leader failover: a standby takes the election key within the lease TTL (3 s).
    let first = cluster.control_leader().await.expect("a control leader");
    let killed_at = Instant::now();
    assert_eq!(cluster.kill_control_leader().await, first);
    assert!(!cluster.control_running(first));
    let second = loop {
        if let Some(i) = cluster.control_leader().await
            && i != first
        {
            break i;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "no standby took over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "control_failover_ms={} (ctl{first} -> ctl{second})",
        killed_at.elapsed().as_millis()
    );
    cluster.restart_control(first);
    assert!(cluster.control_running(first));

    // etcd stop/start keeps its data: the leader record is still readable afterwards.
    cluster.stop_etcd();
    assert_eq!(cluster.control_leader().await, None, "etcd is down");
    cluster.start_etcd().await;
    let back = Instant::now();
    while cluster.control_leader().await.is_none() {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no leader after etcd came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Teardown kills exactly what it spawned and removes the directory.
    let text = std::fs::read_to_string(dir.join("logs/ctl0.log")).unwrap();
    assert!(text.contains("=== harness: start #1 of ctl0"), "{text}");
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(dir.to_str().unwrap()))
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(
        pids.len(),
        3,
        "etcd + 2 controls run with this cluster's dir: {pids:?}"
    );
    drop(cluster);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} survived the teardown");
    }
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_in_one_process_do_not_share_ports() {
    let (a, b) = tokio::join!(
        Cluster::start(control_only()),
        Cluster::start(control_only())
    );
    assert_ne!(a.etcd_endpoint(), b.etcd_endpoint());
    assert!(a.control_leader().await.is_some());
    assert!(b.control_leader().await.is_some());
}
