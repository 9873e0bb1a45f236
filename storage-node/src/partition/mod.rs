//! A partition as a replicated state machine: the commands its log carries, which keys it
//! owns, and [`PartitionSm`], the driver's state machine that turns committed entries into
//! engine work (`storage-node/src/driver/`).
//!
//! Commands are *blind* images: the leader evaluates a request (reads the old item for
//! `ReturnValues`, conditions and updates: `partition/eval.rs`) before proposing, so applying
//! is a pure function of the entry. Byte layout of `Payload::Command`:
//!
//! ```text
//! ver u8 = 1 | kind u8 (1 Put, 2 Delete) | klen u16 LE | key[klen] | (Put) value[rest]
//! ```
//!
//! The key is the stored key (`table u32 BE | hash64 u64 BE | ...`, `wire::key`), the value
//! the stored item (`wire::item::encoding`). A partition owns the keys of its table whose hash
//! lies in its [`HashRange`]; in key order that is one contiguous range ([`key_range`]).
//!
//! Invariants: applied commands only touch owned keys (others are answered `WrongGroup` and
//! change nothing); staged work keeps log order, installs included.

pub mod eval;
pub mod range;
pub mod ttl;

use wire::TableId;
use wire::control::HashRange;
use wire::replication::{Entry, LogIndex, Membership, Payload, SnapshotMeta};

use crate::driver::core::StateMachine;
use crate::engine::{KeyRange, WriteBatch};

/// One partition write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("command of {0} bytes is truncated")]
    Truncated(usize),
    #[error("unknown command version {0}")]
    Version(u8),
    #[error("unknown command kind {0}")]
    Kind(u8),
    #[error("key of {0} bytes")]
    KeyLength(usize),
}

impl Command {
    pub fn key(&self) -> &[u8] {
        match self {
            Command::Put { key, .. } | Command::Delete { key } => key,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let key = self.key();
        assert!(key.len() <= u16::MAX as usize, "keys are bounded");
        let mut out = Vec::with_capacity(4 + key.len());
        out.push(1);
        out.push(match self {
            Command::Put { .. } => 1,
            Command::Delete { .. } => 2,
        });
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key);
        if let Command::Put { value, .. } = self {
            out.extend_from_slice(value);
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Command, CommandError> {
        if b.len() < 4 {
            return Err(CommandError::Truncated(b.len()));
        }
        if b[0] != 1 {
            return Err(CommandError::Version(b[0]));
        }
        let klen = u16::from_le_bytes([b[2], b[3]]) as usize;
        if klen == 0 || klen > wire::key::MAX_ENCODED_KEY_BYTES {
            return Err(CommandError::KeyLength(klen));
        }
        let key = b
            .get(4..4 + klen)
            .ok_or(CommandError::Truncated(b.len()))?
            .to_vec();
        let rest = &b[4 + klen..];
        match b[1] {
            1 => Ok(Command::Put {
                key,
                value: rest.to_vec(),
            }),
            2 if rest.is_empty() => Ok(Command::Delete { key }),
            2 => Err(CommandError::Truncated(b.len())),
            k => Err(CommandError::Kind(k)),
        }
    }
}

/// The partition-key hash inside a stored key (`None` if the key is too short).
pub fn key_hash(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(4..12)?.try_into().ok()?))
}

/// The stored keys of `table` whose hash lies in `range`, as one key range.
pub fn key_range(table: TableId, range: &HashRange) -> KeyRange {
    let mut start = wire::key::table_prefix(table);
    start.extend_from_slice(&range.start.to_be_bytes());
    let end = match range.end {
        Some(e) => {
            let mut k = wire::key::table_prefix(table);
            k.extend_from_slice(&e.to_be_bytes());
            k
        }
        None => wire::key::table_range(table).1,
    };
    KeyRange { start, end }
}

/// Which keys a partition owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub table: TableId,
    pub range: HashRange,
}

impl Ownership {
    pub fn owns(&self, key: &[u8]) -> bool {
        key.get(..4) == Some(&wire::key::table_prefix(self.table)[..])
            && key_hash(key).is_some_and(|h| self.range.contains(h))
    }

    pub fn key_range(&self) -> KeyRange {
        key_range(self.table, &self.range)
    }
}

/// What applying a command told its proposer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    WrongGroup,
}

/// Engine work staged by a partition, in log order.
#[derive(Debug)]
pub enum Staged {
    /// One committed entry (`batch` may be empty: a no-op still moves the applied index).
    Apply {
        index: LogIndex,
        ballot: u64,
        batch: WriteBatch,
        membership: Option<Vec<u8>>,
    },
    /// Replace the partition's state with a snapshot.
    Install {
        meta: SnapshotMeta,
        items: Vec<(Vec<u8>, Vec<u8>)>,
        membership: Vec<u8>,
    },
}

