//! `cairn-control`: one control-plane instance (DESIGN §1, §8).
//!
//! Joins the leader election, mirrors the cluster's etcd state into memory, and runs the
//! leader's reconcile loop. The `ControlService` it builds answers the control RPCs that
//! nodes send over QUIC with mutual TLS (`--listen`, certificates from `--certs`, the name
//! `--name` must be the certificate's; `rpc.rs`).
//!
//! Stops on SIGINT/SIGTERM, resigning leadership so a standby takes over at once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use control_plane::election::{Election, ElectionConfig, LeaderState};
use control_plane::heartbeat::LivenessConfig;
use control_plane::metadata::Metadata;
use control_plane::metrics::ControlMetrics;
use control_plane::rpc::ControlRpc;
use control_plane::service::{ControlService, ServiceConfig};
use control_plane::store::{EtcdConfig, EtcdStore, Keys, LeaderRecord};
use control_plane::tables::TableConfig;
use storage_node::transport::{Transport, TransportConfig, certs};
use tracing::info;

#[derive(Parser, Debug)]
#[command(name = "cairn-control", version, about = "Cairn control plane")]
struct Args {
    /// etcd endpoints (comma-separated or repeated), e.g. http://127.0.0.1:2379.
    #[arg(
        long = "etcd",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    etcd: Vec<String>,
    /// This instance's unique name (recorded in the election key); also the host name of its
    /// certificate (`cairnctl certs issue --host NAME`).
    #[arg(long)]
    name: String,
    /// Directory with the cluster CA (`ca.pem`) and this instance's certificate and key.
    #[arg(long)]
    certs: std::path::PathBuf,
    /// etcd key prefix of the cluster.
    #[arg(long, default_value = "/cairn/default")]
    cluster: String,
    /// ip:port for control RPCs (QUIC; advertised to nodes through the election key).
    #[arg(long, default_value = "127.0.0.1:7400")]
    listen: std::net::SocketAddr,
    /// ip:port for `GET /metrics` (Prometheus; unauthenticated, keep it internal).
    #[arg(long, default_value = "127.0.0.1:9400")]
    listen_metrics: std::net::SocketAddr,
    /// Leader lease TTL in seconds: how long a crashed leader blocks a takeover.
    #[arg(long, default_value_t = 3)]
    election_ttl_s: i64,
    /// Deadline of every etcd call.
    #[arg(long, default_value_t = 2_000)]
    etcd_timeout_ms: u64,
    /// A node without a heartbeat for this long is dead.
    #[arg(long, default_value_t = 3_000)]
    liveness_timeout_ms: u64,
    /// Heartbeat interval told to nodes.
    #[arg(long, default_value_t = 500)]
    heartbeat_interval_ms: u64,
    /// Leader reconcile period (CREATING → ACTIVE, deletions).
    #[arg(long, default_value_t = 200)]
    reconcile_ms: u64,
    /// Minimum partitions of a new table.
    #[arg(long, default_value_t = 1)]
    partitions_min: u32,
    /// Partitions of a new on-demand (PAY_PER_REQUEST) table.
    #[arg(long, default_value_t = 1)]
    partitions_on_demand: u32,
    /// Give every new table exactly this many partitions.
    #[arg(long)]
    partitions_override: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let keys = Keys::new(&args.cluster);
    let mut etcd = EtcdConfig::new(args.etcd.clone());
    etcd.request_timeout_ms = args.etcd_timeout_ms;
    let store = EtcdStore::connect(&etcd)
        .await
        .with_context(|| format!("connecting to etcd at {:?}", args.etcd))?;
    info!(name = %args.name, cluster = %args.cluster, etcd = ?args.etcd, "cairn-control starting");

    let metadata = Metadata::new();
    let sync = metadata.spawn_sync(store.clone(), keys.clone());
    let me = LeaderRecord {
        name: args.name.clone(),
        addr: args.listen.to_string(),
    };
    let election = Election::new(
        store.clone(),
        &keys,
        me,
        ElectionConfig {
            ttl_s: args.election_ttl_s,
            ..ElectionConfig::default()
        },
    )
    .spawn();
    let cfg = ServiceConfig {
        tables: TableConfig {
            partitions_min: args.partitions_min,
            partitions_on_demand: args.partitions_on_demand,
            partitions_override: args.partitions_override,
            ..TableConfig::default()
        },
        liveness: LivenessConfig {
            timeout_ms: args.liveness_timeout_ms,
            heartbeat_interval_ms: args.heartbeat_interval_ms,
        },
        ..ServiceConfig::default()
    };
    let service = Arc::new(ControlService::new(
        store,
        keys,
        metadata,
        election.state(),
        cfg,
    ));
    let reconciler = service
        .clone()
        .spawn_reconciler(Duration::from_millis(args.reconcile_ms));
    let rpc_metrics = ControlMetrics::rpc_metrics();
    let leading = election.state();
    let metrics = {
        let m = ControlMetrics {
            rpcs: rpc_metrics.clone(),
            metadata: service.metadata().clone(),
            leading: Arc::new(move || matches!(*leading.borrow(), LeaderState::Leader(_))),
        };
        let addr = args.listen_metrics;
        tokio::spawn(async move {
            if let Err(e) = control_plane::metrics::serve(addr, m).await {
                tracing::error!(%addr, error = %e, "metrics listener failed");
            }
        })
    };
    let identity = certs::load_identity(&args.certs, &args.name).with_context(|| {
        format!(
            "loading the certificate of {:?} from {:?}",
            args.name, args.certs
        )
    })?;
    let (transport, _one_way) = Transport::bind(
        &identity,
        TransportConfig {
            listen: args.listen,
            ..TransportConfig::default()
        },
        Arc::new(ControlRpc::new(service.clone()).with_metrics(rpc_metrics.clone())),
    )
    .with_context(|| format!("listening on {}", args.listen))?;
    info!(listen = %transport.local_addr(), "control RPCs served over QUIC (mutual TLS)");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    info!("cairn-control stopping");
    transport.shutdown().await;
    reconciler.abort();
    metrics.abort();
    election.resign().await;
    sync.abort();
    Ok(())
}
