//! Crash safety on `MemDisk`: random transactions and checkpoints, I/O
//! faults that stop a checkpoint (or an eviction or spill) at any write or
//! sync, then a crash that drops or tears every unsynced write per sector.
//! Reopening must yield exactly the last completed checkpoint (or, when a
//! checkpoint failed, possibly the state it was writing), with every page
//! verifying. Several crash rounds per seed.

use super::*;
use crate::io::{Fault, FaultOp};
use crate::rng::for_each_seed;

async fn crash_run(seed: u64) {
    let mut rng = Rng::new(seed);
    let disk = MemDisk::new();
    let page_size = if rng.chance(1, 2) { 512 } else { 1024 };
    let cache_pages = rng.range(32, 48) as usize;
    let keys = Keys {
        space: 2000,
        suffix_max: 6,
    };
    // The state reopening must show, and others it may show instead (the
    // target of a checkpoint that failed midway).
    let mut durable = Model::new();
    let mut maybe: Vec<Model> = Vec::new();
    for round in 0..4 {
        let tree = BTree::open(disk.clone(), cfg(MEM_PATH, page_size, cache_pages))
            .await
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let snap = tree.snapshot();
        let got = scan_all(&snap).await.unwrap();
        if got != model_entries(&durable) {
            match maybe.iter().find(|m| model_entries(m) == got) {
                Some(m) => durable = m.clone(),
                None => panic!(
                    "round {round}: reopened with {} entries; last checkpoint had {} (alternatives: {:?})",
                    got.len(),
                    durable.len(),
                    maybe.iter().map(|m| m.len()).collect::<Vec<_>>()
                ),
            }
        }
        maybe.clear();
        snap.verify()
            .await
            .unwrap_or_else(|e| panic!("round {round}: verify after reopen: {e}"));
        drop(snap);
        assert_page_accounting(&tree).await;
        let mut committed = durable.clone();
        if round == 0 {
            // Start from a tree several times the pool, so evictions and
            // spills write pages between checkpoints.
            let mut txn = tree.begin_write().await;
            for _ in 0..rng.range(200, 800) {
                let k = keys.key(&mut rng);
                let v = value(&mut rng, page_size, true);
                txn.put(&k, &v).await.unwrap();
                committed.insert(k, v);
            }
            txn.commit().await.unwrap();
            if rng.chance(1, 2) {
                tree.checkpoint().await.unwrap();
                durable = committed.clone();
            }
        }
        for _ in 0..rng.range(1, 25) {
            if rng.chance(1, 12) {
                let op = match rng.below(3) {
                    0 => FaultOp::Sync,
                    1 => FaultOp::Read,
                    _ => FaultOp::Write,
                };
                disk.inject(Fault::nth(op, MEM_PATH, rng.below(12)));
            }
            if rng.chance(1, 6) {
                match tree.checkpoint().await {
                    Ok(_) => durable = committed.clone(),
                    Err(_) => {
                        maybe.push(committed.clone());
                        break; // poisoned: only a reopen helps
                    }
                }
            } else if let Ok(m) = random_txn(&tree, &mut rng, keys, &committed, page_size, 25).await
            {
                committed = m;
            }
        }
        if rng.chance(1, 3) {
            // Crash with a write transaction open and snapshots alive.
            let _snap = tree.snapshot();
            let mut txn = tree.begin_write().await;
            let _ = txn.put(b"uncommitted", b"x").await;
            disk.crash(rng.next_u64());
        } else {
            disk.crash(rng.next_u64());
        }
        disk.clear_faults();
        drop(tree);
    }
}

#[test]
fn crash_recovers_last_checkpoint() {
    let rt = rt();
    for_each_seed(
        "btree::tests::crash::crash_recovers_last_checkpoint",
        300,
        |seed| rt.block_on(crash_run(seed)),
    );
}

/// A crash before the first checkpoint of a new file leaves an empty tree
/// (or no file): either way it opens empty.
#[test]
fn crash_before_first_checkpoint_opens_empty() {
    let rt = rt();
    for_each_seed(
        "btree::tests::crash::crash_before_first_checkpoint_opens_empty",
        30,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let tree = open_mem(&disk, 512, 32).await;
                let keys = Keys {
                    space: 300,
                    suffix_max: 3,
                };
                let mut m = Model::new();
                for _ in 0..5 {
                    m = random_txn(&tree, &mut rng, keys, &m, 512, 40)
                        .await
                        .unwrap();
                }
                disk.crash(seed);
                drop(tree);
                let tree = open_mem(&disk, 512, 32).await;
                assert!(scan_all(&tree.snapshot()).await.unwrap().is_empty());
            })
        },
    );
}
