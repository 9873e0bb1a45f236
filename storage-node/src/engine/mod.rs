//! The storage engine facade: one WAL and one B+tree per node.
//!
//! Protocol (DESIGN §4):
//! 1. `log` appends records to the WAL; it returns once they are durable.
//! 2. `apply` applies committed entries to the tree in one tree commit,
//!    writing each partition's applied index (under the reserved metadata
//!    table, key `table 0 | 'A' | partition u64 BE`) in the *same* commit, so
//!    data and applied index can never disagree.
//! 3. `checkpoint` makes the latest tree commit durable, then releases each
//!    partition's WAL records up to the applied index that checkpoint
//!    persisted (later, also bounded by what the archive holds).
//! 4. Recovery = open the tree at its last superblock, read the applied
//!    indexes from it, open the WAL; every record past a partition's applied
//!    index is still in the WAL (step 3 never releases beyond it). Which of
//!    those records are committed is the replication layer's business; in
//!    standalone use (every durable record is committed) `replay_standalone`
//!    applies them all.
//!
//! Invariants: per partition, applied indexes strictly increase; user keys
//! never start with the metadata table prefix (rejected with a typed error).

pub mod batch;
mod replicated;

use crate::btree::{BTree, BTreeConfig, BTreeError, CheckpointStats, Direction, Snapshot};
use crate::io::{Disk, IoError};
use crate::wal::{PartitionSpan, Record, RecoveryReport, Wal, WalConfig, WalError};
pub use batch::{BatchError, Op, WriteBatch};
pub use replicated::{Install, KeyRange};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wire::TableId;

/// Where and how the engine stores data.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub dir: PathBuf,
    pub wal: WalConfig,
    pub tree: BTreeConfig,
}

