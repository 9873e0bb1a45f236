//! The `MetaStore` seam: the control plane's only way to reach etcd (DESIGN §8, §12).
//!
//! - [`keys`]: every key path, in one file.
//! - [`etcd`]: the real implementation ([`EtcdStore`], etcd-client over gRPC), with a deadline
//!   on every call so that a dead etcd fails fast with [`StoreError::Unavailable`].
//! - [`mem`]: an in-memory implementation ([`MemStore`]) with etcd's semantics (revisions,
//!   leases, watches, compaction) and a switch that makes it unavailable, for unit tests.
//!
//! The trait mirrors the etcd v3 subset the control plane needs: point reads, prefix ranges,
//! puts (optionally attached to a lease), deletes, transactions guarded by revision compares,
//! prefix watches from a revision, and leases. Revisions are etcd's: a store-wide counter that
//! grows with every write; `mod_revision` 0 stands for "absent".
//!
//! Invariants: a transaction applies all its operations or none; a watch delivers every change
//! after its start revision in revision order, or reports [`WatchMsg::Compacted`] /
//! [`WatchMsg::Error`] and ends (the caller resyncs with a fresh range read).

pub mod etcd;
pub mod keys;
pub mod mem;

use std::future::Future;

use tokio::sync::mpsc;

pub use etcd::{EtcdConfig, EtcdStore};
pub use keys::{Counter, KeyKind, Keys, LeaderRecord};
pub use mem::MemStore;

/// An etcd revision.
pub type Revision = i64;

/// An etcd lease id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(pub i64);

/// One key and its value with etcd's bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the put that created the key (since its last deletion).
    pub create_revision: Revision,
    /// Revision of the last put.
    pub mod_revision: Revision,
    /// The lease the key is attached to.
    pub lease: Option<LeaseId>,
}

/// The result of a prefix range read: the keys in byte order and the store revision the read
/// saw (watch from `revision + 1` to follow on without a gap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub kvs: Vec<KeyValue>,
    pub revision: Revision,
}

/// A guard of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals the given one (0: the key is absent).
    ModRevision(String, Revision),
    /// The key's `create_revision` equals the given one (0: the key is absent). Used to fence
    /// a leader's writes on still owning the election key it created.
    CreateRevision(String, Revision),
}

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    },
    Delete {
        key: String,
    },
}

impl TxnOp {
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> TxnOp {
        TxnOp::Put {
            key: key.into(),
            value: value.into(),
            lease: None,
        }
    }
    pub fn delete(key: impl Into<String>) -> TxnOp {
        TxnOp::Delete { key: key.into() }
    }
}

/// A transaction: if every compare holds, apply `then` atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Txn {
    pub when: Vec<Compare>,
    pub then: Vec<TxnOp>,
}

/// What a transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
    /// The compares held and the operations were applied.
    pub succeeded: bool,
    /// The store revision after the transaction.
    pub revision: Revision,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    Put(KeyValue),
    /// The key, and the revision of the deletion.
    Delete {
        key: String,
        revision: Revision,
    },
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchMsg {
    /// Changes, all at or below `revision`, in order.
    Events {
        revision: Revision,
        events: Vec<WatchEvent>,
    },
    /// The start revision was compacted away; the watch has ended. Resync with a range read.
    Compacted { compact_revision: Revision },
    /// The watch broke (etcd unreachable, stream reset); it has ended.
    Error(StoreError),
}

/// The receiving end of a watch; dropping it cancels the watch.
pub type Watch = mpsc::Receiver<WatchMsg>;

/// How many watch messages may wait unread before the producer blocks.
pub const WATCH_BUFFER_MSGS_MAX: usize = 64;

/// Why a store call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// etcd did not answer within the deadline or refused the connection.
    #[error("etcd unavailable ({op}): {detail}")]
    Unavailable { op: &'static str, detail: String },
    /// The lease is unknown to etcd: it expired or was revoked.
    #[error("etcd lease {0:?} expired or revoked")]
    LeaseExpired(LeaseId),
    /// The requested revision was compacted.
    #[error("etcd revision compacted (oldest available {0})")]
    Compacted(Revision),
    /// etcd answered with an error that is not about availability.
    #[error("etcd error ({op}): {detail}")]
    Other { op: &'static str, detail: String },
}

impl StoreError {
    /// True when retrying later may succeed (etcd down or slow).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// The metadata store seam. Every method is one round trip to etcd (or none for [`MemStore`]).
pub trait MetaStore: Clone + Send + Sync + 'static {
    /// The key, or `None`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<KeyValue>, StoreError>> + Send;
    /// Every key starting with `prefix`, in byte order, with the revision read.
    fn range(&self, prefix: &str) -> impl Future<Output = Result<Range, StoreError>> + Send;
    /// Writes `key`; returns the new revision.
    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> impl Future<Output = Result<Revision, StoreError>> + Send;
    /// Deletes `key`; true when it existed.
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Applies `txn` if its compares hold.
    fn txn(&self, txn: Txn) -> impl Future<Output = Result<TxnOutcome, StoreError>> + Send;
    /// Watches every key starting with `prefix`, from revision `from` (inclusive).
    fn watch(
        &self,
        prefix: &str,
        from: Revision,
    ) -> impl Future<Output = Result<Watch, StoreError>> + Send;
    /// A new lease living `ttl_s` seconds unless kept alive.
    fn lease_grant(&self, ttl_s: i64) -> impl Future<Output = Result<LeaseId, StoreError>> + Send;
    /// Renews the lease for its TTL; [`StoreError::LeaseExpired`] when it is gone.
    fn lease_keep_alive(
        &self,
        lease: LeaseId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends the lease now, deleting its keys.
    fn lease_revoke(&self, lease: LeaseId) -> impl Future<Output = Result<(), StoreError>> + Send;
}
