//! `cairn-node`, assembled (DESIGN §1): the engine, the replication driver, the QUIC
//! transport, the router, the DynamoDB API, registration and heartbeats, and the admin
//! listener, started in that order by [`run`].
//!
//! - `config.rs`: command line, access keys, admin token.
//! - `heartbeat.rs`: registration, node identity, the heartbeat loop.
//! - `admin.rs`: `/metrics` and the token-protected `/debug/*` endpoints.
//!
//! Start-up: lock the data directory (one process per directory), open the engine (io_uring,
//! falling back to std I/O with a log line when the kernel refuses a ring), recover every
//! group, bind QUIC, serve. Stop: SIGTERM or SIGINT stops the API (in-flight requests finish,
//! 5 s at most), then the driver (final checkpoint) and the transport. SIGKILL is always
//! safe: what was acknowledged is in the WAL.

pub mod admin;
pub mod config;
pub mod heartbeat;
pub mod metrics;
pub mod ttl;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};
use wire::control::{NodeId, NodeInfo, RegisterRequest};
use wire::forward::{DigestReply, DigestRequest, ItemReply, ItemRequest};
use wire::frame::CheckedFrame;

use crate::api::auth::SigV4Keys;
use crate::api::server::ApiConfig;
use crate::control_client::ControlClient;
use crate::driver::{Driver, DriverConfig};
use crate::engine::{Engine, EngineConfig};
use crate::io::Disk;
use crate::router::{ForwardHandler, LocalItems, NodeBackend, Router, RouterConfig};
use crate::transport::{BoxFuture, CallHandler, Transport, TransportConfig, certs};
use config::NodeArgs;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Start(String),
    #[error("driver stopped: {0}")]
    Fatal(String),
}

fn start<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> NodeError + '_ {
    move |e| NodeError::Start(format!("{what}: {e}"))
}

impl LocalItems for Driver {
    fn execute(&self, req: ItemRequest) -> BoxFuture<ItemReply> {
        let d = self.clone();
        Box::pin(async move { d.item(req).await })
    }

    fn digest(&self, req: DigestRequest) -> BoxFuture<DigestReply> {
        let d = self.clone();
        Box::pin(async move { Driver::digest(&d, req.group).await })
    }
}

/// The transport's call handler: forwarded item requests and digests, once the router
/// exists (calls before that are refused, and the caller tries another replica).
struct NodeCalls(OnceLock<ForwardHandler>);

impl CallHandler for NodeCalls {
    fn handle(&self, peer: String, frame: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        match self.0.get() {
            Some(h) => h.handle(peer, frame),
            None => Box::pin(async { None }),
        }
    }
}

/// Runs the node until a stop signal or a fatal error.
pub async fn run(args: NodeArgs) -> Result<(), NodeError> {
    args.validate()?;
    let keys = match &args.access_keys {
        Some(p) => Some(SigV4Keys::new(config::read_access_keys(p)?)),
        None => {
            warn!("--no-auth: the DynamoDB endpoint accepts unsigned requests");
            None
        }
    };
    let token = config::read_admin_token(&args.admin_token_file)?;
    std::fs::create_dir_all(&args.data).map_err(start("data directory"))?;
    let lock = std::fs::File::create(args.data.join("LOCK")).map_err(start("lock file"))?;
    lock.try_lock().map_err(|e| {
        NodeError::Start(format!(
            "{} is in use by another cairn-node ({e})",
            args.data.display()
        ))
    })?;
    match crate::io::uring::UringDisk::new(Default::default()) {
        Ok(disk) => run_on(args, disk, keys, token).await,
        Err(e) => {
            warn!(error = %e, "io_uring unavailable: using std file I/O");
            run_on(args, crate::io::std_disk::StdDisk, keys, token).await
        }
    }
}

