//! `MemDisk`-specific tests (the shared cases are in `io/conformance.rs`):
//! the crash model (synced data always survives; unsynced data survives as a
//! per-sector prefix; unsynced namespace ops may vanish; old handles fail),
//! bit flips, injected faults and counters.

use super::conformance::rt_current;
use super::mem::CRASH_SECTOR_BYTES;
use super::{Disk, DiskFile, Fault, FaultOp, IoBuf, IoError, MemDisk, MemFile, OpenOptions};
use crate::rng::{Rng, for_each_seed};
use std::path::Path;

const SECTOR: usize = CRASH_SECTOR_BYTES as usize;

async fn write(f: &MemFile, data: &[u8], offset: u64) {
    f.write_at(IoBuf::from_slice(data), offset)
        .await
        .0
        .expect("write");
}

async fn read_all(f: &MemFile) -> Vec<u8> {
    let len = f.len().await.expect("len") as usize;
    let (res, buf) = f.read_at(IoBuf::zeroed(len), 0).await;
    assert_eq!(res.expect("read"), len);
    buf.to_vec()
}

fn apply(image: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if image.len() < offset + data.len() {
        image.resize(offset + data.len(), 0);
    }
    image[offset..offset + data.len()].copy_from_slice(data);
}

/// Checks `after` against the crash rule: starting from `durable`, each
/// sector holds the pieces of some prefix of the unsynced writes touching
/// it, and the length is max(durable length, end of some kept piece).
/// Returns (kept pieces, dropped pieces) for coverage accounting.
fn check_crash_image(
    durable: &[u8],
    unsynced: &[(usize, Vec<u8>)],
    after: &[u8],
) -> (usize, usize) {
    assert!(
        after.len() >= durable.len(),
        "crash shrank the file below its durable length"
    );
    let write_end = unsynced.iter().map(|(o, d)| o + d.len()).max().unwrap_or(0);
    let sectors = after.len().max(write_end).div_ceil(SECTOR);
    let (mut kept, mut dropped) = (0, 0);
    for s in 0..sectors {
        let (lo, hi) = (s * SECTOR, (s + 1) * SECTOR);
        let touching: Vec<&(usize, Vec<u8>)> = unsynced
            .iter()
            .filter(|(o, d)| *o < hi && o + d.len() > lo)
            .collect();
        // This sector as it would be after keeping the first k pieces.
        let mut candidate = durable
            .get(lo.min(durable.len())..hi.min(durable.len()))
            .unwrap_or(&[])
            .to_vec();
        candidate.resize(SECTOR, 0);
        let visible = after.len().clamp(lo, hi) - lo;
        let actual = &after[lo.min(after.len())..lo.min(after.len()) + visible];
        let mut matched = None;
        let mut piece_end = 0;
        let mut ends_file_here = false;
        for k in 0..=touching.len() {
            if k > 0 {
                let (o, d) = touching[k - 1];
                let (a, b) = ((*o).max(lo), (o + d.len()).min(hi));
                candidate[a - lo..b - lo].copy_from_slice(&d[a - o..b - o]);
                piece_end = piece_end.max(b);
            }
            // A kept piece never lies past the file end.
            if candidate[..visible] == *actual && piece_end <= after.len() {
                matched = Some(k);
                ends_file_here |= k > 0 && piece_end == after.len();
            }
        }
        let k = matched
            .unwrap_or_else(|| panic!("sector {s} matches no prefix of its unsynced writes"));
        kept += k;
        dropped += touching.len() - k;
        // A file grown by the crash ends exactly where a kept piece ends,
        // and that piece lies in the sector holding the last byte.
        let l = after.len();
        if l > durable.len() && (lo..hi).contains(&(l - 1)) {
            assert!(
                ends_file_here,
                "length {l} is neither the durable length {} nor the end of a kept piece",
                durable.len()
            );
        }
    }
    (kept, dropped)
}