/// The driver's state machine of one partition: stages engine work for the shell.
pub struct PartitionSm {
    pub ownership: Ownership,
    staged: Vec<Staged>,
}

impl PartitionSm {
    pub fn new(ownership: Ownership) -> PartitionSm {
        PartitionSm {
            ownership,
            staged: Vec::new(),
        }
    }

    /// The work staged since the last call, in log order.
    pub fn take_staged(&mut self) -> Vec<Staged> {
        std::mem::take(&mut self.staged)
    }

    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }
}

/// A membership as stored by the engine (`'M'` key).
pub fn encode_membership(m: &Membership) -> Vec<u8> {
    wire::frame::encode(
        &wire::peer::StoredMembership {
            membership: m.clone(),
        },
        1 << 16,
    )
    .expect("memberships are small")
}

pub fn decode_membership(b: &[u8]) -> Result<Membership, String> {
    wire::frame::decode::<wire::peer::StoredMembership>(b, 1 << 16)
        .map(|s| s.membership)
        .map_err(|e| e.to_string())
}

/// The largest snapshot this version sends in one message (see `driver/snapshot.rs`).
pub const SNAPSHOT_BYTES_MAX: usize = 12 << 20;

impl StateMachine for PartitionSm {
    type Outcome = Outcome;

    fn apply(&mut self, entry: &Entry, membership: Option<&Membership>) -> Outcome {
        let mut batch = WriteBatch::new();
        let mut outcome = Outcome::Applied;
        if let Payload::Command(bytes) = &entry.payload {
            let cmd = Command::decode(bytes)
                .expect("commands in committed entries were encoded by a leader of this group");
            if !self.ownership.owns(cmd.key()) {
                outcome = Outcome::WrongGroup;
            } else {
                match cmd {
                    Command::Put { key, value } => {
                        batch.put(key, value);
                    }
                    Command::Delete { key } => {
                        batch.delete(key);
                    }
                }
            }
        }
        self.staged.push(Staged::Apply {
            index: entry.index,
            ballot: entry.ballot.0,
            batch,
            membership: membership.map(encode_membership),
        });
        outcome
    }

    fn install(&mut self, meta: &SnapshotMeta, data: &[u8]) {
        let items = if data.is_empty() {
            Vec::new()
        } else {
            wire::frame::decode::<wire::peer::SnapshotData>(data, SNAPSHOT_BYTES_MAX + (1 << 20))
                .map(|d| d.items)
                .unwrap_or_else(|e| {
                    // The data was checked before the message was stepped (`shell.rs`);
                    // here it cannot fail.
                    panic!("snapshot data of group validated before install: {e}")
                })
        };
        self.staged.push(Staged::Install {
            meta: meta.clone(),
            items,
            membership: encode_membership(&meta.membership),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_garbage_is_refused() {
        let mut key = wire::key::table_prefix(TableId(3));
        key.extend_from_slice(&7u64.to_be_bytes());
        key.extend_from_slice(b"\x00\x01k");
        for c in [
            Command::Put {
                key: key.clone(),
                value: b"v".to_vec(),
            },
            Command::Put {
                key: key.clone(),
                value: Vec::new(),
            },
            Command::Delete { key: key.clone() },
        ] {
            assert_eq!(Command::decode(&c.encode()).unwrap(), c);
        }
        assert!(Command::decode(&[1, 1, 0]).is_err());
        assert!(Command::decode(&[2, 1, 1, 0, 5]).is_err());
        assert!(Command::decode(&[1, 9, 1, 0, 5]).is_err());
        assert!(Command::decode(&[1, 1, 9, 0, 5]).is_err());
        assert!(Command::decode(&[1, 2, 1, 0, 5, 6]).is_err());
    }

    #[test]
    fn ownership_is_the_table_and_the_hash_range() {
        let own = Ownership {
            table: TableId(3),
            range: HashRange {
                start: 100,
                end: Some(200),
            },
        };
        let key = |t: u32, h: u64| {
            let mut k = wire::key::table_prefix(TableId(t));
            k.extend_from_slice(&h.to_be_bytes());
            k.push(0);
            k
        };
        assert!(own.owns(&key(3, 100)));
        assert!(own.owns(&key(3, 199)));
        assert!(!own.owns(&key(3, 200)));
        assert!(!own.owns(&key(3, 99)));
        assert!(!own.owns(&key(4, 150)));
        let r = own.key_range();
        for (t, h) in [
            (3, 100),
            (3, 150),
            (3, 199),
            (3, 200),
            (3, 99),
            (4, 150),
            (2, 150),
        ] {
            assert_eq!(r.contains(&key(t, h)), own.owns(&key(t, h)), "{t} {h}");
        }
        let all = Ownership {
            table: TableId(3),
            range: HashRange::FULL,
        }
        .key_range();
        assert!(all.contains(&key(3, u64::MAX)));
        assert!(!all.contains(&key(4, 0)));
    }
}
