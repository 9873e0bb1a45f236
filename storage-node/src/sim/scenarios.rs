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
        splits_max: 0,
        clock_drift_pct: 0,
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
    w.nodes[&n].hosts[&G].replica().status().ballot.0
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
        let s = w.nodes[&old].hosts[&G].replica().status();
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
    let leader_commit = w.nodes[&leader(&w)].hosts[&G].replica().status().commit;
    let s = w.nodes[&f].hosts[&G].replica().status();
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
    assert!(w.nodes[&old].hosts[&G].replica().holds_lease());
    let nodes = all_nodes(&w);
    w.net.isolate(&[old], &nodes);
    // Lease: lease_ticks from the last acknowledged heartbeat.
    let lease_ms = u64::from(w.cfg.settings.lease_ticks) * w.cfg.tick_ms;
    w.run_until(1_500 + lease_ms + 2 * w.cfg.tick_ms);
    let r = w.nodes[&old].hosts[&G].replica();
    assert!(!r.holds_lease(), "an isolated leader still holds its lease");
    w.run_until(3_000);
    let new = leader(&w);
    assert_ne!(new, old, "the majority side elected a new leader");
    finish_clean(&mut w);
}

/// The followers' failure detectors wrongly report a healthy leader down
/// (it is only cut off from them, and still serving its clients), and the
/// clocks drift: the old leader's runs 30% slow, the followers' 30% fast,
/// so the lease it counts in its own ticks outlasts, in real time, the
/// promise the followers count in theirs. They elect a new leader as soon
/// as that promise ends, without an election timeout; the new leader must
/// not serve under a lease until the old leader's lease has ended (the
/// wait-out covers the drift), and the old leader stops serving when its
/// lease ends. The lease checker also watches every event.
#[test]
fn false_failure_report_new_leader_waits_out_the_old_lease() {
    let mut w = World::new(quiet(19));
    w.run_until(1_500);
    let old = leader(&w);
    assert!(w.nodes[&old].hosts[&G].replica().holds_lease());
    let old_id = w.nodes[&old].hosts[&G].replica().id();
    let nodes = all_nodes(&w);
    for n in &nodes {
        let tick = w.cfg.tick_ms;
        w.nodes.get_mut(n).expect("node").tick_ms = if *n == old {
            tick * 13 / 10
        } else {
            tick * 7 / 10
        };
    }
    w.net.isolate(&[old], &nodes);
    for (_, n) in w.group_members(G) {
        if n != old {
            w.with_host(n, G, |h, _, _| h.replica_mut().peer_unreachable(old_id));
        }
    }
    let t0 = w.now;
    let lease_ms = u64::from(w.cfg.settings.lease_ticks) * w.cfg.tick_ms;
    let (mut elected, mut new_lease, mut old_lease_end) = (None, None, None);
    for t in t0 + 1..t0 + 4 * lease_ms {
        w.run_until(t);
        let new = leader(&w);
        if new != old && elected.is_none() {
            elected = Some(t);
        }
        if old_lease_end.is_none() && !w.nodes[&old].hosts[&G].replica().holds_lease() {
            old_lease_end = Some(t);
        }
        if new != old && new_lease.is_none() && w.nodes[&new].hosts[&G].replica().holds_lease() {
            new_lease = Some(t);
        }
    }
    let elected = elected.expect("a new leader");
    assert!(
        elected < t0 + 2 * lease_ms,
        "the alarm should elect once the old lease is over, not after an election timeout: {elected} (from {t0})"
    );
    let (new_lease, old_lease_end) = (
        new_lease.expect("the new leader gets its lease"),
        old_lease_end.expect("the old lease ends"),
    );
    assert!(
        new_lease > old_lease_end,
        "new lease from {new_lease}, old lease until {old_lease_end}"
    );
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
    let lid = w.nodes[&l].hosts[&G].replica().id();
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
    let m = w.nodes[&l].hosts[&G].replica().membership().clone();
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
    let r = w.nodes[&new].hosts[&G].replica();
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
    let s = w.nodes[&leader(&w)].hosts[&G].replica().status();
    assert!(s.snapshot_index > 0, "the leader never compacted: {s:?}");
    let before = w.snapshots_sent;
    w.start_node(f);
    w.run_until(5_000);
    assert!(
        w.snapshots_sent > before,
        "no snapshot was sent to the returning member ({before} before): {:?}",
        w.nodes[&f].hosts[&G].replica().status()
    );
    let lc = w.nodes[&leader(&w)].hosts[&G].replica().status().commit;
    let s = w.nodes[&f].hosts[&G].replica().status();
    assert!(s.applied + 50 >= lc, "{s:?} vs leader commit {lc}");
    finish_clean(&mut w);
}

