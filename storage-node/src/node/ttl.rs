//! The time-to-live sweeper: every `interval`, for each partition this node leads whose table
//! has time to live enabled (the heartbeat reply lists those tables, `HeartbeatReply::
//! time_to_live`), read the partition in pages from the local replica and delete the expired
//! items (`partition::ttl`) with conditional deletes through the leader's evaluated-write
//! path, so an item changed since the read is kept.
//!
//! Bounded work: at most `deletes_per_pass` deletes and `reads_per_pass` items read per pass
//! over the node; a partition not finished in one pass is resumed from where the pass
//! stopped (the rest waits for the next pass; DynamoDB itself promises deletion "typically
//! within 48 hours"); pages of `PAGE_ITEMS` items, one request at a time. It runs beside the data plane on the node's
//! runtime and never blocks it; a partition whose leadership moves mid-pass just stops being
//! swept here (its new leader sweeps it). Expired items still appear in reads until swept, as
//! in DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tracing::{debug, info, warn};
use wire::TableId;
use wire::control::TableDesc;
use wire::forward::{ItemOp, ItemReply, ItemRequest, PAGE_BYTES_MAX, PageEnd, RangeRead};
use wire::item::{KeySchema, decode_item};
use wire::replication::GroupId;

use crate::driver::{Driver, GroupStatus};
use crate::partition::{key_range, ttl};
use crate::router::LocalItems;

/// Items per page read.
const PAGE_ITEMS: u32 = 256;

/// Sweeper settings.
#[derive(Clone, Debug)]
pub struct TtlConfig {
    pub interval: Duration,
    pub deletes_per_pass: u64,
    pub reads_per_pass: u64,
}

impl Default for TtlConfig {
    fn default() -> TtlConfig {
        TtlConfig {
            interval: Duration::from_secs(10),
            deletes_per_pass: 10_000,
            reads_per_pass: 100_000,
        }
    }
}

/// What one pass may still do.
struct Budget {
    deletes: u64,
    reads: u64,
}

/// What the sweeper did (`/metrics`).
#[derive(Debug, Default)]
pub struct TtlStats {
    pub deleted: AtomicU64,
    pub scanned: AtomicU64,
    pub passes: AtomicU64,
}

/// Runs passes until the task is dropped.
pub async fn run(
    cfg: TtlConfig,
    driver: Driver,
    tables: watch::Receiver<Vec<TableDesc>>,
    stats: Arc<TtlStats>,
) {
    let mut tick = tokio::time::interval(cfg.interval);
    // Where each partition's unfinished sweep resumes (the last key read).
    let mut cursors: HashMap<GroupId, Vec<u8>> = HashMap::new();
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let by_id: HashMap<TableId, TableDesc> =
            tables.borrow().iter().map(|t| (t.id, t.clone())).collect();
        if by_id.is_empty() {
            continue;
        }
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut budget = Budget {
            deletes: cfg.deletes_per_pass,
            reads: cfg.reads_per_pass,
        };
        let mut status = driver.status().await;
        cursors.retain(|group, _| status.iter().any(|g| g.state.group == *group));
        // Start each pass at another partition, so that one large partition cannot keep the
        // budget from the others pass after pass.
        if !status.is_empty() {
            let first = stats.passes.load(Ordering::Relaxed) as usize % status.len();
            status.rotate_left(first);
        }
        for g in status {
            if !g.state.is_leader || budget.deletes == 0 || budget.reads == 0 {
                continue;
            }
            let Some(desc) = by_id.get(&g.table) else {
                continue;
            };
            let resume = cursors.remove(&g.state.group);
            let outcome = sweep(&driver, &g, desc, now_s, resume, &mut budget, &stats).await;
            match outcome {
                Ok(Swept { deleted, resume }) => {
                    if deleted > 0 {
                        info!(group = %g.state.group, table = %desc.name, deleted, "ttl: expired items deleted");
                    }
                    if let Some(k) = resume {
                        cursors.insert(g.state.group, k);
                    }
                }
                Err(e) => debug!(group = %g.state.group, error = %e, "ttl: sweep stopped"),
            }
        }
        stats.passes.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one partition's sweep did: items deleted, and where to resume if the pass's budget
/// ran out first.
struct Swept {
    deleted: u64,
    resume: Option<Vec<u8>>,
}

/// One pass over one partition, from `resume` (exclusive) or its start.
async fn sweep(
    driver: &Driver,
    g: &GroupStatus,
    desc: &TableDesc,
    now_s: u64,
    resume: Option<Vec<u8>>,
    budget: &mut Budget,
    stats: &TtlStats,
) -> Result<Swept, String> {
    let Some(attribute) = desc.settings.ttl_attribute.as_deref() else {
        return Ok(Swept {
            deleted: 0,
            resume: None,
        });
    };
    let schema = KeySchema::from_table(desc)
        .ok_or_else(|| format!("table {} has no key schema", desc.name))?;
    let range = key_range(g.table, &g.range);
    let hash = g.range.start;
    // A cursor outside the range (the partition changed since) restarts the sweep.
    let (mut lower, mut inclusive) = match resume {
        Some(k) if range.contains(&k) => (k, false),
        _ => (range.start.clone(), true),
    };
    let mut deleted = 0;
    let stop = |deleted, at: &Vec<u8>| Swept {
        deleted,
        resume: Some(at.clone()),
    };
    loop {
        if budget.reads == 0 || budget.deletes == 0 {
            return Ok(stop(deleted, &lower));
        }
        let read = RangeRead {
            lower: lower.clone(),
            lower_inclusive: inclusive,
            upper: range.end.clone(),
            upper_inclusive: false,
            reverse: false,
            consistent: true,
            items_max: PAGE_ITEMS.min(budget.reads.min(u64::from(u32::MAX)) as u32),
            bytes_max: PAGE_BYTES_MAX,
        };
        let reply = driver
            .execute(ItemRequest {
                group: g.state.group,
                epoch: 0,
                key: lower.clone(),
                hash,
                op: ItemOp::Range(read),
                deadline_ms: 5_000,
            })
            .await;
        let ItemReply::Page { items, end } = reply else {
            return Err(format!("range read answered {reply:?}"));
        };
        for image in &items {
            budget.reads = budget.reads.saturating_sub(1);
            stats.scanned.fetch_add(1, Ordering::Relaxed);
            let item = decode_item(image).map_err(|e| format!("stored item: {e}"))?;
            let key = schema
                .key_of_item(&item)
                .map_err(|e| format!("stored item without its key: {e}"))?;
            if ttl::expired(&item, attribute, now_s) {
                if budget.deletes == 0 {
                    // Resume at this item: the cursor is exclusive, so stop before it.
                    return Ok(stop(deleted, &lower));
                }
                budget.deletes -= 1;
                let reply = driver
                    .execute(ItemRequest {
                        group: g.state.group,
                        epoch: 0,
                        key: key.encoded.clone(),
                        hash: key.hash,
                        op: ItemOp::Eval(ttl::delete_if_expired(attribute, now_s)),
                        deadline_ms: 5_000,
                    })
                    .await;
                match reply {
                    ItemReply::Written { .. } => {
                        deleted += 1;
                        stats.deleted.fetch_add(1, Ordering::Relaxed);
                    }
                    ItemReply::ConditionFailed { .. } => {}
                    other => {
                        warn!(group = %g.state.group, reply = ?other, "ttl: delete not applied");
                        return Ok(stop(deleted, &lower));
                    }
                }
            }
            lower = key.encoded;
            inclusive = false;
        }
        if end != PageEnd::Limit {
            return Ok(Swept {
                deleted,
                resume: None,
            });
        }
    }
}