/// Random workload with syncs at random points, then a crash: synced data
/// always survives, unsynced data follows the per-sector prefix rule, and
/// across seeds both kept and dropped unsynced writes occur.
#[test]
fn crash_keeps_synced_and_prefix_of_unsynced() {
    let (mut total_kept, mut total_dropped) = (0, 0);
    for_each_seed(
        "io::mem_tests::crash_keeps_synced_and_prefix_of_unsynced",
        64,
        |seed| {
            rt_current().block_on(async {
                let mut rng = Rng::new(seed);
                let d = MemDisk::new();
                let dir = Path::new("/c");
                d.create_dir_all(dir).await.expect("mkdir");
                let p = dir.join("f");
                let f = d.open(&p, OpenOptions::CREATE).await.expect("open");
                d.sync_dir(dir).await.expect("sync_dir");
                let mut model = Vec::new();
                let mut durable = Vec::new();
                let mut unsynced: Vec<(usize, Vec<u8>)> = Vec::new();
                for _ in 0..rng.range(1, 40) {
                    let off = rng.below(16 * SECTOR as u64) as usize;
                    let len = rng.range(1, 3 * SECTOR as u64) as usize;
                    let data = rng.bytes(len);
                    write(&f, &data, off as u64).await;
                    apply(&mut model, off, &data);
                    unsynced.push((off, data));
                    if rng.chance(1, 6) {
                        f.sync_data().await.expect("sync");
                        durable = model.clone();
                        unsynced.clear();
                    }
                }
                assert_eq!(d.read_durable(&p).expect("durable"), durable);
                assert_eq!(read_all(&f).await, model);
                d.crash(seed);
                assert!(matches!(f.len().await, Err(IoError::Crashed { .. })));
                let g = d
                    .open(&p, OpenOptions::EXISTING)
                    .await
                    .expect("reopen after crash");
                let after = read_all(&g).await;
                let (k, dr) = check_crash_image(&durable, &unsynced, &after);
                total_kept += k;
                total_dropped += dr;
                assert_eq!(d.read_durable(&p).expect("durable after crash"), after);
                // Recovery state is stable: a second crash with nothing unsynced
                // changes nothing.
                d.crash(seed + 1);
                let h = d.open(&p, OpenOptions::EXISTING).await.expect("reopen");
                assert_eq!(read_all(&h).await, after);
            });
        },
    );
    if crate::rng::test_seeds(64).len() >= 16 {
        assert!(
            total_kept > 0 && total_dropped > 0,
            "kept {total_kept}, dropped {total_dropped}"
        );
    }
}

#[test]
fn fully_synced_file_survives_every_crash() {
    for_each_seed(
        "io::mem_tests::fully_synced_file_survives_every_crash",
        32,
        |seed| {
            rt_current().block_on(async {
                let mut rng = Rng::new(seed);
                let d = MemDisk::new();
                d.create_dir_all(Path::new("/s")).await.expect("mkdir");
                let p = Path::new("/s/f");
                let f = d.open(p, OpenOptions::CREATE).await.expect("open");
                f.allocate(0, 10_000).await.expect("allocate");
                let data = rng.bytes(5000);
                write(&f, &data, 777).await;
                f.set_len(9000).await.expect("set_len");
                f.sync_all().await.expect("sync");
                d.sync_dir(Path::new("/s")).await.expect("sync_dir");
                let expect = read_all(&f).await;
                assert_eq!(expect.len(), 9000);
                d.crash(seed);
                let g = d.open(p, OpenOptions::EXISTING).await.expect("reopen");
                assert_eq!(read_all(&g).await, expect);
            });
        },
    );
}

