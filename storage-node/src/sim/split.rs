//! Splits in the simulated world: the operator proposes them, each member
//! that applies a split entry starts the new group on its node, and the
//! world keeps the lineage and the routing map as the control plane would.
//!
//! - Proposal (`maybe_split`, from the control loop during the chaos): a
//!   random group with a leader whose range holds at least two client keys
//!   is split at a key inside it, under the leader's typed refusals
//!   (`NotSettled` while a replacement runs, `NotReady`, ...).
//! - Application (`start_child`): the member's group core
//!   (`driver/core.rs`) computed the child's starting point and the sim's
//!   state machine (`host.rs`) divided its `Kv`;
//!   here the child gets its own store (made durable at once: the real
//!   engine splits a range as metadata in the same checkpoint) and its
//!   replica. A member that replays the split after a restart finds the
//!   child already there and leaves it alone. The first member to apply a
//!   split records it: the lineage, the child's member directory (the same
//!   ids on the same nodes) and its route.
//! - Catch-up past a split (`children_missed`): a member that installed a
//!   snapshot of the parent taken after the split never applies the split
//!   entry; the world (the control plane) creates its child as a joining
//!   member, and the child's leader sends it a snapshot. So does a member
//!   whose node will never apply the split because its member of the
//!   parent was replaced first (`adopt_split_orphans`).

use wire::replication::{GroupId, LogIndex, Membership, SplitSpec};

use super::host::Host;
use super::kv::{Child, Kv};
use super::net::NodeId;
use super::store::SimStore;
use super::world::World;
use crate::replication::{Persisted, Replica};

/// One split the world has seen applied.
#[derive(Clone, Debug)]
pub struct SplitRecord {
    pub parent: GroupId,
    pub child: GroupId,
    pub index: LogIndex,
    pub membership: Membership,
    pub at_ms: u64,
}

/// Do not propose another split of a group this soon after the last.
const SPLIT_GAP_MS: u64 = 1_000;

impl World {
    /// A random group (initial or born from a split).
    pub(super) fn random_group(&mut self) -> GroupId {
        let i = self.rng.below(self.groups.len() as u64) as usize;
        *self.groups.iter().nth(i).expect("in range")
    }

    /// Maybe propose one split (called by the control loop).
    pub(super) fn maybe_split(&mut self) {
        if self.healed || self.splits_proposed >= self.cfg.splits_max || !self.rng.chance(1, 30) {
            return;
        }
        let group = self.random_group();
        if self
            .last_split_proposal
            .get(&group)
            .is_some_and(|&t| self.now < t + SPLIT_GAP_MS)
        {
            return;
        }
        let Some(n) = self.leader_node(group) else {
            return;
        };
        let (lo, hi) = self.nodes[&n].hosts[&group].kv().range();
        // Client keys are `1000 g + 0..keys_per_group`.
        let keys: Vec<u64> = (lo..hi)
            .filter(|k| k % 1000 < self.cfg.keys_per_group)
            .collect();
        if keys.len() < 2 {
            return;
        }
        let at = keys[1 + self.rng.below(keys.len() as u64 - 1) as usize];
        let spec = SplitSpec {
            new_group: GroupId(self.next_group),
            key: at.to_le_bytes().to_vec(),
        };
        let mut accepted = false;
        self.with_host(n, group, |h, _, _| {
            accepted = h.replica_mut().propose_split(spec).is_ok();
        });
        if accepted {
            self.next_group += 1;
            self.splits_proposed += 1;
            self.last_split_proposal.insert(group, self.now);
        }
    }

    /// Member on node `n` applied a split of `parent`: start the child.
    pub(super) fn start_child(&mut self, n: NodeId, parent: GroupId, child: Child) {
        if !self.groups.contains(&child.group) {
            self.record_split(parent, &child);
        }
        let Some(member) = self.nodes[&n].stores.get(&parent).map(|(m, _)| *m) else {
            return;
        };
        if self.nodes[&n].stores.contains_key(&child.group)
            || !self.directory.contains_key(&(child.group, member))
        {
            return; // replayed after a restart, or removed from the child
        }
        let store = SimStore::split_child(&child.persisted, child.kv.encode());
        self.add_member(n, child.group, member, store, child.persisted, child.kv);
        if child.lead {
            self.with_host(n, child.group, |h, _, _| h.replica_mut().start_election());
        }
    }

    fn record_split(&mut self, parent: GroupId, child: &Child) {
        let membership = child.persisted.snapshot.membership.clone();
        for m in membership.members() {
            if let Some(&node) = self.directory.get(&(parent, m.id)) {
                self.directory.insert((child.group, m.id), node);
            }
        }
        let (lo, hi) = child.kv.range();
        if lo < hi {
            self.routes.insert(lo, child.group);
        }
        self.groups.insert(child.group);
        self.splits.push(SplitRecord {
            parent,
            child: child.group,
            index: child.persisted.snapshot.index,
            membership,
            at_ms: self.now,
        });
    }

    /// A member of `parent` on node `n` installed a snapshot through
    /// `index`: create, as joining members, the children of the splits it
    /// skipped.
    pub(super) fn children_missed(&mut self, n: NodeId, parent: GroupId, index: LogIndex) {
        let Some(member) = self.nodes[&n].stores.get(&parent).map(|(m, _)| *m) else {
            return;
        };
        let missed: Vec<SplitRecord> = self
            .splits
            .iter()
            .filter(|r| r.parent == parent && r.index <= index)
            .filter(|r| r.membership.role(member).is_some())
            .cloned()
            .collect();
        for r in missed {
            if self.nodes[&n].stores.contains_key(&r.child)
                || self.directory.get(&(r.child, member)) != Some(&n)
            {
                continue;
            }
            self.children_rejoined += 1;
            let store = SimStore::joining(r.membership.clone());
            let p = Persisted::joining(r.membership.clone());
            self.add_member(n, r.child, member, store, p, Kv::new(0, 0));
        }
    }

    /// Members of split-born groups whose node will never apply the split
    /// (its member of the parent was replaced meanwhile) are created as
    /// joining members, as the control plane would when it finds a replica
    /// missing. They never existed, so they promised nothing: starting
    /// them empty is safe.
    pub(super) fn adopt_split_orphans(&mut self) {
        let mut orphans = Vec::new();
        for r in &self.splits {
            for m in r.membership.members() {
                let Some(&n) = self.directory.get(&(r.child, m.id)) else {
                    continue;
                };
                let node = &self.nodes[&n];
                let will_apply = node.stores.get(&r.parent).is_some_and(|(p, _)| *p == m.id);
                if !node.stores.contains_key(&r.child) && !will_apply {
                    orphans.push((n, r.child, m.id, r.membership.clone()));
                }
            }
        }
        for (n, child, member, membership) in orphans {
            self.children_rejoined += 1;
            let store = SimStore::joining(membership.clone());
            let p = Persisted::joining(membership);
            self.add_member(n, child, member, store, p, Kv::new(0, 0));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_member(
        &mut self,
        n: NodeId,
        group: GroupId,
        member: wire::replication::MemberId,
        store: SimStore,
        p: Persisted,
        kv: Kv,
    ) {
        let settings = self.cfg.settings.clone();
        let seed = self.rng.next_u64();
        let node = self.nodes.get_mut(&n).expect("node");
        node.stores.insert(group, (member, store));
        if node.up {
            let replica =
                Replica::new(member, group, settings, seed ^ member.0, p).expect("valid settings");
            node.hosts.insert(group, Host::new(replica, kv));
        }
    }
}
