//! Model checks of the quorum and membership rules over small
//! configurations (issue 3): the real [`Replica`] explored exhaustively
//! with `stateright`, plus a pure model of single-step membership changes.
//!
//! 1. [`ReplicaModel`]: each stateright actor is one member, a real
//!    `Replica` behind a minimal driver that persists synchronously (take
//!    the `Ready`, send `messages`, store the hard state and entries, call
//!    `on_persisted`, send `messages_after_persist`, report applied). The
//!    checker chooses message delivery order (unordered, non-duplicating
//!    network: loss is indistinguishable from unbounded delay for the
//!    safety properties checked here), which member ticks next (each has a
//!    tick budget), when a member proposes (a budget of proposals, only
//!    taken while it leads) and, optionally, one crash/restart from the
//!    durable state.
//!
//!    `Replica` is not `Clone`, so an actor's state is its boot point
//!    (durable state at start or last restart) plus the inputs since then;
//!    the replica is rebuilt by replaying them (deterministic: same seed,
//!    same inputs). States are identified by a digest of everything the
//!    replica holds that this module can see (hard state, log, membership,
//!    role state with the leader's per-peer progress, timers, `now`) plus
//!    the durable and ghost data, so different histories that reach the
//!    same replica merge. The one thing not in the digest is the private
//!    election-timeout RNG position (it only shifts future timeouts).
//!
//!    Properties (always): one leader per ballot, ever; agreement of the
//!    committed prefixes (across members and over time) and of the logs at
//!    or below each commit index; a `Log` member never leads; every commit
//!    index points at an entry durable on a quorum of voters. Sometimes: a
//!    client command commits (so the model is not vacuous).
//! 2. The same model with membership Full, Full, Log.
//! 3. `membership.rs` (pure, no replica): every membership of
//!    up to five members with roles, every `ConfChange` that
//!    `Membership::apply` accepts: any quorum of the old and any quorum of
//!    the new membership share a voter (and, as a control, two steps at
//!    once can break that, which is why the leader allows one pending step).
//!
//! The simulator (`crate::sim`) explores far longer random runs of the same
//! core; this module explores short runs completely.

use std::borrow::Cow;
use std::collections::{BTreeSet, hash_map::DefaultHasher};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use stateright::actor::{Actor, ActorModel, ActorModelState, Id, Network, Out, model_timeout};
use stateright::{Checker, Expectation, Model};
use wire::replication::{
    Ballot, Entry, Envelope, GroupId, HardState, Member, MemberId, Membership, Payload, Role,
    SnapshotMeta,
};

use super::replica::State;
use super::{Persisted, Replica, RoleState, Settings, Status};

mod membership;

const GROUP: GroupId = GroupId(7);

fn settings() -> Settings {
    Settings {
        election_ticks: 3,
        heartbeat_ticks: 1,
        lease_ticks: 1,
        inflight_msgs_max: 4,
        accept_bytes_max: 1 << 10,
        uncommitted_entries_max: 8,
        pending_reads_max: 4,
        fetch_bytes_max: 1 << 10,
        apply_entries_max: 8,
    }
}

fn member_id(id: Id) -> MemberId {
    MemberId(usize::from(id) as u64 + 1)
}

fn actor_id(m: MemberId) -> Id {
    Id::from(m.0 as usize - 1)
}

// ----- messages and timers ---------------------------------------------

/// A replication message on the model's network. `Envelope` has no
/// `Hash`/`Ord`, so it is keyed by its debug rendering.
#[derive(Clone)]
pub struct Wire {
    env: Envelope,
    key: String,
}

