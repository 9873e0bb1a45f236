//! The simulated operator: membership replacement plans and leader
//! transfers, driven through the leaders' public API exactly as the
//! control plane will (retrying on refusals, checking what committed).
//!
//! A replacement of member V (node N in AZ a) by way of a log replica:
//! 1. add a `Log` member on the spare node S of AZ a;
//! 2. remove V (its replica and store are then destroyed);
//! 3. add a `Learner` on N (a fresh member id: ids are per incarnation);
//! 4. promote it to `Full` once it has caught up;
//! 5. remove the `Log` member.
//!
//! A step counts as done when the leader's membership shows it and the
//! entry that made it committed; a proposal whose entry was replaced is
//! simply proposed again.

use wire::replication::{ConfChange, GroupId, LogIndex, MemberId, Role};

use super::host::Host;
use super::kv::Kv;
use super::net::NodeId;
use super::store::SimStore;
use super::world::{Ev, World};
use crate::replication::{Persisted, Replica};

const CONTROL_MS: u64 = 30;

#[derive(Clone, Debug)]
pub struct Plan {
    pub group: GroupId,
    pub victim: MemberId,
    pub victim_node: NodeId,
    pub spare_node: NodeId,
    pub log_member: Option<MemberId>,
    pub new_member: Option<MemberId>,
    pub step: u8,
    pub started: u64,
}

#[derive(Default)]
pub struct Control {
    pub plans: Vec<Plan>,
    pub completed: u64,
    pub transfers: u64,
}

impl World {
    /// Start replacing `victim` of `group` (if no plan runs for it).
    pub fn start_replacement(&mut self, group: GroupId, victim: MemberId) -> bool {
        if self.control.plans.iter().any(|p| p.group == group) {
            return false;
        }
        let Some(&victim_node) = self.directory.get(&(group, victim)) else {
            return false;
        };
        let az = self.nodes[&victim_node].az;
        let used: Vec<NodeId> = self.group_members(group).iter().map(|m| m.1).collect();
        let Some(spare) = self
            .nodes
            .iter()
            .find(|(n, node)| node.az == az && !used.contains(n))
            .map(|(&n, _)| n)
        else {
            return false;
        };
        self.control.plans.push(Plan {
            group,
            victim,
            victim_node,
            spare_node: spare,
            log_member: None,
            new_member: None,
            step: 0,
            started: self.now,
        });
        true
    }

    pub(super) fn control_step(&mut self) {
        let plans = std::mem::take(&mut self.control.plans);
        let mut keep = Vec::new();
        for mut p in plans {
            self.advance(&mut p);
            if p.step < 5 {
                keep.push(p);
            } else {
                self.control.completed += 1;
            }
        }
        self.control.plans.extend(keep);
        self.maybe_split();
        self.adopt_split_orphans();
        self.schedule(CONTROL_MS, Ev::Control);
    }

    /// Create a joining replica of `group` on `node`.
    fn create_member(
        &mut self,
        group: GroupId,
        node: NodeId,
        role: Role,
        base: &wire::replication::Membership,
    ) -> MemberId {
        let id = self.new_member_id(node, group);
        let membership = base
            .apply(&ConfChange::Add { id, role })
            .expect("a fresh id is not a member");
        let store = SimStore::joining(membership.clone());
        let settings = self.cfg.settings.clone();
        let seed = self.rng.next_u64();
        let n = self.nodes.get_mut(&node).expect("node");
        n.stores.insert(group, (id, store));
        if n.up {
            let replica = Replica::new(id, group, settings, seed, Persisted::joining(membership))
                .expect("valid settings");
            n.hosts.insert(group, Host::new(replica, Kv::new(0, 0)));
        }
        id
    }

