//! A replica's view of its log: the compacted prefix (a snapshot point), the
//! entries after it held in memory, how far they are durable, and how far
//! they are committed.
//!
//! Invariants (asserted):
//! - entries are at consecutive indices `snap_index + 1 ..= last_index()`;
//!   ballots never decrease along the log;
//! - `stable <= last_index()` (durable means "the driver said so", and a
//!   truncation pulls `stable` back);
//! - `commit <= last_index()`, and nothing at or below `commit` is ever
//!   truncated (committed entries are final).
//!
//! The membership in force at any index is the snapshot's membership with
//! the `Conf` entries up to that index applied in order ([`Log::membership_at`]).
//! The replica caches the latest one; see `replica.rs`.

use std::collections::VecDeque;

use wire::replication::{Ballot, Entry, LogIndex, Membership, Payload, SnapshotMeta};

#[derive(Debug)]
pub struct Log {
    snap: SnapshotMeta,
    entries: VecDeque<Entry>,
    stable: LogIndex,
    commit: LogIndex,
}

/// What [`Log::append_after`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The log did not hold (`prev_index`, `prev_ballot`).
    Mismatch,
    /// The log now matches the sender through `last`; entries from
    /// `truncated_from` on (if any) were replaced, and `new` holds the
    /// entries that must be persisted.
    Matched {
        last: LogIndex,
        truncated_from: Option<LogIndex>,
        new: Vec<Entry>,
    },
}

impl Log {
    /// A log that starts after `snap` with `entries` (as recovered from
    /// disk, so all of them durable).
    pub fn new(snap: SnapshotMeta, entries: Vec<Entry>) -> Log {
        let mut log = Log {
            stable: snap.index,
            commit: snap.index,
            snap,
            entries: VecDeque::new(),
        };
        for e in entries {
            log.push(e);
        }
        log.stable = log.last_index();
        log
    }

    fn push(&mut self, e: Entry) {
        assert_eq!(
            e.index,
            self.last_index() + 1,
            "log entries must be consecutive"
        );
        assert!(e.ballot >= self.last_ballot(), "log ballots never decrease");
        self.entries.push_back(e);
    }

    pub fn snapshot(&self) -> &SnapshotMeta {
        &self.snap
    }

    pub fn first_index(&self) -> LogIndex {
        self.snap.index + 1
    }

    pub fn last_index(&self) -> LogIndex {
        self.snap.index + self.entries.len() as u64
    }

    pub fn last_ballot(&self) -> Ballot {
        self.entries.back().map_or(self.snap.ballot, |e| e.ballot)
    }

    pub fn stable(&self) -> LogIndex {
        self.stable
    }

    pub fn commit(&self) -> LogIndex {
        self.commit
    }

    /// The ballot of the entry at `index`, if the log still knows it (the
    /// snapshot point counts; compacted entries before it do not).
    pub fn ballot_at(&self, index: LogIndex) -> Option<Ballot> {
        if index == self.snap.index {
            return Some(self.snap.ballot);
        }
        self.get(index).map(|e| e.ballot)
    }

    pub fn get(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.snap.index {
            return None;
        }
        self.entries.get((index - self.snap.index - 1) as usize)
    }

