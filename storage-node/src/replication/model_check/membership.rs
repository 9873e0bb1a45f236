//! The pure half of the model check (no replica): single-step membership
//! changes with roles. Over every membership of up to five members with
//! roles Full/Log/Learner and every `ConfChange` that `Membership::apply`
//! accepts, any quorum of the old membership and any quorum of the new one
//! share a voter. As a control, two steps at once can break that, which is
//! why the leader refuses a change while another is uncommitted
//! (`leader.rs`, `check_conf_change`). The replica half is in the parent,
//! `model_check.rs`.

use wire::replication::{ConfChange, Member, MemberId, Membership, Role};

/// Every membership of members drawn from `1..=ids_max` with any roles.
fn all_memberships(ids_max: u64) -> Vec<Membership> {
    let roles = [Role::Full, Role::Log, Role::Learner];
    let mut out = Vec::new();
    // Each id is absent (0) or has role 1..=3: base-4 digits.
    for code in 0..4u32.pow(ids_max as u32) {
        let mut members = Vec::new();
        let mut c = code;
        for id in 1..=ids_max {
            if c % 4 != 0 {
                members.push(Member {
                    id: MemberId(id),
                    role: roles[(c % 4) as usize - 1],
                });
            }
            c /= 4;
        }
        if let Ok(m) = Membership::new(members) {
            out.push(m);
        }
    }
    out
}

/// Every change `m` accepts, with ids up to `ids_max`.
fn accepted_changes(m: &Membership, ids_max: u64) -> Vec<(ConfChange, Membership)> {
    let mut changes = Vec::new();
    for id in (1..=ids_max).map(MemberId) {
        for role in [Role::Full, Role::Log, Role::Learner] {
            changes.push(ConfChange::Add { id, role });
        }
        changes.push(ConfChange::Promote { id });
        changes.push(ConfChange::Remove { id });
    }
    changes
        .into_iter()
        .filter_map(|c| m.apply(&c).ok().map(|next| (c, next)))
        .collect()
}

/// Voters as a bit set over member ids.
fn voter_bits(m: &Membership) -> u32 {
    m.voters().fold(0, |acc, v| acc | 1 << v.0)
}

/// All quorums of `m` (subsets of its voters with at least `quorum()`).
fn quorums(m: &Membership) -> Vec<u32> {
    let voters = voter_bits(m);
    let mut out = Vec::new();
    let mut sub = voters;
    loop {
        if sub.count_ones() as usize >= m.quorum() {
            out.push(sub);
        }
        if sub == 0 {
            break;
        }
        sub = (sub - 1) & voters;
    }
    out
}

/// Does every quorum of `a` share a voter with every quorum of `b`?
fn quorums_intersect(a: &Membership, b: &Membership) -> bool {
    let qb = quorums(b);
    quorums(a).iter().all(|x| qb.iter().all(|y| x & y != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_changes_keep_quorums_intersecting() {
        let ids_max = 5;
        let all = all_memberships(ids_max);
        let (mut pairs, mut broken_two_step) = (0usize, 0usize);
        for m in &all {
            for (c, next) in accepted_changes(m, ids_max + 1) {
                pairs += 1;
                assert!(
                    quorums_intersect(m, &next),
                    "{c:?} takes {m:?} to {next:?}: disjoint quorums"
                );
                assert!(
                    next.voter_count().abs_diff(m.voter_count()) <= 1,
                    "{c:?} changed the voters by more than one"
                );
                for (_, after) in accepted_changes(&next, ids_max + 1) {
                    broken_two_step += usize::from(!quorums_intersect(m, &after));
                }
            }
        }
        eprintln!(
            "{} memberships, {pairs} accepted single steps; {broken_two_step} two-step pairs break intersection",
            all.len()
        );
        // Each id absent or one of three roles, less those with no Full.
        assert_eq!(all.len(), 4usize.pow(5) - 3usize.pow(5));
        assert!(pairs > 8 * all.len(), "every membership accepts many steps");
        // The control: without the one-pending-step rule, quorums can miss.
        assert!(broken_two_step > 0);
    }
}
