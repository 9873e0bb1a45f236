//! Three drivers in one process over real QUIC (mutual TLS, loopback) and real engines on
//! disk: groups elect, writes commit through the leader with group commit across groups,
//! every member ends with the same digest, a lost node's groups fail over, and a restarted
//! node recovers from its WAL and tree and catches up. Seeded (`CAIRN_SEED`).

use std::time::{Duration, Instant};

use wire::TableId;
use wire::control::{HashRange, NodeCommand, NodeId, NodeInfo, PartitionDesc, ReplicaDesc};
use wire::forward::{DigestReply, ItemOp, ItemReply, ItemRequest};
use wire::replication::{GroupId, MemberId, Role};

use super::*;
use crate::engine::{Engine, EngineConfig};
use crate::io::std_disk::StdDisk;
use crate::rng::Rng;
use crate::transport::test_support::{TestDir, cluster, identity, test_config};
use crate::transport::{NoCalls, Transport};

const NAMES: [&str; 3] = ["a", "b", "c"];

struct Node {
    driver: Driver,
    transport: Transport,
}

fn fast() -> DriverConfig {
    DriverConfig {
        tick_ms: 20,
        ..DriverConfig::default()
    }
}

async fn start_node(dir: &TestDir, i: usize, seed: u64) -> Node {
    start_node_with(dir, i, seed, fast()).await
}

async fn start_node_with(dir: &TestDir, i: usize, seed: u64, cfg: DriverConfig) -> Node {
    let id = identity(dir, NAMES[i]);
    let data = dir.path().join(format!("data-{i}"));
    let (transport, inbound) =
        Transport::bind(&id, test_config(), std::sync::Arc::new(NoCalls)).expect("bind");
    let mut engine_cfg = EngineConfig::new(&data);
    // Small segments: each open zero-fills and syncs two, which a loaded disk feels.
    engine_cfg.wal.segment_size_bytes = 4 << 20;
    let (engine, _) = Engine::open(StdDisk, engine_cfg).await.expect("engine");
    let driver = Driver::start(cfg, data, engine, transport.clone(), inbound, seed)
        .await
        .expect("driver");
    driver.set_me(NodeId(i as u64 + 1)).await;
    Node { driver, transport }
}

async fn introduce(nodes: &[Option<Node>]) {
    let infos: Vec<NodeInfo> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            n.as_ref().map(|n| NodeInfo {
                id: NodeId(i as u64 + 1),
                name: NAMES[i].into(),
                az: format!("az{}", i + 1),
                quic_addr: n.transport.local_addr().to_string(),
                api_addr: String::new(),
            })
        })
        .collect();
    for n in nodes.iter().flatten() {
        n.driver.learn_nodes(infos.clone()).await;
    }
}

fn partition(g: u64, groups: u64) -> PartitionDesc {
    let width = u64::MAX / groups;
    PartitionDesc {
        id: GroupId(g),
        table: TableId(9),
        range: HashRange {
            start: (g - 1) * width,
            end: (g < groups).then_some(g * width),
        },
        epoch: 1,
        replicas: (1..=3)
            .map(|n| ReplicaDesc {
                node: NodeId(n),
                member: MemberId(g * 10 + n),
                role: Role::Full,
            })
            .collect(),
    }
}

