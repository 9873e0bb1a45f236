//! A simulated replica store: what one member persisted, split into durable
//! and volatile parts, with crashes that lose (or tear) unsynced writes and
//! bit flips in durable records.
//!
//! Model (the assumptions the real driver must also meet, issue 4):
//! - records are written in order and become durable together at a sync;
//! - the promise state ([`HardState`]) is kept in two copies written at
//!   each sync; a flip damages at most one copy, so it always recovers;
//! - every record carries a checksum; recovery stops at the first bad one.
//!   A torn record at the very end (an unsynced write cut by the crash) is
//!   a clean end of log. A flipped record anywhere, or a torn one followed
//!   by more records, means acknowledged records may be lost: the member
//!   restarts `damaged` (see `replication::Persisted::damaged`).
//!   (Telling a torn tail from a flipped last record needs a write format
//!   that shows completeness, e.g. a batch trailer; the sim grants it.)

use wire::replication::{Ballot, Entry, HardState, Membership, SnapshotMeta};

use crate::replication::Persisted;
use crate::rng::Rng;

#[derive(Clone, Debug)]
pub enum Record {
    /// A state-machine snapshot (empty data for a `Log` member).
    Snap(SnapshotMeta, Vec<u8>),
    Entries(Vec<Entry>),
}

#[derive(Clone, Debug)]
struct Stored {
    rec: Record,
    torn: bool,
    flipped: bool,
}

#[derive(Debug)]
pub struct SimStore {
    /// Two copies of the promise state: (state, flipped).
    hard: [(HardState, bool); 2],
    volatile_hard: Option<HardState>,
    durable: Vec<Stored>,
    volatile: Vec<Stored>,
    /// A member created to join a running group (it must start from a
    /// snapshot, until one is durable).
    joining: bool,
    /// The membership before any snapshot: the group's initial one, or the
    /// one a joining member was told.
    base: Membership,
}

/// What recovery found.
pub struct Recovered {
    pub persisted: Persisted,
    /// The state-machine snapshot data to restore.
    pub data: Vec<u8>,
}

impl SimStore {
    pub fn new_group(membership: Membership) -> SimStore {
        SimStore {
            hard: [(HardState::default(), false); 2],
            volatile_hard: None,
            durable: Vec::new(),
            volatile: Vec::new(),
            joining: false,
            base: membership,
        }
    }

    pub fn joining(membership: Membership) -> SimStore {
        SimStore {
            hard: [(HardState::default(), false); 2],
            volatile_hard: None,
            durable: Vec::new(),
            volatile: Vec::new(),
            joining: true,
            base: membership,
        }
    }

    /// The store of a group born from a split: its starting point (from
    /// `Replica::split_child`) and its share of the state, durable at once.
    pub fn split_child(p: &Persisted, data: Vec<u8>) -> SimStore {
        assert!(p.entries.is_empty() && !p.joining);
        SimStore {
            hard: [(p.hard_state, false); 2],
            volatile_hard: None,
            durable: vec![Stored {
                rec: Record::Snap(p.snapshot.clone(), data),
                torn: false,
                flipped: false,
            }],
            volatile: Vec::new(),
            joining: false,
            base: p.snapshot.membership.clone(),
        }
    }

    pub fn write_hard(&mut self, hs: HardState) {
        self.volatile_hard = Some(hs);
    }

    pub fn write(&mut self, rec: Record) {
        self.volatile.push(Stored {
            rec,
            torn: false,
            flipped: false,
        });
    }

    /// Everything written so far is durable.
    pub fn sync(&mut self) {
        if let Some(hs) = self.volatile_hard.take() {
            self.hard = [(hs, false), (hs, false)];
        }
        let had_snap = self
            .volatile
            .iter()
            .any(|s| matches!(s.rec, Record::Snap(..)));
        self.durable.append(&mut self.volatile);
        if had_snap {
            self.joining = false;
            self.collect_garbage();
        }
    }

    /// Drop records superseded by the last durable snapshot: everything
    /// before it, except entries after its index (rewritten after it).
    fn collect_garbage(&mut self) {
        let Some(pos) = self
            .durable
            .iter()
            .rposition(|s| matches!(s.rec, Record::Snap(..)))
        else {
            return;
        };
        if self.durable[..=pos].iter().any(|s| s.flipped || s.torn) {
            return; // leave damage for recovery to find
        }
        let Record::Snap(meta, _) = &self.durable[pos].rec else {
            unreachable!("found above")
        };
        let meta = meta.clone();
        let mut entries: Vec<Entry> = Vec::new();
        for s in &self.durable[..pos] {
            if let Record::Entries(es) = &s.rec {
                for e in es {
                    entries.retain(|x| x.index < e.index);
                    entries.push(e.clone());
                }
            }
        }
        let keep = entries
            .iter()
            .any(|e| e.index == meta.index && e.ballot == meta.ballot);
        entries.retain(|e| keep && e.index > meta.index);
        let snap = self.durable[pos].clone();
        let rest = self.durable.split_off(pos + 1);
        self.durable.clear();
        self.durable.push(snap);
        if !entries.is_empty() {
            self.durable.push(Stored {
                rec: Record::Entries(entries),
                torn: false,
                flipped: false,
            });
        }
        self.durable.extend(rest);
    }

