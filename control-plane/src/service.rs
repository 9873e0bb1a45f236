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
//! Table lifecycle: CreateTable writes the table (CREATING) and its partitions with replicas
//! placed by `placement/` on live nodes; heartbeats then tell each node which replicas to
//! create (`heartbeat::commands_for`); once every replica of every partition is reported and
//! each partition has a leader, reconcile marks the table ACTIVE. DeleteTable marks it
//! DELETING; its partitions stop being wanted, so nodes are told to drop them; once no live
//! node reports any (and the leader has listened for a whole liveness timeout), reconcile
//! deletes the table and partition keys.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};
use wire::TableId;
use wire::control::{
    ControlError, ControlErrorKind, ControlReply, ControlRequest, CreateTableRequest,
    HEARTBEAT_REPLICAS_MAX, HeartbeatReply, LOOKUP_HASHES_MAX, ListTablesReply, ListTablesRequest,
    NodeHeartbeat, NodeId, NodeInfo, PartitionDesc, RegisterReply, RegisterRequest, ReplicaDesc,
    RoutingLookup, RoutingReply, TableDesc, TableStatus,
};
use wire::replication::{GroupId, MemberId, Role};

use crate::election::{Fence, FencedError, LeaderState, fenced_txn};
use crate::heartbeat::{
    LivenessConfig, NodeRegistry, commands_for, partition_ready, validate_node_name,
};
use crate::metadata::{LookupError, Metadata};
use crate::placement::{self, Candidate};
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
                e.leader_hint = leader.map(|l| l.addr);
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
            name.map(|n| (n, commands_for(hb.node, &desired, &hb.replicas)))
        });
        let Some((name, commands)) = commands else {
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
        Ok(HeartbeatReply { commands })
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
            Ok(RoutingReply {
                table: table.clone(),
                partitions: parts,
            })
        })
    }

    /// CreateTable: validates, places, writes the table (CREATING) and its partitions.
    pub async fn create_table(&self, req: CreateTableRequest) -> Result<TableDesc, ControlError> {
        tables::validate_create(&req, &self.cfg.tables)?;
        let fence = self.fence()?;
        let name = req.table_name.clone();
        let (exists, total, moving) = self.metadata.read(|v| {
            let moving = v
                .tables()
                .filter(|t| t.status != TableStatus::Active)
                .count();
            (v.table(&name).is_some(), v.tables().count(), moving)
        });
        if exists {
            return Err(already_exists(&name));
        }
        if total >= self.cfg.tables.tables_max {
            return Err(ControlError::new(
                ControlErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: the cluster already has {total} tables (limit {})",
                    self.cfg.tables.tables_max
                ),
            ));
        }
        if moving >= self.cfg.tables.tables_in_transition_max {
            return Err(ControlError::new(
                ControlErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: Only {} tables can be created, updated or deleted simultaneously",
                    self.cfg.tables.tables_in_transition_max
                ),
            ));
        }
        let count = tables::partition_count(&req, &self.cfg.tables);
        let placed = {
            let now = Instant::now();
            let live = self.memory().registry.live_nodes(now);
            let candidates = self.metadata.read(|v| {
                let loads = v.node_loads();
                let c: Vec<Candidate> = live
                    .iter()
                    .filter_map(|id| v.node_by_id(*id))
                    .map(|n| {
                        let (replicas, leaders) = loads.get(&n.id).copied().unwrap_or((0, 0));
                        Candidate {
                            node: n.id,
                            az: n.az.clone(),
                            replicas,
                            leaders,
                        }
                    })
                    .collect();
                c
            });
            placement::place(&candidates, count as usize).map_err(|e| {
                ControlError::new(
                    ControlErrorKind::Unavailable,
                    format!("CreateTable {name}: {e}"),
                )
            })?
        };
        let ranges = tables::split_hash_space(count);
        let table_key = self.keys.table(&name);
        for _ in 0..self.cfg.txn_attempts_max {
            let (table_id, trev) = self.counter(Counter::Table).await?;
            let (group0, grev) = self.counter(Counter::Group).await?;
            let (member0, mrev) = self.counter(Counter::Member).await?;
            let table_id =
                u32::try_from(table_id).map_err(|_| internal("table ids exhausted".into()))?;
            let mut member = member0;
            let partitions: Vec<PartitionDesc> = placed
                .iter()
                .zip(&ranges)
                .enumerate()
                .map(|(i, (nodes, range))| PartitionDesc {
                    id: GroupId(group0 + i as u64),
                    table: TableId(table_id),
                    range: *range,
                    epoch: 1,
                    replicas: nodes
                        .iter()
                        .map(|n| {
                            member += 1;
                            ReplicaDesc {
                                node: *n,
                                member: MemberId(member - 1),
                                role: Role::Full,
                            }
                        })
                        .collect(),
                })
                .collect();
            let desc = TableDesc {
                name: name.clone(),
                id: TableId(table_id),
                key_schema: req.key_schema.clone(),
                attribute_definitions: req.attribute_definitions.clone(),
                billing_mode: req
                    .billing_mode
                    .unwrap_or(wire::control::BillingMode::Provisioned),
                provisioned_throughput: req.provisioned_throughput,
                status: TableStatus::Creating,
                creation_time_ms: now_ms(),
                item_count: 0,
                size_bytes: 0,
                partitions: partitions.iter().map(|p| p.id).collect(),
            };
            let mut then = vec![
                TxnOp::put(
                    self.keys.counter(Counter::Table),
                    (table_id as u64 + 1).to_string(),
                ),
                TxnOp::put(
                    self.keys.counter(Counter::Group),
                    (group0 + count as u64).to_string(),
                ),
                TxnOp::put(self.keys.counter(Counter::Member), member.to_string()),
                TxnOp::put(&table_key, to_json(&desc)),
            ];
            then.extend(
                partitions
                    .iter()
                    .map(|p| TxnOp::put(self.keys.partition(p.id), to_json(p))),
            );
            let txn = Txn {
                when: vec![
                    Compare::ModRevision(table_key.clone(), 0),
                    Compare::ModRevision(self.keys.counter(Counter::Table), trev),
                    Compare::ModRevision(self.keys.counter(Counter::Group), grev),
                    Compare::ModRevision(self.keys.counter(Counter::Member), mrev),
                ],
                then,
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, id = table_id, partitions = count, "table CREATING");
                self.wait_visible(out.revision).await;
                return Ok(desc);
            }
            if self
                .store
                .get(&table_key)
                .await
                .map_err(unavailable)?
                .is_some()
            {
                return Err(already_exists(&name));
            }
        }
        Err(unavailable_contention("CreateTable"))
    }

    /// DeleteTable: marks the table DELETING (reconcile removes it once nodes dropped it).
    pub async fn delete_table(&self, name: &str) -> Result<TableDesc, ControlError> {
        tables::validate_table_name(name)?;
        let fence = self.fence()?;
        let key = self.keys.table(name);
        for _ in 0..self.cfg.txn_attempts_max {
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                return Err(table_not_found(name));
            };
            let mut desc: TableDesc = serde_json::from_slice(&kv.value)
                .map_err(|e| internal(format!("table {key}: {e}")))?;
            match desc.status {
                TableStatus::Creating => return Err(in_use("created", name)),
                TableStatus::Deleting => return Err(in_use("deleted", name)),
                TableStatus::Active => {}
            }
            desc.status = TableStatus::Deleting;
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then: vec![TxnOp::put(&key, to_json(&desc))],
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, "table DELETING");
                self.wait_visible(out.revision).await;
                return Ok(desc);
            }
        }
        Err(unavailable_contention("DeleteTable"))
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

    /// One leader pass: CREATING tables whose partitions are all ready become ACTIVE;
    /// DELETING tables no live node hosts any more are removed. Does nothing on a standby.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ControlError> {
        let mut report = ReconcileReport::default();
        let Ok(fence) = self.fence() else {
            return Ok(report);
        };
        let now = Instant::now();
        let (to_activate, to_remove) = {
            let mut m = self.memory();
            let live: HashSet<NodeId> = m.registry.live_nodes(now).into_iter().collect();
            for gone in m.live.difference(&live) {
                warn!(node = %gone, "node down (no heartbeat)");
            }
            m.live = live;
            let reg = &m.registry;
            self.metadata.read(|v| {
                let mut act = Vec::new();
                let mut rem = Vec::new();
                for t in v.tables() {
                    let parts = v.partitions_of(t.id);
                    match t.status {
                        TableStatus::Creating => {
                            if parts.len() == t.partitions.len()
                                && parts.iter().all(|p| partition_ready(p, reg, now))
                            {
                                act.push(t.name.clone());
                            }
                        }
                        TableStatus::Deleting => {
                            if reg.is_warm(now)
                                && !t.partitions.iter().any(|g| reg.group_reported(*g, now))
                            {
                                rem.push((t.name.clone(), t.partitions.clone()));
                            }
                        }
                        TableStatus::Active => {}
                    }
                }
                (act, rem)
            })
        };
        for name in to_activate {
            let key = self.keys.table(&name);
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                continue;
            };
            let mut desc: TableDesc = serde_json::from_slice(&kv.value)
                .map_err(|e| internal(format!("table {key}: {e}")))?;
            if desc.status != TableStatus::Creating {
                continue;
            }
            desc.status = TableStatus::Active;
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then: vec![TxnOp::put(&key, to_json(&desc))],
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, "table ACTIVE");
                self.wait_visible(out.revision).await;
                report.activated.push(name);
            }
        }
        for (name, groups) in to_remove {
            let key = self.keys.table(&name);
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                continue;
            };
            let mut then = vec![TxnOp::delete(&key)];
            then.extend(
                groups
                    .iter()
                    .map(|g| TxnOp::delete(self.keys.partition(*g))),
            );
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then,
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, "table deleted");
                self.wait_visible(out.revision).await;
                report.removed.push(name);
            }
        }
        Ok(report)
    }

    /// Runs [`ControlService::reconcile`] every `every` until the task is aborted.
    pub fn spawn_reconciler(self: Arc<Self>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = self.reconcile().await {
                    warn!(error = %e, "reconcile failed");
                }
            }
        })
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
