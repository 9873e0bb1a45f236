//! The persistence seam of [`super::core::GroupCore`] and the daemon's implementation: every
//! group's log entries go into one pending WAL batch that the shell flushes with one
//! `append_batch` (group commit across groups); hard states (promise, vote) go to small
//! per-group files written in the same flush (`registry.rs`).
//!
//! Record layout (WAL `Record`): `partition` = the group's slot, `index`/`ballot` = the
//! entry's, payload = a `wire::peer::StoredEntry` frame (entry + the ballot of the entry
//! before it, so recovery can check that the stored suffix chains to the snapshot point).
//!
//! Invariants: within one pending batch the records of a slot have strictly increasing
//! indexes (a new entry at `i` first drops pending records at `>= i`, which is what the WAL
//! itself does across batches); tickets increase; a ticket is complete only when its WAL
//! batch and its hard states are durable.

use std::collections::BTreeMap;

use wire::peer::StoredEntry;
use wire::replication::{Ballot, Entry, HardState, SnapshotMeta};

use crate::wal::Record;

/// A group's node-local stream id (its WAL partition and engine partition). Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u64);

/// A persistence point: everything put before `barrier` returned it is durable once the
/// shell reports this ticket complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// Where the core puts what must be durable.
pub trait LogStore {
    fn put_hard_state(&mut self, slot: Slot, hs: HardState);
    /// Entries supersede stored entries at their indexes and after; `prev_ballot` is the
    /// ballot of the entry before `entries[0]`.
    fn put_entries(&mut self, slot: Slot, prev_ballot: Ballot, entries: &[Entry]);
    /// A snapshot the replica installs, put before the entries of the same persist (the
    /// simulator's stores keep it as a log record). The daemon makes an install durable
    /// through the engine instead (`shell.rs`), so by default nothing is put.
    fn put_snapshot(&mut self, _slot: Slot, _meta: &SnapshotMeta, _data: &[u8]) {}
    fn barrier(&mut self, slot: Slot) -> Ticket;
}

/// The largest WAL payload of one entry (frame header included).
pub const ENTRY_RECORD_BYTES_MAX: usize = 2 << 20;

/// The pending flush of the daemon.
#[derive(Default)]
pub struct PendingFlush {
    pub records: Vec<Record>,
    pub hard: BTreeMap<Slot, HardState>,
    /// Something asked for a barrier since the last flush began.
    pub wanted: bool,
    next_ticket: u64,
}

impl PendingFlush {
    pub fn new() -> PendingFlush {
        PendingFlush {
            next_ticket: 1,
            ..PendingFlush::default()
        }
    }

    /// Takes what is pending as the flush of the returned ticket.
    pub fn take(&mut self) -> (Ticket, Vec<Record>, BTreeMap<Slot, HardState>) {
        let t = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.wanted = false;
        (
            t,
            std::mem::take(&mut self.records),
            std::mem::take(&mut self.hard),
        )
    }

    pub fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.payload.len() + 32).sum()
    }
}

impl LogStore for PendingFlush {
    fn put_hard_state(&mut self, slot: Slot, hs: HardState) {
        self.hard.insert(slot, hs);
    }

    fn put_entries(&mut self, slot: Slot, prev_ballot: Ballot, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        self.records
            .retain(|r| r.partition != slot.0 || r.index < first.index);
        let mut prev = prev_ballot;
        for e in entries {
            let stored = StoredEntry {
                prev_ballot: prev,
                entry: e.clone(),
            };
            let payload = wire::frame::encode(&stored, ENTRY_RECORD_BYTES_MAX)
                .expect("entries are bounded by the API's item limit");
            self.records.push(Record {
                partition: slot.0,
                ballot: e.ballot.0,
                index: e.index,
                payload,
            });
            prev = e.ballot;
        }
    }

    fn barrier(&mut self, _slot: Slot) -> Ticket {
        self.wanted = true;
        Ticket(self.next_ticket)
    }
}

/// Decodes a WAL record written by [`PendingFlush::put_entries`].
pub fn decode_entry(rec: &Record) -> Result<StoredEntry, String> {
    let s: StoredEntry =
        wire::frame::decode(&rec.payload, ENTRY_RECORD_BYTES_MAX).map_err(|e| e.to_string())?;
    if s.entry.index != rec.index || s.entry.ballot.0 != rec.ballot {
        return Err(format!(
            "record ({}, {}) holds entry ({}, {})",
            rec.index, rec.ballot, s.entry.index, s.entry.ballot.0
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::replication::Payload;

    fn entry(i: u64, b: u64) -> Entry {
        Entry {
            index: i,
            ballot: Ballot(b),
            payload: Payload::Command(vec![i as u8]),
        }
    }

    #[test]
    fn a_later_entry_supersedes_pending_ones_and_records_chain() {
        let mut p = PendingFlush::new();
        p.put_entries(Slot(3), Ballot(1), &[entry(5, 1), entry(6, 1), entry(7, 1)]);
        p.put_entries(Slot(4), Ballot(0), &[entry(1, 2)]);
        p.put_entries(Slot(3), Ballot(1), &[entry(6, 2)]);
        let t = p.barrier(Slot(3));
        let (taken, recs, _) = p.take();
        assert_eq!(t, taken);
        let idx: Vec<(u64, u64)> = recs.iter().map(|r| (r.partition, r.index)).collect();
        assert_eq!(idx, vec![(3, 5), (4, 1), (3, 6)]);
        let last = decode_entry(&recs[2]).unwrap();
        assert_eq!(last.prev_ballot, Ballot(1));
        assert_eq!(last.entry, entry(6, 2));
        assert!(p.barrier(Slot(3)) > taken);
    }
}
