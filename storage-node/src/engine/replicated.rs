//! What a replicated partition needs from the engine beyond `apply` (used by
//! `storage-node/src/driver/`): its membership as of the applied index, installing a snapshot
//! received from the leader, and dropping a partition the node no longer hosts.
//!
//! Keys (metadata table, next to the applied index `'A' | partition`):
//! `'M' | partition` → the encoded membership in force at the applied index (written by
//! `apply` when an entry changes it, and by `install_snapshot`).
//!
//! Invariants: an install moves the applied index forward only (a snapshot is installed only
//! beyond what the replica has committed); an install or a drop is one tree commit followed
//! by a checkpoint, so after a crash the partition is either entirely as before or entirely
//! replaced/removed.

use std::ops::Bound;

use super::{
    Engine, EngineError, META_MEMBERSHIP, applied_key, applied_value, meta_key, meta_prefix,
};
use crate::io::Disk;

/// A key range `[start, end)` of one partition; `end == None` means "to the end of the
/// user key space below the next table" and must be given explicitly by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= &self.start[..] && key < &self.end[..]
    }
}

/// A snapshot to install: the partition's whole state as of `index`.
pub struct Install<'a> {
    pub partition: u64,
    pub range: &'a KeyRange,
    pub items: &'a [(Vec<u8>, Vec<u8>)],
    pub index: u64,
    pub ballot: u64,
    pub membership: &'a [u8],
}

impl<D: Disk> Engine<D> {
    /// The membership stored for `partition` (`None`: never changed since it was created).
    pub async fn membership(&self, partition: u64) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self
            .snapshot()
            .get(&meta_key(META_MEMBERSHIP, partition))
            .await?)
    }

    /// Replaces the partition's range with `items` and sets its applied point, in one
    /// commit, then checkpoints (so the WAL's records of the partition up to `index` are
    /// released and the install survives a crash).
    pub async fn install_snapshot(&self, s: Install<'_>) -> Result<(), EngineError> {
        let meta = meta_prefix();
        if s.range.start.starts_with(&meta) {
            return Err(EngineError::ReservedKey);
        }
        for (k, _) in s.items {
            if !s.range.contains(k) {
                return Err(EngineError::BadMeta {
                    key: k.clone(),
                    reason: "snapshot item outside the partition's range".into(),
                });
            }
        }
        let mut txn = self.inner.tree.begin_write().await;
        let applied = self.applied_index(s.partition);
        if s.index <= applied {
            return Err(EngineError::OutOfOrder {
                partition: s.partition,
                index: s.index,
                applied,
            });
        }
        txn.delete_range(
            Bound::Included(&s.range.start[..]),
            Bound::Excluded(&s.range.end[..]),
        )
        .await?;
        for (k, v) in s.items {
            txn.put(k, v).await?;
        }
        txn.put(&meta_key(META_MEMBERSHIP, s.partition), s.membership)
            .await?;
        txn.put(&applied_key(s.partition), &applied_value(s.index, s.ballot))
            .await?;
        txn.commit().await?;
        self.inner
            .applied
            .lock()
            .expect("applied")
            .insert(s.partition, (s.index, s.ballot));
        self.checkpoint().await?;
        Ok(())
    }

    /// Deletes the partition's data and metadata, checkpoints, and lets the WAL forget it.
    pub async fn drop_partition(
        &self,
        partition: u64,
        range: &KeyRange,
    ) -> Result<(), EngineError> {
        if range.start.starts_with(&meta_prefix()) {
            return Err(EngineError::ReservedKey);
        }
        let mut txn = self.inner.tree.begin_write().await;
        txn.delete_range(
            Bound::Included(&range.start[..]),
            Bound::Excluded(&range.end[..]),
        )
        .await?;
        txn.delete(&applied_key(partition)).await?;
        txn.delete(&meta_key(META_MEMBERSHIP, partition)).await?;
        txn.commit().await?;
        self.inner
            .applied
            .lock()
            .expect("applied")
            .remove(&partition);
        self.checkpoint().await?;
        self.inner.wal.forget(partition);
        Ok(())
    }
}
