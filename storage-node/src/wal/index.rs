//! The in-memory per-partition index and segment reclamation bookkeeping.
//! Pure data structure: no I/O, no locks (the WAL wraps it in its state
//! mutex). Rebuilt at recovery by replaying records in log order through the
//! same [`Index::push`] the writer uses.
//!
//! Invariants:
//! - `Part::entries` holds the partition's live records (durable, not
//!   superseded, not released) in increasing index order, which is also log
//!   order, so their segment sequences never decrease.
//! - `SegUse::pinned` = number of partitions with at least one live entry in
//!   that segment.
//! - A segment `B` lists segment `A` in `blockers` when a record in `B`
//!   superseded (truncated) records still stored in `A`. `B` is reclaimed
//!   only after `A` is gone from disk, so a crash can never leave the
//!   superseded records without the record that supersedes them.
//! - A segment is reclaimable when it is sealed, unpinned and unblocked.
//!
//! Memory: 24 bytes per live record ([`Entry`]) plus ~100 bytes per
//! partition and per segment. Live records are bounded by what the segments
//! hold, so the index is bounded by the WAL size: at most
//! `wal_bytes / 56 * 24` (records with empty payloads), about 24 MiB per GiB
//! of WAL for 1 KiB records.

use super::PartitionSpan;
use super::format::RECORD_HEADER_BYTES;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Where one live record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub index: u64,
    /// Segment sequence number.
    pub seq: u64,
    /// Byte offset of the record in its segment.
    pub offset: u32,
    /// Encoded record length (header + payload).
    pub len: u32,
}

#[derive(Debug, Default)]
struct Part {
    entries: VecDeque<Entry>,
    released: Option<u64>,
}

#[derive(Debug, Default)]
struct SegUse {
    pinned: u32,
    blockers: Vec<u64>,
    sealed: bool,
    reclaimable: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    parts: HashMap<u64, Part>,
    segs: BTreeMap<u64, SegUse>,
    entries: usize,
    /// Something changed that may make a segment reclaimable.
    dirty: bool,
}

impl Index {
    /// Registers a segment that records are about to be pushed into.
    pub fn add_segment(&mut self, seq: u64) {
        let prev = self.segs.insert(seq, SegUse::default());
        assert!(prev.is_none(), "wal index: segment {seq} added twice");
    }

    pub fn seal(&mut self, seq: u64) {
        if let Some(s) = self.segs.get_mut(&seq) {
            s.sealed = true;
            self.dirty = true;
        }
    }

    /// The segment is gone from disk (recycled or deleted, durably).
    pub fn remove_segment(&mut self, seq: u64) {
        if let Some(s) = self.segs.remove(&seq) {
            assert_eq!(s.pinned, 0, "wal index: removed pinned segment {seq}");
            self.dirty = true;
        }
    }

    /// True while the segment is on disk and not being reclaimed.
    #[cfg(test)]
    pub fn is_live(&self, seq: u64) -> bool {
        self.segs.get(&seq).is_some_and(|s| !s.reclaimable)
    }

    pub fn entry_count(&self) -> usize {
        self.entries
    }

    fn pin(segs: &mut BTreeMap<u64, SegUse>, seq: u64) {
        let s = segs
            .get_mut(&seq)
            .unwrap_or_else(|| panic!("wal index: record in unknown segment {seq}"));
        s.pinned += 1;
    }

    fn unpin(segs: &mut BTreeMap<u64, SegUse>, dirty: &mut bool, seq: u64) {
        let s = segs
            .get_mut(&seq)
            .unwrap_or_else(|| panic!("wal index: unpin of unknown segment {seq}"));
        assert!(s.pinned > 0, "wal index: segment {seq} unpinned below zero");
        s.pinned -= 1;
        if s.pinned == 0 {
            *dirty = true;
        }
    }

    /// Adds a durable record at `offset` of segment `seq`. A record with an
    /// index at or below the partition's last live index first supersedes
    /// (drops) every live record of the partition with index >= `index`.
    pub fn push(&mut self, partition: u64, index: u64, seq: u64, offset: u32, len: u32) {
        let part = self.parts.entry(partition).or_default();
        while let Some(back) = part.entries.back().copied() {
            if back.index < index {
                break;
            }
            part.entries.pop_back();
            self.entries -= 1;
            if part.entries.back().map(|e| e.seq) != Some(back.seq) {
                Self::unpin(&mut self.segs, &mut self.dirty, back.seq);
            }
            if back.seq != seq {
                let s = self
                    .segs
                    .get_mut(&seq)
                    .unwrap_or_else(|| panic!("wal index: record in unknown segment {seq}"));
                if !s.blockers.contains(&back.seq) {
                    s.blockers.push(back.seq);
                }
            }
        }
        if part.released.is_some_and(|m| index <= m) {
            return;
        }
        if part.entries.back().map(|e| e.seq) != Some(seq) {
            Self::pin(&mut self.segs, seq);
        }
        part.entries.push_back(Entry {
            index,
            seq,
            offset,
            len,
        });
        self.entries += 1;
    }

    /// Drops entries with index <= `upto` (monotonic; lower marks ignored).
    pub fn release(&mut self, partition: u64, upto: u64) {
        let part = self.parts.entry(partition).or_default();
        if part.released.is_some_and(|m| m >= upto) {
            return;
        }
        part.released = Some(upto);
        while let Some(front) = part.entries.front().copied() {
            if front.index > upto {
                break;
            }
            part.entries.pop_front();
            self.entries -= 1;
            if part.entries.front().map(|e| e.seq) != Some(front.seq) {
                Self::unpin(&mut self.segs, &mut self.dirty, front.seq);
            }
        }
    }

