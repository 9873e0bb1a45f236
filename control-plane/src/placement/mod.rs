//! Where a new table's partitions go (DESIGN §8 "Placement"). Pure: no I/O, no clock.
//!
//! Rule: each partition gets [`REPLICAS_PER_PARTITION`] replicas on distinct nodes in distinct
//! AZs. Nodes are taken fewest-replicas-first (ties: lower node id), skipping AZs already used
//! by the partition; the counts include what earlier partitions of the same call placed, so a
//! table's partitions spread over the cluster. Within a partition the replicas are ordered
//! with the node leading (preferring) the fewest partitions first: that order is the
//! partition's preferred-leader order.
//!
//! Consequences the tests check: within an AZ, replica counts never drift more than one apart
//! (if they start so); the result depends only on the input, not on its order.
//!
//! Neighbours: the caller (`service.rs`) passes the live nodes from `heartbeat.rs` with their
//! current replica counts from `metadata.rs`; healing and balancing controllers come later.

use std::collections::BTreeSet;

use wire::control::NodeId;

/// Replicas per partition: one per AZ in three AZs.
pub const REPLICAS_PER_PARTITION: usize = 3;

/// A live node that may receive replicas, with its current load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub node: NodeId,
    pub az: String,
    /// Replicas the node hosts (or is intended to host) now.
    pub replicas: u32,
    /// Partitions whose preferred leader the node is now.
    pub leaders: u32,
}

/// Why placement failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error(
        "cannot place replicas: live nodes are in {} availability zone(s) {zones:?}, \
         but every partition needs {REPLICAS_PER_PARTITION} distinct zones",
        zones.len()
    )]
    TooFewZones { zones: Vec<String> },
}

/// Places `partitions` partitions; returns, for each, its nodes in preferred-leader order.
pub fn place(
    nodes: &[Candidate],
    partitions: usize,
) -> Result<Vec<[NodeId; REPLICAS_PER_PARTITION]>, PlacementError> {
    let zones: BTreeSet<&str> = nodes.iter().map(|n| n.az.as_str()).collect();
    if zones.len() < REPLICAS_PER_PARTITION {
        return Err(PlacementError::TooFewZones {
            zones: zones.into_iter().map(str::to_string).collect(),
        });
    }
    let mut load: Vec<Candidate> = nodes.to_vec();
    // Deterministic whatever the input order (and duplicates of one node id are ignored).
    load.sort_by_key(|c| c.node);
    load.dedup_by_key(|c| c.node);
    let mut out = Vec::with_capacity(partitions);
    for _ in 0..partitions {
        let mut order: Vec<usize> = (0..load.len()).collect();
        order.sort_by_key(|&i| (load[i].replicas, load[i].node));
        let mut chosen: Vec<usize> = Vec::with_capacity(REPLICAS_PER_PARTITION);
        for i in order {
            if chosen.iter().all(|&c| load[c].az != load[i].az) {
                chosen.push(i);
                if chosen.len() == REPLICAS_PER_PARTITION {
                    break;
                }
            }
        }
        debug_assert_eq!(chosen.len(), REPLICAS_PER_PARTITION);
        chosen.sort_by_key(|&i| (load[i].leaders, load[i].replicas, load[i].node));
        load[chosen[0]].leaders += 1;
        for &i in &chosen {
            load[i].replicas += 1;
        }
        out.push([
            load[chosen[0]].node,
            load[chosen[1]].node,
            load[chosen[2]].node,
        ]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
