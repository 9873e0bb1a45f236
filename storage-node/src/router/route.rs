//! The redirect loop (design-driver §3.2, §3.3): one routed item request, from the cached
//! partition to an answer, bounded by `request_deadline_ms` and `route_attempts_max`.
//!
//! Per attempt: pick a target node, run the request there (this node: `LocalItems`
//! directly; another: an `ItemRequest` frame over `Transport::call` with
//! `min(remaining, forward_timeout_ms)`), and act on the reply:
//! - `Ok` → done (a leader-path success teaches the leader cache);
//! - `NotLeader{Some(n)}` → retry at `n` at once;
//! - `NotLeader{None}`, `Busy`, a call error → backoff `min(20·2^k, 250)` ms, next replica;
//!   a node that timed out or could not be reached is *suspect* for `node_suspect_ms` and
//!   tried last (a `kill -9`'d node just never answers, so this is what bounds failover);
//! - `WrongGroup`, `NotHere` → forget the partition, awaited lookup, retry;
//! - `NotCommitted` → certainly no effect: retry;
//! - `Ambiguous` → stop: the write's fate is unknown.
//!
//! Eventual reads (GetItem and range reads without ConsistentRead) go to a `Full` replica in this node's AZ (this node first) and fall back
//! to the leader path on anything but `Ok`.
//!
//! Leader path order: the cached leader (default: `replicas[0]`, the preferred leader), then
//! the other `Full` replicas in preferred order; suspects last; replicas already tried in this
//! round skipped until all were.

use std::time::{Duration, Instant};

use tracing::debug;
use wire::control::{NodeId, NodeInfo, PartitionDesc};
use wire::forward::{DigestReply, DigestRequest, ItemOp, ItemReply, ItemRequest};
use wire::frame::{self, CheckedFrame};
use wire::replication::{GroupId, Role};

use crate::transport::CallError;

use super::{Inner, ItemCall, RouteError, bump, lock};

/// Why an attempt got no reply.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("call: {0}")]
    Call(CallError),
    /// The local execution did not answer in time.
    #[error("local execution timed out")]
    LocalTimeout,
    #[error("bad reply: {0}")]
    BadReply(frame::FrameError),
    /// The target is not in the node directory (no address).
    #[error("node {0} is not in the directory")]
    UnknownNode(NodeId),
}

impl AttemptError {
    /// The request may have reached the target (a write may have been applied).
    fn maybe_delivered(&self) -> bool {
        matches!(
            self,
            AttemptError::Call(CallError::Timeout | CallError::Connection(_) | CallError::NoReply)
                | AttemptError::LocalTimeout
                | AttemptError::BadReply(_)
        )
    }

    /// The target looks dead or unreachable.
    fn makes_suspect(&self) -> bool {
        matches!(
            self,
            AttemptError::Call(
                CallError::Timeout | CallError::Connection(_) | CallError::UnknownPeer(_)
            ) | AttemptError::UnknownNode(_)
        )
    }
}

/// Per-request loop state.
struct Attempts {
    deadline: Instant,
    made: u32,
    backoffs: u32,
    /// Replicas tried (and failed) on the leader path since the last success of a lookup.
    tried: Vec<NodeId>,
    /// Some write attempt may have been applied.
    maybe_applied: bool,
    last_failure: String,
}

