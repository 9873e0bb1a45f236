//! The table lifecycle half of [`ControlService`]: CreateTable, DeleteTable, changes to a table
//! (UpdateTable, tags, time to live) and the leader's
//! reconcile pass (CREATING → ACTIVE, DELETING → gone). The lifecycle itself is described in
//! `service/mod.rs`; validation and partition rules are in `tables.rs`, placement in
//! `placement/`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};
use wire::TableId;
use wire::control::{
    ControlError, ControlErrorKind, CreateTableRequest, NodeId, PartitionDesc, ReplicaDesc,
    TableChange, TableDesc, TableStatus,
};
use wire::replication::{GroupId, MemberId, Role};

use super::{
    ControlService, ReconcileReport, already_exists, fenced, in_use, internal, now_ms,
    table_not_found, to_json, unavailable, unavailable_contention,
};
use crate::election::fenced_txn;
use crate::heartbeat::partition_ready;
use crate::placement::{self, Candidate};
use crate::store::{Compare, Counter, MetaStore, Txn, TxnOp};
use crate::tables;

impl<S: MetaStore> ControlService<S> {
    /// CreateTable: validates, places, writes the table (CREATING) and its partitions.
    pub async fn create_table(&self, req: CreateTableRequest) -> Result<TableDesc, ControlError> {
        tables::validate_create(&req, &self.cfg.tables)?;
        let fence = self.fence()?;
        let name = req.table_name.clone();
        let (exists, total, moving) = self.metadata.read(|v| {
            let moving = v
                .tables()
                .filter(|t| t.status != TableStatus::Active)
                .count();
            (v.table(&name).is_some(), v.tables().count(), moving)
        });
        if exists {
            return Err(already_exists(&name));
        }
        if total >= self.cfg.tables.tables_max {
            return Err(ControlError::new(
                ControlErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: the cluster already has {total} tables (limit {})",
                    self.cfg.tables.tables_max
                ),
            ));
        }
        if moving >= self.cfg.tables.tables_in_transition_max {
            return Err(ControlError::new(
                ControlErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: Only {} tables can be created, updated or deleted simultaneously",
                    self.cfg.tables.tables_in_transition_max
                ),
            ));
        }
        let count = tables::partition_count(&req, &self.cfg.tables);
        let placed = {
            let now = Instant::now();
            let live = self.memory().registry.live_nodes(now);
            let candidates = self.metadata.read(|v| {
                let loads = v.node_loads();
                let c: Vec<Candidate> = live
                    .iter()
                    .filter_map(|id| v.node_by_id(*id))
                    .map(|n| {
                        let (replicas, leaders) = loads.get(&n.id).copied().unwrap_or((0, 0));
                        Candidate {
                            node: n.id,
                            az: n.az.clone(),
                            replicas,
                            leaders,
                        }
                    })
                    .collect();
                c
            });
            placement::place(&candidates, count as usize).map_err(|e| {
                ControlError::new(
                    ControlErrorKind::Unavailable,
                    format!("CreateTable {name}: {e}"),
                )
            })?
        };
        let ranges = tables::split_hash_space(count);
        let table_key = self.keys.table(&name);
        for _ in 0..self.cfg.txn_attempts_max {
            let (table_id, trev) = self.counter(Counter::Table).await?;
            let (group0, grev) = self.counter(Counter::Group).await?;
            let (member0, mrev) = self.counter(Counter::Member).await?;
            let table_id =
                u32::try_from(table_id).map_err(|_| internal("table ids exhausted".into()))?;
            let mut member = member0;
            let partitions: Vec<PartitionDesc> = placed
                .iter()
                .zip(&ranges)
                .enumerate()
                .map(|(i, (nodes, range))| PartitionDesc {
                    id: GroupId(group0 + i as u64),
                    table: TableId(table_id),
                    range: *range,
                    epoch: 1,
                    replicas: nodes
                        .iter()
                        .map(|n| {
                            member += 1;
                            ReplicaDesc {
                                node: *n,
                                member: MemberId(member - 1),
                                role: Role::Full,
                            }
                        })
                        .collect(),
                })
                .collect();
            let desc = TableDesc {
                name: name.clone(),
                id: TableId(table_id),
                key_schema: req.key_schema.clone(),
                attribute_definitions: req.attribute_definitions.clone(),
                billing_mode: req
                    .billing_mode
                    .unwrap_or(wire::control::BillingMode::Provisioned),
                provisioned_throughput: req.provisioned_throughput,
                status: TableStatus::Creating,
                creation_time_ms: now_ms(),
                item_count: 0,
                size_bytes: 0,
                partitions: partitions.iter().map(|p| p.id).collect(),
                settings: Default::default(),
            };
            let mut then = vec![
                TxnOp::put(
                    self.keys.counter(Counter::Table),
                    (table_id as u64 + 1).to_string(),
                ),
                TxnOp::put(
                    self.keys.counter(Counter::Group),
                    (group0 + count as u64).to_string(),
                ),
                TxnOp::put(self.keys.counter(Counter::Member), member.to_string()),
                TxnOp::put(&table_key, to_json(&desc)),
            ];
            then.extend(
                partitions
                    .iter()
                    .map(|p| TxnOp::put(self.keys.partition(p.id), to_json(p))),
            );
            let txn = Txn {
                when: vec![
                    Compare::ModRevision(table_key.clone(), 0),
                    Compare::ModRevision(self.keys.counter(Counter::Table), trev),
                    Compare::ModRevision(self.keys.counter(Counter::Group), grev),
                    Compare::ModRevision(self.keys.counter(Counter::Member), mrev),
                ],
                then,
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, id = table_id, partitions = count, "table CREATING");
                self.wait_visible(out.revision).await;
                return Ok(desc);
            }
            if self
                .store
                .get(&table_key)
                .await
                .map_err(unavailable)?
                .is_some()
            {
                return Err(already_exists(&name));
            }
        }
        Err(unavailable_contention("CreateTable"))
    }

    /// DeleteTable: marks the table DELETING (reconcile removes it once nodes dropped it).
    pub async fn delete_table(&self, name: &str) -> Result<TableDesc, ControlError> {
        let desc = self
            .rewrite_table(name, "DeleteTable", |d| {
                match d.status {
                    TableStatus::Creating => return Err(in_use("created", name)),
                    // DynamoDB: deleting a table being deleted is no error.
                    TableStatus::Deleting => return Ok(d.clone()),
                    TableStatus::Active => {}
                }
                let mut next = d.clone();
                next.status = TableStatus::Deleting;
                Ok(next)
            })
            .await?;
        info!(table = %name, "table DELETING");
        Ok(desc)
    }

    /// UpdateTable, TagResource, UntagResource, UpdateTimeToLive: `wire::control::alter` on the
    /// stored description. Returns the new description.
    pub async fn alter_table(
        &self,
        name: &str,
        change: &TableChange,
    ) -> Result<TableDesc, ControlError> {
        let units_max = self.cfg.tables.capacity_units_max;
        let desc = self
            .rewrite_table(name, "AlterTable", |d| {
                wire::control::alter::alter(d, change, units_max)
            })
            .await?;
        info!(table = %name, change = ?change, "table altered");
        Ok(desc)
    }

    /// Reads table `name`'s description, computes the next one with `next` (whose error is
    /// the answer), and writes it in one fenced transaction that holds only if the table did
    /// not change meanwhile; retried up to `txn_attempts_max` times (`op` names the request in
    /// the contention error). Returns the description written, once visible locally.
    async fn rewrite_table(
        &self,
        name: &str,
        op: &'static str,
        next: impl Fn(&TableDesc) -> Result<TableDesc, ControlError>,
    ) -> Result<TableDesc, ControlError> {
        tables::validate_table_name(name)?;
        let fence = self.fence()?;
        let key = self.keys.table(name);
        for _ in 0..self.cfg.txn_attempts_max {
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                return Err(table_not_found(name));
            };
            let desc: TableDesc = serde_json::from_slice(&kv.value)
                .map_err(|e| internal(format!("table {key}: {e}")))?;
            let desc = next(&desc)?;
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then: vec![TxnOp::put(&key, to_json(&desc))],
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                self.wait_visible(out.revision).await;
                return Ok(desc);
            }
        }
        Err(unavailable_contention(op))
    }

    /// One leader pass: CREATING tables whose partitions are all ready become ACTIVE;
    /// DELETING tables no live node hosts any more are removed. Does nothing on a standby.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ControlError> {
        let mut report = ReconcileReport::default();
        let Ok(fence) = self.fence() else {
            return Ok(report);
        };
        let now = Instant::now();
        let (to_activate, to_remove) = {
            let mut m = self.memory();
            let live: HashSet<NodeId> = m.registry.live_nodes(now).into_iter().collect();
            for gone in m.live.difference(&live) {
                warn!(node = %gone, "node down (no heartbeat)");
            }
            m.live = live;
            let reg = &m.registry;
            self.metadata.read(|v| {
                let mut act = Vec::new();
                let mut rem = Vec::new();
                for t in v.tables() {
                    let parts = v.partitions_of(t.id);
                    match t.status {
                        TableStatus::Creating => {
                            if parts.len() == t.partitions.len()
                                && parts.iter().all(|p| partition_ready(p, reg, now))
                            {
                                act.push(t.name.clone());
                            }
                        }
                        TableStatus::Deleting => {
                            if reg.is_warm(now)
                                && !t.partitions.iter().any(|g| reg.group_reported(*g, now))
                            {
                                rem.push((t.name.clone(), t.partitions.clone()));
                            }
                        }
                        TableStatus::Active => {}
                    }
                }
                (act, rem)
            })
        };
        for name in to_activate {
            let key = self.keys.table(&name);
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                continue;
            };
            let mut desc: TableDesc = serde_json::from_slice(&kv.value)
                .map_err(|e| internal(format!("table {key}: {e}")))?;
            if desc.status != TableStatus::Creating {
                continue;
            }
            desc.status = TableStatus::Active;
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then: vec![TxnOp::put(&key, to_json(&desc))],
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, "table ACTIVE");
                self.wait_visible(out.revision).await;
                report.activated.push(name);
            }
        }
        for (name, groups) in to_remove {
            let key = self.keys.table(&name);
            let Some(kv) = self.store.get(&key).await.map_err(unavailable)? else {
                continue;
            };
            let mut then = vec![TxnOp::delete(&key)];
            then.extend(
                groups
                    .iter()
                    .map(|g| TxnOp::delete(self.keys.partition(*g))),
            );
            let txn = Txn {
                when: vec![Compare::ModRevision(key.clone(), kv.mod_revision)],
                then,
            };
            let out = fenced_txn(&self.store, &fence, txn).await.map_err(fenced)?;
            if out.succeeded {
                info!(table = %name, "table deleted");
                self.wait_visible(out.revision).await;
                report.removed.push(name);
            }
        }
        Ok(report)
    }

    /// Runs [`ControlService::reconcile`] every `every` until the task is aborted.
    pub fn spawn_reconciler(self: Arc<Self>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = self.reconcile().await {
                    warn!(error = %e, "reconcile failed");
                }
            }
        })
    }
}
