//! The host (and so the daemon's group core under it) on three members
//! wired by hand, without the world: each step is scripted, syncs complete
//! at once, and one member can be cut off the network.
//!
//! Story: a leader proposes a write; the followers store it and it commits
//! under their new leader, but the old leader, cut off, hears nothing. The
//! new leader compacts its log; after healing the old leader catches up by
//! a snapshot that covers the write's index. It must answer its client
//! `Ambiguous`: the write did take effect (its own state shows it), so
//! "not committed" would be a lie.

use std::collections::VecDeque;

use wire::replication::{Envelope, GroupId, MemberId, Membership, Payload};

use super::host::{Host, Out, Reply, ReqId};
use super::kv::{Command, Kv};
use super::store::SimStore;
use crate::replication::{Replica, Settings};
use crate::rng::for_each_seed;

const G: GroupId = GroupId(0);
const REQ: ReqId = 1;

struct Member {
    id: MemberId,
    host: Host,
    store: SimStore,
}

struct Three {
    ms: Vec<Member>,
    queue: VecDeque<Envelope>,
    /// Messages from or to this member are lost.
    cut: Option<MemberId>,
    replies: Vec<(MemberId, ReqId, Reply)>,
    applied: Vec<(MemberId, wire::replication::Entry)>,
}

impl Three {
    fn new(seed: u64) -> Three {
        let ids = [MemberId(1), MemberId(2), MemberId(3)];
        let membership = Membership::full(&ids).expect("three members");
        let ms = ids
            .iter()
            .map(|&id| {
                let mut store = SimStore::new_group(membership.clone());
                let p = store.recover().persisted;
                let replica = Replica::new(id, G, Settings::default(), seed ^ id.0, p)
                    .expect("valid settings");
                Member {
                    id,
                    host: Host::new(replica, Kv::new(0, 100)),
                    store,
                }
            })
            .collect();
        Three {
            ms,
            queue: VecDeque::new(),
            cut: None,
            replies: Vec::new(),
            applied: Vec::new(),
        }
    }

    /// Runs `f` on member `i`, syncs at once, queues what it sends.
    fn call(&mut self, i: usize, f: impl FnOnce(&mut Host, &mut SimStore, &mut Out)) {
        let m = &mut self.ms[i];
        let mut out = Out::default();
        f(&mut m.host, &mut m.store, &mut out);
        m.host.drive(&mut m.store, &mut out);
        while out.syncs > 0 {
            out.syncs -= 1;
            m.host.sync_done(&mut m.store, &mut out);
        }
        for env in out.send {
            if self.cut != Some(env.from) && self.cut != Some(env.to) {
                self.queue.push_back(env);
            }
        }
        let id = m.id;
        self.replies
            .extend(out.replies.into_iter().map(|(r, x)| (id, r, x)));
        self.applied
            .extend(out.applied.into_iter().map(|e| (id, e)));
    }

    fn deliver_all(&mut self) {
        let mut budget = 100_000;
        while let Some(env) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "messages never settle");
            if self.cut == Some(env.to) {
                continue;
            }
            let i = self.ms.iter().position(|m| m.id == env.to).expect("member");
            self.call(i, |h, _, _| h.replica_mut().step(env));
        }
    }

    fn tick_all(&mut self) {
        for i in 0..3 {
            self.call(i, |h, _, _| h.replica_mut().tick());
        }
        self.deliver_all();
    }

    /// Ticks until a member other than `not` leads with its first entry
    /// committed; returns its position.
    fn leader_other_than(&mut self, not: Option<usize>) -> usize {
        for _ in 0..1_000 {
            self.tick_all();
            let found = (0..3).filter(|&i| Some(i) != not).find(|&i| {
                let r = self.ms[i].host.replica();
                r.is_leader() && r.status().commit >= r.status().last_index
            });
            if let Some(i) = found {
                return i;
            }
        }
        panic!("no leader elected");
    }
}

#[test]
fn a_write_covered_by_a_snapshot_is_ambiguous_not_uncommitted() {
    for_each_seed(
        "sim::host_tests::a_write_covered_by_a_snapshot_is_ambiguous_not_uncommitted",
        20,
        |seed| {
            let mut t = Three::new(seed);
            let old = t.leader_other_than(None);
            let old_id = t.ms[old].id;
            let cmd = Command::Put { key: 7, value: 42 };
            t.call(old, |h, _, out| h.write(REQ, cmd, out));
            assert!(t.replies.is_empty(), "refused at once: {:?}", t.replies);
            let (index, ballot) = {
                let r = t.ms[old].host.replica();
                (r.status().last_index, r.status().ballot)
            };
            // The appends are on their way; the followers' answers will not
            // come back.
            t.cut = Some(old_id);
            t.deliver_all();
            let new = t.leader_other_than(Some(old));
            let committed = t.applied.iter().any(|(m, e)| {
                *m != old_id
                    && e.index == index
                    && e.ballot == ballot
                    && e.payload == Payload::Command(cmd.encode())
            });
            assert!(committed, "the write committed under the new leader");
            for i in (0..3).filter(|&i| i != old) {
                t.call(i, |h, s, out| h.checkpoint(s, out));
            }
            let compacted = t.ms[new].host.replica().status().snapshot_index;
            assert!(compacted > index, "compacted to {compacted} only");
            assert!(
                t.replies.is_empty(),
                "the old leader answered while cut off"
            );
            t.cut = None;
            for _ in 0..200 {
                if !t.replies.is_empty() {
                    break;
                }
                t.tick_all();
            }
            assert_eq!(t.replies, vec![(old_id, REQ, Reply::Ambiguous)]);
            assert_eq!(
                t.ms[old].host.kv().get(7),
                Some(42),
                "the write took effect"
            );
            assert!(t.ms[new].host.replica().is_leader());
        },
    );
}
