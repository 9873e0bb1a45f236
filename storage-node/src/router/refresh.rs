//! Talking to the control plane for routing (DESIGN §5, design-driver §3.1): the
//! constant-work refresher, cold single-flight lookups and table descriptions.
//!
//! - [`RefreshSet`]: per table, the hashes routed since the last refresh (at most
//!   `LOOKUP_HASHES_MAX` per table, at most `refresh_tables_max` tables; the excess is
//!   dropped, so the refresh load is bounded per interval whatever the request rate).
//! - [`run`]: every `routing_refresh_ms`, one batched `Lookup` per table in the set, all
//!   tables in parallel, the next round only after this one finished (so never more than one
//!   lookup per table in flight or per interval).
//! - Cold misses (`Inner::resolve`): one awaited lookup per table at a time; requests that
//!   miss meanwhile wait for it and share its outcome. A cold lookup also asks for evenly
//!   spread hashes, so it usually brings every partition of the table at once.
//! - Every control-plane call here goes to *any* instance (all serve routing from memory),
//!   round robin over `RouterConfig::control_instances`, each bounded by `lookup_timeout_ms`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::debug;
use wire::control::{
    ControlError, ControlErrorKind, ControlReply, ControlRequest, LOOKUP_HASHES_MAX, PartitionDesc,
    RoutingLookup, TableDesc, TableStatus,
};

use super::{FlightResult, Inner, RouteError, bump, lock};

/// The hashes to refresh, per table.
pub(crate) struct RefreshSet {
    tables: HashMap<String, HashSet<u64>>,
    tables_max: usize,
}

impl RefreshSet {
    pub(crate) fn new(tables_max: usize) -> RefreshSet {
        RefreshSet {
            tables: HashMap::new(),
            tables_max,
        }
    }

    /// Remembers that `table` (and `hash`, if any) was used since the last refresh.
    pub(crate) fn push(&mut self, table: &str, hash: Option<u64>) {
        if !self.tables.contains_key(table) {
            if self.tables.len() >= self.tables_max {
                return;
            }
            self.tables.insert(table.to_owned(), HashSet::new());
        }
        let Some(set) = self.tables.get_mut(table) else {
            return;
        };
        if let Some(h) = hash
            && set.len() < LOOKUP_HASHES_MAX
        {
            set.insert(h);
        }
    }

    /// Up to `max` hashes queued for `table` (a cold lookup carries them along).
    pub(crate) fn peek(&self, table: &str, max: usize) -> Vec<u64> {
        self.tables
            .get(table)
            .map_or_else(Vec::new, |s| s.iter().copied().take(max).collect())
    }

    /// Everything queued, emptying the set.
    pub(crate) fn take(&mut self) -> Vec<(String, Vec<u64>)> {
        let mut out: Vec<(String, Vec<u64>)> = self
            .tables
            .drain()
            .map(|(t, s)| {
                let mut hs: Vec<u64> = s.into_iter().collect();
                hs.sort_unstable();
                (t, hs)
            })
            .collect();
        out.sort();
        out
    }
}

/// The refresher task: runs until the router is dropped.
pub(crate) async fn run(inner: Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(i) => Duration::from_millis(i.cfg.routing_refresh_ms.max(1)),
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let batch = lock(&inner.refresh).take();
        let mut calls = JoinSet::new();
        for (table, hashes) in batch {
            let inner = inner.clone();
            calls.spawn(async move { inner.refresh_table(table, hashes).await });
        }
        while calls.join_next().await.is_some() {}
    }
}

/// Removes the flight entry of a table when the flight ends, however it ends (a cancelled
/// request must not leave its followers waiting forever: they see the sender dropped).
struct FlightGuard<'a> {
    inner: &'a Inner,
    table: &'a str,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        lock(&self.inner.flights).remove(self.table);
    }
}

enum Flight {
    Lead(watch::Sender<FlightResult>),
    Follow(watch::Receiver<FlightResult>),
}

