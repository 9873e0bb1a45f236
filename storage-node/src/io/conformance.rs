//! The engine conformance suite: one set of generic async cases, each run
//! against every engine (`StdDisk`, `UringDisk` on a current-thread and on a
//! multi-thread runtime, `MemDisk`), so all of them provide the semantics
//! documented in `io/mod.rs`.
//!
//! Real engines run in a fresh directory under `std::env::temp_dir()`
//! (unique per test, removed at the end); `MemDisk` in `/conformance/<case>`.
//! Randomized cases take a seed from `crate::rng::for_each_seed` and print a
//! replay command on failure. Engine-specific tests live next to their
//! engine: `io/uring/tests.rs` (cancellation, backpressure, shutdown) and
//! `io/mem_tests.rs` (crash model, faults, bit flips).

use super::{Disk, DiskFile, IO_ALIGN, IoBuf, IoError, OpenOptions, read_exact_at};
use crate::rng::Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "cairn-io-{}-{name}-{n}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn rt_current() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub(crate) fn rt_multi() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Opens (creating) `dir/name`.
async fn create<D: Disk>(d: &D, dir: &Path, name: &str) -> D::File {
    d.open(&dir.join(name), OpenOptions::CREATE)
        .await
        .expect("create file")
}

async fn write<F: DiskFile>(f: &F, data: &[u8], offset: u64) {
    let (res, _) = f.write_at(IoBuf::from_slice(data), offset).await;
    res.unwrap_or_else(|e| panic!("write {} bytes at {offset}: {e}", data.len()));
}

/// Reads up to `len` bytes at `offset`; returns what was read.
async fn read<F: DiskFile>(f: &F, len: usize, offset: u64) -> Vec<u8> {
    let (res, buf) = f.read_at(IoBuf::zeroed(len), offset).await;
    let n = res.unwrap_or_else(|e| panic!("read {len} bytes at {offset}: {e}"));
    assert!(n <= len);
    buf[..n].to_vec()
}

fn expect_err<T>(r: Result<T, IoError>, what: &str) -> IoError {
    match r {
        Ok(_) => panic!("{what}: unexpectedly succeeded"),
        Err(e) => e,
    }
}

/// Random writes at random offsets and sizes against an in-memory model,
/// with reads of random ranges (including past end of file) checked along
/// the way, then a full comparison.
pub(crate) async fn round_trip_random<D: Disk>(d: &D, dir: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    let f = create(d, dir, "rt").await;
    let f2 = f.clone();
    let mut model: Vec<u8> = Vec::new();
    for step in 0..60 {
        let len = rng.range(1, 20_000) as usize;
        let off = rng.below(200_000);
        let data = rng.bytes(len);
        // Alternate handles: clones share the file.
        write(if step % 2 == 0 { &f } else { &f2 }, &data, off).await;
        let end = off as usize + len;
        if model.len() < end {
            model.resize(end, 0);
        }
        model[off as usize..end].copy_from_slice(&data);
        let roff = rng.below(model.len() as u64 + 5_000);
        let rlen = rng.range(1, 30_000) as usize;
        let got = read(&f, rlen, roff).await;
        let from = (roff as usize).min(model.len());
        let to = (roff as usize + rlen).min(model.len());
        assert_eq!(got, model[from..to], "step {step}: read {rlen} at {roff}");
        if rng.chance(1, 8) {
            f.sync_data().await.expect("sync_data");
        }
    }
    assert_eq!(f.len().await.expect("len"), model.len() as u64);
    assert_eq!(read(&f2, model.len() + 100, 0).await, model);
    let exact = read_exact_at(&f, model.len(), 0)
        .await
        .expect("read_exact_at");
    assert_eq!(exact.as_slice(), &model[..]);
    assert!(read_exact_at(&f, model.len() + 1, 0).await.is_err());
}

pub(crate) async fn read_past_eof_is_short<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    let f = create(d, dir, "eof").await;
    assert_eq!(f.len().await.expect("len"), 0);
    assert_eq!(read(&f, 100, 0).await, Vec::<u8>::new());
    write(&f, &[7; 100], 0).await;
    assert_eq!(read(&f, 4096, 0).await, vec![7; 100]);
    assert_eq!(read(&f, 4096, 60).await, vec![7; 40]);
    assert_eq!(read(&f, 10, 100).await, Vec::<u8>::new());
    assert_eq!(read(&f, 10, 1 << 30).await, Vec::<u8>::new());
}

