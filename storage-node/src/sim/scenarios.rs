//! Named scenarios, readable as stories. Each runs the full world (clients,
//! checkers) without random faults and applies one scripted fault; the
//! end-of-run checkers (agreement, durability, lease safety,
//! linearizability, liveness after healing) must all pass, plus what the
//! story itself promises.

use wire::replication::{GroupId, Role};

use super::world::World;
use super::{SimConfig, net::NodeId};

const G: GroupId = GroupId(0);

fn quiet(seed: u64) -> SimConfig {
    SimConfig {
        faults: false,
        membership_changes: false,
        transfers: false,
        bit_flips: false,
        chaos_ms: 6_000,
        heal_ms: 4_000,
        ..SimConfig::new(seed)
    }
}

fn finish_clean(w: &mut World) {
    let end = w.cfg.chaos_ms + w.cfg.heal_ms;
    w.run_until(end);
    let v = w.finish();
    assert!(v.is_empty(), "violations:\n{}", v.join("\n"));
    assert!(
        w.clients.ops_ok > 100,
        "too little work got done: {}",
        w.clients.ops_ok
    );
}

fn leader(w: &World) -> NodeId {
    w.leader_node(G).expect("group 0 has a leader")
}

fn ballot_of(w: &World, n: NodeId) -> u64 {
    w.nodes[&n].hosts[&G].replica.status().ballot.0
}

/// A node hosting a member of group 0 other than `leader`'s.
fn a_follower(w: &World, leader: NodeId) -> NodeId {
    w.group_members(G)
        .into_iter()
        .map(|(_, n)| n)
        .find(|&n| n != leader)
        .expect("a follower")
}

fn all_nodes(w: &World) -> Vec<NodeId> {
    w.nodes.keys().copied().collect()
}

/// The leader crashes while it has proposals in flight; a new leader takes
/// over, nothing acknowledged is lost, and the old leader rejoins.
#[test]
fn leader_crash_mid_batch() {
    let mut w = World::new(quiet(11));
    w.run_until(1_500);
    let old = leader(&w);
    let ballot = ballot_of(&w, old);
    // Wait for a moment when the leader has entries not yet committed.
    let mut t = 1_500;
    while {
        let s = w.nodes[&old].hosts[&G].replica.status();
        s.last_index == s.commit
    } {
        t += 1;
        w.run_until(t);
        assert!(t < 3_000, "the leader never had an uncommitted entry");
    }
    w.crash_node(old);
    w.run_until(t + 1_000);
    let new = leader(&w);
    assert_ne!(new, old);
    assert!(ballot_of(&w, new) > ballot);
    w.start_node(old);
    finish_clean(&mut w);
}

/// A follower crashes, losing the tail it had not synced; it recovers a
/// prefix of its log and catches up.
#[test]
fn follower_loses_unsynced_tail() {
    let mut w = World::new(quiet(12));
    w.run_until(1_500);
    let l = leader(&w);
    let f = a_follower(&w, l);
    w.crash_node(f);
    w.run_until(1_600);
    w.start_node(f);
    finish_clean(&mut w);
    let leader_commit = w.nodes[&leader(&w)].hosts[&G].replica.status().commit;
    let s = w.nodes[&f].hosts[&G].replica.status();
    assert!(
        s.commit + 50 >= leader_commit,
        "{s:?} vs leader commit {leader_commit}"
    );
}

/// The leader is cut off from its followers but not from clients: it must
/// stop serving consistent reads once its lease ends, and the others elect
/// a new leader.
#[test]
fn leader_isolated_from_followers_keeps_no_lease() {
    let mut w = World::new(quiet(13));
    w.run_until(1_500);
    let old = leader(&w);
    assert!(w.nodes[&old].hosts[&G].replica.holds_lease());
    let nodes = all_nodes(&w);
    w.net.isolate(&[old], &nodes);
    // Lease: lease_ticks from the last acknowledged heartbeat.
    let lease_ms = u64::from(w.cfg.settings.lease_ticks) * w.cfg.tick_ms;
    w.run_until(1_500 + lease_ms + 2 * w.cfg.tick_ms);
    let r = &w.nodes[&old].hosts[&G].replica;
    assert!(!r.holds_lease(), "an isolated leader still holds its lease");
    w.run_until(3_000);
    let new = leader(&w);
    assert_ne!(new, old, "the majority side elected a new leader");
    finish_clean(&mut w);
}

