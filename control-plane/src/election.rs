//! Leader election among control-plane instances through an etcd lease (DESIGN §8).
//!
//! Protocol: each instance holds a lease (TTL [`ElectionConfig::ttl_s`]) and keeps it alive
//! every third of the TTL. To lead, it creates the election key (`store/keys.rs`
//! `Keys::leader`) attached to its lease in a create-if-absent transaction; the key's
//! `create_revision` then names this leadership term ([`Fence`]). A standby watches the key
//! and retries when it disappears — when the leader resigns (revokes its lease) or dies (its
//! lease expires after the TTL).
//!
//! Safety does not rest on timing: every leader write goes through [`fenced_txn`], which adds
//! "the election key still has my `create_revision`" to the transaction's guard, so a deposed
//! leader (paused, partitioned, lease expired) cannot write. Liveness: a leader that cannot renew
//! its lease for longer than the TTL minus a third steps down locally before etcd expires it.
//!
//! The loop runs in one task ([`Election::spawn`]); its state is published on a
//! `tokio::sync::watch` channel ([`ElectionHandle::state`]), and every change is logged.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::store::{
    Compare, KeyValue, Keys, LeaderRecord, LeaseId, MetaStore, Revision, StoreError, Txn, TxnOp,
    TxnOutcome, WatchEvent, WatchMsg,
};

/// Election timing.
#[derive(Clone, Debug)]
pub struct ElectionConfig {
    /// Lease TTL: how long a dead leader keeps the key.
    pub ttl_s: i64,
    /// Pause after a failed etcd call before retrying.
    pub retry_ms: u64,
}

impl Default for ElectionConfig {
    fn default() -> ElectionConfig {
        ElectionConfig {
            ttl_s: 3,
            retry_ms: 300,
        }
    }
}

/// Proof of leadership to attach to writes: the election key and its `create_revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub key: String,
    pub create_revision: Revision,
    pub lease: LeaseId,
}

impl Fence {
    /// The guard that holds only while this leadership lasts.
    pub fn compare(&self) -> Compare {
        Compare::CreateRevision(self.key.clone(), self.create_revision)
    }
}

/// What this instance believes about leadership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderState {
    /// Another instance leads (if known), or nobody does yet.
    Standby { leader: Option<LeaderRecord> },
    /// This instance leads; attach the fence to every write.
    Leader(Fence),
}

/// Why a fenced write failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FencedError {
    /// The election key no longer belongs to this leadership term.
    #[error("not the leader any more: the election key changed hands")]
    Deposed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs `txn` only if `fence` still holds. `Ok(outcome)` with `succeeded == false` means one of
/// the caller's own compares failed; a lost leadership is [`FencedError::Deposed`].
pub async fn fenced_txn<S: MetaStore>(
    store: &S,
    fence: &Fence,
    mut txn: Txn,
) -> Result<TxnOutcome, FencedError> {
    txn.when.push(fence.compare());
    let out = store.txn(txn).await?;
    if out.succeeded {
        return Ok(out);
    }
    let holder = store.get(&fence.key).await?;
    if holder.is_none_or(|kv| kv.create_revision != fence.create_revision) {
        return Err(FencedError::Deposed);
    }
    Ok(out)
}

