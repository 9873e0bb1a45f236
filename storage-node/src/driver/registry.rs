//! The node-local registry of hosted groups, in `DATA/groups/`:
//!
//! - `<slot>.json`: a [`GroupRecord`] (which partition, which member, how it started);
//!   written before the group first runs, removed after its data is dropped.
//! - `<slot>.hard`: the group's latest hard state (promised ballot, vote, damage mark),
//!   `ballot u64 LE | vote_present u8 | vote u64 LE | damaged_present u8 | damaged u64 LE |
//!   blake3(previous 26 bytes)[..16]` = 42 bytes. Rewritten in every flush that changes it.
//! - `next_slot`: the next slot id (decimal), so slots are never reused, even after a drop.
//!
//! Every write is atomic and durable: temporary file, fsync, rename, fsync of the directory.
//! Hard states change only on elections, so one small file per group costs little; the log
//! itself is in the WAL (`store.rs`).
//!
//! Invariants: a record's slot is below `next_slot`; a hard-state file that fails its
//! checksum is an error (the node refuses to start rather than forget a promise).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wire::control::PartitionDesc;
use wire::replication::{Ballot, HardState, MemberId};

use super::store::Slot;

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// What the node knows about one hosted group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub slot: u64,
    #[serde(with = "member_serde")]
    pub member: MemberId,
    /// Started as a member of a brand-new group (else: joined a running one).
    pub bootstrap: bool,
    /// The partition as the control plane described it when the replica was created.
    pub partition: PartitionDesc,
}

mod member_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use wire::replication::MemberId;

    pub fn serialize<S: Serializer>(m: &MemberId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(m.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MemberId, D::Error> {
        Ok(MemberId(u64::deserialize(d)?))
    }
}

const HARD_BYTES: usize = 42;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `DATA/groups/`.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Registry, RegistryError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Registry { dir })
    }

    fn path(&self, slot: Slot, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", slot.0))
    }

    /// Every record, by slot.
    pub fn records(&self) -> Result<BTreeMap<Slot, GroupRecord>, RegistryError> {
        let mut out = BTreeMap::new();
        for e in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = e.map_err(io(&self.dir))?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io(&path))?;
            let rec: GroupRecord =
                serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            out.insert(Slot(rec.slot), rec);
        }
        Ok(out)
    }

    /// Allocates a slot that was never used on this node.
    pub fn allocate_slot(&self) -> Result<Slot, RegistryError> {
        let path = self.dir.join("next_slot");
        let next = match fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|e| RegistryError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 2,
            Err(e) => return Err(io(&path)(e)),
        };
        let above = self.records()?.keys().map(|s| s.0 + 1).max().unwrap_or(2);
        let slot = next.max(above);
        self.write_atomic(&path, format!("{}\n", slot + 1).as_bytes())?;
        Ok(Slot(slot))
    }

    pub fn put_record(&self, rec: &GroupRecord) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(rec).expect("records serialize");
        self.write_atomic(&self.path(Slot(rec.slot), "json"), &bytes)
    }

    /// Removes a group's files (its data must already be dropped).
    pub fn remove(&self, slot: Slot) -> Result<(), RegistryError> {
        for ext in ["hard", "json"] {
            let p = self.path(slot, ext);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        self.sync_dir()
    }

    pub fn hard_state(&self, slot: Slot) -> Result<HardState, RegistryError> {
        let path = self.path(slot, "hard");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HardState::default()),
            Err(e) => return Err(io(&path)(e)),
        };
        decode_hard(&bytes).map_err(|reason| RegistryError::Corrupt { path, reason })
    }

    /// Writes the hard states of one flush: all files, then one directory sync.
    pub fn put_hard_states(&self, hs: &BTreeMap<Slot, HardState>) -> Result<(), RegistryError> {
        if hs.is_empty() {
            return Ok(());
        }
        for (&slot, h) in hs {
            let path = self.path(slot, "hard");
            let tmp = path.with_extension("hard.tmp");
            write_synced(&tmp, &encode_hard(h))?;
            fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        self.sync_dir()
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
        let tmp = path.with_extension("tmp");
        write_synced(&tmp, bytes)?;
        fs::rename(&tmp, path).map_err(io(path))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), RegistryError> {
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_data().map_err(io(path))
}

fn encode_hard(h: &HardState) -> [u8; HARD_BYTES] {
    let mut b = [0u8; HARD_BYTES];
    b[..8].copy_from_slice(&h.ballot.0.to_le_bytes());
    if let Some(v) = h.vote {
        b[8] = 1;
        b[9..17].copy_from_slice(&v.0.to_le_bytes());
    }
    if let Some(d) = h.damaged_at {
        b[17] = 1;
        b[18..26].copy_from_slice(&d.0.to_le_bytes());
    }
    let sum = blake3::hash(&b[..26]);
    b[26..].copy_from_slice(&sum.as_bytes()[..16]);
    b
}

fn decode_hard(b: &[u8]) -> Result<HardState, String> {
    if b.len() != HARD_BYTES {
        return Err(format!("hard state of {} bytes", b.len()));
    }
    if blake3::hash(&b[..26]).as_bytes()[..16] != b[26..] {
        return Err("hard state checksum mismatch".into());
    }
    let u = |r: std::ops::Range<usize>| u64::from_le_bytes(b[r].try_into().expect("8 bytes"));
    let flag = |i: usize| match b[i] {
        0 => Ok(false),
        1 => Ok(true),
        x => Err(format!("flag byte {x}")),
    };
    Ok(HardState {
        ballot: Ballot(u(0..8)),
        vote: flag(8)?.then(|| MemberId(u(9..17))),
        damaged_at: flag(17)?.then(|| Ballot(u(18..26))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "cairn-registry-{}-{}",
            std::process::id(),
            crate::rng::Rng::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            )
            .next_u64()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn hard_states_round_trip_and_damage_is_detected() {
        let dir = tmp();
        let r = Registry::open(&dir).unwrap();
        assert_eq!(r.hard_state(Slot(5)).unwrap(), HardState::default());
        let h = HardState {
            ballot: Ballot(77),
            vote: Some(MemberId(3)),
            damaged_at: None,
        };
        r.put_hard_states(&BTreeMap::from([(Slot(5), h)])).unwrap();
        assert_eq!(r.hard_state(Slot(5)).unwrap(), h);
        let p = dir.join("5.hard");
        let mut b = fs::read(&p).unwrap();
        b[3] ^= 1;
        fs::write(&p, b).unwrap();
        assert!(matches!(
            r.hard_state(Slot(5)),
            Err(RegistryError::Corrupt { .. })
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn slots_are_never_reused() {
        let dir = tmp();
        let r = Registry::open(&dir).unwrap();
        let a = r.allocate_slot().unwrap();
        let b = r.allocate_slot().unwrap();
        assert!(b > a);
        let r2 = Registry::open(&dir).unwrap();
        assert!(r2.allocate_slot().unwrap() > b);
        fs::remove_dir_all(dir).unwrap();
    }
}
