//! The io_uring engine: [`UringDisk`] / [`UringFile`], the default engine.
//!
//! Data operations (`read_at`, `write_at`, `sync_data`, `sync_all`,
//! `allocate`) go through one ring owned by a dedicated driver thread
//! (`driver.rs`): callers send a request through a bounded channel
//! ([`UringConfig::channel_capacity`]) and await a oneshot reply. The
//! driver owns each request's [`IoBuf`] and an `Arc` of the file until the
//! completion arrives, then hands the buffer back. A caller that drops its
//! future early cannot cause a use-after-free, and the fd number cannot be
//! reused under an in-flight op; the operation itself still runs to
//! completion (a cancelled write may or may not have happened).
//!
//! Why a dedicated thread, not a tokio task polling the ring fd: the driver
//! must outlive any particular runtime. A task would die with the runtime
//! that spawned it (e.g. each `#[tokio::test]`), dropping buffers the kernel
//! still owns; and on a current-thread runtime it would compete with the
//! callers for the only thread. A thread works identically under
//! current-thread, multi-thread or no runtime at all (tokio's mpsc and
//! oneshot are runtime-agnostic); the cost is one eventfd write when a
//! request arrives while the driver sleeps.
//!
//! Namespace and metadata operations (`open`, `list`, `remove`, `rename`,
//! `sync_dir`, `create_dir_all`, `len`, `set_len`) are not on the hot path
//! and run as plain syscalls on tokio's blocking pool (so they need a tokio
//! runtime, as the std engine does).
//!
//! Shutdown: when the last `UringDisk`/`UringFile` clone is dropped, the
//! channel closes and the eventfd is written; the driver finishes every op
//! in flight, completes its own eventfd read, then drops the ring and exits.
//! Dropping does not block the caller.

mod driver;
#[cfg(test)]
mod tests;

use super::std_disk::{blocking, open_std};
use super::{Disk, DiskFile, IoBuf, IoError, IoResult, OpenOptions, check_direct};
use driver::{Driver, Op, Reply, Request, Shared};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};

/// Ring and queue sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UringConfig {
    /// Submission queue entries (rounded up to a power of two by the
    /// kernel). At most `ring_entries - 1` ops are in flight at once.
    pub ring_entries: u32,
    /// Requests that may wait in the channel before senders wait.
    pub channel_capacity: usize,
}

impl Default for UringConfig {
    fn default() -> UringConfig {
        UringConfig {
            ring_entries: 256,
            channel_capacity: 1024,
        }
    }
}

/// Counters from the driver (cumulative since construction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UringStats {
    /// Operations completed (including failed ones).
    pub ops: u64,
    /// SQEs submitted (including resubmissions and eventfd re-arms).
    pub sqes: u64,
    /// `io_uring_enter` calls (submitting, waiting, or both).
    pub enters: u64,
    /// `io_uring_enter` calls that handed at least one SQE to the kernel;
    /// `sqes / submits` is the batching factor.
    pub submits: u64,
    /// Short or interrupted transfers resubmitted.
    pub resubmits: u64,
    /// Eventfd writes (wake-ups of a sleeping driver).
    pub wakeups: u64,
    /// Highest number of ops in flight at once.
    pub max_in_flight: u64,
}

/// The io_uring engine. Cheap to clone; all clones share one driver.
#[derive(Clone)]
pub struct UringDisk {
    inner: Arc<DiskInner>,
}

impl std::fmt::Debug for UringDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDisk")
            .field("stats", &self.stats())
            .finish()
    }
}

struct DiskInner {
    tx: mpsc::Sender<Request>,
    /// Declared after `tx` so it drops after it: closes the channel first,
    /// then wakes the driver to notice.
    wake: WakeOnDrop,
}

struct WakeOnDrop(Arc<Shared>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake();
    }
}

/// A file opened by [`UringDisk`].
#[derive(Clone)]
pub struct UringFile {
    disk: Arc<DiskInner>,
    file: Arc<FileInner>,
}

impl std::fmt::Debug for UringFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFile")
            .field("path", &self.file.path)
            .field("direct", &self.file.direct)
            .finish()
    }
}

/// An open file; the driver holds an `Arc` of it while an op is in flight.
pub(crate) struct FileInner {
    file: File,
    path: PathBuf,
    direct: bool,
}

fn unavailable(reason: String) -> IoError {
    IoError::UringUnavailable { reason }
}

