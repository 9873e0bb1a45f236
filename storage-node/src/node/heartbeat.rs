//! Registration and the heartbeat loop (DESIGN §8): the node tells the control plane who it
//! is and, every interval, which replicas it hosts and their state; the reply says which
//! replicas to create or drop, which nodes (names, addresses, AZs) its peers are, and which of
//! its tables have time to live enabled (for the sweeper, `ttl.rs`).
//!
//! Identity: a node's id comes from its first registration and is kept in
//! `DATA/node.json`; a restart uses it at once (so a node restarted while etcd or the
//! control plane is down serves its replicas) and re-registers in the background. A
//! different id from the control plane means the data directory belongs to another node:
//! the node stops rather than mix them up.
//!
//! The data plane never waits on this loop: failures are logged and retried with backoff.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};
use wire::control::{
    ControlErrorKind, ControlReply, ControlRequest, NodeHeartbeat, NodeId, NodeInfo,
    RegisterRequest, TableDesc,
};

use crate::control_client::ControlClient;
use crate::driver::Driver;
use crate::router::Router;

#[derive(Serialize, Deserialize)]
struct Identity {
    id: u64,
    name: String,
}

fn identity_path(data: &Path) -> PathBuf {
    data.join("node.json")
}

/// The id this data directory was registered under, if any.
pub fn stored_id(data: &Path, name: &str) -> Result<Option<NodeId>, String> {
    let path = identity_path(data);
    match std::fs::read(&path) {
        Ok(b) => {
            let id: Identity =
                serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display()))?;
            if id.name != name {
                return Err(format!(
                    "{} belongs to node {:?}, not {name:?}: wrong --data?",
                    path.display(),
                    id.name
                ));
            }
            Ok(Some(NodeId(id.id)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn store_id(data: &Path, id: NodeId, name: &str) -> Result<(), String> {
    let path = identity_path(data);
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(&Identity {
        id: id.0,
        name: name.to_owned(),
    })
    .expect("serializes");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Registers until it succeeds; returns the node and the heartbeat interval.
pub async fn register(control: &ControlClient, req: &RegisterRequest) -> (NodeInfo, Duration) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match control.call(&ControlRequest::Register(req.clone())).await {
            Ok(ControlReply::Registered(r)) => {
                return (
                    r.node,
                    Duration::from_millis(r.heartbeat_interval_ms.clamp(50, 60_000)),
                );
            }
            Ok(ControlReply::Error(e)) => warn!(error = %e.message, "registration refused"),
            Ok(other) => warn!(reply = ?other, "unexpected reply to Register"),
            Err(e) => warn!(error = %e, "registration failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Registers (if not yet), then heartbeats forever. Sends a message on `fatal` and
/// returns if the control plane knows this name under another id.
/// Where the heartbeat loop reports.
pub struct HeartbeatOut {
    /// Set when the node must stop (its identity conflicts with the control plane's).
    pub fatal: watch::Sender<Option<String>>,
    /// The tables with time to live enabled that this node hosts (for the sweeper).
    pub ttl_tables: watch::Sender<Vec<TableDesc>>,
}

pub async fn run(
    data: PathBuf,
    req: RegisterRequest,
    known: Option<NodeId>,
    driver: Driver,
    control: Arc<ControlClient>,
    router: Arc<Router>,
    out: HeartbeatOut,
) {
    let HeartbeatOut { fatal, ttl_tables } = out;
    let (me, mut interval) = register(&control, &req).await;
    if let Some(id) = known
        && id != me.id
    {
        let _ = fatal.send(Some(format!(
            "the control plane knows node {} as {}, but this data directory is {id}",
            req.name, me.id
        )));
        return;
    }
    if known.is_none() {
        if let Err(e) = store_id(&data, me.id, &req.name) {
            let _ = fatal.send(Some(e));
            return;
        }
        driver.set_me(me.id).await;
    }
    router.set_me(me.clone());
    info!(node = %me.id, name = %me.name, az = %me.az, "registered");
    let mut failures = 0u32;
    loop {
        let replicas = driver.status().await.into_iter().map(|s| s.state).collect();
        let hb = ControlRequest::Heartbeat(NodeHeartbeat {
            node: me.id,
            replicas,
        });
        match control.call(&hb).await {
            Ok(ControlReply::Heartbeat(reply)) => {
                failures = 0;
                ttl_tables.send_if_modified(|t| {
                    let changed = *t != reply.time_to_live;
                    if changed {
                        t.clone_from(&reply.time_to_live);
                    }
                    changed
                });
                if !reply.nodes.is_empty() {
                    driver.learn_nodes(reply.nodes.clone()).await;
                    router.learn_nodes(&reply.nodes);
                }
                if !reply.commands.is_empty() {
                    info!(commands = reply.commands.len(), "control plane commands");
                    driver.commands(reply.commands).await;
                }
            }
            Ok(ControlReply::Error(e)) if e.kind == ControlErrorKind::UnknownNode => {
                warn!("control plane forgot this node: registering again");
                let (again, iv) = register(&control, &req).await;
                interval = iv;
                if again.id != me.id {
                    let _ = fatal.send(Some(format!(
                        "re-registered as {} but this node is {}",
                        again.id, me.id
                    )));
                    return;
                }
            }
            Ok(other) => {
                failures += 1;
                if failures.is_power_of_two() {
                    warn!(reply = ?other, failures, "heartbeat not accepted");
                }
            }
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    warn!(error = %e, failures, "heartbeat failed");
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}
