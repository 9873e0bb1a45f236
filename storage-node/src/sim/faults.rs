//! The fault injector: while the chaos phase lasts, every few hundred
//! simulated milliseconds it picks one fault: crash a node (it restarts
//! later, losing unsynced writes), isolate a node (sometimes with every
//! failure detector noticing at once) or a whole AZ, cut one
//! direction of a link, make the network lossy, duplicating and slow, flip
//! a bit in a durable record, hand leadership over, start a membership
//! replacement, or heal the network.
//!
//! Bit flips are limited so that every group keeps a quorum of intact
//! disks: a flip goes only to a group none of whose stores is already
//! damaged. (Durability is promised for crash patterns that leave a
//! quorum's disks; two damaged members of three are outside it.)

use super::net::NodeId;
use super::world::{Ev, World};

impl World {
    pub(super) fn inject_fault(&mut self) {
        if self.healed {
            return;
        }
        let next = self.rng.range(100, 600);
        self.schedule(next, Ev::Fault);
        let nodes: Vec<NodeId> = self.nodes.keys().copied().collect();
        let roll = self.rng.below(100);
        self.faults_injected += 1;
        match roll {
            0..20 => {
                let up: Vec<NodeId> = nodes.iter().copied().filter(|n| self.nodes[n].up).collect();
                let down = nodes.len() - up.len();
                if down >= 2 || up.is_empty() {
                    return;
                }
                let n = up[self.rng.below(up.len() as u64) as usize];
                self.crash_node(n);
                let back = self.rng.range(20, 2_000);
                self.schedule(back, Ev::Restart(n));
            }
            20..35 => {
                let n = nodes[self.rng.below(nodes.len() as u64) as usize];
                self.net.isolate(&[n], &nodes);
                if self.rng.chance(1, 2) {
                    self.detect_at_once(n);
                }
            }
            35..45 => {
                let az = self.rng.below(3);
                let side: Vec<NodeId> = nodes
                    .iter()
                    .copied()
                    .filter(|n| self.nodes[n].az == az)
                    .collect();
                self.net.isolate(&side, &nodes);
            }
            45..55 => {
                let a = nodes[self.rng.below(nodes.len() as u64) as usize];
                let b = nodes[self.rng.below(nodes.len() as u64) as usize];
                self.net.block(a, b);
            }
            55..70 => self.net.heal(),
            70..80 => {
                self.net.drop_per_mille = self.rng.range(0, 200);
                self.net.dup_per_mille = self.rng.range(0, 50);
                self.net.delay_max_ms = self.rng.range(2, 60);
            }
            80..85 if self.cfg.bit_flips => self.flip_a_bit(),
            85..95 if self.cfg.transfers => {
                let g = self.random_group();
                self.transfer_random(g);
            }
            95..100 if self.cfg.membership_changes => {
                let g = self.random_group();
                let members = self.group_members(g);
                if !members.is_empty() {
                    let victim = members[self.rng.below(members.len() as u64) as usize].0;
                    self.start_replacement(g, victim);
                }
            }
            _ => self.faults_injected -= 1,
        }
    }

    /// The failure detectors of every other node report `n` down at once
    /// (instead of after `DETECT_MS`): followers of leaders on `n` may
    /// campaign right away. The leaders there may still hold their leases,
    /// which their successors must wait out.
    fn detect_at_once(&mut self, n: NodeId) {
        let on_n: Vec<(wire::replication::GroupId, wire::replication::MemberId)> = self.nodes[&n]
            .hosts
            .iter()
            .map(|(&g, h)| (g, h.replica().id()))
            .collect();
        for (g, m) in on_n {
            for (_, other) in self.group_members(g) {
                if other != n {
                    self.with_host(other, g, |h, _, _| h.replica_mut().peer_unreachable(m));
                }
            }
        }
    }

    fn flip_a_bit(&mut self) {
        let g = self.random_group();
        let members = self.group_members(g);
        let damaged = members.iter().any(|&(m, n)| {
            let node = &self.nodes[&n];
            node.stores
                .get(&g)
                .is_some_and(|(id, s)| *id == m && s.has_damage())
                || node
                    .hosts
                    .get(&g)
                    .is_some_and(|h| h.replica().status().damaged)
        });
        if damaged || members.is_empty() {
            return;
        }
        let (_, n) = members[self.rng.below(members.len() as u64) as usize];
        let node = self.nodes.get_mut(&n).expect("node");
        if let Some((_, s)) = node.stores.get_mut(&g) {
            s.flip(&mut self.rng);
        }
    }
}