impl Inner {
    /// One refresh lookup; failures keep the cache as it is (it keeps serving), except a
    /// table the control plane no longer has, which is forgotten.
    async fn refresh_table(&self, table: String, hashes: Vec<u64>) {
        bump(&self.stats.refreshes);
        match self.fetch(&table, hashes).await {
            Ok(()) => {}
            // Deleted (or DELETING): forget it, but do not remember "not found", so that
            // DescribeTable still reports DELETING while the control plane does.
            Err(RouteError::NotFound(_)) => lock(&self.cache).remove_table(&table),
            Err(e) => debug!(table = %table, error = %e, "routing refresh failed"),
        }
    }

    /// The partition of `table` owning `hash`: from the cache, else after a cold lookup
    /// (single flight per table). A hit queues `hash` for the refresher.
    pub(crate) async fn resolve(
        &self,
        table: &str,
        hash: u64,
    ) -> Result<Arc<PartitionDesc>, RouteError> {
        for _ in 0..3 {
            {
                let c = lock(&self.cache);
                if let Some(p) = c.find(table, hash) {
                    drop(c);
                    lock(&self.refresh).push(table, Some(hash));
                    return Ok(p);
                }
                if c.is_negative(table, Instant::now()) {
                    return Err(RouteError::NotFound(table.to_owned()));
                }
            }
            let flight = {
                let mut f = lock(&self.flights);
                match f.get(table) {
                    Some(rx) => Flight::Follow(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        f.insert(table.to_owned(), rx);
                        Flight::Lead(tx)
                    }
                }
            };
            match flight {
                Flight::Follow(mut rx) => {
                    let outcome = rx.wait_for(|v| v.is_some()).await.map(|v| v.clone());
                    if let Ok(Some(Err(e))) = outcome {
                        return Err(e);
                    }
                }
                Flight::Lead(tx) => {
                    let _guard = FlightGuard { inner: self, table };
                    let hashes = self.cold_hashes(table, hash);
                    bump(&self.stats.lookups);
                    let r = self.fetch(table, hashes).await;
                    if let Err(RouteError::NotFound(_)) = r {
                        self.remember_not_found(table);
                    }
                    tx.send_replace(Some(r.clone()));
                    r?;
                }
            }
        }
        Err(RouteError::Unavailable(format!(
            "no partition of table {table} owns hash {hash:#018x} after repeated lookups"
        )))
    }

    /// What a cold lookup asks for: `hash`, the hashes queued for the refresher, and
    /// `cold_lookup_spread_hashes` evenly spaced hashes, so that one call usually brings the
    /// whole table (a table of up to that many even partitions entirely), and later misses
    /// of other partitions, or a control plane gone away meanwhile, do not stall requests.
    fn cold_hashes(&self, table: &str, hash: u64) -> Vec<u64> {
        let spread = self
            .cfg
            .cold_lookup_spread_hashes
            .min(LOOKUP_HASHES_MAX - 1);
        let mut hashes = vec![hash];
        let queued = lock(&self.refresh).peek(table, LOOKUP_HASHES_MAX - 1 - spread);
        hashes.extend(queued.into_iter().filter(|h| *h != hash));
        if spread > 0 {
            let step = u64::MAX / spread as u64;
            hashes.extend((0..spread as u64).map(|i| i * step));
        }
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    }

    /// One `Lookup`, merged into the cache and the node directory (a missing table is
    /// `NotFound`, with no effect on the cache: the caller decides).
    async fn fetch(&self, table: &str, hashes: Vec<u64>) -> Result<(), RouteError> {
        let req = ControlRequest::Lookup(RoutingLookup {
            table_name: table.to_owned(),
            hashes,
        });
        match self.control_any(&req).await {
            Ok(ControlReply::Routing(r)) => {
                self.learn_nodes(&r.nodes);
                lock(&self.cache).apply_routing(&r);
                Ok(())
            }
            Ok(ControlReply::Error(e)) if e.kind == ControlErrorKind::ResourceNotFound => {
                Err(RouteError::NotFound(table.to_owned()))
            }
            Ok(ControlReply::Error(e)) => Err(RouteError::Control(e)),
            Ok(other) => Err(RouteError::Internal(format!(
                "control plane answered a lookup with {other:?}"
            ))),
            Err(e) => Err(RouteError::Unavailable(e.message)),
        }
    }