pub(crate) async fn write_extends_with_zero_gap<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    let f = create(d, dir, "gap").await;
    write(&f, &[1; 10], 10_000).await;
    assert_eq!(f.len().await.expect("len"), 10_010);
    let all = read(&f, 20_000, 0).await;
    assert_eq!(all.len(), 10_010);
    assert!(all[..10_000].iter().all(|&b| b == 0));
    assert_eq!(&all[10_000..], &[1; 10]);
    // An empty write is a no-op and does not extend.
    write(&f, &[], 50_000).await;
    assert_eq!(f.len().await.expect("len"), 10_010);
}

pub(crate) async fn allocate_extends_with_zeros<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    let f = create(d, dir, "alloc").await;
    write(&f, &[9; 1000], 0).await;
    f.allocate(0, 65_536).await.expect("allocate");
    assert_eq!(f.len().await.expect("len"), 65_536);
    let all = read(&f, 70_000, 0).await;
    assert_eq!(all.len(), 65_536);
    assert_eq!(&all[..1000], &[9; 1000]);
    assert!(all[1000..].iter().all(|&b| b == 0));
    // Allocating inside the file neither shrinks it nor touches data.
    f.allocate(0, 10).await.expect("allocate inside");
    assert_eq!(f.len().await.expect("len"), 65_536);
    assert_eq!(read(&f, 1000, 0).await, vec![9; 1000]);
    // Allocating at an offset past the end grows to offset + len.
    f.allocate(100_000, 4096).await.expect("allocate past end");
    assert_eq!(f.len().await.expect("len"), 104_096);
    f.sync_all().await.expect("sync_all");
}

pub(crate) async fn set_len_truncates_and_extends<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    let f = create(d, dir, "setlen").await;
    write(&f, &[0xAB; 8192], 0).await;
    f.set_len(100).await.expect("shrink");
    assert_eq!(f.len().await.expect("len"), 100);
    assert_eq!(read(&f, 8192, 0).await, vec![0xAB; 100]);
    f.set_len(5000).await.expect("extend");
    let all = read(&f, 8192, 0).await;
    assert_eq!(all.len(), 5000);
    assert_eq!(&all[..100], &[0xAB; 100]);
    assert!(
        all[100..].iter().all(|&b| b == 0),
        "extension must read as zeros"
    );
    f.set_len(0).await.expect("to zero");
    assert_eq!(f.len().await.expect("len"), 0);
}

pub(crate) async fn sync_and_reopen<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    let p = dir.join("sync");
    let f = d.open(&p, OpenOptions::CREATE).await.expect("create");
    write(&f, b"hello", 0).await;
    f.sync_data().await.expect("sync_data");
    f.sync_all().await.expect("sync_all");
    d.sync_dir(dir).await.expect("sync_dir");
    drop(f);
    let g = d.open(&p, OpenOptions::EXISTING).await.expect("reopen");
    assert_eq!(read(&g, 100, 0).await, b"hello");
    // `create` on an existing file keeps its contents; `truncate` empties it.
    let h = d
        .open(&p, OpenOptions::CREATE)
        .await
        .expect("open create existing");
    assert_eq!(h.len().await.expect("len"), 5);
    let t = OpenOptions {
        truncate: true,
        ..OpenOptions::EXISTING
    };
    let h = d.open(&p, t).await.expect("open truncate");
    assert_eq!(h.len().await.expect("len"), 0);
    assert_eq!(g.len().await.expect("len via old handle"), 0);
    assert_eq!(h.path(), p.as_path());
}