impl EngineConfig {
    /// Defaults: WAL in `dir/wal`, tree in `dir/tree.cairn`.
    pub fn new(dir: impl Into<PathBuf>) -> EngineConfig {
        let dir = dir.into();
        EngineConfig {
            wal: WalConfig::new(dir.join("wal")),
            tree: BTreeConfig::new(dir.join("tree.cairn")),
            dir,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Tree(#[from] BTreeError),
    #[error("partition {partition}, index {index}: {source}")]
    Batch {
        partition: u64,
        index: u64,
        #[source]
        source: BatchError,
    },
    #[error("partition {partition}: index {index} applied after {applied} (indexes must increase)")]
    OutOfOrder {
        partition: u64,
        index: u64,
        applied: u64,
    },
    #[error("key starts with the reserved metadata table prefix")]
    ReservedKey,
    #[error("metadata key {key:?} is malformed: {reason}")]
    BadMeta { key: Vec<u8>, reason: String },
}

/// One committed log entry to apply.
#[derive(Clone, Copy, Debug)]
pub struct Apply<'a> {
    pub partition: u64,
    pub index: u64,
    /// The entry's ballot, stored with the applied index: a replica recovering from the tree
    /// needs the snapshot point's ballot (0 in standalone use).
    pub ballot: u64,
    pub batch: &'a WriteBatch,
    /// The partition's replication membership, encoded, when this entry changed it (stored
    /// under the partition's `'M'` metadata key in the same commit).
    pub membership: Option<&'a [u8]>,
}

impl<'a> Apply<'a> {
    /// An entry of standalone use: no ballot, no membership.
    pub fn plain(partition: u64, index: u64, batch: &'a WriteBatch) -> Apply<'a> {
        Apply {
            partition,
            index,
            ballot: 0,
            batch,
            membership: None,
        }
    }
}

/// What `open` found.
#[derive(Clone, Debug)]
pub struct EngineRecovery {
    pub wal: RecoveryReport,
    /// Applied index per partition, as of the last durable checkpoint.
    pub applied: BTreeMap<u64, u64>,
    /// Partitions whose WAL holds records past their applied index.
    pub pending: Vec<PartitionSpan>,
}

struct Inner<D: Disk> {
    wal: Wal<D>,
    tree: BTree<D>,
    /// Per partition: applied index and the ballot of that entry.
    applied: Mutex<BTreeMap<u64, (u64, u64)>>,
    checkpoint_lock: tokio::sync::Mutex<()>,
}

/// The node's storage engine. Cheap to clone.
pub struct Engine<D: Disk> {
    inner: Arc<Inner<D>>,
}

impl<D: Disk> Clone for Engine<D> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

const META_APPLIED: u8 = b'A';
const META_MEMBERSHIP: u8 = b'M';

fn meta_prefix() -> Vec<u8> {
    wire::key::table_prefix(TableId::META)
}

fn meta_key(tag: u8, partition: u64) -> Vec<u8> {
    let mut k = meta_prefix();
    k.push(tag);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

fn applied_key(partition: u64) -> Vec<u8> {
    meta_key(META_APPLIED, partition)
}

fn applied_value(index: u64, ballot: u64) -> [u8; 16] {
    let mut v = [0; 16];
    v[..8].copy_from_slice(&index.to_be_bytes());
    v[8..].copy_from_slice(&ballot.to_be_bytes());
    v
}

impl<D: Disk + Clone> Engine<D> {
    /// Opens (creating if needed) the engine in `cfg.dir` and recovers it.
    pub async fn open(
        disk: D,
        cfg: EngineConfig,
    ) -> Result<(Engine<D>, EngineRecovery), EngineError> {
        disk.create_dir_all(&cfg.dir).await?;
        let tree = BTree::open(disk.clone(), cfg.tree.clone()).await?;
        let applied = read_applied(&tree.snapshot()).await?;
        let (wal, report) = Wal::open(disk, cfg.wal.clone()).await?;
        for (&p, &(i, _)) in &applied {
            wal.release(p, i);
        }
        let pending = wal
            .partitions()
            .into_iter()
            .filter(|s| s.last_index > applied.get(&s.partition).map_or(0, |a| a.0))
            .collect();
        let recovery = EngineRecovery {
            wal: report,
            applied: applied.iter().map(|(&p, &(i, _))| (p, i)).collect(),
            pending,
        };
        let engine = Engine {
            inner: Arc::new(Inner {
                wal,
                tree,
                applied: Mutex::new(applied),
                checkpoint_lock: tokio::sync::Mutex::new(()),
            }),
        };
        Ok((engine, recovery))
    }
}

impl<D: Disk> Engine<D> {
    pub fn wal(&self) -> &Wal<D> {
        &self.inner.wal
    }

    pub fn tree(&self) -> &BTree<D> {
        &self.inner.tree
    }

    /// Appends records to the WAL; returns when they are durable.
    pub async fn log(&self, records: Vec<Record>) -> Result<(), EngineError> {
        Ok(self.inner.wal.append_batch(records).await?)
    }

    /// The highest index applied to the tree for `partition` (0 if none).
    pub fn applied_index(&self, partition: u64) -> u64 {
        self.inner
            .applied
            .lock()
            .expect("applied")
            .get(&partition)
            .map_or(0, |a| a.0)
    }

    /// The applied index of `partition` and that entry's ballot ((0, 0) if none).
    pub fn applied_point(&self, partition: u64) -> (u64, u64) {
        self.inner
            .applied
            .lock()
            .expect("applied")
            .get(&partition)
            .copied()
            .unwrap_or((0, 0))
    }

    /// Applies committed entries in one tree commit, with their partitions'
    /// applied indexes. Visible to new snapshots on return; durable after
    /// the next checkpoint (the WAL holds them until then).
    pub async fn apply(&self, entries: &[Apply<'_>]) -> Result<(), EngineError> {
        if entries.is_empty() {
            return Ok(());
        }
        let meta = meta_prefix();
        for e in entries {
            for op in &e.batch.ops {
                let key = match op {
                    Op::Put { key, .. } | Op::Delete { key } => key,
                    Op::DeleteRange { start, .. } => start,
                };
                if key.starts_with(&meta) {
                    return Err(EngineError::ReservedKey);
                }
            }
        }
        let mut txn = self.inner.tree.begin_write().await;
        // Order check under the writer lock: no concurrent apply can interleave.
        let mut last: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        {
            let applied = self.inner.applied.lock().expect("applied");
            for e in entries {
                let prev = last
                    .get(&e.partition)
                    .or_else(|| applied.get(&e.partition))
                    .map_or(0, |a| a.0);
                if e.index <= prev {
                    return Err(EngineError::OutOfOrder {
                        partition: e.partition,
                        index: e.index,
                        applied: prev,
                    });
                }
                last.insert(e.partition, (e.index, e.ballot));
            }
        }
        for e in entries {
            for op in &e.batch.ops {
                match op {
                    Op::Put { key, value } => txn.put(key, value).await?,
                    Op::Delete { key } => {
                        txn.delete(key).await?;
                    }
                    Op::DeleteRange { start, end } => {
                        txn.delete_range(Bound::Included(start), Bound::Excluded(end))
                            .await?;
                    }
                }
            }
            if let Some(m) = e.membership {
                txn.put(&meta_key(META_MEMBERSHIP, e.partition), m).await?;
            }
        }
        for (&p, &(i, b)) in &last {
            txn.put(&applied_key(p), &applied_value(i, b)).await?;
        }
        txn.commit().await?;
        self.inner.applied.lock().expect("applied").extend(last);
        Ok(())
    }

    /// Standalone recovery: treats every WAL record past a partition's
    /// applied index as committed, decodes it as a [`WriteBatch`] and applies
    /// it. Returns the number of records applied.
    pub async fn replay_standalone(&self) -> Result<u64, EngineError> {
        const CHUNK_BYTES: usize = 4 << 20;
        let mut applied_records = 0;
        for span in self.inner.wal.partitions() {
            loop {
                let from = self.applied_index(span.partition) + 1;
                if from > span.last_index {
                    break;
                }
                let recs = self
                    .inner
                    .wal
                    .read(span.partition, from, span.last_index, CHUNK_BYTES)
                    .await?;
                if recs.is_empty() {
                    break;
                }
                let mut batches = Vec::with_capacity(recs.len());
                for r in &recs {
                    let b =
                        WriteBatch::decode(&r.payload).map_err(|source| EngineError::Batch {
                            partition: r.partition,
                            index: r.index,
                            source,
                        })?;
                    batches.push((r.index, b));
                }
                let entries: Vec<Apply<'_>> = batches
                    .iter()
                    .map(|(index, batch)| Apply::plain(span.partition, *index, batch))
                    .collect();
                self.apply(&entries).await?;
                applied_records += entries.len() as u64;
            }
        }
        Ok(applied_records)
    }

    /// Makes everything applied so far durable in the tree, then lets the
    /// WAL reclaim what the checkpoint covers.
    pub async fn checkpoint(&self) -> Result<CheckpointStats, EngineError> {
        let _one = self.inner.checkpoint_lock.lock().await;
        // Every commit that produced these indexes precedes the checkpoint,
        // so the checkpoint persists at least them.
        let applied = self.inner.applied.lock().expect("applied").clone();
        let stats = self.inner.tree.checkpoint().await?;
        for (p, (i, _)) in applied {
            self.inner.wal.release(p, i);
        }
        Ok(stats)
    }

    /// A pinned, consistent read view of the latest applied state.
    pub fn snapshot(&self) -> Snapshot<D> {
        self.inner.tree.snapshot()
    }

    /// Point read of the latest applied state.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.inner.tree.snapshot().get(key).await?)
    }
}

async fn read_applied<D: Disk>(
    snap: &Snapshot<D>,
) -> Result<BTreeMap<u64, (u64, u64)>, EngineError> {
    let mut start = meta_prefix();
    start.push(META_APPLIED);
    let mut end = meta_prefix();
    end.push(META_APPLIED + 1);
    let mut cur = snap.range(
        Bound::Included(start),
        Bound::Excluded(end),
        Direction::Forward,
    );
    let mut out = BTreeMap::new();
    while cur.advance().await? {
        let (k, v) = (cur.key(), cur.value());
        let bad = |reason: &str| EngineError::BadMeta {
            key: k.to_vec(),
            reason: reason.into(),
        };
        let p = k
            .get(5..13)
            .filter(|_| k.len() == 13)
            .ok_or_else(|| bad("applied key length"))?;
        // 8 bytes (index) as written before ballots were kept, or 16 (index | ballot).
        let (i, b) = match v.len() {
            8 => (v, &[0u8; 8][..]),
            16 => v.split_at(8),
            _ => return Err(bad("applied value length")),
        };
        out.insert(
            u64::from_be_bytes(p.try_into().expect("8 bytes")),
            (
                u64::from_be_bytes(i.try_into().expect("8 bytes")),
                u64::from_be_bytes(b.try_into().expect("8 bytes")),
            ),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
