//! `cairn-node`: one per host. Today it holds the storage engine, the
//! replication core with its simulator, the transport and the DynamoDB API
//! layer; the node daemon that drives replication groups on the engine and
//! routes requests is being built (issue 4; DESIGN §1, §11).
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
//!
//! Client API (DESIGN §9, §11):
//! - [`api`]: the DynamoDB HTTP endpoint (`api/server.rs`, `api/ops/`), SigV4
//!   (`api/auth.rs`), and the [`api::ApiBackend`] seam to routing and storage.
//!
//! Replication (DESIGN §3):
//! - [`replication`]: the sans-IO Multi-Paxos core ([`replication::Replica`]
//!   in, [`replication::Ready`] out).
//! - [`sim`]: the deterministic simulator and its checkers; `src/bin/cairn-sim.rs`
//!   (`scripts/sim`) runs it for many seeds.
//!
//! Networking (issue 4):
//! - [`transport`]: QUIC with mutual TLS from the cluster CA (certificates in
//!   `transport/certs.rs`), bounded per-peer queues, calls; frames from `wire::frame`.
//! - [`control_client`]: control-plane RPCs (framed `ControlRequest`s as
//!   transport calls), following `NotLeader` hints; the server side is
//!   `control-plane/src/rpc.rs`.
//!
//! Life of a write so far: `replication/replica.rs` `Replica::propose` →
//! `Ready` (`replication/ready.rs`) → the driver (today `sim/host.rs`)
//! persists entries and sends accepts → a majority durable →
//! `replication/leader.rs` `maybe_commit` → `Ready::committed` → applied
//! (in the daemon: `engine/` over `wal/` and `btree/`) → reply.

pub mod api;
pub mod btree;
pub mod control_client;
pub mod driver;
pub mod engine;
pub mod io;
pub mod node;
pub mod partition;
pub mod replication;
pub mod rng;
pub mod router;
pub mod sim;
pub mod transport;
pub mod wal;
