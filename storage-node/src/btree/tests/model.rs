//! Random operation sequences (put, delete, delete_range, get, forward and
//! backward range scans with random bounds, commits, aborts, checkpoints)
//! checked against a `BTreeMap`, on deep trees (small pages) and 8 KiB
//! pages, with small and overflow-sized values.

use super::*;
use crate::rng::for_each_seed;

#[derive(Clone, Copy)]
struct Run {
    page_size: usize,
    cache_pages: usize,
    /// Keys put by the first transaction.
    preload: u64,
    txns: u64,
    ops_max: u64,
    keys: Keys,
    big: bool,
}

fn random_dir(rng: &mut Rng) -> Direction {
    if rng.chance(1, 2) {
        Direction::Forward
    } else {
        Direction::Backward
    }
}

async fn model_run(seed: u64, run: Run) {
    let mut rng = Rng::new(seed);
    let disk = MemDisk::new();
    let tree = open_mem(&disk, run.page_size, run.cache_pages).await;
    let keys = run.keys;
    let mut model = Model::new();
    let mut txn = tree.begin_write().await;
    for _ in 0..run.preload {
        let k = keys.key(&mut rng);
        let v = value(&mut rng, run.page_size, run.big);
        txn.put(&k, &v).await.unwrap();
        model.insert(k, v);
    }
    txn.commit().await.unwrap();
    for _ in 0..run.txns {
        let mut txn = tree.begin_write().await;
        let mut tm = model.clone();
        for _ in 0..rng.range(1, run.ops_max) {
            match rng.below(100) {
                0..=54 => {
                    let k = keys.key(&mut rng);
                    let v = value(&mut rng, run.page_size, run.big);
                    txn.put(&k, &v).await.unwrap();
                    tm.insert(k, v);
                }
                55..=66 => {
                    let k = keys.key(&mut rng);
                    let got = txn.delete(&k).await.unwrap();
                    assert_eq!(got, tm.remove(&k).is_some(), "delete {k:?}");
                }
                67..=68 => {
                    let (s, e) = if rng.chance(1, 100) {
                        (keys.bound(&mut rng), keys.bound(&mut rng))
                    } else {
                        keys.narrow_bounds(&mut rng, 40)
                    };
                    let n = txn
                        .delete_range(bound_ref(&s), bound_ref(&e))
                        .await
                        .unwrap();
                    let expect = model_range(&tm, &s, &e, Direction::Forward);
                    for (k, _) in &expect {
                        tm.remove(k);
                    }
                    assert_eq!(n, expect.len() as u64, "delete_range {s:?}..{e:?}");
                }
                _ => {
                    let k = keys.key(&mut rng);
                    assert_eq!(
                        txn.get(&k).await.unwrap(),
                        tm.get(&k).cloned(),
                        "txn get {k:?}"
                    );
                }
            }
        }
        if rng.chance(1, 5) {
            drop(txn);
        } else {
            txn.commit().await.unwrap();
            model = tm;
        }
        if rng.chance(1, 3) {
            let snap = tree.snapshot();
            for _ in 0..3 {
                let (s, e) = if rng.chance(1, 4) {
                    (keys.bound(&mut rng), keys.bound(&mut rng))
                } else {
                    keys.narrow_bounds(&mut rng, 200)
                };
                let dir = random_dir(&mut rng);
                let got = if rng.chance(1, 2) {
                    scan(&snap, s.clone(), e.clone(), dir).await
                } else {
                    scan_borrowed(&snap, s.clone(), e.clone(), dir).await
                };
                assert_eq!(
                    got.unwrap(),
                    model_range(&model, &s, &e, dir),
                    "scan {s:?}..{e:?} {dir:?}"
                );
                let k = keys.key(&mut rng);
                assert_eq!(snap.get(&k).await.unwrap(), model.get(&k).cloned());
            }
        }
        if rng.chance(1, 10) {
            tree.checkpoint().await.unwrap();
        }
    }
    let snap = tree.snapshot();
    assert_eq!(scan_all(&snap).await.unwrap(), model_entries(&model));
    let mut back = scan(
        &snap,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Backward,
    )
    .await
    .unwrap();
    back.reverse();
    assert_eq!(back, model_entries(&model));
    let rep = snap.verify().await.unwrap();
    assert_eq!(rep.entries, model.len() as u64);
    assert_page_accounting(&tree).await;
    for (k, v) in &model {
        assert_eq!(snap.get(k).await.unwrap().as_ref(), Some(v));
    }
    // Empty it with one range delete: the tree collapses to nothing.
    let mut txn = tree.begin_write().await;
    let n = txn
        .delete_range(Bound::Unbounded, Bound::Unbounded)
        .await
        .unwrap();
    assert_eq!(n, model.len() as u64);
    txn.commit().await.unwrap();
    let snap = tree.snapshot();
    assert!(snap.is_empty());
    assert!(scan_all(&snap).await.unwrap().is_empty());
    let s = tree.stats();
    assert!(s.cache_bytes_peak <= s.cache_bytes_max, "{s:?}");
    assert_page_accounting(&tree).await;
}

