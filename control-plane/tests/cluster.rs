//! Control-plane integration tests: the service with simulated nodes, on the in-memory store
//! and on a real etcd spawned per test (`common::Etcd`; a missing etcd fails the test).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Etcd, FakeNodes, Instance, eventually};
use control_plane::election::{Election, ElectionConfig, FencedError, LeaderState, fenced_txn};
use control_plane::heartbeat::LivenessConfig;
use control_plane::service::{ControlService, ServiceConfig};
use control_plane::store::{Keys, LeaderRecord, MemStore, MetaStore, Txn, TxnOp};
use std::collections::BTreeSet;
use tokio::time::Instant;
use wire::control::{
    AttributeDefinition, AttributeType, BillingMode, ControlErrorKind, ControlReply,
    ControlRequest, CreateTableRequest, KeyRole, KeySchemaElement, ListTablesRequest,
    ProvisionedThroughput, RoutingLookup, TableStatus,
};

fn service_config() -> ServiceConfig {
    ServiceConfig {
        liveness: LivenessConfig {
            timeout_ms: 500,
            heartbeat_interval_ms: 50,
        },
        ..ServiceConfig::default()
    }
}

fn election_config() -> ElectionConfig {
    ElectionConfig {
        ttl_s: 2,
        retry_ms: 100,
    }
}

/// A table with `rcu`/`wcu` provisioned: ceil(rcu/3000 + wcu/1000) partitions.
fn create_req(name: &str, rcu: u64, wcu: u64) -> CreateTableRequest {
    CreateTableRequest {
        table_name: name.into(),
        key_schema: vec![KeySchemaElement {
            attribute_name: "pk".into(),
            key_type: KeyRole::Hash,
        }],
        attribute_definitions: vec![AttributeDefinition {
            attribute_name: "pk".into(),
            attribute_type: AttributeType::S,
        }],
        billing_mode: Some(BillingMode::Provisioned),
        provisioned_throughput: Some(ProvisionedThroughput {
            read_capacity_units: rcu,
            write_capacity_units: wcu,
        }),
    }
}

