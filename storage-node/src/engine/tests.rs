//! Engine tests, chiefly the crash-image harness: concurrent writers log
//! and apply write batches while checkpoints run, the simulated disk
//! ([`MemDisk`], wrapped in [`YieldingDisk`] so a crash can fall between any
//! two I/O steps) crashes at a seeded random point, dropping or tearing every
//! unsynced write; the engine reopens and replays, and the result must be
//! exactly the state of some prefix of each partition's durable records,
//! never shorter than what was acknowledged.

use super::*;
use crate::io::{MemDisk, YieldingDisk};
use crate::rng::{Rng, for_each_seed};

fn cfg(r: &mut Rng) -> EngineConfig {
    let mut c = EngineConfig::new("/node");
    c.wal.segment_size_bytes = 64 * 1024;
    c.wal.batch_bytes_max = 32 * 1024;
    c.wal.pending_bytes_max = 256 * 1024;
    c.tree.page_size_bytes = if r.chance(1, 2) { 1024 } else { 4096 };
    c.tree.cache_bytes_max = 64 * c.tree.page_size_bytes;
    c.tree.direct_io = false;
    c
}

/// The batch partition `p` logs at index `i` (deterministic, so the model
/// can be rebuilt from indexes alone). Keys of different partitions differ.
fn batch_for(p: u64, i: u64) -> WriteBatch {
    let mut r = Rng::new(p << 32 | i);
    let key = |r: &mut Rng| {
        let mut k = vec![0, 0, 0, 1, p as u8];
        k.extend_from_slice(&(r.below(40) as u16).to_be_bytes());
        k
    };
    let mut b = WriteBatch::new();
    for _ in 0..1 + r.below(3) {
        match r.below(10) {
            0 => {
                let (a, z) = (key(&mut r), key(&mut r));
                let (a, z) = if a <= z { (a, z) } else { (z, a) };
                b.delete_range(a, z);
            }
            1 | 2 => {
                b.delete(key(&mut r));
            }
            _ => {
                let k = key(&mut r);
                let max = if r.chance(1, 8) { 3000 } else { 100 };
                let len = r.below(max) as usize;
                b.put(k, r.bytes(len));
            }
        }
    }
    b
}

fn model(parts: &BTreeMap<u64, u64>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for (&p, &upto) in parts {
        for i in 1..=upto {
            for op in batch_for(p, i).ops {
                match op {
                    Op::Put { key, value } => {
                        m.insert(key, value);
                    }
                    Op::Delete { key } => {
                        m.remove(&key);
                    }
                    Op::DeleteRange { start, end } => {
                        let doomed: Vec<_> = m.range(start..end).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            m.remove(&k);
                        }
                    }
                }
            }
        }
    }
    m
}

