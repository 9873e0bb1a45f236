//! io_uring-specific tests (the shared cases are in `io/conformance.rs`):
//! cancellation safety, backpressure when the channel is full, batching,
//! shutdown with ops in flight, engine selection and setup errors.

use super::{UringConfig, UringDisk, UringFile, setup_reason};
use crate::io::conformance::{TempDir, rt_current, rt_multi};
use crate::io::{Disk, DiskFile, IoBuf, IoEngine, IoError, OpenOptions, open_disk};
use crate::rng::{Rng, for_each_seed};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

const REGION: usize = 4096;

fn pattern(region: u64, version: u64) -> Vec<u8> {
    Rng::new(region << 16 | version).bytes(REGION)
}

/// Polls `fut` exactly once, then drops it (cancelling it mid-flight);
/// true if it had already finished.
async fn poll_once_then_drop<F: Future>(fut: F) -> bool {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

async fn write(f: &UringFile, data: &[u8], offset: u64) {
    let (res, _) = f.write_at(IoBuf::from_slice(data), offset).await;
    res.expect("write");
}

/// Starts many writes and reads and drops their futures at random points
/// (after one poll, or when a short random timer fires), then checks that
/// the driver still serves requests correctly, that shutting down with ops
/// in flight completes, and that every region holds exactly one of the
/// versions written to it (no torn or stray data).
#[test]
fn cancellation_safety() {
    for_each_seed("io::uring::tests::cancellation_safety", 3, |seed| {
        let rt = rt_multi();
        let tmp = TempDir::new("uring-cancel");
        let path = tmp.0.join("f");
        const REGIONS: u64 = 64;
        let alive = rt.block_on(async {
            let mut rng = Rng::new(seed);
            let disk = UringDisk::new(UringConfig {
                ring_entries: 16,
                channel_capacity: 128,
            })
            .expect("uring");
            let f = disk.open(&path, OpenOptions::CREATE).await.expect("open");
            for r in 0..REGIONS {
                write(&f, &pattern(r, 0), r * REGION as u64).await;
            }
            f.sync_data().await.expect("sync");
            let mut tasks = Vec::new();
            for i in 0..400u64 {
                let f = f.clone();
                let r = rng.below(REGIONS);
                let version = 1 + rng.below(3);
                let mode = rng.below(3);
                let delay = Duration::from_micros(rng.below(300));
                tasks.push(tokio::spawn(async move {
                    let off = r * REGION as u64;
                    let op = async {
                        if i % 4 == 0 {
                            let (res, _) = f.read_at(IoBuf::zeroed(REGION), off).await;
                            res.map(drop)
                        } else if i % 17 == 0 {
                            f.sync_data().await
                        } else {
                            f.write_at(IoBuf::from_slice(&pattern(r, version)), off)
                                .await
                                .0
                        }
                    };
                    match mode {
                        0 => !poll_once_then_drop(op).await,
                        1 => tokio::time::timeout(delay, op).await.is_err(),
                        _ => {
                            op.await.expect("uncancelled op");
                            false
                        }
                    }
                }));
            }
            let mut cancelled = 0;
            for t in tasks {
                cancelled += t.await.expect("task") as u32;
            }
            assert!(
                cancelled > 50,
                "only {cancelled} ops were cancelled mid-flight"
            );
            // The driver still serves: a fresh file round-trips.
            let g = disk
                .open(&tmp.0.join("g"), OpenOptions::CREATE)
                .await
                .expect("open g");
            for r in 0..16 {
                write(&g, &pattern(r, 9), r * REGION as u64).await;
            }
            for r in 0..16 {
                let (res, buf) = g.read_at(IoBuf::zeroed(REGION), r * REGION as u64).await;
                assert_eq!(res.expect("read g"), REGION);
                assert_eq!(buf.as_slice(), &pattern(r, 9)[..]);
            }
            let alive = disk.driver_alive();
            assert!(alive());
            eprintln!("seed {seed}: {cancelled} cancelled; {:?}", disk.stats());
            alive
        });
        // Every handle is gone (ops cancelled above may still be queued or
        // in flight): the driver must finish them all and exit.
        wait_until("driver exit", Duration::from_secs(20), || !alive());
        let data = std::fs::read(&path).expect("read back");
        assert_eq!(data.len(), REGIONS as usize * REGION);
        for r in 0..REGIONS {
            let got = &data[r as usize * REGION..][..REGION];
            assert!(
                (0..4).any(|v| got == &pattern(r, v)[..]),
                "region {r} holds none of the versions written to it"
            );
        }
    });
}

/// With the driver paused, senders fill the bounded channel and then wait:
/// nothing grows without bound and nothing completes. On resume everything
/// completes, with at most `ring_entries - 1` ops in flight.
#[test]
fn backpressure_when_channel_full() {
    let rt = rt_multi();
    let tmp = TempDir::new("uring-backpressure");
    rt.block_on(async {
        let disk = UringDisk::new(UringConfig {
            ring_entries: 4,
            channel_capacity: 2,
        })
        .expect("uring");
        let f = disk
            .open(&tmp.0.join("f"), OpenOptions::CREATE)
            .await
            .expect("open");
        disk.set_paused(true);
        let before = disk.stats().ops;
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for r in 0..10u64 {
            let (f, done) = (f.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                write(&f, &pattern(r, 1), r * REGION as u64).await;
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let start = Instant::now();
        while disk.channel_free() > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "channel never filled"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(disk.channel_free(), 0);
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "nothing completes while paused"
        );
        assert_eq!(disk.stats().ops, before);
        disk.set_paused(false);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);
        let stats = disk.stats();
        assert_eq!(stats.ops - before, 10);
        assert!(stats.max_in_flight <= 3, "{stats:?}");
        for r in 0..10 {
            let (res, buf) = f.read_at(IoBuf::zeroed(REGION), r * REGION as u64).await;
            assert_eq!(res.expect("read"), REGION);
            assert_eq!(buf.as_slice(), &pattern(r, 1)[..]);
        }
    });
}

/// Requests queued while the driver is busy go to the kernel in few
/// submitting `io_uring_enter` calls (many SQEs per submit). Waiting enters
/// are not counted: how completions trickle back is up to the device, and a
/// loaded CI machine reaps them one at a time.
#[test]
fn batches_many_sqes_per_enter() {
    let rt = rt_current();
    let tmp = TempDir::new("uring-batch");
    rt.block_on(async {
        let disk = UringDisk::new(UringConfig {
            ring_entries: 128,
            channel_capacity: 64,
        })
        .expect("uring");
        let f = disk
            .open(&tmp.0.join("f"), OpenOptions::CREATE)
            .await
            .expect("open");
        disk.set_paused(true);
        let mut tasks = Vec::new();
        for r in 0..64u64 {
            let f = f.clone();
            tasks.push(tokio::spawn(async move {
                write(&f, &pattern(r, 2), r * REGION as u64).await
            }));
        }
        while disk.channel_free() > 0 {
            tokio::task::yield_now().await;
        }
        let before = disk.stats();
        disk.set_paused(false);
        for t in tasks {
            t.await.expect("task");
        }
        let after = disk.stats();
        let submits = after.submits - before.submits;
        let sqes = after.sqes - before.sqes;
        assert_eq!(after.ops - before.ops, 64);
        assert!(sqes >= 64, "{after:?}");
        assert!(
            submits < 16,
            "64 queued writes took {submits} submitting io_uring_enter calls: {after:?}"
        );
    });
}

#[test]
fn open_disk_selects_engine() {
    let rt = rt_current();
    let tmp = TempDir::new("uring-select");
    rt.block_on(async {
        for engine in [IoEngine::Uring, IoEngine::Std] {
            let disk = open_disk(engine).expect("engine available");
            assert_eq!(disk.engine(), engine);
            let p = tmp.0.join(format!("{engine:?}"));
            let f = disk.open(&p, OpenOptions::CREATE).await.expect("open");
            let (res, _) = f.write_at(IoBuf::from_slice(b"abc"), 1).await;
            res.expect("write");
            f.sync_data().await.expect("sync");
            assert_eq!(std::fs::read(&p).expect("read"), b"\0abc");
        }
        assert_eq!(IoEngine::default(), IoEngine::Uring);
        assert_eq!("std".parse::<IoEngine>(), Ok(IoEngine::Std));
        assert_eq!("io_uring".parse::<IoEngine>(), Ok(IoEngine::Uring));
        assert!("epoll".parse::<IoEngine>().is_err());
    });
}

#[test]
fn setup_errors_name_the_cause() {
    let bad = UringDisk::new(UringConfig {
        ring_entries: 1,
        channel_capacity: 8,
    });
    assert!(matches!(bad, Err(IoError::Os { .. })), "{bad:?}");
    let eperm = setup_reason(&std::io::Error::from_raw_os_error(libc::EPERM));
    assert!(
        eperm.contains("disabled by sysctl") && eperm.contains("io_uring_disabled"),
        "{eperm}"
    );
    let enosys = setup_reason(&std::io::Error::from_raw_os_error(libc::ENOSYS));
    assert!(enosys.contains("seccomp"), "{enosys}");
    let msg = IoError::UringUnavailable { reason: eperm }.to_string();
    assert!(msg.contains("io_engine = \"std\""), "{msg}");
}

/// The driver thread exits once the last handle is dropped, without any
/// runtime involvement, and a disk created in one runtime keeps serving in
/// another (the driver is not a task of either).
#[test]
fn driver_outlives_runtimes_and_exits_on_drop() {
    let tmp = TempDir::new("uring-runtimes");
    let disk = UringDisk::new(UringConfig::default()).expect("uring");
    let alive = disk.driver_alive();
    let f = rt_current()
        .block_on(disk.open(&tmp.0.join("f"), OpenOptions::CREATE))
        .expect("open");
    rt_current().block_on(write(&f, b"first", 0));
    let got = rt_multi().block_on(async {
        let (res, buf) = f.read_at(IoBuf::zeroed(5), 0).await;
        res.expect("read");
        buf.to_vec()
    });
    assert_eq!(got, b"first");
    drop(disk);
    assert!(alive(), "a file handle keeps the driver running");
    drop(f);
    wait_until("driver exit", Duration::from_secs(10), || !alive());
}
