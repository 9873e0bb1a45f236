//! The simulated network between nodes: per-direction link blocks
//! (partition a node, an AZ, or one direction only), random loss,
//! duplication and delay (delay also reorders). Client traffic does not
//! use it: clients reach every up node (the scenario "leader isolated from
//! its followers but not from clients").

use std::collections::BTreeSet;

use crate::rng::Rng;

pub type NodeId = u64;

#[derive(Debug)]
pub struct Net {
    /// Directed links that drop everything: (from, to).
    blocked: BTreeSet<(NodeId, NodeId)>,
    pub drop_per_mille: u64,
    pub dup_per_mille: u64,
    pub delay_min_ms: u64,
    pub delay_max_ms: u64,
}

impl Default for Net {
    fn default() -> Net {
        Net {
            blocked: BTreeSet::new(),
            drop_per_mille: 0,
            dup_per_mille: 0,
            delay_min_ms: 1,
            delay_max_ms: 4,
        }
    }
}

impl Net {
    /// Delivery delays for one message from `from` to `to`: none (lost),
    /// one, or two (duplicated).
    pub fn route(&self, from: NodeId, to: NodeId, rng: &mut Rng) -> Vec<u64> {
        if self.blocked.contains(&(from, to)) || rng.below(1000) < self.drop_per_mille {
            return Vec::new();
        }
        let mut d = vec![rng.range(self.delay_min_ms, self.delay_max_ms)];
        if rng.below(1000) < self.dup_per_mille {
            d.push(rng.range(self.delay_min_ms, self.delay_max_ms * 2));
        }
        d
    }

    pub fn block(&mut self, from: NodeId, to: NodeId) {
        if from != to {
            self.blocked.insert((from, to));
        }
    }

    /// Cut `side` off from `all` in both directions.
    pub fn isolate(&mut self, side: &[NodeId], all: &[NodeId]) {
        for &a in side {
            for &b in all {
                if !side.contains(&b) {
                    self.block(a, b);
                    self.block(b, a);
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
        self.drop_per_mille = 0;
        self.dup_per_mille = 0;
        self.delay_min_ms = 1;
        self.delay_max_ms = 4;
    }

    pub fn is_partitioned(&self) -> bool {
        !self.blocked.is_empty()
    }
}