/// Heartbeats until `name` has `status` (None: gone), or panics after `within`.
async fn drive_until<S: MetaStore>(
    svc: &ControlService<S>,
    nodes: &mut FakeNodes,
    name: &str,
    status: Option<TableStatus>,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        nodes.heartbeat(svc).await;
        let now = svc.describe_table(name).await.ok().map(|t| t.status);
        if now == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "table {name} stuck at {now:?}, wanted {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks that `name`'s partitions tile the hash space, each on 3 nodes in 3 AZs.
fn check_placement<S: MetaStore>(
    svc: &ControlService<S>,
    nodes: &FakeNodes,
    name: &str,
    count: usize,
) {
    svc.metadata().read(|v| {
        let t = v.table(name).expect("table in metadata");
        let parts = v.partitions_of(t.id);
        assert_eq!(parts.len(), count);
        assert_eq!(parts[0].range.start, 0);
        assert_eq!(parts.last().unwrap().range.end, None);
        for w in parts.windows(2) {
            assert_eq!(w[0].range.end, Some(w[1].range.start));
        }
        for p in &parts {
            let azs: BTreeSet<&str> = p
                .replicas
                .iter()
                .map(|r| {
                    let n = nodes.nodes.iter().find(|n| n.id == Some(r.node)).unwrap();
                    n.az.as_str()
                })
                .collect();
            assert_eq!(azs.len(), 3, "partition {:?} not in 3 AZs", p.id);
        }
    });
}

#[tokio::test]
async fn mem_table_lifecycle_with_dynamodb_errors() {
    let store = MemStore::new();
    let keys = Keys::new("/cairn/mem");
    let a = Instance::start(
        store.clone(),
        &keys,
        "a",
        election_config(),
        service_config(),
    );
    a.wait_leader(Duration::from_secs(2)).await;
    let b = Instance::start(
        store.clone(),
        &keys,
        "b",
        election_config(),
        service_config(),
    );
    let svc = &a.service;

    // Too few AZs: a clear refusal.
    let mut two = FakeNodes::new(2, 2);
    two.register(svc).await;
    two.heartbeat(svc).await;
    let err = svc
        .create_table(create_req("t2az", 5, 5))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ControlErrorKind::Unavailable);
    assert!(
        err.message.contains("2 availability zone(s)"),
        "{}",
        err.message
    );

    let mut nodes = FakeNodes::new(3, 2);
    nodes.register(svc).await;
    nodes.heartbeat(svc).await;
    let t = svc
        .create_table(create_req("Music", 6000, 1000))
        .await
        .unwrap();
    assert_eq!(t.status, TableStatus::Creating);
    assert_eq!(t.partitions.len(), 3);
    check_placement(svc, &nodes, "Music", 3);

    let again = svc
        .create_table(create_req("Music", 5, 5))
        .await
        .unwrap_err();
    assert_eq!(again.kind, ControlErrorKind::ResourceInUse);
    assert_eq!(again.message, "Table already exists: Music");
    let busy = svc.delete_table("Music").await.unwrap_err();
    assert_eq!(
        busy.message,
        "Attempt to change a resource which is still in use: Table is being created: Music"
    );
    let lookup = RoutingLookup {
        table_name: "Music".into(),
        hashes: vec![0, u64::MAX],
    };
    assert_eq!(
        svc.lookup(lookup.clone()).await.unwrap_err().kind,
        ControlErrorKind::ResourceNotFound,
        "no routing to a CREATING table"
    );
    let standby = b
        .service
        .create_table(create_req("Other", 5, 5))
        .await
        .unwrap_err();
    assert_eq!(standby.kind, ControlErrorKind::NotLeader);
    assert_eq!(standby.leader_hint.as_deref(), Some("a@a:7400"));

    drive_until(
        svc,
        &mut nodes,
        "Music",
        Some(TableStatus::Active),
        Duration::from_secs(5),
    )
    .await;
    let routed = svc.lookup(lookup).await.unwrap();
    assert_eq!(routed.partitions.len(), 2);
    assert!(routed.partitions[0].range.contains(0));
    assert!(routed.partitions[1].range.contains(u64::MAX));

    for n in ["Zeta", "Alpha", "Beta"] {
        svc.create_table(create_req(n, 5, 5)).await.unwrap();
    }
    let page = svc
        .list_tables(ListTablesRequest {
            exclusive_start_table_name: None,
            limit: Some(2),
        })
        .await
        .unwrap();
    assert_eq!(page.table_names, ["Alpha", "Beta"]);
    let rest = svc
        .list_tables(ListTablesRequest {
            exclusive_start_table_name: page.last_evaluated_table_name,
            limit: Some(100),
        })
        .await
        .unwrap();
    assert_eq!(rest.table_names, ["Music", "Zeta"]);

    let d = svc.delete_table("Music").await.unwrap();
    assert_eq!(d.status, TableStatus::Deleting);
    drive_until(svc, &mut nodes, "Music", None, Duration::from_secs(5)).await;
    let hosted: usize = nodes.nodes.iter().map(|n| n.replicas.len()).sum();
    assert_eq!(
        hosted,
        3 * 3,
        "Music's replicas dropped, the three 1-partition tables remain"
    );
    let gone = svc.describe_table("Music").await.unwrap_err();
    assert_eq!(gone.kind, ControlErrorKind::ResourceNotFound);
    assert_eq!(
        gone.message,
        "Requested resource not found: Table: Music not found"
    );
}

