//! Tests for the B+tree, with shared helpers: a `BTreeMap` model, random
//! keys, values and bounds, scans, and temp dirs for `StdDisk` runs.
//!
//! - `model.rs`: random operation sequences against `BTreeMap`.
//! - `snapshot.rs`: snapshot isolation under writes, checkpoints, eviction;
//!   concurrent readers.
//! - `memory.rs`: the pool limit with trees much larger than the pool.
//! - `crash.rs`: crashes at random points on `MemDisk` (and failed I/O).
//! - `corrupt.rs`: bit flips in pages and superblocks.
//! - `durability.rs`: reopen, free-space reuse, size limits, `StdDisk`.

mod corrupt;
mod crash;
mod durability;
mod memory;
mod model;
mod snapshot;

use super::{BTree, BTreeConfig, BTreeError, Direction, Snapshot};
use crate::io::{Disk, MemDisk};
use crate::rng::Rng;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

pub(super) type Model = BTreeMap<Vec<u8>, Vec<u8>>;
pub(super) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

pub(super) const MEM_PATH: &str = "/db/node.cbt";

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub(super) fn cfg(path: impl Into<PathBuf>, page_size: usize, cache_pages: usize) -> BTreeConfig {
    let mut c = BTreeConfig::new(path);
    c.page_size_bytes = page_size;
    c.cache_bytes_max = page_size * cache_pages;
    c
}

pub(super) async fn open_mem(
    disk: &MemDisk,
    page_size: usize,
    cache_pages: usize,
) -> BTree<MemDisk> {
    BTree::open(disk.clone(), cfg(MEM_PATH, page_size, cache_pages))
        .await
        .expect("open tree on MemDisk")
}

/// Every entry of a range scan, via `next_owned`.
pub(super) async fn scan<D: Disk>(
    snap: &Snapshot<D>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    dir: Direction,
) -> Result<Entries, BTreeError> {
    let mut c = snap.range(start, end, dir);
    let mut out = Vec::new();
    while let Some(kv) = c.next_owned().await? {
        out.push(kv);
    }
    Ok(out)
}

/// Every entry of a range scan, via `advance`/`key`/`value`.
pub(super) async fn scan_borrowed<D: Disk>(
    snap: &Snapshot<D>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    dir: Direction,
) -> Result<Entries, BTreeError> {
    let mut c = snap.range(start, end, dir);
    let mut out = Vec::new();
    while c.advance().await? {
        out.push((c.key().to_vec(), c.value().to_vec()));
    }
    assert!(!c.advance().await?, "a finished cursor stays finished");
    Ok(out)
}

pub(super) async fn scan_all<D: Disk>(snap: &Snapshot<D>) -> Result<Entries, BTreeError> {
    scan(snap, Bound::Unbounded, Bound::Unbounded, Direction::Forward).await
}

pub(super) fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

pub(super) fn range_empty(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s >= e
        }
        _ => false,
    }
}