fn run_seeds(name: &str, count: u64, run: Run) {
    let rt = rt();
    for_each_seed(name, count, |seed| rt.block_on(model_run(seed, run)));
}

#[test]
fn model_deep_tree_small_pages() {
    run_seeds(
        "btree::tests::model::model_deep_tree_small_pages",
        40,
        Run {
            page_size: 512,
            cache_pages: 48,
            preload: 1500,
            txns: 60,
            ops_max: 40,
            keys: Keys {
                space: 3000,
                suffix_max: 8,
            },
            big: true,
        },
    );
}

#[test]
fn model_8k_pages() {
    run_seeds(
        "btree::tests::model::model_8k_pages",
        12,
        Run {
            page_size: 8192,
            cache_pages: 40,
            preload: 3000,
            txns: 40,
            ops_max: 80,
            keys: Keys {
                space: 6000,
                suffix_max: 4,
            },
            big: true,
        },
    );
}

#[test]
fn model_long_keys() {
    run_seeds(
        "btree::tests::model::model_long_keys",
        15,
        Run {
            page_size: 1024,
            cache_pages: 40,
            preload: 400,
            txns: 40,
            ops_max: 30,
            keys: Keys {
                space: 600,
                suffix_max: 300,
            },
            big: true,
        },
    );
}

/// Fill, then delete most keys in random order: merges keep the tree
/// shallow and the structure valid at every step.
#[test]
fn model_shrinks_after_deletes() {
    let rt = rt();
    for_each_seed(
        "btree::tests::model::model_shrinks_after_deletes",
        6,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let tree = open_mem(&disk, 512, 64).await;
                let mut model = Model::new();
                let mut txn = tree.begin_write().await;
                for i in 0..3000u32 {
                    let k =
                        format!("key{:08}", i.wrapping_mul(2_654_435_761) % 100_000).into_bytes();
                    let len = rng.below(30) as usize;
                    let v = rng.bytes(len);
                    txn.put(&k, &v).await.unwrap();
                    model.insert(k, v);
                }
                txn.commit().await.unwrap();
                let full = tree.snapshot().verify().await.unwrap();
                let mut ks: Vec<Vec<u8>> = model.keys().cloned().collect();
                for i in (1..ks.len()).rev() {
                    ks.swap(i, rng.below(i as u64 + 1) as usize);
                }
                for chunk in ks[..ks.len() - 20].chunks(300) {
                    let mut txn = tree.begin_write().await;
                    for k in chunk {
                        assert!(txn.delete(k).await.unwrap());
                        model.remove(k);
                    }
                    txn.commit().await.unwrap();
                    let rep = tree.snapshot().verify().await.unwrap();
                    assert_eq!(rep.entries, model.len() as u64);
                }
                let rep = tree.snapshot().verify().await.unwrap();
                assert!(rep.height < full.height, "{rep:?} vs {full:?}");
                assert!(rep.leaf_pages <= 20, "{rep:?}");
                assert_eq!(
                    scan_all(&tree.snapshot()).await.unwrap(),
                    model_entries(&model)
                );
            })
        },
    );
}

/// Wide range deletes on deep trees drop whole subtrees; contents, structure
/// and page accounting stay exact.
#[test]
fn model_wide_range_deletes() {
    let rt = rt();
    for_each_seed(
        "btree::tests::model::model_wide_range_deletes",
        25,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let ps = 512;
                let tree = open_mem(&disk, ps, 48).await;
                let keys = Keys {
                    space: 4000,
                    suffix_max: 5,
                };
                let mut model = Model::new();
                for round in 0..6 {
                    let mut txn = tree.begin_write().await;
                    let mut tm = model.clone();
                    for _ in 0..rng.range(300, 1500) {
                        let k = keys.key(&mut rng);
                        let v = value(&mut rng, ps, true);
                        txn.put(&k, &v).await.unwrap();
                        tm.insert(k, v);
                    }
                    for _ in 0..rng.range(1, 4) {
                        let (s, e) = if rng.chance(1, 3) {
                            (keys.bound(&mut rng), keys.bound(&mut rng))
                        } else {
                            keys.narrow_bounds(&mut rng, 800)
                        };
                        let n = txn
                            .delete_range(bound_ref(&s), bound_ref(&e))
                            .await
                            .unwrap();
                        let expect = model_range(&tm, &s, &e, Direction::Forward);
                        for (k, _) in &expect {
                            tm.remove(k);
                        }
                        assert_eq!(n, expect.len() as u64, "round {round}: {s:?}..{e:?}");
                        let k = keys.key(&mut rng);
                        assert_eq!(txn.get(&k).await.unwrap(), tm.get(&k).cloned());
                    }
                    if rng.chance(1, 4) {
                        drop(txn);
                    } else {
                        txn.commit().await.unwrap();
                        model = tm;
                    }
                    if rng.chance(1, 2) {
                        tree.checkpoint().await.unwrap();
                    }
                    let snap = tree.snapshot();
                    assert_eq!(scan_all(&snap).await.unwrap(), model_entries(&model));
                    assert_page_accounting(&tree).await;
                }
            })
        },
    );
}