pub(crate) async fn direct_io_alignment<D: Disk>(d: &D, dir: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    let p = dir.join("direct");
    let f = d
        .open(&p, OpenOptions::CREATE.with_direct(true))
        .await
        .expect("open O_DIRECT");
    let data = rng.bytes(2 * IO_ALIGN);
    let (res, _) = f.write_at(IoBuf::from_slice(&data), IO_ALIGN as u64).await;
    res.expect("aligned direct write");
    f.sync_data().await.expect("sync_data");
    let (res, buf) = f
        .read_at(IoBuf::zeroed(2 * IO_ALIGN), IO_ALIGN as u64)
        .await;
    assert_eq!(res.expect("aligned direct read"), 2 * IO_ALIGN);
    assert_eq!(buf.as_slice(), &data[..]);
    // Reading at end of file returns 0; past it, too.
    let (res, _) = f
        .read_at(IoBuf::zeroed(IO_ALIGN), 3 * IO_ALIGN as u64)
        .await;
    assert_eq!(res.expect("read at eof"), 0);
    // Misaligned offset, misaligned length: rejected for reads and writes,
    // with the buffer handed back.
    let (res, buf) = f.write_at(IoBuf::zeroed(IO_ALIGN), 100).await;
    assert!(
        matches!(res, Err(IoError::Misaligned { offset: 100, .. })),
        "{res:?}"
    );
    assert_eq!(buf.len(), IO_ALIGN);
    let (res, _) = f.write_at(IoBuf::zeroed(100), 0).await;
    assert!(
        matches!(res, Err(IoError::Misaligned { len: 100, .. })),
        "{res:?}"
    );
    let (res, _) = f.read_at(IoBuf::zeroed(IO_ALIGN), 512).await;
    assert!(matches!(res, Err(IoError::Misaligned { .. })), "{res:?}");
    let (res, _) = f.read_at(IoBuf::zeroed(IO_ALIGN + 1), 0).await;
    assert!(matches!(res, Err(IoError::Misaligned { .. })), "{res:?}");
    // Nothing was written by the rejected calls.
    assert_eq!(f.len().await.expect("len"), 3 * IO_ALIGN as u64);
    // The same file opened buffered sees the direct writes.
    let g = d
        .open(&p, OpenOptions::EXISTING)
        .await
        .expect("open buffered");
    assert_eq!(read(&g, 2 * IO_ALIGN, IO_ALIGN as u64).await, data);
    assert_eq!(read(&g, 10, 100).await, vec![0; 10]);
}

pub(crate) async fn namespace_ops<D: Disk>(d: &D, dir: &Path, _seed: u64) {
    assert_eq!(d.list(dir).await.expect("list empty"), Vec::<String>::new());
    for name in ["c", "a", "b"] {
        let f = create(d, dir, name).await;
        write(&f, name.as_bytes(), 0).await;
    }
    d.sync_dir(dir).await.expect("sync_dir");
    assert_eq!(d.list(dir).await.expect("list"), ["a", "b", "c"]);
    d.rename(&dir.join("a"), &dir.join("d"))
        .await
        .expect("rename");
    assert_eq!(d.list(dir).await.expect("list"), ["b", "c", "d"]);
    let moved = d
        .open(&dir.join("d"), OpenOptions::EXISTING)
        .await
        .expect("open renamed");
    assert_eq!(read(&moved, 10, 0).await, b"a");
    // Renaming over an existing file replaces it.
    d.rename(&dir.join("b"), &dir.join("c"))
        .await
        .expect("rename over");
    assert_eq!(d.list(dir).await.expect("list"), ["c", "d"]);
    let c = d
        .open(&dir.join("c"), OpenOptions::EXISTING)
        .await
        .expect("open c");
    assert_eq!(read(&c, 10, 0).await, b"b");
    d.remove(&dir.join("d")).await.expect("remove");
    assert_eq!(d.list(dir).await.expect("list"), ["c"]);
    // A removed file's open handle keeps working (Unix semantics).
    write(&moved, b"still", 0).await;
    assert_eq!(read(&moved, 10, 0).await, b"still");
    d.sync_dir(dir).await.expect("sync_dir");
    // Missing things are NotFound, recognisable with `is_not_found`.
    let missing = dir.join("missing");
    let e = expect_err(
        d.open(&missing, OpenOptions::EXISTING).await,
        "open missing",
    );
    assert!(e.is_not_found(), "{e}");
    let e = d.remove(&missing).await.expect_err("remove missing");
    assert!(e.is_not_found(), "{e}");
    let e = d
        .rename(&missing, &dir.join("x"))
        .await
        .expect_err("rename missing");
    assert!(e.is_not_found(), "{e}");
    let e = d
        .list(&dir.join("nodir"))
        .await
        .expect_err("list missing dir");
    assert!(e.is_not_found(), "{e}");
    let e = expect_err(
        d.open(&dir.join("nodir").join("f"), OpenOptions::CREATE)
            .await,
        "create in missing dir",
    );
    assert!(e.is_not_found(), "{e}");
    // Nested directories appear in their parent's listing.
    let sub = dir.join("sub").join("deeper");
    d.create_dir_all(&sub).await.expect("create_dir_all");
    d.create_dir_all(&sub)
        .await
        .expect("create_dir_all is idempotent");
    create(d, &sub, "f").await;
    assert_eq!(d.list(dir).await.expect("list"), ["c", "sub"]);
    assert_eq!(d.list(&sub).await.expect("list sub"), ["f"]);
    d.sync_dir(&sub).await.expect("sync_dir sub");
}

