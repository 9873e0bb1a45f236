//! The io_uring driver: one OS thread owns the ring and every buffer the
//! kernel may touch.
//!
//! Callers (`io/uring/mod.rs`) push a [`Request`] into a bounded tokio mpsc
//! channel, wake the driver if it sleeps, and await a oneshot [`Reply`]. The
//! driver thread:
//! 1. reaps completions: a finished op's buffer goes back in the reply (a
//!    dropped caller just means the reply is discarded, then the buffer is
//!    freed: after the kernel is done with it); a short read/write or
//!    `EINTR`/`EAGAIN` is resubmitted in place;
//! 2. pulls new requests while fewer than `max_in_flight` ops are in flight
//!    (so the channel, not an internal queue, absorbs bursts: backpressure);
//! 3. submits every SQE it pushed in one `io_uring_enter` (batching) and
//!    blocks there until at least one completion arrives.
//!
//! Wake-ups: an `eventfd` read is kept armed in the ring. A caller that finds
//! `sleeping` set after its send writes the eventfd, completing that read.
//! The handshake is Dekker-style (store flag, SeqCst fence, check the other
//! side) on both ends, so a request can never sit in the channel while the
//! driver sleeps.
//!
//! Ownership invariant (why the `unsafe` below is sound): every pointer or fd
//! handed to the kernel belongs to an [`InFlight`] slot (the request's
//! `IoBuf` and `Arc<FileInner>`) or to the driver itself (the eventfd read
//! buffer and `Arc<Shared>` holding the eventfd), and a slot is freed only
//! after its CQE is reaped. The ring is dropped only after every op has
//! completed (`drain`), including the eventfd read, which shutdown completes
//! by writing the eventfd itself. If draining fails (should not happen), the
//! remaining buffers are leaked rather than freed.
#![allow(unsafe_code)]

use super::FileInner;
use crate::io::IoBuf;
use io_uring::{IoUring, opcode, squeue, types};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use tokio::sync::{mpsc, oneshot};

/// Largest byte count put in one SQE; longer transfers continue as "short"
/// ones (the kernel caps a single read/write near 2 GiB anyway).
const MAX_SQE_BYTES: usize = 1 << 30;
/// `user_data` of the armed eventfd read.
const EVENTFD_TOKEN: u64 = u64::MAX;

pub(super) enum Op {
    Read {
        buf: IoBuf,
        offset: u64,
    },
    /// `dsync`: with `RWF_DSYNC` (durable when it completes).
    Write {
        buf: IoBuf,
        offset: u64,
        dsync: bool,
    },
    Sync {
        datasync: bool,
    },
    Allocate {
        offset: u64,
        len: u64,
    },
}

pub(super) struct Request {
    pub file: Arc<FileInner>,
    pub op: Op,
    pub reply: oneshot::Sender<Reply>,
}

/// What the driver sends back: bytes transferred (reads: may be short at
/// end of file) or the OS error, plus the caller's buffer.
pub(super) struct Reply {
    pub res: io::Result<usize>,
    pub buf: Option<IoBuf>,
}

/// State shared by callers and the driver thread.
pub(super) struct Shared {
    eventfd: OwnedFd,
    /// Set by the driver just before it blocks with a free slot.
    sleeping: AtomicBool,
    /// Test hook: while set, the driver takes no new requests.
    #[cfg(test)]
    pub paused: AtomicBool,
    pub stats: StatCounters,
}

#[derive(Default)]
pub(super) struct StatCounters {
    pub ops: AtomicU64,
    pub sqes: AtomicU64,
    pub enters: AtomicU64,
    pub submits: AtomicU64,
    pub resubmits: AtomicU64,
    pub wakeups: AtomicU64,
    pub max_in_flight: AtomicU64,
}