async fn run_on<D: Disk + Clone>(
    args: NodeArgs,
    disk: D,
    keys: Option<SigV4Keys>,
    token: String,
) -> Result<(), NodeError> {
    let mut engine_cfg = EngineConfig::new(args.data.join("engine"));
    engine_cfg.wal.segment_size_bytes = args.wal_segment_mib << 20;
    let (engine, rec) = Engine::open(disk, engine_cfg)
        .await
        .map_err(start("opening the engine"))?;
    info!(
        partitions = rec.applied.len(),
        wal_records = rec.wal.records,
        "engine opened"
    );
    let identity = certs::load_identity(&args.certs, &args.name).map_err(start("certificates"))?;
    let calls = Arc::new(NodeCalls(OnceLock::new()));
    let (transport, inbound) = Transport::bind(
        &identity,
        TransportConfig {
            listen: args.listen_quic,
            // A restarted peer must hear from its leaders within a second or so.
            reconnect_backoff_max_ms: 1_000,
            ..TransportConfig::default()
        },
        calls.clone(),
    )
    .map_err(start("binding QUIC"))?;
    let known = heartbeat::stored_id(&args.data, &args.name).map_err(NodeError::Start)?;
    let cfg = DriverConfig {
        tick_ms: args.tick_ms,
        checkpoint_interval_ms: args.checkpoint_secs * 1_000,
        checkpoint_wal_bytes: args.checkpoint_wal_mib << 20,
        flushes_in_flight_max: args.wal_flushes_in_flight,
        ..DriverConfig::default()
    };
    let driver = Driver::start(
        cfg,
        args.data.clone(),
        engine,
        transport.clone(),
        inbound,
        seed(),
    )
    .await
    .map_err(start("recovering replicas"))?;
    if let Some(id) = known {
        driver.set_me(id).await;
    }
    let controls = args.controls()?;
    let control =
        Arc::new(ControlClient::new(transport.clone(), &controls).map_err(start("control plane"))?);
    let me = NodeInfo {
        id: known.unwrap_or(NodeId(0)),
        name: args.name.clone(),
        az: args.az.clone(),
        quic_addr: transport.local_addr().to_string(),
        api_addr: args.listen_api.to_string(),
    };
    let router = Arc::new(Router::new(
        RouterConfig {
            control_instances: controls.iter().map(|(n, _)| n.clone()).collect(),
            ..RouterConfig::default()
        },
        me,
        Arc::new(transport.clone()),
        control.clone(),
        Arc::new(driver.clone()),
    ));
    router.learn_nodes(&driver.directory.all());
    let _ = calls.0.set(router.forward_handler());

    let api_metrics = admin::ApiMetrics::new();
    let ttl_stats = Arc::new(ttl::TtlStats::default());
    let mut api_cfg = ApiConfig::new(SigV4Keys::new(Vec::new()));
    api_cfg.auth = keys;
    api_cfg.region = args.region.clone();
    api_cfg.observer = Some(api_metrics.clone());
    api_cfg.endpoint_address = args.listen_api.to_string();
    let api_listener = TcpListener::bind(args.listen_api)
        .await
        .map_err(start("binding the API listener"))?;
    let admin_listener = TcpListener::bind(args.listen_admin)
        .await
        .map_err(start("binding the admin listener"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let backend = Arc::new(NodeBackend::new(router.clone()));
    let api = tokio::spawn({
        let mut stop = stop_rx.clone();
        async move {
            crate::api::server::serve(api_listener, api_cfg, backend, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        }
    });
    let admin_state = admin::AdminState {
        token: Arc::new(token),
        driver: driver.clone(),
        router: router.clone(),
        api: api_metrics,
        ttl: ttl_stats.clone(),
    };
    tokio::spawn({
        let mut stop = stop_rx.clone();
        async move {
            let _ = axum::serve(admin_listener, admin::router(admin_state))
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }
    });
    let (fatal_tx, mut fatal_rx) = watch::channel(None::<String>);
    let (ttl_tx, ttl_rx) = watch::channel(Vec::new());
    let ttl_sweeper = tokio::spawn(ttl::run(
        ttl::TtlConfig {
            interval: Duration::from_secs(args.ttl_sweep_secs),
            ..ttl::TtlConfig::default()
        },
        driver.clone(),
        ttl_rx,
        ttl_stats.clone(),
    ));
    let hb = tokio::spawn(heartbeat::run(
        args.data.clone(),
        RegisterRequest {
            name: args.name.clone(),
            az: args.az.clone(),
            quic_addr: transport.local_addr().to_string(),
            api_addr: args.listen_api.to_string(),
        },
        known,
        driver.clone(),
        control,
        router.clone(),
        heartbeat::HeartbeatOut {
            fatal: fatal_tx,
            ttl_tables: ttl_tx,
        },
    ));
    info!(
        name = %args.name, az = %args.az, api = %args.listen_api,
        quic = %transport.local_addr(), admin = %args.listen_admin,
        "cairn-node serving"
    );
    let mut driver_fatal = driver.fatal.clone();
    let outcome = tokio::select! {
        _ = stop_signal() => Ok(()),
        r = fatal_rx.wait_for(|f| f.is_some()) => Err(NodeError::Fatal(
            r.map(|v| v.clone().unwrap_or_default()).unwrap_or_default())),
        r = driver_fatal.wait_for(|f| f.is_some()) => Err(NodeError::Fatal(
            r.map(|v| v.clone().unwrap_or_default()).unwrap_or_default())),
    };
    info!("stopping");
    let _ = stop_tx.send(true);
    hb.abort();
    ttl_sweeper.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    driver.shutdown().await;
    transport.shutdown().await;
    outcome
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Election timer randomness: distinct per process and start.
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
}
