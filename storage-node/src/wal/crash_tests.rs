//! Crash and corruption tests on the simulated disk (`io/mem.rs`).
//!
//! - `crash_recovers_a_prefix_with_every_ack`: concurrent appenders,
//!   releases and reclamation, a power cut at a seeded random point
//!   (sometimes during `open` itself), recovery; the recovered log must be
//!   exactly a prefix of the appended sequence that includes every
//!   acknowledged record. Several crash/recover cycles per seed.
//! - `bit_flips_in_records_are_detected`: one flipped bit anywhere in a
//!   durable batch gives a typed error naming the file and offset, or a
//!   clean tail stop if it hit the last batch; never a wrong record.
//! - `bit_flips_in_segment_headers`, `read_detects_corruption`.

use super::format::BLOCK;
use super::test_support::*;
use super::*;
use crate::io::mem::MemDisk;
use crate::rng::{Rng, for_each_seed};
use std::collections::BTreeMap;
use std::path::Path;

/// The append history of the whole test (across crashes).
#[derive(Default)]
struct History {
    /// Every record in append (queue) order; the payload starts with the
    /// record's position in this list.
    recs: Vec<Record>,
    acked: Vec<bool>,
    /// Release marks given to the WAL (the engine re-issues them after a
    /// restart, as the test does).
    marks: BTreeMap<u64, u64>,
    /// Last index appended per partition.
    last: BTreeMap<u64, u64>,
}

impl History {
    fn stamp_of(r: &Record) -> usize {
        let mut b = [0; 8];
        b.copy_from_slice(&r.payload[..8]);
        u64::from_le_bytes(b) as usize
    }

    /// Adds a record to the history (before it is handed to the WAL).
    fn next(&mut self, rng: &mut Rng, partition: u64, allow_truncate: bool) -> Record {
        let mark = self.marks.get(&partition).copied().unwrap_or(0);
        let last = self.last.get(&partition).copied().unwrap_or(0).max(mark);
        let index = if allow_truncate && last > mark + 1 && rng.chance(1, 8) {
            rng.range(mark + 1, last)
        } else {
            last + 1
        };
        let mut payload = (self.recs.len() as u64).to_le_bytes().to_vec();
        let n = rng.below(1500) as usize;
        payload.extend(rng.bytes(n));
        let r = rec(partition, rng.below(4), index, payload);
        self.last.insert(partition, index);
        self.recs.push(r.clone());
        self.acked.push(false);
        r
    }

    /// Checks the recovered contents against every allowed prefix length;
    /// returns the one that matches and truncates the history to it.
    fn check_and_truncate(&mut self, got: &BTreeMap<u64, BTreeMap<u64, Record>>) {
        let max_acked = self.acked.iter().rposition(|&a| a).map_or(0, |i| i + 1);
        let max_seen = got
            .values()
            .flat_map(|m| m.values())
            .map(|r| Self::stamp_of(r) + 1)
            .max()
            .unwrap_or(0);
        let lo = max_acked.max(max_seen);
        assert!(lo <= self.recs.len(), "recovered a record never appended");
        let mut model = LiveModel::default();
        for r in &self.recs[..lo] {
            model.apply(r);
        }
        let mut g = lo;
        loop {
            if self.matches(&model, got) {
                break;
            }
            assert!(
                g < self.recs.len(),
                "recovered state is no prefix >= {lo} of {} appended records \
                 (acked prefix {max_acked}); recovered {:?}; expected at {lo}: {:?}; marks {:?}",
                self.recs.len(),
                summary(got),
                summary(&self.model_at(lo).parts),
                self.marks
            );
            model.apply(&self.recs[g]);
            g += 1;
        }
        self.recs.truncate(g);
        self.acked.truncate(g);
        self.last.clear();
        for r in &self.recs {
            self.last.insert(r.partition, r.index);
        }
    }

    fn model_at(&self, g: usize) -> LiveModel {
        let mut m = LiveModel::default();
        for r in &self.recs[..g] {
            m.apply(r);
        }
        m
    }