/// A running election loop.
pub struct ElectionHandle {
    state: watch::Receiver<LeaderState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ElectionHandle {
    /// Follows leadership changes.
    pub fn state(&self) -> watch::Receiver<LeaderState> {
        self.state.clone()
    }

    /// The fence if this instance leads now.
    pub fn fence(&self) -> Option<Fence> {
        match &*self.state.borrow() {
            LeaderState::Leader(f) => Some(f.clone()),
            LeaderState::Standby { .. } => None,
        }
    }

    /// Stops campaigning and revokes the lease, so a standby takes over at once.
    pub async fn resign(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops the loop without revoking anything, as a crash would: the lease (and the
    /// leadership) lingers until its TTL runs out.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// The election loop of one instance.
pub struct Election<S> {
    store: S,
    key: String,
    me: LeaderRecord,
    cfg: ElectionConfig,
}

impl<S: MetaStore> Election<S> {
    pub fn new(store: S, keys: &Keys, me: LeaderRecord, cfg: ElectionConfig) -> Election<S> {
        Election {
            store,
            key: keys.leader(),
            me,
            cfg,
        }
    }

    /// Starts campaigning in a task.
    pub fn spawn(self) -> ElectionHandle {
        let (state_tx, state) = watch::channel(LeaderState::Standby { leader: None });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(self.run(state_tx, stop_rx));
        ElectionHandle { state, stop, task }
    }

    fn keep_alive_every(&self) -> Duration {
        Duration::from_millis((self.cfg.ttl_s.max(1) as u64) * 1000 / 3)
    }

    fn publish(&self, tx: &watch::Sender<LeaderState>, new: LeaderState) {
        tx.send_if_modified(|cur| {
            if *cur == new {
                return false;
            }
            match &new {
                LeaderState::Leader(f) => {
                    info!(name = %self.me.name, term = f.create_revision, "became control-plane leader")
                }
                LeaderState::Standby { leader: Some(l) } => {
                    info!(name = %self.me.name, leader = %l.name, "standby")
                }
                LeaderState::Standby { leader: None } => {
                    info!(name = %self.me.name, "standby, no leader known")
                }
            }
            *cur = new.clone();
            true
        });
    }

    async fn run(self, state: watch::Sender<LeaderState>, mut stop: watch::Receiver<bool>) {
        let retry = Duration::from_millis(self.cfg.retry_ms);
        let ttl = Duration::from_secs(self.cfg.ttl_s.max(1) as u64);
        let step_down_after = ttl - ttl / 3;
        let mut failing = false;
        'lease: loop {
            if *stop.borrow() {
                return;
            }
            let lease = match self.store.lease_grant(self.cfg.ttl_s).await {
                Ok(l) => {
                    if failing {
                        info!(name = %self.me.name, "election: etcd reachable again");
                        failing = false;
                    }
                    l
                }
                Err(e) => {
                    // One line per outage, not one per retry.
                    if !failing {
                        warn!(error = %e, "election: cannot get a lease; retrying");
                        failing = true;
                    }
                    self.publish(&state, LeaderState::Standby { leader: None });
                    if wait_stop(&mut stop, retry).await {
                        return;
                    }
                    continue;
                }
            };
            let mut renewed = Instant::now();
            let mut next_keep_alive = renewed + self.keep_alive_every();
            loop {
                // Lead, or learn who does.
                let fence = match self.campaign(lease).await {
                    Ok(Ok(fence)) => Some(fence),
                    Ok(Err(holder)) => {
                        let leader = holder
                            .as_ref()
                            .and_then(|kv| serde_json::from_slice(&kv.value).ok());
                        self.publish(&state, LeaderState::Standby { leader });
                        None
                    }
                    Err(StoreError::LeaseExpired(_)) => {
                        self.publish(&state, LeaderState::Standby { leader: None });
                        continue 'lease;
                    }
                    Err(e) => {
                        warn!(error = %e, "election: campaign failed");
                        None
                    }
                };
                if let Some(f) = fence.clone() {
                    self.publish(&state, LeaderState::Leader(f));
                }
                // Wait for the next keep-alive (a standby also wakes when the key goes away).
                let wait = next_keep_alive.saturating_duration_since(Instant::now());
                let stopped = match &fence {
                    Some(_) => wait_stop(&mut stop, wait).await,
                    None => self.wait_vacant(&mut stop, wait).await,
                };
                if stopped {
                    if fence.is_some() {
                        self.publish(&state, LeaderState::Standby { leader: None });
                    }
                    let _ = self.store.lease_revoke(lease).await;
                    info!(name = %self.me.name, "election: resigned");
                    return;
                }
                if Instant::now() >= next_keep_alive {
                    let sent = Instant::now();
                    match self.store.lease_keep_alive(lease).await {
                        Ok(()) => renewed = sent,
                        Err(StoreError::LeaseExpired(_)) => {
                            warn!(name = %self.me.name, "election: lease expired");
                            self.publish(&state, LeaderState::Standby { leader: None });
                            continue 'lease;
                        }
                        Err(e) => warn!(error = %e, "election: keep-alive failed"),
                    }
                    next_keep_alive = Instant::now() + self.keep_alive_every();
                    if renewed.elapsed() >= step_down_after {
                        // Cannot prove the lease is alive: stop acting as leader.
                        self.publish(&state, LeaderState::Standby { leader: None });
                        next_keep_alive = Instant::now() + retry;
                        if wait_stop(&mut stop, retry).await {
                            return;
                        }
                        continue 'lease;
                    }
                }
            }
        }
    }

    /// Creates the election key if absent. `Ok(Ok(fence))`: this instance leads (or already
    /// did); `Ok(Err(holder))`: someone else holds it.
    async fn campaign(
        &self,
        lease: LeaseId,
    ) -> Result<Result<Fence, Option<KeyValue>>, StoreError> {
        let value = serde_json::to_vec(&self.me).expect("LeaderRecord serializes");
        let txn = Txn {
            when: vec![Compare::CreateRevision(self.key.clone(), 0)],
            then: vec![TxnOp::Put {
                key: self.key.clone(),
                value,
                lease: Some(lease),
            }],
        };
        let out = self.store.txn(txn).await?;
        if out.succeeded {
            return Ok(Ok(Fence {
                key: self.key.clone(),
                create_revision: out.revision,
                lease,
            }));
        }
        let holder = self.store.get(&self.key).await?;
        match holder {
            Some(kv) if kv.lease == Some(lease) => Ok(Ok(Fence {
                key: self.key.clone(),
                create_revision: kv.create_revision,
                lease,
            })),
            other => Ok(Err(other)),
        }
    }

    /// Waits up to `wait` for the election key to be deleted (or a stop). True on stop.
    async fn wait_vacant(&self, stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let from = match self.store.get(&self.key).await {
            Ok(Some(kv)) => kv.mod_revision + 1,
            Ok(None) => return false,
            Err(_) => return wait_stop(stop, wait).await,
        };
        let Ok(mut watch) = self.store.watch(&self.key, from).await else {
            return wait_stop(stop, wait).await;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return false,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return true;
                    }
                }
                msg = watch.recv() => match msg {
                    Some(WatchMsg::Events { events, .. }) => {
                        let gone = events.iter().any(
                            |e| matches!(e, WatchEvent::Delete { key, .. } if *key == self.key),
                        );
                        if gone {
                            return false;
                        }
                    }
                    // The watch ended: fall back to waiting out the interval.
                    _ => return wait_stop(stop, deadline.saturating_duration_since(Instant::now())).await,
                }
            }
        }
    }
}

