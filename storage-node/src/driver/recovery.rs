//! Rebuilding each hosted group's [`Persisted`] state at start-up from the three places the
//! driver keeps it: the registry (`registry.rs`: record and hard state), the engine's tree
//! (applied index, its ballot and the membership: the snapshot point) and the WAL (entries
//! after the snapshot point, `store.rs` layout).
//!
//! The chain rule: the first stored entry after the snapshot point `(A, bA)` must name `bA`
//! as its predecessor's ballot, and each later one the ballot of the one before. A snapshot
//! install commits the tree before the Ready's entries reach the WAL, so a crash in between
//! leaves the old entries after `A`; those that chain to `(A, bA)` are a consistent suffix
//! (log matching) and are kept, a first entry that does not chain is a divergent tail and
//! the whole tail is dropped. A break later in the chain cannot happen (the WAL supersedes
//! on append) and is reported as corruption rather than papered over.

use wire::replication::{Ballot, Entry, MemberId, Membership, SnapshotMeta};

use super::registry::{GroupRecord, Registry, RegistryError};
use super::store::{Slot, decode_entry};
use crate::engine::{Engine, EngineError};
use crate::io::Disk;
use crate::partition::decode_membership;
use crate::replication::Persisted;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    #[error("slot {slot}: {reason}")]
    Inconsistent { slot: u64, reason: String },
}

/// One group as recovered.
pub struct Recovered {
    pub record: GroupRecord,
    pub persisted: Persisted,
}

/// The membership a group starts with: every replica of the partition description.
pub fn initial_membership(rec: &GroupRecord) -> Result<Membership, String> {
    let ids: Vec<MemberId> = rec.partition.replicas.iter().map(|r| r.member).collect();
    Membership::full(&ids).map_err(|e| e.to_string())
}

const READ_CHUNK_BYTES: usize = 4 << 20;

pub async fn recover<D: Disk>(
    engine: &Engine<D>,
    registry: &Registry,
) -> Result<Vec<Recovered>, RecoveryError> {
    let mut out = Vec::new();
    let records = registry.records()?;
    for (slot, record) in records {
        let bad = |reason: String| RecoveryError::Inconsistent {
            slot: slot.0,
            reason,
        };
        let (a, ba) = engine.applied_point(slot.0);
        let membership = match engine.membership(slot.0).await? {
            Some(b) => decode_membership(&b).map_err(bad)?,
            None => initial_membership(&record).map_err(bad)?,
        };
        let hard_state = registry.hard_state(slot)?;
        let entries = read_chain(engine, slot, a, Ballot(ba)).await?;
        let joining = !record.bootstrap && a == 0 && entries.is_empty();
        let persisted = Persisted {
            hard_state,
            snapshot: SnapshotMeta {
                index: a,
                ballot: Ballot(ba),
                membership,
            },
            entries,
            applied: a,
            damaged: false,
            joining,
            fresh: false,
        };
        out.push(Recovered { record, persisted });
    }
    // WAL streams of slots no record names (a drop interrupted after the record went).
    let known: std::collections::BTreeSet<u64> = out.iter().map(|r| r.record.slot).collect();
    for span in engine.wal().partitions() {
        if !known.contains(&span.partition) {
            engine.wal().forget(span.partition);
        }
    }
    Ok(out)
}

async fn read_chain<D: Disk>(
    engine: &Engine<D>,
    slot: Slot,
    applied: u64,
    applied_ballot: Ballot,
) -> Result<Vec<Entry>, RecoveryError> {
    let Some(span) = engine
        .wal()
        .partitions()
        .into_iter()
        .find(|s| s.partition == slot.0)
    else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut from = applied + 1;
    while from <= span.last_index {
        let recs = engine
            .wal()
            .read(slot.0, from, span.last_index, READ_CHUNK_BYTES)
            .await?;
        if recs.is_empty() {
            break;
        }
        for r in recs {
            let s = decode_entry(&r).map_err(|reason| RecoveryError::Inconsistent {
                slot: slot.0,
                reason,
            })?;
            let (want_index, want_prev) = match entries.last() {
                Some(e) => (e.index + 1, e.ballot),
                None => (applied + 1, applied_ballot),
            };
            if entries.is_empty() && (s.entry.index != want_index || s.prev_ballot != want_prev) {
                tracing::warn!(
                    slot = slot.0,
                    applied,
                    first = s.entry.index,
                    "dropping a stored log tail that does not chain to the snapshot point"
                );
                return Ok(Vec::new());
            }
            if s.entry.index != want_index || s.prev_ballot != want_prev {
                return Err(RecoveryError::Inconsistent {
                    slot: slot.0,
                    reason: format!(
                        "entry {} (prev ballot {}) after entry {} (ballot {})",
                        s.entry.index,
                        s.prev_ballot.0,
                        want_index - 1,
                        want_prev.0
                    ),
                });
            }
            from = s.entry.index + 1;
            entries.push(s.entry);
        }
    }
    Ok(entries)
}
