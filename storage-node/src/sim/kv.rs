//! The simulated state machine: a map of `u64` keys to `u64` values, the
//! commands that change it, and their byte encoding in log entries.
//!
//! Command layout (little endian): `op u8 | key u64 | value u64 |
//! expected_tag u8 | expected u64`. `op`: 1 put, 2 delete, 3 conditional
//! put (write `value` only if the current value equals `expected`, where
//! tag 0 means "absent").

use std::collections::BTreeMap;

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    map: BTreeMap<u64, u64>,
}

impl Kv {
    pub fn get(&self, key: u64) -> Option<u64> {
        self.map.get(&key).copied()
    }

    /// Applies `c`; for a conditional put, whether the condition held.
    pub fn apply(&mut self, c: &Command) -> bool {
        match *c {
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
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.map.len() * 16);
        for (k, v) in &self.map {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn decode(b: &[u8]) -> Kv {
        assert!(b.len().is_multiple_of(16), "snapshot data is whole pairs");
        let map = b
            .chunks_exact(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().expect("8")),
                    u64::from_le_bytes(c[8..].try_into().expect("8")),
                )
            })
            .collect();
        Kv { map }
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
        let mut kv = Kv::default();
        let results: Vec<bool> = cs
            .iter()
            .map(|c| {
                assert_eq!(Command::decode(&c.encode()), Some(*c));
                kv.apply(c)
            })
            .collect();
        assert_eq!(results, [true, true, true, false]);
        assert_eq!(kv.get(1), Some(9));
        assert_eq!(Kv::decode(&kv.encode()), kv);
        assert_eq!(Command::decode(&[9; 26]), None);
    }
}
