//! Reopen after checkpoints (on `StdDisk` in a temp dir and on `MemDisk`
//! with `O_DIRECT` rules), uncheckpointed commits vanishing on reopen,
//! free-space reuse under steady updates, key and value size limits, and
//! configuration errors.

use super::*;
use crate::io::StdDisk;

#[test]
fn reopen_yields_last_checkpoint_std_disk() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = TempDir::new("reopen");
        let path = dir.path().join("sub/node.cbt");
        let mut rng = Rng::new(11);
        let keys = Keys {
            space: 3000,
            suffix_max: 5,
        };
        let open = || BTree::open(StdDisk, cfg(&path, 1024, 40));
        let tree = open().await.unwrap();
        let mut m = Model::new();
        for _ in 0..30 {
            m = random_txn(&tree, &mut rng, keys, &m, 1024, 60)
                .await
                .unwrap();
        }
        tree.checkpoint().await.unwrap();
        let durable = m.clone();
        for _ in 0..30 {
            m = random_txn(&tree, &mut rng, keys, &m, 1024, 60)
                .await
                .unwrap();
        }
        assert_ne!(m, durable);
        let st = tree.stats();
        assert!(
            st.evictions > 0,
            "uncheckpointed pages must reach the file: {st:?}"
        );
        drop(tree);
        let tree = open().await.unwrap();
        assert_eq!(
            scan_all(&tree.snapshot()).await.unwrap(),
            model_entries(&durable)
        );
        tree.snapshot().verify().await.unwrap();
        let mut m = durable;
        for _ in 0..20 {
            m = random_txn(&tree, &mut rng, keys, &m, 1024, 60)
                .await
                .unwrap();
        }
        tree.checkpoint().await.unwrap();
        let again = tree.checkpoint().await.unwrap();
        assert!(again.skipped);
        drop(tree);
        let tree = open().await.unwrap();
        assert_eq!(scan_all(&tree.snapshot()).await.unwrap(), model_entries(&m));
        assert_eq!(tree.page_size(), 1024);
    });
}

#[test]
fn direct_io_rules_hold() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let mut c = cfg(MEM_PATH, 4096, 40);
        c.direct_io = true;
        let tree = BTree::open(disk.clone(), c.clone()).await.unwrap();
        let mut rng = Rng::new(5);
        let keys = Keys {
            space: 2000,
            suffix_max: 3,
        };
        let mut m = Model::new();
        for _ in 0..20 {
            m = random_txn(&tree, &mut rng, keys, &m, 4096, 80)
                .await
                .unwrap();
        }
        tree.checkpoint().await.unwrap();
        drop(tree);
        let tree = BTree::open(disk.clone(), c.clone()).await.unwrap();
        assert_eq!(scan_all(&tree.snapshot()).await.unwrap(), model_entries(&m));
        c.page_size_bytes = 512;
        let err = BTree::open(disk, c)
            .await
            .err()
            .expect("512-byte pages with O_DIRECT");
        assert!(matches!(err, BTreeError::Config { .. }), "{err}");
    });
}

/// An existing file keeps its page size whatever the config says.
#[test]
fn page_size_comes_from_the_file() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 1024, 40).await;
        let mut txn = tree.begin_write().await;
        txn.put(b"a", b"1").await.unwrap();
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        // A second checkpoint writes slot 1, which open must find at 1024.
        let mut txn = tree.begin_write().await;
        txn.put(b"b", b"2").await.unwrap();
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        drop(tree);
        let tree = open_mem(&disk, 8192, 40).await;
        assert_eq!(tree.page_size(), 1024);
        assert_eq!(
            tree.snapshot().get(b"b").await.unwrap(),
            Some(b"2".to_vec())
        );
        assert!(!tree.stats().superblock_fallback);
    });
}