    fn matches(&self, model: &LiveModel, got: &BTreeMap<u64, BTreeMap<u64, Record>>) -> bool {
        let empty = BTreeMap::new();
        let parts = model.parts.keys().chain(got.keys());
        for p in parts {
            let want = model.parts.get(p).unwrap_or(&empty);
            let have = got.get(p).unwrap_or(&empty);
            let mark = self.marks.get(p).copied();
            for i in want.keys().chain(have.keys()) {
                let released = mark.is_some_and(|m| *i <= m);
                match (want.get(i), have.get(i)) {
                    (Some(a), Some(b)) if a != b => return false,
                    (None, Some(_)) => return false,
                    (Some(_), None) if !released => return false,
                    _ => {}
                }
            }
        }
        true
    }
}

fn summary(got: &BTreeMap<u64, BTreeMap<u64, Record>>) -> Vec<(u64, Vec<(u64, usize)>)> {
    got.iter()
        .map(|(p, m)| {
            (
                *p,
                m.values()
                    .map(|r| (r.index, History::stamp_of(r)))
                    .collect(),
            )
        })
        .collect()
}

fn random_cfg(rng: &mut Rng) -> WalConfig {
    WalConfig {
        segment_size_bytes: rng.range(4, 8) * BLOCK,
        spare_segments: rng.range(0, 2) as usize,
        batch_bytes_max: rng.range(1, 12) as usize * 1024,
        pending_bytes_max: 64 << 20,
        direct_io: true,
        ..WalConfig::new("/node/wal")
    }
}

async fn appender(wal: Wal<YieldDisk>, hist: Arc<Mutex<History>>, seed: u64, ops: u64) {
    let mut rng = Rng::new(seed);
    for _ in 0..ops {
        let partitions = 6;
        if rng.chance(1, 5) {
            let (recs, first) = {
                let mut h = hist.lock().unwrap();
                let first = h.recs.len();
                let n = rng.range(2, 4);
                let recs: Vec<Record> = (0..n)
                    .map(|_| {
                        let p = rng.below(partitions);
                        h.next(&mut rng, p, false)
                    })
                    .collect();
                (recs, first)
            };
            let n = recs.len();
            if wal.append_batch(recs).await.is_err() {
                return;
            }
            let mut h = hist.lock().unwrap();
            h.acked[first..first + n].iter_mut().for_each(|a| *a = true);
        } else {
            let (r, at) = {
                let mut h = hist.lock().unwrap();
                let at = h.recs.len();
                {
                    let p = rng.below(partitions);
                    (h.next(&mut rng, p, true), at)
                }
            };
            if wal.append(r).await.is_err() {
                return;
            }
            hist.lock().unwrap().acked[at] = true;
        }
    }
}

/// Opens the WAL; sometimes crashes in the middle of the open first.
async fn open_maybe_crashing(
    mem: &MemDisk,
    cfg: &WalConfig,
    rng: &mut Rng,
) -> (Wal<YieldDisk>, YieldDisk, RecoveryReport) {
    if rng.chance(1, 4) {
        let disk = YieldDisk::new(mem.clone(), rng.next_u64());
        let (d, c) = (disk.clone(), cfg.clone());
        let h = tokio::spawn(async move { Wal::open(d, c).await.map(|(w, _)| w) });
        for _ in 0..rng.below(60) {
            tokio::task::yield_now().await;
        }
        disk.crash(rng.next_u64());
        let opened = h.await.expect("open task");
        drop(opened);
        settle().await;
    }
    let disk = YieldDisk::new(mem.clone(), rng.next_u64());
    match Wal::open(disk.clone(), cfg.clone()).await {
        Ok((wal, report)) => (wal, disk, report),
        Err(e) => panic!("open after crash failed: {e}"),
    }
}

