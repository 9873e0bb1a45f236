//! Recovery: read every segment, rebuild the index, find where the log
//! ends and decide whether that end is a torn tail (a clean stop) or
//! damage inside durable data (an error). The rules and why they are sound
//! are in `wal/mod.rs` ("Recovery"); this file implements them.
//!
//! Invariants relied on (established by `wal/writer.rs` and
//! `wal/segment.rs`): within one segment life batches are written in order,
//! each synced before the next; a segment is sealed (durably) before the
//! next one is written; every segment is appended to during one open only.

use super::WalConfig;
use super::error::{RecoveryReport, TailReason, TailStop, WalError};
use super::format::{
    BATCH_HEADER_BYTES, BLOCK, BatchHeader, SegHeader, align_down, align_up, decode_record,
};
use super::index::Index;
use super::segment::{TMP_SUFFIX, open_file, parse_seg_name};
use super::shared::SegFile;
use crate::io::{Disk, DiskFile, IoBuf, IoError, OpenOptions, read_exact_at};

/// Read window for scanning segments.
const WINDOW_BYTES: u64 = 1 << 20;

pub(crate) struct Recovered<F> {
    pub index: Index,
    /// Segments holding valid batches, ascending sequence; all sealed in
    /// the index (the tail is sealed on disk by `Wal::open` next).
    pub live: Vec<SegFile<F>>,
    /// The last live segment if it is not sealed, and where its seal goes.
    pub tail: Option<(SegFile<F>, u64)>,
    /// Segments with no valid batch: to recycle into spares or delete.
    pub free: Vec<SegFile<F>>,
    pub next_seq: u64,
    pub next_slot: u64,
    pub next_batch_no: u64,
    pub direct: bool,
    pub report: RecoveryReport,
}

/// A window over one segment file, read in aligned chunks.
struct Reader<'a, F> {
    file: &'a F,
    size: u64,
    buf: Option<IoBuf>,
    start: u64,
    valid: usize,
}

impl<'a, F: DiskFile> Reader<'a, F> {
    fn new(file: &'a F, size: u64) -> Reader<'a, F> {
        Reader {
            file,
            size,
            buf: None,
            start: 0,
            valid: 0,
        }
    }

    /// Bytes `off..off + len` (which must lie inside the segment).
    async fn get(&mut self, off: u64, len: usize) -> Result<&[u8], IoError> {
        let end = off + len as u64;
        let have = self.buf.is_some() && off >= self.start && end <= self.start + self.valid as u64;
        if !have {
            let a = align_down(off);
            let b = align_up(end)
                .max(a + WINDOW_BYTES)
                .min(self.size)
                .max(align_up(end));
            let n = (b - a) as usize;
            let mut buf = match self.buf.take() {
                Some(buf) if buf.capacity() >= n => buf,
                _ => IoBuf::zeroed(n),
            };
            buf.set_len(n);
            let (res, buf) = self.file.read_at(buf, a).await;
            self.buf = Some(buf);
            self.start = a;
            self.valid = 0;
            let got = res?;
            self.valid = got;
            if (got as u64) < end - a {
                return Err(IoError::os(
                    "read",
                    self.file.path(),
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("segment ended at {} before offset {end}", a + got as u64),
                    ),
                ));
            }
        }
        let at = (off - self.start) as usize;
        let buf = self.buf.as_ref().map(|b| &b[at..at + len]);
        Ok(buf.unwrap_or_default())
    }
}

#[derive(Debug, Default)]
struct Scan {
    batches: u64,
    records: u64,
    sealed: bool,
    /// Where the valid chain ends (start of the seal or of the bad batch).
    end: u64,
    /// Where and why the chain stopped (None when sealed).
    stop: Option<(u64, TailReason)>,
    first_bn: Option<u64>,
    last_bn: Option<u64>,
    first_block_zero: bool,
}

