//! The request router of cairn-node (DESIGN §1, §5; design-driver §3): any node accepts any
//! DynamoDB item request, finds the partition owning the key's hash and that partition's
//! leader, and runs the operation there, locally or one QUIC hop away.
//!
//! Data flow: `api/` → [`backend::NodeBackend`] (an `ApiBackend`) → [`Router::item`] →
//! routing cache (`cache.rs`; cold misses are one awaited, single-flight `RoutingLookup` per
//! table) → redirect loop (`route.rs`) → [`LocalItems`] on this node, or an
//! `ItemRequest` frame over `transport::Transport::call` to the target node, whose
//! [`forward::ForwardHandler`] hands it to *its* `LocalItems` (one hop: a node never forwards
//! a forwarded request; a redirect goes back to the router).
//!
//! Invariants:
//! - Routing is advisory: the node that executes decides by its own ownership and leadership
//!   (it is the authority); `NotLeader`, `WrongGroup` and `NotHere` make the router move or
//!   refresh. The epoch in an `ItemRequest` is for logs and metrics only.
//! - Constant work (DESIGN §5): every routed request pushes its hash into a per-table bounded
//!   set (`refresh.rs`); every `routing_refresh_ms` the refresher sends at most one batched
//!   `Lookup` per table to any control-plane instance (round robin), whatever the request
//!   rate. The control plane serves lookups from memory, so refreshes keep working while etcd
//!   is down or the control leader moves.
//! - Every request is bounded by `request_deadline_ms` and `route_attempts_max`; every cache,
//!   set and map here is bounded (tables by the cluster's table limit, the rest by named
//!   limits in [`RouterConfig`]).
//! - A write whose fate is unknown (an `Ambiguous` reply, or exhaustion after a timed-out
//!   write attempt) is reported as [`RouteError::Ambiguous`] (`InternalServerError`, which
//!   SDKs retry), never as a success or a clean failure.
//!
//! Neighbours: frames in `wire/src/forward.rs` and `wire/src/control.rs`; the transport in
//! `transport/`; control RPCs in `control_client/`; the `LocalItems` implementation is the
//! driver's (`driver/`, `partition/`).

pub mod backend;
mod cache;
pub mod forward;
mod refresh;
mod route;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::warn;
use wire::control::{ControlError, NodeId, NodeInfo, PartitionDesc, TableDesc};
use wire::forward::{DigestReply, DigestRequest, ItemOp, ItemReply, ItemRequest, PageEnd};
use wire::frame::FRAME_BODY_BYTES_MAX_DEFAULT;
use wire::replication::GroupId;

use crate::api::error::ApiError;
use crate::control_client::ControlClient;
use crate::transport::{BoxFuture, Transport};

pub use backend::NodeBackend;
pub use forward::ForwardHandler;

/// This node's replicas, as the router and the forward handler see them. Implemented by the
/// replication driver; a test implements it with a map.
///
/// `execute` answers for this node only (it never forwards): `Ok` when done, `NotLeader`
/// with its best guess of the leader, `WrongGroup`/`NotHere`/`Busy`/`NotCommitted` when
/// certainly without effect, `Ambiguous` when a proposed write's fate is unknown. It should
/// answer within `req.deadline_ms`.
pub trait LocalItems: Send + Sync + 'static {
    fn execute(&self, req: ItemRequest) -> BoxFuture<ItemReply>;
    fn digest(&self, req: DigestRequest) -> BoxFuture<DigestReply>;
}

/// Router settings (defaults from design-driver §3).
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// How often the refresher sends its batched lookups.
    pub routing_refresh_ms: u64,
    /// Longest wait for one forwarded call (writes take ~2 fsyncs + 1 RTT; longer only helps
    /// a dead node).
    pub forward_timeout_ms: u64,
    /// Longest a routed request may take, all attempts included (below SDK timeouts).
    pub request_deadline_ms: u64,
    /// Most attempts (forwards and local executions) per request.
    pub route_attempts_max: u32,
    /// How long a node that timed out or could not be reached is tried last.
    pub node_suspect_ms: u64,
    /// How long a `ResourceNotFound` answer for a table name is remembered.
    pub negative_cache_ms: u64,
    /// Most remembered `ResourceNotFound` table names.
    pub negative_entries_max: usize,
    /// Most tables refreshed per interval (hashes per table: `LOOKUP_HASHES_MAX`).
    pub refresh_tables_max: usize,
    /// Evenly spaced hashes a cold lookup asks for besides the missing one (so one call
    /// usually brings the whole table); at most `LOOKUP_HASHES_MAX - 1`.
    pub cold_lookup_spread_hashes: usize,
    /// Longest wait for one control-plane lookup or describe call, per instance.
    pub lookup_timeout_ms: u64,
    /// Backoff after a retryable failure: `min(backoff_min_ms * 2^k, backoff_max_ms)`.
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// Most cached partition leaders (cleared when full; they are relearned from replies).
    pub leaders_max: usize,
    /// Control-plane instance names (peer names already in the transport's address book, as
    /// `ControlClient::new` puts them) for round-robin lookups. Empty: lookups go through
    /// `ControlClient::call` (instances in order).
    pub control_instances: Vec<String>,
    /// Bound on forwarded frame bodies.
    pub frame_body_bytes_max: usize,
}

