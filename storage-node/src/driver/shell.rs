//! The daemon's driver loop: one tokio task owns every hosted group ([`GroupCore`] over a
//! [`PartitionSm`]) and carries out their work against the real engine, WAL and transport.
//!
//! One iteration: deliver due ticks (from the monotonic clock, missed ones first, capped at
//! two election timeouts), handle queued messages (item requests, inbound envelopes,
//! commands, completions), then [`Shell::settle`]: drive every touched group, commit all
//! staged applies of all groups in one engine commit (installs first, in log order), report
//! them visible, repeat until nothing is staged; start the WAL flush (one WAL batch for
//! every group's records plus the hard-state files: group commit across groups; up to
//! `flushes_in_flight_max` flushes in flight, carried out and reported in order by
//! `shell/flusher.rs`, the next accumulating meanwhile) and send the outbox.
//!
//! The engine's state of every group is exactly its `visible` index whenever a message is
//! handled (applies happen only inside `settle`), which is what lets reads, digests and
//! snapshots pin the engine at any point between iterations.
//!
//! Failure handling: a WAL or engine error is fatal (the WAL's fail-stop rule: never
//! acknowledge after a failed write); the shell reports it and stops, the process exits and
//! systemd restarts it. Every queue is bounded: the inbox (callers get `Busy`), proposals
//! (the core's uncommitted-entry limit), the outbox (the transport's per-peer queues).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};
use wire::control::{NodeCommand, NodeId, NodeInfo, ReplicaState};
use wire::forward::{DigestReply, ItemReply, ItemRequest, RangeRead};
use wire::replication::{Envelope, GroupId, LogIndex, MemberId, Message, Role};

mod flusher;
mod items;

use super::core::{CoreOut, GroupCore};
use super::outbox::Outbox;
use super::registry::{GroupRecord, Registry};
use super::store::{PendingFlush, Slot, Ticket};
use super::{DriverConfig, DriverStats, GroupStatus};
use crate::engine::{Apply, Engine, Install};
use crate::io::Disk;
use crate::partition::range::Plan;
use crate::partition::{Outcome, Ownership, PartitionSm, Staged};
use crate::replication::{Persisted, Replica};

/// A request answered when its entry is visible.
pub struct WriteWaiter {
    tx: oneshot::Sender<ItemReply>,
    /// The answer once the entry is applied (the old image, or an evaluated write's reply).
    on_applied: ItemReply,
    /// When it was proposed (for the commit latency histogram).
    since: Instant,
}

/// A linearizable read waiting for its read index to become visible.
pub enum ReadWaiter {
    Get {
        tx: oneshot::Sender<ItemReply>,
        key: Vec<u8>,
    },
    /// A write that needs the current item first (ReturnValues).
    Eval {
        tx: oneshot::Sender<ItemReply>,
        req: ItemRequest,
    },
    /// A consistent range read (Query, Scan), planned on the partition's range.
    Range {
        tx: oneshot::Sender<ItemReply>,
        read: RangeRead,
        plan: Plan,
    },
}

type Core = GroupCore<PartitionSm, WriteWaiter, ReadWaiter>;
type Out = CoreOut<Outcome, WriteWaiter, ReadWaiter>;

pub(super) struct Hosted {
    pub core: Core,
    pub record: GroupRecord,
    /// Member → node, from the partition description.
    pub peers: HashMap<MemberId, NodeId>,
    /// Last proposed index per key (removed once visible): an evaluating write reads only
    /// after every earlier proposal of its key is visible.
    inflight: HashMap<Vec<u8>, LogIndex>,
    /// Evaluating writes whose read index is visible but an earlier proposal is not yet.
    evals: Vec<(LogIndex, oneshot::Sender<ItemReply>, ItemRequest)>,
}