/// Follows the batch chain of `seg` from its first block, pushing the
/// records of every fully valid batch into `index`.
async fn scan_chain<F: DiskFile>(
    seg: &SegFile<F>,
    index: &mut Index,
    locs: &mut Vec<(u64, u64, u32, u32)>,
) -> Result<Scan, WalError> {
    let mut rd = Reader::new(&seg.file, seg.size);
    let mut s = Scan {
        end: BLOCK,
        ..Scan::default()
    };
    let mut pos = BLOCK;
    loop {
        if pos + BLOCK > seg.size {
            s.stop = Some((pos, TailReason::Torn));
            break;
        }
        let block = rd.get(pos, BLOCK as usize).await?;
        let zero = block.iter().all(|&b| b == 0);
        if pos == BLOCK {
            s.first_block_zero = zero;
        }
        if zero {
            s.stop = Some((pos, TailReason::Unwritten));
            break;
        }
        let h = match BatchHeader::decode(&block[..BATCH_HEADER_BYTES], seg.seq, seg.salt) {
            Ok(h) => h,
            Err(r) => {
                s.stop = Some((pos, r));
                break;
            }
        };
        if let Some(last) = s.last_bn
            && h.batch_no != last + 1
        {
            let reason = TailReason::BatchOutOfOrder {
                found: h.batch_no,
                expected: last + 1,
            };
            s.stop = Some((pos, reason));
            break;
        }
        if h.is_seal() {
            s.batches += 1;
            s.sealed = true;
            s.first_bn.get_or_insert(h.batch_no);
            s.last_bn = Some(h.batch_no);
            break;
        }
        let total = BATCH_HEADER_BYTES as u64 + u64::from(h.records_bytes);
        let alen = align_up(total);
        if pos + alen + BLOCK > seg.size {
            s.stop = Some((pos, TailReason::BadHeader));
            break;
        }
        let body = rd.get(pos, alen as usize).await?;
        let records = &body[..total as usize];
        locs.clear();
        let mut off = BATCH_HEADER_BYTES;
        let mut bad = None;
        for _ in 0..h.record_count {
            match decode_record(&records[off..], seg.seq) {
                Ok((v, n)) => {
                    locs.push((v.partition, v.index, (pos + off as u64) as u32, n as u32));
                    off += n;
                }
                Err(r) => {
                    bad = Some((pos + off as u64, r));
                    break;
                }
            }
        }
        if bad.is_none() && off != records.len() {
            bad = Some((pos + off as u64, TailReason::Torn));
        }
        if let Some(b) = bad {
            s.stop = Some(b);
            break;
        }
        for &(p, i, o, l) in locs.iter() {
            index.push(p, i, seg.seq, o, l);
        }
        s.records += locs.len() as u64;
        s.batches += 1;
        s.first_bn.get_or_insert(h.batch_no);
        s.last_bn = Some(h.batch_no);
        pos += alen;
        s.end = pos;
    }
    Ok(s)
}

/// The first block at or after `from` holding a valid batch header of
/// this segment life, if any.
async fn find_valid_header<F: DiskFile>(
    seg: &SegFile<F>,
    from: u64,
) -> Result<Option<u64>, WalError> {
    let mut rd = Reader::new(&seg.file, seg.size);
    let mut off = align_up(from);
    while off + BLOCK <= seg.size {
        let b = rd.get(off, BATCH_HEADER_BYTES).await?;
        if BatchHeader::decode(b, seg.seq, seg.salt).is_ok() {
            return Ok(Some(off));
        }
        off += BLOCK;
    }
    Ok(None)
}

fn corrupt(seg_path: &std::path::Path, offset: u64, reason: TailReason) -> WalError {
    WalError::Corrupt {
        file: seg_path.to_path_buf(),
        offset,
        reason,
    }
}

/// Opens and checks every segment file in `cfg.dir`, in sequence order.
async fn open_segments<D: Disk>(
    disk: &D,
    cfg: &WalConfig,
    report: &mut RecoveryReport,
    direct: &mut bool,
    next_slot: &mut u64,
) -> Result<Vec<SegFile<D::File>>, WalError> {
    let mut segs: Vec<SegFile<D::File>> = Vec::new();
    for name in disk.list(&cfg.dir).await? {
        let path = cfg.dir.join(&name);
        if name.ends_with(TMP_SUFFIX) && name.starts_with("seg-") {
            disk.remove(&path).await?;
            report.temp_files_removed += 1;
            continue;
        }
        let Some(slot) = parse_seg_name(&name) else {
            continue;
        };
        *next_slot = (*next_slot).max(slot + 1);
        let (file, d) = open_file(disk, &path, OpenOptions::EXISTING, *direct).await?;
        *direct = d;
        let len = file.len().await?;
        if len < BLOCK {
            return Err(corrupt(
                &path,
                0,
                TailReason::ShortFile {
                    len,
                    expected: BLOCK,
                },
            ));
        }
        let block = read_exact_at(&file, BLOCK as usize, 0).await?;
        let (header, bad) = SegHeader::decode_block(&block);
        let Some(h) = header else {
            return Err(corrupt(&path, 0, TailReason::BadSegmentHeader));
        };
        report.header_copies_bad += bad;
        if h.slot != slot
            || !h.segment_size.is_multiple_of(BLOCK)
            || h.segment_size < super::SEGMENT_BYTES_MIN
            || h.segment_size > super::SEGMENT_BYTES_MAX
        {
            return Err(corrupt(&path, 0, TailReason::BadSegmentHeader));
        }
        if len < h.segment_size {
            let reason = TailReason::ShortFile {
                len,
                expected: h.segment_size,
            };
            return Err(corrupt(&path, len, reason));
        }
        segs.push(SegFile {
            slot,
            seq: h.seq,
            salt: h.salt,
            size: h.segment_size,
            path,
            file,
        });
    }
    segs.sort_by_key(|s| s.seq);
    for w in segs.windows(2) {
        if w[0].seq == w[1].seq {
            return Err(corrupt(
                &w[1].path,
                0,
                TailReason::DuplicateSequence { seq: w[1].seq },
            ));
        }
    }
    Ok(segs)
}

