//! Router tests, in process: four nodes with real QUIC transports on loopback (test
//! certificates), fake replicas and a fake control plane (`test_support.rs`). They show the
//! leader path from every router, redirects after a leader change, refetching after a stale
//! range (`WrongGroup`), eventual reads in the router's AZ, skipping a dead node within the
//! deadline, `ResourceNotFound` for unknown tables, constant-work refresh and single-flight
//! cold lookups, and the `NodeBackend` through an outage of the control plane.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wire::control::{
    ControlErrorKind, CreateTableRequest, HashRange, ListTablesRequest, TableStatus,
};
use wire::forward::{DigestReply, ItemOp, ItemReply, ItemRequest};
use wire::frame::{self, CheckedFrame, FRAME_BODY_BYTES_MAX_DEFAULT, Framed};
use wire::item::{AttributeValue, Item, KeySchema};

use super::test_support::*;
use super::*;
use crate::api::backend::{ApiBackend, GetItemCall, PutItemCall, TableRef};
use crate::rng::{Rng, test_seeds};
use crate::transport::CallHandler;

/// The test's generator; the seed is printed so a failure can be replayed with CAIRN_SEED.
fn rng(test: &str) -> Rng {
    let seed = test_seeds(1)[0];
    eprintln!("{test}: seed {seed} (replay with CAIRN_SEED={seed})");
    Rng::new(seed)
}

fn put(key: &[u8], hash: u64, value: &[u8]) -> ItemCall {
    ItemCall {
        key: key.to_vec(),
        hash,
        op: ItemOp::Put {
            item: value.to_vec(),
            return_old: true,
        },
    }
}

