//! `scripts/bench engine`: Cairn's storage engine against `redb` (a
//! copy-on-write B-tree with durable commits) on the same work in the same
//! run, alternating A B A B, plus the bare `write + fdatasync` floor.
//! Prints a markdown table, then, as its last line, one JSON object.
//!
//! Work (1 KB values unless noted; data dir from `CAIRN_BENCH_DIR`, default
//! the system temp dir; round length from `CAIRN_BENCH_SECS`, default 3):
//! - durable puts, 64 and 1 concurrent writers: Cairn = WAL append (group
//!   commit, durable) then apply to the tree; redb = one write transaction
//!   per put with its default (immediate, durable) commit.
//! - point gets on a cached tree (50k keys, 100 B values), one reader.
//! - scans of 100 consecutive items from random starts, one reader.
//! - floor: one writer, 1 KB `pwrite` + `fdatasync` in a loop (std::fs).
//!
//! `CAIRN_BENCH_ONLY=gets` runs only the point-get rounds and also prints
//! how many gets each system did: for profiling, e.g. under
//! `valgrind --tool=callgrind --toggle-collect='*cairn_gets*'` (the get
//! loops are `#[inline(never)]` so they can be selected by name), dividing
//! the instructions by the printed count. `CAIRN_BENCH_IO=std` (default
//! `uring`) selects Cairn's I/O engine; valgrind cannot run io_uring, and
//! cached gets do no I/O either way.

use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_node::btree::Direction;
use storage_node::engine::{Apply, Engine, EngineConfig, WriteBatch};
use storage_node::io::{AnyDisk, IoEngine, open_disk};
use storage_node::rng::Rng;
use storage_node::wal::Record;

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("t");
const READ_KEYS: u64 = 50_000;

fn key(i: u64) -> Vec<u8> {
    let mut k = vec![0, 0, 0, 1];
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("bench dir");
    d
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(1).collect::<String>())
        .unwrap_or_else(|_| "?".into())
}

async fn open_engine(dir: &Path) -> Engine<AnyDisk> {
    let io: IoEngine = std::env::var("CAIRN_BENCH_IO")
        .map(|s| s.parse().expect("CAIRN_BENCH_IO"))
        .unwrap_or(IoEngine::Uring);
    let disk = open_disk(io).expect("io engine");
    let mut cfg = EngineConfig::new(dir);
    cfg.wal.segment_size_bytes = 64 << 20;
    cfg.tree.cache_bytes_max = 256 << 20;
    let (e, _) = Engine::open(disk, cfg).await.expect("engine open");
    e
}

/// Cairn durable puts: `writers` tasks, each its own partition, for `secs`.
/// Returns (records/s, records per fsync).
fn cairn_puts(base: &Path, writers: u64, secs: f64) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = fresh_dir(base, "cairn-puts");
        let e = open_engine(&dir).await;
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let value = vec![7u8; 1000];
        let start = Instant::now();
        let mut tasks = Vec::new();
        for p in 0..writers {
            let (e, stop, done, value) = (e.clone(), stop.clone(), done.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let mut b = WriteBatch::new();
                    b.put(key(p << 40 | i), value.clone());
                    let rec = Record {
                        partition: p,
                        ballot: 1,
                        index: i,
                        payload: b.encode(),
                    };
                    e.log(vec![rec]).await.expect("log");
                    e.apply(&[Apply::plain(p, i, &b)]).await.expect("apply");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let ck = {
            let (e, stop) = (e.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    e.checkpoint().await.expect("checkpoint");
                }
            })
        };
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("writer");
        }
        let elapsed = start.elapsed().as_secs_f64();
        ck.await.expect("checkpointer");
        let s = e.wal().stats();
        let n = done.load(Ordering::Relaxed) as f64;
        (n / elapsed, s.records as f64 / s.syncs.max(1) as f64)
    })
}

