//! A quick comparison with redb on a cached tree (point gets and 100-item
//! scans). Ignored by default; run in release:
//! `cargo test -p storage-node --release --lib btree::tests::perf -- --ignored --nocapture`.
//! The real benchmark is `benches/engine.rs`; this is for the tree alone.

use super::*;
use crate::io::StdDisk;
use redb::{ReadableDatabase, TableDefinition};
use std::time::Instant;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("t");

fn key(i: u64) -> Vec<u8> {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("pk{:016x}#sk{:04}", h, i % 10_000).into_bytes()
}

#[test]
#[ignore]
fn perf_vs_redb() {
    let n: u64 = std::env::var("PERF_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let gets: u64 = 400_000;
    let scans: u64 = 40_000;
    let dir = TempDir::new("perf");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = Rng::new(1);
    let val = rng.bytes(100);
    let probes: Vec<u64> = (0..gets).map(|_| rng.below(n)).collect();
    let mut sorted: Vec<Vec<u8>> = (0..n).map(key).collect();
    sorted.sort();
    let scan_starts: Vec<Vec<u8>> = (0..scans)
        .map(|_| sorted[rng.below(n - 200) as usize].clone())
        .collect();

    // ---- cairn ----
    let tree = rt.block_on(async {
        let mut c = cfg(dir.path().join("cairn.cbt"), 8192, 1);
        c.cache_bytes_max = 512 << 20;
        let tree = BTree::open(StdDisk, c).await.unwrap();
        let t0 = Instant::now();
        let mut i = 0;
        while i < n {
            let mut txn = tree.begin_write().await;
            for j in i..(i + 1000).min(n) {
                txn.put(&key(j), &val).await.unwrap();
            }
            txn.commit().await.unwrap();
            i += 1000;
        }
        tree.checkpoint().await.unwrap();
        eprintln!("cairn load {n}: {:?}", t0.elapsed());
        tree
    });
    // Alternate the two engines (best of 5 rounds each) to damp noise
    // from other processes.
    let db = redb::Database::create(dir.path().join("redb.redb")).unwrap();
    let t0 = Instant::now();
    let mut i = 0;
    while i < n {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(TABLE).unwrap();
            for j in i..(i + 1000).min(n) {
                t.insert(key(j).as_slice(), val.as_slice()).unwrap();
            }
        }
        w.commit().unwrap();
        i += 1000;
    }
    eprintln!("redb load {n}: {:?}", t0.elapsed());
    let keys: Vec<Vec<u8>> = probes.iter().map(|&p| key(p)).collect();
    let r = db.begin_read().unwrap();
    let t = r.open_table(TABLE).unwrap();
    let snap = tree.snapshot();
    let (mut cg, mut cs, mut rg, mut rs) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _round in 0..5 {
        let (g, sc) = rt.block_on(async {
            let t0 = Instant::now();
            for k in &keys {
                let v = snap.get(k).await.unwrap();
                assert_eq!(v.as_deref(), Some(&val[..]));
            }
            let g = t0.elapsed().as_nanos() as f64 / gets as f64;
            let t0 = Instant::now();
            for s in &scan_starts {
                let mut c = snap.range(
                    Bound::Included(s.clone()),
                    Bound::Unbounded,
                    Direction::Forward,
                );
                let mut got = 0;
                while got < 100 && c.advance().await.unwrap() {
                    std::hint::black_box((c.key(), c.value()));
                    got += 1;
                }
                assert_eq!(got, 100);
            }
            (g, t0.elapsed().as_nanos() as f64 / scans as f64)
        });
        cg = cg.min(g);
        cs = cs.min(sc);
        let t0 = Instant::now();
        for k in &keys {
            let v = t.get(k.as_slice()).unwrap().map(|g| g.value().to_vec());
            assert_eq!(v.as_deref(), Some(&val[..]));
        }
        rg = rg.min(t0.elapsed().as_nanos() as f64 / gets as f64);
        let t0 = Instant::now();
        for s in &scan_starts {
            let mut got = 0;
            for e in t.range(s.as_slice()..).unwrap().take(100) {
                let (k, v) = e.unwrap();
                std::hint::black_box((k.value(), v.value()));
                got += 1;
            }
            assert_eq!(got, 100);
        }
        rs = rs.min(t0.elapsed().as_nanos() as f64 / scans as f64);
    }
    let st = tree.stats();
    eprintln!(
        "cairn: get {cg:.0} ns, scan100 {cs:.0} ns (hits {}, misses {})",
        st.hits, st.misses
    );
    eprintln!("redb:  get {rg:.0} ns, scan100 {rs:.0} ns");
    eprintln!(
        "ratio (redb/cairn, >1 = cairn faster): get {:.2}, scan100 {:.2}",
        rg / cg,
        rs / cs
    );
}