    fn destroy_member(&mut self, group: GroupId, member: MemberId) {
        if let Some(node) = self.directory.remove(&(group, member)) {
            let n = self.nodes.get_mut(&node).expect("node");
            if n.stores.get(&group).is_some_and(|(m, _)| *m == member) {
                n.stores.remove(&group);
                n.hosts.remove(&group);
            }
        }
    }

    /// The leader's view: (node, membership, commit, index of last conf).
    fn leader_view(
        &self,
        group: GroupId,
    ) -> Option<(NodeId, wire::replication::Membership, LogIndex)> {
        let n = self.leader_node(group)?;
        let h = self.nodes[&n].hosts.get(&group)?;
        Some((
            n,
            h.replica().membership().clone(),
            h.replica().status().commit,
        ))
    }

    fn advance(&mut self, p: &mut Plan) {
        let Some((leader, membership, commit)) = self.leader_view(p.group) else {
            return;
        };
        // Is the last membership change committed on the leader?
        let conf_committed = {
            let h = &self.nodes[&leader].hosts[&p.group];
            let r = h.replica();
            r.membership_at(commit) == membership
        };
        let change = match p.step {
            0 => match p.log_member {
                Some(l) if membership.role(l) == Some(Role::Log) => {
                    if conf_committed {
                        p.step = 1;
                    }
                    return;
                }
                Some(_) => ConfChange::Add {
                    id: p.log_member.expect("set"),
                    role: Role::Log,
                },
                None => {
                    let id = self.create_member(p.group, p.spare_node, Role::Log, &membership);
                    p.log_member = Some(id);
                    ConfChange::Add {
                        id,
                        role: Role::Log,
                    }
                }
            },
            1 => {
                if membership.role(p.victim).is_none() {
                    if conf_committed {
                        self.destroy_member(p.group, p.victim);
                        p.step = 2;
                    }
                    return;
                }
                ConfChange::Remove { id: p.victim }
            }
            2 => match p.new_member {
                Some(m) if membership.role(m).is_some() => {
                    if conf_committed {
                        p.step = 3;
                    }
                    return;
                }
                Some(m) => ConfChange::Add {
                    id: m,
                    role: Role::Learner,
                },
                None => {
                    let id = self.create_member(p.group, p.victim_node, Role::Learner, &membership);
                    p.new_member = Some(id);
                    ConfChange::Add {
                        id,
                        role: Role::Learner,
                    }
                }
            },
            3 => {
                let m = p.new_member.expect("added in step 2");
                if membership.role(m) == Some(Role::Full) {
                    if conf_committed {
                        p.step = 4;
                    }
                    return;
                }
                ConfChange::Promote { id: m }
            }
            _ => {
                let l = p.log_member.expect("added in step 0");
                if membership.role(l).is_none() {
                    if conf_committed {
                        self.destroy_member(p.group, l);
                        p.step = 5;
                    }
                    return;
                }
                ConfChange::Remove { id: l }
            }
        };
        if !conf_committed {
            return;
        }
        let group = p.group;
        self.with_host(leader, group, |h, _, _| {
            // Refusals (not ready, pending change, not caught up) are
            // retried at the next control step.
            let _ = h.replica_mut().propose_conf(change);
        });
    }

    /// Ask `group`'s leader to hand over to a random other Full member.
    pub fn transfer_random(&mut self, group: GroupId) -> bool {
        let Some(n) = self.leader_node(group) else {
            return false;
        };
        let me = self.nodes[&n].hosts[&group].replica().id();
        let candidates: Vec<MemberId> = self.nodes[&n].hosts[&group]
            .replica()
            .membership()
            .members()
            .iter()
            .filter(|m| m.role == Role::Full && m.id != me)
            .map(|m| m.id)
            .collect();
        if candidates.is_empty() {
            return false;
        }
        let to = candidates[self.rng.below(candidates.len() as u64) as usize];
        self.control.transfers += 1;
        self.with_host(n, group, |h, _, _| {
            let _ = h.replica_mut().transfer_leader(to);
        });
        true
    }
}