pub(crate) async fn recover<D: Disk>(
    disk: &D,
    cfg: &WalConfig,
) -> Result<Recovered<D::File>, WalError> {
    let mut report = RecoveryReport::default();
    let mut direct = cfg.direct_io;
    let mut next_slot = 1;
    let segs = open_segments(disk, cfg, &mut report, &mut direct, &mut next_slot).await?;
    report.segments_scanned = segs.len();
    let next_seq = segs.last().map_or(1, |s| s.seq + 1);

    let mut index = Index::default();
    let mut locs = Vec::new();
    let mut scans = Vec::with_capacity(segs.len());
    for seg in &segs {
        index.add_segment(seg.seq);
        let s = scan_chain(seg, &mut index, &mut locs).await?;
        report.records += s.records;
        report.batches += s.batches;
        scans.push(s);
    }

    let last_live = scans.iter().rposition(|s| s.batches > 0);
    let mut prev_bn: Option<u64> = None;
    for (i, (seg, s)) in segs.iter().zip(&scans).enumerate() {
        let stop = || s.stop.clone().unwrap_or((s.end, TailReason::Unwritten));
        if s.batches > 0 {
            if let (Some(prev), Some(first)) = (prev_bn, s.first_bn)
                && first <= prev
            {
                let reason = TailReason::BatchOutOfOrder {
                    found: first,
                    expected: prev + 1,
                };
                return Err(corrupt(&seg.path, BLOCK, reason));
            }
            prev_bn = s.last_bn;
            if Some(i) != last_live && !s.sealed {
                // A later segment was written, so this one was sealed
                // durably before: its end is damage, not a torn tail.
                let (off, reason) = stop();
                return Err(corrupt(&seg.path, off, reason));
            }
        } else if !s.first_block_zero && find_valid_header(seg, 2 * BLOCK).await?.is_some() {
            // The segment was used (a later batch exists) but its first
            // batch is damaged.
            let (off, reason) = stop();
            return Err(corrupt(&seg.path, off, reason));
        }
    }

    let mut tail = None;
    if let Some(i) = last_live {
        let (seg, s) = (&segs[i], &scans[i]);
        if !s.sealed {
            let (off, reason) = s.stop.clone().unwrap_or((s.end, TailReason::Unwritten));
            if find_valid_header(seg, s.end + BLOCK).await?.is_some() {
                // A batch after the bad one exists, so the bad one had been
                // synced (acknowledged): damage, not a torn tail.
                return Err(corrupt(&seg.path, off, reason));
            }
            report.stop = Some(TailStop {
                file: seg.path.clone(),
                offset: off,
                reason,
            });
            tail = Some((seg.clone(), s.end));
        }
    }

    if report.stop.is_none() {
        // A segment after the last live one whose first block was written
        // (but holds no valid batch): a torn first batch of a new segment.
        let after = last_live.map_or(0, |i| i + 1);
        for (seg, s) in segs.iter().zip(&scans).skip(after) {
            if !s.first_block_zero {
                let (offset, reason) = s.stop.clone().unwrap_or((BLOCK, TailReason::Torn));
                report.stop = Some(TailStop {
                    file: seg.path.clone(),
                    offset,
                    reason,
                });
                break;
            }
        }
    }

    let mut live = Vec::new();
    let mut free = Vec::new();
    for (seg, s) in segs.into_iter().zip(&scans) {
        if s.batches > 0 {
            index.seal(seg.seq);
            live.push(seg);
        } else {
            index.remove_segment(seg.seq);
            free.push(seg);
        }
    }
    let next_batch_no = scans
        .iter()
        .filter_map(|s| s.last_bn)
        .max()
        .map_or(1, |b| b + 1);
    Ok(Recovered {
        index,
        live,
        tail,
        free,
        next_seq,
        next_slot,
        next_batch_no,
        direct,
        report,
    })
}