    /// Drops the partition and all its entries.
    pub fn forget(&mut self, partition: u64) {
        let Some(part) = self.parts.remove(&partition) else {
            return;
        };
        self.entries -= part.entries.len();
        let mut last = None;
        for e in part.entries {
            if last != Some(e.seq) {
                Self::unpin(&mut self.segs, &mut self.dirty, e.seq);
                last = Some(e.seq);
            }
        }
    }

    /// Marks and returns (ascending) segments that just became reclaimable.
    pub fn take_reclaimable(&mut self) -> Vec<u64> {
        let mut out = Vec::new();
        while std::mem::take(&mut self.dirty) {
            let ready: Vec<u64> = self
                .segs
                .iter()
                .filter(|(_, s)| s.sealed && !s.reclaimable && s.pinned == 0)
                .filter(|(_, s)| s.blockers.iter().all(|b| !self.segs.contains_key(b)))
                .map(|(&seq, _)| seq)
                .collect();
            for seq in &ready {
                if let Some(s) = self.segs.get_mut(seq) {
                    s.reclaimable = true;
                }
            }
            out.extend(ready);
        }
        out.sort_unstable();
        out
    }

    /// Live entries of `partition` with `from <= index <= to`, stopping
    /// before ~`bytes_max` of payload (at least one entry).
    pub fn lookup(&self, partition: u64, from: u64, to: u64, bytes_max: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let Some(part) = self.parts.get(&partition) else {
            return out;
        };
        let start = part.entries.partition_point(|e| e.index < from);
        let mut bytes = 0usize;
        for e in part.entries.range(start..) {
            if e.index > to {
                break;
            }
            let payload = e.len as usize - RECORD_HEADER_BYTES;
            if !out.is_empty() && bytes + payload > bytes_max {
                break;
            }
            bytes += payload;
            out.push(*e);
        }
        out
    }

    /// True if `e` is still the live entry for its index.
    pub fn contains(&self, partition: u64, e: &Entry) -> bool {
        let Some(part) = self.parts.get(&partition) else {
            return false;
        };
        let i = part.entries.partition_point(|x| x.index < e.index);
        part.entries.get(i) == Some(e)
    }

    pub fn spans(&self) -> Vec<PartitionSpan> {
        let mut out: Vec<PartitionSpan> = self
            .parts
            .iter()
            .filter_map(|(&partition, p)| {
                Some(PartitionSpan {
                    partition,
                    first_index: p.entries.front()?.index,
                    last_index: p.entries.back()?.index,
                })
            })
            .collect();
        out.sort_unstable_by_key(|s| s.partition);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(ix: &Index, p: u64) -> Vec<u64> {
        ix.lookup(p, 0, u64::MAX, usize::MAX)
            .iter()
            .map(|e| e.index)
            .collect()
    }

    #[test]
    fn truncation_release_and_reclaim_order() {
        let mut ix = Index::default();
        ix.add_segment(1);
        for i in 1..=5 {
            ix.push(7, i, 1, i as u32 * 100, 60);
        }
        ix.push(8, 1, 1, 999, 60);
        ix.seal(1);
        ix.add_segment(2);
        // Truncate partition 7 back to 3: 3..5 in segment 1 are superseded.
        ix.push(7, 3, 2, 4096, 60);
        ix.push(7, 4, 2, 4200, 60);
        assert_eq!(idx(&ix, 7), vec![1, 2, 3, 4]);
        assert_eq!(ix.lookup(7, 3, 3, 0)[0].seq, 2);
        ix.seal(2);
        ix.add_segment(3);
        ix.push(9, 1, 3, 4096, 60);
        assert!(ix.take_reclaimable().is_empty());
        // Segment 2 is unpinned first but blocked by segment 1.
        ix.release(7, 4);
        assert!(ix.take_reclaimable().is_empty());
        ix.forget(8);
        assert_eq!(ix.take_reclaimable(), vec![1]);
        assert!(!ix.is_live(1));
        ix.remove_segment(1);
        assert_eq!(ix.take_reclaimable(), vec![2]);
        // The active (unsealed) segment is never reclaimed.
        ix.release(9, 1);
        assert!(ix.take_reclaimable().is_empty());
        ix.seal(3);
        assert_eq!(ix.take_reclaimable(), vec![3]);
        assert_eq!(ix.entry_count(), 0);
    }

    #[test]
    fn lookup_limits_and_marks() {
        let mut ix = Index::default();
        ix.add_segment(1);
        for i in 10..20 {
            ix.push(1, i, 1, i as u32 * 200, (RECORD_HEADER_BYTES + 100) as u32);
        }
        assert_eq!(ix.lookup(1, 12, 15, 250).len(), 2);
        assert_eq!(ix.lookup(1, 12, 15, 0).len(), 1);
        assert_eq!(ix.lookup(1, 21, 30, 1000).len(), 0);
        ix.release(1, 14);
        ix.release(1, 3); // lower marks are ignored
        assert_eq!(ix.spans()[0].first_index, 15);
        ix.push(1, 12, 1, 9000, 60); // below the mark: supersedes, not indexed
        assert!(ix.spans().is_empty());
        ix.push(1, 15, 1, 9100, 60);
        assert_eq!(
            ix.spans(),
            vec![PartitionSpan {
                partition: 1,
                first_index: 15,
                last_index: 15
            }]
        );
    }
}
