//! Test fixtures for the router: a fake control plane (a `CallHandler` answering `Lookup`,
//! `DescribeTable`, `CreateTable` and `ListTables` from a fixed map, counting what it is
//! asked), a fake cluster of replicas (`LocalItems` over one shared map, with a settable
//! leader per group that makes the other replicas answer `NotLeader{hint}`), and
//! [`TestCluster`]: real transports with test certificates on loopback, one [`Router`] per
//! node.
//!
//! Default layout: table `t` (id 1) with two partitions, g1 = [0, 2^63) and g2 = [2^63, 2^64),
//! both on n1 (az1), n2 (az2), n3 (az3); g1 led by n3, g2 by n1 (`replicas[0]` is the
//! preferred leader, so g1 lists n3 first). n4 (az1) hosts nothing (a router-only node).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wire::TableId;
use wire::control::{
    AttributeDefinition, AttributeType, BillingMode, ControlError, ControlErrorKind, ControlReply,
    ControlRequest, HashRange, KeyRole, KeySchemaElement, ListTablesReply, NodeId, NodeInfo,
    PartitionDesc, ReplicaDesc, RoutingReply, TableDesc, TableStatus,
};
use wire::forward::{DigestReply, DigestRequest, ItemOp, ItemReply, ItemRequest};
use wire::frame::{self, CheckedFrame, FRAME_BODY_BYTES_MAX_DEFAULT};
use wire::replication::{GroupId, MemberId, Role};

use super::forward::{self, ForwardHandler};
use super::{LocalItems, Router, RouterConfig};
use crate::control_client::ControlClient;
use crate::partition::Command;
use crate::partition::eval::Decision;
use crate::transport::test_support::TestDir;
use crate::transport::{BoxFuture, CallHandler, Transport, TransportConfig, certs};

pub(crate) const TABLE: &str = "t";
pub(crate) const G1: GroupId = GroupId(1);
pub(crate) const G2: GroupId = GroupId(2);
pub(crate) const HALF: u64 = 1 << 63;

pub(crate) fn node_id(i: usize) -> NodeId {
    NodeId(i as u64 + 1)
}

pub(crate) fn table_desc(name: &str, id: u32) -> TableDesc {
    TableDesc {
        name: name.to_owned(),
        id: TableId(id),
        key_schema: vec![KeySchemaElement {
            attribute_name: "pk".into(),
            key_type: KeyRole::Hash,
        }],
        attribute_definitions: vec![AttributeDefinition {
            attribute_name: "pk".into(),
            attribute_type: AttributeType::S,
        }],
        billing_mode: BillingMode::PayPerRequest,
        provisioned_throughput: None,
        status: TableStatus::Active,
        creation_time_ms: 0,
        item_count: 0,
        size_bytes: 0,
        partitions: vec![G1, G2],
        settings: Default::default(),
    }
}

pub(crate) fn partition(
    id: GroupId,
    range: HashRange,
    epoch: u64,
    nodes: &[usize],
) -> PartitionDesc {
    PartitionDesc {
        id,
        table: TableId(1),
        range,
        epoch,
        replicas: nodes
            .iter()
            .map(|&i| ReplicaDesc {
                node: node_id(i),
                member: MemberId(id.0 * 10 + i as u64),
                role: Role::Full,
            })
            .collect(),
    }
}

/// The control plane's view, as the fake serves it.
#[derive(Default)]
pub(crate) struct ControlState {
    pub tables: BTreeMap<String, (TableDesc, Vec<PartitionDesc>)>,
    pub nodes: Vec<NodeInfo>,
    /// Lookups per table name (cold and refresh alike).
    pub lookups: HashMap<String, u64>,
    pub describes: u64,
    pub creates: u64,
}

/// A control-plane instance answering from [`ControlState`].
#[derive(Default)]
pub(crate) struct FakeControl {
    pub state: Mutex<ControlState>,
}

impl FakeControl {
    pub(crate) fn lookups(&self, table: &str) -> u64 {
        self.lock().lookups.get(table).copied().unwrap_or(0)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap()
    }