/// What the shell is asked to do.
pub enum ShellMsg {
    Item(ItemRequest, oneshot::Sender<ItemReply>),
    Digest(GroupId, oneshot::Sender<DigestReply>),
    /// Envelopes from a node whose certificate matched its id.
    Inbound(NodeId, Vec<Envelope>),
    Commands(Vec<NodeCommand>, oneshot::Sender<()>),
    Nodes(Vec<NodeInfo>),
    Me(NodeId),
    Status(oneshot::Sender<Vec<GroupStatus>>),
    Snapshot {
        group: GroupId,
        to: MemberId,
        index: LogIndex,
        data: Vec<u8>,
    },
    Checkpointed(Result<BTreeMap<Slot, LogIndex>, String>),
    Shutdown(oneshot::Sender<()>),
}

pub struct Shell<D: Disk> {
    cfg: DriverConfig,
    engine: Engine<D>,
    registry: Registry,
    groups: BTreeMap<GroupId, Hosted>,
    dirty: BTreeSet<GroupId>,
    store: PendingFlush,
    /// Flushes handed to the flusher, oldest first (they complete in this order).
    flushing: VecDeque<Ticket>,
    flusher: mpsc::Sender<flusher::FlushJob>,
    /// The flusher's completions: read before the inbox.
    completions: mpsc::Receiver<flusher::Completion>,
    flusher_done: Option<tokio::task::JoinHandle<()>>,
    outbox: Outbox,
    me: Option<NodeId>,
    inbox: mpsc::Receiver<ShellMsg>,
    self_tx: mpsc::Sender<ShellMsg>,
    last_heard: HashMap<NodeId, Instant>,
    started: Instant,
    ticks_delivered: u64,
    checkpointing: bool,
    applied_since_checkpoint: bool,
    last_checkpoint: Instant,
    /// WAL payload bytes handed to flushes since the last checkpoint started.
    wal_bytes_since_checkpoint: u64,
    last_ping: Instant,
    stats: Arc<DriverStats>,
    seed: u64,
}

