//! [`MetaStore`] in memory, with etcd's semantics, for unit tests (and the "faulty" seam).
//!
//! Modelled: a store revision bumped once per write (a transaction is one revision), keys with
//! `create_revision`/`mod_revision`, leases with deadlines on tokio's clock (so paused-time
//! tests can expire them) whose expiry or revocation deletes their keys, prefix watches that
//! replay history from a revision, compaction ([`MemStore::compact`]) and an availability switch
//! ([`MemStore::set_available`]) that makes every call fail with
//! [`StoreError::Unavailable`] and breaks open watches, as a dead etcd would.
//!
//! Lease expiry is checked lazily at the start of every call (no background task).
//! History kept for watches is bounded by [`HISTORY_EVENTS_MAX`]; older revisions count as
//! compacted. A watcher whose buffer is full is dropped (its receiver sees the channel close,
//! which callers treat like an error: resync).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    Compare, KeyValue, LeaseId, MetaStore, Range, Revision, StoreError, Txn, TxnOp, TxnOutcome,
    WATCH_BUFFER_MSGS_MAX, Watch, WatchEvent, WatchMsg,
};

/// How many past events the store keeps for watches starting in the past.
pub const HISTORY_EVENTS_MAX: usize = 10_000;

#[derive(Debug)]
struct Lease {
    ttl: Duration,
    deadline: Instant,
    keys: BTreeSet<String>,
}

#[derive(Debug)]
struct Watcher {
    prefix: String,
    tx: mpsc::Sender<WatchMsg>,
}

#[derive(Debug, Default)]
struct State {
    revision: Revision,
    kvs: BTreeMap<String, KeyValue>,
    leases: HashMap<i64, Lease>,
    next_lease: i64,
    /// `(revision, event)`, oldest first.
    history: VecDeque<(Revision, WatchEvent)>,
    /// Revisions at or below this one are gone from `history`.
    compacted: Revision,
    watchers: Vec<Watcher>,
    unavailable: bool,
}

/// The in-memory store; clones share state.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    state: Arc<Mutex<State>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Turns the store off (every call fails, open watches break) or back on.
    pub fn set_available(&self, available: bool) {
        let mut st = self.lock();
        st.unavailable = !available;
        if !available {
            for w in st.watchers.drain(..) {
                let _ = w.tx.try_send(WatchMsg::Error(off("watch")));
            }
        }
    }

    /// Forgets history at or below `revision`: watches from there report `Compacted`.
    pub fn compact(&self, revision: Revision) {
        let mut st = self.lock();
        while st.history.front().is_some_and(|(r, _)| *r <= revision) {
            st.history.pop_front();
        }
        st.compacted = st.compacted.max(revision);
    }

    /// The current store revision.
    pub fn revision(&self) -> Revision {
        self.lock().revision
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks, fails when switched off, and expires due leases.
    fn enter(&self, op: &'static str) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        let mut st = self.lock();
        if st.unavailable {
            return Err(off(op));
        }
        let now = Instant::now();
        let due: Vec<i64> = st
            .leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            st.end_lease(id);
        }
        Ok(st)
    }
}

fn off(op: &'static str) -> StoreError {
    StoreError::Unavailable {
        op,
        detail: "in-memory store switched off".into(),
    }
}

impl State {
    /// Starts a write revision; events pushed through `record` carry it.
    fn bump(&mut self) -> Revision {
        self.revision += 1;
        self.revision
    }

    fn record(&mut self, rev: Revision, ev: WatchEvent) {
        self.history.push_back((rev, ev));
        while self.history.len() > HISTORY_EVENTS_MAX {
            if let Some((r, _)) = self.history.pop_front() {
                self.compacted = self.compacted.max(r);
            }
        }
    }

    fn detach(&mut self, key: &str) {
        if let Some(lease) = self.kvs.get(key).and_then(|kv| kv.lease)
            && let Some(l) = self.leases.get_mut(&lease.0)
        {
            l.keys.remove(key);
        }
    }

