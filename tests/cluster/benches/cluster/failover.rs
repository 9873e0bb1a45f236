//! The failover measurement of `scripts/bench cluster`: 16 closed-loop writers put random
//! keys of the bench table through all three nodes (one SDK attempt, 5 s timeout; after an
//! error a writer moves to the next node, as a client with several endpoints would). After
//! 2 s the node that leads the most of the table's partitions (from `/debug/groups`) is
//! SIGKILLed; 6 s later it is restarted, and the writers run 3 s more.
//!
//! Reported gaps (largest time without a successful write):
//! - `per_writer`: the largest gap seen by any one writer from the kill until the restart.
//!   This is what a client whose key lives on the victim's partition sees, and the figure
//!   reported as `failover_gap_ms`. With one partition it equals `all_writers`.
//! - `all_writers`: the largest gap between successes of any writer (with several partitions
//!   the writers on other partitions keep it small until all are stuck on dead partitions).
//! - `after_restart`: the largest per-writer gap from the restart to the end (the rejoining
//!   node must not stall anyone).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_cluster_tests::Cluster;
use storage_node::rng::Rng;

use crate::load::{Conn, Op, value};

/// Writers during the failover.
pub const WRITERS: usize = 16;
/// Success timestamps kept per writer (bounds memory).
const SUCCESSES_MAX: usize = 500_000;

/// What the failover showed.
#[derive(Debug)]
pub struct Failover {
    pub victim: usize,
    pub led_by_victim: usize,
    pub partitions: usize,
    pub per_writer: Duration,
    pub all_writers: Duration,
    pub after_restart: Duration,
    pub first_success_after_kill: Option<Duration>,
    pub acked: usize,
    pub errors: u64,
    pub first_error: Option<String>,
}

struct WriterLog {
    successes: Vec<Instant>,
    errors: u64,
    first_error: Option<String>,
}

async fn writer(
    w: usize,
    conns: Vec<Conn>,
    keys: u64,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let mut log = WriterLog {
        successes: Vec::new(),
        errors: 0,
        first_error: None,
    };
    let value = value();
    let mut rng = Rng::new(seed);
    let mut node = w % conns.len();
    let mut conns = conns;
    while !stop.load(Ordering::Relaxed) {
        match conns[node].call(Op::Put, rng.below(keys), &value).await {
            Ok(()) => {
                if log.successes.len() < SUCCESSES_MAX {
                    log.successes.push(Instant::now());
                }
            }
            Err(e) => {
                log.errors += 1;
                log.first_error.get_or_insert(e);
                node = (node + 1) % conns.len();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    log
}

/// The largest gap between consecutive points of `points` that are within `from..=to`,
/// counting `from` and `to` themselves as points.
fn largest_gap(points: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut inside: Vec<Instant> = points
        .iter()
        .copied()
        .filter(|&t| t >= from && t <= to)
        .collect();
    inside.push(from);
    inside.push(to);
    inside.sort();
    inside
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// Runs the failover on `table` (keys `0..keys`); see the module doc.
pub async fn run(cluster: &mut Cluster, table: &str, keys: u64, seed: u64) -> Failover {
    let n = cluster.node_count();
    let conns: Vec<Conn> = (0..n)
        .map(|k| Conn::Cairn {
            client: cluster.client_one_attempt(k, Duration::from_secs(5)),
            table: Arc::from(table),
        })
        .collect();
    let groups: Vec<u64> = cluster
        .table_partitions(table)
        .await
        .iter()
        .map(|p| p.id.0)
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut seeds = Rng::new(seed);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = seeds.next_u64();
            tokio::spawn(writer(w, conns.clone(), keys, s, stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut led = vec![0usize; n];
    for &g in &groups {
        let k = cluster.wait_leader(g, Duration::from_secs(5)).await;
        led[k] += 1;
    }
    let victim = (0..n).max_by_key(|&k| led[k]).unwrap_or(0);
    let killed_at = Instant::now();
    cluster.kill9(victim);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let restarted_at = Instant::now();
    cluster.restart(victim).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped_at = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.expect("a failover writer panicked"));
    }
    let all: Vec<Instant> = logs
        .iter()
        .flat_map(|l| l.successes.iter().copied())
        .collect();
    let per_writer = logs
        .iter()
        .map(|l| largest_gap(&l.successes, killed_at, restarted_at))
        .max()
        .unwrap_or_default();
    let after_restart = logs
        .iter()
        .map(|l| largest_gap(&l.successes, restarted_at, stopped_at))
        .max()
        .unwrap_or_default();
    Failover {
        victim,
        led_by_victim: led[victim],
        partitions: groups.len(),
        per_writer,
        all_writers: largest_gap(&all, killed_at, restarted_at),
        after_restart,
        first_success_after_kill: all
            .iter()
            .filter(|&&t| t >= killed_at)
            .min()
            .map(|&t| t - killed_at),
        acked: all.len(),
        errors: logs.iter().map(|l| l.errors).sum(),
        first_error: logs.iter().find_map(|l| l.first_error.clone()),
    }
}
