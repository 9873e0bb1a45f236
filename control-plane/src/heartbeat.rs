//! Node liveness and replica reconciliation from heartbeats (DESIGN §8). Pure: the caller
//! passes the time.
//!
//! - [`NodeRegistry`]: kept in memory by the leader only (a new leader starts empty and is
//!   "warm" once one liveness timeout has passed, so it never concludes a replica is gone just
//!   because it has not heard from its node yet). A node is live while its last heartbeat is
//!   younger than [`LivenessConfig::timeout_ms`].
//! - [`commands_for`]: the difference between what a node should host (from the partition
//!   map in `metadata.rs`) and what it reports, as `CreateReplica`/`DropReplica` commands.
//! - [`partition_ready`]: every intended replica reported by its node and one of them leading:
//!   the condition for a table to leave CREATING.
//!
//! Registration itself (node name → id in etcd) is in `service.rs`; node names are checked
//! here ([`validate_node_name`]) because they become etcd key components (`store/keys.rs`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;
use wire::control::{
    ControlError, ControlErrorKind, NodeCommand, NodeHeartbeat, NodeId, PartitionDesc, ReplicaState,
};
use wire::replication::{GroupId, MemberId};

/// Node names (and AZ names) are at most this long.
pub const NODE_NAME_BYTES_MAX: usize = 253;

/// Heartbeat timing.
#[derive(Clone, Debug)]
pub struct LivenessConfig {
    /// A node is dead after this long without a heartbeat.
    pub timeout_ms: u64,
    /// What nodes are told to use (in the registration reply).
    pub heartbeat_interval_ms: u64,
}

impl Default for LivenessConfig {
    fn default() -> LivenessConfig {
        LivenessConfig {
            timeout_ms: 3_000,
            heartbeat_interval_ms: 500,
        }
    }
}

/// Checks a node or AZ name: 1..=253 bytes of `[A-Za-z0-9_.-]`.
pub fn validate_node_name(name: &str, what: &str) -> Result<(), ControlError> {
    let ok = !name.is_empty()
        && name.len() <= NODE_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ControlError::new(
            ControlErrorKind::Validation,
            format!(
                "invalid {what} {name:?}: use 1 to {NODE_NAME_BYTES_MAX} characters of [A-Za-z0-9_.-]"
            ),
        ))
    }
}

/// The leader's view of node liveness and reported replicas.
#[derive(Debug)]
pub struct NodeRegistry {
    timeout: Duration,
    started: Instant,
    last_seen: HashMap<NodeId, Instant>,
    reports: HashMap<NodeId, Vec<ReplicaState>>,
}

impl NodeRegistry {
    pub fn new(cfg: &LivenessConfig, now: Instant) -> NodeRegistry {
        NodeRegistry {
            timeout: Duration::from_millis(cfg.timeout_ms),
            started: now,
            last_seen: HashMap::new(),
            reports: HashMap::new(),
        }
    }

    /// Forgets everything (on gaining leadership: reports heard as a standby are stale).
    pub fn reset(&mut self, now: Instant) {
        self.started = now;
        self.last_seen.clear();
        self.reports.clear();
    }

    /// Records a heartbeat. Returns true when the node was not live before (came up).
    pub fn record(&mut self, hb: &NodeHeartbeat, now: Instant) -> bool {
        let was_live = self.is_live(hb.node, now);
        self.last_seen.insert(hb.node, now);
        self.reports.insert(hb.node, hb.replicas.clone());
        !was_live
    }

    pub fn is_live(&self, node: NodeId, now: Instant) -> bool {
        self.last_seen
            .get(&node)
            .is_some_and(|t| now.saturating_duration_since(*t) < self.timeout)
    }

    /// Live nodes, in id order.
    pub fn live_nodes(&self, now: Instant) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self
            .last_seen
            .keys()
            .copied()
            .filter(|n| self.is_live(*n, now))
            .collect();
        v.sort();
        v
    }

    /// True once the registry has listened for a whole timeout: absence of a report now means
    /// something.
    pub fn is_warm(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= self.timeout
    }

    /// What a node reported last (live or not).
    pub fn reported(&self, node: NodeId) -> &[ReplicaState] {
        self.reports.get(&node).map_or(&[], Vec::as_slice)
    }

    /// True when some live node reports a replica of `group`. (A dead node's replica is
    /// dropped when the node comes back: its group is no longer wanted anywhere.)
    pub fn group_reported(&self, group: GroupId, now: Instant) -> bool {
        self.reports
            .iter()
            .filter(|(n, _)| self.is_live(**n, now))
            .any(|(_, rs)| rs.iter().any(|r| r.group == group))
    }
}

/// True when every intended replica of `p` is reported by its (live) node and one of them
/// reports being leader.
pub fn partition_ready(p: &PartitionDesc, reg: &NodeRegistry, now: Instant) -> bool {
    let mut leader = false;
    for r in &p.replicas {
        if !reg.is_live(r.node, now) {
            return false;
        }
        match reg
            .reported(r.node)
            .iter()
            .find(|s| s.group == p.id && s.member == r.member)
        {
            Some(s) => leader |= s.is_leader,
            None => return false,
        }
    }
    leader && !p.replicas.is_empty()
}

