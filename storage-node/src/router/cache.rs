//! The router's routing cache (design-driver §3.1): table name → the ACTIVE table's
//! description and the partitions learned so far, keyed by the start of their hash range;
//! plus a bounded negative cache of table names the control plane said do not exist.
//!
//! Invariants:
//! - Cached partitions of a table never overlap (an insert removes what it overlaps).
//! - A partition is never replaced by one with an older epoch: a reply from a lagging
//!   control-plane standby cannot undo what a newer reply taught. (This relies on the control
//!   plane giving split children and moved ranges epochs above those they replace.)
//! - Only ACTIVE tables are cached: a table that is CREATING or DELETING is always asked for.
//! - A table whose id changed (deleted and created again under the same name) loses its
//!   partitions.
//!
//! No I/O and no clock reads here: callers pass `now`. The cold-lookup and refresh logic is
//! in `mod.rs`/`refresh.rs`, the redirect loop in `route.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use wire::control::{HashRange, PartitionDesc, RoutingReply, TableDesc, TableStatus};
use wire::replication::GroupId;

/// What the router knows about one table.
struct TableEntry {
    desc: TableDesc,
    /// Partitions by `range.start`.
    parts: BTreeMap<u64, Arc<PartitionDesc>>,
}

pub(crate) struct RoutingCache {
    tables: HashMap<String, TableEntry>,
    /// Table name → until when "not found" is answered without asking.
    negative: HashMap<String, Instant>,
    negative_entries_max: usize,
}

/// True when the two ranges share a hash.
fn overlaps(a: &HashRange, b: &HashRange) -> bool {
    let a_before_b_end = b.end.is_none_or(|e| a.start < e);
    let b_before_a_end = a.end.is_none_or(|e| b.start < e);
    a_before_b_end && b_before_a_end
}

impl RoutingCache {
    pub(crate) fn new(negative_entries_max: usize) -> RoutingCache {
        RoutingCache {
            tables: HashMap::new(),
            negative: HashMap::new(),
            negative_entries_max,
        }
    }

    /// The cached partition owning `hash`, if any.
    pub(crate) fn find(&self, table: &str, hash: u64) -> Option<Arc<PartitionDesc>> {
        let t = self.tables.get(table)?;
        let (_, p) = t.parts.range(..=hash).next_back()?;
        p.range.contains(hash).then(|| p.clone())
    }

    /// The cached description of an ACTIVE table.
    pub(crate) fn desc(&self, table: &str) -> Option<TableDesc> {
        self.tables.get(table).map(|t| t.desc.clone())
    }

    pub(crate) fn is_negative(&self, table: &str, now: Instant) -> bool {
        self.negative.get(table).is_some_and(|until| *until > now)
    }

    pub(crate) fn set_negative(&mut self, table: &str, until: Instant, now: Instant) {
        if self.negative.len() >= self.negative_entries_max {
            self.negative.retain(|_, u| *u > now);
            if self.negative.len() >= self.negative_entries_max {
                // Every entry is live: forgetting them only costs lookups.
                self.negative.clear();
            }
        }
        self.negative.insert(table.to_owned(), until);
    }

    pub(crate) fn clear_negative(&mut self, table: &str) {
        self.negative.remove(table);
    }

    pub(crate) fn remove_table(&mut self, table: &str) {
        self.tables.remove(table);
    }

    /// Forgets one partition (its owner answered `WrongGroup`/`NotHere`).
    pub(crate) fn remove_partition(&mut self, table: &str, group: GroupId) {
        if let Some(t) = self.tables.get_mut(table) {
            t.parts.retain(|_, p| p.id != group);
        }
    }

    /// Stores a table description: an ACTIVE one replaces the cached one (dropping the
    /// partitions if the id changed); any other status removes the table.
    pub(crate) fn apply_desc(&mut self, desc: TableDesc) {
        if desc.status != TableStatus::Active {
            self.tables.remove(&desc.name);
            return;
        }
        self.negative.remove(&desc.name);
        match self.tables.get_mut(&desc.name) {
            Some(t) if t.desc.id == desc.id => t.desc = desc,
            _ => {
                self.tables.insert(
                    desc.name.clone(),
                    TableEntry {
                        desc,
                        parts: BTreeMap::new(),
                    },
                );
            }
        }
    }

