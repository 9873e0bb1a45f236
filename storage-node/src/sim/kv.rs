//! The simulated state machine: a map of `u64` keys to `u64` values over
//! the key range `[lo, hi)` its group owns, the commands that change it,
//! and their byte encoding in log entries. A split moves the keys at and
//! above the split key to the new group; a command or read for a key the
//! group no longer owns is refused (the client re-routes), which is what
//! keeps each key's history in exactly one group at a time.
//!
//! Snapshot layout: `lo u64 | hi u64 | (key u64 | value u64)*`, little
//! endian; an empty snapshot means "the group's initial state".
//!
//! [`SimSm`] is the [`Kv`] as the daemon's group core (`driver/core.rs`)
//! sees it: a [`StateMachine`] that also keeps what applying did for the
//! world (entries applied, groups born from splits, the last install),
//! drained by the host (`host.rs`) after every call.
//!
//! Command layout (little endian): `op u8 | key u64 | value u64 |
//! expected_tag u8 | expected u64`. `op`: 1 put, 2 delete, 3 conditional
//! put (write `value` only if the current value equals `expected`, where
//! tag 0 means "absent").

use std::collections::BTreeMap;

use wire::replication::{Ballot, Entry, LogIndex, Membership, SnapshotMeta};

use crate::driver::core::{SplitChild, StateMachine};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Put {
        key: u64,
        value: u64,
    },
    Delete {
        key: u64,
    },
    CondPut {
        key: u64,
        expected: Option<u64>,
        value: u64,
    },
}