#[tokio::test]
async fn mem_silent_nodes_get_no_replicas_and_handle_dispatches() {
    let store = MemStore::new();
    let keys = Keys::new("/cairn/live");
    let a = Instance::start(store, &keys, "a", election_config(), service_config());
    a.wait_leader(Duration::from_secs(2)).await;
    let svc = &a.service;
    let mut nodes = FakeNodes::new(4, 1);
    nodes.register(svc).await;
    nodes.heartbeat(svc).await;
    // az3's only node goes silent; after the liveness timeout it gets no new replicas.
    nodes.nodes[3].silent = true;
    let silent_id = nodes.nodes[3].id.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    nodes.heartbeat(svc).await;
    let t = svc.create_table(create_req("Live", 6000, 1)).await.unwrap();
    assert_eq!(t.partitions.len(), 3);
    svc.metadata().read(|v| {
        for p in v.partitions_of(t.id) {
            assert!(
                p.replicas.iter().all(|r| r.node != silent_id),
                "dead node chosen"
            );
        }
    });
    // With az3 silent, three live AZs remain; one more silent AZ and placement must refuse.
    nodes.nodes[2].silent = true;
    tokio::time::sleep(Duration::from_millis(600)).await;
    nodes.heartbeat(svc).await;
    let err = svc
        .create_table(create_req("Refused", 5, 5))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("2 availability zone(s)"),
        "{}",
        err.message
    );

    // `handle` is the RPC entry point: requests in, replies (or typed errors) out, JSON-clean.
    let req = ControlRequest::DescribeTable {
        table_name: "Live".into(),
    };
    let req: ControlRequest = serde_json::from_slice(&serde_json::to_vec(&req).unwrap()).unwrap();
    match svc.handle(req).await {
        ControlReply::Table(d) => assert_eq!(d.id, t.id),
        other => panic!("unexpected {other:?}"),
    }
    match svc
        .handle(ControlRequest::DeleteTable {
            table_name: "Nope".into(),
        })
        .await
    {
        ControlReply::Error(e) => {
            assert_eq!(e.kind, ControlErrorKind::ResourceNotFound);
            assert_eq!(
                e.kind.dynamodb_type(),
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn etcd_election_failover_and_fencing() {
    let etcd = Etcd::start().await;
    let keys = Keys::new("/cairn/election");
    let store = etcd.store().await;
    let cfg = election_config();
    let rec = |n: &str| LeaderRecord {
        name: n.into(),
        addr: format!("{n}:1"),
    };
    let a = Election::new(store.clone(), &keys, rec("a"), cfg.clone()).spawn();
    let mut rx = a.state();
    tokio::time::timeout(
        Duration::from_secs(3),
        rx.wait_for(|s| matches!(s, LeaderState::Leader(_))),
    )
    .await
    .expect("a leads")
    .unwrap();
    let fa = a.fence().unwrap();
    let b = Election::new(store.clone(), &keys, rec("b"), cfg.clone()).spawn();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        b.fence().is_none(),
        "b stays standby while a renews past one TTL"
    );
    let w = Txn {
        when: vec![],
        then: vec![TxnOp::put("/cairn/election/x", "a")],
    };
    assert!(fenced_txn(&store, &fa, w).await.unwrap().succeeded);

    let crashed = Instant::now();
    a.abort();
    let mut rx = b.state();
    tokio::time::timeout(
        Duration::from_secs(cfg.ttl_s as u64 + 2),
        rx.wait_for(|s| matches!(s, LeaderState::Leader(_))),
    )
    .await
    .expect("b takes over within TTL + margin")
    .unwrap();
    let gap = crashed.elapsed();
    eprintln!("failover after a crash: {gap:?} (TTL {} s)", cfg.ttl_s);
    let stale = Txn {
        when: vec![],
        then: vec![TxnOp::put("/cairn/election/x", "stale")],
    };
    assert_eq!(
        fenced_txn(&store, &fa, stale).await,
        Err(FencedError::Deposed)
    );
    assert_eq!(
        store.get("/cairn/election/x").await.unwrap().unwrap().value,
        b"a"
    );

    // A resignation hands over without waiting for the TTL.
    let c = Election::new(store.clone(), &keys, rec("c"), cfg.clone()).spawn();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    b.resign().await;
    let mut rx = c.state();
    tokio::time::timeout(
        Duration::from_secs(1),
        rx.wait_for(|s| matches!(s, LeaderState::Leader(_))),
    )
    .await
    .expect("c takes over at once after a resignation")
    .unwrap();
    eprintln!("handover after a resignation: {:?}", t.elapsed());
    c.resign().await;
}

#[tokio::test]
async fn etcd_tables_standby_routing_and_etcd_outage() {
    let mut etcd = Etcd::start().await;
    let keys = Keys::new("/cairn/tables");
    let a = Instance::start(
        etcd.store().await,
        &keys,
        "a",
        election_config(),
        service_config(),
    );
    a.wait_leader(Duration::from_secs(3)).await;
    let b = Instance::start(
        etcd.store().await,
        &keys,
        "b",
        election_config(),
        service_config(),
    );
    let svc = &a.service;
    let mut nodes = FakeNodes::new(3, 2);
    nodes.register(svc).await;
    nodes.heartbeat(svc).await;

    let t = svc
        .create_table(create_req("Orders", 6000, 1000))
        .await
        .unwrap();
    assert_eq!((t.status, t.partitions.len()), (TableStatus::Creating, 3));
    assert_eq!(
        svc.describe_table("Orders").await.unwrap().id,
        t.id,
        "read your write"
    );
    check_placement(svc, &nodes, "Orders", 3);
    drive_until(
        svc,
        &mut nodes,
        "Orders",
        Some(TableStatus::Active),
        Duration::from_secs(5),
    )
    .await;

    // The standby serves the routing of the new table from its own watch-fed memory.
    let hashes: Vec<u64> = vec![0, 1 << 62, 1 << 63, u64::MAX];
    let lookup = RoutingLookup {
        table_name: "Orders".into(),
        hashes,
    };
    let from_leader = svc.lookup(lookup.clone()).await.unwrap();
    let from_standby = eventually(Duration::from_secs(2), "standby routing", || {
        let b = &b.service;
        let l = lookup.clone();
        async move { b.lookup(l).await.ok() }
    })
    .await;
    assert_eq!(from_standby, from_leader);
    assert_eq!(from_standby.partitions.len(), 3);
    let not_leader = b
        .service
        .create_table(create_req("X1x", 5, 5))
        .await
        .unwrap_err();
    assert_eq!(not_leader.kind, ControlErrorKind::NotLeader);
    assert_eq!(not_leader.leader_hint.as_deref(), Some("a@a:7400"));

    // etcd frozen: calls hit their deadline (1 s here) instead of hanging.
    nodes.heartbeat(svc).await;
    etcd.pause();
    let t0 = Instant::now();
    let err = svc
        .create_table(create_req("Frozen", 5, 5))
        .await
        .unwrap_err();
    let took = t0.elapsed();
    etcd.resume();
    eprintln!("CreateTable with etcd frozen failed after {took:?}: {err}");
    assert_eq!(err.kind, ControlErrorKind::Unavailable, "{err:?}");
    assert!(err.message.contains("etcd unavailable"), "{}", err.message);
    assert!(took < Duration::from_millis(2_500), "took {took:?}");
    assert_eq!(b.service.lookup(lookup.clone()).await.unwrap(), from_leader);

    // etcd down: CreateTable fails fast with a clear error; reads are served from memory.
    a.wait_leader(Duration::from_secs(3)).await;
    nodes.heartbeat(svc).await;
    etcd.stop();
    let t0 = Instant::now();
    let err = svc
        .create_table(create_req("During", 5, 5))
        .await
        .unwrap_err();
    let took = t0.elapsed();
    eprintln!("CreateTable with etcd down failed after {took:?}: {err}");
    assert!(
        matches!(
            err.kind,
            ControlErrorKind::Unavailable | ControlErrorKind::NotLeader
        ),
        "{err:?}"
    );
    if err.kind == ControlErrorKind::Unavailable {
        assert!(err.message.contains("etcd unavailable"), "{}", err.message);
    }
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        svc.describe_table("Orders").await.unwrap().status,
        TableStatus::Active
    );
    assert_eq!(b.service.lookup(lookup.clone()).await.unwrap(), from_leader);

    // etcd back: table creation works again (after the leader re-establishes itself).
    etcd.restart().await;
    let t1 = Instant::now();
    // Leadership may have moved to b meanwhile (a stepped down while etcd was away): retry at
    // whichever instance leads, as a node would. Nodes heartbeat as they would (their liveness
    // lapsed during the outage).
    let mut last_err = None;
    let (created, leader) = loop {
        if let Some(inst) = [&a, &b].into_iter().find(|i| i.is_leader()) {
            let svc = &inst.service;
            nodes.heartbeat(svc).await;
            match svc.create_table(create_req("After", 5, 5)).await {
                Ok(t) => break (t, inst),
                Err(e) if e.kind == ControlErrorKind::ResourceInUse => {
                    break (svc.describe_table("After").await.unwrap(), inst);
                }
                Err(e) => last_err = Some(e),
            }
        }
        assert!(
            t1.elapsed() < Duration::from_secs(8),
            "CreateTable still failing 8 s after etcd restarted: {last_err:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "CreateTable worked again {:?} after etcd restarted",
        t1.elapsed()
    );
    let svc = &leader.service;
    let standby = if std::ptr::eq(leader, &a) { &b } else { &a };
    assert_eq!(created.name, "After");
    drive_until(
        svc,
        &mut nodes,
        "After",
        Some(TableStatus::Active),
        Duration::from_secs(5),
    )
    .await;

    // DeleteTable: DELETING, nodes drop the replicas, then the table is gone everywhere.
    svc.delete_table("Orders").await.unwrap();
    drive_until(svc, &mut nodes, "Orders", None, Duration::from_secs(5)).await;
    eventually(Duration::from_secs(2), "standby forgets the table", || {
        let b = &standby.service;
        async move { b.describe_table("Orders").await.is_err().then_some(()) }
    })
    .await;
    let names = standby
        .service
        .list_tables(ListTablesRequest {
            exclusive_start_table_name: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(names.table_names, ["After"]);
}

/// Kills a child process on drop.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A cluster CA with certificates for `hosts`, in a fresh directory.
fn cluster_certs(hosts: &[&str]) -> std::path::PathBuf {
    use storage_node::transport::certs;
    let dir = std::env::temp_dir().join(format!(
        "cairn-certs-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    certs::init_ca(&dir, false).unwrap();
    for h in hosts {
        certs::issue(&dir, h, &[], false).unwrap();
    }
    dir
}

static NEXT_DIR: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A loopback UDP port nobody uses right now.
fn free_udp_port() -> std::net::SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn cairn_control(etcd: &Etcd, name: &str) -> Proc {
    let certs = cluster_certs(&[name]);
    cairn_control_at(etcd, name, &certs, free_udp_port())
}

fn cairn_control_at(
    etcd: &Etcd,
    name: &str,
    certs: &std::path::Path,
    listen: std::net::SocketAddr,
) -> Proc {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-control"))
        .args([
            "--etcd",
            &etcd.endpoint(),
            "--name",
            name,
            "--cluster",
            "/cairn/bin",
        ])
        .arg("--certs")
        .arg(certs)
        .args(["--listen", &listen.to_string(), "--election-ttl-s", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start cairn-control");
    Proc(child)
}

#[tokio::test]
async fn binary_standby_takes_over_when_the_leader_is_killed() {
    let etcd = Etcd::start().await;
    let store = etcd.store().await;
    let keys = Keys::new("/cairn/bin");
    let leader_name = || {
        let store = store.clone();
        let key = keys.leader();
        async move {
            let kv = store.get(&key).await.ok()??;
            let rec: LeaderRecord = serde_json::from_slice(&kv.value).ok()?;
            Some(rec.name)
        }
    };
    let mut one = Some(cairn_control(&etcd, "one"));
    let first = eventually(Duration::from_secs(10), "a leader", &leader_name).await;
    assert_eq!(first, "one");
    let _two = cairn_control(&etcd, "two");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    drop(one.take()); // SIGKILL: no resignation, the lease must expire
    let next = eventually(Duration::from_secs(5), "the standby leads", || {
        let f = leader_name();
        async move { f.await.filter(|n| n == "two") }
    })
    .await;
    assert_eq!(next, "two");
    eprintln!(
        "cairn-control failover after SIGKILL: {:?}",
        killed.elapsed()
    );
}

/// Control RPCs reach `cairn-control` over QUIC with mutual TLS: a node with a certificate
/// from the cluster CA lists tables; a standby answers `NotLeader` naming the leader and the
/// client follows it; a node with a certificate from another CA gets nothing.
#[tokio::test]
async fn binary_serves_control_rpcs_over_mutual_tls() {
    use storage_node::control_client::{ControlCallError, ControlClient};
    use storage_node::transport::{NoCalls, Transport, TransportConfig, certs};
    use wire::control::{ControlReply, ControlRequest, ListTablesRequest};

    let etcd = Etcd::start().await;
    let dir = cluster_certs(&["one", "two", "node-a"]);
    let (a1, a2) = (free_udp_port(), free_udp_port());
    let _one = cairn_control_at(&etcd, "one", &dir, a1);
    let store = etcd.store().await;
    let keys = Keys::new("/cairn/bin");
    eventually(Duration::from_secs(10), "one leads", || {
        let (store, key) = (store.clone(), keys.leader());
        async move {
            let kv = store.get(&key).await.ok()??;
            let rec: LeaderRecord = serde_json::from_slice(&kv.value).ok()?;
            (rec.name == "one").then_some(())
        }
    })
    .await;
    let _two = cairn_control_at(&etcd, "two", &dir, a2);

    let node = certs::load_identity(&dir, "node-a").unwrap();
    let (t, _rx) = Transport::bind(&node, TransportConfig::default(), Arc::new(NoCalls)).unwrap();
    let client = ControlClient::new(t, &[("one".into(), a1), ("two".into(), a2)]).unwrap();
    let list = ControlRequest::ListTables(ListTablesRequest {
        exclusive_start_table_name: None,
        limit: None,
    });
    let reply = eventually(Duration::from_secs(10), "a table list", || {
        let f = client.call_peer("two", &list);
        async move { f.await.ok() }
    })
    .await;
    assert!(matches!(reply, ControlReply::Tables(_)), "{reply:?}");
    // Table changes need the leader: the standby redirects, the client follows.
    let create = ControlRequest::CreateTable(wire::control::CreateTableRequest {
        table_name: "Rpc".into(),
        key_schema: vec![wire::control::KeySchemaElement {
            attribute_name: "pk".into(),
            key_type: wire::control::KeyRole::Hash,
        }],
        attribute_definitions: vec![wire::control::AttributeDefinition {
            attribute_name: "pk".into(),
            attribute_type: wire::control::AttributeType::S,
        }],
        billing_mode: Some(wire::control::BillingMode::PayPerRequest),
        provisioned_throughput: None,
    });
    match client.call_peer("two", &create).await.unwrap() {
        ControlReply::Error(e) => assert_eq!(e.leader_hint, Some(format!("one@{a1}"))),
        other => panic!("the standby should redirect: {other:?}"),
    }
    let created = client.call(&create).await.unwrap();
    assert!(
        matches!(&created, ControlReply::Table(_) | ControlReply::Error(_)),
        "{created:?}"
    );
    if let ControlReply::Error(e) = &created {
        // No node has registered, so placement may refuse; it must be the leader saying so.
        assert_ne!(e.kind, wire::control::ControlErrorKind::NotLeader, "{e:?}");
    }

    // A certificate from another CA: the call never reaches the service.
    let other = cluster_certs(&["node-a"]);
    let stranger = certs::load_identity(&other, "node-a").unwrap();
    let (t, _rx) =
        Transport::bind(&stranger, TransportConfig::default(), Arc::new(NoCalls)).unwrap();
    let mut bad = ControlClient::new(t, &[("one".into(), a1)]).unwrap();
    bad.timeout = Duration::from_secs(2);
    assert!(
        matches!(
            bad.call_peer("one", &list).await,
            Err(ControlCallError::Call { .. })
        ),
        "a stranger's call must fail"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}