/// redb durable puts: `writers` threads, one write transaction per put.
fn redb_puts(base: &Path, writers: u64, secs: f64) -> f64 {
    let dir = fresh_dir(base, "redb-puts");
    let db = Arc::new(redb::Database::create(dir.join("db.redb")).expect("redb"));
    {
        let w = db.begin_write().expect("w");
        w.open_table(TABLE).expect("t");
        w.commit().expect("c");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|p| {
            let (db, stop, done) = (db.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let value = vec![7u8; 1000];
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let w = db.begin_write().expect("begin");
                    {
                        let mut t = w.open_table(TABLE).expect("table");
                        t.insert(key(p << 40 | i).as_slice(), value.as_slice())
                            .expect("insert");
                    }
                    w.commit().expect("commit");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("redb writer");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// The floor: one writer, 1 KB pwrite + fdatasync, overwriting a file that
/// was zero-filled and synced first (so, like the WAL's preallocated
/// segments, no write changes file metadata; a file that grows on every
/// write pays a journal commit per fdatasync and is not a floor).
fn fsync_floor(base: &Path, secs: f64) -> f64 {
    use std::os::unix::fs::FileExt;
    let dir = fresh_dir(base, "floor");
    let f = std::fs::File::create(dir.join("f")).expect("floor file");
    let prealloc_bytes = 64u64 << 20;
    let zeros = vec![0u8; 1 << 20];
    for i in 0..prealloc_bytes / zeros.len() as u64 {
        f.write_all_at(&zeros, i * zeros.len() as u64)
            .expect("zero fill");
    }
    f.sync_all().expect("fsync");
    let buf = vec![7u8; 1024];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        f.write_all_at(&buf, n * 1024 % prealloc_bytes)
            .expect("write");
        f.sync_data().expect("fdatasync");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Loaded read-side fixtures for both systems.
struct Readers {
    rt: tokio::runtime::Runtime,
    cairn: Engine<AnyDisk>,
    redb: redb::Database,
}

fn load_readers(base: &Path) -> Readers {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let value = vec![3u8; 100];
    let cairn = rt.block_on(async {
        let e = open_engine(&fresh_dir(base, "cairn-read")).await;
        for chunk in 0..READ_KEYS / 1000 {
            let mut b = WriteBatch::new();
            for i in chunk * 1000..(chunk + 1) * 1000 {
                b.put(key(i), value.clone());
            }
            e.apply(&[Apply::plain(1, chunk + 1, &b)])
                .await
                .expect("load");
        }
        e.checkpoint().await.expect("checkpoint");
        e
    });
    let redb = redb::Database::create(fresh_dir(base, "redb-read").join("db.redb")).expect("redb");
    let w = redb.begin_write().expect("w");
    {
        let mut t = w.open_table(TABLE).expect("t");
        for i in 0..READ_KEYS {
            t.insert(key(i).as_slice(), value.as_slice())
                .expect("insert");
        }
    }
    w.commit().expect("commit");
    Readers { rt, cairn, redb }
}

const OPS_PER_VIEW: u64 = 100;

/// Point gets for `secs`: (gets/s, gets done).
#[inline(never)]
fn cairn_gets(r: &Readers, secs: f64, seed: u64) -> (f64, u64) {
    r.rt.block_on(async {
        let mut rng = Rng::new(seed);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            let snap = r.cairn.snapshot();
            for _ in 0..OPS_PER_VIEW {
                let v = snap.get(&key(rng.below(READ_KEYS))).await.expect("get");
                assert_eq!(v.map(|v| v.len()), Some(100));
                n += 1;
            }
        }
        (n as f64 / start.elapsed().as_secs_f64(), n)
    })
}

#[inline(never)]
fn redb_gets(r: &Readers, secs: f64, seed: u64) -> (f64, u64) {
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let txn = r.redb.begin_read().expect("read");
        let t = txn.open_table(TABLE).expect("table");
        for _ in 0..OPS_PER_VIEW {
            let v = t.get(key(rng.below(READ_KEYS)).as_slice()).expect("get");
            assert_eq!(v.map(|v| v.value().len()), Some(100));
            n += 1;
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn cairn_scans(r: &Readers, secs: f64, seed: u64) -> f64 {
    r.rt.block_on(async {
        let mut rng = Rng::new(seed);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            let snap = r.cairn.snapshot();
            let from = key(rng.below(READ_KEYS - 100));
            let mut c = snap.range(
                std::ops::Bound::Included(from),
                std::ops::Bound::Unbounded,
                Direction::Forward,
            );
            let mut bytes = 0;
            for _ in 0..100 {
                assert!(c.advance().await.expect("advance"));
                bytes += c.value().len();
            }
            assert_eq!(bytes, 100 * 100);
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
}

fn redb_scans(r: &Readers, secs: f64, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let txn = r.redb.begin_read().expect("read");
        let t = txn.open_table(TABLE).expect("table");
        let from = key(rng.below(READ_KEYS - 100));
        let mut bytes = 0;
        for item in t.range(from.as_slice()..).expect("range").take(100) {
            let (_, v) = item.expect("item");
            bytes += v.value().len();
        }
        assert_eq!(bytes, 100 * 100);
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// `CAIRN_BENCH_ONLY=gets`: the point-get rounds alone, with op counts.
fn only_gets(base: &Path, rounds: u64, secs: f64, load_start: &str) {
    let readers = load_readers(base);
    let (mut cg, mut rg, mut cn, mut rn) = (vec![], vec![], 0, 0);
    for round in 0..rounds {
        let (rate, n) = cairn_gets(&readers, secs, round);
        cg.push(rate);
        cn += n;
        let (rate, n) = redb_gets(&readers, secs, round);
        rg.push(rate);
        rn += n;
    }
    let _ = std::fs::remove_dir_all(base);
    println!(
        "point gets only, {rounds} alternating rounds of {secs} s, load {load_start}→{}",
        loadavg()
    );
    println!(
        "cairn: {:.0} gets/s ({cn} gets), redb: {:.0} gets/s ({rn} gets), ratio {:.2}",
        mean(&cg),
        mean(&rg),
        mean(&cg) / mean(&rg)
    );
}

fn main() {
    let secs: f64 = std::env::var("CAIRN_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let base = std::env::var("CAIRN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("cairn-bench"));
    let load_start = loadavg();
    let rounds: u64 = 2;
    if std::env::var("CAIRN_BENCH_ONLY").as_deref() == Ok("gets") {
        return only_gets(&base, rounds, secs, &load_start);
    }
    let (mut c64, mut r64, mut c1, mut r1, mut per_sync, mut floor) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (tput, ps) = cairn_puts(&base, 64, secs);
        c64.push(tput);
        per_sync.push(ps);
        r64.push(redb_puts(&base, 64, secs));
        c1.push(cairn_puts(&base, 1, secs).0);
        r1.push(redb_puts(&base, 1, secs));
        floor.push(fsync_floor(&base, secs));
    }
    let readers = load_readers(&base);
    let (mut cg, mut rg, mut cs, mut rs) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        cg.push(cairn_gets(&readers, secs, round).0);
        rg.push(redb_gets(&readers, secs, round).0);
        cs.push(cairn_scans(&readers, secs, round));
        rs.push(redb_scans(&readers, secs, round));
    }
    let _ = std::fs::remove_dir_all(&base);
    let load_end = loadavg();

    let row = |name: &str, c: &[f64], r: &[f64]| {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} |",
            mean(c),
            mean(r),
            mean(c) / mean(r)
        );
    };
    println!(
        "engine benchmark, {rounds} alternating rounds of {secs} s, load {load_start}→{load_end}"
    );
    println!();
    println!("| work (ops/s) | cairn | redb | ratio |");
    println!("|---|---|---|---|");
    row("durable put 1 KB, 64 writers", &c64, &r64);
    row("durable put 1 KB, 1 writer", &c1, &r1);
    row("point get (cached, 50k keys)", &cg, &rg);
    row("scan 100 items", &cs, &rs);
    println!();
    println!(
        "floor: bare 1 KB write+fdatasync, 1 writer: {:.0} records/s; cairn 64 writers reaches {:.2}x it, {:.1} records per fsync",
        mean(&floor),
        mean(&c64) / mean(&floor),
        mean(&per_sync)
    );
    println!(
        "{{\"durable_put_1kb_64w_ratio_vs_redb\": {:.3}, \"durable_put_1kb_1w_ratio_vs_redb\": {:.3}, \"point_get_ratio_vs_redb\": {:.3}, \"scan_100_ratio_vs_redb\": {:.3}, \"group_commit_records_per_fsync_64w\": {:.2}, \"fsync_floor_ratio_64w\": {:.3}}}",
        mean(&c64) / mean(&r64),
        mean(&c1) / mean(&r1),
        mean(&cg) / mean(&rg),
        mean(&cs) / mean(&rs),
        mean(&per_sync),
        mean(&c64) / mean(&floor)
    );
}