/// The model's entries in a range, in `dir` order.
pub(super) fn model_range(
    m: &Model,
    start: &Bound<Vec<u8>>,
    end: &Bound<Vec<u8>>,
    dir: Direction,
) -> Entries {
    if range_empty(start, end) {
        return Vec::new();
    }
    let mut v: Entries = m
        .range::<[u8], _>((bound_ref(start), bound_ref(end)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if dir == Direction::Backward {
        v.reverse();
    }
    v
}

pub(super) fn model_entries(m: &Model) -> Entries {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Random keys from a bounded space (so operations collide), with shared
/// prefixes and varied lengths.
#[derive(Clone, Copy, Debug)]
pub(super) struct Keys {
    pub space: u64,
    pub suffix_max: u64,
}

impl Keys {
    pub fn key(&self, rng: &mut Rng) -> Vec<u8> {
        self.key_of(rng.below(self.space))
    }

    /// Key number `n` of the space.
    pub fn key_of(&self, n: u64) -> Vec<u8> {
        let mut k = format!("k{n:06}").into_bytes();
        // A suffix derived from n keeps the space bounded.
        let mut r2 = Rng::new(n);
        let extra = r2.below(self.suffix_max + 1);
        for _ in 0..extra {
            k.push(b'a' + r2.below(4) as u8);
        }
        k
    }

    pub fn bound(&self, rng: &mut Rng) -> Bound<Vec<u8>> {
        match rng.below(5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(self.key(rng)),
            _ => Bound::Excluded(self.key(rng)),
        }
    }

    /// Bounds around a random point, `width` keys wide (either may be
    /// unbounded now and then).
    pub fn narrow_bounds(&self, rng: &mut Rng, width: u64) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let a = rng.below(self.space);
        let b = a + rng.below(width + 1);
        let mk = |rng: &mut Rng, n: u64| match rng.below(50) {
            0 => Bound::Unbounded,
            1..=25 => Bound::Included(self.key_of(n)),
            _ => Bound::Excluded(self.key_of(n)),
        };
        let s = mk(rng, a);
        let e = mk(rng, b);
        if rng.chance(1, 10) { (e, s) } else { (s, e) }
    }
}

/// A random value: mostly small, sometimes near the inline limit, sometimes
/// overflow-sized (when `big` is allowed).
pub(super) fn value(rng: &mut Rng, page_size: usize, big: bool) -> Vec<u8> {
    let len = match rng.below(20) {
        0 if big => rng.range(page_size as u64, 3 * page_size as u64) as usize,
        1 => {
            let half = page_size / 2;
            rng.range(half.saturating_sub(90) as u64, half as u64) as usize
        }
        _ => rng.below(40) as usize,
    };
    rng.bytes(len)
}

/// A fresh directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "cairn-btree-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One random write transaction (puts, deletes, small range deletes, gets
/// checked against the model) that commits with probability 4/5. Returns
/// the committed state (unchanged if it aborted), or the first error (the
/// transaction is then dropped, i.e. aborted).
pub(super) async fn random_txn<D: Disk>(
    tree: &BTree<D>,
    rng: &mut Rng,
    keys: Keys,
    model: &Model,
    page_size: usize,
    ops_max: u64,
) -> Result<Model, BTreeError> {
    let mut txn = tree.begin_write().await;
    let mut tm = model.clone();
    for _ in 0..rng.range(1, ops_max) {
        match rng.below(100) {
            0..=59 => {
                let k = keys.key(rng);
                let v = value(rng, page_size, true);
                txn.put(&k, &v).await?;
                tm.insert(k, v);
            }
            60..=79 => {
                let k = keys.key(rng);
                let got = txn.delete(&k).await?;
                assert_eq!(got, tm.remove(&k).is_some(), "delete {k:?}");
            }
            80..=82 => {
                let (s, e) = keys.narrow_bounds(rng, 30);
                let n = txn.delete_range(bound_ref(&s), bound_ref(&e)).await?;
                let expect = model_range(&tm, &s, &e, Direction::Forward);
                for (k, _) in &expect {
                    tm.remove(k);
                }
                assert_eq!(n, expect.len() as u64);
            }
            _ => {
                let k = keys.key(rng);
                assert_eq!(txn.get(&k).await?, tm.get(&k).cloned());
            }
        }
    }
    if rng.chance(1, 5) {
        return Ok(model.clone());
    }
    txn.commit().await?;
    Ok(tm)
}

/// Compile-time check: the tree, snapshots, cursors and every future the
/// API returns can move across threads (the engine spawns them).
#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let rt = rt();
    rt.block_on(async {
        let disk = MemDisk::new();
        let tree = open_mem(&disk, 512, 32).await;
        send_sync(&tree);
        let snap = tree.snapshot();
        send_sync(&snap);
        let mut cur = snap.range(Bound::Unbounded, Bound::Unbounded, Direction::Forward);
        send(cur.advance());
        send(cur.next_owned());
        send(snap.get(b"k"));
        send(snap.verify());
        send(tree.checkpoint());
        send(tree.begin_write());
        let mut txn = tree.begin_write().await;
        send(txn.get(b"k"));
        send(txn.put(b"k", b"v"));
        send(txn.delete(b"k"));
        send(txn.delete_range(Bound::Unbounded, Bound::Unbounded));
        send(txn.commit());
        send(BTree::open(disk.clone(), cfg(MEM_PATH, 512, 32)));
    });
}

/// Page accounting: with no write transaction open, every page of the file
/// (after the two superblock pages) is exactly one of: reachable from the
/// latest committed state, free, or freed-but-not-yet-reusable. Catches
/// leaked and doubly used pages.
pub(super) async fn assert_page_accounting<D: Disk>(tree: &BTree<D>) {
    let rep = tree.snapshot().verify().await.expect("verify");
    let live = rep.leaf_pages + rep.branch_pages + rep.overflow_pages;
    let st = tree.stats();
    assert_eq!(
        st.file_pages - 2,
        live + st.free_pages + st.pending_free_pages,
        "page accounting: {rep:?} {st:?}"
    );
}
