//! The item side of the shell: requests for one item (reads at the leader under its lease
//! or from this replica, writes proposed blind or after reading the old image), their
//! answers once effects are visible, digests, and snapshots for lagging members. The loop,
//! persistence and engine commits are in `shell.rs`.

use std::time::Instant;

use crate::btree::Direction;
use tokio::sync::oneshot;
use tracing::error;
use wire::control::NodeId;
use wire::forward::{DigestReply, ItemOp, ItemReply, ItemRequest, RangeRead};
use wire::replication::{GroupId, MemberId, Role};

use super::{Hosted, Out, ReadWaiter, Shell, ShellMsg, WriteWaiter};
use crate::driver::core::{Refused, WriteDone};
use crate::engine::Engine;
use crate::io::Disk;
use crate::partition::eval::{self, Decision};
use crate::partition::range::{self, PageBuilder, Plan};
use crate::partition::{Command, Outcome};

impl<D: Disk + Clone> Shell<D> {
    pub(super) fn leader_node(h: &Hosted) -> Option<NodeId> {
        h.core
            .replica()
            .leader_hint()
            .and_then(|m| h.peers.get(&m).copied())
    }

    pub(super) async fn item(&mut self, req: ItemRequest, tx: oneshot::Sender<ItemReply>) {
        let Some(h) = self.groups.get_mut(&req.group) else {
            let _ = tx.send(ItemReply::NotHere);
            return;
        };
        if !h.core.sm().ownership.owns(&req.key) {
            let _ = tx.send(ItemReply::WrongGroup);
            return;
        }
        let leader = h.core.replica().is_leader();
        let eventual = matches!(
            &req.op,
            ItemOp::Get { consistent: false }
                | ItemOp::Range(RangeRead {
                    consistent: false,
                    ..
                })
        );
        if eventual {
            // Any full replica that has applied something (or was bootstrapped empty).
            let r = h.core.replica();
            let serving = r.membership().role(r.id()) == Some(Role::Full)
                && (h.core.visible() > 0 || h.record.bootstrap);
            if !serving {
                let _ = tx.send(ItemReply::Busy);
                return;
            }
            self.stats.reads_eventual.inc();
        }
        match &req.op {
            ItemOp::Get { consistent: false } => spawn_get(self.engine.clone(), req.key, tx),
            ItemOp::Range(read) if !read.consistent => {
                let plan = range::plan(read, &h.core.sm().ownership.key_range());
                spawn_range(self.engine.clone(), read.clone(), plan, tx);
            }
            _ if !leader => {
                let _ = tx.send(ItemReply::NotLeader {
                    leader: Self::leader_node(h),
                });
            }
            ItemOp::Get { consistent: true } => {
                h.core.read(ReadWaiter::Get { tx, key: req.key });
                self.dirty.insert(req.group);
            }
            ItemOp::Range(read) => {
                let plan = range::plan(read, &h.core.sm().ownership.key_range());
                h.core.read(ReadWaiter::Range {
                    tx,
                    read: read.clone(),
                    plan,
                });
                self.dirty.insert(req.group);
            }
            ItemOp::Put {
                return_old: true, ..
            }
            | ItemOp::Delete { return_old: true }
            | ItemOp::Eval(_) => {
                let g = req.group;
                h.core.read(ReadWaiter::Eval { tx, req });
                self.dirty.insert(g);
            }
            ItemOp::Put { item, .. } => {
                let cmd = Command::Put {
                    key: req.key.clone(),
                    value: item.clone(),
                };
                self.propose(req.group, req.key, cmd, tx, ItemReply::Ok(None));
            }
            ItemOp::Delete { .. } => {
                let cmd = Command::Delete {
                    key: req.key.clone(),
                };
                self.propose(req.group, req.key, cmd, tx, ItemReply::Ok(None));
            }
        }
    }