/// Commands that move `node` from what it `reported` to what it should host (`desired`: the
/// partitions listing it, with its member id in each). Deterministic order: creates by group,
/// then drops by group.
pub fn commands_for(
    node: NodeId,
    desired: &[&PartitionDesc],
    creating: &HashSet<wire::TableId>,
    reported: &[ReplicaState],
) -> Vec<NodeCommand> {
    let have: HashSet<(GroupId, MemberId)> = reported.iter().map(|r| (r.group, r.member)).collect();
    let mut want: Vec<(GroupId, MemberId, &PartitionDesc)> = desired
        .iter()
        .flat_map(|p| {
            p.replicas
                .iter()
                .filter(|r| r.node == node)
                .map(move |r| (p.id, r.member, *p))
        })
        .collect();
    want.sort_by_key(|(g, m, _)| (*g, *m));
    let wanted: HashSet<(GroupId, MemberId)> = want.iter().map(|(g, m, _)| (*g, *m)).collect();
    let mut out: Vec<NodeCommand> = want
        .iter()
        .filter(|(g, m, _)| !have.contains(&(*g, *m)))
        .map(|(_, m, p)| NodeCommand::CreateReplica {
            partition: (*p).clone(),
            member: *m,
            bootstrap: creating.contains(&p.table),
        })
        .collect();
    let mut drops: Vec<(GroupId, MemberId)> = reported
        .iter()
        .map(|r| (r.group, r.member))
        .filter(|gm| !wanted.contains(gm))
        .collect();
    drops.sort();
    drops.dedup();
    out.extend(
        drops
            .into_iter()
            .map(|(group, member)| NodeCommand::DropReplica { group, member }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::TableId;
    use wire::control::{HashRange, ReplicaDesc};
    use wire::replication::{Ballot, Role};

    fn partition(id: u64, nodes: [u64; 3]) -> PartitionDesc {
        PartitionDesc {
            id: GroupId(id),
            table: TableId(1),
            range: HashRange::FULL,
            epoch: 1,
            replicas: nodes
                .iter()
                .map(|n| ReplicaDesc {
                    node: NodeId(*n),
                    member: MemberId(id * 10 + n),
                    role: Role::Full,
                })
                .collect(),
        }
    }

    fn creating() -> HashSet<TableId> {
        HashSet::from([TableId(1)])
    }

    fn state(group: u64, member: u64, leader: bool) -> ReplicaState {
        ReplicaState {
            group: GroupId(group),
            member: MemberId(member),
            role: Role::Full,
            is_leader: leader,
            ballot: Ballot(1),
            commit_index: 0,
            applied_index: 0,
        }
    }

    #[test]
    fn commands_create_missing_and_drop_unwanted_replicas() {
        let p1 = partition(1, [1, 2, 3]);
        let p2 = partition(2, [1, 4, 5]);
        let reported = vec![state(1, 11, false), state(9, 91, true)];
        let cmds = commands_for(NodeId(1), &[&p1, &p2], &creating(), &reported);
        assert_eq!(
            cmds,
            vec![
                NodeCommand::CreateReplica {
                    partition: p2.clone(),
                    member: MemberId(21),
                    bootstrap: true,
                },
                NodeCommand::DropReplica {
                    group: GroupId(9),
                    member: MemberId(91)
                },
            ]
        );
        // A replica of a wanted group under an old member id is dropped and recreated.
        let cmds = commands_for(NodeId(1), &[&p1], &creating(), &[state(1, 7, false)]);
        assert_eq!(cmds.len(), 2);
        assert!(commands_for(NodeId(1), &[&p1], &creating(), &[state(1, 11, true)]).is_empty());
    }

    #[test]
    fn liveness_and_readiness_follow_heartbeats() {
        let cfg = LivenessConfig::default();
        let t0 = Instant::now();
        let mut reg = NodeRegistry::new(&cfg, t0);
        let p = partition(1, [1, 2, 3]);
        assert!(!reg.is_warm(t0));
        for n in 1..=3 {
            let hb = NodeHeartbeat {
                node: NodeId(n),
                replicas: vec![state(1, 10 + n, n == 2)],
            };
            assert!(reg.record(&hb, t0), "first heartbeat brings the node up");
        }
        assert!(partition_ready(&p, &reg, t0));
        assert_eq!(reg.live_nodes(t0), vec![NodeId(1), NodeId(2), NodeId(3)]);
        let later = t0 + Duration::from_millis(cfg.timeout_ms);
        assert!(reg.is_warm(later));
        assert!(reg.live_nodes(later).is_empty(), "silent nodes die");
        assert!(!partition_ready(&p, &reg, later));
        assert!(reg.group_reported(GroupId(1), t0) && !reg.group_reported(GroupId(2), t0));
        assert!(
            !reg.group_reported(GroupId(1), later),
            "dead nodes do not count"
        );
        // Without a leader the partition is not ready.
        reg.record(
            &NodeHeartbeat {
                node: NodeId(2),
                replicas: vec![state(1, 12, false)],
            },
            t0,
        );
        assert!(!partition_ready(&p, &reg, t0));
    }

    #[test]
    fn node_names_are_key_safe() {
        assert!(validate_node_name("node-a1.example", "node name").is_ok());
        for bad in ["", "a/b", "a b", &"x".repeat(254)] {
            assert!(validate_node_name(bad, "node name").is_err(), "{bad:?}");
        }
    }
}
