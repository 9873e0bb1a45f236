//! The deterministic world: nodes in three AZs hosting replicas of several
//! groups, the simulated network and disks, simulated time, and the event
//! loop. Everything derives from one `u64` seed; one thread; no real time.
//!
//! Time is in simulated milliseconds. Every node ticks its replicas every
//! `tick_ms`, give or take its clock's drift (up to `clock_drift_pct`
//! percent per node, fixed for the run, with a random phase) and pings
//! every other node every `PING_MS` for the node-level failure detector
//! that wakes quiesced groups. Faults (`faults.rs`), clients
//! (`client.rs`), the membership/transfer operator (`control.rs`) and the
//! checkers (`check.rs`) are in their own files; this one owns the state
//! and the plumbing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use wire::replication::{Envelope, GroupId, MemberId, Membership};

use super::check::Checker;
use super::client::{ClientOp, Clients};
use super::control::Control;
use super::host::{Host, Out, Reply, ReqId};
use super::kv::Kv;
use super::net::{Net, NodeId};
use super::store::SimStore;
use crate::replication::{Replica, Settings};
use crate::rng::Rng;

pub const PING_MS: u64 = 50;
pub const DETECT_MS: u64 = 300;
pub const CHECKPOINT_MS: u64 = 400;

/// What a simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub groups: u64,
    pub nodes_per_az: u64,
    pub clients: u64,
    pub keys_per_group: u64,
    /// Workload with faults for this long, then everything heals.
    pub chaos_ms: u64,
    /// After healing: every group must elect and commit within this.
    pub heal_ms: u64,
    pub tick_ms: u64,
    /// Each node's clock runs up to this many percent fast or slow (its
    /// tick period is `tick_ms` scaled accordingly): leases and election
    /// timeouts are counted in ticks, so drift eats the margins between
    /// them.
    pub clock_drift_pct: u64,
    pub faults: bool,
    pub membership_changes: bool,
    pub transfers: bool,
    pub bit_flips: bool,
    /// Split groups during the chaos (at most this many splits).
    pub splits_max: u64,
    pub settings: Settings,
}