/// 64 tasks write and read back their own regions of one file, in several
/// rounds, while 8 readers keep re-reading a shared, unchanging region.
pub(crate) async fn concurrent_tasks<D: Disk>(d: &D, dir: &Path, seed: u64) {
    const TASKS: u64 = 64;
    const REGION: usize = 3000; // not sector aligned on purpose
    const ROUNDS: u64 = 4;
    let f = create(d, dir, "conc").await;
    let shared_at = TASKS * REGION as u64;
    let shared = Rng::new(seed ^ 0xABCD).bytes(8192);
    write(&f, &shared, shared_at).await;
    let region = move |t: u64, round: u64| Rng::new(seed ^ (t << 8) ^ round).bytes(REGION);
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let data = region(t, round);
                write(&f, &data, t * REGION as u64).await;
                assert_eq!(
                    read(&f, REGION, t * REGION as u64).await,
                    data,
                    "task {t} round {round}"
                );
                if round == 1 {
                    f.sync_data().await.expect("sync_data");
                }
            }
        }));
    }
    for r in 0..8 {
        let f = f.clone();
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..16 {
                assert_eq!(
                    read(&f, shared.len(), shared_at).await,
                    shared,
                    "reader {r} pass {i}"
                );
            }
        }));
    }
    for h in handles {
        h.await.expect("task panicked");
    }
    for t in 0..TASKS {
        assert_eq!(
            read(&f, REGION, t * REGION as u64).await,
            region(t, ROUNDS - 1),
            "final task {t}"
        );
    }
}

/// Expands to one `#[test]` per case for an engine: `$setup` returns
/// `(runtime, disk, keep_alive, dir)`.
macro_rules! engine_suite {
    ($module:ident, $setup:expr, [$($case:ident: $seeds:expr),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    let name = concat!("io::conformance::", stringify!($module), "::", stringify!($case));
                    let (rt, disk, _guard, dir) = ($setup)(stringify!($case));
                    crate::rng::for_each_seed(name, $seeds, |seed| {
                        let sub = dir.join(format!("seed-{seed}"));
                        rt.block_on(async {
                            crate::io::Disk::create_dir_all(&disk, &sub).await.expect("create seed dir");
                            super::$case(&disk, &sub, seed).await;
                        });
                    });
                }
            )*
        }
    };
}

macro_rules! all_cases {
    ($module:ident, $setup:expr) => {
        engine_suite!($module, $setup, [
            round_trip_random: 6,
            read_past_eof_is_short: 1,
            write_extends_with_zero_gap: 1,
            allocate_extends_with_zeros: 1,
            set_len_truncates_and_extends: 1,
            sync_and_reopen: 1,
            direct_io_alignment: 2,
            namespace_ops: 1,
            concurrent_tasks: 2,
        ]);
    };
}

fn setup_std(name: &str) -> (tokio::runtime::Runtime, super::StdDisk, TempDir, PathBuf) {
    let tmp = TempDir::new(name);
    let dir = tmp.0.clone();
    (rt_multi(), super::StdDisk, tmp, dir)
}

fn setup_uring(
    rt: tokio::runtime::Runtime,
    name: &str,
) -> (tokio::runtime::Runtime, super::UringDisk, TempDir, PathBuf) {
    let tmp = TempDir::new(name);
    let dir = tmp.0.clone();
    let disk = super::UringDisk::new(super::UringConfig {
        ring_entries: 32,
        channel_capacity: 64,
    })
    .expect("io_uring available on the test machine");
    (rt, disk, tmp, dir)
}

fn setup_mem(name: &str) -> (tokio::runtime::Runtime, super::MemDisk, (), PathBuf) {
    (
        rt_current(),
        super::MemDisk::new(),
        (),
        Path::new("/conformance").join(name),
    )
}

all_cases!(std_engine, super::setup_std);
all_cases!(uring_current_thread, |n| super::setup_uring(
    super::rt_current(),
    n
));
all_cases!(uring_multi_thread, |n| super::setup_uring(
    super::rt_multi(),
    n
));
all_cases!(mem_engine, super::setup_mem);