#[test]
fn free_space_is_reused_under_steady_updates() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 64).await;
        let mut rng = Rng::new(9);
        let keys = Keys {
            space: 2000,
            suffix_max: 4,
        };
        let mut m = Model::new();
        let mut txn = tree.begin_write().await;
        // Keys below 60 always hold overflow values: the live size stays
        // about constant, so the file must too.
        let val = |rng: &mut Rng, i: u64| {
            let len = if i < 60 {
                1500
            } else {
                rng.range(10, 50) as usize
            };
            rng.bytes(len)
        };
        for i in 0..2000 {
            let k = keys.key_of(i);
            let v = val(&mut rng, i);
            txn.put(&k, &v).await.unwrap();
            m.insert(k, v);
        }
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        let mut sizes = Vec::new();
        for round in 0..200 {
            let mut txn = tree.begin_write().await;
            for _ in 0..40 {
                let i = rng.below(keys.space);
                let k = keys.key_of(i);
                let v = val(&mut rng, i);
                txn.put(&k, &v).await.unwrap();
                m.insert(k, v);
            }
            txn.commit().await.unwrap();
            if round % 5 == 4 {
                tree.checkpoint().await.unwrap();
                sizes.push(tree.stats().file_pages);
            }
        }
        let early = sizes[4];
        let late = *sizes.last().unwrap();
        assert!(
            late <= early + early / 4,
            "file grows without bound: {sizes:?}"
        );
        assert_eq!(scan_all(&tree.snapshot()).await.unwrap(), model_entries(&m));
    });
}

#[test]
fn size_limits() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 8192, 64).await;
        assert!(tree.max_key_bytes() >= 3200, "{}", tree.max_key_bytes());
        assert!(tree.max_value_bytes() >= 1 << 20);
        let mut rng = Rng::new(1);
        let mut m = Model::new();
        let mut txn = tree.begin_write().await;
        for i in 0..40u32 {
            let mut k = rng.bytes(3200);
            k[..4].copy_from_slice(&i.to_be_bytes());
            let len = if i % 10 == 0 {
                (1 << 20) + i as usize
            } else {
                rng.below(5000) as usize
            };
            let v = rng.bytes(len);
            txn.put(&k, &v).await.unwrap();
            m.insert(k, v);
        }
        let k = vec![7u8; tree.max_key_bytes()];
        txn.put(&k, b"max key").await.unwrap();
        m.insert(k, b"max key".to_vec());
        let too_long = vec![1u8; tree.max_key_bytes() + 1];
        let e = txn.put(&too_long, b"x").await.unwrap_err();
        assert!(matches!(e, BTreeError::KeyTooLarge { .. }), "{e}");
        let e = txn
            .put(b"big", &vec![0u8; tree.max_value_bytes() + 1])
            .await
            .unwrap_err();
        assert!(matches!(e, BTreeError::ValueTooLarge { .. }), "{e}");
        // Size errors do not spoil the transaction.
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        drop(tree);
        let tree = open_mem(&disk, 8192, 64).await;
        let snap = tree.snapshot();
        assert_eq!(scan_all(&snap).await.unwrap(), model_entries(&m));
        for (k, v) in &m {
            assert_eq!(snap.get(k).await.unwrap().as_ref(), Some(v));
        }
        let mut txn = tree.begin_write().await;
        let n = txn
            .delete_range(Bound::Unbounded, Bound::Unbounded)
            .await
            .unwrap();
        assert_eq!(n, m.len() as u64);
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        let st = tree.stats();
        assert!(
            st.free_pages + st.pending_free_pages + 4 >= st.file_pages - 2,
            "{st:?}"
        );
    });
}

#[test]
fn bad_configs_are_typed_errors() {
    rt().block_on(async {
        for (ps, pages) in [(1000, 64), (256, 64), (65536, 64), (4096, 8)] {
            let err = BTree::open(MemDisk::new(), cfg(MEM_PATH, ps, pages))
                .await
                .err()
                .expect("invalid config");
            assert!(
                matches!(err, BTreeError::Config { .. }),
                "{ps} {pages}: {err}"
            );
        }
    });
}

