//! The WAL writer task: group commit, segment rotation and recycling.
//!
//! One task owns all writes to segment files. Each round it takes every
//! queued request (up to `batch_bytes_max`, and what fits in the active
//! segment), encodes them into one block-aligned buffer (batch header,
//! records, zero padding), issues one `write_at` and one `sync_data`, updates
//! the index, and only then completes the appenders. Requests that arrive
//! while it syncs form the next batch. Between batches it turns freed
//! segments into spares (header rewritten with seq 0 and synced, so their old
//! records can never come back at recovery) and keeps `spare_segments`
//! zero-filled files ready.
//!
//! Invariant: a batch is written only after every earlier batch is durable,
//! so at most one (the last) batch can be torn by a crash.

use super::format::{self, BLOCK};
use super::{
    Index, Loc, Req, Segment, Shared, WalConfig, WalError, index_record, open_segment, segment_path,
};
use crate::io::{Disk, DiskFile, IoBuf};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

const ZERO_FILL_CHUNK_BYTES: usize = 1 << 20;

/// Creates segment file `slot`, allocated and zero-filled, with a header
/// carrying `seq` (0 = spare), all durable (file data and directory entry).
async fn prepare<D: Disk>(
    disk: &D,
    cfg: &WalConfig,
    slot: u32,
    seq: u64,
) -> Result<D::File, WalError> {
    let file = open_segment(disk, cfg, slot).await?;
    let size = cfg.segment_size_bytes;
    file.allocate(0, size).await?;
    let mut off = 0u64;
    while off < size {
        let n = ((size - off) as usize).min(ZERO_FILL_CHUNK_BYTES);
        let (res, _) = file.write_at(IoBuf::zeroed(n), off).await;
        res?;
        off += n as u64;
    }
    write_header(&file, cfg, seq).await?;
    disk.sync_dir(&cfg.dir).await?;
    Ok(file)
}

async fn write_header<F: DiskFile>(file: &F, cfg: &WalConfig, seq: u64) -> Result<(), WalError> {
    let mut block = IoBuf::zeroed(BLOCK);
    format::encode_segment_header(&mut block, seq, cfg.segment_size_bytes);
    let (res, _) = file.write_at(block, 0).await;
    res?;
    file.sync_data().await?;
    Ok(())
}

/// A new active segment with the next sequence number: a spare if one is
/// ready, else a freshly prepared file.
pub(super) async fn new_active<D: Disk>(
    disk: &D,
    cfg: &WalConfig,
    spares: &mut Vec<Segment<D::File>>,
    next_slot: &mut u32,
    next_seq: &mut u64,
) -> Result<Segment<D::File>, WalError> {
    let seq = *next_seq;
    *next_seq += 1;
    if let Some(mut seg) = spares.pop() {
        write_header(&seg.file, cfg, seq).await?;
        seg.seq = seq;
        seg.parts = HashMap::new();
        return Ok(seg);
    }
    let slot = *next_slot;
    *next_slot += 1;
    let file = prepare(disk, cfg, slot, seq).await?;
    Ok(Segment {
        slot,
        file,
        seq,
        parts: HashMap::new(),
    })
}

/// Prepares spares until `spare_segments` are ready.
pub(super) async fn top_up_spares<D: Disk>(shared: &Arc<Shared<D>>) -> Result<(), WalError> {
    loop {
        let slot = {
            let mut st = shared.state.lock().expect("wal state");
            if st.spares.len() >= shared.cfg.spare_segments {
                return Ok(());
            }
            st.next_slot += 1;
            st.next_slot - 1
        };
        let file = prepare(&shared.disk, &shared.cfg, slot, 0).await?;
        shared
            .state
            .lock()
            .expect("wal state")
            .spares
            .push(Segment {
                slot,
                file,
                seq: 0,
                parts: HashMap::new(),
            });
    }
}

/// Turns freed segments into spares (or deletes extras).
async fn recycle_freed<D: Disk>(shared: &Arc<Shared<D>>) -> Result<(), WalError> {
    let freed = std::mem::take(&mut shared.state.lock().expect("wal state").freed);
    for mut seg in freed {
        write_header(&seg.file, &shared.cfg, 0).await?;
        seg.seq = 0;
        seg.parts.clear();
        shared.counters.recycled.fetch_add(1, Ordering::Relaxed);
        let extra = {
            let mut st = shared.state.lock().expect("wal state");
            if st.spares.len() < shared.cfg.spare_segments + 2 {
                st.spares.push(seg);
                None
            } else {
                Some(seg)
            }
        };
        if let Some(seg) = extra {
            let path = segment_path(&shared.cfg.dir, seg.slot);
            drop(seg);
            shared.disk.remove(&path).await?;
            shared.disk.sync_dir(&shared.cfg.dir).await?;
        }
    }
    Ok(())
}