/// Unsynced `allocate`/`set_len` are lost in a crash; synced ones are not.
#[test]
fn unsynced_length_changes_are_lost() {
    rt_current().block_on(async {
        let d = MemDisk::new();
        d.create_dir_all(Path::new("/l")).await.expect("mkdir");
        let p = Path::new("/l/f");
        let f = d.open(p, OpenOptions::CREATE).await.expect("open");
        d.sync_dir(Path::new("/l")).await.expect("sync_dir");
        write(&f, &[5; 100], 0).await;
        f.sync_data().await.expect("sync");
        f.allocate(0, 1 << 20).await.expect("allocate");
        f.set_len(50).await.expect("shrink");
        assert_eq!(f.len().await.expect("len"), 50);
        d.crash(0);
        let g = d.open(p, OpenOptions::EXISTING).await.expect("reopen");
        assert_eq!(read_all(&g).await, vec![5; 100]);
    });
}

/// A created file, a rename and a removal without `sync_dir` may each be
/// undone by a crash (each seen both ways across seeds); with `sync_dir`
/// they always hold. A same-directory rename is atomic.
#[test]
fn namespace_ops_need_sync_dir() {
    let mut seen = [[false; 2]; 3];
    for_each_seed("io::mem_tests::namespace_ops_need_sync_dir", 32, |seed| {
        rt_current().block_on(async {
            let d = MemDisk::new();
            let dir = Path::new("/n");
            d.create_dir_all(dir).await.expect("mkdir");
            // Durable baseline: "old" and "gone" exist.
            for name in ["old", "gone", "kept"] {
                let f = d
                    .open(&dir.join(name), OpenOptions::CREATE)
                    .await
                    .expect("create");
                write(&f, name.as_bytes(), 0).await;
                f.sync_data().await.expect("sync");
            }
            d.sync_dir(dir).await.expect("sync_dir");
            let f = d
                .open(&dir.join("new"), OpenOptions::CREATE)
                .await
                .expect("create new");
            f.sync_data().await.expect("sync data only");
            d.rename(&dir.join("old"), &dir.join("renamed"))
                .await
                .expect("rename");
            d.remove(&dir.join("gone")).await.expect("remove");
            // Another directory, fully synced, is unaffected by the crash.
            d.create_dir_all(Path::new("/other")).await.expect("mkdir");
            d.open(Path::new("/other/x"), OpenOptions::CREATE)
                .await
                .expect("create x");
            d.sync_dir(Path::new("/other")).await.expect("sync other");
            d.crash(seed);
            let names = d.list(dir).await.expect("list");
            let has = |n: &str| names.iter().any(|x| x == n);
            assert!(has("kept"));
            assert!(
                has("old") ^ has("renamed"),
                "rename must be atomic: {names:?}"
            );
            seen[0][has("new") as usize] = true;
            seen[1][has("renamed") as usize] = true;
            seen[2][has("gone") as usize] = true;
            if has("renamed") {
                // Ops are kept in order: the rename came after the create.
                assert!(has("new"), "{names:?}");
                let r = d
                    .open(&dir.join("renamed"), OpenOptions::EXISTING)
                    .await
                    .expect("open renamed");
                assert_eq!(read_all(&r).await, b"old");
            }
            assert_eq!(
                d.list(Path::new("/other")).await.expect("list other"),
                ["x"]
            );
            assert_eq!(d.file_names(), d.durable_file_names());
        });
    });
    if crate::rng::test_seeds(32).len() >= 16 {
        assert_eq!(
            seen, [[true; 2]; 3],
            "each op should both survive and vanish across seeds"
        );
    }
}

#[test]
fn old_handles_fail_after_crash_new_opens_work() {
    rt_current().block_on(async {
        let d = MemDisk::new();
        d.create_dir_all(Path::new("/h")).await.expect("mkdir");
        let p = Path::new("/h/f");
        let f = d.open(p, OpenOptions::CREATE).await.expect("open");
        d.sync_dir(Path::new("/h")).await.expect("sync_dir");
        d.crash(1);
        let crashed = |r: Result<(), IoError>| matches!(r, Err(IoError::Crashed { .. }));
        assert!(crashed(f.write_at(IoBuf::zeroed(1), 0).await.0));
        assert!(crashed(f.read_at(IoBuf::zeroed(1), 0).await.0.map(drop)));
        assert!(crashed(f.sync_data().await));
        assert!(crashed(f.sync_all().await));
        assert!(crashed(f.allocate(0, 1).await));
        assert!(crashed(f.set_len(0).await));
        assert!(crashed(f.clone().len().await.map(drop)));
        let g = d.open(p, OpenOptions::EXISTING).await.expect("reopen");
        write(&g, b"ok", 0).await;
        assert_eq!(read_all(&g).await, b"ok");
        assert_eq!(d.stats().crashes, 1);
    });
}