    /// Merges a routing reply: the description, then each partition unless an overlapping
    /// cached one has a newer epoch; an accepted partition replaces everything it overlaps.
    pub(crate) fn apply_routing(&mut self, reply: &RoutingReply) {
        let name = reply.table.name.clone();
        self.apply_desc(reply.table.clone());
        let Some(t) = self.tables.get_mut(&name) else {
            return;
        };
        for p in &reply.partitions {
            if p.table != t.desc.id {
                continue;
            }
            let overlapping: Vec<u64> = match p.range.end {
                Some(end) => t.parts.range(..end),
                None => t.parts.range(..),
            }
            .rev()
            .take_while(|(_, q)| overlaps(&q.range, &p.range))
            .map(|(start, _)| *start)
            .collect();
            if overlapping.iter().any(|s| t.parts[s].epoch > p.epoch) {
                continue;
            }
            for s in overlapping {
                t.parts.remove(&s);
            }
            t.parts.insert(p.range.start, Arc::new(p.clone()));
        }
    }

    /// Number of cached partitions of `table` (tests).
    #[cfg(test)]
    pub(crate) fn partitions_of(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, |t| t.parts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::TableId;
    use wire::control::{BillingMode, ReplicaDesc};

    fn desc(id: u32) -> TableDesc {
        TableDesc {
            name: "t".into(),
            id: TableId(id),
            key_schema: vec![],
            attribute_definitions: vec![],
            billing_mode: BillingMode::PayPerRequest,
            provisioned_throughput: None,
            status: TableStatus::Active,
            creation_time_ms: 0,
            item_count: 0,
            size_bytes: 0,
            partitions: vec![],
            settings: Default::default(),
        }
    }

    fn part(id: u64, start: u64, end: Option<u64>, epoch: u64) -> PartitionDesc {
        PartitionDesc {
            id: GroupId(id),
            table: TableId(1),
            range: HashRange { start, end },
            epoch,
            replicas: Vec::<ReplicaDesc>::new(),
        }
    }

    fn reply(parts: Vec<PartitionDesc>) -> RoutingReply {
        RoutingReply {
            table: desc(1),
            partitions: parts,
            nodes: vec![],
        }
    }

    #[test]
    fn newer_epochs_replace_overlaps_and_older_ones_are_ignored() {
        let mut c = RoutingCache::new(4);
        c.apply_routing(&reply(vec![
            part(1, 0, Some(100), 1),
            part(2, 100, None, 1),
        ]));
        assert_eq!(c.find("t", 99).unwrap().id, GroupId(1));
        assert_eq!(c.find("t", 100).unwrap().id, GroupId(2));
        assert_eq!(c.find("t", u64::MAX).unwrap().id, GroupId(2));
        // A split of partition 1 at 50 (children with newer epochs).
        c.apply_routing(&reply(vec![part(3, 50, Some(100), 2)]));
        assert_eq!(c.find("t", 10), None, "the parent was dropped");
        assert_eq!(c.find("t", 60).unwrap().id, GroupId(3));
        // A lagging standby still answers with the parent: ignored.
        c.apply_routing(&reply(vec![part(1, 0, Some(100), 1)]));
        assert_eq!(c.find("t", 60).unwrap().id, GroupId(3));
        assert_eq!(c.find("t", 10), None);
        // A move of the boundary between 3 and 2 (both bumped).
        c.apply_routing(&reply(vec![
            part(3, 50, Some(120), 3),
            part(2, 120, None, 3),
        ]));
        assert_eq!(c.find("t", 110).unwrap().id, GroupId(3));
        assert_eq!(c.partitions_of("t"), 2);
        // The table re-created under the same name: partitions gone.
        c.apply_desc(desc(9));
        assert_eq!(c.partitions_of("t"), 0);
        let mut deleting = desc(9);
        deleting.status = TableStatus::Deleting;
        c.apply_desc(deleting);
        assert_eq!(c.desc("t"), None);
    }

    #[test]
    fn the_negative_cache_expires_and_is_bounded() {
        let mut c = RoutingCache::new(2);
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(1);
        c.set_negative("a", later, now);
        c.set_negative("b", later, now);
        assert!(c.is_negative("a", now) && c.is_negative("b", now));
        assert!(!c.is_negative("a", later));
        c.set_negative("c", later, now);
        assert!(c.negative.len() <= 2);
        assert!(c.is_negative("c", now));
        c.apply_desc(TableDesc {
            name: "c".into(),
            ..desc(1)
        });
        assert!(
            !c.is_negative("c", now),
            "an ACTIVE table is no longer negative"
        );
    }
}