async fn user_state<D: Disk>(e: &Engine<D>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut cur = e.snapshot().range(
        Bound::Included(vec![0, 0, 0, 1]),
        Bound::Unbounded,
        Direction::Forward,
    );
    let mut out = BTreeMap::new();
    while let Some((k, v)) = cur.next_owned().await.expect("scan") {
        out.insert(k, v);
    }
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn crash_image_harness() {
    for_each_seed("engine::tests::crash_image_harness", 2000, |seed| {
        rt().block_on(async move {
            let mut r = Rng::new(seed);
            let disk = MemDisk::new();
            let c = cfg(&mut r);
            let parts = 1 + r.below(4);
            let mut acked: BTreeMap<u64, u64> = (0..parts).map(|p| (p, 0)).collect();
            for round in 0..3 {
                let (engine, _rec) = Engine::open(YieldingDisk(disk.clone()), c.clone())
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} round {round}: open: {e}"));
                engine.replay_standalone().await.expect("replay");
                let got: BTreeMap<u64, u64> =
                    (0..parts).map(|p| (p, engine.applied_index(p))).collect();
                for p in 0..parts {
                    assert!(
                        got[&p] >= acked[&p],
                        "seed {seed} round {round}: partition {p} lost acknowledged writes ({} < {})",
                        got[&p],
                        acked[&p]
                    );
                }
                assert_eq!(
                    user_state(&engine).await,
                    model(&got),
                    "seed {seed} round {round}: state is not the prefix's state"
                );
                acked = got.clone();
                let acks = Arc::new(Mutex::new(acked.clone()));
                let mut tasks = Vec::new();
                for p in 0..parts {
                    let (e, acks, start) = (engine.clone(), acks.clone(), got[&p] + 1);
                    tasks.push(tokio::spawn(async move {
                        for i in start..start + 30 {
                            let b = batch_for(p, i);
                            let rec = Record { partition: p, ballot: 1, index: i, payload: b.encode() };
                            if e.log(vec![rec]).await.is_err() {
                                return;
                            }
                            acks.lock().unwrap().insert(p, i);
                            let entry = Apply::plain(p, i, &b);
                            if e.apply(&[entry]).await.is_err() {
                                return;
                            }
                        }
                    }));
                }
                let e = engine.clone();
                let every = 1 + r.below(40);
                tasks.push(tokio::spawn(async move {
                    for _ in 0..20 {
                        for _ in 0..every {
                            tokio::task::yield_now().await;
                        }
                        if e.checkpoint().await.is_err() {
                            return;
                        }
                    }
                }));
                for _ in 0..r.below(600) {
                    tokio::task::yield_now().await;
                }
                disk.crash(r.next_u64());
                for t in tasks {
                    let _ = t.await;
                }
                acked = acks.lock().unwrap().clone();
            }
        });
    });
}

#[test]
fn applied_index_is_monotonic_and_meta_keys_reserved() {
    rt().block_on(async {
        let mut r = Rng::new(1);
        let (e, rec) = Engine::open(MemDisk::new(), cfg(&mut r)).await.unwrap();
        assert!(rec.applied.is_empty());
        let b = batch_for(1, 1);
        e.apply(&[Apply::plain(1, 5, &b)]).await.unwrap();
        let err = e.apply(&[Apply::plain(1, 5, &b)]).await.unwrap_err();
        assert!(
            matches!(err, EngineError::OutOfOrder { applied: 5, .. }),
            "{err}"
        );
        let mut bad = WriteBatch::new();
        bad.put(vec![0, 0, 0, 0, b'A'], b"x".to_vec());
        let err = e.apply(&[Apply::plain(1, 6, &bad)]).await.unwrap_err();
        assert!(matches!(err, EngineError::ReservedKey), "{err}");
        assert_eq!(e.applied_index(1), 5);
    });
}

#[test]
fn checkpoint_then_reopen_needs_no_replay_and_frees_the_wal() {
    rt().block_on(async {
        let mut r = Rng::new(2);
        let disk = MemDisk::new();
        let c = cfg(&mut r);
        let (e, _) = Engine::open(disk.clone(), c.clone()).await.unwrap();
        for i in 1..=300 {
            let b = batch_for(3, i);
            e.log(vec![Record {
                partition: 3,
                ballot: 1,
                index: i,
                payload: b.encode(),
            }])
            .await
            .unwrap();
            e.apply(&[Apply::plain(3, i, &b)]).await.unwrap();
            if i % 100 == 0 {
                e.checkpoint().await.unwrap();
            }
        }
        assert!(
            e.wal().stats().recycled > 0,
            "checkpoints never let the WAL recycle"
        );
        let want = user_state(&e).await;
        drop(e);
        let (e, rec) = Engine::open(disk.clone(), c).await.unwrap();
        assert_eq!(rec.applied.get(&3), Some(&300));
        assert!(rec.pending.is_empty(), "{:?}", rec.pending);
        assert_eq!(e.replay_standalone().await.unwrap(), 0);
        assert_eq!(user_state(&e).await, want);
        assert_eq!(want, model(&BTreeMap::from([(3, 300)])));
    });
}