    /// Proposes `cmd` (a write of `key`) in group `g`; `on_applied` answers `tx` once the
    /// entry is applied.
    pub(super) fn propose(
        &mut self,
        g: GroupId,
        key: Vec<u8>,
        cmd: Command,
        tx: oneshot::Sender<ItemReply>,
        on_applied: ItemReply,
    ) {
        let Some(h) = self.groups.get_mut(&g) else {
            let _ = tx.send(ItemReply::NotHere);
            return;
        };
        let waiter = WriteWaiter {
            tx,
            on_applied,
            since: Instant::now(),
        };
        match h.core.propose(cmd.encode(), waiter) {
            Ok(index) => {
                h.inflight.insert(key, index);
                self.stats.proposals.inc();
            }
            Err((w, Refused::NotLeader(_))) => {
                let _ = w.tx.send(ItemReply::NotLeader {
                    leader: Self::leader_node(h),
                });
            }
            Err((w, Refused::Retry)) => {
                let _ = w.tx.send(ItemReply::Busy);
            }
        }
        self.dirty.insert(g);
    }

    pub(super) fn digest(&mut self, group: GroupId, tx: oneshot::Sender<DigestReply>) {
        let Some(h) = self.groups.get(&group) else {
            let _ = tx.send(DigestReply::NotHere);
            return;
        };
        let applied = h.core.visible();
        let range = h.core.sm().ownership.key_range();
        let snap = self.engine.snapshot();
        tokio::spawn(async move {
            match crate::driver::snapshot::digest(&snap, &range).await {
                Ok((items, digest)) => {
                    let _ = tx.send(DigestReply::Digest {
                        applied,
                        items,
                        digest,
                    });
                }
                Err(e) => error!(error = %e, "digest scan failed"),
            }
        });
    }

