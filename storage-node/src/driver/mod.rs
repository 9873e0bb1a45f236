//! The node driver: runs every replication group the node hosts on the node's one engine
//! (WAL + B-tree) and transport (DESIGN §3, §4).
//!
//! - `core.rs`: [`core::GroupCore`], one group's `Ready` contract over two seams, sans I/O.
//! - `store.rs`: the persistence seam and the daemon's pending flush (group commit).
//! - `registry.rs`: node-local group records and hard states (`DATA/groups/`).
//! - `recovery.rs`: rebuilding every group from registry, tree and WAL at start-up.
//! - `shell.rs`: the tokio task that owns all groups and does their I/O (`shell/items.rs`:
//!   item requests, replies, digests and snapshot sends).
//! - `outbox.rs`: the node directory, outgoing batches, inbound sender checks.
//! - `snapshot.rs`: snapshots for lagging members, and partition digests.
//!
//! [`Driver`] is the handle the rest of the node uses (router, heartbeat loop, admin API).
//! Data flow: API request → router → [`Driver::item`] (here or on the leader's node) →
//! shell → `GroupCore::propose` → WAL flush + replication → commit → engine apply → reply.

pub mod core;
pub mod outbox;
pub mod recovery;
pub mod registry;
pub mod shell;
pub mod snapshot;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};
use wire::TableId;
use wire::control::{HashRange, NodeCommand, NodeId, NodeInfo, ReplicaState};
use wire::forward::{DigestReply, ItemOp, ItemReply, ItemRequest};
use wire::replication::GroupId;

use crate::engine::Engine;
use crate::io::Disk;
use crate::replication::Settings;
use crate::transport::{InboundFrame, Transport};
use outbox::{Directory, Outbox};
use registry::Registry;
use shell::{Shell, ShellMsg};

/// Driver settings.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    pub settings: Settings,
    /// One replication tick.
    pub tick_ms: u64,
    /// Messages handled per iteration before the groups are driven.
    pub inbox_batch_max: usize,
    /// Queued requests and completions.
    pub inbox_max: usize,
    /// Every peer node hears from us at least this often.
    pub ping_ms: u64,
    /// A node not heard from for this long is reported unreachable to the groups it leads.
    pub peer_down_ms: u64,
    /// A checkpoint starts when this long has passed since the last one (and something was
    /// applied since), or earlier when `checkpoint_wal_bytes` were logged: a checkpoint
    /// rewrites every page dirtied since the last one (copy-on-write), so checkpointing less
    /// often turns many updates of a hot page into one write; the WAL between checkpoints is
    /// what a restart replays.
    pub checkpoint_interval_ms: u64,
    /// WAL payload bytes appended since the last checkpoint that start the next one early.
    pub checkpoint_wal_bytes: u64,
    /// WAL flushes in flight at once (the next one queued behind the syncing one keeps the
    /// disk busy; see `shell/flusher.rs`).
    pub flushes_in_flight_max: usize,
    /// Entries kept in memory below the last checkpoint for lagging followers (further
    /// behind, they get a snapshot).
    pub log_retain_entries: u64,
}

impl Default for DriverConfig {
    fn default() -> DriverConfig {
        DriverConfig {
            settings: Settings::default(),
            tick_ms: 50,
            inbox_batch_max: 1024,
            inbox_max: 65_536,
            ping_ms: 100,
            peer_down_ms: 600,
            checkpoint_interval_ms: 30_000,
            checkpoint_wal_bytes: 64 << 20,
            flushes_in_flight_max: 1,
            log_retain_entries: 20_000,
        }
    }
}

/// A counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// For counters mirrored from elsewhere (the WAL's).
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

/// Latency buckets (seconds) of the driver's histograms, for the node's metrics.
pub const LATENCY_BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
];

/// A latency histogram over [`LATENCY_BUCKETS_S`] (lock-free counters).
#[derive(Default, Debug)]
pub struct LatencyHist {
    /// Counts per bucket (not cumulative), `+Inf` last.
    pub buckets: [Counter; 13],
    pub us_sum: Counter,
}

impl LatencyHist {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = LATENCY_BUCKETS_S
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        self.buckets[i].inc();
        self.us_sum.add(d.as_micros() as u64);
    }
}

/// What the driver counts (exported by the node's `/metrics`).
#[derive(Default, Debug)]
pub struct DriverStats {
    pub proposals: Counter,
    pub applied_entries: Counter,
    pub flushes: Counter,
    pub flushed_records: Counter,
    pub batches_sent: Counter,
    /// Bytes of the replication frames sent (headers included).
    pub batch_bytes_sent: Counter,
    pub batches_dropped: Counter,
    pub envelopes_dropped: Counter,
    pub frames_rejected: Counter,
    pub snapshots_sent: Counter,
    pub snapshots_installed: Counter,
    pub reads_eventual: Counter,
    /// WAL flushes (the durable write of every group's records, and hard states).
    pub flush: LatencyHist,
    /// Leader writes from proposal to reply (committed and applied).
    pub commit: LatencyHist,
    /// Writes handed to this driver, from arrival to reply: `commit` plus the wait in the
    /// shell's inbox (and the replies of writes this node does not lead).
    pub write: LatencyHist,
    /// Engine commits of applied entries (the shell waits for them).
    pub apply: LatencyHist,
    /// The WAL writer's batches and its time in durable writes (µs), mirrored after each
    /// flush (the driver handle holds no engine: a stopped driver must not keep it alive).
    pub wal_batches: Counter,
    pub wal_write_us: Counter,
}