pub(super) async fn run<D: Disk>(shared: Arc<Shared<D>>, mut rx: mpsc::Receiver<Req>) {
    let mut queue: VecDeque<Req> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(r) => queue.push_back(r),
                None => break,
            }
        }
        let mut queued: usize = queue.iter().map(|r| r.bytes).sum();
        while queued < shared.cfg.batch_bytes_max {
            match rx.try_recv() {
                Ok(r) => {
                    queued += r.bytes;
                    queue.push_back(r);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = round(&shared, &mut queue).await {
            let why = e.to_string();
            tracing::error!(error = %why, "WAL write failed; refusing further appends");
            shared.state.lock().expect("wal state").failed = Some(why.clone());
            for r in queue.drain(..) {
                let _ = r.done.send(Err(WalError::Failed(why.clone())));
            }
            while let Some(r) = rx.recv().await {
                let _ = r.done.send(Err(WalError::Failed(why.clone())));
            }
            return;
        }
    }
}

/// Writes one batch from the front of `queue`, rotating first if needed.
async fn round<D: Disk>(
    shared: &Arc<Shared<D>>,
    queue: &mut VecDeque<Req>,
) -> Result<(), WalError> {
    let cfg = &shared.cfg;
    let (file, pos, seq) = {
        let st = shared.state.lock().expect("wal state");
        (st.active.file.clone(), st.write_pos, st.active.seq)
    };
    let avail = cfg.segment_size_bytes.saturating_sub(pos) as usize;
    let (mut take, mut bytes) = (0usize, 0usize);
    for r in queue.iter() {
        let more = bytes + r.bytes;
        if format::batch_disk_len(more) > avail || (take > 0 && more > cfg.batch_bytes_max) {
            break;
        }
        bytes = more;
        take += 1;
    }
    if take == 0 {
        rotate(shared).await?;
        return Ok(());
    }
    let reqs: Vec<Req> = queue.drain(..take).collect();
    let count: usize = reqs.iter().map(|r| r.recs.len()).sum();
    let disk_len = format::batch_disk_len(bytes);
    let mut buf = IoBuf::zeroed(disk_len);
    format::encode_batch_header(&mut buf, count as u32, bytes as u64, seq);
    let mut at = format::BATCH_HEADER_BYTES;
    let mut placed = Vec::with_capacity(count);
    for r in &reqs {
        for rec in &r.recs {
            format::encode_record(&mut buf[at..], seq, rec);
            placed.push((rec.partition, rec.index, at));
            at += format::record_len(rec.payload.len());
        }
    }
    debug_assert_eq!(at, format::BATCH_HEADER_BYTES + bytes);
    let (res, _) = file.write_at(buf, pos).await;
    res?;
    file.sync_data().await?;
    {
        let mut st = shared.state.lock().expect("wal state");
        let st = &mut *st;
        assert_eq!(
            st.active.seq, seq,
            "active segment changed under the writer"
        );
        for (r, (p, i, at)) in reqs.iter().flat_map(|r| r.recs.iter()).zip(placed) {
            let loc = Loc {
                seq,
                offset: pos + at as u64,
                len: r.payload.len() as u32,
            };
            index_record(&mut st.index, p, i, loc);
            let max = st.active.parts.entry(p).or_insert(0);
            *max = (*max).max(i);
        }
        st.write_pos = pos + disk_len as u64;
        // Records appended below a partition's release mark are not needed.
        drop_released(&mut st.index, &st.released);
    }
    let c = &shared.counters;
    c.appends.fetch_add(reqs.len() as u64, Ordering::Relaxed);
    c.records.fetch_add(count as u64, Ordering::Relaxed);
    c.batches.fetch_add(1, Ordering::Relaxed);
    c.syncs.fetch_add(1, Ordering::Relaxed);
    c.bytes_written
        .fetch_add(disk_len as u64, Ordering::Relaxed);
    for r in reqs {
        let _ = r.done.send(Ok(()));
    }
    recycle_freed(shared).await?;
    Ok(())
}

fn drop_released(index: &mut Index, released: &HashMap<u64, u64>) {
    for (p, &upto) in released {
        if let Some(m) = index.get_mut(p)
            && m.keys().next().is_some_and(|&first| first <= upto)
        {
            *m = m.split_off(&upto.saturating_add(1));
        }
    }
}

/// Seals the active segment and starts the next one.
async fn rotate<D: Disk>(shared: &Arc<Shared<D>>) -> Result<(), WalError> {
    recycle_freed(shared).await?;
    let (mut spares, mut next_slot, mut next_seq) = {
        let mut st = shared.state.lock().expect("wal state");
        (std::mem::take(&mut st.spares), st.next_slot, st.next_seq)
    };
    let seg = new_active(
        &shared.disk,
        &shared.cfg,
        &mut spares,
        &mut next_slot,
        &mut next_seq,
    )
    .await;
    {
        let mut st = shared.state.lock().expect("wal state");
        let st = &mut *st;
        spares.append(&mut st.spares);
        st.spares = spares;
        st.next_slot = next_slot;
        st.next_seq = next_seq;
        let seg = seg?;
        let old = std::mem::replace(&mut st.active, seg);
        st.write_pos = BLOCK as u64;
        st.sealed.insert(old.seq, old);
        super::collect_freeable(st);
    }
    top_up_spares(shared).await
}
