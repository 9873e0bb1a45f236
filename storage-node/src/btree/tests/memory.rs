//! The pool limit: trees 20x and more the size of the pool, written in
//! batches or in one huge transaction, scanned and read; the peak stays
//! within `cache_bytes_max`. When every page is pinned the pool reports
//! `CacheExhausted` instead of growing.

use super::*;
use crate::rng::for_each_seed;

const POOL_PAGES: usize = 64;

async fn fill(tree: &BTree<MemDisk>, rng: &mut Rng, n: u32, per_txn: u32) -> Model {
    let mut m = Model::new();
    let mut i = 0;
    while i < n {
        let mut txn = tree.begin_write().await;
        for _ in 0..per_txn.min(n - i) {
            let k = format!(
                "key{:09}",
                (i as u64).wrapping_mul(2_654_435_761) % 1_000_000_007
            )
            .into_bytes();
            let len = rng.range(10, 40) as usize;
            let v = rng.bytes(len);
            txn.put(&k, &v).await.unwrap();
            m.insert(k, v);
            i += 1;
        }
        txn.commit().await.unwrap();
    }
    m
}

async fn read_everything(tree: &BTree<MemDisk>, m: &Model, rng: &mut Rng) {
    let snap = tree.snapshot();
    assert_eq!(scan_all(&snap).await.unwrap(), model_entries(m));
    let mut back = scan_borrowed(
        &snap,
        Bound::Unbounded,
        Bound::Unbounded,
        Direction::Backward,
    )
    .await
    .unwrap();
    back.reverse();
    assert_eq!(back, model_entries(m));
    let ks: Vec<&Vec<u8>> = m.keys().collect();
    for _ in 0..2000 {
        let k = ks[rng.below(ks.len() as u64) as usize];
        assert_eq!(snap.get(k).await.unwrap().as_ref(), m.get(k));
    }
    let rep = snap.verify().await.unwrap();
    assert_eq!(rep.entries, m.len() as u64);
}

fn assert_bounded(tree: &BTree<MemDisk>) -> TreeStatsSummary {
    let st = tree.stats();
    assert!(st.cache_bytes_peak <= st.cache_bytes_max, "{st:?}");
    assert!(st.cache_bytes <= st.cache_bytes_max, "{st:?}");
    assert!(
        st.file_pages >= 20 * POOL_PAGES as u64,
        "tree must be at least 20x the pool: {st:?}"
    );
    TreeStatsSummary {
        evictions: st.evictions,
    }
}

struct TreeStatsSummary {
    evictions: u64,
}

#[test]
fn pool_limit_holds_for_batched_writes_and_reads() {
    let rt = rt();
    for_each_seed(
        "btree::tests::memory::pool_limit_holds_for_batched_writes_and_reads",
        2,
        |seed| {
            rt.block_on(async {
                let mut rng = Rng::new(seed);
                let disk = MemDisk::new();
                let tree = open_mem(&disk, 512, POOL_PAGES).await;
                let m = fill(&tree, &mut rng, 20_000, 500).await;
                tree.checkpoint().await.unwrap();
                read_everything(&tree, &m, &mut rng).await;
                let s = assert_bounded(&tree);
                assert!(s.evictions > 1000);
            })
        },
    );
}

#[test]
fn pool_limit_holds_for_one_huge_transaction() {
    let rt = rt();
    rt.block_on(async {
        let mut rng = Rng::new(7);
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, POOL_PAGES).await;
        let m = fill(&tree, &mut rng, 20_000, 20_000).await;
        assert_bounded(&tree);
        read_everything(&tree, &m, &mut rng).await;
        tree.checkpoint().await.unwrap();
        drop(tree);
        let tree = open_mem(&disk, 512, POOL_PAGES).await;
        read_everything(&tree, &m, &mut rng).await;
        assert_bounded(&tree);
    });
}

/// Cursors pin their leaves; once every page is pinned, further reads get
/// `CacheExhausted` rather than growing the pool. Dropping cursors heals.
#[test]
fn all_pinned_is_a_typed_error() {
    let rt = rt();
    rt.block_on(async {
        let mut rng = Rng::new(3);
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 32).await;
        let m = fill(&tree, &mut rng, 5_000, 5_000).await;
        tree.checkpoint().await.unwrap();
        let snap = tree.snapshot();
        let ks: Vec<Vec<u8>> = m.keys().cloned().collect();
        let mut cursors = Vec::new();
        let mut exhausted = None;
        for i in 0..40 {
            let start = ks[i * ks.len() / 40].clone();
            let mut c = snap.range(Bound::Included(start), Bound::Unbounded, Direction::Forward);
            match c.advance().await {
                Ok(true) => cursors.push(c),
                Ok(false) => panic!("cursor found nothing"),
                Err(e) => {
                    exhausted = Some(e);
                    break;
                }
            }
        }
        let e = exhausted.expect("40 pinned leaves cannot fit a 32-page pool");
        assert!(matches!(e, BTreeError::CacheExhausted { .. }), "{e}");
        let st = tree.stats();
        assert!(st.cache_bytes_peak <= st.cache_bytes_max, "{st:?}");
        drop(cursors);
        assert_eq!(snap.get(&ks[0]).await.unwrap().as_ref(), m.get(&ks[0]));
    });
}

/// A pool that never fills (so nothing is swept) under constant page churn:
/// the CLOCK queue must not grow without bound.
#[test]
fn clock_queue_stays_bounded_without_evictions() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 64).await;
        for round in 0..400u32 {
            let mut txn = tree.begin_write().await;
            for i in 0..20u32 {
                txn.put(format!("k{i:03}").as_bytes(), &round.to_le_bytes())
                    .await
                    .unwrap();
            }
            txn.commit().await.unwrap();
        }
        let st = tree.stats();
        assert_eq!(st.evictions, 0);
        let queued = tree.shared.pool.clock_len();
        assert!(queued <= 2 * 64 + 64, "{queued}");
        assert!(queued >= 1, "{queued}");
    });
}