async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn crash_recovers_a_prefix_with_every_ack() {
    for_each_seed(
        "wal::crash_tests::crash_recovers_a_prefix_with_every_ack",
        500,
        |seed| {
            run_deterministic(async move {
                let mut rng = Rng::new(seed);
                let mem = MemDisk::new();
                let cfg = random_cfg(&mut rng);
                let hist = Arc::new(Mutex::new(History::default()));
                for _cycle in 0..3 {
                    let (wal, disk, _report) = open_maybe_crashing(&mem, &cfg, &mut rng).await;
                    let got = wal_contents(&wal).await;
                    {
                        let mut h = hist.lock().unwrap();
                        h.check_and_truncate(&got);
                        for (&p, &m) in &h.marks {
                            wal.release(p, m);
                        }
                    }
                    let mut tasks = Vec::new();
                    for _ in 0..rng.range(1, 5) {
                        let ops = rng.range(3, 25);
                        let fut = appender(wal.clone(), hist.clone(), rng.next_u64(), ops);
                        tasks.push(tokio::spawn(fut));
                    }
                    for _ in 0..rng.below(400) {
                        tokio::task::yield_now().await;
                        if rng.chance(1, 30) {
                            let mut h = hist.lock().unwrap();
                            let p = rng.below(6);
                            // Release only acknowledged records, as the engine
                            // would (applied implies durable).
                            // Release only acknowledged records, and never at
                            // or above an unacknowledged record (which may be a
                            // truncation): as the engine releases only applied,
                            // committed indices, which are never overwritten.
                            let mut acked_last = None;
                            let mut pending_min = u64::MAX;
                            for (r, a) in h.recs.iter().zip(&h.acked) {
                                if r.partition == p {
                                    if *a {
                                        acked_last = Some(r.index);
                                    } else {
                                        pending_min = pending_min.min(r.index);
                                    }
                                }
                            }
                            let acked_last = acked_last
                                .map(|i| i.min(pending_min.saturating_sub(1)))
                                .filter(|&i| i > 0);
                            if let Some(i) = acked_last {
                                let m = rng.range(0, i);
                                let e = h.marks.entry(p).or_insert(0);
                                *e = (*e).max(m);
                                let m = *e;
                                drop(h);
                                wal.release(p, m);
                            }
                        }
                    }
                    disk.crash(rng.next_u64());
                    for t in tasks {
                        t.await.expect("appender task");
                    }
                    drop(wal);
                    settle().await;
                }
                let (wal, _, _) = open_maybe_crashing(&mem, &cfg, &mut rng).await;
                let got = wal_contents(&wal).await;
                hist.lock().unwrap().check_and_truncate(&got);
                eprintln!(
                    "TRACE {seed} {} {:?}",
                    hist.lock().unwrap().recs.len(),
                    summary(&got)
                );
            });
        },
    );
}

/// Appends random records with a clean or crashing end; returns the model.
async fn populate(mem: &MemDisk, cfg: &WalConfig, rng: &mut Rng) -> LiveModel {
    let disk = YieldDisk::new(mem.clone(), rng.next_u64());
    let (wal, _) = Wal::open(disk.clone(), cfg.clone()).await.expect("open");
    let mut model = LiveModel::default();
    let mut tasks = Vec::new();
    let hist = Arc::new(Mutex::new(History::default()));
    for _ in 0..rng.range(1, 4) {
        let fut = appender(wal.clone(), hist.clone(), rng.next_u64(), rng.range(5, 20));
        tasks.push(tokio::spawn(fut));
    }
    for t in tasks {
        t.await.expect("task");
    }
    for r in &hist.lock().unwrap().recs {
        model.apply(r);
    }
    if rng.chance(1, 2) {
        wal.shutdown().await.expect("shutdown");
    } else {
        disk.crash(rng.next_u64()); // everything was acknowledged
        drop(wal);
        settle().await;
    }
    model
}