impl Attempts {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

impl Inner {
    pub(crate) async fn route(&self, table: &str, call: ItemCall) -> Result<ItemReply, RouteError> {
        let is_write = !matches!(call.op, ItemOp::Get { .. } | ItemOp::Range(_));
        let eventual_op = match &call.op {
            ItemOp::Get { consistent } => !consistent,
            ItemOp::Range(r) => !r.consistent,
            _ => false,
        };
        // Still trying the in-AZ replica (cleared on the first fallback to the leader path).
        let mut eventual = eventual_op;
        let mut st = Attempts {
            deadline: Instant::now() + Duration::from_millis(self.cfg.request_deadline_ms),
            made: 0,
            backoffs: 0,
            tried: Vec::new(),
            maybe_applied: false,
            last_failure: "no attempt made".to_owned(),
        };
        // A redirect target named by the last reply.
        let mut hinted: Option<NodeId> = None;
        while st.made < self.cfg.route_attempts_max && !st.remaining().is_zero() {
            let remaining = st.remaining();
            let part = match tokio::time::timeout(remaining, self.resolve(table, call.hash)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    st.last_failure = "routing lookup did not finish in time".to_owned();
                    break;
                }
            };
            st.made += 1;
            let in_az_target = if eventual {
                self.eventual_target(&part)
            } else {
                None
            };
            if in_az_target.is_none() {
                eventual = false;
            }
            let target = match (in_az_target, hinted.take()) {
                (Some(t), _) => t,
                (None, Some(h)) => h,
                (None, None) => self.leader_target(&part, &mut st.tried),
            };
            let timeout = st
                .remaining()
                .min(Duration::from_millis(self.cfg.forward_timeout_ms));
            let req = ItemRequest {
                group: part.id,
                epoch: part.epoch,
                key: call.key.clone(),
                hash: call.hash,
                op: call.op.clone(),
                deadline_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
            };
            let reply = self.attempt(target, req, timeout).await;
            match reply {
                Ok(
                    reply @ (ItemReply::Ok(_)
                    | ItemReply::Written { .. }
                    | ItemReply::ConditionFailed { .. }
                    | ItemReply::Invalid(_)
                    | ItemReply::Page { .. }),
                ) => {
                    self.clear_suspect(target);
                    if eventual {
                        // eventual_target only picks replicas in this node's AZ.
                        bump(&self.stats.eventual_in_az);
                    }
                    if !eventual_op {
                        // Any replica answers an eventual read: only the others prove
                        // leadership.
                        self.set_leader(part.id, target);
                    }
                    return Ok(reply);
                }
                Ok(ItemReply::NotLeader { leader }) => {
                    bump(&self.stats.redirects);
                    self.clear_suspect(target);
                    self.forget_leader(part.id, target);
                    eventual = false;
                    st.tried.push(target);
                    match leader {
                        // A hint back to a node already tried (two nodes naming each other
                        // during an election) is followed only after a backoff.
                        Some(n) if !st.tried.contains(&n) && self.node(n).is_some() => {
                            self.set_leader(part.id, n);
                            hinted = Some(n);
                        }
                        _ => {
                            st.last_failure = format!("{target}: no leader known");
                            self.backoff(&mut st).await;
                        }
                    }
                }
                Ok(ItemReply::WrongGroup | ItemReply::NotHere) => {
                    bump(&self.stats.wrong_group);
                    self.clear_suspect(target);
                    if eventual {
                        // A lagging replica: the leader path decides.
                        eventual = false;
                        continue;
                    }
                    st.last_failure = format!("{target}: partition {} not owned", part.id);
                    lock(&self.cache).remove_partition(table, part.id);
                    self.forget_leader(part.id, target);
                    st.tried.clear();
                    if st.made > 1 {
                        self.backoff(&mut st).await;
                    }
                }
                Ok(ItemReply::Busy) => {
                    bump(&self.stats.errors);
                    st.last_failure = format!("{target}: busy");
                    if eventual {
                        eventual = false;
                        continue;
                    }
                    st.tried.push(target);
                    self.backoff(&mut st).await;
                }
                Ok(ItemReply::NotCommitted) => {
                    st.last_failure = format!("{target}: not committed");
                }
                Ok(ItemReply::Ambiguous) => {
                    bump(&self.stats.errors);
                    return Err(RouteError::Ambiguous(format!(
                        "{target} lost track of the write on partition {}",
                        part.id
                    )));
                }
                Err(e) => {
                    bump(&self.stats.errors);
                    debug!(node = %target, group = %part.id.0, error = %e, "forward failed");
                    if e.makes_suspect() {
                        self.mark_suspect(target);
                    }
                    if is_write && e.maybe_delivered() {
                        st.maybe_applied = true;
                    }
                    self.forget_leader(part.id, target);
                    st.last_failure = format!("{target}: {e}");
                    if eventual {
                        eventual = false;
                        continue;
                    }
                    st.tried.push(target);
                    self.backoff(&mut st).await;
                }
            }
        }
        let what = format!(
            "table {table}: no answer after {} attempts ({})",
            st.made, st.last_failure
        );
        if st.maybe_applied {
            Err(RouteError::Ambiguous(what))
        } else {
            Err(RouteError::Unavailable(what))
        }
    }

