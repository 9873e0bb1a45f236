//! Bit flips: build a checkpointed tree, flip one random bit in a random
//! page (or superblock), reopen with a cold cache and read everything. Every
//! result must be correct or a typed `Corrupt` error; never a wrong value,
//! never a panic. A damaged newest superblock falls back to the previous
//! checkpoint, whose pages may meanwhile have been reused: reading them is
//! then detected through the generation in each page reference.

use super::*;
use crate::rng::for_each_seed;
use std::collections::BTreeSet;
use std::path::Path;

/// Checks one result against the model: returns true if it was `Corrupt`.
fn judge<T: PartialEq + std::fmt::Debug>(got: Result<T, BTreeError>, want: T, what: &str) -> bool {
    match got {
        Ok(v) => {
            assert_eq!(v, want, "{what}: wrong data after a bit flip");
            false
        }
        Err(e) => {
            assert!(e.is_corrupt(), "{what}: expected a Corrupt error, got {e}");
            let msg = e.to_string();
            assert!(msg.contains(MEM_PATH) && msg.contains("offset"), "{msg}");
            true
        }
    }
}

/// Scans in `dir`, checking every entry against `want` (in that order).
async fn judge_scan(snap: &Snapshot<MemDisk>, want: &Entries, dir: Direction) -> bool {
    let mut c = snap.range(Bound::Unbounded, Bound::Unbounded, dir);
    let mut i = 0;
    loop {
        match c.next_owned().await {
            Ok(Some(kv)) => {
                assert_eq!(
                    Some(&kv),
                    want.get(i),
                    "scan {dir:?} entry {i}: wrong data after a bit flip"
                );
                i += 1;
            }
            Ok(None) => {
                assert_eq!(i, want.len(), "scan {dir:?} ended early without an error");
                return false;
            }
            Err(e) => {
                assert!(e.is_corrupt(), "scan {dir:?}: expected Corrupt, got {e}");
                return true;
            }
        }
    }
}

/// Returns whether corruption was detected.
async fn corrupt_run(seed: u64) -> bool {
    let mut rng = Rng::new(seed);
    let disk = MemDisk::new();
    let ps = if rng.chance(1, 2) { 512 } else { 1024 };
    let keys = Keys {
        space: 1500,
        suffix_max: 6,
    };
    let tree = open_mem(&disk, ps, 32).await;
    let mut m = Model::new();
    let mut txn = tree.begin_write().await;
    for _ in 0..rng.range(100, 600) {
        let k = keys.key(&mut rng);
        let v = value(&mut rng, ps, true);
        txn.put(&k, &v).await.unwrap();
        m.insert(k, v);
    }
    txn.commit().await.unwrap();
    tree.checkpoint().await.unwrap();
    let prev = m.clone();
    let prev_txn = tree.stats().durable_txn;
    for _ in 0..rng.range(1, 6) {
        m = random_txn(&tree, &mut rng, keys, &m, ps, 40).await.unwrap();
    }
    tree.checkpoint().await.unwrap();
    let latest = m.clone();
    let latest_txn = tree.stats().durable_txn;
    if rng.chance(1, 2) {
        // Uncheckpointed work reuses pages freed since the previous
        // checkpoint (evictions write them).
        for _ in 0..rng.range(1, 6) {
            m = random_txn(&tree, &mut rng, keys, &m, ps, 40).await.unwrap();
        }
    }
    drop(tree);

    let path = Path::new(MEM_PATH);
    let len = disk.read_durable(path).expect("file exists").len() as u64;
    let pages = len / ps as u64;
    let offset = if rng.chance(1, 6) {
        rng.below(2) * ps as u64 + rng.below(128)
    } else {
        rng.range(2, pages - 1) * ps as u64 + rng.below(ps as u64)
    };
    disk.flip_bit(path, offset, rng.below(8) as u8).unwrap();

    let tree = match BTree::open(disk.clone(), cfg(MEM_PATH, ps, 32)).await {
        Ok(t) => t,
        Err(e) => {
            assert!(e.is_corrupt(), "open after flip at {offset}: {e}");
            return true;
        }
    };
    let st = tree.stats();
    let want = if st.durable_txn == latest_txn {
        &latest
    } else {
        assert_eq!(st.durable_txn, prev_txn, "opened an unknown checkpoint");
        assert!(st.superblock_fallback);
        &prev
    };
    let snap = tree.snapshot();
    let mut detected = false;
    let probe: BTreeSet<Vec<u8>> = latest
        .keys()
        .chain(prev.keys())
        .cloned()
        .chain((0..50).map(|_| keys.key(&mut rng)))
        .collect();
    for k in &probe {
        detected |= judge(snap.get(k).await, want.get(k).cloned(), "get");
    }
    let entries = model_entries(want);
    detected |= judge_scan(&snap, &entries, Direction::Forward).await;
    let mut back = entries.clone();
    back.reverse();
    detected |= judge_scan(&snap, &back, Direction::Backward).await;
    if let Err(e) = snap.verify().await {
        assert!(e.is_corrupt(), "verify: {e}");
        detected = true;
    }
    // Writing on top of a damaged tree fails cleanly or works.
    match random_txn(&tree, &mut rng, keys, want, ps, 20).await {
        Ok(_) => {}
        Err(e) => {
            assert!(e.is_corrupt(), "txn after flip: {e}");
            detected = true;
        }
    }
    detected || st.superblock_fallback
}

