//! Snapshots: a snapshot keeps returning exactly its state while writes,
//! commits, checkpoints and evictions go on; pages freed after it are reused
//! only once it is gone; concurrent readers on a multi-threaded runtime see
//! only whole transactions.

use super::*;
use crate::rng::for_each_seed;

async fn check_snapshot(snap: &Snapshot<MemDisk>, m: &Model, rng: &mut Rng, keys: Keys) {
    assert_eq!(scan_all(snap).await.unwrap(), model_entries(m));
    let mut back = scan(
        snap,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Backward,
    )
    .await
    .unwrap();
    back.reverse();
    assert_eq!(back, model_entries(m));
    for _ in 0..20 {
        let (s, e) = keys.narrow_bounds(rng, 100);
        let dir = if rng.chance(1, 2) {
            Direction::Forward
        } else {
            Direction::Backward
        };
        let got = scan_borrowed(snap, s.clone(), e.clone(), dir)
            .await
            .unwrap();
        assert_eq!(got, model_range(m, &s, &e, dir));
        let k = keys.key(rng);
        assert_eq!(snap.get(&k).await.unwrap(), m.get(&k).cloned());
    }
    assert_eq!(snap.verify().await.unwrap().entries, m.len() as u64);
}

#[test]
fn snapshots_keep_their_view() {
    let rt = rt();
    for_each_seed(
        "btree::tests::snapshot::snapshots_keep_their_view",
        20,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let ps = 512;
                let tree = open_mem(&disk, ps, 32).await;
                let keys = Keys {
                    space: 800,
                    suffix_max: 4,
                };
                let mut m = Model::new();
                let mut txn = tree.begin_write().await;
                for _ in 0..500 {
                    let k = keys.key(&mut rng);
                    let v = value(&mut rng, ps, true);
                    txn.put(&k, &v).await.unwrap();
                    m.insert(k, v);
                }
                txn.commit().await.unwrap();
                let mut live: Vec<(Snapshot<MemDisk>, Model)> = vec![(tree.snapshot(), m.clone())];
                for round in 0..30 {
                    m = random_txn(&tree, &mut rng, keys, &m, ps, 60).await.unwrap();
                    if round % 4 == 0 {
                        tree.checkpoint().await.unwrap();
                    }
                    if rng.chance(1, 4) {
                        live.push((tree.snapshot(), m.clone()));
                    }
                    if live.len() > 3 && rng.chance(1, 3) {
                        let i = 1 + rng.below(live.len() as u64 - 1) as usize;
                        live.remove(i);
                    }
                }
                tree.drop_clean_cache();
                for (snap, sm) in &live {
                    check_snapshot(snap, sm, &mut rng, keys).await;
                }
                let st = tree.stats();
                assert!(st.evictions > 0, "the test must evict pages: {st:?}");
                assert!(st.cache_bytes_peak <= st.cache_bytes_max, "{st:?}");
            })
        },
    );
}

/// Pages freed while a snapshot is alive are not reused until it is
/// dropped; then the file stops growing.
#[test]
fn freed_pages_wait_for_snapshots() {
    let rt = rt();
    rt.block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 64).await;
        let put_all = |version: u8| {
            let tree = tree.clone();
            async move {
                let mut txn = tree.begin_write().await;
                for i in 0..300u32 {
                    txn.put(format!("key{i:05}").as_bytes(), &[version; 20])
                        .await
                        .unwrap();
                }
                txn.commit().await.unwrap();
            }
        };
        put_all(0).await;
        let snap = tree.snapshot();
        for g in 1..6 {
            put_all(g).await;
        }
        let held = tree.stats();
        assert!(held.pending_free_pages > 0, "{held:?}");
        assert_eq!(snap.get(b"key00007").await.unwrap(), Some(vec![0; 20]));
        drop(snap);
        put_all(6).await;
        tree.checkpoint().await.unwrap();
        put_all(7).await;
        tree.checkpoint().await.unwrap();
        let after = tree.stats();
        assert!(
            after.pending_free_pages < held.pending_free_pages,
            "{held:?} {after:?}"
        );
        for g in 8..30 {
            put_all(g).await;
            if g % 2 == 0 {
                tree.checkpoint().await.unwrap();
            }
        }
        let end = tree.stats();
        assert!(
            end.file_pages <= after.file_pages + 10,
            "file keeps growing: {after:?} -> {end:?}"
        );
    });
}

/// Readers on other threads see only whole transactions while a writer
/// commits and checkpoints with a pool far smaller than the tree.
#[test]
fn concurrent_readers_see_whole_transactions() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 48).await;
        const KEYS: u32 = 400;
        let write_gen = |tree: BTree<MemDisk>, g: u32| async move {
            let mut txn = tree.begin_write().await;
            for i in 0..KEYS {
                let mut v = g.to_le_bytes().to_vec();
                v.resize(40, b'x');
                txn.put(format!("key{i:05}").as_bytes(), &v).await.unwrap();
            }
            txn.commit().await.unwrap();
        };
        write_gen(tree.clone(), 0).await;
        let writer = {
            let tree = tree.clone();
            tokio::spawn(async move {
                for g in 1..40 {
                    write_gen(tree.clone(), g).await;
                    if g % 5 == 0 {
                        tree.checkpoint().await.unwrap();
                    }
                }
            })
        };
        let mut readers = Vec::new();
        for r in 0..3u64 {
            let tree = tree.clone();
            readers.push(tokio::spawn(async move {
                let mut rng = Rng::new(r);
                for _ in 0..25 {
                    let snap = tree.snapshot();
                    let dir = if rng.chance(1, 2) {
                        Direction::Forward
                    } else {
                        Direction::Backward
                    };
                    let all = scan(&snap, Bound::Unbounded, Bound::Unbounded, dir)
                        .await
                        .unwrap();
                    assert_eq!(all.len(), KEYS as usize);
                    let g = &all[0].1[..4];
                    assert!(all.iter().all(|(_, v)| &v[..4] == g), "torn snapshot");
                    let k = format!("key{:05}", rng.below(KEYS as u64));
                    assert_eq!(&snap.get(k.as_bytes()).await.unwrap().unwrap()[..4], g);
                }
            }));
        }
        writer.await.unwrap();
        for r in readers {
            r.await.unwrap();
        }
        let st = tree.stats();
        assert!(st.cache_bytes_peak <= st.cache_bytes_max, "{st:?}");
        assert!(st.evictions > 0, "{st:?}");
    });
}