/// A group splits under load while one member is down. The member that
/// led the parent starts the child's first election at once, so the new
/// half takes writes within a few round trips; both halves serve exactly
/// their keys (clients re-route on `WrongGroup`; the per-key histories stay
/// linearizable across the move). The member that was down catches up on
/// the parent from a snapshot taken after the split, so it never applies
/// the split entry: it joins the child afterwards and the child's leader
/// brings it up to date by snapshot.
#[test]
fn split_under_load_with_a_member_down() {
    use wire::replication::SplitSpec;

    let mut w = World::new(quiet(18));
    w.run_until(1_000);
    let l = leader(&w);
    let f = a_follower(&w, l);
    w.crash_node(f);
    w.run_until(1_200);
    let child = GroupId(w.cfg.groups);
    let l = leader(&w);
    let mut proposed = None;
    w.with_host(l, G, |h, _, _| {
        proposed = Some(h.replica_mut().propose_split(SplitSpec {
            new_group: child,
            key: 1u64.to_le_bytes().to_vec(),
        }));
    });
    let (index, _) = proposed.expect("ran").expect("a settled group splits");
    w.run_until(1_500);
    let rec = w.splits.first().expect("the split was applied").clone();
    assert_eq!((rec.parent, rec.child, rec.index), (G, child, index));
    let cl = w
        .leader_node(child)
        .expect("the child elected a leader at once");
    let cs = w.nodes[&cl].hosts[&child].replica().status();
    assert!(cs.commit > index, "the child committed nothing yet: {cs:?}");
    assert_eq!(w.nodes[&cl].hosts[&child].kv().range(), (1, 1000));
    let pl = leader(&w);
    assert_eq!(w.nodes[&pl].hosts[&G].kv().range(), (0, 1));
    // Keep the member down until the parent's leader compacted past the
    // split: it must then catch up without ever seeing the split entry.
    w.run_until(3_000);
    let ps = w.nodes[&leader(&w)].hosts[&G].replica().status();
    assert!(
        ps.snapshot_index > index,
        "no compaction past the split: {ps:?}"
    );
    assert!(!w.nodes[&f].stores.contains_key(&child));
    w.start_node(f);
    w.run_until(5_000);
    assert_eq!(w.children_rejoined, 1);
    let fs = w.nodes[&f].hosts[&child].replica().status();
    let lc = w.nodes[&w.leader_node(child).expect("leader")].hosts[&child]
        .replica()
        .status()
        .commit;
    assert!(fs.applied + 50 >= lc, "{fs:?} vs the child's commit {lc}");
    assert_eq!(w.nodes[&f].hosts[&child].kv().range(), (1, 1000));
    finish_clean(&mut w);
}

/// What the core refuses, with typed errors: proposals on a follower (with
/// a leader hint), a second membership step before the first committed, a
/// split of an unsettled group or with bad arguments, a transfer to itself
/// or to a non-member, reads on a follower, and inconsistent settings.
#[test]
fn refusals_are_typed() {
    use crate::replication::{ProposeError, ReadError, ReadResult, Settings, SettingsError};
    use wire::replication::{ConfChange, MemberId};

    let mut w = World::new(quiet(17));
    w.run_until(1_000);
    let l = leader(&w);
    let lid = w.nodes[&l].hosts[&G].replica().id();
    let f = a_follower(&w, l);
    let follower = w
        .nodes
        .get_mut(&f)
        .expect("node")
        .hosts
        .get_mut(&G)
        .expect("host")
        .replica_mut();
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
    let leader_r = w
        .nodes
        .get_mut(&l)
        .expect("node")
        .hosts
        .get_mut(&G)
        .expect("host")
        .replica_mut();
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
    let split = |group: GroupId, key_bytes: usize| wire::replication::SplitSpec {
        new_group: group,
        key: vec![0; key_bytes],
    };
    assert_eq!(
        leader_r.propose_split(split(G, 8)),
        Err(ProposeError::InvalidSplit(
            "the new group must differ from the group being split"
        ))
    );
    assert_eq!(
        leader_r.propose_split(split(GroupId(77), 4096)),
        Err(ProposeError::InvalidSplit("split key too long"))
    );
    assert!(leader_r.propose_conf(add(999_001)).is_ok());
    assert_eq!(
        leader_r.propose_split(split(GroupId(77), 8)),
        Err(ProposeError::ConfChangePending)
    );
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