#[test]
fn flip_bit_hits_both_images_and_survives_crash() {
    rt_current().block_on(async {
        let d = MemDisk::new();
        d.create_dir_all(Path::new("/b")).await.expect("mkdir");
        let p = Path::new("/b/f");
        let f = d.open(p, OpenOptions::CREATE).await.expect("open");
        write(&f, &[0; 64], 0).await;
        f.sync_data().await.expect("sync");
        d.sync_dir(Path::new("/b")).await.expect("sync_dir");
        d.flip_bit(p, 10, 3).expect("flip");
        let mut want = vec![0; 64];
        want[10] = 8;
        assert_eq!(read_all(&f).await, want);
        assert_eq!(d.read_durable(p).expect("durable"), want);
        f.sync_data().await.expect("sync again");
        d.crash(5);
        let g = d.open(p, OpenOptions::EXISTING).await.expect("reopen");
        assert_eq!(read_all(&g).await, want);
        assert!(d.flip_bit(p, 64, 0).is_err(), "past the end");
        assert!(
            d.flip_bit(Path::new("/b/none"), 0, 0)
                .unwrap_err()
                .is_not_found()
        );
    });
}

#[test]
fn injected_faults_fire_on_matching_ops_only() {
    rt_current().block_on(async {
        let d = MemDisk::new();
        d.create_dir_all(Path::new("/d/wal")).await.expect("mkdir");
        let w = d
            .open(Path::new("/d/wal/1"), OpenOptions::CREATE)
            .await
            .expect("open wal");
        let t = d
            .open(Path::new("/d/tree"), OpenOptions::CREATE)
            .await
            .expect("open tree");
        d.inject(Fault::nth(FaultOp::Write, "/d/wal", 2));
        for i in 0..5u8 {
            write(&t, &[i], i as u64).await;
            let res = w.write_at(IoBuf::from_slice(&[i]), i as u64).await.0;
            if i == 2 {
                assert!(matches!(res, Err(IoError::Injected { .. })), "{res:?}");
            } else {
                res.expect("other writes pass");
            }
        }
        // The failed write had no effect.
        assert_eq!(read_all(&w).await, [0, 1, 0, 3, 4]);
        d.inject(Fault::always(FaultOp::Sync, ""));
        for _ in 0..3 {
            assert!(matches!(w.sync_data().await, Err(IoError::Injected { .. })));
            assert!(matches!(t.sync_all().await, Err(IoError::Injected { .. })));
        }
        assert_eq!(
            d.read_durable(Path::new("/d/tree")),
            None,
            "name never synced"
        );
        d.clear_faults();
        t.sync_all().await.expect("sync after clear");
        d.inject(Fault::nth(FaultOp::Any, "/d/tree", 0));
        assert!(
            d.rename(Path::new("/d/tree"), Path::new("/d/t2"))
                .await
                .is_err()
        );
        d.rename(Path::new("/d/tree"), Path::new("/d/t2"))
            .await
            .expect("fault fired once");
        d.inject(Fault::nth(FaultOp::SyncDir, "/d", 0));
        assert!(d.sync_dir(Path::new("/d")).await.is_err());
        d.sync_dir(Path::new("/d")).await.expect("sync_dir");
        let s = d.stats();
        assert_eq!(s.writes, 9);
        assert_eq!(s.bytes_written, 9);
        assert_eq!(s.syncs, 1);
        assert_eq!(s.dir_syncs, 1);
        assert_eq!(d.durable_file_names(), [Path::new("/d/t2")]);
    });
}
