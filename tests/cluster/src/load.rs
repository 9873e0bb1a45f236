//! A steady background load for tests that disturb the control plane or etcd and check that
//! the data plane does not notice: `tasks` tasks, each putting its own keys and reading each
//! back with a consistent read, rotating through the nodes, with the SDK's standard retries
//! (as a real application would run). Counts successes, failures and the worst latency, and
//! keeps the first few error messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::dynamo::{get, put};

/// Error messages kept per task.
const ERRORS_KEPT_MAX: usize = 4;

/// What the load saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Successful puts and gets (each get also returned the value just put).
    pub ok: u64,
    /// Failed operations (after the SDK's retries) and gets that returned a wrong value.
    pub errors: u64,
    /// The slowest successful operation.
    pub latency_max: Duration,
    /// The first error messages.
    pub first_errors: Vec<String>,
}

/// A running load; [`Load::stop`] ends it.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<LoadReport>>,
}

impl Load {
    /// Starts `tasks` tasks on `table` (which must have a string hash key `pk`); task `t`
    /// writes keys `load-<t>-<i>`.
    pub fn start(cluster: &Cluster, table: &str, tasks: usize) -> Load {
        let clients: Vec<Client> = (0..cluster.node_count())
            .map(|k| cluster.client(k))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..tasks)
            .map(|t| {
                let (clients, stop, table) = (clients.clone(), stop.clone(), table.to_owned());
                tokio::spawn(async move { run(t, clients, table, stop).await })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops every task and sums their reports.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadReport::default();
        for t in self.tasks {
            let r = t.await.expect("load task panicked");
            total.ok += r.ok;
            total.errors += r.errors;
            total.latency_max = total.latency_max.max(r.latency_max);
            total.first_errors.extend(r.first_errors);
        }
        total
    }
}

async fn run(t: usize, clients: Vec<Client>, table: String, stop: Arc<AtomicBool>) -> LoadReport {
    let mut r = LoadReport::default();
    let mut i = 0usize;
    let fail = |r: &mut LoadReport, what: String| {
        r.errors += 1;
        if r.first_errors.len() < ERRORS_KEPT_MAX {
            r.first_errors.push(what);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let client = &clients[(t + i) % clients.len()];
        let key = format!("load-{t}-{}", i % 100);
        let value = format!("{i}");
        let started = Instant::now();
        match put(client, &table, &key, &value).await {
            Ok(()) => {
                r.ok += 1;
                r.latency_max = r.latency_max.max(started.elapsed());
            }
            Err(e) => fail(&mut r, format!("put {key}: {e}")),
        }
        let started = Instant::now();
        match get(client, &table, &key, true).await {
            Ok(Some(v)) if v == value => {
                r.ok += 1;
                r.latency_max = r.latency_max.max(started.elapsed());
            }
            Ok(other) => fail(&mut r, format!("get {key}: {other:?}, expected {value}")),
            Err(e) => fail(&mut r, format!("get {key}: {e}")),
        }
        i += 1;
    }
    r
}