impl SimConfig {
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            groups: 3,
            nodes_per_az: 2,
            clients: 6,
            keys_per_group: 3,
            chaos_ms: 8_000,
            heal_ms: 4_000,
            tick_ms: 10,
            clock_drift_pct: 30,
            faults: true,
            membership_changes: true,
            transfers: true,
            bit_flips: true,
            splits_max: 2,
            settings: Settings {
                apply_entries_max: 64,
                ..Settings::default()
            },
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum Ev {
    Tick(NodeId, u64),
    Msg(NodeId, u64, Envelope),
    Sync(NodeId, u64, GroupId),
    Ping(NodeId, NodeId),
    Req(NodeId, ReqId),
    Resp(ReqId, Reply),
    ClientWake(u64),
    ClientTimeout(u64, ReqId),
    Fault,
    Restart(NodeId),
    Control,
    Checkpoint,
    Heal,
    /// Record each group's commit index; every member must reach it by
    /// the end (convergence after healing).
    Mark,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key(u64, u64);

pub(super) struct Node {
    pub az: u64,
    pub up: bool,
    /// Bumped at each crash: events for an older life are ignored.
    pub life: u64,
    pub hosts: BTreeMap<GroupId, Host>,
    /// Survives crashes.
    pub stores: BTreeMap<GroupId, (MemberId, SimStore)>,
    pub last_heard: BTreeMap<NodeId, u64>,
    pub phase: u64,
    /// This node's tick period (its clock's rate).
    pub tick_ms: u64,
}

pub struct World {
    pub(super) cfg: SimConfig,
    pub(super) rng: Rng,
    pub(super) now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(Key, usize)>>,
    events: BTreeMap<usize, Ev>,
    next_slot: usize,
    pub(super) nodes: BTreeMap<NodeId, Node>,
    /// Where each member lives (the control plane's placement). A group
    /// born from a split has the same member ids as its parent.
    pub(super) directory: BTreeMap<(GroupId, MemberId), NodeId>,
    /// Every group, including those born from splits.
    pub(super) groups: BTreeSet<GroupId>,
    /// The routing map: the first key of each group's range.
    pub(super) routes: BTreeMap<u64, GroupId>,
    /// Splits seen applied, in order (the control plane's lineage).
    pub(super) splits: Vec<super::split::SplitRecord>,
    pub(super) next_group: u64,
    pub(super) splits_proposed: u64,
    pub(super) last_split_proposal: BTreeMap<GroupId, u64>,
    /// Members of split-born groups created after a snapshot of the
    /// parent skipped the split (`split.rs`).
    pub children_rejoined: u64,
    pub(super) net: Net,
    pub(super) next_incarnation: u64,
    pub(super) clients: Clients,
    pub(super) control: Control,
    pub(super) check: Checker,
    pub(super) faults_injected: u64,
    pub(super) healed: bool,
    /// Snapshot messages sent (catch-up by state).
    pub snapshots_sent: u64,
    /// Print every event of this group (env `CAIRN_SIM_TRACE=<group>`).
    pub(super) trace: Option<GroupId>,
}

impl World {
    pub fn new(cfg: SimConfig) -> World {
        let mut rng = Rng::new(cfg.seed);
        let mut nodes = BTreeMap::new();
        for az in 0..3 {
            for i in 0..cfg.nodes_per_az {
                let phase = rng.below(cfg.tick_ms);
                let drift = cfg.tick_ms * cfg.clock_drift_pct / 100;
                let tick_ms = cfg.tick_ms - drift + rng.below(2 * drift + 1);
                nodes.insert(
                    az * cfg.nodes_per_az + i,
                    Node {
                        az,
                        up: true,
                        life: 0,
                        hosts: BTreeMap::new(),
                        stores: BTreeMap::new(),
                        last_heard: BTreeMap::new(),
                        phase,
                        tick_ms,
                    },
                );
            }
        }
        let clients = Clients::new(&cfg);
        let mut w = World {
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            next_slot: 0,
            nodes,
            directory: BTreeMap::new(),
            groups: BTreeSet::new(),
            routes: BTreeMap::new(),
            splits: Vec::new(),
            next_group: cfg.groups,
            splits_proposed: 0,
            last_split_proposal: BTreeMap::new(),
            children_rejoined: 0,
            net: Net::default(),
            next_incarnation: 1,
            clients,
            control: Control::default(),
            check: Checker::default(),
            faults_injected: 0,
            healed: false,
            snapshots_sent: 0,
            trace: std::env::var("CAIRN_SIM_TRACE")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(GroupId),
            cfg,
        };
        for g in 0..w.cfg.groups {
            let group = GroupId(g);
            w.groups.insert(group);
            w.routes.insert(w.initial_range(group).0, group);
            let slot = g % w.cfg.nodes_per_az;
            let placed: Vec<NodeId> = (0..3).map(|az| az * w.cfg.nodes_per_az + slot).collect();
            let ids: Vec<MemberId> = placed.iter().map(|&n| w.new_member_id(n, group)).collect();
            let membership = Membership::full(&ids).expect("three distinct members");
            for (&n, &id) in placed.iter().zip(&ids) {
                w.nodes
                    .get_mut(&n)
                    .expect("node")
                    .stores
                    .insert(group, (id, SimStore::new_group(membership.clone())));
            }
        }
        let ids: Vec<NodeId> = w.nodes.keys().copied().collect();
        for n in ids {
            w.start_node(n);
        }
        for c in 0..w.cfg.clients {
            let at = w.rng.below(50);
            w.schedule(at, Ev::ClientWake(c));
        }
        if w.cfg.faults {
            w.schedule(200, Ev::Fault);
        }
        w.schedule(30, Ev::Control);
        w.schedule(CHECKPOINT_MS, Ev::Checkpoint);
        let heal_at = w.cfg.chaos_ms;
        w.schedule(heal_at, Ev::Heal);
        let mark_at = w.cfg.chaos_ms + w.cfg.heal_ms / 2;
        w.schedule(mark_at, Ev::Mark);
        w
    }

    /// A fresh member id for a replica on `node` (unique per incarnation,
    /// so delayed messages for a removed member never reach its successor).
    pub(super) fn new_member_id(&mut self, node: NodeId, group: GroupId) -> MemberId {
        let id = MemberId(self.next_incarnation * 1000 + node);
        self.next_incarnation += 1;
        self.directory.insert((group, id), node);
        id
    }

    /// The key range a group owns before any split: group `g` of the
    /// initial ones owns `[1000 g, 1000 (g + 1))`; a group born from a
    /// split has no range until it has state.
    pub(super) fn initial_range(&self, group: GroupId) -> (u64, u64) {
        if group.0 < self.cfg.groups {
            (group.0 * 1000, (group.0 + 1) * 1000)
        } else {
            (0, 0)
        }
    }

    pub(super) fn schedule(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        let slot = self.next_slot;
        self.next_slot += 1;
        self.events.insert(slot, ev);
        self.queue
            .push(Reverse((Key(self.now + delay, self.seq), slot)));
    }

    /// (Re)start a node: recover every store, build its replicas.
    pub(super) fn start_node(&mut self, n: NodeId) {
        let settings = self.cfg.settings.clone();
        let seed = self.rng.next_u64();
        let tick_ms = self.nodes[&n].tick_ms;
        let now = self.now;
        let trace = self.trace;
        let initial: BTreeMap<GroupId, (u64, u64)> = self.nodes[&n]
            .stores
            .keys()
            .map(|&g| (g, self.initial_range(g)))
            .collect();
        let node = self.nodes.get_mut(&n).expect("node");
        node.up = true;
        node.hosts.clear();
        let peers: Vec<NodeId> = node.last_heard.keys().copied().collect();
        for p in peers {
            node.last_heard.insert(p, now);
        }
        for (&group, (member, store)) in node.stores.iter_mut() {
            let rec = store.recover();
            if trace == Some(group) {
                eprintln!(
                    "t={now} restart {member} on node {n}: snap {} entries {:?} damaged {} joining {} hs {:?}",
                    rec.persisted.snapshot.index,
                    rec.persisted.entries.first().map(|e| e.index)
                        ..rec.persisted.entries.last().map(|e| e.index),
                    rec.persisted.damaged,
                    rec.persisted.joining,
                    rec.persisted.hard_state
                );
            }
            let replica = Replica::new(
                *member,
                group,
                settings.clone(),
                seed ^ member.0,
                rec.persisted,
            )
            .expect("valid settings");
            node.hosts.insert(
                group,
                Host::new(replica, Kv::decode(&rec.data, initial[&group])),
            );
        }
        let life = node.life;
        let first = (node.phase + tick_ms - now % tick_ms) % tick_ms;
        self.schedule(first.max(1), Ev::Tick(n, life));
        let offset = self.rng.below(PING_MS);
        for p in self.nodes.keys().copied().collect::<Vec<_>>() {
            if p != n {
                self.schedule(offset + 1, Ev::Ping(n, p));
            }
        }
    }

    pub(super) fn crash_node(&mut self, n: NodeId) {
        if self.trace.is_some() {
            eprintln!("t={} crash node {n}", self.now);
        }
        let node = self.nodes.get_mut(&n).expect("node");
        if !node.up {
            return;
        }
        node.up = false;
        node.life += 1;
        node.hosts.clear();
        for (_, store) in node.stores.values_mut() {
            store.crash(&mut self.rng);
        }
    }

    /// Carry out a host's effects.
    pub(super) fn apply_out(&mut self, n: NodeId, group: GroupId, out: Out) {
        let life = self.nodes[&n].life;
        for env in out.send {
            if let wire::replication::Message::Snapshot { .. } = env.msg {
                self.snapshots_sent += 1;
            }
            let Some(&to_node) = self.directory.get(&(env.group, env.to)) else {
                continue;
            };
            for d in self.net.route(n, to_node, &mut self.rng) {
                let to_life = self.nodes[&to_node].life;
                self.schedule(d, Ev::Msg(to_node, to_life, env.clone()));
            }
        }
        for _ in 0..out.syncs {
            // fdatasync latency: usually a few ms, sometimes a stall (a
            // wide window between a write and its durability).
            let d = if self.rng.chance(1, 10) {
                self.rng.range(5, 40)
            } else {
                self.rng.range(1, 4)
            };
            self.schedule(d, Ev::Sync(n, life, group));
        }
        for e in &out.applied {
            self.check.applied(group, e, self.now);
        }
        for &(index, ballot) in &out.acked {
            self.check.acked_write(group, index, ballot, self.now);
        }
        for (req, reply) in out.replies {
            let d = self.rng.range(1, 3);
            self.schedule(d, Ev::Resp(req, reply));
        }
        for child in out.children {
            self.start_child(n, group, child);
        }
        if let Some(index) = out.snapshot_installed {
            self.children_missed(n, group, index);
        }
    }

    /// Run a host operation and carry out its effects.
    pub(super) fn with_host(
        &mut self,
        n: NodeId,
        group: GroupId,
        f: impl FnOnce(&mut Host, &mut SimStore, &mut Out),
    ) -> bool {
        let mut out = Out::default();
        let mut log_applied = None;
        {
            let node = self.nodes.get_mut(&n).expect("node");
            if !node.up {
                return false;
            }
            let (Some(host), Some((_, store))) =
                (node.hosts.get_mut(&group), node.stores.get_mut(&group))
            else {
                return false;
            };
            f(host, store, &mut out);
            host.drive(store, &mut out);
            if !out.applied.is_empty()
                && host.replica().membership().role(host.replica().id())
                    == Some(wire::replication::Role::Log)
            {
                log_applied = Some(host.replica().id());
            }
        }
        if let Some(m) = log_applied {
            self.check
                .violation(format!("log member {m} of {group} applied entries"));
        }
        self.apply_out(n, group, out);
        self.check_group(group);
        true
    }

    fn check_group(&mut self, group: GroupId) {
        let mut leaders = Vec::new();
        let mut lease_holders = Vec::new();
        for node in self.nodes.values() {
            if !node.up {
                continue;
            }
            if let Some(h) = node.hosts.get(&group) {
                let r = h.replica();
                if r.is_leader() {
                    leaders.push((r.id(), r.status().ballot, r.membership().role(r.id())));
                }
                if r.holds_lease() {
                    lease_holders.push(r.id());
                }
            }
        }
        self.check
            .leaders(group, &leaders, &lease_holders, self.now);
    }

    /// Run until `until` ms of simulated time.
    pub fn run_until(&mut self, until: u64) {
        while let Some(Reverse((Key(t, _), slot))) = self
            .queue
            .peek()
            .map(|r| Reverse((Key(r.0.0.0, r.0.0.1), r.0.1)))
        {
            if t > until {
                break;
            }
            self.queue.pop();
            let ev = self.events.remove(&slot).expect("scheduled event");
            self.now = t;
            self.handle(ev);
        }
        self.now = self.now.max(until);
    }

    fn handle(&mut self, ev: Ev) {
        if let Some(g) = self.trace {
            let show = match &ev {
                Ev::Msg(_, _, env) => env.group == g,
                Ev::Sync(_, _, eg) => *eg == g,
                Ev::Tick(..) | Ev::Ping(..) | Ev::ClientWake(..) | Ev::Checkpoint | Ev::Control => {
                    false
                }
                _ => true,
            };
            if show {
                eprintln!("t={} {:?}", self.now, ev);
            }
        }
        match ev {
            Ev::Tick(n, life) => self.on_tick(n, life),
            Ev::Msg(n, life, env) => {
                if self.nodes[&n].life != life {
                    return;
                }
                let group = env.group;
                if !self.directory.contains_key(&(group, env.to)) {
                    return;
                }
                self.with_host(n, group, |h, _, _| h.replica_mut().step(env));
            }
            Ev::Sync(n, life, group) => {
                if self.nodes[&n].life != life {
                    return;
                }
                self.with_host(n, group, |h, s, out| h.sync_done(s, out));
            }
            Ev::Ping(from, to) => self.on_ping(from, to),
            Ev::Req(n, req) => self.on_request(n, req),
            Ev::Resp(req, reply) => self.on_response(req, reply),
            Ev::ClientWake(c) => self.client_next_op(c),
            Ev::ClientTimeout(c, req) => self.on_client_timeout(c, req),
            Ev::Fault => self.inject_fault(),
            Ev::Restart(n) => {
                if !self.nodes[&n].up {
                    self.start_node(n);
                }
            }
            Ev::Control => self.control_step(),
            Ev::Checkpoint => {
                for n in self.nodes.keys().copied().collect::<Vec<_>>() {
                    let groups: Vec<GroupId> = self.nodes[&n].hosts.keys().copied().collect();
                    for g in groups {
                        self.with_host(n, g, |h, s, out| h.checkpoint(s, out));
                    }
                }
                self.schedule(CHECKPOINT_MS, Ev::Checkpoint);
            }
            Ev::Heal => self.heal_all(),
            Ev::Mark => {
                for g in self.groups.clone() {
                    if let Some(n) = self.leader_node(g) {
                        let c = self.nodes[&n].hosts[&g].replica().status().commit;
                        self.check.marks.insert(g, c);
                    }
                }
            }
        }
    }

    fn on_tick(&mut self, n: NodeId, life: u64) {
        let node = &self.nodes[&n];
        if !node.up || node.life != life {
            return;
        }
        let groups: Vec<GroupId> = node.hosts.keys().copied().collect();
        let now = self.now;
        let down: Vec<NodeId> = node
            .last_heard
            .iter()
            .filter(|&(_, &t)| now > t + DETECT_MS)
            .map(|(&p, _)| p)
            .collect();
        let down_members: Vec<wire::replication::MemberId> = self
            .directory
            .iter()
            .filter(|(_, ln)| down.contains(ln))
            .map(|(&(_, m), _)| m)
            .collect();
        for g in groups {
            let down_members = &down_members;
            self.with_host(n, g, |h, _, _| {
                h.replica_mut().tick();
                if let Some(l) = h.replica().leader_hint()
                    && down_members.contains(&l)
                {
                    h.replica_mut().peer_unreachable(l);
                }
            });
        }
        let tick = self.nodes[&n].tick_ms;
        self.schedule(tick, Ev::Tick(n, life));
    }

    fn on_ping(&mut self, from: NodeId, to: NodeId) {
        if !self.nodes[&from].up {
            return;
        }
        // Deliver the ping through the faulty network.
        // Delivered through the faulty network (the delay is ignored: the
        // detector's threshold is far above it).
        if !self.net.route(from, to, &mut self.rng).is_empty() && self.nodes[&to].up {
            let now = self.now;
            self.nodes
                .get_mut(&to)
                .expect("node")
                .last_heard
                .insert(from, now);
        }
        self.schedule(PING_MS, Ev::Ping(from, to));
    }

    fn heal_all(&mut self) {
        self.healed = true;
        self.net.heal();
        for n in self.nodes.keys().copied().collect::<Vec<_>>() {
            if !self.nodes[&n].up {
                self.start_node(n);
            }
        }
        self.check.healed_at(self.now);
    }

    /// Members of `group` and the nodes hosting them (per the directory).
    pub(super) fn group_members(&self, group: GroupId) -> Vec<(MemberId, NodeId)> {
        self.directory
            .range((group, MemberId(0))..=(group, MemberId(u64::MAX)))
            .map(|(&(_, m), &n)| (m, n))
            .collect()
    }

    /// The node hosting the current leader of `group`, if any is up.
    pub(super) fn leader_node(&self, group: GroupId) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.up)
            .filter_map(|(&n, node)| node.hosts.get(&group).map(|h| (n, h)))
            .filter(|(_, h)| h.replica().is_leader())
            .max_by_key(|(_, h)| h.replica().status().ballot)
            .map(|(n, _)| n)
    }

    pub(super) fn on_request(&mut self, n: NodeId, req: ReqId) {
        let Some(r) = self.clients.req(req).cloned() else {
            return;
        };
        if !self.nodes[&n].up {
            return;
        }
        let served = self.with_host(n, r.group, |h, _, out| match r.op {
            ClientOp::Write(c) => h.write(req, c, out),
            ClientOp::StrongGet(key) => h.strong_read(req, key),
            ClientOp::EventualGet(key) => h.eventual_read(req, key, out),
        });
        if !served {
            // This node does not host the group (any more).
            self.schedule(1, Ev::Resp(req, Reply::Retry));
        }
    }
}
