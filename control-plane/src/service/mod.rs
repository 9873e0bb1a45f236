//! `ControlService`: one async method per control RPC of `wire/src/control.rs`, callable
//! directly (tests) or from the QUIC server the lead wires in (`ControlService::handle`).
//!
//! Who answers what:
//! - any instance, from the watch-fed memory of `metadata.rs`: routing lookups, DescribeTable,
//!   ListTables (so they keep working while etcd is down);
//! - the leader only (others answer `NotLeader` with the leader's address): Register,
//!   Heartbeat, CreateTable, DeleteTable, and the periodic [`ControlService::reconcile`]
//!   that moves tables CREATING → ACTIVE and finishes deletions.
//!
//! Every leader write is one etcd transaction guarded by the election fence
//! (`election::fenced_txn`) and by the `mod_revision`s it read (ids come from counters
//! compared in the same transaction), retried at most [`ServiceConfig::txn_attempts_max`]
//! times on a lost race. A write returns once the local metadata shows it (bounded by
//! `visible_timeout_ms`), so a DescribeTable right after a CreateTable on the same instance
//! sees the table.
//!
//! Table lifecycle (`service/lifecycle.rs`): CreateTable writes the table (CREATING) and its partitions with replicas
//! placed by `placement/` on live nodes; heartbeats then tell each node which replicas to
//! create (`heartbeat::commands_for`); once every replica of every partition is reported and
//! each partition has a leader, reconcile marks the table ACTIVE. DeleteTable marks it
//! DELETING; its partitions stop being wanted, so nodes are told to drop them; once no live
//! node reports any (and the leader has listened for a whole liveness timeout), reconcile
//! deletes the table and partition keys.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};
use wire::TableId;
use wire::control::{
    ControlError, ControlErrorKind, ControlReply, ControlRequest, HEARTBEAT_REPLICAS_MAX,
    HeartbeatReply, LOOKUP_HASHES_MAX, ListTablesReply, ListTablesRequest, NodeHeartbeat, NodeId,
    NodeInfo, PartitionDesc, RegisterReply, RegisterRequest, RoutingLookup, RoutingReply,
    TableDesc, TableStatus,
};

mod lifecycle;

use crate::election::{Fence, FencedError, LeaderState, fenced_txn};
use crate::heartbeat::{LivenessConfig, NodeRegistry, commands_for, validate_node_name};
use crate::metadata::{LookupError, Metadata};
use crate::store::{Compare, Counter, Keys, MetaStore, Revision, StoreError, Txn, TxnOp};
use crate::tables::{self, TableConfig};

/// Service settings.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub tables: TableConfig,
    pub liveness: LivenessConfig,
    /// How long a write waits for the local metadata to show it.
    pub visible_timeout_ms: u64,
    /// Attempts of one write when its compare-and-swap loses a race.
    pub txn_attempts_max: u32,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            tables: TableConfig::default(),
            liveness: LivenessConfig::default(),
            visible_timeout_ms: 2_000,
            txn_attempts_max: 8,
        }
    }
}

/// What one reconcile pass changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub activated: Vec<String>,
    pub removed: Vec<String>,
}

struct LeaderMemory {
    /// The leadership term (fence revision) the registry belongs to.
    term: Option<Revision>,
    registry: NodeRegistry,
    live: HashSet<NodeId>,
}

/// The control-plane service of one instance.
pub struct ControlService<S> {
    store: S,
    keys: Keys,
    metadata: Metadata,
    leader: watch::Receiver<LeaderState>,
    memory: Mutex<LeaderMemory>,
    cfg: ServiceConfig,
}

fn unavailable(e: StoreError) -> ControlError {
    ControlError::new(
        ControlErrorKind::Unavailable,
        format!("the control plane cannot reach its metadata store: {e}"),
    )
}

fn fenced(e: FencedError) -> ControlError {
    match e {
        FencedError::Deposed => ControlError::new(
            ControlErrorKind::NotLeader,
            "this control-plane instance lost leadership during the request",
        ),
        FencedError::Store(e) => unavailable(e),
    }
}

fn table_not_found(name: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::ResourceNotFound,
        format!("Requested resource not found: Table: {name} not found"),
    )
}

