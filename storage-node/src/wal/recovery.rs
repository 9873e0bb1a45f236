//! WAL recovery: rebuild the segment set and the per-partition index from
//! the files in the WAL directory.
//!
//! Segments are read in sequence order, each batch validated as a whole
//! (header, seq, every record's checksum). The scan of a segment ends at
//! zeros or at a stale batch from the file's previous life (clean ends), or
//! at an invalid batch. An invalid batch is a clean *tail stop* only when it
//! is in the last segment and no valid batch of that segment follows it;
//! otherwise acknowledged data is damaged and recovery fails with
//! `WalError::Corrupt` naming the file and offset. New appends continue at
//! the stop point, overwriting the torn batch.

use super::format::{self, BLOCK, Invalid, SegmentHeader};
use super::{
    Index, Loc, RecoveryReport, Segment, State, TailStop, WalConfig, WalError, index_record,
    open_segment, parse_segment_name, segment_path,
};
use crate::io::{Disk, DiskFile, IoBuf};
use std::collections::{BTreeMap, HashMap};

pub(super) async fn recover<D: Disk>(
    disk: &D,
    cfg: &WalConfig,
) -> Result<(State<D::File>, RecoveryReport), WalError> {
    disk.create_dir_all(&cfg.dir).await?;
    let mut slots: Vec<u32> = disk
        .list(&cfg.dir)
        .await?
        .iter()
        .filter_map(|n| parse_segment_name(n))
        .collect();
    slots.sort_unstable();
    let next_slot = slots.last().map_or(0, |s| s + 1);

    let mut live: BTreeMap<u64, (u32, D::File)> = BTreeMap::new();
    let mut spares = Vec::new();
    for slot in slots {
        let path = segment_path(&cfg.dir, slot);
        let file = open_segment(disk, cfg, slot).await?;
        let (res, head) = file.read_at(IoBuf::zeroed(BLOCK), 0).await;
        let n = res?;
        if n < BLOCK {
            // Preparation never finished: not a usable segment.
            drop(file);
            disk.remove(&path).await?;
            continue;
        }
        match format::decode_segment_header(&path, &head)? {
            SegmentHeader::Blank => {
                drop(file);
                disk.remove(&path).await?;
            }
            SegmentHeader::Valid { seq, segment_size } => {
                if segment_size != cfg.segment_size_bytes {
                    return Err(WalError::Config(format!(
                        "{} has segment size {segment_size}, config says {}",
                        path.display(),
                        cfg.segment_size_bytes
                    )));
                }
                if seq == 0 {
                    spares.push(Segment {
                        slot,
                        file,
                        seq: 0,
                        parts: HashMap::new(),
                    });
                } else if let Some((other, _)) = live.insert(seq, (slot, file)) {
                    return Err(WalError::Corrupt {
                        file: path,
                        offset: 0,
                        reason: format!("segment sequence {seq} also used by slot {other}"),
                    });
                }
            }
        }
    }
    disk.sync_dir(&cfg.dir).await?;

    let mut report = RecoveryReport::default();
    let mut index: Index = HashMap::new();
    let mut sealed = BTreeMap::new();
    let mut active: Option<(Segment<D::File>, u64)> = None;
    let mut next_seq = live.keys().next_back().map_or(1, |s| s + 1);
    let mut next_slot = next_slot;
    let n_live = live.len();
    for (i, (seq, (slot, file))) in live.into_iter().enumerate() {
        let last = i + 1 == n_live;
        report.segments_scanned += 1;
        let (res, image) = file
            .read_at(IoBuf::zeroed(cfg.segment_size_bytes as usize), 0)
            .await;
        let n = res?;
        let image = &image[..n];
        let mut seg = Segment {
            slot,
            file,
            seq,
            parts: HashMap::new(),
        };
        let mut pos = BLOCK;
        let end_pos = loop {
            if pos + format::BATCH_HEADER_BYTES > image.len() {
                break pos;
            }
            match format::parse_batch(image, pos, seq) {
                Ok((recs, next)) => {
                    for loc in recs {
                        let at = Loc {
                            seq,
                            offset: loc.offset,
                            len: loc.len,
                        };
                        index_record(&mut index, loc.partition, loc.index, at);
                        let max = seg.parts.entry(loc.partition).or_insert(0);
                        *max = (*max).max(loc.index);
                        report.records += 1;
                    }
                    pos = next;
                }
                Err(Invalid::Zeros) | Err(Invalid::StaleSeq(_)) => break pos,
                Err(why) => {
                    let path = seg.file.path().to_path_buf();
                    let stop_offset = match &why {
                        Invalid::RecordChecksum { offset } | Invalid::RecordFraming { offset } => {
                            *offset
                        }
                        _ => pos as u64,
                    };
                    if !last || later_valid_batch(image, pos + BLOCK, seq) {
                        return Err(WalError::Corrupt {
                            file: path,
                            offset: stop_offset,
                            reason: format!(
                                "{why}, but valid log data follows (acknowledged records damaged)"
                            ),
                        });
                    }
                    report.stop = Some(TailStop {
                        file: path,
                        offset: stop_offset,
                        reason: why,
                    });
                    break pos;
                }
            }
        };
        if last {
            active = Some((seg, end_pos as u64));
        } else {
            sealed.insert(seq, seg);
        }
    }
    let (active, write_pos) = match active {
        Some(a) => a,
        None => {
            // A brand-new WAL: make the first segment now.
            let seg =
                super::writer::new_active(disk, cfg, &mut spares, &mut next_slot, &mut next_seq)
                    .await?;
            (seg, BLOCK as u64)
        }
    };
    let state = State {
        active,
        write_pos,
        sealed,
        spares,
        freed: Vec::new(),
        next_slot,
        next_seq,
        index,
        released: HashMap::new(),
        failed: None,
    };
    Ok((state, report))
}

/// True if any block-aligned offset at or after `from` holds a valid batch
/// of segment `seq`.
fn later_valid_batch(image: &[u8], from: usize, seq: u64) -> bool {
    let mut pos = from.div_ceil(BLOCK) * BLOCK;
    while pos + format::BATCH_HEADER_BYTES <= image.len() {
        if format::parse_batch(image, pos, seq).is_ok() {
            return true;
        }
        pos += BLOCK;
    }
    false
}