/// A full member is replaced by a log replica; then the leader crashes.
/// The remaining full member must lead with the log replica's vote, and no
/// acknowledged write is lost.
#[test]
fn log_replica_replacement_then_leader_crash() {
    let mut w = World::new(quiet(14));
    w.run_until(1_000);
    let l = leader(&w);
    let lid = w.nodes[&l].hosts[&G].replica.id();
    let victim = w
        .group_members(G)
        .into_iter()
        .find(|(m, _)| *m != lid)
        .expect("a follower")
        .0;
    assert!(w.start_replacement(G, victim));
    // Until the victim is removed: {leader, other Full, Log member}.
    let mut t = 1_000;
    while w.control.plans.first().is_some_and(|p| p.step < 2) {
        t += 10;
        w.run_until(t);
        assert!(t < 5_000, "replacement stuck: {:?}", w.control.plans);
    }
    let m = w.nodes[&l].hosts[&G].replica.membership().clone();
    assert_eq!(m.voter_count(), 3);
    assert_eq!(
        m.members().iter().filter(|x| x.role == Role::Log).count(),
        1
    );
    // The plan would now add a learner; stop it there and crash the leader.
    w.control.plans.clear();
    w.crash_node(l);
    w.run_until(t + 1_500);
    let new = leader(&w);
    assert_ne!(new, l);
    let r = &w.nodes[&new].hosts[&G].replica;
    assert_eq!(r.membership().role(r.id()), Some(Role::Full));
    // The leader stays down until the heal at the end of the chaos phase.
    finish_clean(&mut w);
}

/// A whole AZ is isolated for a while, then healed: groups led from it move
/// away, every group keeps serving, and all converge after the heal.
#[test]
fn az_isolated_then_healed() {
    let mut w = World::new(quiet(15));
    w.run_until(1_000);
    let nodes = all_nodes(&w);
    let az = w.nodes[&leader(&w)].az;
    let side: Vec<NodeId> = nodes
        .iter()
        .copied()
        .filter(|n| w.nodes[n].az == az)
        .collect();
    w.net.isolate(&side, &nodes);
    w.run_until(3_500);
    let new = leader(&w);
    assert_ne!(
        w.nodes[&new].az, az,
        "leadership moved out of the isolated AZ"
    );
    w.net.heal();
    finish_clean(&mut w);
}

/// A member down for long comes back after the others compacted their
/// logs past its position: it catches up from a snapshot.
#[test]
fn long_down_member_catches_up_by_snapshot() {
    let mut w = World::new(quiet(16));
    w.run_until(1_000);
    let l = leader(&w);
    let f = a_follower(&w, l);
    w.crash_node(f);
    w.run_until(4_000);
    let s = w.nodes[&leader(&w)].hosts[&G].replica.status();
    assert!(s.snapshot_index > 0, "the leader never compacted: {s:?}");
    let before = w.snapshots_sent;
    w.start_node(f);
    w.run_until(5_000);
    assert!(
        w.snapshots_sent > before,
        "no snapshot was sent to the returning member ({before} before): {:?}",
        w.nodes[&f].hosts[&G].replica.status()
    );
    let lc = w.nodes[&leader(&w)].hosts[&G].replica.status().commit;
    let s = w.nodes[&f].hosts[&G].replica.status();
    assert!(s.applied + 50 >= lc, "{s:?} vs leader commit {lc}");
    finish_clean(&mut w);
}

/// What the core refuses, with typed errors: proposals on a follower (with
/// a leader hint), a second membership step before the first committed, a
/// transfer to itself or to a non-member, reads on a follower, and
/// inconsistent settings.
#[test]
fn refusals_are_typed() {
    use crate::replication::{ProposeError, ReadError, ReadResult, Settings, SettingsError};
    use wire::replication::{ConfChange, MemberId};

    let mut w = World::new(quiet(17));
    w.run_until(1_000);
    let l = leader(&w);
    let lid = w.nodes[&l].hosts[&G].replica.id();
    let f = a_follower(&w, l);
    let follower = &mut w
        .nodes
        .get_mut(&f)
        .expect("node")
        .hosts
        .get_mut(&G)
        .expect("host")
        .replica;
    assert_eq!(
        follower.propose(vec![1]),
        Err(ProposeError::NotLeader { leader: Some(lid) })
    );
    follower.read(7);
    let reads = follower.take_ready().reads;
    assert_eq!(
        reads,
        vec![ReadResult::Failed {
            id: 7,
            error: ReadError::NotLeader { leader: Some(lid) }
        }]
    );
    let leader_r = &mut w
        .nodes
        .get_mut(&l)
        .expect("node")
        .hosts
        .get_mut(&G)
        .expect("host")
        .replica;
    assert_eq!(
        leader_r.transfer_leader(lid),
        Err(ProposeError::NotEligible(lid))
    );
    assert_eq!(
        leader_r.transfer_leader(MemberId(999_999)),
        Err(ProposeError::NotEligible(MemberId(999_999)))
    );
    let add = |id| ConfChange::Add {
        id: MemberId(id),
        role: wire::replication::Role::Learner,
    };
    assert!(leader_r.propose_conf(add(999_001)).is_ok());
    assert_eq!(
        leader_r.propose_conf(add(999_002)),
        Err(ProposeError::ConfChangePending)
    );
    assert!(matches!(
        leader_r.propose_conf(ConfChange::Remove { id: MemberId(5) }),
        Err(ProposeError::ConfChangePending | ProposeError::Membership(_))
    ));
    let bad = Settings {
        lease_ticks: 9,
        ..Settings::default()
    };
    assert_eq!(
        bad.validate(),
        Err(SettingsError::Lease {
            lease: 9,
            election: 10
        })
    );
    let bad = Settings {
        heartbeat_ticks: 10,
        ..Settings::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SettingsError::Heartbeat { .. })
    ));
}
