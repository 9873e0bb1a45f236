//! The group-commit writer task: the only code that appends to segments.
//!
//! Loop: take everything queued (up to `batch_bytes_max`, at least one
//! append), encode it into one aligned [`IoBuf`] (batch header, records,
//! zero padding to the next block), one durable write (`write_at_durable`: a write with
//! `RWF_DSYNC` on io_uring, `write_at` + `sync_data` elsewhere), then
//! index the records and publish the new durable ticket. Appenders keep
//! queueing while the write and sync run, so the next batch grows with the
//! sync latency.
//!
//! Invariants:
//! - Batches are written strictly one after another, each synced before
//!   the next is written; a seal is synced before the next segment is
//!   written. So on disk at most one batch is not durable, and it is the
//!   last one (recovery relies on this to tell a torn tail from damage).
//! - A batch at `pos` occupies `align_up(64 + records)` bytes and leaves at
//!   least one block for the seal: `pos + len + BLOCK <= segment size`.
//! - Records are indexed only after their sync returns, so `Wal::read`
//!   never returns a record that is not durable.
//! - Any I/O error fails the WAL (fail-stop): the error goes to every
//!   appender of the batch and of every later append.

use super::error::WalError;
use super::format::{BATCH_HEADER_BYTES, BLOCK, BatchHeader, FLAG_SEAL, align_up, encode_record};
use super::shared::{Counters, Pending, SegFile, Shared};
use crate::io::{DiskFile, IoBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(crate) struct Writer<F> {
    active: Option<Active<F>>,
    next_batch_no: u64,
    buf: Option<IoBuf>,
    taken: Vec<Pending>,
    /// (partition, index, offset, len) of the batch being written.
    locs: Vec<(u64, u64, u32, u32)>,
}

struct Active<F> {
    seg: SegFile<F>,
    pos: u64,
}

impl<F> Active<F> {
    /// Bytes a batch starting at `pos` may occupy (aligned), leaving room
    /// for the seal.
    fn room(&self) -> u64 {
        self.seg.size - BLOCK - self.pos
    }
}

/// Marks the WAL failed if the writer task ends without saying it is done
/// (a panic), so no appender waits forever.
struct ExitGuard<'a, D: crate::io::Disk>(&'a Shared<D>, bool);

impl<D: crate::io::Disk> Drop for ExitGuard<'_, D> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fail(WalError::Closed);
        }
    }
}

impl<F: DiskFile> Writer<F> {
    pub fn new(next_batch_no: u64) -> Writer<F> {
        Writer {
            active: None,
            next_batch_no,
            buf: None,
            taken: Vec::new(),
            locs: Vec::new(),
        }
    }

    pub async fn run<D: crate::io::Disk<File = F>>(mut self, sh: Arc<Shared<D>>) {
        let mut guard = ExitGuard(&sh, false);
        if let Err(e) = self.run_inner(&sh).await {
            sh.fail(e);
        }
        guard.1 = true;
        drop(guard);
        sh.closing.store(true, Ordering::Release);
        sh.maint_wake.notify_one();
    }

    async fn run_inner<D: crate::io::Disk<File = F>>(
        &mut self,
        sh: &Shared<D>,
    ) -> Result<(), WalError> {
        loop {
            // Wait for work (or a clean close once the queue is drained).
            let first_bytes = loop {
                if sh.failure().is_some() {
                    return Ok(());
                }
                let (front, closed) = {
                    let q = sh.queue();
                    (q.items.front().map(|p| p.bytes as u64), q.closed)
                };
                if let Some(bytes) = front {
                    break bytes;
                }
                if closed {
                    if let Some(a) = self.active.take() {
                        self.seal(sh, a).await?;
                    }
                    return Ok(());
                }
                sh.writer_wake.notified().await;
            };
            let first_len = align_up(BATCH_HEADER_BYTES as u64 + first_bytes);
            if self.active.as_ref().is_none_or(|a| a.room() < first_len) {
                self.rollover(sh).await?;
            }
            let Some(mut active) = self.active.take() else {
                return Ok(());
            };
            self.taken.clear();
            let mut total = BATCH_HEADER_BYTES as u64;
            let mut permits = 0usize;
            {
                let mut q = sh.queue();
                while let Some(front) = q.items.front() {
                    let t = total + front.bytes as u64;
                    let fits = align_up(t) <= active.room();
                    let within = self.taken.is_empty() || t <= sh.cfg.batch_bytes_max as u64;
                    if !fits || !within {
                        break;
                    }
                    total = t;
                    permits += front.permits as usize;
                    if let Some(p) = q.items.pop_front() {
                        self.taken.push(p);
                    }
                }
            }
            let Some(last_ticket) = self.taken.last().map(|p| p.ticket) else {
                self.active = Some(active);
                continue; // failed or drained concurrently
            };
            let len = align_up(total);
            let batch_no = self.next_batch_no;
            self.next_batch_no += 1;
            let mut buf = self.encode(&active.seg, active.pos, total, len, batch_no);
            let records = self.locs.len() as u64;
            let file = active.seg.file.clone();
            let t0 = std::time::Instant::now();
            // Durable on return (one RWF_DSYNC write on io_uring; write + fdatasync
            // elsewhere): earlier batches were durable before this one was written.
            let (res, back) = file.write_at_durable(buf, active.pos).await;
            buf = back;
            res?;
            Counters::add(&sh.counters.write_us, t0.elapsed().as_micros() as u64);
            if buf.capacity() <= 2 * align_up(sh.cfg.batch_bytes_max as u64) as usize {
                self.buf = Some(buf);
            }
            let seq = active.seg.seq;
            active.pos += len;
            self.active = Some(active);
            {
                let mut st = sh.state();
                for &(p, i, off, l) in &self.locs {
                    st.index.push(p, i, seq, off, l);
                }
                if st.collect_reclaimable() {
                    sh.maint_wake.notify_one();
                }
            }
            let c = &sh.counters;
            Counters::add(&c.batches, 1);
            Counters::add(&c.syncs, 1);
            Counters::add(&c.records, records);
            Counters::add(&c.bytes_written, len);
            sh.publish_durable(last_ticket);
            sh.space.add_permits(permits);
            self.taken.clear();
        }
    }

