//! The shell's persistence pipeline: carries out the flushes the shell takes from its
//! [`PendingFlush`](crate::driver::store::PendingFlush), with up to
//! [`DriverConfig::flushes_in_flight_max`](crate::driver::DriverConfig) of them in flight,
//! and reports each one durable, **in ticket order**, on the shell's completion channel
//! (its own channel, which the shell reads before its inbox: a completion releases acks and
//! replies, and must not wait behind a backlog of inbound messages).
//!
//! Why more than one in flight: the WAL writer writes and syncs one batch at a time; with a
//! single flush in flight, each sync is followed by a round trip through the shell (the
//! completion message, the shell's next iteration, a new append) before the next batch can
//! start, and the disk idles meanwhile. With a second flush already queued, the writer
//! starts it the moment the previous sync returns.
//!
//! Two tasks, both fed in order:
//! - the *submitter* receives [`FlushJob`]s from the shell (bounded channel), writes the
//!   job's hard states (rare: elections; awaited, so hard-state files are written one job
//!   at a time and a later job's file never races an earlier one's) and queues its records
//!   in the WAL ([`Wal::enqueue_batch`](crate::wal::Wal::enqueue_batch)): the WAL makes
//!   batches durable in queue order, and only this task queues;
//! - the *completer* waits for each queued batch to be durable, in the same order, and
//!   tells the shell.
//!
//! Invariant: completion `t` is sent only after every record and hard state of every ticket
//! `<= t` is durable. Any error is sent as the job's result (fatal in the shell: the WAL is
//! fail-stop).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use wire::replication::HardState;

use crate::driver::DriverStats;
use crate::driver::registry::Registry;
use crate::driver::store::{Slot, Ticket};
use crate::engine::Engine;
use crate::io::Disk;
use crate::wal::{DurableTicket, Record};

/// One flush: what the shell took from its pending store under `ticket`.
pub struct FlushJob {
    pub ticket: Ticket,
    pub records: Vec<Record>,
    pub hard: BTreeMap<Slot, HardState>,
}

/// A queued job on its way to the completer.
struct Queued {
    ticket: Ticket,
    started: Instant,
    /// The WAL batch to wait for, or the error that already failed the job.
    wal: Result<Option<DurableTicket>, String>,
}

/// A flush's outcome, sent to the shell in ticket order.
pub type Completion = (Ticket, Result<(), String>);

/// The flusher as the shell holds it.
pub struct Flusher {
    /// Where the shell submits jobs (capacity `in_flight_max`: the shell never has more in
    /// flight, so its `try_send` always succeeds).
    pub jobs: mpsc::Sender<FlushJob>,
    /// Completions, in ticket order (capacity `in_flight_max`).
    pub done: mpsc::Receiver<Completion>,
    /// The completer's handle: once `jobs` is dropped, both tasks finish the jobs they hold
    /// and end, and the handle completes after both have (they hold engine handles, which
    /// must not outlive a stopped driver).
    pub tasks: tokio::task::JoinHandle<()>,
}

/// Starts the two tasks.
pub fn start<D: Disk + Clone>(
    engine: Engine<D>,
    registry: Registry,
    stats: Arc<DriverStats>,
    in_flight_max: usize,
) -> Flusher {
    assert!(in_flight_max >= 1, "at least one flush in flight");
    let (jobs_tx, mut jobs) = mpsc::channel::<FlushJob>(in_flight_max);
    let (done_tx, done) = mpsc::channel::<Completion>(in_flight_max);
    let (queued_tx, mut queued) = mpsc::channel::<Queued>(in_flight_max);
    let wal_engine = engine.clone();
    tokio::spawn(async move {
        while let Some(job) = jobs.recv().await {
            let started = Instant::now();
            let wal = submit(&engine, &registry, job.hard, job.records).await;
            let q = Queued {
                ticket: job.ticket,
                started,
                wal,
            };
            if queued_tx.send(q).await.is_err() {
                return;
            }
        }
    });
    let completer = tokio::spawn(async move {
        while let Some(q) = queued.recv().await {
            let r = match q.wal {
                Ok(Some(t)) => wal_engine
                    .wal()
                    .wait_durable(t)
                    .await
                    .map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            stats.flush.observe(q.started.elapsed());
            let w = wal_engine.wal().stats();
            stats.wal_batches.set(w.batches);
            stats.wal_write_us.set(w.write_us);
            if done_tx.send((q.ticket, r)).await.is_err() {
                return;
            }
        }
    });
    Flusher {
        jobs: jobs_tx,
        done,
        tasks: completer,
    }
}

/// Writes the hard states (awaited), then queues the records in the WAL.
async fn submit<D: Disk + Clone>(
    engine: &Engine<D>,
    registry: &Registry,
    hard: BTreeMap<Slot, HardState>,
    records: Vec<Record>,
) -> Result<Option<DurableTicket>, String> {
    if !hard.is_empty() {
        let registry = registry.clone();
        tokio::task::spawn_blocking(move || registry.put_hard_states(&hard))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    engine
        .wal()
        .enqueue_batch(records)
        .await
        .map_err(|e| e.to_string())
}
