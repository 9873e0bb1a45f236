//! The deterministic simulator (DESIGN §13, issue 3): whole replication
//! groups on simulated nodes in three AZs, driven on one thread from one
//! `u64` seed, with the real [`crate::replication::Replica`] inside.
//!
//! - [`world`]: nodes, directory, event loop, simulated time;
//! - [`net`]: the network (partitions of a node, an AZ or one direction;
//!   loss, duplication, delay and so reordering);
//! - [`store`]: simulated replica stores (unsynced writes lost or torn on a
//!   crash, bit flips detected by checksums);
//! - [`host`]: one replica = the daemon's group core
//!   (`driver/core.rs`, the `Ready` contract) over the [`kv`] state machine
//!   and a simulated store;
//! - [`client`]: the client workload and its recorded history;
//! - [`control`]: membership replacement through a log replica, and
//!   leader transfers, as the control plane will drive them;
//! - [`split`]: splits proposed under load, children started where the
//!   split entry is applied, lineage and routing kept;
//! - [`faults`]: the fault injector;
//! - [`check`] and [`linearizable`]: the checkers (agreement, one leader
//!   per ballot, log members never lead, lease safety, durability,
//!   linearizability via [`lin`], liveness after healing);
//! - [`lin`]: the Porcupine-style per-key linearizability checker.
//!
//! [`run`] runs one seed and returns its [`SimReport`]; `scripts/sim`
//! runs many (`src/bin/cairn-sim.rs`).

pub mod check;
pub mod client;
pub mod control;
pub mod faults;
pub mod host;
pub mod kv;
pub mod lin;
pub mod linearizable;
pub mod net;
pub mod split;
pub mod store;
pub mod world;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;

pub use world::{SimConfig, World};

/// What one simulation did and found.
#[derive(Clone, Debug)]
pub struct SimReport {
    pub seed: u64,
    pub violations: Vec<String>,
    pub simulated_ms: u64,
    pub faults_injected: u64,
    pub ops_ok: u64,
    pub ops_unknown: u64,
    pub entries_applied: u64,
    pub replacements_completed: u64,
    pub transfers: u64,
    /// Splits applied (groups born from splits).
    pub splits: u64,
    /// Members of split-born groups that caught up past the split by a
    /// snapshot of the parent and joined the child afterwards.
    pub children_rejoined: u64,
}

/// Run one simulation to its end and check it.
pub fn run(cfg: SimConfig) -> SimReport {
    let seed = cfg.seed;
    let end = cfg.chaos_ms + cfg.heal_ms;
    let mut w = World::new(cfg);
    w.run_until(end);
    let violations = w.finish();
    SimReport {
        seed,
        violations,
        simulated_ms: end,
        faults_injected: w.faults_injected,
        ops_ok: w.clients.ops_ok,
        ops_unknown: w.clients.ops_unknown,
        entries_applied: w.check.applied_entries,
        replacements_completed: w.control.completed,
        transfers: w.control.transfers,
        splits: w.splits.len() as u64,
        children_rejoined: w.children_rejoined,
    }
}