    /// Encodes `self.taken` as one batch of `len` bytes (`total` before
    /// padding) for position `pos` of `seg`; fills `self.locs`.
    fn encode(&mut self, seg: &SegFile<F>, pos: u64, total: u64, len: u64, batch_no: u64) -> IoBuf {
        let len = len as usize;
        let mut buf = match self.buf.take() {
            Some(b) if b.capacity() >= len => b,
            _ => IoBuf::zeroed(len),
        };
        buf.set_len(len);
        self.locs.clear();
        let mut off = BATCH_HEADER_BYTES;
        let mut count = 0u32;
        for p in self.taken.drain(..) {
            for r in p.recs.as_slice() {
                let n = encode_record(
                    &mut buf[off..],
                    seg.seq,
                    r.partition,
                    r.ballot,
                    r.index,
                    &r.payload,
                );
                self.locs
                    .push((r.partition, r.index, (pos + off as u64) as u32, n as u32));
                off += n;
                count += 1;
            }
        }
        assert_eq!(off as u64, total, "wal writer: batch size accounting");
        buf[off..].fill(0);
        BatchHeader {
            flags: 0,
            record_count: count,
            records_bytes: (total - BATCH_HEADER_BYTES as u64) as u32,
            seq: seg.seq,
            salt: seg.salt,
            batch_no,
        }
        .encode(&mut buf[..BATCH_HEADER_BYTES]);
        buf
    }

    /// Seals the active segment (if any) and activates the lowest spare,
    /// waiting for the maintenance task if none is ready.
    async fn rollover<D: crate::io::Disk<File = F>>(
        &mut self,
        sh: &Shared<D>,
    ) -> Result<(), WalError> {
        if let Some(a) = self.active.take() {
            self.seal(sh, a).await?;
        }
        loop {
            {
                let mut st = sh.state();
                if let Some(seg) = st.spares.pop_front() {
                    st.writer_waiting = false;
                    st.index.add_segment(seg.seq);
                    st.files.insert(seg.seq, seg.clone());
                    drop(st);
                    sh.maint_wake.notify_one();
                    self.active = Some(Active { seg, pos: BLOCK });
                    return Ok(());
                }
                st.writer_waiting = true;
            }
            sh.maint_wake.notify_one();
            if sh.failure().is_some() || sh.closing.load(Ordering::Acquire) {
                return Ok(());
            }
            sh.spare_ready.notified().await;
        }
    }

    /// Writes and syncs a seal at the active position.
    async fn seal<D: crate::io::Disk<File = F>>(
        &mut self,
        sh: &Shared<D>,
        a: Active<F>,
    ) -> Result<(), WalError> {
        write_seal(&a.seg, a.pos, self.next_batch_no).await?;
        self.next_batch_no += 1;
        Counters::add(&sh.counters.syncs, 1);
        Counters::add(&sh.counters.bytes_written, BLOCK);
        let mut st = sh.state();
        st.index.seal(a.seg.seq);
        if st.collect_reclaimable() {
            sh.maint_wake.notify_one();
        }
        Ok(())
    }
}

/// Writes a seal batch at `pos` of `seg` and syncs it.
pub(crate) async fn write_seal<F: DiskFile>(
    seg: &SegFile<F>,
    pos: u64,
    batch_no: u64,
) -> Result<(), WalError> {
    let mut buf = IoBuf::zeroed(BLOCK as usize);
    BatchHeader {
        flags: FLAG_SEAL,
        record_count: 0,
        records_bytes: 0,
        seq: seg.seq,
        salt: seg.salt,
        batch_no,
    }
    .encode(&mut buf);
    let (res, _) = seg.file.write_at(buf, pos).await;
    res?;
    seg.file.sync_data().await?;
    Ok(())
}