/// Names the likely cause of an `io_uring_setup` failure.
fn setup_reason(e: &std::io::Error) -> String {
    let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| format!("kernel.io_uring_disabled = {}", s.trim()))
        .unwrap_or_else(|_| "kernel.io_uring_disabled not readable".to_string());
    let cause = match e.raw_os_error() {
        Some(libc::ENOSYS) => "kernel without io_uring support, or blocked by a seccomp filter",
        Some(libc::EPERM) => {
            "not permitted: disabled by sysctl, or blocked by container/seccomp policy"
        }
        Some(libc::ENOMEM) => "cannot allocate the ring (memlock limit?)",
        Some(libc::EINVAL) => "kernel rejected the ring parameters (kernel too old?)",
        _ => "setup failed",
    };
    format!("io_uring_setup: {e}: {cause}; {sysctl}")
}

impl UringDisk {
    /// Sets up the ring, probes the opcodes this engine uses, and starts the
    /// driver thread. Fails with [`IoError::UringUnavailable`] naming the
    /// cause when the kernel refuses; never falls back silently.
    pub fn new(config: UringConfig) -> IoResult<UringDisk> {
        if !(2..=32768).contains(&config.ring_entries) || config.channel_capacity == 0 {
            return Err(IoError::os(
                "io_uring config",
                Path::new(""),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "ring_entries must be 2..=32768 and channel_capacity >= 1, got {config:?}"
                    ),
                ),
            ));
        }
        let ring = io_uring::IoUring::new(config.ring_entries)
            .map_err(|e| unavailable(setup_reason(&e)))?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe).map_err(|e| {
            unavailable(format!(
                "IORING_REGISTER_PROBE failed: {e} (kernel older than 5.6?)"
            ))
        })?;
        let needed = [
            ("READ", io_uring::opcode::Read::CODE),
            ("WRITE", io_uring::opcode::Write::CODE),
            ("FSYNC", io_uring::opcode::Fsync::CODE),
            ("FALLOCATE", io_uring::opcode::Fallocate::CODE),
        ];
        let missing: Vec<&str> = needed
            .iter()
            .filter(|(_, code)| !probe.is_supported(*code))
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(unavailable(format!(
                "kernel lacks io_uring opcodes {missing:?}"
            )));
        }
        let shared = Arc::new(Shared::new().map_err(|e| unavailable(format!("eventfd: {e}")))?);
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let max_in_flight = (ring.params().sq_entries() as usize - 1).max(1);
        let driver = Driver::new(ring, rx, shared.clone(), max_in_flight);
        std::thread::Builder::new()
            .name("cairn-uring".into())
            .spawn(move || driver.run())
            .map_err(|e| unavailable(format!("cannot spawn the driver thread: {e}")))?;
        Ok(UringDisk {
            inner: Arc::new(DiskInner {
                tx,
                wake: WakeOnDrop(shared),
            }),
        })
    }

    pub fn stats(&self) -> UringStats {
        let s = &self.inner.wake.0.stats;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        UringStats {
            ops: get(&s.ops),
            sqes: get(&s.sqes),
            enters: get(&s.enters),
            submits: get(&s.submits),
            resubmits: get(&s.resubmits),
            wakeups: get(&s.wakeups),
            max_in_flight: get(&s.max_in_flight),
        }
    }

    /// Test hook: stop (or resume) taking requests from the channel.
    #[cfg(test)]
    pub(crate) fn set_paused(&self, paused: bool) {
        let shared = &self.inner.wake.0;
        shared.paused.store(paused, Ordering::SeqCst);
        shared.wake();
    }

    /// Test hook: a probe that reports whether the driver thread still runs
    /// (it holds the shared state until it exits).
    #[cfg(test)]
    pub(crate) fn driver_alive(&self) -> impl Fn() -> bool + Send + 'static + use<> {
        let weak = Arc::downgrade(&self.inner.wake.0);
        move || weak.strong_count() > 0
    }

    /// Free slots in the request channel (for backpressure tests).
    #[cfg(test)]
    pub(crate) fn channel_free(&self) -> usize {
        self.inner.tx.capacity()
    }
}

impl Disk for UringDisk {
    type File = UringFile;

    async fn open(&self, path: &Path, opts: OpenOptions) -> IoResult<UringFile> {
        let p = path.to_path_buf();
        let file = blocking(path, move || {
            let file = open_std(&p, opts)?;
            Ok(FileInner {
                file,
                path: p,
                direct: opts.direct,
            })
        })
        .await?;
        Ok(UringFile {
            disk: self.inner.clone(),
            file: Arc::new(file),
        })
    }

