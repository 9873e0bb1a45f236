//! Simulated clients: each runs one operation at a time against a random
//! key (puts, deletes, conditional puts, consistent and eventually
//! consistent reads), routed to the group that owns it by the world's
//! routing map (looked up again when a group says the key moved in a
//! split), follows leader redirects, retries what certainly had no effect,
//! and gives up on timeout (the outcome of a write is then
//! unknown). Every consistent operation that may have taken effect is
//! recorded, with its simulated invocation and response times, for the
//! linearizability checker.

use std::collections::BTreeMap;

use wire::replication::GroupId;

use super::host::{Reply, ReqId};
use super::kv::Command;
use super::net::NodeId;
use super::world::{Ev, SimConfig, World};

const TIMEOUT_MS: u64 = 400;
const ATTEMPTS_MAX: u32 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientOp {
    Write(Command),
    StrongGet(u64),
    EventualGet(u64),
}

/// One recorded operation for the checker: `output` is `None` when the
/// outcome is unknown (the client gave up waiting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub client: u64,
    pub key: u64,
    pub op: ClientOp,
    pub output: Option<Reply>,
    pub call: u64,
    pub ret: u64,
}

#[derive(Clone, Debug)]
pub struct ReqState {
    pub client: u64,
    pub group: GroupId,
    pub op: ClientOp,
}

struct Current {
    op: ClientOp,
    group: GroupId,
    call: u64,
    req: ReqId,
    attempts: u32,
}

struct Client {
    guess: BTreeMap<GroupId, NodeId>,
    cur: Option<Current>,
    seq: u64,
    /// Last value seen per key (for realistic conditional puts).
    seen: BTreeMap<u64, Option<u64>>,
}

pub struct Clients {
    clients: Vec<Client>,
    reqs: BTreeMap<ReqId, ReqState>,
    next_req: ReqId,
    pub history: Vec<Recorded>,
    /// Values written by any write ever invoked (eventual reads must
    /// return one of these or nothing).
    pub written: std::collections::BTreeSet<u64>,
    pub eventual_reads: Vec<(u64, Option<u64>)>,
    pub ops_ok: u64,
    pub ops_unknown: u64,
    pub ops_failed: u64,
}

impl Clients {
    pub fn new(cfg: &SimConfig) -> Clients {
        Clients {
            clients: (0..cfg.clients)
                .map(|_| Client {
                    guess: BTreeMap::new(),
                    cur: None,
                    seq: 0,
                    seen: BTreeMap::new(),
                })
                .collect(),
            reqs: BTreeMap::new(),
            next_req: 0,
            history: Vec::new(),
            written: Default::default(),
            eventual_reads: Vec::new(),
            ops_ok: 0,
            ops_unknown: 0,
            ops_failed: 0,
        }
    }

    pub fn req(&self, req: ReqId) -> Option<&ReqState> {
        self.reqs.get(&req)
    }
}

fn op_key(op: ClientOp) -> u64 {
    match op {
        ClientOp::Write(cmd) => cmd.key(),
        ClientOp::StrongGet(k) | ClientOp::EventualGet(k) => k,
    }
}

impl World {
    /// The group that owns `key`, per the routing map.
    pub(super) fn route(&self, key: u64) -> GroupId {
        *self
            .routes
            .range(..=key)
            .next_back()
            .expect("every client key is routed")
            .1
    }

    fn pick_node(&mut self, group: GroupId) -> Option<NodeId> {
        let members = self.group_members(group);
        if members.is_empty() {
            return None;
        }
        let i = self.rng.below(members.len() as u64) as usize;
        Some(members[i].1)
    }

    pub(super) fn client_next_op(&mut self, c: u64) {
        if self.clients.clients[c as usize].cur.is_some() {
            return;
        }
        let base = GroupId(self.rng.below(self.cfg.groups));
        let first = self.initial_range(base).0;
        let key = first + self.rng.below(self.cfg.keys_per_group);
        let group = self.route(key);
        let cl = &mut self.clients.clients[c as usize];
        cl.seq += 1;
        let value = (c + 1) << 32 | cl.seq;
        let roll = self.rng.below(100);
        let op = match roll {
            0..30 => ClientOp::Write(Command::Put { key, value }),
            30..40 => ClientOp::Write(Command::Delete { key }),
            40..60 => {
                let expected = match self.clients.clients[c as usize].seen.get(&key) {
                    Some(v) if self.rng.chance(3, 4) => *v,
                    _ => None,
                };
                ClientOp::Write(Command::CondPut {
                    key,
                    expected,
                    value,
                })
            }
            60..90 => ClientOp::StrongGet(key),
            _ => ClientOp::EventualGet(key),
        };
        if let ClientOp::Write(Command::Put { value, .. } | Command::CondPut { value, .. }) = op {
            self.clients.written.insert(value);
        }
        let now = self.now;
        self.clients.clients[c as usize].cur = Some(Current {
            op,
            group,
            call: now,
            req: 0,
            attempts: 0,
        });
        self.send_attempt(c, None);
    }