impl<D: Disk + Clone> Shell<D> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        cfg: DriverConfig,
        engine: Engine<D>,
        registry: Registry,
        outbox: Outbox,
        inbox: mpsc::Receiver<ShellMsg>,
        self_tx: mpsc::Sender<ShellMsg>,
        stats: Arc<DriverStats>,
        seed: u64,
    ) -> Shell<D> {
        let now = Instant::now();
        let flusher::Flusher {
            jobs: flusher,
            done: completions,
            tasks: flusher_done,
        } = flusher::start(
            engine.clone(),
            registry.clone(),
            stats.clone(),
            cfg.flushes_in_flight_max,
        );
        Shell {
            cfg,
            engine,
            registry,
            groups: BTreeMap::new(),
            dirty: BTreeSet::new(),
            store: PendingFlush::new(),
            flushing: VecDeque::new(),
            flusher,
            completions,
            flusher_done: Some(flusher_done),
            outbox,
            me: None,
            inbox,
            self_tx,
            last_heard: HashMap::new(),
            started: now,
            ticks_delivered: 0,
            checkpointing: false,
            applied_since_checkpoint: false,
            last_checkpoint: now,
            wal_bytes_since_checkpoint: 0,
            last_ping: now,
            stats,
            seed,
        }
    }

    /// Starts a recovered or newly created group.
    pub(super) fn start_group(
        &mut self,
        record: GroupRecord,
        persisted: Persisted,
    ) -> Result<(), String> {
        let group = record.partition.id;
        self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let replica = Replica::new(
            record.member,
            group,
            self.cfg.settings.clone(),
            self.seed,
            persisted,
        )
        .map_err(|e| e.to_string())?;
        let sm = PartitionSm::new(Ownership {
            table: record.partition.table,
            range: record.partition.range,
        });
        let peers = record
            .partition
            .replicas
            .iter()
            .map(|r| (r.member, r.node))
            .collect();
        let core = GroupCore::new(replica, sm, Slot(record.slot));
        self.groups.insert(
            group,
            Hosted {
                core,
                record,
                peers,
                inflight: HashMap::new(),
                evals: Vec::new(),
            },
        );
        self.dirty.insert(group);
        Ok(())
    }

    /// Runs until shut down or a fatal storage error.
    pub(super) async fn run(mut self) -> Result<(), String> {
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.tick_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = tick.tick() => self.on_tick(),
                Some((t, r)) = self.completions.recv() => self.flushed(t, r).await?,
                msg = self.inbox.recv() => {
                    let Some(msg) = msg else { return Ok(()) };
                    if let Some(done) = self.handle(msg).await? {
                        self.shutdown().await;
                        let _ = done.send(());
                        return Ok(());
                    }
                    for _ in 0..self.cfg.inbox_batch_max {
                        // A completion that arrived meanwhile goes first.
                        if let Ok((t, r)) = self.completions.try_recv() {
                            self.flushed(t, r).await?;
                        }
                        let Ok(msg) = self.inbox.try_recv() else { break };
                        if let Some(done) = self.handle(msg).await? {
                            self.shutdown().await;
                            let _ = done.send(());
                            return Ok(());
                        }
                    }
                }
            }
            self.settle().await?;
        }
    }

    fn on_tick(&mut self) {
        let due = self.started.elapsed().as_millis() as u64 / self.cfg.tick_ms.max(1);
        let cap = 2 * u64::from(self.cfg.settings.election_ticks);
        let n = due.saturating_sub(self.ticks_delivered).min(cap);
        self.ticks_delivered = due;
        if n > 0 {
            for (g, h) in self.groups.iter_mut() {
                for _ in 0..n {
                    h.core.tick();
                }
                self.dirty.insert(*g);
            }
        }
        let now = Instant::now();
        if now.duration_since(self.last_ping) >= Duration::from_millis(self.cfg.ping_ms) {
            self.last_ping = now;
            self.ping_and_detect(now);
        }
        self.maybe_checkpoint(now);
    }

    /// Node-level liveness: every peer node hears from us at least every `ping_ms` (an
    /// empty batch), and a node not heard from for `peer_down_ms` is reported unreachable
    /// to the groups it leads, whose followers then campaign without waiting for their
    /// (possibly quiesced) election timers.
    fn ping_and_detect(&mut self, now: Instant) {
        let Some(me) = self.me else { return };
        let mut nodes: BTreeSet<NodeId> = BTreeSet::new();
        for h in self.groups.values() {
            nodes.extend(h.peers.values().copied().filter(|n| *n != me));
        }
        for n in &nodes {
            self.outbox.ping(*n);
        }
        let down_after = Duration::from_millis(self.cfg.peer_down_ms);
        if now.duration_since(self.started) < down_after {
            return;
        }
        for (g, h) in self.groups.iter_mut() {
            let Some(leader) = h.core.replica().leader_hint() else {
                continue;
            };
            let Some(node) = h.peers.get(&leader).copied() else {
                continue;
            };
            if node == me {
                continue;
            }
            let heard = self.last_heard.get(&node).copied().unwrap_or(self.started);
            if now.duration_since(heard) >= down_after {
                debug!(group = %g, node = %node, "leader's node unreachable");
                h.core.replica_mut().peer_unreachable(leader);
                self.dirty.insert(*g);
            }
        }
    }

    /// Starts a checkpoint when one is due (see [`DriverConfig::checkpoint_interval_ms`]).
    fn maybe_checkpoint(&mut self, now: Instant) {
        let due = now.duration_since(self.last_checkpoint)
            >= Duration::from_millis(self.cfg.checkpoint_interval_ms)
            || self.wal_bytes_since_checkpoint >= self.cfg.checkpoint_wal_bytes;
        if !self.checkpointing && self.applied_since_checkpoint && due {
            self.start_checkpoint();
        }
    }

    fn start_checkpoint(&mut self) {
        self.checkpointing = true;
        self.applied_since_checkpoint = false;
        self.last_checkpoint = Instant::now();
        self.wal_bytes_since_checkpoint = 0;
        let points: BTreeMap<Slot, LogIndex> = self
            .groups
            .values()
            .map(|h| (h.core.slot(), h.core.visible()))
            .collect();
        let engine = self.engine.clone();
        let tx = self.self_tx.clone();
        tokio::spawn(async move {
            let r = engine
                .checkpoint()
                .await
                .map(|_| points)
                .map_err(|e| e.to_string());
            let _ = tx.send(ShellMsg::Checkpointed(r)).await;
        });
    }

    /// Handles one message; `Some` = shut down now.
    async fn handle(&mut self, msg: ShellMsg) -> Result<Option<oneshot::Sender<()>>, String> {
        match msg {
            ShellMsg::Item(req, tx) => self.item(req, tx).await,
            ShellMsg::Digest(group, tx) => self.digest(group, tx),
            ShellMsg::Inbound(from, envs) => self.inbound(from, envs),
            ShellMsg::Commands(cmds, done) => {
                self.commands(cmds).await?;
                let _ = done.send(());
            }
            ShellMsg::Nodes(nodes) => self.outbox.learn(&nodes),
            ShellMsg::Me(id) => {
                self.me = Some(id);
                self.outbox.set_me(id);
            }
            ShellMsg::Status(tx) => {
                let _ = tx.send(self.status());
            }
            ShellMsg::Snapshot {
                group,
                to,
                index,
                data,
            } => {
                if let Some(h) = self.groups.get_mut(&group) {
                    h.core.replica_mut().send_snapshot_at(to, index, data);
                    self.stats.snapshots_sent.inc();
                    self.dirty.insert(group);
                }
            }
            ShellMsg::Checkpointed(r) => {
                let points = r.map_err(|e| format!("checkpoint failed: {e}"))?;
                self.checkpointing = false;
                for h in self.groups.values_mut() {
                    if let Some(&p) = points.get(&h.core.slot()) {
                        let upto = p.saturating_sub(self.cfg.log_retain_entries);
                        if upto > 0 {
                            h.core.replica_mut().compact(upto);
                        }
                    }
                }
            }
            ShellMsg::Shutdown(done) => return Ok(Some(done)),
        }
        Ok(None)
    }

    /// Flush `t` (and every earlier one) is durable: the groups waiting for it go on.
    async fn flushed(&mut self, t: Ticket, r: Result<(), String>) -> Result<(), String> {
        r.map_err(|e| format!("WAL flush failed: {e}"))?;
        assert_eq!(
            self.flushing.pop_front(),
            Some(t),
            "flushes complete in order"
        );
        let mut out = Out::default();
        let ids: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, h)| h.core.waiting_for().is_some_and(|w| w <= t))
            .map(|(g, _)| *g)
            .collect();
        for g in ids {
            let h = self.groups.get_mut(&g).expect("listed");
            h.core.persisted(t, &mut self.store, &mut out);
            self.process(g, &mut out).await?;
            self.dirty.insert(g);
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        for (_, h) in std::mem::take(&mut self.groups) {
            let (writes, reads) = h.core.into_waiters();
            for w in writes {
                let _ = w.tx.send(ItemReply::Ambiguous);
            }
            for r in reads {
                let tx = match r {
                    ReadWaiter::Get { tx, .. }
                    | ReadWaiter::Eval { tx, .. }
                    | ReadWaiter::Range { tx, .. } => tx,
                };
                let _ = tx.send(ItemReply::Busy);
            }
        }
        if let Err(e) = self.engine.checkpoint().await {
            warn!(error = %e, "final checkpoint failed");
        }
        // Close the flusher and wait for its tasks (they hold the engine); bounded, in case
        // the completer is blocked on a completion channel nobody reads any more.
        self.flusher = mpsc::channel(1).0;
        if let Some(done) = self.flusher_done.take()
            && tokio::time::timeout(Duration::from_secs(5), done)
                .await
                .is_err()
        {
            warn!("WAL flusher did not stop within 5 s");
        }
        // Stop the WAL's writer and segment maintenance: a stopped driver leaves no task
        // touching its directory (a node reopened on the same directory would otherwise
        // race the old maintenance task's segment creation).
        if let Err(e) = self.engine.wal().clone().shutdown().await {
            warn!(error = %e, "WAL shutdown reported a failure");
        }
    }

    fn status(&self) -> Vec<GroupStatus> {
        self.groups
            .values()
            .map(|h| {
                let r = h.core.replica();
                let s = r.status();
                GroupStatus {
                    state: ReplicaState {
                        group: h.record.partition.id,
                        member: h.record.member,
                        role: r.membership().role(r.id()).unwrap_or(Role::Full),
                        is_leader: r.is_leader(),
                        ballot: s.ballot,
                        commit_index: s.commit,
                        applied_index: h.core.visible(),
                    },
                    table: h.record.partition.table,
                    range: h.record.partition.range,
                    leader_node: r.leader_hint().and_then(|m| h.peers.get(&m).copied()),
                }
            })
            .collect()
    }

    fn inbound(&mut self, from: NodeId, envs: Vec<Envelope>) {
        self.last_heard.insert(from, Instant::now());
        for env in envs {
            let Some(h) = self.groups.get_mut(&env.group) else {
                self.stats.envelopes_dropped.inc();
                continue;
            };
            if env.to != h.record.member || h.peers.get(&env.from) != Some(&from) {
                self.stats.envelopes_dropped.inc();
                warn!(group = %env.group, from = %from, "envelope from a node that does not host its sender: dropped");
                continue;
            }
            if let Message::Snapshot { data, .. } = &env.msg
                && !data.is_empty()
                && let Err(e) = super::snapshot::check(data, &h.core.sm().ownership)
            {
                self.stats.envelopes_dropped.inc();
                warn!(group = %env.group, error = %e, "bad snapshot data: dropped");
                continue;
            }
            self.dirty.insert(env.group);
            h.core.step(env);
        }
    }

    async fn commands(&mut self, cmds: Vec<NodeCommand>) -> Result<(), String> {
        for cmd in cmds {
            match cmd {
                NodeCommand::CreateReplica {
                    partition,
                    member,
                    bootstrap,
                } => {
                    if let Some(h) = self.groups.get(&partition.id) {
                        if h.record.member == member {
                            continue;
                        }
                        let old = h.record.member;
                        self.drop_group(partition.id, old).await?;
                    }
                    let slot = self.registry.allocate_slot().map_err(|e| e.to_string())?;
                    let record = GroupRecord {
                        slot: slot.0,
                        member,
                        bootstrap,
                        partition,
                    };
                    self.registry
                        .put_record(&record)
                        .map_err(|e| e.to_string())?;
                    let membership = super::recovery::initial_membership(&record)?;
                    let persisted = if bootstrap {
                        Persisted::new_group(membership)
                    } else {
                        Persisted::joining(membership)
                    };
                    info!(group = %record.partition.id, member = %member, bootstrap, "replica created");
                    self.start_group(record, persisted)?;
                }
                NodeCommand::DropReplica { group, member } => {
                    self.drop_group(group, member).await?;
                }
            }
        }
        Ok(())
    }

    async fn drop_group(&mut self, group: GroupId, member: MemberId) -> Result<(), String> {
        if self.groups.get(&group).map(|h| h.record.member) != Some(member) {
            return Ok(());
        }
        let h = self.groups.remove(&group).expect("checked");
        self.dirty.remove(&group);
        let slot = h.core.slot();
        let range = h.core.sm().ownership.key_range();
        let (writes, reads) = h.core.into_waiters();
        for w in writes {
            let _ = w.tx.send(ItemReply::Ambiguous);
        }
        for r in reads {
            let (ReadWaiter::Get { tx, .. }
            | ReadWaiter::Eval { tx, .. }
            | ReadWaiter::Range { tx, .. }) = r;
            let _ = tx.send(ItemReply::NotHere);
        }
        for (_, tx, _) in h.evals {
            let _ = tx.send(ItemReply::NotHere);
        }
        self.store.records.retain(|r| r.partition != slot.0);
        self.store.hard.remove(&slot);
        self.engine
            .drop_partition(slot.0, &range)
            .await
            .map_err(|e| format!("dropping group {group}: {e}"))?;
        self.registry.remove(slot).map_err(|e| e.to_string())?;
        info!(group = %group, member = %member, "replica dropped");
        Ok(())
    }

    /// Carries out the cores' outputs for group `g`.
    /// Drives touched groups and commits their staged work until nothing is left; then
    /// starts the next WAL flush and sends the outbox.
    async fn settle(&mut self) -> Result<(), String> {
        for _round in 0..64 {
            let mut out = Out::default();
            for g in std::mem::take(&mut self.dirty) {
                if let Some(h) = self.groups.get_mut(&g) {
                    h.core.drive(&mut self.store, &mut out);
                    self.process(g, &mut out).await?;
                }
            }
            let staged: Vec<GroupId> = self
                .groups
                .iter()
                .filter(|(_, h)| h.core.sm().has_staged())
                .map(|(g, _)| *g)
                .collect();
            if staged.is_empty() && self.dirty.is_empty() {
                break;
            }
            if !staged.is_empty() {
                self.commit_staged(&staged).await?;
                for g in staged {
                    let h = self.groups.get_mut(&g).expect("listed");
                    h.core.visible_moved(&mut self.store, &mut out);
                    self.process(g, &mut out).await?;
                }
            }
        }
        self.maybe_flush()?;
        self.outbox.flush();
        Ok(())
    }

    async fn commit_staged(&mut self, staged: &[GroupId]) -> Result<(), String> {
        let mut plain: Vec<(u64, Vec<Staged>)> = Vec::new();
        for g in staged {
            let h = self.groups.get_mut(g).expect("listed");
            let slot = h.core.slot().0;
            let work = h.core.sm_mut().take_staged();
            if work.iter().any(|s| matches!(s, Staged::Install { .. })) {
                let range = h.core.sm().ownership.key_range();
                // In log order: applies before the install, the install, applies after.
                let mut run: Vec<Staged> = Vec::new();
                for s in work {
                    match s {
                        Staged::Install {
                            meta,
                            items,
                            membership,
                        } => {
                            self.apply_run(vec![(slot, std::mem::take(&mut run))])
                                .await?;
                            self.engine
                                .install_snapshot(Install {
                                    partition: slot,
                                    range: &range,
                                    items: &items,
                                    index: meta.index,
                                    ballot: meta.ballot.0,
                                    membership: &membership,
                                })
                                .await
                                .map_err(|e| format!("snapshot install of {g}: {e}"))?;
                            self.stats.snapshots_installed.inc();
                            info!(group = %g, index = meta.index, items = items.len(), "snapshot installed");
                        }
                        s => run.push(s),
                    }
                }
                self.apply_run(vec![(slot, run)]).await?;
            } else {
                plain.push((slot, work));
            }
        }
        self.apply_run(plain).await
    }

    async fn apply_run(&mut self, work: Vec<(u64, Vec<Staged>)>) -> Result<(), String> {
        let mut applies: Vec<Apply<'_>> = Vec::new();
        for (slot, list) in &work {
            for s in list {
                if let Staged::Apply {
                    index,
                    ballot,
                    batch,
                    membership,
                } = s
                {
                    applies.push(Apply {
                        partition: *slot,
                        index: *index,
                        ballot: *ballot,
                        batch,
                        membership: membership.as_deref(),
                    });
                }
            }
        }
        if applies.is_empty() {
            return Ok(());
        }
        self.stats.applied_entries.add(applies.len() as u64);
        self.applied_since_checkpoint = true;
        let started = Instant::now();
        let r = self
            .engine
            .apply(&applies)
            .await
            .map_err(|e| format!("engine apply failed: {e}"));
        self.stats.apply.observe(started.elapsed());
        r
    }

    fn maybe_flush(&mut self) -> Result<(), String> {
        if self.flushing.len() >= self.cfg.flushes_in_flight_max || !self.store.wanted {
            return Ok(());
        }
        let (ticket, records, hard) = self.store.take();
        self.stats.flushes.inc();
        self.stats.flushed_records.add(records.len() as u64);
        self.wal_bytes_since_checkpoint +=
            records.iter().map(|r| r.payload.len() as u64).sum::<u64>();
        let job = flusher::FlushJob {
            ticket,
            records,
            hard,
        };
        // Capacity is `flushes_in_flight_max` and fewer are in flight: never full. Closed
        // only if the flusher's tasks ended (the runtime is shutting down): fatal, nothing
        // could become durable any more.
        self.flusher
            .try_send(job)
            .map_err(|e| format!("WAL flusher unavailable: {e}"))?;
        self.flushing.push_back(ticket);
        Ok(())
    }
}