    fn answer(&self, req: ControlRequest) -> ControlReply {
        let mut s = self.lock();
        let not_found = || {
            ControlReply::Error(ControlError::new(
                ControlErrorKind::ResourceNotFound,
                "Requested resource not found",
            ))
        };
        match req {
            ControlRequest::Lookup(l) => {
                *s.lookups.entry(l.table_name.clone()).or_default() += 1;
                let Some((desc, parts)) = s.tables.get(&l.table_name) else {
                    return not_found();
                };
                let mut out: Vec<PartitionDesc> = parts
                    .iter()
                    .filter(|p| l.hashes.iter().any(|h| p.range.contains(*h)))
                    .cloned()
                    .collect();
                out.sort_by_key(|p| p.range.start);
                let ids: HashSet<NodeId> = out
                    .iter()
                    .flat_map(|p| p.replicas.iter().map(|r| r.node))
                    .collect();
                let nodes = s
                    .nodes
                    .iter()
                    .filter(|n| ids.contains(&n.id))
                    .cloned()
                    .collect();
                ControlReply::Routing(RoutingReply {
                    table: desc.clone(),
                    partitions: out,
                    nodes,
                })
            }
            ControlRequest::DescribeTable { table_name } => {
                s.describes += 1;
                match s.tables.get(&table_name) {
                    Some((d, _)) => ControlReply::Table(d.clone()),
                    None => not_found(),
                }
            }
            ControlRequest::CreateTable(c) => {
                s.creates += 1;
                if s.tables.contains_key(&c.table_name) {
                    return ControlReply::Error(ControlError::new(
                        ControlErrorKind::ResourceInUse,
                        format!("Table already exists: {}", c.table_name),
                    ));
                }
                let mut d = table_desc(&c.table_name, 2 + s.tables.len() as u32);
                d.status = TableStatus::Creating;
                s.tables.insert(c.table_name, (d.clone(), vec![]));
                ControlReply::Table(d)
            }
            ControlRequest::ListTables(_) => ControlReply::Tables(ListTablesReply {
                table_names: s.tables.keys().cloned().collect(),
                last_evaluated_table_name: None,
            }),
            other => ControlReply::Error(ControlError::new(
                ControlErrorKind::Internal,
                format!("the fake control plane does not answer {other:?}"),
            )),
        }
    }
}

impl CallHandler for FakeControl {
    fn handle(&self, _peer: String, f: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        let reply = f
            .decode::<ControlRequest>()
            .ok()
            .map(|req| self.answer(req))
            .and_then(|r| frame::encode(&r, FRAME_BODY_BYTES_MAX_DEFAULT).ok());
        Box::pin(async move { reply })
    }
}

/// One group of the fake cluster.
#[derive(Clone, Debug)]
pub(crate) struct FakeGroup {
    pub range: HashRange,
    pub replicas: Vec<NodeId>,
    pub leader: NodeId,
}

/// What the fake replicas share: the groups (ownership truth), the data (as if replicated
/// at once), and who served what.
#[derive(Default)]
pub(crate) struct FakeCluster {
    pub groups: HashMap<GroupId, FakeGroup>,
    pub data: BTreeMap<Vec<u8>, (GroupId, Vec<u8>)>,
    /// (node, group) of every write and consistent read applied.
    pub led: Vec<(NodeId, GroupId)>,
    /// Node of every eventual read served.
    pub eventual: Vec<NodeId>,
    /// Nodes answering `Busy` to eventual reads.
    pub busy_eventual: HashSet<NodeId>,
    /// Nodes answering every request with this reply.
    pub overrides: HashMap<NodeId, ItemReply>,
}

/// One node's replicas over the shared [`FakeCluster`].
pub(crate) struct FakeNode {
    pub id: NodeId,
    pub cluster: Arc<Mutex<FakeCluster>>,
}