    async fn create_dir_all(&self, dir: &Path) -> IoResult<()> {
        super::std_disk::StdDisk.create_dir_all(dir).await
    }

    async fn list(&self, dir: &Path) -> IoResult<Vec<String>> {
        super::std_disk::StdDisk.list(dir).await
    }

    async fn remove(&self, path: &Path) -> IoResult<()> {
        super::std_disk::StdDisk.remove(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> IoResult<()> {
        super::std_disk::StdDisk.rename(from, to).await
    }

    async fn sync_dir(&self, dir: &Path) -> IoResult<()> {
        super::std_disk::StdDisk.sync_dir(dir).await
    }
}

impl UringFile {
    /// Sends one op to the driver and waits for its reply. `Err` carries the
    /// buffer back when the request never reached the driver.
    async fn submit(&self, op: Op) -> Result<Reply, (IoError, Option<IoBuf>)> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let req = Request {
            file: self.file.clone(),
            op,
            reply: reply_tx,
        };
        let gone = || IoError::DriverGone {
            path: self.file.path.clone(),
        };
        if let Err(mpsc::error::SendError(req)) = self.disk.tx.send(req).await {
            let buf = match req.op {
                Op::Read { buf, .. } | Op::Write { buf, .. } => Some(buf),
                Op::Sync { .. } | Op::Allocate { .. } => None,
            };
            return Err((gone(), buf));
        }
        self.disk.wake.0.wake_if_sleeping();
        // If the driver died, it kept (and leaked) the buffer.
        reply_rx.await.map_err(|_| (gone(), None))
    }

    async fn simple(&self, op: Op, name: &'static str) -> IoResult<()> {
        match self.submit(op).await {
            Ok(Reply { res, .. }) => res
                .map(drop)
                .map_err(|e| IoError::os(name, &self.file.path, e)),
            Err((e, _)) => Err(e),
        }
    }
}

impl UringFile {
    /// One write op; with `dsync`, `RWF_DSYNC` makes it durable on completion.
    async fn write(&self, buf: IoBuf, offset: u64, dsync: bool) -> (IoResult<()>, IoBuf) {
        if self.file.direct
            && let Err(e) = check_direct(&self.file.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let len = buf.len();
        let what = if dsync { "write (RWF_DSYNC)" } else { "write" };
        match self.submit(Op::Write { buf, offset, dsync }).await {
            Ok(Reply { res, buf }) => (
                res.map(drop)
                    .map_err(|e| IoError::os(what, &self.file.path, e)),
                buf.expect("write reply carries its buffer"),
            ),
            Err((e, buf)) => (Err(e), buf.unwrap_or_else(|| IoBuf::zeroed(len))),
        }
    }
}

impl DiskFile for UringFile {
    fn path(&self) -> &Path {
        &self.file.path
    }

    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoResult<usize>, IoBuf) {
        if self.file.direct
            && let Err(e) = check_direct(&self.file.path, offset, &buf)
        {
            return (Err(e), buf);
        }
        let len = buf.len();
        match self.submit(Op::Read { buf, offset }).await {
            Ok(Reply { res, buf }) => (
                res.map_err(|e| IoError::os("read", &self.file.path, e)),
                buf.expect("read reply carries its buffer"),
            ),
            Err((e, buf)) => (Err(e), buf.unwrap_or_else(|| IoBuf::zeroed(len))),
        }
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        self.write(buf, offset, false).await
    }

    async fn write_at_durable(&self, buf: IoBuf, offset: u64) -> (IoResult<()>, IoBuf) {
        self.write(buf, offset, true).await
    }

    async fn sync_data(&self) -> IoResult<()> {
        self.simple(Op::Sync { datasync: true }, "fdatasync").await
    }

    async fn sync_all(&self) -> IoResult<()> {
        self.simple(Op::Sync { datasync: false }, "fsync").await
    }

    async fn allocate(&self, offset: u64, len: u64) -> IoResult<()> {
        self.simple(Op::Allocate { offset, len }, "fallocate").await
    }

    async fn len(&self) -> IoResult<u64> {
        let f = self.file.clone();
        blocking(&self.file.path, move || {
            Ok(f.file
                .metadata()
                .map_err(|e| IoError::os("stat", &f.path, e))?
                .len())
        })
        .await
    }

    async fn set_len(&self, len: u64) -> IoResult<()> {
        let f = self.file.clone();
        blocking(&self.file.path, move || {
            f.file
                .set_len(len)
                .map_err(|e| IoError::os("ftruncate", &f.path, e))
        })
        .await
    }
}
