//! `cairn-node`: one per host. Today it holds the storage engine; replication,
//! routing and the DynamoDB API arrive with later issues (DESIGN §1, §11).
//!
//! Storage engine map (DESIGN §4):
//! - [`io`]: the `Disk` seam: io_uring engine (default), `std::fs` engine,
//!   in-memory crash-simulating engine for tests. All `unsafe` lives here.
//! - [`wal`]: one segmented, group-committed write-ahead log per node, shared
//!   by all partitions.
//! - [`btree`]: one copy-on-write B+tree file per node with checksummed pages,
//!   a bounded buffer pool and a two-slot superblock.
//! - [`engine`]: ties them together: apply committed records to the tree with
//!   each partition's applied index in the same commit; recovery = last
//!   superblock + replay of the WAL past each applied index.

pub mod btree;
pub mod engine;
pub mod io;
pub mod replication;
pub mod rng;
pub mod sim;
pub mod wal;
