//! The routing metadata every control-plane instance serves from memory (DESIGN §5).
//!
//! [`Metadata`] holds a [`MetaView`] — tables, partitions, nodes and the current leader —
//! mirrored from etcd by [`Metadata::spawn_sync`]: a range read of the cluster prefix, then a
//! watch from the next revision; on compaction or any watch error it starts over with a fresh
//! range read (after a bounded backoff), replacing the whole view. While etcd is down the last
//! view keeps being served, so routing survives an etcd outage.
//!
//! Lookups are in memory and O(log partitions): a table's partitions are indexed by the start
//! of their hash range. The view's `revision` is the etcd revision it reflects;
//! [`Metadata::wait_for`] lets a writer wait until its own write is visible (read-your-writes
//! for DescribeTable right after CreateTable).
//!
//! Invariant: the view only changes by whole etcd events, so a partition seen here always has
//! the epoch and replicas of some committed etcd state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use wire::TableId;
use wire::control::{ListTablesReply, NodeId, NodeInfo, PartitionDesc, TableDesc, TableStatus};
use wire::replication::GroupId;

use crate::store::{
    KeyKind, KeyValue, Keys, LeaderRecord, MetaStore, Revision, WatchEvent, WatchMsg,
};

/// Why a routing lookup found nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no table named {0}")]
    NoTable(String),
    #[error("table {0} is {1:?}")]
    NotActive(String, TableStatus),
    #[error("table {0} has no partition for hash {1:#x} (metadata still loading)")]
    NoPartition(String, u64),
}

/// The in-memory mirror of the cluster's etcd state.
#[derive(Clone, Debug, Default)]
pub struct MetaView {
    /// The etcd revision this view reflects.
    pub revision: Revision,
    tables: BTreeMap<String, TableDesc>,
    partitions: HashMap<GroupId, PartitionDesc>,
    /// table → range start → partition.
    by_table: HashMap<TableId, BTreeMap<u64, GroupId>>,
    nodes: BTreeMap<String, NodeInfo>,
    leader: Option<LeaderRecord>,
}

impl MetaView {
    /// Applies one put. Values that do not decode are logged and skipped.
    pub fn apply_put(&mut self, keys: &Keys, kv: &KeyValue) {
        let Some(kind) = keys.parse(&kv.key) else {
            return;
        };
        match kind {
            KeyKind::Table(name) => match serde_json::from_slice::<TableDesc>(&kv.value) {
                Ok(t) => {
                    if self.tables.get(&name).map(|o| o.status) != Some(t.status) {
                        info!(table = %name, status = t.status.as_str(), "table status");
                    }
                    self.tables.insert(name, t);
                }
                Err(e) => warn!(key = %kv.key, error = %e, "undecodable table in etcd"),
            },
            KeyKind::Partition(id) => match serde_json::from_slice::<PartitionDesc>(&kv.value) {
                Ok(p) => {
                    self.remove_partition(id);
                    self.by_table
                        .entry(p.table)
                        .or_default()
                        .insert(p.range.start, p.id);
                    self.partitions.insert(id, p);
                }
                Err(e) => warn!(key = %kv.key, error = %e, "undecodable partition in etcd"),
            },
            KeyKind::Node(name) => match serde_json::from_slice::<NodeInfo>(&kv.value) {
                Ok(n) => {
                    self.nodes.insert(name, n);
                }
                Err(e) => warn!(key = %kv.key, error = %e, "undecodable node in etcd"),
            },
            KeyKind::Leader => {
                self.leader = serde_json::from_slice(&kv.value).ok();
            }
            KeyKind::Counter | KeyKind::Unknown => {}
        }
    }

    /// Applies one deletion.
    pub fn apply_delete(&mut self, keys: &Keys, key: &str) {
        match keys.parse(key) {
            Some(KeyKind::Table(name)) if self.tables.remove(&name).is_some() => {
                info!(table = %name, "table removed");
            }
            Some(KeyKind::Partition(id)) => self.remove_partition(id),
            Some(KeyKind::Node(name)) => {
                self.nodes.remove(&name);
            }
            Some(KeyKind::Leader) => self.leader = None,
            _ => {}
        }
    }

    fn remove_partition(&mut self, id: GroupId) {
        if let Some(old) = self.partitions.remove(&id)
            && let Some(idx) = self.by_table.get_mut(&old.table)
        {
            if idx.get(&old.range.start) == Some(&id) {
                idx.remove(&old.range.start);
            }
            if idx.is_empty() {
                self.by_table.remove(&old.table);
            }
        }
    }

    pub fn table(&self, name: &str) -> Option<&TableDesc> {
        self.tables.get(name)
    }

    /// All tables in name order.
    pub fn tables(&self) -> impl Iterator<Item = &TableDesc> {
        self.tables.values()
    }

    pub fn partition(&self, id: GroupId) -> Option<&PartitionDesc> {
        self.partitions.get(&id)
    }

