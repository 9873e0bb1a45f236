//! Multi-Paxos replication, sans-IO (DESIGN §3).
//!
//! Each partition is a replication group of (normally) three members in
//! three AZs. [`Replica`] is one member as a pure state machine: no tokio,
//! clock, filesystem or OS randomness. The driver (the daemon's
//! `driver/`, or the simulator in `crate::sim`) feeds it ticks, messages,
//! proposals and persistence reports, and carries out the [`Ready`] it
//! returns (contract in `ready.rs`).
//!
//! Protocol summary (leader-based Multi-Paxos in the Raft style: ballots
//! are terms, phase 1 is the vote, phase 2 the accept):
//! - election with pre-vote and check-quorum (`election.rs`);
//! - pipelined, batched accepts with per-follower in-flight limits; commit
//!   once a quorum has an entry of the leader's ballot durable; catch-up
//!   from the log or, when it was compacted, by snapshot (`leader.rs`,
//!   `follower.rs`, `progress.rs`, `log.rs`);
//! - a leader lease in ticks, waited out by every new leader, for
//!   consistent reads without a round trip (`leader.rs`);
//! - membership steps through the log with roles `Full`, `Log` and
//!   `Learner` (`wire::replication::Membership`);
//! - leader transfer and quiescence of idle groups (`leader.rs`);
//! - splitting a group in two through the log (`split.rs`).
//!
//! Messages and persisted records are defined in `wire::replication`.

mod election;
mod follower;
mod leader;
mod log;
mod progress;
mod ready;
mod replica;
mod settings;
mod split;

#[cfg(test)]
mod model_check;

pub use ready::{ProposeError, ReadError, ReadResult, Ready};
pub use replica::{Persisted, Replica, RoleState, Status};
pub use settings::{Settings, SettingsError};