/// A failed write transaction (I/O error midway) refuses further use and
/// aborts cleanly on drop; the tree stays usable.
#[test]
fn failed_transaction_aborts_cleanly() {
    use crate::io::{Fault, FaultOp};
    rt().block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 32).await;
        let mut txn = tree.begin_write().await;
        txn.put(b"a", b"1").await.unwrap();
        txn.commit().await.unwrap();
        let mut txn = tree.begin_write().await;
        disk.inject(Fault::always(FaultOp::Write, MEM_PATH));
        let e = txn.put(b"big", &[5u8; 3000]).await.unwrap_err();
        assert!(matches!(e, BTreeError::Io(_)), "{e}");
        let e = txn.put(b"b", b"2").await.unwrap_err();
        assert!(matches!(e, BTreeError::TxnFailed { .. }), "{e}");
        assert!(txn.commit().await.is_err());
        disk.clear_faults();
        let mut txn = tree.begin_write().await;
        txn.put(b"b", b"2").await.unwrap();
        txn.commit().await.unwrap();
        let all = scan_all(&tree.snapshot()).await.unwrap();
        assert_eq!(
            all,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        let st = tree.stats();
        assert!(
            st.cache_bytes <= 4 * 512,
            "aborted transaction leaked pool pages: {st:?}"
        );
    });
}

/// Cancelling a read midway returns its pool reservation; cancelling a
/// checkpoint midway poisons later checkpoints (its superblock might still
/// land) while reads and commits go on; reopening recovers.
#[test]
fn cancellation_is_safe() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = TempDir::new("cancel");
        let path = dir.path().join("node.cbt");
        let tree = BTree::open(StdDisk, cfg(&path, 1024, 40)).await.unwrap();
        let mut txn = tree.begin_write().await;
        for i in 0..3000u32 {
            txn.put(format!("k{i:06}").as_bytes(), &[1; 30])
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
        tree.checkpoint().await.unwrap();
        tree.drop_clean_cache();
        // Poll reads once (StdDisk reads are pending on the blocking pool),
        // then drop them.
        let mut cx = Context::from_waker(Waker::noop());
        let snap = tree.snapshot();
        let mut pending = 0;
        for i in 0..200u32 {
            let key = format!("k{:06}", i * 13);
            let mut f = pin!(snap.get(key.as_bytes()));
            if f.as_mut().poll(&mut cx).is_pending() {
                pending += 1;
            }
        }
        assert!(pending > 0, "reads never went to disk");
        // Give the blocking pool time to finish the abandoned reads.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Only the pinned root stays; anything else is a leaked reservation.
        tree.drop_clean_cache();
        let st = tree.stats();
        assert!(
            st.cache_bytes <= 2 * 1024,
            "cancelled reads leaked reservations: {st:?}"
        );
        for i in 0..3000u32 {
            let key = format!("k{i:06}");
            assert_eq!(snap.get(key.as_bytes()).await.unwrap(), Some(vec![1; 30]));
        }
        let mut txn = tree.begin_write().await;
        txn.put(b"k000001", &[2; 30]).await.unwrap();
        txn.commit().await.unwrap();
        {
            let mut f = pin!(tree.checkpoint());
            let mut polls = 0;
            while f.as_mut().poll(&mut cx).is_pending() && polls < 1 {
                polls += 1;
            }
        }
        let err = tree.checkpoint().await.unwrap_err();
        assert!(matches!(err, BTreeError::Poisoned { .. }), "{err}");
        assert_eq!(snap.get(b"k000002").await.unwrap(), Some(vec![1; 30]));
        drop(snap);
        drop(tree);
        let tree = BTree::open(StdDisk, cfg(&path, 1024, 40)).await.unwrap();
        let v = tree.snapshot().get(b"k000001").await.unwrap().unwrap();
        assert!(v == vec![1; 30] || v == vec![2; 30]);
        tree.snapshot().verify().await.unwrap();
    });
}