    /// Every partition.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionDesc> {
        self.partitions.values()
    }

    /// A table's partitions in range order.
    pub fn partitions_of(&self, table: TableId) -> Vec<&PartitionDesc> {
        self.by_table.get(&table).map_or_else(Vec::new, |idx| {
            idx.values()
                .filter_map(|g| self.partitions.get(g))
                .collect()
        })
    }

    /// The ACTIVE table `name` and the partition owning `hash`.
    pub fn lookup(
        &self,
        name: &str,
        hash: u64,
    ) -> Result<(&TableDesc, &PartitionDesc), LookupError> {
        let t = self
            .tables
            .get(name)
            .ok_or_else(|| LookupError::NoTable(name.to_string()))?;
        if t.status != TableStatus::Active {
            return Err(LookupError::NotActive(name.to_string(), t.status));
        }
        let p = self
            .by_table
            .get(&t.id)
            .and_then(|idx| idx.range(..=hash).next_back())
            .and_then(|(_, g)| self.partitions.get(g))
            .filter(|p| p.range.contains(hash))
            .ok_or_else(|| LookupError::NoPartition(name.to_string(), hash))?;
        Ok((t, p))
    }

    /// One page of table names after `exclusive_start`, at most `limit`.
    pub fn list_tables(&self, exclusive_start: Option<&str>, limit: u32) -> ListTablesReply {
        use std::ops::Bound;
        let lower = match exclusive_start {
            Some(s) => Bound::Excluded(s.to_string()),
            None => Bound::Unbounded,
        };
        let mut names: Vec<String> = self
            .tables
            .range((lower, Bound::Unbounded))
            .take(limit as usize + 1)
            .map(|(n, _)| n.clone())
            .collect();
        let more = names.len() > limit as usize;
        names.truncate(limit as usize);
        ListTablesReply {
            last_evaluated_table_name: if more { names.last().cloned() } else { None },
            table_names: names,
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name)
    }

    pub fn node_by_id(&self, id: NodeId) -> Option<&NodeInfo> {
        self.nodes.values().find(|n| n.id == id)
    }

    /// All registered nodes, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    /// The leader recorded in the election key.
    pub fn leader(&self) -> Option<&LeaderRecord> {
        self.leader.as_ref()
    }

    /// Replicas and preferred-leader counts per node, over all partitions.
    pub fn node_loads(&self) -> HashMap<NodeId, (u32, u32)> {
        let mut out: HashMap<NodeId, (u32, u32)> = HashMap::new();
        for p in self.partitions.values() {
            for (i, r) in p.replicas.iter().enumerate() {
                let e = out.entry(r.node).or_default();
                e.0 += 1;
                if i == 0 {
                    e.1 += 1;
                }
            }
        }
        out
    }
}

/// The shared, watch-fed view. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metadata {
    view: Arc<RwLock<MetaView>>,
    revision: watch::Sender<Revision>,
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata::new()
    }
}

impl Metadata {
    pub fn new() -> Metadata {
        Metadata {
            view: Arc::default(),
            revision: watch::Sender::new(0),
        }
    }