impl FakeNode {
    fn run(&self, req: ItemRequest) -> ItemReply {
        let mut c = self.cluster.lock().unwrap();
        if let Some(r) = c.overrides.get(&self.id) {
            return r.clone();
        }
        let Some(g) = c.groups.get(&req.group).cloned() else {
            return ItemReply::NotHere;
        };
        if !g.replicas.contains(&self.id) {
            return ItemReply::NotHere;
        }
        if !g.range.contains(req.hash) {
            return ItemReply::WrongGroup;
        }
        let eventual = match &req.op {
            ItemOp::Get { consistent } => !consistent,
            ItemOp::Range(r) => !r.consistent,
            _ => false,
        };
        if eventual {
            if c.busy_eventual.contains(&self.id) {
                return ItemReply::Busy;
            }
            c.eventual.push(self.id);
            if let ItemOp::Range(r) = &req.op {
                return range_page(&c.data, req.group, r);
            }
            return ItemReply::Ok(c.data.get(&req.key).map(|(_, v)| v.clone()));
        }
        if g.leader != self.id {
            return ItemReply::NotLeader {
                leader: Some(g.leader),
            };
        }
        c.led.push((self.id, req.group));
        let old = match req.op {
            ItemOp::Put { item, .. } => c.data.insert(req.key, (req.group, item)),
            ItemOp::Delete { .. } => c.data.remove(&req.key),
            ItemOp::Get { .. } => c.data.get(&req.key).cloned(),
            ItemOp::Range(r) => return range_page(&c.data, req.group, &r),
            // The leader's evaluation, as the real shell runs it.
            ItemOp::Eval(w) => {
                let old = c.data.get(&req.key).map(|(_, v)| v.clone());
                return match crate::partition::eval::evaluate(&req.key, &w, old.as_deref()) {
                    Ok(Decision::Reply(r)) => r,
                    Ok(Decision::Propose { command, reply }) => {
                        match command {
                            Command::Put { key, value } => {
                                c.data.insert(key, (req.group, value));
                            }
                            Command::Delete { key } => {
                                c.data.remove(&key);
                            }
                        }
                        reply
                    }
                    Err(_) => ItemReply::Busy,
                };
            }
        };
        ItemReply::Ok(old.map(|(_, v)| v))
    }
}

/// Every stored value of `group` within `r`'s bounds, ascending, as one page (the fake
/// partitions hold only their own keys; limits and boundaries are `partition::range`'s, tested
/// there).
fn range_page(
    data: &BTreeMap<Vec<u8>, (GroupId, Vec<u8>)>,
    group: GroupId,
    r: &wire::forward::RangeRead,
) -> ItemReply {
    let items = data
        .iter()
        .filter(|(k, (g, _))| {
            *g == group
                && (if r.lower_inclusive {
                    **k >= r.lower
                } else {
                    **k > r.lower
                })
                && (if r.upper_inclusive {
                    **k <= r.upper
                } else {
                    **k < r.upper
                })
        })
        .map(|(_, (_, v))| v.clone())
        .collect();
    ItemReply::Page {
        items,
        end: wire::forward::PageEnd::Done,
    }
}

impl LocalItems for FakeNode {
    fn execute(&self, req: ItemRequest) -> BoxFuture<ItemReply> {
        let reply = self.run(req);
        Box::pin(async move { reply })
    }

    fn digest(&self, req: DigestRequest) -> BoxFuture<DigestReply> {
        let c = self.cluster.lock().unwrap();
        let reply = match c.groups.get(&req.group) {
            Some(g) if g.replicas.contains(&self.id) => {
                let mut h = blake3::Hasher::new();
                let mut items = 0;
                for (k, (g, v)) in &c.data {
                    if *g == req.group {
                        h.update(&(k.len() as u32).to_le_bytes());
                        h.update(k);
                        h.update(&(v.len() as u32).to_le_bytes());
                        h.update(v);
                        items += 1;
                    }
                }
                DigestReply::Digest {
                    applied: items,
                    items,
                    digest: *h.finalize().as_bytes(),
                }
            }
            _ => DigestReply::NotHere,
        };
        Box::pin(async move { reply })
    }
}

/// The node's one call handler, filled after the router exists (as `node.rs` will do):
/// forwarded frames go to the router's [`ForwardHandler`], others get no reply.
#[derive(Default)]
pub(crate) struct NodeCalls(pub OnceLock<ForwardHandler>);

impl CallHandler for NodeCalls {
    fn handle(&self, peer: String, f: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        match self.0.get() {
            Some(h) if forward::handles(f.header().msg_type) => h.handle(peer, f),
            _ => Box::pin(async { None }),
        }
    }
}

pub(crate) struct TestNode {
    pub info: NodeInfo,
    pub transport: Arc<Transport>,
    pub router: Arc<Router>,
}

/// Four nodes, one fake control plane, on loopback.
pub(crate) struct TestCluster {
    _dir: TestDir,
    pub control: Arc<FakeControl>,
    pub control_transport: Transport,
    pub cluster: Arc<Mutex<FakeCluster>>,
    pub nodes: Vec<TestNode>,
}

fn transport_config() -> TransportConfig {
    TransportConfig {
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 200,
        handshake_timeout_ms: 2_000,
        retire_grace_ms: 200,
        ..TransportConfig::default()
    }
}

