//! Functional WAL tests: round trips, truncation, group commit, roll-over,
//! reclamation and recycling, limits, backpressure, fail-stop. Crash and
//! corruption tests are in `wal/crash_tests.rs`; helpers in
//! `wal/test_support.rs`.

use super::test_support::*;
use super::*;
use crate::io::mem::{Fault, FaultOp, MemDisk};
use crate::io::std_disk::StdDisk;
use crate::rng::{Rng, for_each_seed};
use std::path::Path;

/// Random appends (single and batched, with occasional truncation) over
/// several partitions; checks reads of random ranges against the model.
async fn random_appends<D: Disk>(wal: &Wal<D>, model: &mut LiveModel, rng: &mut Rng, n: usize) {
    let mut i = 0;
    while i < n {
        let p = rng.below(6);
        let last = model
            .parts
            .get(&p)
            .and_then(|m| m.keys().next_back().copied())
            .unwrap_or(0);
        if rng.chance(1, 5) {
            let k = rng.range(1, 4);
            let recs: Vec<Record> = (1..=k)
                .map(|j| {
                    let n = rng.below(900) as usize;
                    rec(p, 1, last + j, rng.bytes(n))
                })
                .collect();
            wal.append_batch(recs.clone()).await.expect("append_batch");
            recs.iter().for_each(|r| model.apply(r));
            i += k as usize;
        } else {
            let index = if last > 2 && rng.chance(1, 10) {
                rng.range(1, last)
            } else {
                last + 1
            };
            let n = rng.below(1500) as usize;
            let r = rec(p, rng.below(3), index, rng.bytes(n));
            wal.append(r.clone()).await.expect("append");
            model.apply(&r);
            i += 1;
        }
    }
}

async fn check_reads<D: Disk>(wal: &Wal<D>, model: &LiveModel, rng: &mut Rng) {
    assert_eq!(wal.partitions(), model.spans());
    assert_eq!(wal_contents(wal).await, model.parts);
    for _ in 0..20 {
        let p = rng.below(7);
        let (a, b) = (rng.below(60), rng.below(60));
        let (from, to) = (a.min(b), a.max(b));
        let bytes_max = rng.below(3000) as usize;
        let got = wal.read(p, from, to, bytes_max).await.expect("read");
        let mut want = Vec::new();
        let mut bytes = 0;
        if let Some(m) = model.parts.get(&p) {
            for r in m.range(from..=to).map(|(_, r)| r) {
                if !want.is_empty() && bytes + r.payload.len() > bytes_max {
                    break;
                }
                bytes += r.payload.len();
                want.push(r.clone());
            }
        }
        assert_eq!(got, want, "read({p}, {from}, {to}, {bytes_max})");
    }
}

#[test]
fn round_trip_interleaved_truncation_and_reopen() {
    for_each_seed(
        "wal::tests::round_trip_interleaved_truncation_and_reopen",
        3,
        |seed| {
            let tmp = TempDir::new("roundtrip");
            rt().block_on(async {
                let mut rng = Rng::new(seed);
                let cfg = small_cfg(&tmp.0, 64 << 10);
                let (wal, report) = Wal::open(StdDisk, cfg.clone()).await.expect("open");
                assert_eq!(report.records, 0);
                let mut model = LiveModel::default();
                random_appends(&wal, &mut model, &mut rng, 150).await;
                check_reads(&wal, &model, &mut rng).await;
                assert!(wal.stats().segments_live > 1, "{:?}", wal.stats());
                wal.shutdown().await.expect("shutdown");

                let (wal, report) = Wal::open(StdDisk, cfg.clone()).await.expect("reopen");
                assert_eq!(report.stop, None, "clean shutdown ends at a seal");
                check_reads(&wal, &model, &mut rng).await;
                random_appends(&wal, &mut model, &mut rng, 60).await;
                check_reads(&wal, &model, &mut rng).await;
                drop(wal); // no shutdown: the writer still drains and seals
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let (wal, _) = Wal::open(StdDisk, cfg).await.expect("reopen 2");
                check_reads(&wal, &model, &mut rng).await;
                wal.shutdown().await.expect("shutdown");
            });
        },
    );
}

#[test]
fn truncation_supersedes_later_records() {
    rt().block_on(async {
        let mem = MemDisk::new();
        let cfg = small_cfg("/wal", 16 << 10);
        let (wal, _) = Wal::open(mem.clone(), cfg.clone()).await.unwrap();
        for i in 1..=10 {
            wal.append(rec(1, 1, i, vec![i as u8; 700])).await.unwrap();
        }
        wal.append(rec(2, 1, 1, vec![9])).await.unwrap();
        // A new leader overwrites from index 5 (and the old 6..10 vanish).
        wal.append(rec(1, 2, 5, b"new".to_vec())).await.unwrap();
        wal.append(rec(1, 2, 6, b"new6".to_vec())).await.unwrap();
        let expect = |recs: Vec<Record>| {
            let idx: Vec<(u64, u64)> = recs.iter().map(|r| (r.index, r.ballot)).collect();
            assert_eq!(idx, vec![(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2)]);
        };
        expect(wal.read(1, 0, 100, usize::MAX).await.unwrap());
        assert!(wal.stats().segments_live >= 2, "truncation across segments");
        wal.shutdown().await.unwrap();
        let (wal, _) = Wal::open(mem, cfg).await.unwrap();
        expect(wal.read(1, 0, 100, usize::MAX).await.unwrap());
        assert_eq!(wal.read(2, 1, 1, 0).await.unwrap()[0].payload, vec![9]);
    });
}