    /// Reads the view.
    pub fn read<R>(&self, f: impl FnOnce(&MetaView) -> R) -> R {
        f(&self.view.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn write(&self, f: impl FnOnce(&mut MetaView)) {
        let rev = {
            let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
            f(&mut v);
            v.revision
        };
        self.revision.send_if_modified(|r| {
            let changed = *r != rev;
            *r = rev;
            changed
        });
    }

    /// The etcd revision the view reflects.
    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Waits until the view reflects `revision`; false on timeout.
    pub async fn wait_for(&self, revision: Revision, timeout: Duration) -> bool {
        let mut rx = self.revision.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Replaces the view with a full range read.
    pub fn reset(&self, keys: &Keys, kvs: &[KeyValue], revision: Revision) {
        let mut fresh = MetaView::default();
        for kv in kvs {
            fresh.apply_put(keys, kv);
        }
        fresh.revision = revision;
        self.write(|v| *v = fresh);
    }

    /// Applies a batch of watch events.
    pub fn apply(&self, keys: &Keys, revision: Revision, events: &[WatchEvent]) {
        self.write(|v| {
            for e in events {
                match e {
                    WatchEvent::Put(kv) => v.apply_put(keys, kv),
                    WatchEvent::Delete { key, .. } => v.apply_delete(keys, key),
                }
            }
            v.revision = v.revision.max(revision);
        });
    }

    /// Keeps the view in sync with etcd until the task is aborted.
    pub fn spawn_sync<S: MetaStore>(&self, store: S, keys: Keys) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move { me.sync(store, keys).await })
    }

    async fn sync<S: MetaStore>(&self, store: S, keys: Keys) {
        let prefix = keys.cluster_prefix();
        let backoff_min = Duration::from_millis(50);
        let backoff_max = Duration::from_millis(1_000);
        let mut backoff = backoff_min;
        loop {
            let range = match store.range(&prefix).await {
                Ok(r) => r,
                Err(e) => {
                    // One line per outage, not one per retry.
                    if backoff == backoff_min {
                        warn!(error = %e, "metadata: range read failed; serving the last view");
                    } else {
                        debug!(error = %e, "metadata: range read failed again");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(backoff_max);
                    continue;
                }
            };
            self.reset(&keys, &range.kvs, range.revision);
            info!(revision = range.revision, "metadata: loaded");
            let mut watch = match store.watch(&prefix, range.revision + 1).await {
                Ok(w) => w,
                Err(e) => {
                    warn!(error = %e, "metadata: watch failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(backoff_max);
                    continue;
                }
            };
            backoff = backoff_min;
            loop {
                match watch.recv().await {
                    Some(WatchMsg::Events { revision, events }) => {
                        debug!(revision, count = events.len(), "metadata: events");
                        self.apply(&keys, revision, &events);
                    }
                    Some(WatchMsg::Compacted { compact_revision }) => {
                        info!(compact_revision, "metadata: watch compacted; resyncing");
                        break;
                    }
                    Some(WatchMsg::Error(e)) => {
                        warn!(error = %e, "metadata: watch broke; resyncing");
                        break;
                    }
                    None => {
                        warn!("metadata: watch closed; resyncing");
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, MetaStore};
    use wire::control::{BillingMode, HashRange};

    fn table(name: &str, id: u32, status: TableStatus) -> TableDesc {
        TableDesc {
            name: name.into(),
            id: TableId(id),
            key_schema: vec![],
            attribute_definitions: vec![],
            billing_mode: BillingMode::PayPerRequest,
            provisioned_throughput: None,
            status,
            creation_time_ms: 0,
            item_count: 0,
            size_bytes: 0,
            partitions: vec![],
            settings: Default::default(),
        }
    }

    fn part(id: u64, table: u32, start: u64, end: Option<u64>) -> PartitionDesc {
        PartitionDesc {
            id: GroupId(id),
            table: TableId(table),
            range: HashRange { start, end },
            epoch: 1,
            replicas: vec![],
        }
    }

    async fn put<T: serde::Serialize>(s: &MemStore, key: String, v: &T) {
        s.put(&key, serde_json::to_vec(v).unwrap(), None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn watch_fed_view_serves_lookups_and_resyncs_after_an_outage() {
        let s = MemStore::new();
        let keys = Keys::new("/m");
        put(&s, keys.table("t1"), &table("t1", 1, TableStatus::Active)).await;
        put(
            &s,
            keys.partition(GroupId(1)),
            &part(1, 1, 0, Some(1 << 63)),
        )
        .await;
        let md = Metadata::new();
        let task = md.spawn_sync(s.clone(), keys.clone());
        assert!(md.wait_for(s.revision(), Duration::from_secs(1)).await);
        assert!(matches!(
            md.read(|v| v.lookup("t1", 5).map(|(_, p)| p.id)),
            Ok(GroupId(1))
        ));
        assert_eq!(
            md.read(|v| v.lookup("t1", u64::MAX).map(|(_, p)| p.id)),
            Err(LookupError::NoPartition("t1".into(), u64::MAX))
        );
        put(&s, keys.partition(GroupId(2)), &part(2, 1, 1 << 63, None)).await;
        assert!(md.wait_for(s.revision(), Duration::from_secs(1)).await);
        assert!(matches!(
            md.read(|v| v.lookup("t1", u64::MAX).map(|(_, p)| p.id)),
            Ok(GroupId(2))
        ));
        // An outage keeps the last view; changes made meanwhile arrive after the resync.
        s.set_available(false);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(md.read(|v| v.lookup("t1", 1).is_ok()));
        s.set_available(true);
        put(&s, keys.table("t2"), &table("t2", 2, TableStatus::Creating)).await;
        s.delete(&keys.partition(GroupId(1))).await.unwrap();
        assert!(md.wait_for(s.revision(), Duration::from_secs(3)).await);
        assert_eq!(
            md.read(|v| v.lookup("t2", 1).map(|_| ())),
            Err(LookupError::NotActive("t2".into(), TableStatus::Creating))
        );
        assert!(
            md.read(|v| v.lookup("t1", 1).is_err()),
            "deleted partition gone"
        );
        assert_eq!(md.read(|v| v.partitions_of(TableId(1)).len()), 1);
        task.abort();
    }

    #[test]
    fn list_tables_pages_in_name_order() {
        let keys = Keys::new("/m");
        let mut v = MetaView::default();
        for (i, n) in ["b", "a", "d", "c"].iter().enumerate() {
            let kv = KeyValue {
                key: keys.table(n),
                value: serde_json::to_vec(&table(n, i as u32 + 1, TableStatus::Active)).unwrap(),
                create_revision: 1,
                mod_revision: 1,
                lease: None,
            };
            v.apply_put(&keys, &kv);
        }
        let p1 = v.list_tables(None, 3);
        assert_eq!(p1.table_names, ["a", "b", "c"]);
        assert_eq!(p1.last_evaluated_table_name.as_deref(), Some("c"));
        let p2 = v.list_tables(Some("c"), 3);
        assert_eq!(p2.table_names, ["d"]);
        assert_eq!(p2.last_evaluated_table_name, None);
        let exact = v.list_tables(None, 4);
        assert_eq!(exact.last_evaluated_table_name, None);
    }
}