fn in_use(what: &str, name: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::ResourceInUse,
        format!(
            "Attempt to change a resource which is still in use: Table is being {what}: {name}"
        ),
    )
}

fn internal(message: String) -> ControlError {
    ControlError::new(ControlErrorKind::Internal, message)
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("wire::control types serialize")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<S: MetaStore> ControlService<S> {
    /// `metadata` must be kept in sync (`Metadata::spawn_sync`) and `leader` fed by this
    /// instance's election (`ElectionHandle::state`).
    pub fn new(
        store: S,
        keys: Keys,
        metadata: Metadata,
        leader: watch::Receiver<LeaderState>,
        cfg: ServiceConfig,
    ) -> ControlService<S> {
        let registry = NodeRegistry::new(&cfg.liveness, Instant::now());
        ControlService {
            store,
            keys,
            metadata,
            leader,
            memory: Mutex::new(LeaderMemory {
                term: None,
                registry,
                live: HashSet::new(),
            }),
            cfg,
        }
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Dispatches one request (what the QUIC server calls).
    /// [`ControlService::handle`] for a request from the transport peer `peer` (its
    /// certificate's host name): a node may register and heartbeat only as itself.
    pub async fn handle_from(&self, peer: &str, req: ControlRequest) -> ControlReply {
        let claimed = match &req {
            ControlRequest::Register(r) => Some(r.name.clone()),
            ControlRequest::Heartbeat(h) => Some(
                self.metadata
                    .read(|v| v.node_by_id(h.node).map(|n| n.name.clone()))
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        if let Some(name) = claimed
            && name != peer
            && !name.is_empty()
        {
            warn!(%peer, claimed = %name, "node request for another node's name refused");
            return ControlReply::Error(ControlError::new(
                ControlErrorKind::Validation,
                format!("peer {peer} may not act as node {name}"),
            ));
        }
        self.handle(req).await
    }

    pub async fn handle(&self, req: ControlRequest) -> ControlReply {
        let reply = match req {
            ControlRequest::Register(r) => self.register(r).await.map(ControlReply::Registered),
            ControlRequest::Heartbeat(h) => self.heartbeat(h).await.map(ControlReply::Heartbeat),
            ControlRequest::Lookup(l) => self.lookup(l).await.map(ControlReply::Routing),
            ControlRequest::CreateTable(c) => self.create_table(c).await.map(ControlReply::Table),
            ControlRequest::DeleteTable { table_name } => self
                .delete_table(&table_name)
                .await
                .map(ControlReply::Table),
            ControlRequest::DescribeTable { table_name } => self
                .describe_table(&table_name)
                .await
                .map(ControlReply::Table),
            ControlRequest::ListTables(l) => self.list_tables(l).await.map(ControlReply::Tables),
            ControlRequest::AlterTable { table_name, change } => self
                .alter_table(&table_name, &change)
                .await
                .map(ControlReply::Table),
        };
        reply.unwrap_or_else(ControlReply::Error)
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, LeaderMemory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fence if this instance leads; resets the leader-only memory on a new term.
    fn fence(&self) -> Result<Fence, ControlError> {
        let state = self.leader.borrow().clone();
        match state {
            LeaderState::Leader(f) => {
                let mut m = self.memory();
                if m.term != Some(f.create_revision) {
                    m.term = Some(f.create_revision);
                    m.registry.reset(Instant::now());
                    m.live.clear();
                }
                Ok(f)
            }
            LeaderState::Standby { leader } => {
                let mut e = ControlError::new(
                    ControlErrorKind::NotLeader,
                    "this control-plane instance is a standby",
                );
                e.leader_hint = leader.map(|l| format!("{}@{}", l.name, l.addr));
                Err(e)
            }
        }
    }

    async fn wait_visible(&self, revision: Revision) {
        let t = Duration::from_millis(self.cfg.visible_timeout_ms);
        if !self.metadata.wait_for(revision, t).await {
            warn!(revision, "write not yet visible in local metadata");
        }
    }

    /// Reads an id counter: the next id and the counter's `mod_revision` (0: absent).
    async fn counter(&self, c: Counter) -> Result<(u64, Revision), ControlError> {
        let key = self.keys.counter(c);
        match self.store.get(&key).await.map_err(unavailable)? {
            None => Ok((1, 0)),
            Some(kv) => {
                let next = std::str::from_utf8(&kv.value)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or_else(|| internal(format!("counter {key} holds a non-number")))?;
                Ok((next, kv.mod_revision))
            }
        }
    }

    /// Registers a node (or refreshes its addresses) and returns its id.
    pub async fn register(&self, req: RegisterRequest) -> Result<RegisterReply, ControlError> {
        validate_node_name(&req.name, "node name")?;
        validate_node_name(&req.az, "availability zone")?;
        for addr in [&req.quic_addr, &req.api_addr] {
            if addr.is_empty() || addr.len() > 255 {
                return Err(ControlError::new(
                    ControlErrorKind::Validation,
                    format!("invalid address {addr:?}"),
                ));
            }
        }
        let fence = self.fence()?;
        let key = self.keys.node(&req.name);
        for _ in 0..self.cfg.txn_attempts_max {
            let existing = self.store.get(&key).await.map_err(unavailable)?;
            let (info, txn) = match existing {
                Some(kv) => {
                    let mut info: NodeInfo = serde_json::from_slice(&kv.value)
                        .map_err(|e| internal(format!("node {key}: {e}")))?;
                    if info.az != req.az {
                        return Err(ControlError::new(
                            ControlErrorKind::Validation,
                            format!(
                                "node {} is registered in availability zone {}, not {}",
                                req.name, info.az, req.az
                            ),
                        ));
                    }
                    if info.quic_addr == req.quic_addr && info.api_addr == req.api_addr {
                        return Ok(self.registered(info));
                    }
                    info.quic_addr = req.quic_addr.clone();
                    info.api_addr = req.api_addr.clone();
                    let txn = Txn {
                        when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                        then: vec![TxnOp::put(&key, to_json(&info))],
                    };
                    (info, txn)
                }
                None => {
                    let (next, rev) = self.counter(Counter::Node).await?;
                    let info = NodeInfo {
                        id: NodeId(next),
                        name: req.name.clone(),
                        az: req.az.clone(),
                        quic_addr: req.quic_addr.clone(),
                        api_addr: req.api_addr.clone(),
                    };
                    let ckey = self.keys.counter(Counter::Node);
                    let txn = Txn {
                        when: vec![
                            Compare::ModRevision(key.clone(), 0),
                            Compare::ModRevision(ckey.clone(), rev),
                        ],
                        then: vec![
                            TxnOp::put(ckey, (next + 1).to_string()),
                            TxnOp::put(&key, to_json(&info)),
                        ],
                    };
                    (info, txn)
                }
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(node = %info.name, id = %info.id, az = %info.az, "node registered");
                self.wait_visible(out.revision).await;
                return Ok(self.registered(info));
            }
        }
        Err(unavailable_contention("register"))
    }

    fn registered(&self, node: NodeInfo) -> RegisterReply {
        RegisterReply {
            node,
            heartbeat_interval_ms: self.cfg.liveness.heartbeat_interval_ms,
        }
    }

    /// Records a heartbeat and answers with the replicas the node must create or drop.
    pub async fn heartbeat(&self, hb: NodeHeartbeat) -> Result<HeartbeatReply, ControlError> {
        self.fence()?;
        if hb.replicas.len() > HEARTBEAT_REPLICAS_MAX {
            return Err(ControlError::new(
                ControlErrorKind::Validation,
                format!("a heartbeat lists at most {HEARTBEAT_REPLICAS_MAX} replicas"),
            ));
        }
        let commands = self.metadata.read(|v| {
            let name = v.node_by_id(hb.node).map(|n| n.name.clone());
            let wanted_tables: HashSet<TableId> = v
                .tables()
                .filter(|t| t.status != TableStatus::Deleting)
                .map(|t| t.id)
                .collect();
            let desired: Vec<&PartitionDesc> = v
                .partitions()
                .filter(|p| wanted_tables.contains(&p.table))
                .filter(|p| p.replicas.iter().any(|r| r.node == hb.node))
                .collect();
            let creating: HashSet<TableId> = v
                .tables()
                .filter(|t| t.status == TableStatus::Creating)
                .map(|t| t.id)
                .collect();
            let hosted: HashSet<wire::replication::GroupId> =
                hb.replicas.iter().map(|r| r.group).collect();
            let mut peers: Vec<NodeId> = v
                .partitions()
                .filter(|p| hosted.contains(&p.id) || desired.iter().any(|d| d.id == p.id))
                .flat_map(|p| p.replicas.iter().map(|r| r.node))
                .collect();
            peers.sort();
            peers.dedup();
            let nodes: Vec<NodeInfo> = peers
                .into_iter()
                .filter_map(|id| v.node_by_id(id).cloned())
                .collect();
            let ttl_tables: HashSet<TableId> = desired.iter().map(|p| p.table).collect();
            let time_to_live: Vec<TableDesc> = v
                .tables()
                .filter(|t| t.status == TableStatus::Active)
                .filter(|t| t.settings.ttl_attribute.is_some() && ttl_tables.contains(&t.id))
                .cloned()
                .collect();
            name.map(|n| {
                (
                    n,
                    commands_for(hb.node, &desired, &creating, &hb.replicas),
                    nodes,
                    time_to_live,
                )
            })
        });
        let Some((name, commands, nodes, time_to_live)) = commands else {
            return Err(ControlError::new(
                ControlErrorKind::UnknownNode,
                format!("node {} is not registered; register first", hb.node),
            ));
        };
        let mut m = self.memory();
        if m.registry.record(&hb, Instant::now()) {
            info!(node = %name, id = %hb.node, "node up");
        }
        m.live.insert(hb.node);
        Ok(HeartbeatReply {
            commands,
            nodes,
            time_to_live,
        })
    }

    /// Routing lookup, from memory.
    pub async fn lookup(&self, req: RoutingLookup) -> Result<RoutingReply, ControlError> {
        if req.hashes.len() > LOOKUP_HASHES_MAX {
            return Err(ControlError::new(
                ControlErrorKind::Validation,
                format!("a routing lookup carries at most {LOOKUP_HASHES_MAX} hashes"),
            ));
        }
        self.metadata.read(|v| {
            let not_found = || {
                ControlError::new(
                    ControlErrorKind::ResourceNotFound,
                    "Requested resource not found",
                )
            };
            let Some(table) = v.table(&req.table_name) else {
                return Err(not_found());
            };
            let mut parts: Vec<PartitionDesc> = Vec::new();
            for &h in &req.hashes {
                match v.lookup(&req.table_name, h) {
                    Ok((_, p)) => {
                        if !parts.iter().any(|q| q.id == p.id) {
                            parts.push(p.clone());
                        }
                    }
                    Err(LookupError::NoTable(_) | LookupError::NotActive(..)) => {
                        return Err(not_found());
                    }
                    Err(e @ LookupError::NoPartition(..)) => {
                        return Err(ControlError::new(
                            ControlErrorKind::Unavailable,
                            e.to_string(),
                        ));
                    }
                }
            }
            if req.hashes.is_empty() && table.status != TableStatus::Active {
                return Err(not_found());
            }
            parts.sort_by_key(|p| p.range.start);
            let mut ids: Vec<NodeId> = parts
                .iter()
                .flat_map(|p| p.replicas.iter().map(|r| r.node))
                .collect();
            ids.sort();
            ids.dedup();
            let nodes = ids
                .into_iter()
                .filter_map(|id| v.node_by_id(id).cloned())
                .collect();
            Ok(RoutingReply {
                table: table.clone(),
                partitions: parts,
                nodes,
            })
        })
    }

    /// DescribeTable, from memory.
    pub async fn describe_table(&self, name: &str) -> Result<TableDesc, ControlError> {
        tables::validate_table_name(name)?;
        self.metadata
            .read(|v| v.table(name).cloned())
            .ok_or_else(|| table_not_found(name))
    }

    /// ListTables, from memory.
    pub async fn list_tables(
        &self,
        req: ListTablesRequest,
    ) -> Result<ListTablesReply, ControlError> {
        let limit = tables::validate_list(&req)?;
        Ok(self
            .metadata
            .read(|v| v.list_tables(req.exclusive_start_table_name.as_deref(), limit)))
    }
}

fn already_exists(name: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::ResourceInUse,
        format!("Table already exists: {name}"),
    )
}

fn unavailable_contention(op: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::Unavailable,
        format!("{op}: too many concurrent metadata changes; retry"),
    )
}