    /// Entries from `from` on, at most `max_bytes` of them (but at least one
    /// if there is one). `None` if `from` is compacted.
    pub fn entries_from(&self, from: LogIndex, max_bytes: usize) -> Option<Vec<Entry>> {
        if from <= self.snap.index {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut i = from;
        while let Some(e) = self.get(i) {
            bytes += e.size_bytes();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(e.clone());
            i += 1;
        }
        Some(out)
    }

    /// Is a log ending at (`last_index`, `last_ballot`) at least as up to
    /// date as this one? (Higher last ballot wins; equal ballots: longer.)
    pub fn is_behind_or_equal(&self, last_index: LogIndex, last_ballot: Ballot) -> bool {
        (last_ballot, last_index) >= (self.last_ballot(), self.last_index())
    }

    /// Leader append of a fresh entry.
    pub fn append_own(&mut self, e: Entry) {
        self.push(e);
    }

    /// Follower append: if the log holds (`prev_index`, `prev_ballot`),
    /// make it match `entries` after it, replacing a conflicting suffix.
    pub fn append_after(
        &mut self,
        prev_index: LogIndex,
        prev_ballot: Ballot,
        entries: &[Entry],
    ) -> AppendOutcome {
        // Entries at or below the snapshot point are committed and already
        // reflected: skip them (they match by definition).
        let (prev_index, prev_ballot, entries) = if prev_index < self.snap.index {
            let skip = (self.snap.index - prev_index) as usize;
            if skip > entries.len() {
                return AppendOutcome::Matched {
                    last: self.snap.index,
                    truncated_from: None,
                    new: Vec::new(),
                };
            }
            let (prev_ballot, rest) = if skip == 0 {
                (prev_ballot, entries)
            } else {
                (entries[skip - 1].ballot, &entries[skip..])
            };
            if prev_ballot != self.snap.ballot {
                // A committed entry disagrees with our snapshot: impossible
                // unless a member lied; refuse rather than corrupt.
                return AppendOutcome::Mismatch;
            }
            (self.snap.index, prev_ballot, rest)
        } else {
            (prev_index, prev_ballot, entries)
        };
        if self.ballot_at(prev_index) != Some(prev_ballot) {
            return AppendOutcome::Mismatch;
        }
        let mut truncated_from = None;
        let mut new = Vec::new();
        for e in entries {
            match self.ballot_at(e.index) {
                Some(b) if b == e.ballot && e.index > self.snap.index => continue,
                Some(_) if e.index <= self.snap.index => continue,
                Some(_) => {
                    assert!(
                        e.index > self.commit,
                        "truncating committed entry {} (commit {})",
                        e.index,
                        self.commit
                    );
                    self.truncate_from(e.index);
                    truncated_from = Some(e.index);
                }
                None => {}
            }
            new.push(e.clone());
            self.push(e.clone());
        }
        AppendOutcome::Matched {
            last: prev_index + entries.len() as u64,
            truncated_from,
            new,
        }
    }

    fn truncate_from(&mut self, index: LogIndex) {
        assert!(index > self.snap.index);
        self.entries
            .truncate((index - self.snap.index - 1) as usize);
        self.stable = self.stable.min(index - 1);
    }

    /// The driver says entries through `index` (whose ballot is `ballot`)
    /// are durable. Stale reports (the entry has since been replaced) are
    /// ignored.
    pub fn persisted(&mut self, index: LogIndex, ballot: Ballot) -> bool {
        if index > self.stable && self.ballot_at(index) == Some(ballot) {
            self.stable = index;
            return true;
        }
        false
    }

    pub fn set_commit(&mut self, commit: LogIndex) {
        assert!(
            commit <= self.last_index(),
            "commit {commit} past last {}",
            self.last_index()
        );
        if commit > self.commit {
            self.commit = commit;
        }
    }

    /// Forget entries through `upto` (at most the commit index); the entry
    /// at `upto` becomes the snapshot point with `membership` in force.
    pub fn compact(&mut self, upto: LogIndex) {
        assert!(upto <= self.commit && upto <= self.stable);
        if upto <= self.snap.index {
            return;
        }
        let membership = self.membership_at(upto);
        let ballot = self.ballot_at(upto).expect("compacting a known entry");
        let drop = (upto - self.snap.index) as usize;
        self.entries.drain(..drop);
        self.snap = SnapshotMeta {
            index: upto,
            ballot,
            membership,
        };
    }

    /// Replace everything with a snapshot (a follower catching up by
    /// state). Nothing committed is lost: the snapshot is at least as far.
    pub fn install(&mut self, meta: SnapshotMeta) {
        if meta.index <= self.commit {
            return;
        }
        if self.ballot_at(meta.index) == Some(meta.ballot) {
            // Our log agrees up to the snapshot point: keep what follows.
            let drop = (meta.index - self.snap.index) as usize;
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        // Durable again once the driver reports the snapshot persisted.
        self.stable = self.stable.min(meta.index);
        self.commit = meta.index;
        self.snap = meta;
    }

    /// The membership in force at `index` (>= the snapshot point).
    pub fn membership_at(&self, index: LogIndex) -> Membership {
        let mut m = self.snap.membership.clone();
        let mut i = self.snap.index + 1;
        while i <= index {
            if let Some(Entry {
                payload: Payload::Conf(c),
                ..
            }) = self.get(i)
            {
                // Validated when proposed; an invalid one cannot be in a log.
                m = m.apply(c).expect("conf entries in the log are valid");
            }
            i += 1;
        }
        m
    }

    /// Index of the latest `Conf` entry, or the snapshot point.
    pub fn last_conf_index(&self) -> LogIndex {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.payload, Payload::Conf(_)))
            .map_or(self.snap.index, |e| e.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::replication::MemberId;

    fn meta() -> SnapshotMeta {
        SnapshotMeta {
            index: 0,
            ballot: Ballot(0),
            membership: Membership::full(&[MemberId(1), MemberId(2), MemberId(3)]).unwrap(),
        }
    }

    fn e(index: u64, ballot: u64) -> Entry {
        Entry {
            index,
            ballot: Ballot(ballot),
            payload: Payload::Command(vec![index as u8]),
        }
    }

    #[test]
    fn append_truncate_and_stable() {
        let mut log = Log::new(meta(), vec![e(1, 1), e(2, 1), e(3, 1)]);
        assert_eq!(log.stable(), 3);
        assert_eq!(
            log.append_after(5, Ballot(1), &[e(6, 2)]),
            AppendOutcome::Mismatch
        );
        // Replace 3 with a ballot-2 entry and add 4.
        let out = log.append_after(2, Ballot(1), &[e(3, 2), e(4, 2)]);
        assert_eq!(
            out,
            AppendOutcome::Matched {
                last: 4,
                truncated_from: Some(3),
                new: vec![e(3, 2), e(4, 2)]
            }
        );
        assert_eq!(log.stable(), 2);
        // A stale persist report for the old entry 3 is ignored.
        assert!(!log.persisted(3, Ballot(1)));
        assert!(log.persisted(4, Ballot(2)));
        assert_eq!(log.stable(), 4);
        // Re-sending known entries changes nothing.
        let out = log.append_after(1, Ballot(1), &[e(2, 1), e(3, 2)]);
        assert_eq!(
            out,
            AppendOutcome::Matched {
                last: 3,
                truncated_from: None,
                new: vec![]
            }
        );
        assert_eq!(log.last_index(), 4);
    }

    #[test]
    fn compact_install_and_up_to_date() {
        let mut log = Log::new(meta(), vec![e(1, 1), e(2, 1), e(3, 2)]);
        log.set_commit(2);
        log.compact(2);
        assert_eq!(log.first_index(), 3);
        assert_eq!(log.ballot_at(2), Some(Ballot(1)));
        assert_eq!(log.ballot_at(1), None);
        assert_eq!(log.entries_from(1, 100), None);
        assert_eq!(log.entries_from(3, 0).unwrap().len(), 1);
        // Entries before the snapshot point are skipped on append.
        let out = log.append_after(1, Ballot(1), &[e(2, 1), e(3, 2), e(4, 2)]);
        assert!(matches!(out, AppendOutcome::Matched { last: 4, .. }));
        assert!(log.is_behind_or_equal(4, Ballot(2)));
        assert!(!log.is_behind_or_equal(9, Ballot(1)));
        assert!(log.is_behind_or_equal(1, Ballot(3)));
        let mut m = meta();
        m.index = 10;
        m.ballot = Ballot(3);
        log.install(m);
        assert_eq!(log.last_index(), 10);
        assert_eq!(log.commit(), 10);
        // Entry 4 was never reported durable; the snapshot is not yet.
        assert_eq!(log.stable(), 3);
        assert!(log.persisted(10, Ballot(3)));
        assert_eq!(log.stable(), 10);
    }

    #[test]
    #[should_panic(expected = "truncating committed entry")]
    fn never_truncates_committed() {
        let mut log = Log::new(meta(), vec![e(1, 1), e(2, 1)]);
        log.set_commit(2);
        log.append_after(1, Ballot(1), &[e(2, 2)]);
    }
}