impl Shared {
    pub fn new() -> io::Result<Shared> {
        // SAFETY: plain syscall with integer arguments; on success we take
        // sole ownership of the returned descriptor just below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, valid descriptor nobody else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Shared {
            eventfd,
            sleeping: AtomicBool::new(false),
            #[cfg(test)]
            paused: AtomicBool::new(false),
            stats: StatCounters::default(),
        })
    }

    /// Called by a caller after a successful send.
    pub fn wake_if_sleeping(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Unconditionally wakes the driver (shutdown, test hooks).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: the eventfd is owned by `self` and open for the whole call;
        // `one` is a live 8-byte value, which is what eventfd writes take.
        // A failure can only be EAGAIN on counter overflow, which means a
        // wake-up is already pending, so the result is ignored.
        let _ = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        self.stats.wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

struct InFlight {
    req: Request,
    /// Bytes already transferred (reads/writes).
    done: usize,
}

pub(super) struct Driver {
    ring: IoUring,
    rx: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
    /// Ops in `slots` (excludes the eventfd read).
    active: usize,
    /// Target buffer of the armed eventfd read; boxed so its address is
    /// stable for as long as the read is in flight.
    efd_buf: Box<u64>,
    efd_armed: bool,
    /// All senders are gone: finish in-flight ops, then exit.
    closed: bool,
    /// Scratch space for reaped completions (reused, never shrinks below
    /// one CQ's worth).
    cqes: Vec<(u64, i32)>,
}

impl Driver {
    pub fn new(
        ring: IoUring,
        rx: mpsc::Receiver<Request>,
        shared: Arc<Shared>,
        max_in_flight: usize,
    ) -> Driver {
        Driver {
            ring,
            rx,
            shared,
            slots: (0..max_in_flight).map(|_| None).collect(),
            free: (0..max_in_flight).rev().collect(),
            active: 0,
            efd_buf: Box::new(0),
            efd_armed: false,
            closed: false,
            cqes: Vec::with_capacity(2 * (max_in_flight + 1)),
        }
    }

    /// The thread body: serve requests until every handle is dropped.
    pub fn run(mut self) {
        self.arm_eventfd();
        loop {
            self.reap();
            if !self.closed {
                self.pull_requests();
            }
            if self.closed && self.active == 0 {
                break;
            }
            if !self.ring.completion().is_empty() {
                self.enter(0);
                continue;
            }
            if self.may_take_requests() {
                self.shared.sleeping.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                if !self.rx.is_empty() || self.rx.is_closed() {
                    self.shared.sleeping.store(false, Ordering::SeqCst);
                    continue;
                }
            }
            self.enter(1);
            self.shared.sleeping.store(false, Ordering::SeqCst);
        }
        self.drain();
    }

    fn may_take_requests(&self) -> bool {
        #[cfg(test)]
        if self.shared.paused.load(Ordering::SeqCst) {
            return false;
        }
        !self.closed && !self.free.is_empty()
    }

    /// `io_uring_enter`: submit pushed SQEs and wait for `want` completions.
    /// Interrupted or busy enters are simply retried by the caller's loop.
    fn enter(&mut self, want: usize) {
        self.shared.stats.enters.fetch_add(1, Ordering::Relaxed);
        match self.ring.submit_and_wait(want) {
            Ok(n) => {
                if n > 0 {
                    self.shared.stats.submits.fetch_add(1, Ordering::Relaxed);
                }
                self.shared
                    .stats
                    .sqes
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::EBUSY)
                ) => {}
            Err(e) => {
                // Nothing sensible to do but report and keep serving: a
                // persistent failure would show up as stuck callers.
                tracing::error!(error = %e, "io_uring_enter failed");
                std::thread::yield_now();
            }
        }
    }

    /// Pushes one SQE, submitting first if the submission queue is full.
    fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: every pointer in `entry` refers to memory owned by an
            // in-flight slot or by the driver (see the module docs), which
            // stays allocated until the matching CQE is reaped.
            let pushed = unsafe { self.ring.submission().push(entry) };
            if pushed.is_ok() {
                return;
            }
            self.enter(0);
        }
    }

    fn arm_eventfd(&mut self) {
        let ptr: *mut u64 = &mut *self.efd_buf;
        let entry = opcode::Read::new(
            types::Fd(self.shared.eventfd.as_raw_fd()),
            ptr.cast(),
            std::mem::size_of::<u64>() as u32,
        )
        .build()
        .user_data(EVENTFD_TOKEN);
        self.push(&entry);
        self.efd_armed = true;
    }

    fn pull_requests(&mut self) {
        while self.may_take_requests() {
            let req = match self.rx.try_recv() {
                Ok(req) => req,
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return;
                }
            };
            let empty =
                matches!(&req.op, Op::Read { buf, .. } | Op::Write { buf, .. } if buf.is_empty());
            if empty {
                finish(InFlight { req, done: 0 }, Ok(0));
                continue;
            }
            let slot = self.free.pop().expect("checked a slot is free");
            self.slots[slot] = Some(InFlight { req, done: 0 });
            self.active += 1;
            self.shared
                .stats
                .max_in_flight
                .fetch_max(self.active as u64, Ordering::Relaxed);
            self.submit_slot(slot);
        }
    }

    /// Builds and pushes the SQE for the remaining part of a slot's op.
    fn submit_slot(&mut self, slot: usize) {
        let fl = self.slots[slot].as_mut().expect("submitting a live slot");
        let fd = types::Fd(fl.req.file.file.as_raw_fd());
        let done = fl.done;
        let entry = match &mut fl.req.op {
            Op::Read { buf, offset } => {
                let len = (buf.len() - done).min(MAX_SQE_BYTES) as u32;
                // SAFETY: `done < buf.len()` (a finished op is never
                // resubmitted), so the pointer stays inside the allocation.
                let ptr = unsafe { buf.as_mut_ptr().add(done) };
                opcode::Read::new(fd, ptr, len)
                    .offset(*offset + done as u64)
                    .build()
            }
            Op::Write { buf, offset, dsync } => {
                let len = (buf.len() - done).min(MAX_SQE_BYTES) as u32;
                // SAFETY: as for reads.
                let ptr = unsafe { buf.as_ptr().add(done) };
                let flags = if *dsync { libc::RWF_DSYNC } else { 0 };
                opcode::Write::new(fd, ptr, len)
                    .offset(*offset + done as u64)
                    .rw_flags(flags)
                    .build()
            }
            Op::Sync { datasync } => {
                let flags = if *datasync {
                    types::FsyncFlags::DATASYNC
                } else {
                    types::FsyncFlags::empty()
                };
                opcode::Fsync::new(fd).flags(flags).build()
            }
            Op::Allocate { offset, len } => opcode::Fallocate::new(fd, *len)
                .offset(*offset)
                .mode(0)
                .build(),
        };
        self.push(&entry.user_data(slot as u64));
    }

    fn reap(&mut self) {
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
        for &(token, res) in &cqes {
            if token == EVENTFD_TOKEN {
                self.efd_armed = false;
                if !self.closed {
                    self.arm_eventfd();
                }
                continue;
            }
            self.complete(token as usize, res);
        }
        cqes.clear();
        self.cqes = cqes;
    }

    fn complete(&mut self, slot: usize, res: i32) {
        let fl = self.slots[slot].as_mut().expect("CQE for a live slot");
        if res == -libc::EINTR || res == -libc::EAGAIN {
            self.shared.stats.resubmits.fetch_add(1, Ordering::Relaxed);
            self.submit_slot(slot);
            return;
        }
        let outcome = if res < 0 {
            Some(Err(io::Error::from_raw_os_error(-res)))
        } else {
            let n = res as usize;
            match &fl.req.op {
                Op::Read { buf, offset } => {
                    fl.done += n;
                    let pos = *offset + fl.done as u64;
                    // n == 0 is end of file. With O_DIRECT a short read that
                    // leaves us misaligned is end of file too (resubmitting
                    // would fail with EINVAL).
                    let misaligned =
                        fl.req.file.direct && !pos.is_multiple_of(crate::io::IO_ALIGN as u64);
                    if n == 0 || fl.done == buf.len() || misaligned {
                        Some(Ok(fl.done))
                    } else {
                        None
                    }
                }
                Op::Write { buf, offset, .. } => {
                    fl.done += n;
                    let pos = *offset + fl.done as u64;
                    if fl.done == buf.len() {
                        Some(Ok(fl.done))
                    } else if n == 0
                        || (fl.req.file.direct && !pos.is_multiple_of(crate::io::IO_ALIGN as u64))
                    {
                        Some(Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            format!(
                                "short write: {} of {} bytes at offset {offset}",
                                fl.done,
                                buf.len()
                            ),
                        )))
                    } else {
                        None
                    }
                }
                Op::Sync { .. } | Op::Allocate { .. } => Some(Ok(0)),
            }
        };
        match outcome {
            None => {
                self.shared.stats.resubmits.fetch_add(1, Ordering::Relaxed);
                self.submit_slot(slot);
            }
            Some(res) => {
                let fl = self.slots[slot].take().expect("live slot");
                self.free.push(slot);
                self.active -= 1;
                self.shared.stats.ops.fetch_add(1, Ordering::Relaxed);
                finish(fl, res);
            }
        }
    }

    /// Waits until nothing is in flight, including the eventfd read (which
    /// it completes by writing the eventfd). Called on exit and from `Drop`.
    fn drain(&mut self) {
        self.closed = true;
        if self.efd_armed {
            self.shared.wake();
        }
        let mut failures = 0;
        while self.active > 0 || self.efd_armed {
            self.reap();
            if self.active == 0 && !self.efd_armed {
                break;
            }
            if let Err(e) = self.ring.submit_and_wait(1)
                && !matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::EBUSY)
                )
            {
                failures += 1;
                if failures > 100 {
                    // The kernel may still own these buffers: leak them.
                    tracing::error!(error = %e, in_flight = self.active, "io_uring drain failed; leaking buffers");
                    std::mem::forget(std::mem::take(&mut self.slots));
                    std::mem::forget(std::mem::replace(&mut self.efd_buf, Box::new(0)));
                    self.active = 0;
                    self.efd_armed = false;
                    return;
                }
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Normal exit has drained already; this matters only if the driver
        // unwinds with ops in flight.
        if self.active > 0 || self.efd_armed {
            self.drain();
        }
    }
}

fn finish(fl: InFlight, res: io::Result<usize>) {
    let buf = match fl.req.op {
        Op::Read { buf, .. } | Op::Write { buf, .. } => Some(buf),
        Op::Sync { .. } | Op::Allocate { .. } => None,
    };
    // The caller may have given up (dropped its future); then the reply and
    // its buffer are simply dropped here, after the kernel finished.
    let _ = fl.req.reply.send(Reply { res, buf });
}
