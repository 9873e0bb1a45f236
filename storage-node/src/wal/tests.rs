//! WAL tests: round trips, truncation, group commit, recycling, the crash
//! harness (MemDisk) and corruption detection. Randomized tests take their
//! seeds from `crate::rng::for_each_seed` (CAIRN_SEED / CAIRN_SEEDS).

use super::*;
use crate::io::YieldingDisk;
use crate::io::mem::{Fault, FaultOp, MemDisk};
use crate::rng::{Rng, for_each_seed};
use std::collections::BTreeMap;

fn cfg() -> WalConfig {
    WalConfig {
        segment_size_bytes: 64 * 1024,
        spare_segments: 1,
        batch_bytes_max: 32 * 1024,
        pending_bytes_max: 256 * 1024,
        direct_io: true,
        ..WalConfig::new("/wal")
    }
}

fn rec(p: u64, i: u64, len: usize) -> Record {
    let mut payload = vec![0u8; len];
    let mut r = Rng::new(p * 1_000_003 + i);
    r.fill(&mut payload);
    Record {
        partition: p,
        ballot: 7,
        index: i,
        payload,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn read_all<D: Disk>(wal: &Wal<D>) -> BTreeMap<(u64, u64), Record> {
    let mut out = BTreeMap::new();
    for span in wal.partitions() {
        for r in wal
            .read(
                span.partition,
                span.first_index,
                span.last_index,
                usize::MAX,
            )
            .await
            .expect("read")
        {
            out.insert((r.partition, r.index), r);
        }
    }
    out
}

#[test]
fn round_trip_reopen_and_truncation() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let (wal, rep) = Wal::open(disk.clone(), cfg()).await.unwrap();
        assert_eq!(rep, RecoveryReport::default());
        for i in 1..=20 {
            for p in 1..=3 {
                wal.append(rec(p, i, (i * 37 % 500) as usize))
                    .await
                    .unwrap();
            }
        }
        // A new leader overwrites partition 2 from index 15.
        wal.append(Record {
            ballot: 9,
            ..rec(2, 15, 10)
        })
        .await
        .unwrap();
        let got = read_all(&wal).await;
        assert_eq!(got.len(), 20 + 14 + 1 + 20);
        assert_eq!(got[&(2, 15)].ballot, 9);
        assert!(!got.contains_key(&(2, 16)));
        let spans = wal.partitions();
        assert_eq!(
            spans[1],
            PartitionSpan {
                partition: 2,
                first_index: 1,
                last_index: 15
            }
        );
        let part = wal.read(1, 5, 9, 1).await.unwrap();
        assert_eq!(part.len(), 1, "bytes_max stops after at least one record");
        wal.shutdown().await.unwrap();

        let (wal, rep) = Wal::open(disk.clone(), cfg()).await.unwrap();
        assert!(rep.stop.is_none(), "{rep:?}");
        assert_eq!(read_all(&wal).await, got, "recovery applies truncation too");
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn group_commit_shares_syncs() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let mut c = cfg();
        c.segment_size_bytes = 4 << 20;
        let (wal, _) = Wal::open(disk.clone(), c).await.unwrap();
        let mut tasks = Vec::new();
        for p in 0..64u64 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                for i in 1..=20 {
                    wal.append(rec(p, i, 1000)).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let s = wal.stats();
        assert_eq!(s.records, 64 * 20);
        assert!(
            s.syncs * 10 < s.records,
            "group commit did not batch: {s:?}"
        );
        eprintln!(
            "records per sync with 64 writers: {:.1}",
            s.records as f64 / s.syncs as f64
        );
        assert_eq!(read_all(&wal).await.len(), 64 * 20);
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn rotation_release_and_recycling_never_resurrect() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let (wal, _) = Wal::open(disk.clone(), cfg()).await.unwrap();
        for i in 1..=400 {
            wal.append(rec(1, i, 700)).await.unwrap();
            if i % 50 == 0 {
                wal.release(1, i - 10);
            }
        }
        let s = wal.stats();
        assert!(s.recycled > 0, "no segment was recycled: {s:?}");
        assert!(s.segments_live <= 3, "released segments stayed live: {s:?}");
        let before = read_all(&wal).await;
        assert!(before.keys().all(|&(_, i)| i > 390));
        wal.shutdown().await.unwrap();
        let names = disk.file_names().len();
        assert!(names <= 8, "files grow without bound: {names}");

        let (wal, rep) = Wal::open(disk.clone(), cfg()).await.unwrap();
        assert!(rep.stop.is_none());
        let after = read_all(&wal).await;
        // Nothing released before a recycle may come back; everything live is there.
        for (k, r) in &before {
            assert_eq!(after.get(k), Some(r));
        }
        let resurrected = after.keys().filter(|(_, i)| *i <= 300).count();
        assert_eq!(resurrected, 0, "recycled segments resurrected old records");
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn too_large_record_is_a_typed_error() {
    rt().block_on(async {
        let (wal, _) = Wal::open(MemDisk::new(), cfg()).await.unwrap();
        let err = wal.append(rec(1, 1, 64 * 1024)).await.unwrap_err();
        assert!(matches!(err, WalError::RecordTooLarge { .. }), "{err}");
        wal.append(rec(1, 1, 10)).await.unwrap();
        wal.shutdown().await.unwrap();
    });
}

#[test]
fn failed_fsync_is_fail_stop() {
    rt().block_on(async {
        let disk = MemDisk::new();
        let (wal, _) = Wal::open(disk.clone(), cfg()).await.unwrap();
        wal.append(rec(1, 1, 10)).await.unwrap();
        disk.inject(Fault::always(FaultOp::Sync, "/wal"));
        assert!(wal.append(rec(1, 2, 10)).await.is_err());
        let err = wal.append(rec(1, 3, 10)).await.unwrap_err();
        assert!(matches!(err, WalError::Failed(_)), "{err}");
        assert!(wal.shutdown().await.is_err());
    });
}

/// Crash harness: concurrent appenders, a crash at a random point, recovery.
/// Recovered records per partition must be a prefix 1..=k of what was
/// appended, with k at least the highest acknowledged index, and equal data.
#[test]
fn crash_recovers_a_prefix_with_every_acknowledged_record() {
    for_each_seed(
        "wal::tests::crash_recovers_a_prefix_with_every_acknowledged_record",
        1500,
        |seed| {
            rt().block_on(async move {
                let mut r = Rng::new(seed);
                let disk = MemDisk::new();
                let parts = 1 + r.below(6);
                let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
                for round in 0..3 {
                    let (wal, _) = match Wal::open(YieldingDisk(disk.clone()), cfg()).await {
                        Ok(w) => w,
                        Err(e) => panic!("seed {seed} round {round}: recovery failed: {e}"),
                    };
                    let got = read_all(&wal).await;
                    check_prefix(seed, &got, &acked);
                    // Continue each partition after what survived.
                    let mut next: BTreeMap<u64, u64> = (0..parts).map(|p| (p, 1)).collect();
                    for &(p, i) in got.keys() {
                        next.insert(p, i + 1);
                    }
                    for p in 0..parts {
                        acked.insert(p, next[&p] - 1);
                    }
                    let shared_acks = Arc::new(Mutex::new(acked.clone()));
                    let mut tasks = Vec::new();
                    for p in 0..parts {
                        let (wal, acks, start) = (wal.clone(), shared_acks.clone(), next[&p]);
                        let len = r.below(3000) as usize;
                        tasks.push(tokio::spawn(async move {
                            for i in start..start + 40 {
                                if wal.append(rec(p, i, len)).await.is_err() {
                                    return;
                                }
                                acks.lock().unwrap().insert(p, i);
                            }
                        }));
                    }
                    for _ in 0..r.below(200) {
                        tokio::task::yield_now().await;
                    }
                    disk.crash(r.next_u64());
                    for t in tasks {
                        let _ = t.await;
                    }
                    acked = shared_acks.lock().unwrap().clone();
                    let _ = wal.shutdown().await;
                }
            });
        },
    );
}

fn check_prefix(seed: u64, got: &BTreeMap<(u64, u64), Record>, acked: &BTreeMap<u64, u64>) {
    let mut per: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (&(p, i), r) in got {
        assert_eq!(
            r,
            &rec(p, i, r.payload.len()),
            "seed {seed}: wrong data for ({p},{i})"
        );
        per.entry(p).or_default().push(i);
    }
    for (&p, &a) in acked {
        let idx = per.get(&p).cloned().unwrap_or_default();
        let want: Vec<u64> = (1..=idx.len() as u64).collect();
        assert_eq!(idx, want, "seed {seed}: partition {p} is not a prefix");
        assert!(
            idx.len() as u64 >= a,
            "seed {seed}: partition {p} lost acked {a}, has {}",
            idx.len()
        );
    }
}

/// A flipped bit anywhere in written WAL data is either a reported tail stop
/// or `WalError::Corrupt` naming the file; records returned are never wrong.
#[test]
fn bit_flips_are_detected_never_returned() {
    for_each_seed(
        "wal::tests::bit_flips_are_detected_never_returned",
        300,
        |seed| {
            rt().block_on(async move {
                let mut r = Rng::new(seed);
                let disk = MemDisk::new();
                let (wal, _) = Wal::open(disk.clone(), cfg()).await.unwrap();
                let n = 5 + r.below(60);
                for i in 1..=n {
                    wal.append(rec(1 + i % 3, i, r.below(1500) as usize))
                        .await
                        .unwrap();
                }
                let written = read_all(&wal).await;
                let path = segment_path(
                    Path::new("/wal"),
                    wal.shared.state.lock().unwrap().active.slot,
                );
                let end = wal.shared.state.lock().unwrap().write_pos;
                wal.shutdown().await.unwrap();
                let off = if r.chance(1, 10) {
                    r.below(40)
                } else {
                    BLOCK as u64 + r.below(end - BLOCK as u64)
                };
                disk.flip_bit(&path, off, r.below(8) as u8).unwrap();
                match Wal::open(disk.clone(), cfg()).await {
                    Err(WalError::Corrupt { file, .. }) => assert_eq!(file, path),
                    Err(e) => panic!("seed {seed}: unexpected error {e}"),
                    Ok((wal, rep)) => {
                        let got = read_all(&wal).await;
                        for (k, v) in &got {
                            assert_eq!(written.get(k), Some(v), "seed {seed}: wrong record {k:?}");
                        }
                        if got.len() < written.len() {
                            let stop = rep.stop.expect("records lost without a reported stop");
                            assert_eq!(stop.file, path);
                        }
                        wal.shutdown().await.unwrap();
                    }
                }
            });
        },
    );
}