#[test]
fn bit_flips_are_detected_never_wrong() {
    let rt = rt();
    let mut seeds = 0u64;
    let mut detected = 0u64;
    for_each_seed(
        "btree::tests::corrupt::bit_flips_are_detected_never_wrong",
        150,
        |seed| {
            seeds += 1;
            detected += rt.block_on(corrupt_run(seed)) as u64;
        },
    );
    // Most flips land in live pages; a checker that never reported
    // anything would be suspicious (flips in free pages are harmless).
    if seeds >= 50 {
        assert!(
            detected * 3 >= seeds,
            "only {detected} of {seeds} flips detected"
        );
    }
}

/// Both superblock slots damaged: open fails with `Corrupt`, never
/// reinitializes a file that holds data.
#[test]
fn both_superblocks_damaged_fails_cleanly() {
    let rt = rt();
    rt.block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 32).await;
        let mut txn = tree.begin_write().await;
        for i in 0..200u32 {
            txn.put(format!("k{i}").as_bytes(), b"v").await.unwrap();
        }
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        let mut txn = tree.begin_write().await;
        txn.put(b"k1", b"w").await.unwrap();
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        drop(tree);
        let path = Path::new(MEM_PATH);
        disk.flip_bit(path, 40, 1).unwrap();
        disk.flip_bit(path, 512 + 40, 1).unwrap();
        let err = BTree::open(disk.clone(), cfg(MEM_PATH, 512, 32))
            .await
            .err()
            .expect("open must fail");
        assert!(err.is_corrupt(), "{err}");
        assert!(err.to_string().contains("no valid superblock"), "{err}");
    });
}

/// A damaged free list is rebuilt from the tree at open: nothing is lost,
/// and pages in use are never handed out again.
#[test]
fn damaged_free_list_is_rebuilt() {
    use crate::btree::superblock::{SB_BYTES, Superblock};
    let rt = rt();
    for_each_seed(
        "btree::tests::corrupt::damaged_free_list_is_rebuilt",
        10,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let ps = 512;
                let keys = Keys {
                    space: 3000,
                    suffix_max: 4,
                };
                let tree = open_mem(&disk, ps, 32).await;
                let mut m = Model::new();
                for _ in 0..15 {
                    m = random_txn(&tree, &mut rng, keys, &m, ps, 150)
                        .await
                        .unwrap();
                }
                let mut txn = tree.begin_write().await;
                let (s, e) = keys.narrow_bounds(&mut rng, 1000);
                txn.delete_range(bound_ref(&s), bound_ref(&e))
                    .await
                    .unwrap();
                for (k, _) in model_range(&m, &s, &e, Direction::Forward) {
                    m.remove(&k);
                }
                txn.commit().await.unwrap();
                tree.checkpoint().await.unwrap();
                drop(tree);
                let path = Path::new(MEM_PATH);
                let image = disk.read_durable(path).unwrap();
                let sb = [0, ps]
                    .iter()
                    .filter_map(|&o| Superblock::decode(&image[o..o + SB_BYTES]).ok())
                    .max_by_key(|sb| sb.checkpoint_gen)
                    .unwrap();
                let fl = sb.freelist.expect("the tree has free pages");
                let off = fl.id * ps as u64 + rng.below(ps as u64);
                disk.flip_bit(path, off, rng.below(8) as u8).unwrap();
                let tree = open_mem(&disk, ps, 32).await;
                assert_eq!(scan_all(&tree.snapshot()).await.unwrap(), model_entries(&m));
                assert_page_accounting(&tree).await;
                for _ in 0..10 {
                    m = random_txn(&tree, &mut rng, keys, &m, ps, 150)
                        .await
                        .unwrap();
                }
                tree.checkpoint().await.unwrap();
                drop(tree);
                let tree = open_mem(&disk, ps, 32).await;
                assert_eq!(scan_all(&tree.snapshot()).await.unwrap(), model_entries(&m));
                assert_page_accounting(&tree).await;
            })
        },
    );
}