impl Default for RouterConfig {
    fn default() -> RouterConfig {
        RouterConfig {
            routing_refresh_ms: 200,
            forward_timeout_ms: 800,
            request_deadline_ms: 4_000,
            route_attempts_max: 16,
            node_suspect_ms: 2_000,
            negative_cache_ms: 1_000,
            negative_entries_max: 1_024,
            refresh_tables_max: 1_024,
            cold_lookup_spread_hashes: 64,
            lookup_timeout_ms: 1_000,
            backoff_min_ms: 20,
            backoff_max_ms: 250,
            leaders_max: 100_000,
            control_instances: Vec::new(),
            frame_body_bytes_max: FRAME_BODY_BYTES_MAX_DEFAULT,
        }
    }
}

/// One item operation as the API layer hands it to the router (an [`ItemRequest`] without
/// the partition, which the router finds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemCall {
    /// The stored key (`wire::key` layout).
    pub key: Vec<u8>,
    /// `wire::key::hash64` of the partition key.
    pub hash: u64,
    pub op: ItemOp,
}

/// Why a routed request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The table does not exist (or is not ACTIVE).
    #[error("table {0} not found")]
    NotFound(String),
    /// No partition, leader or control-plane instance could serve it in time; certainly
    /// without effect as far as the router knows.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A write's fate is unknown.
    #[error("ambiguous: {0}")]
    Ambiguous(String),
    /// The control plane refused a lookup (e.g. `Unavailable` while a partition is missing).
    #[error("control plane: {0}")]
    Control(ControlError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> ApiError {
        match e {
            RouteError::NotFound(_) => {
                ApiError::ResourceNotFound("Requested resource not found".to_owned())
            }
            RouteError::Unavailable(m) => ApiError::ServiceUnavailable(m),
            RouteError::Ambiguous(m) => {
                ApiError::Internal(format!("the outcome of the write is unknown: {m}"))
            }
            RouteError::Control(c) => ApiError::from_control(c),
            RouteError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// Router counters, for the node's `/metrics` (`cairn_forward_total{result}` and friends).
#[derive(Debug, Default)]
pub struct RouterStats {
    /// Attempts executed on this node's own replicas (no frame).
    pub local: AtomicU64,
    /// Attempts forwarded to another node.
    pub remote: AtomicU64,
    /// `NotLeader` answers (a redirect followed or a next replica tried).
    pub redirects: AtomicU64,
    /// `WrongGroup` / `NotHere` answers (stale routing: the table's entry refreshed).
    pub wrong_group: AtomicU64,
    /// Failed attempts: call errors, timeouts, `Busy`.
    pub errors: AtomicU64,
    /// Eventually consistent reads answered by a replica in this node's AZ.
    pub eventual_in_az: AtomicU64,
    /// Cold (awaited) routing lookups sent.
    pub lookups: AtomicU64,
    /// Refresher lookups sent.
    pub refreshes: AtomicU64,
    /// Forwarded requests this node's handler served for other routers.
    pub served: AtomicU64,
}

/// A plain copy of [`RouterStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStatsSnapshot {
    pub local: u64,
    pub remote: u64,
    pub redirects: u64,
    pub wrong_group: u64,
    pub errors: u64,
    pub eventual_in_az: u64,
    pub lookups: u64,
    pub refreshes: u64,
    pub served: u64,
}

impl RouterStats {
    pub fn snapshot(&self) -> RouterStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RouterStatsSnapshot {
            local: g(&self.local),
            remote: g(&self.remote),
            redirects: g(&self.redirects),
            wrong_group: g(&self.wrong_group),
            errors: g(&self.errors),
            eventual_in_az: g(&self.eventual_in_az),
            lookups: g(&self.lookups),
            refreshes: g(&self.refreshes),
            served: g(&self.served),
        }
    }
}

pub(crate) fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// The outcome of a single-flight cold lookup, shared with the requests that waited for it.
type FlightResult = Option<Result<(), RouteError>>;

/// State shared by the [`Router`] handle, its refresher task and its requests.
pub(crate) struct Inner {
    cfg: RouterConfig,
    me: RwLock<NodeInfo>,
    transport: Arc<Transport>,
    control: Arc<ControlClient>,
    local: Arc<dyn LocalItems>,
    stats: Arc<RouterStats>,
    cache: Mutex<cache::RoutingCache>,
    /// Node directory: every node named by routing or heartbeat replies.
    nodes: Mutex<HashMap<NodeId, NodeInfo>>,
    /// Partition → node believed to lead it (learned from replies).
    leaders: Mutex<HashMap<GroupId, NodeId>>,
    /// Node → until when it is tried last.
    suspects: Mutex<HashMap<NodeId, Instant>>,
    refresh: Mutex<refresh::RefreshSet>,
    /// Table → the cold lookup in flight for it.
    flights: Mutex<HashMap<String, watch::Receiver<FlightResult>>>,
    /// Round-robin position over `cfg.control_instances`.
    next_instance: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicked request must not take routing down with it: the state stays consistent
    // because no critical section here awaits or leaves a half-done update behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The router of one node. Create it inside a tokio runtime (it spawns the refresher, which
/// stops when the router is dropped).
pub struct Router {
    inner: Arc<Inner>,
    refresher: tokio::task::AbortHandle,
}

impl Drop for Router {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl Router {
    /// `me`: this node as the control plane knows it. Its `name` (the certificate name) is
    /// what makes a target local; its `az` picks replicas for eventual reads; its `id` may be
    /// a placeholder until registration ([`Router::set_me`], or a routing reply naming it).
    pub fn new(
        cfg: RouterConfig,
        me: NodeInfo,
        transport: Arc<Transport>,
        control: Arc<ControlClient>,
        local: Arc<dyn LocalItems>,
    ) -> Router {
        let inner = Arc::new(Inner {
            cache: Mutex::new(cache::RoutingCache::new(cfg.negative_entries_max)),
            refresh: Mutex::new(refresh::RefreshSet::new(cfg.refresh_tables_max)),
            cfg,
            me: RwLock::new(me),
            transport,
            control,
            local,
            stats: Arc::new(RouterStats::default()),
            nodes: Mutex::new(HashMap::new()),
            leaders: Mutex::new(HashMap::new()),
            suspects: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            next_instance: AtomicUsize::new(0),
        });
        let refresher = tokio::spawn(refresh::run(Arc::downgrade(&inner))).abort_handle();
        Router { inner, refresher }
    }

    /// Replaces this node's identity (after registration told it its id).
    pub fn set_me(&self, me: NodeInfo) {
        *self.inner.me.write().unwrap_or_else(|e| e.into_inner()) = me;
    }

    /// This node's identity as the router uses it.
    pub fn me(&self) -> NodeInfo {
        self.inner.me()
    }

    /// Adds or updates nodes in the directory and the transport's address book (called with
    /// `HeartbeatReply::nodes`; routing replies are learned from automatically).
    pub fn learn_nodes(&self, nodes: &[NodeInfo]) {
        self.inner.learn_nodes(nodes);
    }

    /// A leader hint from elsewhere (e.g. a control-plane hint per partition).
    pub fn leader_hint(&self, group: GroupId, node: NodeId) {
        self.inner.set_leader(group, node);
    }

    /// The counters (shared; export them).
    pub fn stats(&self) -> Arc<RouterStats> {
        self.inner.stats.clone()
    }

    pub fn control(&self) -> &Arc<ControlClient> {
        &self.inner.control
    }

    /// The call handler serving `ItemRequest`/`DigestRequest` frames from other routers with
    /// this router's `LocalItems` (combine it with the node's other handlers, see
    /// [`forward::handles`]).
    pub fn forward_handler(&self) -> ForwardHandler {
        ForwardHandler::new(
            self.inner.local.clone(),
            self.inner.stats.clone(),
            self.inner.cfg.frame_body_bytes_max,
        )
    }

    /// Runs one item operation on the partition of `table` owning `call.hash`, at its leader
    /// (writes, consistent reads) or at a nearby replica (eventual reads). `Ok`: for `Get`,
    /// the stored item; for writes, the old image when asked for.
    pub async fn item(&self, table: &str, call: ItemCall) -> Result<Option<Vec<u8>>, RouteError> {
        match self.inner.route(table, call).await? {
            ItemReply::Ok(v) => Ok(v),
            other => Err(RouteError::Internal(format!(
                "unexpected answer to a plain item operation: {other:?}"
            ))),
        }
    }

    /// Runs an evaluated write (`ItemOp::Eval`) like [`Router::item`]; the answer is
    /// `Written`, `ConditionFailed` or `Invalid` (the leader's verdict).
    pub async fn eval_write(&self, table: &str, call: ItemCall) -> Result<ItemReply, RouteError> {
        match self.inner.route(table, call).await? {
            ItemReply::Ok(_) => Err(RouteError::Internal(
                "a plain answer to an evaluated write".to_owned(),
            )),
            reply => Ok(reply),
        }
    }

    /// Runs one range read (`ItemOp::Range`, Query and Scan) on the partition owning
    /// `call.hash` (its lower bound's): the stored images read and why the page ended.
    pub async fn range(
        &self,
        table: &str,
        call: ItemCall,
    ) -> Result<(Vec<Vec<u8>>, PageEnd), RouteError> {
        match self.inner.route(table, call).await? {
            ItemReply::Page { items, end } => Ok((items, end)),
            other => Err(RouteError::Internal(format!(
                "unexpected answer to a range read: {other:?}"
            ))),
        }
    }

    /// The description of an ACTIVE table from the cache, else from a control-plane
    /// instance (any: they serve it from memory). `ResourceNotFound` is remembered for
    /// `negative_cache_ms`; a control plane that cannot be reached is
    /// `ControlErrorKind::Unavailable` ("control plane unavailable: …").
    pub async fn describe_table(&self, name: &str) -> Result<TableDesc, ControlError> {
        self.inner.describe_table(name).await
    }

    /// Forgets a table (after this node deleted it).
    pub fn forget_table(&self, name: &str) {
        lock(&self.inner.cache).remove_table(name);
    }

    /// The table's description after this node changed it (AlterTable): routing and
    /// DescribeTable through this node show the change at once; other nodes see it with their
    /// next routing refresh.
    pub fn table_altered(&self, desc: TableDesc) {
        if desc.status == wire::control::TableStatus::Active {
            lock(&self.inner.cache).apply_desc(desc);
        }
    }

    /// Forgets a remembered `ResourceNotFound` (after this node created the table).
    pub fn table_created(&self, name: &str) {
        lock(&self.inner.cache).clear_negative(name);
    }

    /// The digest of `group` on `node` (tests and admin tools).
    pub async fn digest(&self, node: NodeId, group: GroupId) -> Result<DigestReply, RouteError> {
        self.inner.digest(node, group).await
    }

    /// The partition currently cached for `table` and `hash` (tests, debugging).
    pub fn cached_partition(&self, table: &str, hash: u64) -> Option<PartitionDesc> {
        lock(&self.inner.cache)
            .find(table, hash)
            .map(|p| (*p).clone())
    }
}

impl Inner {
    fn me(&self) -> NodeInfo {
        self.me.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn is_me(&self, node: &NodeInfo) -> bool {
        self.me.read().unwrap_or_else(|e| e.into_inner()).name == node.name
    }

    fn node(&self, id: NodeId) -> Option<NodeInfo> {
        lock(&self.nodes).get(&id).cloned()
    }

    fn learn_nodes(&self, nodes: &[NodeInfo]) {
        let my_name = self
            .me
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .name
            .clone();
        let mut dir = lock(&self.nodes);
        for n in nodes {
            if n.name == my_name {
                let mut me = self.me.write().unwrap_or_else(|e| e.into_inner());
                me.id = n.id;
            } else if dir
                .get(&n.id)
                .is_none_or(|old| old.quic_addr != n.quic_addr)
            {
                match n.quic_addr.parse() {
                    Ok(addr) => {
                        if let Err(e) = self.transport.set_peer_addr(&n.name, addr) {
                            warn!(node = %n.name, error = %e, "cannot add node to the address book");
                        }
                    }
                    Err(_) => {
                        warn!(node = %n.name, addr = %n.quic_addr, "node has a bad QUIC address")
                    }
                }
            }
            dir.insert(n.id, n.clone());
        }
    }

    fn set_leader(&self, group: GroupId, node: NodeId) {
        let mut l = lock(&self.leaders);
        if l.len() >= self.cfg.leaders_max && !l.contains_key(&group) {
            l.clear();
        }
        l.insert(group, node);
    }

    fn leader(&self, group: GroupId) -> Option<NodeId> {
        lock(&self.leaders).get(&group).copied()
    }

    fn forget_leader(&self, group: GroupId, node: NodeId) {
        let mut l = lock(&self.leaders);
        if l.get(&group) == Some(&node) {
            l.remove(&group);
        }
    }

    fn mark_suspect(&self, node: NodeId) {
        let until = Instant::now() + Duration::from_millis(self.cfg.node_suspect_ms);
        let mut s = lock(&self.suspects);
        s.retain(|_, t| *t > Instant::now());
        s.insert(node, until);
    }

    fn is_suspect(&self, node: NodeId) -> bool {
        lock(&self.suspects)
            .get(&node)
            .is_some_and(|t| *t > Instant::now())
    }

    fn clear_suspect(&self, node: NodeId) {
        lock(&self.suspects).remove(&node);
    }
}