/// Sleeps `wait` unless stopped first. True on stop.
async fn wait_stop(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn record(name: &str) -> LeaderRecord {
        LeaderRecord {
            name: name.into(),
            addr: format!("{name}:1"),
        }
    }

    async fn wait_leader(h: &ElectionHandle, within: Duration) -> Fence {
        let mut rx = h.state();
        let deadline = Instant::now() + within;
        loop {
            if let LeaderState::Leader(f) = &*rx.borrow_and_update() {
                return f.clone();
            }
            tokio::time::timeout_at(deadline, rx.changed())
                .await
                .expect("no leadership in time")
                .unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_leader_then_failover_after_a_crash_and_the_old_fence_is_refused() {
        let store = MemStore::new();
        let keys = Keys::new("/t");
        let cfg = ElectionConfig::default();
        let a = Election::new(store.clone(), &keys, record("a"), cfg.clone()).spawn();
        let fa = wait_leader(&a, Duration::from_secs(1)).await;
        let b = Election::new(store.clone(), &keys, record("b"), cfg.clone()).spawn();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(b.fence().is_none(), "b must stay standby while a renews");
        assert_eq!(
            *b.state().borrow(),
            LeaderState::Standby {
                leader: Some(record("a"))
            }
        );
        let ok = fenced_txn(
            &store,
            &fa,
            Txn {
                when: vec![],
                then: vec![TxnOp::put("/t/x", "a")],
            },
        );
        assert!(ok.await.unwrap().succeeded);
        let crashed = Instant::now();
        a.abort();
        let fb = wait_leader(&b, Duration::from_secs(cfg.ttl_s as u64 + 2)).await;
        assert!(crashed.elapsed() <= Duration::from_secs(cfg.ttl_s as u64 + 1));
        assert_ne!(fb.create_revision, fa.create_revision);
        let stale = fenced_txn(
            &store,
            &fa,
            Txn {
                when: vec![],
                then: vec![TxnOp::put("/t/x", "stale")],
            },
        );
        assert_eq!(stale.await, Err(FencedError::Deposed));
        assert_eq!(store.get("/t/x").await.unwrap().unwrap().value, b"a");
    }

    #[tokio::test(start_paused = true)]
    async fn resigning_hands_over_at_once() {
        let store = MemStore::new();
        let keys = Keys::new("/t");
        let cfg = ElectionConfig {
            ttl_s: 10,
            retry_ms: 100,
        };
        let a = Election::new(store.clone(), &keys, record("a"), cfg.clone()).spawn();
        wait_leader(&a, Duration::from_secs(1)).await;
        let b = Election::new(store.clone(), &keys, record("b"), cfg).spawn();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        a.resign().await;
        wait_leader(&b, Duration::from_secs(1)).await;
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_that_cannot_renew_steps_down() {
        let store = MemStore::new();
        let keys = Keys::new("/t");
        let a = Election::new(store.clone(), &keys, record("a"), ElectionConfig::default()).spawn();
        wait_leader(&a, Duration::from_secs(1)).await;
        store.set_available(false);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(a.fence().is_none(), "still claims leadership without etcd");
        store.set_available(true);
        wait_leader(&a, Duration::from_secs(5)).await;
    }
}