    fn send_attempt(&mut self, c: u64, to: Option<NodeId>) {
        let group = match &self.clients.clients[c as usize].cur {
            Some(cur) => cur.group,
            None => return,
        };
        let guess = self.clients.clients[c as usize].guess.get(&group).copied();
        let Some(node) = to.or(guess).or_else(|| self.pick_node(group)) else {
            return self.finish_op(c, None, false);
        };
        self.clients.next_req += 1;
        let req = self.clients.next_req;
        let cur = self.clients.clients[c as usize]
            .cur
            .as_mut()
            .expect("checked");
        cur.req = req;
        cur.attempts += 1;
        let op = cur.op;
        self.clients.reqs.insert(
            req,
            ReqState {
                client: c,
                group,
                op,
            },
        );
        self.clients.clients[c as usize].guess.insert(group, node);
        if self.nodes[&node].up {
            let d = self.rng.range(1, 2);
            self.schedule(d, Ev::Req(node, req));
        }
        self.schedule(TIMEOUT_MS, Ev::ClientTimeout(c, req));
    }

    pub(super) fn on_response(&mut self, req: ReqId, reply: Reply) {
        let Some(st) = self.clients.reqs.remove(&req) else {
            return;
        };
        let c = st.client;
        let is_current = self.clients.clients[c as usize]
            .cur
            .as_ref()
            .is_some_and(|cur| cur.req == req);
        if !is_current {
            return;
        }
        let attempts = self.clients.clients[c as usize]
            .cur
            .as_ref()
            .map_or(0, |x| x.attempts);
        match reply {
            Reply::Written(_) | Reply::Value(_) => self.finish_op(c, Some(reply), true),
            // The write may have taken effect: its outcome is unknown.
            Reply::Ambiguous => self.finish_op(c, None, true),
            Reply::Redirect(hint) if attempts < ATTEMPTS_MAX => {
                let node = hint.and_then(|m| self.directory.get(&(st.group, m)).copied());
                let node = match node {
                    Some(n) => Some(n),
                    None => self.pick_node(st.group),
                };
                self.send_attempt(c, node);
            }
            Reply::WrongGroup if attempts < ATTEMPTS_MAX => {
                // The key moved in a split: look it up again.
                let key = op_key(st.op);
                let group = self.route(key);
                if let Some(cur) = self.clients.clients[c as usize].cur.as_mut() {
                    cur.group = group;
                }
                self.send_attempt(c, None);
            }
            Reply::Retry | Reply::NotCommitted if attempts < ATTEMPTS_MAX => {
                // Certainly no effect: try again elsewhere a little later.
                let node = self.pick_node(st.group);
                self.clients.clients[c as usize].guess.remove(&st.group);
                if let Some(n) = node {
                    self.clients.clients[c as usize].guess.insert(st.group, n);
                }
                self.send_attempt(c, node);
            }
            _ => self.finish_op(c, None, false),
        }
    }

    /// At the end of a run: writes still in flight may have taken effect
    /// (a read may even have seen them): their outcome is unknown.
    pub(super) fn close_pending_ops(&mut self) {
        for c in 0..self.clients.clients.len() as u64 {
            if let Some(cur) = self.clients.clients[c as usize].cur.take()
                && let ClientOp::Write(cmd) = cur.op
            {
                self.clients.ops_unknown += 1;
                self.clients.history.push(Recorded {
                    client: c,
                    key: cmd.key(),
                    op: cur.op,
                    output: None,
                    call: cur.call,
                    ret: u64::MAX,
                });
            }
        }
    }

    pub(super) fn on_client_timeout(&mut self, c: u64, req: ReqId) {
        let is_current = self.clients.clients[c as usize]
            .cur
            .as_ref()
            .is_some_and(|cur| cur.req == req);
        if is_current {
            self.clients.reqs.remove(&req);
            let group = self.clients.clients[c as usize]
                .cur
                .as_ref()
                .map(|x| x.group);
            if let Some(g) = group {
                self.clients.clients[c as usize].guess.remove(&g);
            }
            // The write may still commit: its outcome is unknown.
            self.finish_op(c, None, true);
        }
    }

    /// End the current operation. `reply`: its result; `None` with
    /// `maybe_effect`: unknown outcome; `None` without: certainly no effect.
    fn finish_op(&mut self, c: u64, reply: Option<Reply>, maybe_effect: bool) {
        let Some(cur) = self.clients.clients[c as usize].cur.take() else {
            return;
        };
        let now = self.now;
        let key = op_key(cur.op);
        match (&reply, cur.op) {
            (Some(Reply::Value(v)), ClientOp::EventualGet(_)) => {
                self.clients.eventual_reads.push((key, *v));
                self.clients.ops_ok += 1;
            }
            (Some(r), _) => {
                if let Reply::Value(v) = r {
                    self.clients.clients[c as usize].seen.insert(key, *v);
                }
                self.clients.ops_ok += 1;
                self.clients.history.push(Recorded {
                    client: c,
                    key,
                    op: cur.op,
                    output: Some(r.clone()),
                    call: cur.call,
                    ret: now,
                });
            }
            (None, ClientOp::Write(_)) if maybe_effect => {
                self.clients.ops_unknown += 1;
                self.clients.history.push(Recorded {
                    client: c,
                    key,
                    op: cur.op,
                    output: None,
                    call: cur.call,
                    ret: u64::MAX,
                });
            }
            _ => self.clients.ops_failed += 1,
        }
        let think = self.rng.range(0, 20);
        self.schedule(think, Ev::ClientWake(c));
    }
}
