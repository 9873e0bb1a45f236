//! `cairn-node`: one per host (binary `src/bin/cairn-node.rs`, assembled in [`node`]). It
//! holds the storage engine, the replication core with its simulator and the node driver that
//! runs many replication groups on the engine, the transport, the request router and the
//! DynamoDB API layer (DESIGN §1, §11).
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
//! - [`driver`]: every group of the node on one engine: `driver/core.rs` carries out the
//!   `Ready` contract per group, `driver/shell.rs` does the I/O for all of them (one WAL
//!   flush for all groups' records: group commit across groups), recovery, snapshots.
//! - [`partition`]: a partition as a state machine: log commands, key ownership.
//! - [`sim`]: the deterministic simulator and its checkers; `src/bin/cairn-sim.rs`
//!   (`scripts/sim`) runs it for many seeds.
//!
//! Networking (issue 4):
//! - [`transport`]: QUIC with mutual TLS from the cluster CA (certificates in
//!   `transport/certs.rs`), bounded per-peer queues, calls; frames from `wire::frame`.
//! - [`control_client`]: control-plane RPCs (framed `ControlRequest`s as
//!   transport calls), following `NotLeader` hints; the server side is
//!   `control-plane/src/rpc.rs`.
//! - [`router`]: any node accepts any request: routing cache with constant-work refresh,
//!   forwarding to the partition leader over QUIC, redirects, same-AZ eventual reads;
//!   `router/backend.rs` is the API layer's backend.
//! - [`node`]: configuration, registration and heartbeats, `/metrics` and admin endpoints.
//!
//! Life of a write: `api/server.rs` (SigV4, parse) → `api/ops/` (validate, key) →
//! `router/` (partition, leader node, forward over QUIC) → `driver::Driver::item` on the
//! leader's node → `driver/shell.rs` → `Replica::propose` → `Ready` → the WAL flush and
//! accepts to the followers → a majority durable → `Ready::committed` → one engine commit
//! (`engine/` over `wal/` and `btree/`) → visible → reply. The simulator still drives
//! replicas through its own `sim/host.rs` (moving it onto `driver/core.rs` is open work).

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