/// One hosted group, as the node reports it.
#[derive(Clone, Debug)]
pub struct GroupStatus {
    pub state: ReplicaState,
    pub table: TableId,
    pub range: HashRange,
    pub leader_node: Option<NodeId>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    Recovery(#[from] recovery::RecoveryError),
    #[error("starting group: {0}")]
    Start(String),
}

/// The handle to the running driver. Cheap to clone.
#[derive(Clone)]
pub struct Driver {
    tx: mpsc::Sender<ShellMsg>,
    pub stats: Arc<DriverStats>,
    pub directory: Directory,
    /// Set to an error message if the driver stopped on a fatal error.
    pub fatal: watch::Receiver<Option<String>>,
}

impl Driver {
    /// Recovers every hosted group from `data_dir` and the engine and starts the shell and
    /// the inbound task (which consumes `inbound`, the transport's one-way frames).
    pub async fn start<D: Disk + Clone>(
        cfg: DriverConfig,
        data_dir: PathBuf,
        engine: Engine<D>,
        transport: Transport,
        inbound: mpsc::Receiver<InboundFrame>,
        seed: u64,
    ) -> Result<Driver, DriverError> {
        let registry = Registry::open(data_dir.join("groups"))?;
        let recovered = recovery::recover(&engine, &registry).await?;
        let stats = Arc::new(DriverStats::default());
        let nodes_path = data_dir.join("nodes.json");
        let directory = Directory::load(&nodes_path);
        let outbox = Outbox::new(
            transport.clone(),
            directory.clone(),
            nodes_path,
            stats.clone(),
        );
        let (tx, rx) = mpsc::channel(cfg.inbox_max);
        let mut shell = Shell::new(
            cfg,
            engine,
            registry,
            outbox,
            rx,
            tx.clone(),
            stats.clone(),
            seed,
        );
        let n = recovered.len();
        for r in recovered {
            shell
                .start_group(r.record, r.persisted)
                .map_err(DriverError::Start)?;
        }
        info!(groups = n, "driver recovered");
        let (fatal_tx, fatal) = watch::channel(None);
        tokio::spawn(async move {
            if let Err(e) = shell.run().await {
                tracing::error!(error = %e, "driver stopped");
                let _ = fatal_tx.send(Some(e));
            }
        });
        tokio::spawn(inbound_task(
            inbound,
            directory.clone(),
            tx.clone(),
            stats.clone(),
        ));
        Ok(Driver {
            tx,
            stats,
            directory,
            fatal,
        })
    }

    /// One item operation on a replica hosted here (the router's local target and the
    /// handler of forwarded requests).
    pub async fn item(&self, req: ItemRequest) -> ItemReply {
        let is_write = !matches!(req.op, ItemOp::Get { .. });
        let deadline = Duration::from_millis(u64::from(req.deadline_ms.clamp(1, 60_000)));
        let (tx, rx) = oneshot::channel();
        let started = std::time::Instant::now();
        if self.tx.try_send(ShellMsg::Item(req, tx)).is_err() {
            return ItemReply::Busy;
        }
        let reply = match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(r)) => r,
            // The shell dropped the waiter (shutting down) or the deadline passed: a
            // write may still take effect.
            _ if is_write => ItemReply::Ambiguous,
            _ => ItemReply::Busy,
        };
        if is_write {
            self.stats.write.observe(started.elapsed());
        }
        reply
    }

    pub async fn digest(&self, group: GroupId) -> DigestReply {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(ShellMsg::Digest(group, tx)).await.is_err() {
            return DigestReply::NotHere;
        }
        rx.await.unwrap_or(DigestReply::NotHere)
    }

    pub async fn status(&self) -> Vec<GroupStatus> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(ShellMsg::Status(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Carries out the control plane's commands (creates are durable on return).
    pub async fn commands(&self, cmds: Vec<NodeCommand>) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(ShellMsg::Commands(cmds, tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    pub async fn learn_nodes(&self, nodes: Vec<NodeInfo>) {
        let _ = self.tx.send(ShellMsg::Nodes(nodes)).await;
    }

    pub async fn set_me(&self, me: NodeId) {
        let _ = self.tx.send(ShellMsg::Me(me)).await;
    }

    /// Stops the shell (waiters answered, final checkpoint).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(ShellMsg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn inbound_task(
    mut inbound: mpsc::Receiver<InboundFrame>,
    dir: Directory,
    tx: mpsc::Sender<ShellMsg>,
    stats: Arc<DriverStats>,
) {
    let mut last_warn = std::collections::HashMap::<String, std::time::Instant>::new();
    while let Some(f) = inbound.recv().await {
        match outbox::check_inbound(&dir, &f.peer, &f.frame) {
            Ok((from, envs)) => {
                // A full inbox blocks here, which stops reading the transport: QUIC flow
                // control pushes back on the sender.
                if tx.send(ShellMsg::Inbound(from, envs)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                stats.frames_rejected.inc();
                let now = std::time::Instant::now();
                let due = last_warn
                    .get(&f.peer)
                    .is_none_or(|t| now.duration_since(*t) > Duration::from_secs(60));
                if due && last_warn.len() < 4096 {
                    last_warn.insert(f.peer.clone(), now);
                    warn!(peer = %f.peer, error = %e, "inbound frame rejected");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
