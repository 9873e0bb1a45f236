//! State shared by the `Wal` handles, the writer task (`wal/writer.rs`) and
//! the segment maintenance task (`wal/segment.rs`).
//!
//! Locks: `queue` (appenders and the writer) and `state` (index and
//! segments) are `std::sync::Mutex`es, never held across an `.await` and
//! never held together. Durability is published through `durable` (an
//! atomic) and the `done` notify: appenders hold a ticket and wait until
//! `durable >= ticket` or the WAL has failed at or before their ticket.
//! (A `Notify` rather than a `watch` channel: `watch` wakes receivers in a
//! randomised order, which would make seeded tests unreplayable.)

use super::error::WalError;
use super::index::Index;
use super::{Record, WalConfig};
use crate::io::Disk;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{Notify, Semaphore};

/// One segment file (live, active or spare).
#[derive(Clone, Debug)]
pub(crate) struct SegFile<F> {
    pub slot: u64,
    pub seq: u64,
    pub salt: u64,
    pub size: u64,
    pub path: PathBuf,
    pub file: F,
}

pub(crate) enum Recs {
    One(Record),
    Many(Vec<Record>),
}

impl Recs {
    pub fn as_slice(&self) -> &[Record] {
        match self {
            Recs::One(r) => std::slice::from_ref(r),
            Recs::Many(v) => v,
        }
    }
}

/// One queued `append`/`append_batch` call.
pub(crate) struct Pending {
    pub recs: Recs,
    pub ticket: u64,
    /// Encoded bytes of its records (headers included).
    pub bytes: usize,
    /// Backpressure permits to return once written.
    pub permits: u32,
}

#[derive(Default)]
pub(crate) struct Queue {
    pub items: VecDeque<Pending>,
    pub next_ticket: u64,
    pub closed: bool,
}

pub(crate) struct State<F> {
    pub index: Index,
    /// Live segments by sequence (active, sealed, being reclaimed).
    pub files: BTreeMap<u64, SegFile<F>>,
    /// Preallocated segments ready to become active, ascending sequence.
    pub spares: VecDeque<SegFile<F>>,
    /// Reclaimable segments waiting for recycling or deletion (sequences).
    pub reclaimable: VecDeque<u64>,
    pub next_seq: u64,
    pub next_slot: u64,
    /// The writer is waiting for a spare.
    pub writer_waiting: bool,
}

impl<F> State<F> {
    /// Moves newly reclaimable segments to the reclaim queue; true if any.
    pub fn collect_reclaimable(&mut self) -> bool {
        let ready = self.index.take_reclaimable();
        let any = !ready.is_empty();
        self.reclaimable.extend(ready);
        any
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub appends: AtomicU64,
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
    pub bytes_written: AtomicU64,
    /// Time in durable batch writes (write and sync), µs (seals not included).
    pub write_us: AtomicU64,
    pub created: AtomicU64,
    pub recycled: AtomicU64,
    pub deleted: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

pub(crate) struct Shared<D: Disk> {
    pub disk: D,
    pub cfg: WalConfig,
    /// Whether segment files are opened with `O_DIRECT` (config, unless the
    /// filesystem refused it).
    pub direct: bool,
    pub queue: Mutex<Queue>,
    pub writer_wake: Notify,
    /// Backpressure: permits are bytes of queued records.
    pub space: Semaphore,
    /// Every ticket <= this is durable.
    pub durable: AtomicU64,
    /// Tickets >= `.0` failed with `.1` (fail-stop; set once).
    pub failed: OnceLock<(u64, Arc<WalError>)>,
    /// Notified (all waiters) when `durable` or `failed` changes.
    pub done: Notify,
    pub state: Mutex<State<D::File>>,
    pub maint_wake: Notify,
    pub spare_ready: Notify,
    /// The maintenance task should stop.
    pub closing: AtomicBool,
    pub counters: Counters,
}

impl<D: Disk> Shared<D> {
    pub fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().expect("wal queue lock poisoned")
    }

    pub fn state(&self) -> MutexGuard<'_, State<D::File>> {
        self.state.lock().expect("wal state lock poisoned")
    }

    pub fn failure(&self) -> Option<Arc<WalError>> {
        self.failed.get().map(|f| f.1.clone())
    }

    /// Publishes that every ticket <= `ticket` is durable.
    pub fn publish_durable(&self, ticket: u64) {
        self.durable.store(ticket, Ordering::Release);
        self.done.notify_waiters();
    }

    /// Waits until `ticket` is durable (Ok) or failed (Err).
    pub async fn wait_durable(&self, ticket: u64) -> Result<(), WalError> {
        loop {
            let mut notified = std::pin::pin!(self.done.notified());
            notified.as_mut().enable();
            if self.durable.load(Ordering::Acquire) >= ticket {
                return Ok(());
            }
            if let Some((from, cause)) = self.failed.get()
                && ticket >= *from
            {
                return Err(WalError::Failed {
                    cause: cause.clone(),
                });
            }
            notified.await;
        }
    }

    /// Fail-stop: every ticket not yet durable fails with `err`, queued and
    /// future appends are refused, both tasks wind down. Idempotent (the
    /// first failure wins).
    pub fn fail(&self, err: WalError) {
        let from = self.durable.load(Ordering::Acquire) + 1;
        if self.failed.set((from, Arc::new(err))).is_ok() {
            let cause = self.failure().map(|c| c.to_string()).unwrap_or_default();
            tracing::error!(dir = %self.cfg.dir.display(), %cause, "WAL failed; refusing further appends");
        }
        {
            let mut q = self.queue();
            q.closed = true;
            q.items.clear();
        }
        self.space.close();
        self.done.notify_waiters();
        self.writer_wake.notify_one();
        self.maint_wake.notify_one();
        self.spare_ready.notify_one();
    }
}