impl Command {
    pub fn key(&self) -> u64 {
        match *self {
            Command::Put { key, .. } | Command::Delete { key } | Command::CondPut { key, .. } => {
                key
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let (op, key, value, exp) = match *self {
            Command::Put { key, value } => (1u8, key, value, None),
            Command::Delete { key } => (2, key, 0, None),
            Command::CondPut {
                key,
                expected,
                value,
            } => (3, key, value, expected),
        };
        let mut out = Vec::with_capacity(26);
        out.push(op);
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
        out.push(u8::from(exp.is_some()));
        out.extend_from_slice(&exp.unwrap_or(0).to_le_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Option<Command> {
        if b.len() != 26 {
            return None;
        }
        let u = |r: std::ops::Range<usize>| u64::from_le_bytes(b[r].try_into().expect("8 bytes"));
        let key = u(1..9);
        let value = u(9..17);
        let expected = (b[17] == 1).then(|| u(18..26));
        match b[0] {
            1 => Some(Command::Put { key, value }),
            2 => Some(Command::Delete { key }),
            3 => Some(Command::CondPut {
                key,
                expected,
                value,
            }),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    map: BTreeMap<u64, u64>,
    lo: u64,
    hi: u64,
}

impl Kv {
    /// An empty state machine owning `[lo, hi)`.
    pub fn new(lo: u64, hi: u64) -> Kv {
        Kv {
            map: BTreeMap::new(),
            lo,
            hi,
        }
    }

    pub fn owns(&self, key: u64) -> bool {
        self.lo <= key && key < self.hi
    }

    pub fn range(&self) -> (u64, u64) {
        (self.lo, self.hi)
    }

    pub fn get(&self, key: u64) -> Option<u64> {
        self.map.get(&key).copied()
    }

    /// Move the keys at and above `at` to a new state machine (the split's
    /// new group). A key outside the range leaves an empty half.
    pub fn split_off(&mut self, at: u64) -> Kv {
        let at = at.clamp(self.lo, self.hi);
        let moved = self.map.split_off(&at);
        let child = Kv {
            map: moved,
            lo: at,
            hi: self.hi,
        };
        self.hi = at;
        child
    }

    /// Applies `c`: `None` if this group does not own the key (nothing
    /// changed); otherwise, for a conditional put, whether the condition
    /// held.
    pub fn apply(&mut self, c: &Command) -> Option<bool> {
        if !self.owns(c.key()) {
            return None;
        }
        Some(match *c {
            Command::Put { key, value } => {
                self.map.insert(key, value);
                true
            }
            Command::Delete { key } => {
                self.map.remove(&key);
                true
            }
            Command::CondPut {
                key,
                expected,
                value,
            } => {
                if self.get(key) == expected {
                    self.map.insert(key, value);
                    true
                } else {
                    false
                }
            }
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.map.len() * 16);
        out.extend_from_slice(&self.lo.to_le_bytes());
        out.extend_from_slice(&self.hi.to_le_bytes());
        for (k, v) in &self.map {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The state in snapshot `b`; `initial` is the range of a group
    /// that has no snapshot yet.
    pub fn decode(b: &[u8], initial: (u64, u64)) -> Kv {
        assert!(b.len().is_multiple_of(16), "snapshot data is whole pairs");
        let pair = |c: &[u8]| {
            (
                u64::from_le_bytes(c[..8].try_into().expect("8")),
                u64::from_le_bytes(c[8..].try_into().expect("8")),
            )
        };
        let mut chunks = b.chunks_exact(16);
        let Some(range) = chunks.next() else {
            return Kv::new(initial.0, initial.1);
        };
        let (lo, hi) = pair(range);
        Kv {
            map: chunks.map(pair).collect(),
            lo,
            hi,
        }
    }
}

/// A group this member starts because it applied a split entry.
pub struct Child {
    pub group: wire::replication::GroupId,
    pub persisted: crate::replication::Persisted,
    pub kv: Kv,
    /// This member led the parent when it applied the split: the child
    /// campaigns at once.
    pub lead: bool,
}

/// What applying an entry tells its writer: the entry, and for a command
/// `None` if the group does not own the key, else whether a condition held.
#[derive(Clone, Debug)]
pub struct Applied {
    pub index: LogIndex,
    pub ballot: Ballot,
    pub result: Option<bool>,
}

/// The simulated state machine as the core sees it: the [`Kv`], and the
/// effects of applying (drained into [`Out`] after every host call).
pub struct SimSm {
    pub kv: Kv,
    pub(super) applied: Vec<Entry>,
    pub(super) children: Vec<Child>,
    pub(super) installed: Option<LogIndex>,
}

impl SimSm {
    pub fn new(kv: Kv) -> SimSm {
        SimSm {
            kv,
            applied: Vec::new(),
            children: Vec::new(),
            installed: None,
        }
    }
}

impl StateMachine for SimSm {
    type Outcome = Applied;

    fn apply(&mut self, entry: &Entry, _membership: Option<&Membership>) -> Applied {
        let mut result = None;
        if let wire::replication::Payload::Command(bytes) = &entry.payload {
            let c = Command::decode(bytes).expect("the sim only proposes valid commands");
            result = self.kv.apply(&c);
        }
        self.applied.push(entry.clone());
        Applied {
            index: entry.index,
            ballot: entry.ballot,
            result,
        }
    }

    fn install(&mut self, meta: &SnapshotMeta, data: &[u8]) {
        self.kv = Kv::decode(data, (0, 0));
        self.installed = Some(meta.index);
    }

    fn apply_split(&mut self, entry: &Entry, child: SplitChild) -> Applied {
        let wire::replication::Payload::Split(spec) = &entry.payload else {
            unreachable!("the core passes split entries only")
        };
        let at = u64::from_le_bytes(
            spec.key[..]
                .try_into()
                .expect("the sim's split keys are 8 bytes"),
        );
        self.children.push(Child {
            group: child.group,
            persisted: child.persisted,
            kv: self.kv.split_off(at),
            lead: child.lead,
        });
        self.applied.push(entry.clone());
        Applied {
            index: entry.index,
            ballot: entry.ballot,
            result: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_apply() {
        let cs = [
            Command::Put { key: 1, value: 7 },
            Command::Delete { key: 1 },
            Command::CondPut {
                key: 1,
                expected: None,
                value: 9,
            },
            Command::CondPut {
                key: 1,
                expected: Some(8),
                value: 10,
            },
        ];
        let mut kv = Kv::new(0, 10);
        let results: Vec<Option<bool>> = cs
            .iter()
            .map(|c| {
                assert_eq!(Command::decode(&c.encode()), Some(*c));
                kv.apply(c)
            })
            .collect();
        assert_eq!(
            results,
            [Some(true); 3]
                .into_iter()
                .chain([Some(false)])
                .collect::<Vec<_>>()
        );
        assert_eq!(kv.get(1), Some(9));
        assert_eq!(Kv::decode(&kv.encode(), (7, 7)), kv);
        assert_eq!(Kv::decode(&[], (7, 9)), Kv::new(7, 9));
        assert_eq!(Command::decode(&[9; 26]), None);
    }

    #[test]
    fn split_moves_the_upper_keys() {
        let mut kv = Kv::new(0, 10);
        for key in [1, 4, 5, 9] {
            kv.apply(&Command::Put {
                key,
                value: key * 10,
            });
        }
        let child = kv.split_off(5);
        assert_eq!((kv.range(), child.range()), ((0, 5), (5, 10)));
        assert_eq!((kv.get(4), kv.get(5)), (Some(40), None));
        assert_eq!((child.get(5), child.get(9)), (Some(50), Some(90)));
        assert_eq!(kv.apply(&Command::Delete { key: 9 }), None);
        assert_eq!(child.clone().apply(&Command::Delete { key: 4 }), None);
        // A split key outside the range leaves an empty half.
        let empty = kv.split_off(50);
        assert_eq!((kv.range(), empty.range()), ((0, 5), (5, 5)));
        assert!(!empty.owns(5));
    }
}
