//! Seeded randomized checks of placement's invariants (replay with `CAIRN_SEED=<n>`).

use std::collections::{BTreeMap, BTreeSet};

use storage_node::rng::{Rng, for_each_seed};
use wire::control::NodeId;

use super::*;

fn cluster(rng: &mut Rng) -> Vec<Candidate> {
    let zones = rng.range(1, 5);
    let mut nodes = Vec::new();
    let mut id = 1;
    for z in 0..zones {
        for _ in 0..rng.range(1, 4) {
            nodes.push(Candidate {
                node: NodeId(id),
                az: format!("az{z}"),
                replicas: 0,
                leaders: 0,
            });
            id += 1;
        }
    }
    nodes
}

#[test]
fn placements_use_three_zones_and_stay_balanced_within_each_zone() {
    for_each_seed("placements_use_three_zones", 200, |seed| {
        let mut rng = Rng::new(seed);
        let nodes = cluster(&mut rng);
        let zones: BTreeSet<&str> = nodes.iter().map(|n| n.az.as_str()).collect();
        let count = rng.range(1, 40) as usize;
        let placed = match place(&nodes, count) {
            Ok(p) => p,
            Err(PlacementError::TooFewZones { zones: z }) => {
                assert!(zones.len() < 3, "refused with zones {z:?}");
                assert_eq!(z.len(), zones.len());
                return;
            }
        };
        assert!(zones.len() >= 3);
        assert_eq!(placed.len(), count);
        let az_of: BTreeMap<NodeId, &str> = nodes.iter().map(|n| (n.node, n.az.as_str())).collect();
        let mut load: BTreeMap<NodeId, u32> = nodes.iter().map(|n| (n.node, 0)).collect();
        let mut leaders: BTreeMap<NodeId, u32> = nodes.iter().map(|n| (n.node, 0)).collect();
        for p in &placed {
            let azs: BTreeSet<&str> = p.iter().map(|n| az_of[n]).collect();
            assert_eq!(azs.len(), 3, "replicas share a zone: {p:?}");
            *leaders.get_mut(&p[0]).unwrap() += 1;
            for n in p {
                *load.get_mut(n).unwrap() += 1;
            }
        }
        for z in &zones {
            let in_zone: Vec<u32> = nodes
                .iter()
                .filter(|n| n.az == *z)
                .map(|n| load[&n.node])
                .collect();
            let (lo, hi) = (in_zone.iter().min().unwrap(), in_zone.iter().max().unwrap());
            assert!(hi - lo <= 1, "zone {z} unbalanced: {in_zone:?}");
        }
        // With exactly three zones of equal size, the whole cluster is balanced too.
        let sizes: BTreeSet<usize> = zones
            .iter()
            .map(|z| nodes.iter().filter(|n| n.az == *z).count())
            .collect();
        if zones.len() == 3 && sizes.len() == 1 {
            let (lo, hi) = (load.values().min().unwrap(), load.values().max().unwrap());
            assert!(hi - lo <= 1, "cluster unbalanced: {load:?}");
            let (lo, hi) = (
                leaders.values().min().unwrap(),
                leaders.values().max().unwrap(),
            );
            assert!(hi - lo <= 1, "leaders unbalanced: {leaders:?}");
        }
        // Deterministic and independent of input order.
        let mut shuffled = nodes.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        assert_eq!(place(&shuffled, count).unwrap(), placed);
    });
}

#[test]
fn existing_load_is_filled_first() {
    let mut nodes: Vec<Candidate> = (1..=6)
        .map(|i| Candidate {
            node: NodeId(i),
            az: format!("az{}", i % 3),
            replicas: 0,
            leaders: 0,
        })
        .collect();
    nodes[0].replicas = 5; // node 1 (az1) is busy: node 4 (az1) takes az1's replica
    let p = place(&nodes, 1).unwrap();
    let set: BTreeSet<u64> = p[0].iter().map(|n| n.0).collect();
    assert_eq!(set, BTreeSet::from([2, 3, 4]));
}

#[test]
fn two_zones_are_refused_with_a_clear_message() {
    let nodes: Vec<Candidate> = (1..=4)
        .map(|i| Candidate {
            node: NodeId(i),
            az: format!("az{}", i % 2),
            replicas: 0,
            leaders: 0,
        })
        .collect();
    let err = place(&nodes, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot place replicas: live nodes are in 2 availability zone(s) [\"az0\", \"az1\"], \
         but every partition needs 3 distinct zones"
    );
}
