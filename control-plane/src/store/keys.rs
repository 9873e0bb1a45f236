//! Every etcd key the control plane reads or writes, in one place (DESIGN §8).
//!
//! All keys live under a cluster prefix (default `/cairn/default`), so several clusters (or
//! tests) can share one etcd. Values are JSON (`wire::control` types) or decimal text, so
//! `etcdctl get --prefix /cairn/` is readable.
//!
//! | key (prefix `/cairn/dev`)                          | value                                   |
//! |----------------------------------------------------|-----------------------------------------|
//! | `/cairn/dev/leader`                                | [`LeaderRecord`] JSON, lease-attached   |
//! | `/cairn/dev/nodes/node-a1`                         | `wire::control::NodeInfo` JSON          |
//! | `/cairn/dev/tables/Music`                          | `wire::control::TableDesc` JSON         |
//! | `/cairn/dev/partitions/00000000000000000007`       | `wire::control::PartitionDesc` JSON     |
//! | `/cairn/dev/ids/node` (also `table`, `group`, `member`) | next id to hand out, decimal text  |
//!
//! Invariants: ids in keys are zero-padded to 20 digits so that etcd's byte order is numeric
//! order; names in keys are restricted to `[A-Za-z0-9_.-]` by their validators (table names by
//! `tables::validate`, node names by `heartbeat::validate_node_name`), so no key can escape its
//! directory. [`Keys::parse`] is the inverse of the builders and is what the watch-fed metadata
//! (`metadata.rs`) uses to classify events.

use serde::{Deserialize, Serialize};
use wire::replication::GroupId;

/// The value of the election key: who leads and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderRecord {
    /// The instance's `--name`.
    pub name: String,
    /// The address the instance serves control RPCs on.
    pub addr: String,
}

/// Id counters kept in etcd (each allocation is a compare-and-swap on the counter's
/// `mod_revision` inside the transaction that uses the id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    Node,
    Table,
    Group,
    Member,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::Node => "node",
            Counter::Table => "table",
            Counter::Group => "group",
            Counter::Member => "member",
        }
    }
}

/// What a key under the cluster prefix is (see [`Keys::parse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Leader,
    Node(String),
    Table(String),
    Partition(GroupId),
    Counter,
    /// Under the prefix but not a key this version knows.
    Unknown,
}

/// The key builder for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// Without a trailing slash, e.g. `/cairn/dev`.
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (e.g. `/cairn/dev`; a trailing `/` is removed).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    /// Everything of this cluster, e.g. `/cairn/dev/` (watched by `metadata.rs`).
    pub fn cluster_prefix(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// The election key, e.g. `/cairn/dev/leader`.
    pub fn leader(&self) -> String {
        format!("{}/leader", self.prefix)
    }

    /// A node, e.g. `/cairn/dev/nodes/node-a1`.
    pub fn node(&self, name: &str) -> String {
        format!("{}/nodes/{name}", self.prefix)
    }

    /// All nodes, e.g. `/cairn/dev/nodes/`.
    pub fn nodes_prefix(&self) -> String {
        format!("{}/nodes/", self.prefix)
    }

    /// A table, e.g. `/cairn/dev/tables/Music`.
    pub fn table(&self, name: &str) -> String {
        format!("{}/tables/{name}", self.prefix)
    }

    /// All tables, e.g. `/cairn/dev/tables/` (range order is name order).
    pub fn tables_prefix(&self) -> String {
        format!("{}/tables/", self.prefix)
    }

    /// A partition, e.g. `/cairn/dev/partitions/00000000000000000007`.
    pub fn partition(&self, id: GroupId) -> String {
        format!("{}/partitions/{:020}", self.prefix, id.0)
    }

    /// All partitions, e.g. `/cairn/dev/partitions/`.
    pub fn partitions_prefix(&self) -> String {
        format!("{}/partitions/", self.prefix)
    }

    /// An id counter, e.g. `/cairn/dev/ids/table`.
    pub fn counter(&self, counter: Counter) -> String {
        format!("{}/ids/{}", self.prefix, counter.name())
    }

    /// Classifies a key; `None` when it is not under this cluster's prefix.
    pub fn parse(&self, key: &str) -> Option<KeyKind> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        Some(if rest == "leader" {
            KeyKind::Leader
        } else if let Some(name) = rest.strip_prefix("nodes/") {
            KeyKind::Node(name.to_string())
        } else if let Some(name) = rest.strip_prefix("tables/") {
            KeyKind::Table(name.to_string())
        } else if let Some(id) = rest.strip_prefix("partitions/") {
            match id.parse::<u64>() {
                Ok(id) => KeyKind::Partition(GroupId(id)),
                Err(_) => KeyKind::Unknown,
            }
        } else if rest.starts_with("ids/") {
            KeyKind::Counter
        } else {
            KeyKind::Unknown
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_in_the_docs_hold_and_parse_inverts_the_builders() {
        let k = Keys::new("/cairn/dev/");
        assert_eq!(k.cluster_prefix(), "/cairn/dev/");
        assert_eq!(k.leader(), "/cairn/dev/leader");
        assert_eq!(k.node("node-a1"), "/cairn/dev/nodes/node-a1");
        assert_eq!(k.table("Music"), "/cairn/dev/tables/Music");
        assert_eq!(
            k.partition(GroupId(7)),
            "/cairn/dev/partitions/00000000000000000007"
        );
        assert_eq!(k.counter(Counter::Member), "/cairn/dev/ids/member");
        assert_eq!(k.parse(&k.leader()), Some(KeyKind::Leader));
        assert_eq!(k.parse(&k.node("n")), Some(KeyKind::Node("n".into())));
        assert_eq!(k.parse(&k.table("T.1")), Some(KeyKind::Table("T.1".into())));
        assert_eq!(
            k.parse(&k.partition(GroupId(u64::MAX))),
            Some(KeyKind::Partition(GroupId(u64::MAX)))
        );
        assert_eq!(k.parse(&k.counter(Counter::Group)), Some(KeyKind::Counter));
        assert_eq!(k.parse("/cairn/other/leader"), None);
        assert_eq!(k.parse("/cairn/devx/leader"), None);
        assert_eq!(k.parse("/cairn/dev/zzz"), Some(KeyKind::Unknown));
    }

    #[test]
    fn partition_keys_sort_numerically() {
        let k = Keys::new("/c");
        let ids = [0u64, 9, 10, 99, 100, u64::MAX];
        for w in ids.windows(2) {
            assert!(k.partition(GroupId(w[0])) < k.partition(GroupId(w[1])));
        }
    }
}