#[test]
fn bit_flips_in_records_are_detected() {
    for_each_seed(
        "wal::crash_tests::bit_flips_in_records_are_detected",
        200,
        |seed| {
            run_deterministic(async move {
                let mut rng = Rng::new(seed);
                let mem = MemDisk::new();
                let cfg = random_cfg(&mut rng);
                populate(&mem, &cfg, &mut rng).await;
                let batches = durable_batches(&mem, &cfg.dir);
                assert!(!batches.is_empty());
                let k = rng.below(batches.len() as u64) as usize;
                let b = &batches[k];
                let at = rng.range(b.start, b.end - 1);
                let bit = rng.below(8) as u8;
                mem.flip_bit(&b.file, at, bit).expect("flip");
                // The log as it was before the damaged batch (log order).
                let mut before = LiveModel::default();
                for x in &batches[..k] {
                    let img = mem.read_durable(&x.file).unwrap();
                    for &off in &x.records {
                        let (v, _) = format::decode_record(&img[off as usize..], x.seq).unwrap();
                        before.apply(&rec(v.partition, v.ballot, v.index, v.payload.to_vec()));
                    }
                }
                let last_batch = k + 1 == batches.len();
                match Wal::open(mem.clone(), cfg.clone()).await {
                    Err(WalError::Corrupt {
                        file,
                        offset,
                        reason,
                    }) => {
                        assert_eq!(file, b.file, "{reason}");
                        assert!(
                            b.start <= offset && offset <= at,
                            "{offset} not in {}..={at}",
                            b.start
                        );
                    }
                    Ok((wal, report)) => {
                        assert!(
                            last_batch,
                            "flip at {} {at} in batch {k} of {} went unreported: {report:?}",
                            b.file.display(),
                            batches.len()
                        );
                        let stop = report.stop.clone().unwrap_or_else(|| {
                            panic!("no tail stop: {report:?} batches {batches:?} k {k} at {at}")
                        });
                        assert_eq!(stop.file, b.file);
                        assert!(b.start <= stop.offset && stop.offset <= at);
                        // Exactly the log before the damaged batch comes back.
                        assert_eq!(wal_contents(&wal).await, before.parts);
                        wal.shutdown().await.expect("shutdown");
                    }
                    Err(e) => panic!("unexpected error: {e}"),
                }
            });
        },
    );
}

#[test]
fn bit_flips_in_segment_headers() {
    for_each_seed(
        "wal::crash_tests::bit_flips_in_segment_headers",
        40,
        |seed| {
            run_deterministic(async move {
                let mut rng = Rng::new(seed);
                let mem = MemDisk::new();
                let cfg = random_cfg(&mut rng);
                let model = populate(&mem, &cfg, &mut rng).await;
                let files: Vec<_> = mem
                    .durable_file_names()
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "wal"))
                    .collect();
                let f = &files[rng.below(files.len() as u64) as usize];
                let copy = [0u64, 2048][rng.below(2) as usize];
                mem.flip_bit(f, copy + rng.below(64), rng.below(8) as u8)
                    .unwrap();
                // One damaged copy: recovered from the other, nothing lost.
                let (wal, report) = Wal::open(mem.clone(), cfg.clone()).await.expect("one copy");
                assert_eq!(report.header_copies_bad, 1);
                let got = wal_contents(&wal).await;
                assert_eq!(got, model.parts);
                wal.shutdown().await.unwrap();
                // Both copies of one live segment damaged: a typed error at 0.
                let live = durable_batches(&mem, &cfg.dir);
                let f = &live[rng.below(live.len() as u64) as usize].file;
                for copy in [0u64, 2048] {
                    mem.flip_bit(f, copy + rng.below(64), rng.below(8) as u8)
                        .unwrap();
                }
                match Wal::open(mem.clone(), cfg.clone()).await {
                    Err(WalError::Corrupt {
                        file,
                        offset,
                        reason,
                    }) => {
                        assert_eq!((&file, offset), (f, 0));
                        assert_eq!(reason, TailReason::BadSegmentHeader);
                    }
                    other => panic!("expected Corrupt, got {:?}", other.map(|x| x.1)),
                }
            });
        },
    );
}

#[test]
fn read_detects_corruption() {
    rt().block_on(async {
        let mem = MemDisk::new();
        let cfg = WalConfig {
            segment_size_bytes: 64 << 10,
            ..WalConfig::new("/wal")
        };
        let (wal, _) = Wal::open(mem.clone(), cfg).await.unwrap();
        for i in 1..=5 {
            wal.append(rec(1, 1, i, vec![i as u8; 300])).await.unwrap();
        }
        let batches = durable_batches(&mem, Path::new("/wal"));
        let b = batches.iter().find(|b| !b.records.is_empty()).unwrap();
        let off = b.records[0];
        mem.flip_bit(&b.file, off + 100, 3).unwrap();
        match wal.read(1, 1, 5, usize::MAX).await {
            Err(WalError::Corrupt { file, offset, .. }) => {
                assert_eq!((file, offset), (b.file.clone(), off));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        wal.shutdown().await.unwrap();
    });
}

use std::sync::{Arc, Mutex};