    fn apply_put(
        &mut self,
        rev: Revision,
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<(), StoreError> {
        if let Some(l) = lease
            && !self.leases.contains_key(&l.0)
        {
            return Err(StoreError::LeaseExpired(l));
        }
        self.detach(&key);
        let create_revision = self.kvs.get(&key).map_or(rev, |kv| kv.create_revision);
        if let Some(l) = lease
            && let Some(entry) = self.leases.get_mut(&l.0)
        {
            entry.keys.insert(key.clone());
        }
        let kv = KeyValue {
            key: key.clone(),
            value,
            create_revision,
            mod_revision: rev,
            lease,
        };
        self.kvs.insert(key, kv.clone());
        self.record(rev, WatchEvent::Put(kv));
        Ok(())
    }

    fn apply_delete(&mut self, rev: Revision, key: &str) -> bool {
        self.detach(key);
        if self.kvs.remove(key).is_some() {
            self.record(
                rev,
                WatchEvent::Delete {
                    key: key.to_string(),
                    revision: rev,
                },
            );
            true
        } else {
            false
        }
    }

    fn end_lease(&mut self, id: i64) {
        if let Some(lease) = self.leases.remove(&id) {
            if lease.keys.is_empty() {
                return;
            }
            let rev = self.bump();
            for key in lease.keys {
                self.kvs.remove(&key);
                self.record(rev, WatchEvent::Delete { key, revision: rev });
            }
            self.notify(rev);
        }
    }

    fn holds(&self, c: &Compare) -> bool {
        match c {
            Compare::ModRevision(k, r) => self.kvs.get(k).map_or(0, |kv| kv.mod_revision) == *r,
            Compare::CreateRevision(k, r) => {
                self.kvs.get(k).map_or(0, |kv| kv.create_revision) == *r
            }
        }
    }

    /// Sends the events of revision `rev` to every watcher whose prefix they match.
    fn notify(&mut self, rev: Revision) {
        let events: Vec<WatchEvent> = self
            .history
            .iter()
            .rev()
            .take_while(|(r, _)| *r == rev)
            .map(|(_, e)| e.clone())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        self.watchers.retain(|w| {
            let mine: Vec<WatchEvent> = events
                .iter()
                .filter(|e| event_key(e).starts_with(&w.prefix))
                .cloned()
                .collect();
            if mine.is_empty() {
                return !w.tx.is_closed();
            }
            w.tx.try_send(WatchMsg::Events {
                revision: rev,
                events: mine,
            })
            .is_ok()
        });
    }
}

fn event_key(e: &WatchEvent) -> &str {
    match e {
        WatchEvent::Put(kv) => &kv.key,
        WatchEvent::Delete { key, .. } => key,
    }
}

impl MetaStore for MemStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.enter("get")?.kvs.get(key).cloned())
    }

    async fn range(&self, prefix: &str) -> Result<Range, StoreError> {
        let st = self.enter("range")?;
        let kvs = st
            .kvs
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Range {
            kvs,
            revision: st.revision,
        })
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision, StoreError> {
        let mut st = self.enter("put")?;
        if let Some(l) = lease
            && !st.leases.contains_key(&l.0)
        {
            return Err(StoreError::LeaseExpired(l));
        }
        let rev = st.bump();
        st.apply_put(rev, key.to_string(), value, lease)?;
        st.notify(rev);
        Ok(rev)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut st = self.enter("delete")?;
        if !st.kvs.contains_key(key) {
            return Ok(false);
        }
        let rev = st.bump();
        let existed = st.apply_delete(rev, key);
        st.notify(rev);
        Ok(existed)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        let mut st = self.enter("txn")?;
        if !txn.when.iter().all(|c| st.holds(c)) {
            return Ok(TxnOutcome {
                succeeded: false,
                revision: st.revision,
            });
        }
        for op in &txn.then {
            if let TxnOp::Put { lease: Some(l), .. } = op
                && !st.leases.contains_key(&l.0)
            {
                return Err(StoreError::LeaseExpired(*l));
            }
        }
        if txn.then.is_empty() {
            return Ok(TxnOutcome {
                succeeded: true,
                revision: st.revision,
            });
        }
        let rev = st.bump();
        for op in txn.then {
            match op {
                TxnOp::Put { key, value, lease } => st.apply_put(rev, key, value, lease)?,
                TxnOp::Delete { key } => {
                    st.apply_delete(rev, &key);
                }
            }
        }
        st.notify(rev);
        Ok(TxnOutcome {
            succeeded: true,
            revision: rev,
        })
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        let mut st = self.enter("watch")?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER_MSGS_MAX);
        if from <= st.compacted {
            let _ = tx.try_send(WatchMsg::Compacted {
                compact_revision: st.compacted + 1,
            });
            return Ok(rx);
        }
        // Replay the past, one message per revision.
        let mut batch: Option<(Revision, Vec<WatchEvent>)> = None;
        let mut backlog = Vec::new();
        for (rev, ev) in st.history.iter().filter(|(r, _)| *r >= from) {
            if !event_key(ev).starts_with(prefix) {
                continue;
            }
            match &mut batch {
                Some((r, evs)) if r == rev => evs.push(ev.clone()),
                _ => {
                    if let Some((r, evs)) = batch.take() {
                        backlog.push((r, evs));
                    }
                    batch = Some((*rev, vec![ev.clone()]));
                }
            }
        }
        backlog.extend(batch);
        for (revision, events) in backlog {
            if tx.try_send(WatchMsg::Events { revision, events }).is_err() {
                // Too far behind for the buffer: let the caller resync from a range read.
                let _ = tx.try_send(WatchMsg::Compacted {
                    compact_revision: st.revision,
                });
                return Ok(rx);
            }
        }
        st.watchers.push(Watcher {
            prefix: prefix.to_string(),
            tx,
        });
        Ok(rx)
    }

    async fn lease_grant(&self, ttl_s: i64) -> Result<LeaseId, StoreError> {
        let mut st = self.enter("lease_grant")?;
        st.next_lease += 1;
        let id = st.next_lease;
        let ttl = Duration::from_secs(ttl_s.max(1) as u64);
        st.leases.insert(
            id,
            Lease {
                ttl,
                deadline: Instant::now() + ttl,
                keys: BTreeSet::new(),
            },
        );
        Ok(LeaseId(id))
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut st = self.enter("lease_keep_alive")?;
        match st.leases.get_mut(&lease.0) {
            Some(l) => {
                l.deadline = Instant::now() + l.ttl;
                Ok(())
            }
            None => Err(StoreError::LeaseExpired(lease)),
        }
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut st = self.enter("lease_revoke")?;
        if !st.leases.contains_key(&lease.0) {
            return Err(StoreError::LeaseExpired(lease));
        }
        st.end_lease(lease.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revisions_txn_guards_and_ranges() {
        let s = MemStore::new();
        let r1 = s.put("/a/1", b"x".to_vec(), None).await.unwrap();
        let r2 = s.put("/a/2", b"y".to_vec(), None).await.unwrap();
        s.put("/b/1", b"z".to_vec(), None).await.unwrap();
        assert!(r2 > r1);
        let range = s.range("/a/").await.unwrap();
        assert_eq!(range.kvs.len(), 2);
        assert_eq!(range.kvs[0].key, "/a/1");
        assert_eq!(range.revision, s.revision());
        // Create-if-absent fails on an existing key and succeeds on a new one.
        let absent = |k: &str| Compare::ModRevision(k.into(), 0);
        let t = Txn {
            when: vec![absent("/a/1")],
            then: vec![TxnOp::put("/a/1", "w")],
        };
        assert!(!s.txn(t).await.unwrap().succeeded);
        let t = Txn {
            when: vec![absent("/a/3"), Compare::ModRevision("/a/1".into(), r1)],
            then: vec![TxnOp::put("/a/3", "v"), TxnOp::delete("/a/2")],
        };
        let out = s.txn(t).await.unwrap();
        assert!(out.succeeded);
        let kv = s.get("/a/3").await.unwrap().unwrap();
        assert_eq!(
            (kv.create_revision, kv.mod_revision),
            (out.revision, out.revision)
        );
        assert!(s.get("/a/2").await.unwrap().is_none());
        // A stale mod_revision guard fails.
        s.put("/a/1", b"x2".to_vec(), None).await.unwrap();
        let t = Txn {
            when: vec![Compare::ModRevision("/a/1".into(), r1)],
            then: vec![TxnOp::delete("/a/1")],
        };
        assert!(!s.txn(t).await.unwrap().succeeded);
        assert_eq!(s.get("/a/1").await.unwrap().unwrap().create_revision, r1);
    }

    #[tokio::test(start_paused = true)]
    async fn leases_expire_unless_kept_alive_and_take_their_keys() {
        let s = MemStore::new();
        let l = s.lease_grant(2).await.unwrap();
        s.put("/k", b"v".to_vec(), Some(l)).await.unwrap();
        tokio::time::advance(Duration::from_millis(1500)).await;
        s.lease_keep_alive(l).await.unwrap();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(s.get("/k").await.unwrap().is_some(), "kept alive");
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(s.get("/k").await.unwrap().is_none(), "expired");
        assert_eq!(
            s.lease_keep_alive(l).await,
            Err(StoreError::LeaseExpired(l))
        );
        assert_eq!(
            s.put("/k", vec![], Some(l)).await,
            Err(StoreError::LeaseExpired(l))
        );
        let l2 = s.lease_grant(5).await.unwrap();
        s.put("/k2", b"v".to_vec(), Some(l2)).await.unwrap();
        s.lease_revoke(l2).await.unwrap();
        assert!(s.get("/k2").await.unwrap().is_none(), "revoked");
    }

    #[tokio::test]
    async fn watch_replays_from_a_revision_then_follows() {
        let s = MemStore::new();
        let r1 = s.put("/p/a", b"1".to_vec(), None).await.unwrap();
        s.put("/q/a", b"1".to_vec(), None).await.unwrap();
        s.put("/p/b", b"2".to_vec(), None).await.unwrap();
        let mut w = s.watch("/p/", r1 + 1).await.unwrap();
        s.delete("/p/a").await.unwrap();
        let Some(WatchMsg::Events { events, .. }) = w.recv().await else {
            panic!("expected events")
        };
        assert!(matches!(&events[..], [WatchEvent::Put(kv)] if kv.key == "/p/b"));
        let Some(WatchMsg::Events { events, .. }) = w.recv().await else {
            panic!("expected events")
        };
        assert!(matches!(&events[..], [WatchEvent::Delete { key, .. }] if key == "/p/a"));
        // Compaction and unavailability end watches with a reason.
        s.compact(s.revision());
        let mut w2 = s.watch("/p/", r1).await.unwrap();
        assert!(matches!(w2.recv().await, Some(WatchMsg::Compacted { .. })));
        s.set_available(false);
        assert!(matches!(w.recv().await, Some(WatchMsg::Error(e)) if e.is_unavailable()));
        assert!(s.get("/p/b").await.unwrap_err().is_unavailable());
        s.set_available(true);
        assert!(s.get("/p/b").await.unwrap().is_some());
    }
}