    fn remember_not_found(&self, table: &str) {
        let now = Instant::now();
        let until = now + Duration::from_millis(self.cfg.negative_cache_ms);
        let mut c = lock(&self.cache);
        c.remove_table(table);
        c.set_negative(table, until, now);
    }

    /// See [`super::Router::describe_table`].
    pub(crate) async fn describe_table(&self, name: &str) -> Result<TableDesc, ControlError> {
        {
            let c = lock(&self.cache);
            if let Some(d) = c.desc(name) {
                drop(c);
                lock(&self.refresh).push(name, None);
                return Ok(d);
            }
            if c.is_negative(name, Instant::now()) {
                return Err(not_found(name));
            }
        }
        let req = ControlRequest::DescribeTable {
            table_name: name.to_owned(),
        };
        match self.control_any(&req).await? {
            ControlReply::Table(d) => {
                if d.status == TableStatus::Active {
                    lock(&self.cache).apply_desc(d.clone());
                    lock(&self.refresh).push(name, None);
                }
                Ok(d)
            }
            ControlReply::Error(e) => {
                if e.kind == ControlErrorKind::ResourceNotFound {
                    self.remember_not_found(name);
                }
                Err(e)
            }
            other => Err(ControlError::new(
                ControlErrorKind::Internal,
                format!("control plane answered DescribeTable with {other:?}"),
            )),
        }
    }

    /// A read-only control request to any instance: round robin from the next instance,
    /// each tried once, each bounded by `lookup_timeout_ms`. Only "no instance answered" is
    /// an error here (as `Unavailable`); error replies are returned as replies.
    pub(crate) async fn control_any(
        &self,
        req: &ControlRequest,
    ) -> Result<ControlReply, ControlError> {
        let timeout = Duration::from_millis(self.cfg.lookup_timeout_ms);
        let instances = &self.cfg.control_instances;
        if instances.is_empty() {
            return match tokio::time::timeout(timeout, self.control.call(req)).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(unavailable(e.to_string())),
                Err(_) => Err(unavailable(format!(
                    "no answer within {} ms",
                    self.cfg.lookup_timeout_ms
                ))),
            };
        }
        let first = self
            .next_instance
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..instances.len() {
            let peer = &instances[(first + i) % instances.len()];
            match tokio::time::timeout(timeout, self.control.call_peer(peer, req)).await {
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(_) => failures.push(format!(
                    "{peer}: no answer within {} ms",
                    self.cfg.lookup_timeout_ms
                )),
            }
        }
        Err(unavailable(failures.join("; ")))
    }
}

fn not_found(name: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::ResourceNotFound,
        format!("Requested resource not found: Table: {name} not found"),
    )
}

/// "control plane unavailable: …" (`api/error.rs` maps it to ServiceUnavailable).
pub(crate) fn unavailable(detail: String) -> ControlError {
    ControlError::new(
        ControlErrorKind::Unavailable,
        format!("control plane unavailable: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_set_is_bounded_and_drained() {
        let mut s = RefreshSet::new(2);
        for h in 0..(LOOKUP_HASHES_MAX as u64 + 50) {
            s.push("a", Some(h));
            s.push("a", Some(h));
        }
        s.push("b", None);
        s.push("c", Some(1));
        assert_eq!(s.peek("a", 10).len(), 10);
        let batch = s.take();
        assert_eq!(batch.len(), 2, "third table dropped: {batch:?}");
        assert_eq!(batch[0].0, "a");
        assert_eq!(batch[0].1.len(), LOOKUP_HASHES_MAX);
        assert_eq!(batch[1], ("b".to_owned(), vec![]));
        assert!(s.take().is_empty());
    }
}
