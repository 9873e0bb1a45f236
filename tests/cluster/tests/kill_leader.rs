//! Issue 4, "Shows it" 2: `kill -9` the node leading a partition under a steady write load.
//! Writes resume through the surviving nodes within 3 s (prints `failover_gap_ms`), no
//! acknowledged write is lost, and the restarted node catches up: after the load stops, the
//! three members report the same applied index and the same blake3 digest of the partition.
//!
//! Writers: 16 tasks, each on its own key, writing `w<i>-<seq>` with seq 1, 2, 3, ... through
//! one node at a time (one SDK attempt, so failures are seen), moving to the next node after
//! an error. A failed write may or may not have taken effect (the kill can hit it in flight),
//! so the check is exact where it can be: the stored seq is at least the last acknowledged
//! one, at most the last attempted one, and equal to it when the last attempt was acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use cairn_cluster_tests::dynamo::{create_table_ready, get, put};
use cairn_cluster_tests::{Cluster, ClusterSpec};

const WRITERS: usize = 16;
const TABLE: &str = "failover";
const GAP_MAX: Duration = Duration::from_secs(3);
/// Success timestamps kept per writer (bounds memory on a fast machine).
const SUCCESSES_MAX: usize = 200_000;

struct WriterLog {
    /// Last acknowledged seq (0: none).
    acked: u64,
    /// Last attempted seq.
    attempted: u64,
    successes: Vec<Instant>,
    errors: u64,
    first_error: Option<String>,
}

async fn writer(w: usize, clients: Vec<Client>, stop: Arc<AtomicBool>) -> WriterLog {
    let mut log = WriterLog {
        acked: 0,
        attempted: 0,
        successes: Vec::new(),
        errors: 0,
        first_error: None,
    };
    let mut node = w % clients.len();
    while !stop.load(Ordering::Relaxed) {
        log.attempted += 1;
        let value = format!("w{w}-{}", log.attempted);
        match put(&clients[node], TABLE, &format!("w{w}"), &value).await {
            Ok(()) => {
                log.acked = log.attempted;
                if log.successes.len() < SUCCESSES_MAX {
                    log.successes.push(Instant::now());
                }
            }
            Err(e) => {
                log.errors += 1;
                log.first_error.get_or_insert(e);
                node = (node + 1) % clients.len();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    log
}

/// The largest gap between consecutive instants of `points` (sorted here).
fn largest_gap(mut points: Vec<Instant>) -> Duration {
    points.sort();
    points
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_leader() {
    let mut cluster = Cluster::start(ClusterSpec {
        partitions: Some(1),
        ..ClusterSpec::default()
    })
    .await;
    let groups = create_table_ready(&cluster, TABLE).await;
    assert_eq!(groups.len(), 1, "--partitions-override 1");
    let group = groups[0];
    let n = cluster.node_count();
    let clients: Vec<Client> = (0..n)
        .map(|k| cluster.client_one_attempt(k, Duration::from_secs(5)))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(w, clients.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let victim = cluster.wait_leader(group, Duration::from_secs(5)).await;
    let killed_at = Instant::now();
    cluster.kill9(victim);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let new_leader = cluster.leader_of(group).await;
    let restarted_at = Instant::now();
    cluster.restart(victim).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.unwrap());
    }

    let all: Vec<Instant> = logs
        .iter()
        .flat_map(|l| l.successes.iter().copied())
        .collect();
    let before_kill = all.iter().filter(|&&t| t < killed_at).count();
    let after_restart = all.iter().filter(|&&t| t > restarted_at).count();
    let first_after_kill = all.iter().filter(|&&t| t >= killed_at).min().copied();
    let mut around_kill: Vec<Instant> = all.iter().copied().filter(|&t| t >= killed_at).collect();
    around_kill.push(killed_at);
    // From the kill to the end of the run (the restart included).
    let failover_gap = largest_gap(around_kill);
    let run_gap = largest_gap(all.clone());
    let errors: u64 = logs.iter().map(|l| l.errors).sum();
    println!(
        "kill_leader: killed node{victim} (leader of group {group}); new leader {new_leader:?}; \
         {} acked writes ({before_kill} before the kill, {after_restart} after the restart), \
         {errors} failed attempts; first write after the kill at +{} ms; \
         failover_gap_ms={} (largest gap over the whole run {} ms)",
        all.len(),
        first_after_kill.map_or(-1, |t| (t - killed_at).as_millis() as i64),
        failover_gap.as_millis(),
        run_gap.as_millis()
    );
    if let Some(e) = logs.iter().find_map(|l| l.first_error.as_ref()) {
        println!("kill_leader: first write error: {e}");
    }
    assert!(before_kill > 0, "no write succeeded before the kill");
    assert!(after_restart > 0, "no write succeeded after the restart");
    assert!(
        new_leader.is_some_and(|k| k != victim),
        "no other node led group {group} while node{victim} was down"
    );
    assert!(
        failover_gap < GAP_MAX,
        "writes stopped for {failover_gap:?} after the kill (limit {GAP_MAX:?}; the restart \
         counts)"
    );
    // Before the kill nothing was failing over: a stall there (a CI run once showed 7.8 s
    // with etcd's fdatasync taking 1.8 s, a saturated disk) is the machine's, and printed
    // above as the run's largest gap rather than asserted.

    // No acknowledged write lost.
    let reader = cluster.client((victim + 1) % n);
    for (w, log) in logs.iter().enumerate() {
        let got = get(&reader, TABLE, &format!("w{w}"), true)
            .await
            .unwrap_or_else(|e| panic!("reading w{w}: {e}"))
            .unwrap_or_else(|| panic!("w{w} missing; last acked seq {}", log.acked));
        let seq: u64 = got
            .strip_prefix(&format!("w{w}-"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("w{w} holds {got:?}"));
        assert!(
            seq >= log.acked && seq <= log.attempted,
            "w{w}: stored seq {seq}, acked {}, attempted {}",
            log.acked,
            log.attempted
        );
        if log.acked == log.attempted {
            assert_eq!(seq, log.acked, "w{w}: the last write was acknowledged");
        }
    }

    // The restarted node catches up: same applied index and digest on all three members.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (applied, digest, items) = loop {
        let members = cluster.members_of(group).await;
        let applied: Vec<u64> = members.iter().map(|(_, g)| g.applied).collect();
        if members.len() == 3 && applied.iter().all(|&a| a == applied[0]) {
            let mut digests = Vec::new();
            for (k, _) in &members {
                if let Ok(d) = cluster.digest(*k, group).await {
                    digests.push(d);
                }
            }
            if digests.len() == 3
                && digests
                    .iter()
                    .all(|d| d.applied == digests[0].applied && d.digest == digests[0].digest)
            {
                break (
                    digests[0].applied,
                    digests[0].digest.clone(),
                    digests[0].items,
                );
            }
            if digests.len() == 3 && digests.iter().all(|d| d.applied == digests[0].applied) {
                panic!("members disagree at the same applied index: {digests:?}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "members of group {group} did not converge within 20 s: {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(items, WRITERS as u64, "one item per writer");
    println!("kill_leader: all three members at applied {applied}, {items} items, digest {digest}");
}