    /// Power loss: a random prefix of the unsynced writes reaches the disk,
    /// the write after it may be torn, the rest is lost.
    pub fn crash(&mut self, rng: &mut Rng) {
        if let Some(hs) = self.volatile_hard.take()
            && rng.chance(1, 2)
        {
            self.hard = [(hs, false), (hs, false)];
        }
        let keep = rng.below(self.volatile.len() as u64 + 1) as usize;
        let mut v = std::mem::take(&mut self.volatile);
        let torn = v.len() > keep && rng.chance(1, 2);
        v.truncate(keep + usize::from(torn));
        if torn && let Some(last) = v.last_mut() {
            last.torn = true;
        }
        self.durable.append(&mut v);
    }

    /// Flip a bit in a random durable record or in one copy of the promise
    /// state. Returns whether anything was there to flip.
    pub fn flip(&mut self, rng: &mut Rng) -> bool {
        let n = self.durable.len() as u64;
        let pick = rng.below(n + 1);
        if pick == n {
            let copy = rng.below(2) as usize;
            let other = 1 - copy;
            if !self.hard[other].1 {
                self.hard[copy].1 = true;
            }
            return true;
        }
        self.durable[pick as usize].flipped = true;
        true
    }

    /// Any flipped or torn durable record (damage a restart will see)?
    pub fn has_damage(&self) -> bool {
        self.durable.iter().any(|s| s.flipped || s.torn) || self.hard.iter().any(|h| h.1)
    }

    /// Read everything back as a restarting member would.
    pub fn recover(&mut self) -> Recovered {
        assert!(
            self.volatile.is_empty() && self.volatile_hard.is_none(),
            "recover after crash"
        );
        let hard_state = if !self.hard[0].1 {
            self.hard[0].0
        } else {
            assert!(!self.hard[1].1, "both promise copies flipped");
            self.hard[1].0
        };
        // Repair the promise copies (as a two-slot superblock would).
        self.hard = [(hard_state, false), (hard_state, false)];
        let mut snap = SnapshotMeta {
            index: 0,
            ballot: Ballot(0),
            membership: self.base.clone(),
        };
        let mut data = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut damaged = false;
        let mut good = 0;
        let mut saw_snap = false;
        for (i, s) in self.durable.iter().enumerate() {
            if s.flipped || s.torn {
                let at_end = i + 1 == self.durable.len();
                damaged = s.flipped || !at_end;
                break;
            }
            good = i + 1;
            match &s.rec {
                Record::Snap(meta, d) => {
                    let keep = entries
                        .iter()
                        .find(|e| e.index == meta.index)
                        .is_some_and(|e| e.ballot == meta.ballot);
                    if keep {
                        entries.retain(|e| e.index > meta.index);
                    } else {
                        entries.clear();
                    }
                    snap = meta.clone();
                    data = d.clone();
                    saw_snap = true;
                }
                Record::Entries(es) => {
                    for e in es {
                        if e.index <= snap.index {
                            continue;
                        }
                        entries.retain(|x| x.index < e.index);
                        let expected = snap.index + entries.len() as u64 + 1;
                        if e.index != expected {
                            // A gap: cannot happen with in-order writes.
                            damaged = true;
                            break;
                        }
                        entries.push(e.clone());
                    }
                }
            }
        }
        // What recovery could not read is gone for good (the real WAL
        // truncates there, too); the damage marker is made durable first,
        // or a second restart would forget what the first one lost.
        let mut hard_state = hard_state;
        if damaged && hard_state.damaged_at.is_none() {
            hard_state.damaged_at = Some(hard_state.ballot);
            self.hard = [(hard_state, false), (hard_state, false)];
        }
        self.durable.truncate(good);
        let joining = self.joining && !saw_snap;
        let applied = snap.index;
        Recovered {
            persisted: Persisted {
                hard_state,
                snapshot: snap,
                entries,
                applied,
                damaged,
                joining,
                fresh: false,
            },
            data,
        }
    }
}