    pub(super) async fn process(&mut self, g: GroupId, out: &mut Out) -> Result<(), String> {
        let Some(h) = self.groups.get_mut(&g) else {
            return Ok(());
        };
        for env in out.send.drain(..) {
            if let Some(node) = h.peers.get(&env.to).copied() {
                self.outbox.push(node, env);
            }
        }
        for (w, done) in out.writes.drain(..) {
            self.stats.commit.observe(w.since.elapsed());
            let reply = match done {
                WriteDone::Applied(Outcome::Applied) => w.on_applied,
                WriteDone::Applied(Outcome::WrongGroup) => ItemReply::WrongGroup,
                WriteDone::NotCommitted => ItemReply::NotCommitted,
                WriteDone::Unknown => ItemReply::Ambiguous,
            };
            let _ = w.tx.send(reply);
        }
        let visible = h.core.visible();
        h.inflight.retain(|_, i| *i > visible);
        for (r, why) in out.reads_failed.drain(..) {
            let (ReadWaiter::Get { tx, .. }
            | ReadWaiter::Eval { tx, .. }
            | ReadWaiter::Range { tx, .. }) = r;
            let _ = tx.send(match why {
                Refused::NotLeader(_) => ItemReply::NotLeader {
                    leader: Self::leader_node(h),
                },
                Refused::Retry => ItemReply::Busy,
            });
        }
        let mut evals = Vec::new();
        for r in out.reads.drain(..) {
            match r {
                ReadWaiter::Get { tx, key } => spawn_get(self.engine.clone(), key, tx),
                ReadWaiter::Range { tx, read, plan } => {
                    spawn_range(self.engine.clone(), read, plan, tx)
                }
                ReadWaiter::Eval { tx, req } => {
                    let need = h.inflight.get(&req.key).copied().unwrap_or(0);
                    h.evals.push((need, tx, req));
                }
            }
        }
        // Evaluating writes whose key has no proposal still invisible: read and propose now
        // (nothing else runs in the shell between the read and the proposal).
        let mut i = 0;
        while i < h.evals.len() {
            if h.evals[i].0 <= visible {
                evals.push(h.evals.swap_remove(i));
            } else {
                i += 1;
            }
        }
        let wanted: Vec<MemberId> = out.snapshots_wanted.drain(..).collect();
        if !wanted.is_empty() {
            let range = h.core.sm().ownership.key_range();
            let index = h.core.visible();
            for to in wanted {
                let snap = self.engine.snapshot();
                let tx = self.self_tx.clone();
                let range = range.clone();
                tokio::spawn(async move {
                    match crate::driver::snapshot::build(&snap, &range).await {
                        Ok(data) => {
                            let _ = tx
                                .send(ShellMsg::Snapshot {
                                    group: g,
                                    to,
                                    index,
                                    data,
                                })
                                .await;
                        }
                        Err(e) => error!(group = %g, error = %e, "snapshot not sent"),
                    }
                });
            }
        }
        for (_, tx, req) in evals {
            // An earlier evaluated write of this batch proposed the same key and is not
            // visible yet: reading now would miss it (a lost update). Wait for it.
            if let Some(h) = self.groups.get_mut(&g)
                && let Some(&pending) = h.inflight.get(&req.key)
                && pending > visible
            {
                h.evals.push((pending, tx, req));
                continue;
            }
            let old = self
                .engine
                .get(&req.key)
                .await
                .map_err(|e| format!("engine read failed: {e}"))?;
            let (cmd, on_applied) = match req.op {
                ItemOp::Eval(w) => match eval::evaluate(&req.key, &w, old.as_deref()) {
                    Ok(Decision::Propose { command, reply }) => (command, reply),
                    Ok(Decision::Reply(reply)) => {
                        let _ = tx.send(reply);
                        continue;
                    }
                    Err(e) => {
                        error!(group = %g, error = %e, "write not evaluated");
                        let _ = tx.send(ItemReply::Busy);
                        continue;
                    }
                },
                ItemOp::Put { item, .. } => (
                    Command::Put {
                        key: req.key.clone(),
                        value: item,
                    },
                    ItemReply::Ok(old),
                ),
                ItemOp::Delete { .. } => (
                    Command::Delete {
                        key: req.key.clone(),
                    },
                    ItemReply::Ok(old),
                ),
                ItemOp::Get { .. } | ItemOp::Range(_) => {
                    unreachable!("reads are not evaluated writes")
                }
            };
            self.propose(g, req.key, cmd, tx, on_applied);
        }
        Ok(())
    }
}

/// Reads `key` from the engine (which shows at least every group's visible index) and
/// answers `tx`.
fn spawn_get<D: Disk>(engine: Engine<D>, key: Vec<u8>, tx: oneshot::Sender<ItemReply>) {
    tokio::spawn(async move {
        let reply = match engine.get(&key).await {
            Ok(v) => ItemReply::Ok(v),
            Err(e) => {
                error!(error = %e, "engine read failed");
                ItemReply::Busy
            }
        };
        let _ = tx.send(reply);
    });
}

/// Reads one page of `plan` from the engine (which shows at least every group's visible
/// index) and answers `tx`.
fn spawn_range<D: Disk>(
    engine: Engine<D>,
    read: RangeRead,
    plan: Plan,
    tx: oneshot::Sender<ItemReply>,
) {
    tokio::spawn(async move {
        let dir = if plan.reverse {
            Direction::Backward
        } else {
            Direction::Forward
        };
        let mut cur = engine
            .snapshot()
            .range(plan.lower.clone(), plan.upper.clone(), dir);
        let mut page = PageBuilder::new(&read);
        let reply = loop {
            match cur.advance().await {
                Ok(true) => {
                    if page.push(cur.value()) {
                        break None;
                    }
                }
                Ok(false) => break None,
                Err(e) => break Some(e),
            }
        };
        let reply = match reply {
            None => {
                let (items, end) = page.finish(&plan);
                ItemReply::Page { items, end }
            }
            Some(e) => {
                error!(error = %e, "range read failed");
                ItemReply::Busy
            }
        };
        let _ = tx.send(reply);
    });
}
