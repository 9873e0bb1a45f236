//! The checkers. Continuous ones run after every event that touched a
//! group; the rest run at the end of a simulation ([`World::finish`]).
//!
//! - **agreement**: no two members ever apply different entries at one
//!   index (every applied entry is compared with the first one seen);
//! - **one leader per ballot**, and **log members never lead** (nor apply:
//!   the host asserts that only Full/Learner members apply);
//! - **lease safety**: at no simulated instant do two members of a group
//!   hold the lease (every node ticks at the same rate, so each replica's
//!   own lease test is evaluated at the same real time);
//! - **durability**: every acknowledged write's entry is in the agreed log
//!   and below the group's final commit index;
//! - **linearizability** of the consistent client history, per key;
//! - **eventual reads** return a value some write wrote, or nothing;
//! - **liveness**: after everything heals, every group elects a leader and
//!   commits a client write within the heal window.

use std::collections::BTreeMap;

use wire::replication::{Ballot, Entry, GroupId, LogIndex, MemberId, Role};

use super::world::World;

/// Violations kept per run (the first ones tell the story).
const VIOLATIONS_MAX: usize = 20;

#[derive(Default)]
pub struct Checker {
    committed: BTreeMap<(GroupId, LogIndex), (Ballot, u64)>,
    leaders: BTreeMap<(GroupId, Ballot), MemberId>,
    acked: Vec<(GroupId, LogIndex, Ballot)>,
    healed_at: Option<u64>,
    /// Per group: first acknowledged write after healing.
    recovered_at: BTreeMap<GroupId, u64>,
    /// Per group: the commit index half way through the heal window.
    pub marks: BTreeMap<GroupId, LogIndex>,
    pub violations: Vec<String>,
    pub applied_entries: u64,
    pub max_lease_holders: usize,
}

fn digest(e: &Entry) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(format!("{:?}", e.payload).as_bytes());
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

impl Checker {
    pub(super) fn violation(&mut self, s: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(s);
        }
    }

    pub fn applied(&mut self, group: GroupId, e: &Entry, now: u64) {
        self.applied_entries += 1;
        let d = digest(e);
        match self.committed.get(&(group, e.index)) {
            None => {
                self.committed.insert((group, e.index), (e.ballot, d));
            }
            Some(&(b, x)) if b == e.ballot && x == d => {}
            Some(&(b, _)) => self.violation(format!(
                "agreement: {group} index {} applied as ballot {} at t={now}, earlier as ballot {b}",
                e.index, e.ballot
            )),
        }
    }

    pub fn leaders(
        &mut self,
        group: GroupId,
        leaders: &[(MemberId, Ballot, Option<Role>)],
        lease_holders: &[MemberId],
        now: u64,
    ) {
        for &(m, b, role) in leaders {
            if role == Some(Role::Log) {
                self.violation(format!("log member {m} of {group} leads in {b} at t={now}"));
            }
            match self.leaders.get(&(group, b)) {
                None => {
                    self.leaders.insert((group, b), m);
                }
                Some(&other) if other == m => {}
                Some(&other) => self.violation(format!(
                    "two leaders of {group} in ballot {b}: {other} and {m} (t={now})"
                )),
            }
        }
        self.max_lease_holders = self.max_lease_holders.max(lease_holders.len());
        if lease_holders.len() > 1 {
            self.violation(format!(
                "lease: {lease_holders:?} of {group} hold the lease at once (t={now})"
            ));
        }
    }

    pub fn acked_write(&mut self, group: GroupId, index: LogIndex, ballot: Ballot, now: u64) {
        self.acked.push((group, index, ballot));
        if let Some(h) = self.healed_at
            && now >= h
        {
            self.recovered_at.entry(group).or_insert(now);
        }
    }

    pub fn healed_at(&mut self, now: u64) {
        self.healed_at = Some(now);
    }
}

impl World {
    /// Every member of `group` as the directory knows it, for reports.
    pub fn describe_group(&self, group: GroupId) -> String {
        let mut out = String::new();
        for (m, n) in self.group_members(group) {
            let node = &self.nodes[&n];
            let st = node.hosts.get(&group).map(|h| h.replica().status());
            out.push_str(&format!(
                "\n    {m} on node {n} (az {}, up {}): {st:?}",
                node.az, node.up
            ));
        }
        for p in self.control.plans.iter().filter(|p| p.group == group) {
            out.push_str(&format!("\n    plan: {p:?}"));
        }
        out
    }

    /// End-of-run checks; returns every violation found during the run.
    pub fn finish(&mut self) -> Vec<String> {
        self.close_pending_ops();
        // Durability: acknowledged entries are the agreed ones, and the
        // group's log has not lost them.
        let acked = std::mem::take(&mut self.check.acked);
        for &(g, i, b) in &acked {
            match self.check.committed.get(&(g, i)) {
                Some(&(cb, _)) if cb == b => {}
                other => self.check.violation(format!(
                    "durability: acknowledged write {g} index {i} ballot {b} but the log has {other:?}"
                )),
            }
        }
        for g in self.groups.clone() {
            let max_acked = acked
                .iter()
                .filter(|a| a.0 == g)
                .map(|a| a.1)
                .max()
                .unwrap_or(0);
            let commit = self
                .leader_node(g)
                .and_then(|n| self.nodes[&n].hosts.get(&g))
                .map(|h| h.replica().status().commit);
            match commit {
                Some(c) if c >= max_acked => {}
                Some(c) => self.check.violation(format!(
                    "durability: {g} final commit {c} below acknowledged index {max_acked}"
                )),
                None => {
                    let d = self.describe_group(g);
                    self.check.violation(format!(
                        "liveness: {g} has no leader at the end (t={}):{d}",
                        self.now
                    ))
                }
            }
            if !self.check.recovered_at.contains_key(&g) {
                self.check.violation(format!(
                    "liveness: {g} committed no client write within {} ms after healing",
                    self.cfg.heal_ms
                ));
            }
        }
        // Convergence: every member reached the mid-heal commit point.
        for (&g, &mark) in &self.check.marks.clone() {
            for (m, n) in self.group_members(g) {
                let Some(s) = self.nodes[&n].hosts.get(&g).map(|h| h.replica().status()) else {
                    let d = self.describe_group(g);
                    self.check.violation(format!(
                        "convergence: {m} of {g} has no replica on node {n} after healing:{d}"
                    ));
                    continue;
                };
                if s.commit < mark {
                    let d = self.describe_group(g);
                    self.check.violation(format!(
                        "convergence: {m} of {g} is at commit {} after healing, the group was at {mark}:{d}",
                        s.commit
                    ));
                }
            }
        }
        // Eventual reads return something that was written, or nothing.
        let bad: Vec<(u64, Option<u64>)> = self
            .clients
            .eventual_reads
            .iter()
            .filter(|(_, v)| v.is_some_and(|v| !self.clients.written.contains(&v)))
            .copied()
            .collect();
        for (k, v) in bad {
            self.check.violation(format!(
                "eventual read of key {k} returned {v:?}, never written"
            ));
        }
        if let Err(v) = super::linearizable::check_history(&self.clients.history) {
            self.check.violation(v);
        }
        self.check.violations.clone()
    }
}