fn key_for(hash: u64, n: u64) -> Vec<u8> {
    let mut k = wire::key::table_prefix(TableId(9));
    k.extend_from_slice(&hash.to_be_bytes());
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn group_of(hash: u64, groups: u64) -> GroupId {
    GroupId((hash / (u64::MAX / groups)).min(groups - 1) + 1)
}

/// Sends `op` to the group's leader, following redirects, until `deadline`.
async fn run(
    nodes: &[Option<Node>],
    group: GroupId,
    key: &[u8],
    op: ItemOp,
    deadline: Instant,
) -> ItemReply {
    let hash = crate::partition::key_hash(key).unwrap();
    let mut target = 0usize;
    loop {
        let Some(n) = nodes[target % 3].as_ref() else {
            target += 1;
            continue;
        };
        let r = n
            .driver
            .item(ItemRequest {
                group,
                epoch: 1,
                key: key.to_vec(),
                hash,
                op: op.clone(),
                deadline_ms: 1000,
            })
            .await;
        match r {
            ItemReply::NotLeader {
                leader: Some(NodeId(l)),
            } if nodes[l as usize - 1].is_some() && (l as usize - 1) != target % 3 => {
                target = l as usize - 1;
            }
            ItemReply::Ok(_) => return r,
            other if Instant::now() > deadline => return other,
            _ => {
                target += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn digests(nodes: &[Option<Node>], g: GroupId) -> Vec<(u64, u64, [u8; 32])> {
    let mut out = Vec::new();
    for n in nodes.iter().flatten() {
        if let DigestReply::Digest {
            applied,
            items,
            digest,
        } = n.driver.digest(g).await
        {
            out.push((applied, items, digest));
        }
    }
    out
}

async fn converge(nodes: &[Option<Node>], groups: u64, within: Duration) {
    let deadline = Instant::now() + within;
    'outer: loop {
        for g in 1..=groups {
            let d = digests(nodes, GroupId(g)).await;
            let live = nodes.iter().flatten().count();
            if d.len() != live || d.windows(2).any(|w| w[0] != w[1]) {
                assert!(
                    Instant::now() < deadline,
                    "group {g} did not converge: {d:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue 'outer;
            }
        }
        return;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_drivers_replicate_fail_over_and_recover() {
    let seed = std::env::var("CAIRN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7u64);
    println!("seed {seed} (CAIRN_SEED={seed} to replay)");
    let mut rng = Rng::new(seed);
    let dir = cluster("driver", &NAMES);
    let groups = 8u64;
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..3 {
        nodes.push(Some(start_node(&dir, i, rng.next_u64()).await));
    }
    introduce(&nodes).await;
    let cmds = |node: u64| -> Vec<NodeCommand> {
        (1..=groups)
            .map(|g| NodeCommand::CreateReplica {
                partition: partition(g, groups),
                member: MemberId(g * 10 + node),
                bootstrap: true,
            })
            .collect()
    };
    for (i, n) in nodes.iter().enumerate() {
        n.as_ref()
            .unwrap()
            .driver
            .commands(cmds(i as u64 + 1))
            .await;
    }
    // Writes through the leaders, from 32 concurrent writers.
    let nodes = std::sync::Arc::new(tokio::sync::RwLock::new(nodes));
    let writes = 1500u64;
    let hashes: Vec<u64> = (0..writes).map(|_| rng.next_u64()).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32u64 {
        let nodes = nodes.clone();
        let hashes = hashes.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..writes).step_by(32) {
                let key = key_for(hashes[i as usize], i);
                let g = group_of(hashes[i as usize], groups);
                let r = run(
                    &nodes.read().await,
                    g,
                    &key,
                    ItemOp::Put {
                        item: i.to_le_bytes().to_vec(),
                        return_old: false,
                    },
                    Instant::now() + Duration::from_secs(30),
                )
                .await;
                assert_eq!(r, ItemReply::Ok(None), "write {i}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    {
        let n = nodes.read().await;
        let flushes: u64 = n
            .iter()
            .flatten()
            .map(|n| n.driver.stats.flushes.get())
            .sum();
        let records: u64 = n
            .iter()
            .flatten()
            .map(|n| n.driver.stats.flushed_records.get())
            .sum();
        println!(
            "{writes} writes in {took:?}: {records} WAL records in {flushes} flushes on 3 nodes"
        );
        assert!(
            flushes * 2 < records,
            "group commit: {flushes} flushes for {records} records"
        );
        converge(&n, groups, Duration::from_secs(10)).await;
        // Consistent reads and a return-old overwrite.
        for i in (0..writes).step_by(97) {
            let key = key_for(hashes[i as usize], i);
            let g = group_of(hashes[i as usize], groups);
            let deadline = Instant::now() + Duration::from_secs(5);
            let r = run(&n, g, &key, ItemOp::Get { consistent: true }, deadline).await;
            assert_eq!(r, ItemReply::Ok(Some(i.to_le_bytes().to_vec())));
            let r = run(
                &n,
                g,
                &key,
                ItemOp::Put {
                    item: vec![1],
                    return_old: true,
                },
                deadline,
            )
            .await;
            assert_eq!(r, ItemReply::Ok(Some(i.to_le_bytes().to_vec())));
        }
    }
    // Stop node 0 (its groups fail over), write more, restart it: it recovers and catches up.
    let victim = {
        let mut n = nodes.write().await;
        let v = n[0].take().unwrap();
        v.driver.shutdown().await;
        v.transport.shutdown().await;
        v
    };
    drop(victim);
    let t0 = Instant::now();
    {
        let n = nodes.read().await;
        for i in 0..200u64 {
            let h = rng.next_u64();
            let key = key_for(h, writes + i);
            let r = run(
                &n,
                group_of(h, groups),
                &key,
                ItemOp::Put {
                    item: vec![2],
                    return_old: false,
                },
                Instant::now() + Duration::from_secs(10),
            )
            .await;
            assert_eq!(r, ItemReply::Ok(None));
        }
    }
    println!("200 writes with one node down in {:?}", t0.elapsed());
    let back = start_node(&dir, 0, rng.next_u64()).await;
    nodes.write().await[0] = Some(back);
    let n = nodes.read().await;
    introduce(&n).await;
    converge(&n, groups, Duration::from_secs(15)).await;
    for node in n.iter().flatten() {
        node.driver.shutdown().await;
        node.transport.shutdown().await;
    }
}

async fn put(nodes: &[Option<Node>], groups: u64, i: u64, h: u64) -> ItemReply {
    let op = ItemOp::Put {
        item: i.to_le_bytes().to_vec(),
        return_old: false,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    run(nodes, group_of(h, groups), &key_for(h, i), op, deadline).await
}

/// A member that misses more than the leaders keep in memory catches up by snapshot: the
/// leaders compact their logs right after each checkpoint (`log_retain_entries = 0`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_behind_the_compacted_log_gets_a_snapshot() {
    let mut rng = Rng::new(11);
    let dir = cluster("driver-snap", &NAMES);
    let cfg = DriverConfig {
        checkpoint_interval_ms: 100,
        log_retain_entries: 0,
        ..fast()
    };
    let groups = 2u64;
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..3 {
        nodes.push(Some(
            start_node_with(&dir, i, rng.next_u64(), cfg.clone()).await,
        ));
    }
    introduce(&nodes).await;
    for (i, n) in nodes.iter().enumerate() {
        let cmds = (1..=groups)
            .map(|g| NodeCommand::CreateReplica {
                partition: partition(g, groups),
                member: MemberId(g * 10 + i as u64 + 1),
                bootstrap: true,
            })
            .collect();
        n.as_ref().unwrap().driver.commands(cmds).await;
    }
    for i in 0..50 {
        let h = rng.next_u64();
        assert_eq!(put(&nodes, groups, i, h).await, ItemReply::Ok(None));
    }
    let c = nodes[2].take().unwrap();
    c.driver.shutdown().await;
    c.transport.shutdown().await;
    drop(c);
    for i in 50..400 {
        let h = rng.next_u64();
        assert_eq!(put(&nodes, groups, i, h).await, ItemReply::Ok(None));
    }
    // Let the survivors checkpoint and compact past what node c has.
    tokio::time::sleep(Duration::from_millis(400)).await;
    nodes[2] = Some(start_node_with(&dir, 2, rng.next_u64(), cfg).await);
    introduce(&nodes).await;
    converge(&nodes, groups, Duration::from_secs(15)).await;
    let installed = nodes[2]
        .as_ref()
        .unwrap()
        .driver
        .stats
        .snapshots_installed
        .get();
    let sent: u64 = nodes
        .iter()
        .flatten()
        .map(|n| n.driver.stats.snapshots_sent.get())
        .sum();
    println!("snapshots sent {sent}, installed on the returning node {installed}");
    assert!(installed >= 1, "the returning member caught up by snapshot");
    // Dropping a replica removes its data and its registry record, also across a restart.
    let c = nodes[2].as_ref().unwrap();
    c.driver
        .commands(vec![NodeCommand::DropReplica {
            group: GroupId(1),
            member: MemberId(13),
        }])
        .await;
    assert_eq!(c.driver.digest(GroupId(1)).await, DigestReply::NotHere);
    let c = nodes[2].take().unwrap();
    c.driver.shutdown().await;
    c.transport.shutdown().await;
    drop(c);
    nodes[2] = Some(start_node(&dir, 2, rng.next_u64()).await);
    let c = nodes[2].as_ref().unwrap();
    assert_eq!(c.driver.digest(GroupId(1)).await, DigestReply::NotHere);
    assert!(matches!(
        c.driver.digest(GroupId(2)).await,
        DigestReply::Digest { .. }
    ));
    for node in nodes.iter().flatten() {
        node.driver.shutdown().await;
        node.transport.shutdown().await;
    }
}
