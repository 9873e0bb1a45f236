//! The Cairn control plane, `cairn-control` (DESIGN §1, §5, §8), and the operator CLI
//! (`cairnctl`, `src/bin/cairnctl.rs`).
//!
//! The control plane is the only etcd client. Several instances run; one leads (etcd lease
//! election) and makes decisions, all of them serve routing metadata from memory.
//!
//! Modules (pure cores, one seam per side effect):
//! - [`store`]: the `MetaStore` seam (etcd, in-memory) and every etcd key (`store/keys.rs`).
//! - [`election`]: leader election on an etcd lease; fenced writes.
//! - [`placement`]: where a table's partitions go (pure).
//! - [`tables`]: CreateTable validation with DynamoDB's errors, partition count and hash
//!   ranges (pure).
//! - [`heartbeat`]: node registry and liveness, replica commands from heartbeats (pure).
//! - [`metadata`]: the watch-fed in-memory routing map served by every instance.
//! - [`service`]: `ControlService`, one async method per control RPC of `wire::control`.
//!
//! Neighbours: the types on the wire and in etcd are in `wire/src/control.rs`; the node side
//! that sends heartbeats and executes replica commands is `storage-node`.

pub mod election;
pub mod heartbeat;
pub mod metadata;
pub mod metrics;
pub mod placement;
pub mod rpc;
pub mod service;
pub mod store;
pub mod tables;