/// Router settings for tests: a faster refresh; the production deadlines.
pub(crate) fn test_router_config() -> RouterConfig {
    RouterConfig {
        routing_refresh_ms: 100,
        lookup_timeout_ms: 2_000,
        control_instances: vec!["ctl".to_owned()],
        ..RouterConfig::default()
    }
}

impl TestCluster {
    pub(crate) async fn start(name: &str, cfg: RouterConfig) -> TestCluster {
        let names = ["n1", "n2", "n3", "n4"];
        let azs = ["az1", "az2", "az3", "az1"];
        let dir = TestDir::new(name);
        certs::init_ca(dir.path(), false).expect("init ca");
        for h in names.iter().chain(&["ctl"]) {
            certs::issue(dir.path(), h, &["127.0.0.1".to_owned()], false).expect("issue");
        }
        let id = |h: &str| certs::load_identity(dir.path(), h).expect("identity");
        let control = Arc::new(FakeControl::default());
        let (control_transport, _rx) =
            Transport::bind(&id("ctl"), transport_config(), control.clone()).expect("bind ctl");
        let ctl_addr = control_transport.local_addr();

        let cluster = Arc::new(Mutex::new(FakeCluster::default()));
        {
            let mut c = cluster.lock().unwrap();
            let lo = HashRange {
                start: 0,
                end: Some(HALF),
            };
            let hi = HashRange {
                start: HALF,
                end: None,
            };
            c.groups.insert(
                G1,
                FakeGroup {
                    range: lo,
                    replicas: vec![node_id(2), node_id(0), node_id(1)],
                    leader: node_id(2),
                },
            );
            c.groups.insert(
                G2,
                FakeGroup {
                    range: hi,
                    replicas: vec![node_id(0), node_id(1), node_id(2)],
                    leader: node_id(0),
                },
            );
            let mut s = control.lock();
            s.tables.insert(
                TABLE.to_owned(),
                (
                    table_desc(TABLE, 1),
                    vec![
                        partition(G1, lo, 1, &[2, 0, 1]),
                        partition(G2, hi, 1, &[0, 1, 2]),
                    ],
                ),
            );
        }

        let mut nodes = Vec::new();
        for (i, (n, az)) in names.iter().zip(azs).enumerate() {
            let calls = Arc::new(NodeCalls::default());
            let (t, _rx) =
                Transport::bind(&id(n), transport_config(), calls.clone()).expect("bind");
            // The inbound one-way channel is unused by the router; dropping the receiver is
            // fine (nothing sends one-way frames here).
            let t = Arc::new(t);
            let info = NodeInfo {
                id: node_id(i),
                name: (*n).to_owned(),
                az: az.to_owned(),
                quic_addr: t.local_addr().to_string(),
                api_addr: "127.0.0.1:1".to_owned(),
            };
            let mut cc = ControlClient::new((*t).clone(), &[("ctl".to_owned(), ctl_addr)])
                .expect("control client");
            // Generous: on a loaded machine the fake control plane can take a while to
            // answer, and no test here times a control-plane call.
            cc.timeout = Duration::from_millis(2_000);
            let local = Arc::new(FakeNode {
                id: info.id,
                cluster: cluster.clone(),
            });
            let router = Arc::new(Router::new(
                cfg.clone(),
                info.clone(),
                t.clone(),
                Arc::new(cc),
                local,
            ));
            let _ = calls.0.set(router.forward_handler());
            nodes.push(TestNode {
                info,
                transport: t,
                router,
            });
        }
        control.lock().nodes = nodes.iter().map(|n| n.info.clone()).collect();
        TestCluster {
            _dir: dir,
            control,
            control_transport,
            cluster,
            nodes,
        }
    }

    pub(crate) fn set_leader(&self, g: GroupId, node: usize) {
        self.cluster
            .lock()
            .unwrap()
            .groups
            .get_mut(&g)
            .expect("group")
            .leader = node_id(node);
    }

    /// Stops every endpoint at once (each waits for its peers' close acknowledgements,
    /// which a dead peer never sends).
    pub(crate) async fn shutdown(self) {
        let mut all: Vec<Transport> = self.nodes.iter().map(|n| (*n.transport).clone()).collect();
        all.push(self.control_transport.clone());
        let tasks: Vec<_> = all
            .into_iter()
            .map(|t| tokio::spawn(async move { t.shutdown().await }))
            .collect();
        for t in tasks {
            t.await.expect("shutdown");
        }
    }
}