/// 64 concurrent appenders of 1 KiB records on a real disk: they must
/// share syncs (the records-per-sync figure is logged, not asserted).
fn group_commit_64_appenders<D: Disk>(name: &str, disk: impl Fn() -> D) {
    let tmp = TempDir::new(name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut cfg = small_cfg(&tmp.0, 4 << 20);
        cfg.batch_bytes_max = 1 << 20;
        let (wal, _) = Wal::open(disk(), cfg.clone()).await.unwrap();
        let per_task = 16u64;
        let mut tasks = Vec::new();
        for t in 0..64u64 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                for i in 1..=per_task {
                    wal.append(rec(t, 1, i, vec![t as u8; 1024])).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let s = wal.stats();
        assert_eq!(s.records, 64 * per_task);
        assert!(s.batches < s.records, "no group commit: {s:?}");
        eprintln!(
            "wal group commit ({name}): 64 appenders x {per_task} x 1 KiB: {} records, {} batches, {:.1} records per sync (direct_io={})",
            s.records,
            s.batches,
            s.records as f64 / s.batches as f64,
            s.direct_io
        );
        for t in 0..64 {
            let got = wal.read(t, 1, per_task, usize::MAX).await.unwrap();
            assert_eq!(got.len() as u64, per_task);
            assert!(got.iter().all(|r| r.payload == vec![t as u8; 1024]));
        }
        wal.shutdown().await.unwrap();
        let (wal, report) = Wal::open(disk(), cfg).await.unwrap();
        assert_eq!((report.records, report.stop), (64 * per_task, None));
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn group_commit_64_appenders_std() {
    group_commit_64_appenders("std", || StdDisk);
}

#[test]
fn group_commit_64_appenders_uring() {
    let disk = crate::io::uring::UringDisk::new(crate::io::uring::UringConfig::default())
        .expect("io_uring");
    group_commit_64_appenders("uring", move || disk.clone());
}

/// Files containing `needle` in their durable image.
fn files_containing(mem: &MemDisk, dir: &Path, needle: &[u8]) -> usize {
    mem.durable_file_names()
        .iter()
        .filter(|p| p.parent() == Some(dir))
        .filter(|p| {
            let img = mem.read_durable(p).unwrap_or_default();
            img.windows(needle.len()).any(|w| w == needle)
        })
        .count()
}

#[test]
fn rollover_reclaim_recycle_without_resurrection() {
    rt().block_on(async {
        let mem = MemDisk::new();
        let dir = Path::new("/wal");
        let cfg = small_cfg(dir, 64 << 10);
        let (wal, _) = Wal::open(mem.clone(), cfg.clone()).await.unwrap();
        // Phase 1: partition 1, indices 1..=60 with a recognisable payload.
        let old = |i: u64| {
            let mut v = b"OLD-LIFE".to_vec();
            v.extend_from_slice(&i.to_le_bytes());
            v.resize(1000, 0xAA);
            v
        };
        for i in 1..=60 {
            wal.append(rec(1, 1, i, old(i))).await.unwrap();
            if i % 10 == 0 {
                wal.release(1, i - 5);
            }
        }
        wal.release(1, 60);
        // Phase 2: the same partition continues in recycled segments.
        let mut model = LiveModel::default();
        for i in 61..=68 {
            let r = rec(1, 2, i, vec![0x55; 1000]);
            model.apply(&r);
            wal.append(r).await.unwrap();
            tokio::task::yield_now().await;
        }
        let s = wal.stats();
        assert!(s.recycled > 0, "segments were recycled: {s:?}");
        let files = mem.durable_file_names().len();
        assert!(
            files <= s.segments_live + 2 * cfg.spare_segments + 1,
            "{files} files for {s:?}"
        );
        // Recycled files still hold old-life bytes; they must stay dead.
        assert!(
            files_containing(&mem, dir, b"OLD-LIFE") > 0,
            "{s:?} {:?}",
            mem.durable_file_names()
        );
        wal.shutdown().await.unwrap();
        let (wal, report) = Wal::open(mem.clone(), cfg).await.unwrap();
        assert_eq!(report.stop, None);
        let got = wal_contents(&wal).await;
        let p1 = got.get(&1).cloned().unwrap_or_default();
        // Everything unreleased is back, exactly; released records may
        // reappear only unchanged and never after the new ones.
        for (i, r) in &p1 {
            if *i > 60 {
                assert_eq!(Some(r), model.parts[&1].get(i));
            } else {
                assert_eq!(r, &rec(1, 1, *i, old(*i)));
            }
        }
        assert_eq!(p1.range(61..).count(), 8);
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn read_limits_and_too_large() {
    rt().block_on(async {
        let cfg = small_cfg("/wal", 16 << 10);
        let (wal, _) = Wal::open(MemDisk::new(), cfg.clone()).await.unwrap();
        let max = cfg.record_bytes_max();
        let payload_max = max - format::RECORD_HEADER_BYTES;
        wal.append(rec(3, 1, 1, vec![1; payload_max]))
            .await
            .unwrap();
        let err = wal.append(rec(3, 1, 2, vec![1; payload_max + 1])).await;
        assert!(
            matches!(err, Err(WalError::RecordTooLarge { .. })),
            "{err:?}"
        );
        for i in 2..=5 {
            wal.append(rec(3, 1, i, vec![i as u8; 100])).await.unwrap();
        }
        // At least one record even if it exceeds bytes_max.
        assert_eq!(wal.read(3, 1, 5, 10).await.unwrap().len(), 1);
        assert_eq!(wal.read(3, 2, 5, 250).await.unwrap().len(), 2);
        assert_eq!(wal.read(3, 6, 9, 250).await.unwrap().len(), 0);
        assert_eq!(wal.read(4, 0, 9, 250).await.unwrap().len(), 0);
        wal.forget(3);
        assert!(wal.partitions().is_empty());
        assert!(wal.read(3, 0, 9, 250).await.unwrap().is_empty());
        wal.shutdown().await.unwrap();
    });
}

#[test]
#[should_panic(expected = "append_batch")]
fn append_batch_rejects_decreasing_indices() {
    rt().block_on(async {
        let (wal, _) = Wal::open(MemDisk::new(), small_cfg("/wal", 16 << 10))
            .await
            .unwrap();
        let _ = wal
            .append_batch(vec![
                rec(1, 1, 5, vec![]),
                rec(2, 1, 1, vec![]),
                rec(1, 1, 5, vec![]),
            ])
            .await;
    });
}

#[test]
fn backpressure_bounds_queued_bytes() {
    rt().block_on(async {
        let mem = MemDisk::new();
        let mut cfg = small_cfg("/wal", 64 << 10);
        cfg.pending_bytes_max = 4 << 10;
        let disk = YieldDisk::new(mem, 7);
        let (wal, _) = Wal::open(disk, cfg.clone()).await.unwrap();
        let mut tasks = Vec::new();
        for t in 0..16u64 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                for i in 1..=8 {
                    wal.append(rec(t, 1, i, vec![1; 900])).await.unwrap();
                }
            }));
        }
        let mut max_queued = 0;
        while !tasks.iter().all(|t| t.is_finished()) {
            let queued: usize = wal.sh().queue().items.iter().map(|p| p.bytes).sum();
            max_queued = max_queued.max(queued);
            tokio::task::yield_now().await;
        }
        assert!(
            max_queued > 0 && max_queued <= cfg.pending_bytes_max,
            "{max_queued}"
        );
        assert_eq!(wal.stats().records, 128);
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn fail_stop_on_sync_error() {
    rt().block_on(async {
        let mem = MemDisk::new();
        let cfg = small_cfg("/wal", 16 << 10);
        let (wal, _) = Wal::open(mem.clone(), cfg.clone()).await.unwrap();
        for i in 1..=3 {
            wal.append(rec(1, 1, i, vec![1; 100])).await.unwrap();
        }
        mem.inject(Fault::nth(FaultOp::Sync, "/wal", 0));
        let mut tasks = Vec::new();
        for i in 4..=8 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                wal.append(rec(1, 1, i, vec![1; 100])).await
            }));
        }
        for t in tasks {
            let res = t.await.unwrap();
            assert!(matches!(res, Err(WalError::Failed { .. })), "{res:?}");
        }
        // The fault is gone, but the WAL stays stopped.
        let res = wal.append(rec(1, 1, 9, vec![])).await;
        assert!(matches!(res, Err(WalError::Failed { .. })), "{res:?}");
        assert!(wal.stats().failed);
        assert!(matches!(wal.shutdown().await, Err(WalError::Failed { .. })));
        mem.crash(1);
        let (wal, _) = Wal::open(mem, cfg).await.unwrap();
        let got = wal.read(1, 1, 100, usize::MAX).await.unwrap();
        assert!(got.len() >= 3 && got.iter().all(|r| r.payload == vec![1; 100]));
        assert_eq!(
            got[..3].iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn bad_config_is_rejected() {
    rt().block_on(async {
        let mut cfg = small_cfg("/wal", 16 << 10);
        cfg.segment_size_bytes = 10_000;
        let res = Wal::open(MemDisk::new(), cfg).await;
        assert!(matches!(res, Err(WalError::Config(_))));
    });
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    rt().block_on(async {
        let (wal, _) = Wal::open(MemDisk::new(), small_cfg("/wal", 16 << 10))
            .await
            .unwrap();
        send_sync(&wal);
        let append = wal.append(rec(1, 1, 1, vec![]));
        send(&append);
        append.await.unwrap();
        let read = wal.read(1, 0, 9, 100);
        send(&read);
        assert_eq!(read.await.unwrap().len(), 1);
        wal.shutdown().await.unwrap();
    });
}