    /// Sleeps `min(backoff_min·2^k, backoff_max)`, never past the deadline.
    async fn backoff(&self, st: &mut Attempts) {
        let ms = self
            .cfg
            .backoff_min_ms
            .saturating_mul(1u64 << st.backoffs.min(20))
            .min(self.cfg.backoff_max_ms);
        st.backoffs += 1;
        tokio::time::sleep(Duration::from_millis(ms).min(st.remaining())).await;
    }

    /// A `Full` replica in this node's AZ for an eventual read: this node first, then
    /// non-suspects; `None` when the partition has none.
    fn eventual_target(&self, part: &PartitionDesc) -> Option<NodeId> {
        let me = self.me();
        let mut best: Option<(u8, NodeId)> = None;
        for r in part.replicas.iter().filter(|r| r.role == Role::Full) {
            let Some(n) = self.node(r.node) else { continue };
            if n.az != me.az {
                continue;
            }
            let rank = if n.name == me.name {
                0
            } else if self.is_suspect(r.node) {
                2
            } else {
                1
            };
            if best.is_none_or(|(b, _)| rank < b) {
                best = Some((rank, r.node));
            }
        }
        best.map(|(_, n)| n)
    }

    /// The next leader-path target (see the module docs for the order).
    /// When every candidate was tried, a new round starts (`tried` is cleared).
    fn leader_target(&self, part: &PartitionDesc, tried: &mut Vec<NodeId>) -> NodeId {
        let mut order: Vec<NodeId> = Vec::with_capacity(part.replicas.len() + 1);
        if let Some(l) = self.leader(part.id) {
            order.push(l);
        }
        for r in part.replicas.iter().filter(|r| r.role == Role::Full) {
            if !order.contains(&r.node) {
                order.push(r.node);
            }
        }
        if order.is_empty() {
            // No Full replica listed: any replica (the node will say NotLeader with a hint).
            order.extend(part.replicas.iter().map(|r| r.node));
        }
        // Stable: healthy nodes first, suspects last.
        order.sort_by_key(|n| self.is_suspect(*n));
        if let Some(n) = order.iter().find(|n| !tried.contains(n)) {
            return *n;
        }
        tried.clear();
        order.first().copied().unwrap_or(NodeId(0))
    }

    /// One attempt at `target`.
    async fn attempt(
        &self,
        target: NodeId,
        req: ItemRequest,
        timeout: Duration,
    ) -> Result<ItemReply, AttemptError> {
        let node = self.node(target).ok_or(AttemptError::UnknownNode(target))?;
        if self.is_me(&node) {
            bump(&self.stats.local);
            return tokio::time::timeout(timeout, self.local.execute(req))
                .await
                .map_err(|_| AttemptError::LocalTimeout);
        }
        bump(&self.stats.remote);
        let reply = self.call_frame(&node, &req, timeout).await?;
        reply.decode::<ItemReply>().map_err(AttemptError::BadReply)
    }

    async fn call_frame<T: frame::Framed>(
        &self,
        node: &NodeInfo,
        msg: &T,
        timeout: Duration,
    ) -> Result<CheckedFrame, AttemptError> {
        let f = frame::encode(msg, self.cfg.frame_body_bytes_max)
            .map_err(|e| AttemptError::Call(CallError::BadFrame(e)))?;
        self.transport
            .call(&node.name, f, timeout)
            .await
            .map_err(AttemptError::Call)
    }

    /// See [`super::Router::digest`].
    pub(crate) async fn digest(
        &self,
        node: NodeId,
        group: GroupId,
    ) -> Result<DigestReply, RouteError> {
        let info = self
            .node(node)
            .ok_or_else(|| RouteError::Unavailable(format!("node {node} is not known")))?;
        let req = DigestRequest { group };
        let timeout = Duration::from_millis(self.cfg.request_deadline_ms);
        if self.is_me(&info) {
            return tokio::time::timeout(timeout, self.local.digest(req))
                .await
                .map_err(|_| RouteError::Unavailable("local digest timed out".to_owned()));
        }
        let reply = self
            .call_frame(&info, &req, timeout)
            .await
            .map_err(|e| RouteError::Unavailable(format!("digest from {node}: {e}")))?;
        reply
            .decode::<DigestReply>()
            .map_err(|e| RouteError::Internal(format!("digest reply from {node}: {e}")))
    }
}