impl Wire {
    fn new(env: Envelope) -> Wire {
        let key = format!("{:?}", env.msg);
        Wire { env, key }
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl PartialEq for Wire {
    fn eq(&self, other: &Wire) -> bool {
        self.key == other.key
    }
}

impl Eq for Wire {}

impl PartialOrd for Wire {
    fn partial_cmp(&self, other: &Wire) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wire {
    fn cmp(&self, other: &Wire) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Hash for Wire {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key.hash(h);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Tick,
    Propose,
}

// ----- one member's state ----------------------------------------------

/// What survives a crash: the driver's store, plus ghost data the
/// properties need across restarts (budgets used, ballots led, the
/// committed prefix this member has seen).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Durable {
    hs: HardState,
    entries: Vec<Entry>,
    ticks: u32,
    proposals: u32,
    led: BTreeSet<Ballot>,
    committed: Vec<Entry>,
    /// A committed entry this member saw changed later (agreement broken).
    conflict: bool,
}

impl Durable {
    fn new() -> Durable {
        Durable {
            hs: HardState::default(),
            entries: Vec::new(),
            ticks: 0,
            proposals: 0,
            led: BTreeSet::new(),
            committed: Vec::new(),
            conflict: false,
        }
    }
}

/// An input the replica took since its boot point (replayed to rebuild it).
#[derive(Clone, Debug)]
enum Input {
    Tick,
    Msg(Envelope),
    Propose(Vec<u8>),
}

/// One member: boot point, inputs since, and what the properties look at.
#[derive(Clone)]
pub struct Node {
    boot: Durable,
    inputs: Vec<Input>,
    durable: Durable,
    status: Status,
    log: Vec<Entry>,
    digest: u64,
}

impl Hash for Node {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.digest.hash(h);
        self.durable.hash(h);
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.digest == other.digest && self.durable == other.durable
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.status;
        write!(
            f,
            "{} {:?} {} commit {} ticks {} log [",
            s.id, s.state, s.ballot, s.commit, self.durable.ticks
        )?;
        for e in &self.log {
            let p = match &e.payload {
                Payload::Noop => "noop".to_string(),
                Payload::Command(c) => String::from_utf8_lossy(c).into_owned(),
                Payload::Conf(c) => format!("{c:?}"),
                Payload::Split(s) => format!("split->{}", s.new_group.0),
            };
            write!(f, " {}@{}:{p}", e.index, e.ballot)?;
        }
        write!(f, " ]")
    }
}

/// Everything about `r` this module can see, hashed: two histories that
/// end in the same digest continue the same way (up to the private RNG).
fn digest(r: &Replica) -> u64 {
    let mut h = DefaultHasher::new();
    let state = match &r.state {
        State::Follower => "F".to_string(),
        State::PreCandidate { granted, refused } => format!("P{granted:?}{refused:?}"),
        State::Candidate { granted, refused } => format!("C{granted:?}{refused:?}"),
        State::Leader(l) => format!(
            "L{:?}|{}|{}|{:?}|{}|{:?}|{}|{}|{:?}|{}|{}|{}|{:?}",
            l.progress,
            l.first_index,
            l.elected_at,
            l.recovery,
            l.hb_seq,
            l.hb_sent,
            l.lease_until,
            l.reads.len(),
            l.transfer,
            l.heartbeat_elapsed,
            l.check_quorum_elapsed,
            l.quiesced,
            l.snapshot_asked_at
        ),
    };
    let text = format!(
        "{:?}|{:?}|{:?}|{}|{}|{state}|{:?}|{}|{}|{}|{}|{}|{:?}|{}",
        r.hs,
        r.log,
        r.membership,
        r.applied,
        r.apply_emitted,
        r.leader,
        r.now,
        r.election_elapsed,
        r.election_timeout,
        r.vote_blocked_until,
        r.quiesced,
        r.damaged_at,
        r.joining
    );
    text.hash(&mut h);
    h.finish()
}

// ----- the actor: a replica behind a synchronous driver -----------------

/// One member of the modelled group.
#[derive(Clone)]
pub struct Peer {
    id: MemberId,
    membership: Membership,
    seed: u64,
    ticks_max: u32,
    proposals_max: u32,
}

impl Peer {
    fn boot(&self, d: &Durable) -> Replica {
        let p = Persisted {
            hard_state: d.hs,
            snapshot: SnapshotMeta {
                index: 0,
                ballot: Ballot(0),
                membership: self.membership.clone(),
            },
            entries: d.entries.clone(),
            applied: 0,
            damaged: false,
            joining: false,
            fresh: false,
        };
        Replica::new(self.id, GROUP, settings(), self.seed, p).expect("valid settings")
    }

    /// Feed one input; false if the replica refused it (a proposal).
    fn feed(r: &mut Replica, input: &Input) -> bool {
        match input {
            Input::Tick => r.tick(),
            Input::Msg(env) => r.step(env.clone()),
            Input::Propose(c) => return r.propose(c.clone()).is_ok(),
        }
        true
    }

    /// The driver: carry out every `Ready` (persisting synchronously).
    fn drive(r: &mut Replica, d: &mut Durable, send: &mut Vec<Envelope>) {
        loop {
            let ready = r.take_ready();
            if ready.is_empty() {
                break;
            }
            send.extend(ready.messages);
            assert!(
                ready.snapshot.is_none() && ready.snapshot_needed.is_empty(),
                "no compaction in the model, so no snapshots"
            );
            if let Some(hs) = ready.hard_state {
                d.hs = hs;
            }
            if let Some(t) = ready.truncate_from {
                d.entries.retain(|e| e.index < t);
            }
            if let Some(first) = ready.entries.first() {
                d.entries.retain(|e| e.index < first.index);
            }
            let persisted = ready.entries.last().map(|e| (e.index, e.ballot));
            d.entries.extend(ready.entries);
            send.extend(ready.messages_after_persist);
            if let Some((i, b)) = persisted {
                r.on_persisted(i, b);
            }
            if let Some(last) = ready.committed.last() {
                r.on_applied(last.index);
            }
        }
    }

    /// Rebuild the replica of `node` by replaying its inputs.
    fn rebuild(&self, node: &Node) -> Replica {
        let mut d = node.boot.clone();
        let mut r = self.boot(&d);
        let mut sink = Vec::new();
        Self::drive(&mut r, &mut d, &mut sink);
        for i in &node.inputs {
            assert!(Self::feed(&mut r, i), "replay is deterministic");
            Self::drive(&mut r, &mut d, &mut sink);
            sink.clear();
        }
        r
    }

    /// Feed one input to the member in `state` and carry out the results;
    /// false (and nothing changed) if the replica refused it.
    fn input(&self, state: &mut Cow<Node>, input: Input, o: &mut Out<Self>) -> bool {
        let mut r = self.rebuild(state);
        if !Self::feed(&mut r, &input) {
            return false;
        }
        let node = state.to_mut();
        node.inputs.push(input);
        let mut send = Vec::new();
        Self::drive(&mut r, &mut node.durable, &mut send);
        self.observe(&r, node);
        for env in send {
            o.send(actor_id(env.to), Wire::new(env));
        }
        o.save(node.durable.clone());
        true
    }

    /// Record what the properties look at, and the ghost data.
    fn observe(&self, r: &Replica, node: &mut Node) {
        node.status = r.status();
        node.log = (1..=node.status.last_index)
            .map(|i| r.entry(i).expect("no compaction").clone())
            .collect();
        node.digest = digest(r);
        let d = &mut node.durable;
        if node.status.state == RoleState::Leader {
            d.led.insert(node.status.ballot);
        }
        let commit = node.status.commit as usize;
        for (i, e) in node.log.iter().take(commit).enumerate() {
            match d.committed.get(i) {
                Some(seen) if seen != e => d.conflict = true,
                Some(_) => {}
                None => d.committed.push(e.clone()),
            }
        }
    }

    fn start(&self, boot: Durable, fresh: bool, o: &mut Out<Self>) -> Node {
        let mut d = boot.clone();
        let mut r = self.boot(&d);
        let mut send = Vec::new();
        Self::drive(&mut r, &mut d, &mut send);
        // A new group's members start together: the ticks before the
        // first possible timeout happen before any message, in any order
        // (a restarted member gets no warm-up: it may hear messages while
        // it still refuses votes).
        let mut inputs = Vec::new();
        if fresh {
            for _ in 1..settings().election_ticks {
                r.tick();
                Self::drive(&mut r, &mut d, &mut send);
                inputs.push(Input::Tick);
            }
            assert!(send.is_empty(), "nothing happens before the first timeout");
        }
        let mut node = Node {
            boot,
            inputs,
            durable: d,
            status: r.status(),
            log: Vec::new(),
            digest: 0,
        };
        self.observe(&r, &mut node);
        for env in send {
            o.send(actor_id(env.to), Wire::new(env));
        }
        if node.durable.ticks < self.ticks_max {
            o.set_timer(Timer::Tick, model_timeout());
        }
        if node.durable.proposals < self.proposals_max {
            o.set_timer(Timer::Propose, model_timeout());
        }
        node
    }
}

impl Actor for Peer {
    type Msg = Wire;
    type Timer = Timer;
    type State = Node;
    type Storage = Durable;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<Durable>, o: &mut Out<Self>) -> Node {
        self.start(
            storage.clone().unwrap_or_else(Durable::new),
            storage.is_none(),
            o,
        )
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<Node>, _src: Id, msg: Wire, o: &mut Out<Self>) {
        self.input(state, Input::Msg(msg.env), o);
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<Node>, timer: &Timer, o: &mut Out<Self>) {
        match timer {
            Timer::Tick => {
                self.input(state, Input::Tick, o);
                let node = state.to_mut();
                node.durable.ticks += 1;
                if node.durable.ticks < self.ticks_max {
                    o.set_timer(Timer::Tick, model_timeout());
                }
                o.save(node.durable.clone());
            }
            Timer::Propose => {
                // Only a leader takes proposals; elsewhere (or while a new
                // leader is not ready) this is a no-op the checker prunes.
                let n = state.durable.proposals;
                let command = format!("v{}.{n}", self.id.0).into_bytes();
                if state.status.state != RoleState::Leader
                    || !self.input(state, Input::Propose(command), o)
                {
                    o.set_timer(Timer::Propose, model_timeout());
                    return;
                }
                let node = state.to_mut();
                node.durable.proposals += 1;
                if node.durable.proposals < self.proposals_max {
                    o.set_timer(Timer::Propose, model_timeout());
                }
                o.save(node.durable.clone());
            }
        }
    }
}

// ----- the model and its properties ------------------------------------

/// The model: actors are the members, the configuration is the group's
/// (fixed) membership.
pub type ReplicaModel = ActorModel<Peer, Membership, ()>;
type SysState = ActorModelState<Peer, ()>;

/// Per-member bounds of one model.
#[derive(Clone, Copy)]
pub struct Bounds {
    /// Ticks the checker may deliver (after the warm-up).
    pub ticks_max: u32,
    /// Client commands this member may propose while it leads.
    pub proposals_max: u32,
    /// First election timeout at the minimum (`election_ticks`) rather
    /// than the maximum: quick members are the ones that campaign early.
    pub quick: bool,
}

/// A seed whose first election timeout is the minimum (`election_ticks`)
/// if `quick`, else the maximum.
fn seed_for(id: MemberId, membership: &Membership, quick: bool) -> u64 {
    let e = settings().election_ticks;
    let want = if quick { e } else { 2 * e - 1 };
    (0..1000)
        .find(|&seed| {
            let p = Persisted::new_group(membership.clone());
            let r = Replica::new(id, GROUP, settings(), seed, p).expect("valid settings");
            r.election_timeout == want
        })
        .expect("some seed draws the wanted timeout")
}

pub fn replica_model(
    membership: Membership,
    bounds: &[Bounds],
    crashes_max: usize,
) -> ReplicaModel {
    assert_eq!(membership.members().len(), bounds.len());
    let peers: Vec<Peer> = membership
        .members()
        .iter()
        .zip(bounds)
        .enumerate()
        .map(|(i, (m, b))| {
            assert_eq!(m.id, member_id(Id::from(i)), "members are 1..=n");
            Peer {
                id: m.id,
                membership: membership.clone(),
                seed: seed_for(m.id, &membership, b.quick),
                ticks_max: b.ticks_max,
                proposals_max: b.proposals_max,
            }
        })
        .collect();
    ActorModel::new(membership, ())
        .actors(peers)
        .init_network(Network::new_unordered_nonduplicating([]))
        .max_crashes(crashes_max)
        .property(Expectation::Always, "one leader per ballot", |_, s| {
            one_leader_per_ballot(s)
        })
        .property(Expectation::Always, "agreement", |_, s| agreement(s))
        .property(Expectation::Always, "log member never leads", |m, s| {
            log_member_never_leads(&m.cfg, s)
        })
        .property(Expectation::Always, "commit is quorum-durable", |m, s| {
            commit_is_quorum_durable(&m.cfg, s)
        })
        .property(Expectation::Sometimes, "a command commits", |_, s| {
            s.actor_states.iter().any(|n| {
                n.durable
                    .committed
                    .iter()
                    .any(|e| matches!(e.payload, Payload::Command(_)))
            })
        })
}

fn one_leader_per_ballot(s: &SysState) -> bool {
    let n = &s.actor_states;
    (0..n.len()).all(|i| (i + 1..n.len()).all(|j| n[i].durable.led.is_disjoint(&n[j].durable.led)))
}

/// Committed prefixes never change and are prefixes of one another; logs
/// agree at or below both members' commit indices.
fn agreement(s: &SysState) -> bool {
    let n = &s.actor_states;
    let prefix = |a: &[Entry], b: &[Entry]| a.iter().zip(b).all(|(x, y)| x == y);
    n.iter().all(|x| !x.durable.conflict)
        && (0..n.len()).all(|i| {
            (i + 1..n.len()).all(|j| {
                let c = n[i].status.commit.min(n[j].status.commit) as usize;
                prefix(&n[i].durable.committed, &n[j].durable.committed)
                    && n[i].log[..c] == n[j].log[..c]
            })
        })
}

fn log_member_never_leads(m: &Membership, s: &SysState) -> bool {
    s.actor_states.iter().all(|n| {
        m.role(n.status.id) != Some(Role::Log)
            || (n.durable.led.is_empty() && n.status.state != RoleState::Leader)
    })
}

/// The entry at each member's commit index is durable, with the same
/// ballot, on a quorum of voters.
fn commit_is_quorum_durable(m: &Membership, s: &SysState) -> bool {
    s.actor_states.iter().all(|n| {
        let c = n.status.commit as usize;
        if c == 0 {
            return true;
        }
        let e = &n.log[c - 1];
        let holders = m
            .voters()
            .filter(|&v| {
                s.actor_states[usize::from(actor_id(v))]
                    .durable
                    .entries
                    .get(c - 1)
                    == Some(e)
            })
            .count();
        holders >= m.quorum()
    })
}

/// What one exhaustive run found.
pub struct RunReport {
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    /// Always-properties with a counterexample: (name, trace length).
    pub violated: Vec<(&'static str, usize)>,
    pub sometimes_found: bool,
}

/// Explore `model` breadth-first to `depth_max`, printing stats and any
/// counterexample trace.
pub fn run(name: &str, model: ReplicaModel, depth_max: usize) -> RunReport {
    let names: Vec<(&'static str, Expectation)> = model
        .properties()
        .iter()
        .map(|p| (p.name, p.expectation.clone()))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(threads)
        .target_max_depth(depth_max)
        .spawn_bfs();
    let mut last_report = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50));
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "{name}: {} unique states, depth {}, {:.0?}",
                checker.unique_state_count(),
                checker.max_depth(),
                started.elapsed()
            );
        }
    }
    let checker = checker.join();
    let elapsed = started.elapsed();
    let mut violated = Vec::new();
    let mut sometimes_found = false;
    for (pname, exp) in names {
        let found = checker.discovery(pname);
        match exp {
            Expectation::Sometimes => sometimes_found |= found.is_some(),
            _ => {
                if let Some(path) = found {
                    let actions = path.clone().into_actions();
                    eprintln!("{name}: `{pname}` violated after {} steps:", actions.len());
                    for (i, a) in actions.iter().enumerate() {
                        eprintln!("  {i:3}: {a:?}");
                    }
                    for n in path.last_state().actor_states.iter() {
                        eprintln!("  final: {n:?}");
                    }
                    violated.push((pname, actions.len()));
                }
            }
        }
    }
    let report = RunReport {
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        violated,
        sometimes_found,
    };
    eprintln!(
        "{name}: {} unique states ({} generated), depth {}, {:.1?}",
        report.unique_states, report.states, report.max_depth, report.elapsed
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full3() -> Membership {
        Membership::full(&[MemberId(1), MemberId(2), MemberId(3)]).unwrap()
    }

    fn check(name: &str, model: ReplicaModel, depth_max: usize) -> RunReport {
        let r = run(name, model, depth_max);
        assert!(r.violated.is_empty(), "{name}: violated {:?}", r.violated);
        assert!(
            r.sometimes_found,
            "{name}: no command committed (vacuous model)"
        );
        r
    }

    /// Three Full members, two proposals, no crash.
    #[test]
    fn three_full_members() {
        let b = |t, p, quick| Bounds {
            ticks_max: t,
            proposals_max: p,
            quick,
        };
        let bounds = [b(2, 1, true), b(2, 1, true), b(1, 0, false)];
        check("full3", replica_model(full3(), &bounds, 0), 12);
    }

    /// Full, Full, Log: the Log member votes (whatever its log) and counts
    /// in every quorum, but never campaigns or leads.
    #[test]
    fn full_full_log() {
        let m = Membership::new(vec![
            Member {
                id: MemberId(1),
                role: Role::Full,
            },
            Member {
                id: MemberId(2),
                role: Role::Full,
            },
            Member {
                id: MemberId(3),
                role: Role::Log,
            },
        ])
        .unwrap();
        let b = |t, p, quick| Bounds {
            ticks_max: t,
            proposals_max: p,
            quick,
        };
        let bounds = [b(2, 1, true), b(2, 1, true), b(1, 0, true)];
        check("full-full-log", replica_model(m, &bounds, 0), 12);
    }

    /// Three Full members, one of which may crash once and restart from
    /// its durable state (smaller budgets: crashes double the branching).
    #[test]
    fn three_full_members_with_a_crash() {
        let b = |t, p, quick| Bounds {
            ticks_max: t,
            proposals_max: p,
            quick,
        };
        let bounds = [b(2, 1, true), b(1, 0, false), b(1, 0, false)];
        check("full3-crash", replica_model(full3(), &bounds, 1), 12);
    }
}