fn get(key: &[u8], hash: u64, consistent: bool) -> ItemCall {
    ItemCall {
        key: key.to_vec(),
        hash,
        op: ItemOp::Get { consistent },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_through_every_router_reaches_the_leader() {
    let mut r = rng("put_get_through_every_router_reaches_the_leader");
    let c = TestCluster::start("every", test_router_config()).await;
    let mut keys = Vec::new();
    for i in 0..40 {
        let (k, h, v) = (r.bytes(16), r.next_u64(), r.bytes(32));
        let router = &c.nodes[i % c.nodes.len()].router;
        assert_eq!(router.item(TABLE, put(&k, h, &v)).await.unwrap(), None);
        keys.push((k, h, v));
    }
    for (k, h, v) in &keys {
        for n in &c.nodes {
            let got = n.router.item(TABLE, get(k, *h, true)).await.unwrap();
            assert_eq!(got.as_ref(), Some(v), "via {}", n.info.name);
        }
    }
    // A put returns the image it replaced.
    let (k, h, v) = &keys[0];
    let old = c.nodes[1]
        .router
        .item(TABLE, put(k, *h, b"new"))
        .await
        .unwrap();
    assert_eq!(old.as_ref(), Some(v));
    {
        let cl = c.cluster.lock().unwrap();
        assert_eq!(cl.led.len(), 40 + 40 * 4 + 1);
        for (node, g) in &cl.led {
            assert_eq!(*node, cl.groups[g].leader, "{g:?} served by a non-leader");
        }
        for (k, h, _) in &keys {
            let want = if *h < HALF { G1 } else { G2 };
            assert_eq!(cl.data[k].0, want);
        }
    }
    let stats: Vec<_> = c
        .nodes
        .iter()
        .map(|n| n.router.stats().snapshot())
        .collect();
    assert!(
        stats.iter().all(|s| s.redirects == 0 && s.errors == 0),
        "{stats:?}"
    );
    assert!(stats.iter().map(|s| s.local).sum::<u64>() > 0, "{stats:?}");
    assert!(stats.iter().map(|s| s.remote).sum::<u64>() > 0, "{stats:?}");
    assert_eq!(stats[3].local, 0, "n4 hosts nothing");
    // One cold lookup per router brings both partitions.
    assert!(stats.iter().all(|s| s.lookups == 1), "{stats:?}");
    // Digests through the router: local and remote agree.
    let a = c.nodes[0].router.digest(node_id(0), G1).await.unwrap();
    let b = c.nodes[0].router.digest(node_id(2), G1).await.unwrap();
    assert_eq!(a, b);
    assert!(matches!(a, DigestReply::Digest { items, .. } if items > 0));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_change_costs_one_redirect() {
    let mut r = rng("a_leader_change_costs_one_redirect");
    let c = TestCluster::start("redirect", test_router_config()).await;
    let (k, h) = (r.bytes(16), HALF + r.below(HALF));
    let router = &c.nodes[1].router;
    router.item(TABLE, put(&k, h, b"1")).await.unwrap();
    assert_eq!(router.stats().snapshot().redirects, 0);
    c.set_leader(G2, 2);
    let old = router.item(TABLE, put(&k, h, b"2")).await.unwrap();
    assert_eq!(old.as_deref(), Some(&b"1"[..]));
    assert_eq!(router.stats().snapshot().redirects, 1);
    assert_eq!(
        c.cluster.lock().unwrap().led.last(),
        Some(&(node_id(2), G2))
    );
    // The new leader is remembered: no further redirect.
    let got = router.item(TABLE, get(&k, h, true)).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"2"[..]));
    assert_eq!(router.stats().snapshot().redirects, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_range_answers_wrong_group_and_the_router_refetches() {
    let mut r = rng("a_stale_range_answers_wrong_group_and_the_router_refetches");
    let c = TestCluster::start("wrong-group", test_router_config()).await;
    let k = r.bytes(16);
    let h = HALF - 1 - r.below(1000);
    let router = &c.nodes[3].router;
    router.item(TABLE, put(&k, h, b"1")).await.unwrap();
    assert_eq!(router.cached_partition(TABLE, h).unwrap().id, G1);
    // The boundary moves below h: g2 now owns it (both epochs bumped).
    let cut = HALF - 5000;
    let lo = HashRange {
        start: 0,
        end: Some(cut),
    };
    let hi = HashRange {
        start: cut,
        end: None,
    };
    {
        let mut cl = c.cluster.lock().unwrap();
        cl.groups.get_mut(&G1).unwrap().range = lo;
        cl.groups.get_mut(&G2).unwrap().range = hi;
        let mut s = c.control.lock();
        s.tables.get_mut(TABLE).unwrap().1 = vec![
            partition(G1, lo, 2, &[2, 0, 1]),
            partition(G2, hi, 2, &[0, 1, 2]),
        ];
    }
    let before = router.stats().snapshot();
    router.item(TABLE, put(&k, h, b"2")).await.unwrap();
    let after = router.stats().snapshot();
    assert_eq!(after.wrong_group - before.wrong_group, 1);
    // The router fetched the new ranges: with an awaited lookup, or (when the
    // constant-work refresher ran in between, as it may on a loaded machine) a refresh.
    assert!(
        after.lookups + after.refreshes > before.lookups + before.refreshes,
        "an awaited lookup or a refresh: {after:?}"
    );
    let p = router.cached_partition(TABLE, h).unwrap();
    assert_eq!((p.id, p.epoch), (G2, 2));
    assert_eq!(c.cluster.lock().unwrap().data[&k], (G2, b"2".to_vec()));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventual_reads_are_served_in_the_routers_az() {
    let mut r = rng("eventual_reads_are_served_in_the_routers_az");
    // The assertions are about which replica answers, not about time: generous timeouts
    // keep a first QUIC handshake on a loaded machine from sending the read to the leader.
    let cfg = RouterConfig {
        forward_timeout_ms: 10_000,
        request_deadline_ms: 20_000,
        ..test_router_config()
    };
    let c = TestCluster::start("eventual", cfg).await;
    let (k, h) = (r.bytes(16), r.below(HALF));
    c.nodes[0]
        .router
        .item(TABLE, put(&k, h, b"v"))
        .await
        .unwrap();
    // n1, n2, n3 each host a replica: each serves its own eventual reads, locally.
    for i in 0..3 {
        let router = &c.nodes[i].router;
        let before = router.stats().snapshot();
        let got = router.item(TABLE, get(&k, h, false)).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"v"[..]));
        let after = router.stats().snapshot();
        assert_eq!(after.eventual_in_az - before.eventual_in_az, 1);
        assert_eq!(after.local - before.local, 1);
        assert_eq!(c.cluster.lock().unwrap().eventual.last(), Some(&node_id(i)));
    }
    // n4 (az1) hosts nothing: n1, its AZ's replica, serves it.
    let n4 = &c.nodes[3].router;
    n4.item(TABLE, get(&k, h, false)).await.unwrap();
    assert_eq!(n4.stats().snapshot().eventual_in_az, 1);
    assert_eq!(c.cluster.lock().unwrap().eventual.last(), Some(&node_id(0)));
    // A busy in-AZ replica: the leader path answers instead.
    c.cluster.lock().unwrap().busy_eventual.insert(node_id(0));
    let got = n4.item(TABLE, get(&k, h, false)).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
    assert_eq!(n4.stats().snapshot().eventual_in_az, 1);
    assert_eq!(c.cluster.lock().unwrap().eventual.last(), Some(&node_id(2)));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_skipped_within_the_deadline() {
    let mut r = rng("a_dead_node_is_skipped_within_the_deadline");
    let c = TestCluster::start("dead", test_router_config()).await;
    let (k, h) = (r.bytes(16), r.below(HALF));
    let n1 = &c.nodes[0].router;
    n1.item(TABLE, put(&k, h, b"1")).await.unwrap();
    // n3 (g1's leader) dies; n2 takes over, as the group would elect.
    c.nodes[2].transport.shutdown().await;
    c.set_leader(G1, 1);
    let deadline = Duration::from_millis(RouterConfig::default().request_deadline_ms);
    for (i, router) in [(0, n1), (3, &c.nodes[3].router)] {
        let t = Instant::now();
        router.item(TABLE, put(&k, h, b"2")).await.unwrap();
        let first = t.elapsed();
        assert!(first < deadline, "node {i}: {first:?}");
        let t = Instant::now();
        router.item(TABLE, put(&k, h, b"3")).await.unwrap();
        let second = t.elapsed();
        assert!(second < Duration::from_millis(400), "node {i}: {second:?}");
        eprintln!("node {i}: first write after the death {first:?}, next {second:?}");
        assert!(router.stats().snapshot().errors >= 1);
    }
    // Not `shutdown`: closing connections waits for the dead node's acknowledgements.
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_is_resource_not_found_and_remembered() {
    let cfg = RouterConfig {
        negative_cache_ms: 300,
        ..test_router_config()
    };
    let c = TestCluster::start("unknown", cfg).await;
    let router = &c.nodes[0].router;
    for _ in 0..3 {
        let e = router.item("nope", get(b"k", 1, true)).await.unwrap_err();
        assert_eq!(e, RouteError::NotFound("nope".into()));
        assert_eq!(ApiError::from(e).name(), "ResourceNotFoundException");
    }
    assert_eq!(c.control.lookups("nope"), 1, "the answer is remembered");
    let backend = NodeBackend::new(router.clone());
    let e = backend.describe_table("nope".into()).await.unwrap_err();
    assert_eq!(e.kind, ControlErrorKind::ResourceNotFound);
    assert_eq!(c.control.lock().describes, 0, "still remembered");
    tokio::time::sleep(Duration::from_millis(350)).await;
    router.item("nope", get(b"k", 1, true)).await.unwrap_err();
    assert_eq!(
        c.control.lookups("nope"),
        2,
        "forgotten after negative_cache_ms"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_is_constant_work_and_cold_misses_share_lookups() {
    let mut r = rng("refresh_is_constant_work_and_cold_misses_share_lookups");
    let c = TestCluster::start("refresh", test_router_config()).await;
    // Cold start on n4: 32 concurrent requests over both partitions.
    let n4 = c.nodes[3].router.clone();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (k, h) = (r.bytes(16), r.next_u64());
        let n4 = n4.clone();
        tasks.push(tokio::spawn(async move {
            n4.item(TABLE, put(&k, h, b"x")).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        n4.stats().snapshot().lookups,
        1,
        "one cold lookup for 32 requests"
    );

    // Steady load on n1: the refresher's lookups follow the clock, not the request count.
    let n1 = c.nodes[0].router.clone();
    n1.item(TABLE, get(b"warm", 1, true)).await.unwrap();
    n1.item(TABLE, get(b"warm", HALF + 1, true)).await.unwrap();
    let before = c.control.lookups(TABLE);
    let refreshes_before = n1.stats().snapshot().refreshes;
    let start = Instant::now();
    let run = Duration::from_millis(1_000);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let n1 = n1.clone();
        let mut r = r.fork();
        tasks.push(tokio::spawn(async move {
            let mut ops = 0u64;
            while start.elapsed() < run {
                let (k, h) = (r.bytes(8), r.next_u64());
                n1.item(TABLE, get(&k, h, true)).await.unwrap();
                ops += 1;
            }
            ops
        }));
    }
    let mut ops = 0;
    for t in tasks {
        ops += t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let refreshes = n1.stats().snapshot().refreshes - refreshes_before;
    let lookups = c.control.lookups(TABLE) - before;
    let intervals = elapsed.as_millis() as u64 / test_router_config().routing_refresh_ms;
    eprintln!(
        "{ops} requests in {elapsed:?}: {refreshes} refreshes from n1, {lookups} lookups in all"
    );
    assert!(ops >= 100, "too few requests to show anything: {ops}");
    assert!(
        refreshes <= intervals + 1,
        "{refreshes} refreshes in {intervals} intervals"
    );
    // A lower bound only that it kept running: on a loaded 2-core machine the refresher's
    // timer can be late for several intervals.
    assert!(
        refreshes >= 2,
        "the refresher stalled: {refreshes}/{intervals}"
    );
    // Every router refreshes at most once per interval (n1 under load, the others idle).
    assert!(
        lookups <= (intervals + 1) * c.nodes.len() as u64,
        "{lookups}"
    );
    assert_eq!(
        n1.stats().snapshot().lookups,
        1,
        "no cold lookup under steady load"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_replicas_exhaust_the_deadline_and_ambiguous_writes_are_internal_errors() {
    let mut r = rng("busy_replicas_exhaust_the_deadline_and_ambiguous_writes_are_internal_errors");
    let cfg = RouterConfig {
        request_deadline_ms: 400,
        ..test_router_config()
    };
    let c = TestCluster::start("busy", cfg).await;
    let (k, h) = (r.bytes(16), r.below(HALF));
    let n4 = &c.nodes[3].router;
    n4.item(TABLE, put(&k, h, b"1")).await.unwrap();
    for i in 0..3 {
        c.cluster
            .lock()
            .unwrap()
            .overrides
            .insert(node_id(i), ItemReply::Busy);
    }
    let t = Instant::now();
    let e = n4.item(TABLE, put(&k, h, b"2")).await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, RouteError::Unavailable(_)), "{e:?}");
    assert_eq!(ApiError::from(e).name(), "ServiceUnavailable");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(900),
        "{took:?}"
    );
    let s = n4.stats().snapshot();
    assert!(
        s.errors >= 3 && s.errors <= 16,
        "backoff bounds the attempts: {s:?}"
    );
    // Only the leader loses track of the write: no retry elsewhere.
    {
        let mut cl = c.cluster.lock().unwrap();
        cl.overrides.clear();
        cl.overrides.insert(node_id(2), ItemReply::Ambiguous);
    }
    let e = n4.item(TABLE, put(&k, h, b"3")).await.unwrap_err();
    assert!(matches!(e, RouteError::Ambiguous(_)), "{e:?}");
    assert_eq!(ApiError::from(e).name(), "InternalServerError");
    assert_eq!(c.cluster.lock().unwrap().data[&k].1, b"1".to_vec());
    c.shutdown().await;
}

fn item_of(pk: &str, v: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(pk.into()));
    item.insert("v".into(), AttributeValue::S(v.into()));
    item
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_serves_items_through_a_control_plane_outage() {
    let c = TestCluster::start("backend", test_router_config()).await;
    let backend = NodeBackend::new(c.nodes[1].router.clone());
    let desc = backend.describe_table(TABLE.into()).await.unwrap();
    let schema = KeySchema::from_table(&desc).unwrap();
    let table = TableRef {
        name: desc.name.clone(),
        id: desc.id,
    };
    let put_call = |pk: &str, v: &str| {
        let item = item_of(pk, v);
        PutItemCall {
            table: table.clone(),
            key: schema.key_of_item(&item).unwrap(),
            item,
            return_old: true,
        }
    };
    let get_call = |pk: &str, consistent: bool| GetItemCall {
        table: table.clone(),
        key: schema.key_of_item(&item_of(pk, "")).unwrap(),
        consistent,
    };
    assert_eq!(backend.put_item(put_call("a", "1")).await.unwrap(), None);
    let old = backend.put_item(put_call("a", "2")).await.unwrap();
    assert_eq!(old, Some(item_of("a", "1")));
    assert_eq!(
        backend.get_item(get_call("a", true)).await.unwrap(),
        Some(item_of("a", "2"))
    );
    assert_eq!(
        backend.get_item(get_call("a", false)).await.unwrap(),
        Some(item_of("a", "2"))
    );
    // A CREATING table is not cached: describing it asks each time.
    let created = backend
        .create_table(CreateTableRequest {
            table_name: "new".into(),
            key_schema: desc.key_schema.clone(),
            attribute_definitions: desc.attribute_definitions.clone(),
            billing_mode: None,
            provisioned_throughput: None,
        })
        .await
        .unwrap();
    assert_eq!(created.status, TableStatus::Creating);
    let describes = c.control.lock().describes;
    for _ in 0..2 {
        let d = backend.describe_table("new".into()).await.unwrap();
        assert_eq!(d.status, TableStatus::Creating);
    }
    assert_eq!(c.control.lock().describes, describes + 2);
    let tables = backend
        .list_tables(ListTablesRequest {
            exclusive_start_table_name: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(tables.table_names, vec!["new".to_owned(), TABLE.to_owned()]);

    // The control plane goes away: items on the existing table keep working.
    c.control_transport.shutdown().await;
    assert_eq!(
        backend.describe_table(TABLE.into()).await.unwrap().id,
        desc.id
    );
    backend.put_item(put_call("b", "1")).await.unwrap();
    assert_eq!(
        backend.get_item(get_call("b", true)).await.unwrap(),
        Some(item_of("b", "1"))
    );
    let e = backend
        .create_table(CreateTableRequest {
            table_name: "other".into(),
            key_schema: desc.key_schema.clone(),
            attribute_definitions: desc.attribute_definitions.clone(),
            billing_mode: None,
            provisioned_throughput: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ControlErrorKind::Unavailable);
    assert!(e.message.starts_with("control plane unavailable"), "{e}");
    assert_eq!(ApiError::from_control(e).name(), "ServiceUnavailable");
    let e = backend.describe_table("missing".into()).await.unwrap_err();
    assert_eq!(e.kind, ControlErrorKind::Unavailable);
    // Not `shutdown`: the nodes keep dialing the dead control plane, which never answers.
    drop(c);
}

#[tokio::test]
async fn the_forward_handler_answers_only_its_frames() {
    let cluster = Arc::new(std::sync::Mutex::new(FakeCluster::default()));
    cluster.lock().unwrap().groups.insert(
        G1,
        FakeGroup {
            range: HashRange::FULL,
            replicas: vec![node_id(0)],
            leader: node_id(0),
        },
    );
    let local = Arc::new(FakeNode {
        id: node_id(0),
        cluster,
    });
    let stats = Arc::new(RouterStats::default());
    let h = ForwardHandler::new(local, stats.clone(), FRAME_BODY_BYTES_MAX_DEFAULT);
    let req = ItemRequest {
        group: G1,
        epoch: 1,
        key: b"k".to_vec(),
        hash: 5,
        op: ItemOp::Put {
            item: b"v".to_vec(),
            return_old: false,
        },
        deadline_ms: 100,
    };
    let f = frame::encode(&req, FRAME_BODY_BYTES_MAX_DEFAULT).unwrap();
    assert!(forward::handles(frame::peek_type(&f).unwrap().0));
    let checked = CheckedFrame::check(f.clone(), FRAME_BODY_BYTES_MAX_DEFAULT).unwrap();
    let reply = h.handle("p".into(), checked).await.unwrap();
    let reply = frame::decode::<ItemReply>(&reply, FRAME_BODY_BYTES_MAX_DEFAULT).unwrap();
    assert_eq!(reply, ItemReply::Ok(None));
    assert_eq!(stats.snapshot().served, 1);
    // A corrupted frame never reaches a handler (the transport's check refuses it); a body
    // that is no ItemRequest, and an unknown type: no reply, nothing served.
    let mut bad = f;
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    assert_eq!(
        CheckedFrame::check(bad, FRAME_BODY_BYTES_MAX_DEFAULT),
        Err(frame::FrameError::Checksum)
    );
    let check = |f: Vec<u8>| CheckedFrame::check(f, FRAME_BODY_BYTES_MAX_DEFAULT).unwrap();
    let garbage = frame::encode_raw(ItemRequest::TYPE, ItemRequest::VERSION, &[7; 40]).unwrap();
    assert_eq!(h.handle("p".into(), check(garbage)).await, None);
    let other = frame::encode_raw(0x00FE, 1, b"hello").unwrap();
    assert!(!forward::handles(0x00FE));
    assert_eq!(h.handle("p".into(), check(other)).await, None);
    assert_eq!(stats.snapshot().served, 1);
}
