//! What storage nodes and the control plane exchange, and what the control plane keeps in etcd
//! (DESIGN §1, §5, §8).
//!
//! Two uses, one set of types:
//! - **etcd values** (written only by `control-plane/src/store/`): [`NodeInfo`], [`TableDesc`],
//!   [`PartitionDesc`], stored as JSON so that `etcdctl get` stays readable.
//! - **control RPCs** (node → control plane over QUIC, framed by `frame.rs`): [`ControlRequest`]
//!   and [`ControlReply`]; the control plane serves them in `control-plane/src/service.rs`.
//!
//! Invariants the types carry (checked by the control plane, relied on by routers):
//! - A table's partitions tile the 64-bit hash space: ranges are contiguous, non-overlapping,
//!   the first starts at 0 and the last has `end == None` (2^64).
//! - A partition's `epoch` grows whenever its range or replica set changes; a router with an
//!   older epoch is stale (DESIGN §5).
//! - A partition's id is its replication [`GroupId`]; each replica has its own [`MemberId`],
//!   never reused, so a node that hosts a group again joins as a new member.
//!
//! No I/O here. The `serde` derives give the JSON form (etcd values); the rkyv derives the
//! frame body: [`ControlRequest`] is frame type 0x0100 and [`ControlReply`] 0x0101 (see the
//! registry in `frame.rs`), with the bounds rkyv cannot check enforced by `validate`.

use std::fmt;

use rkyv::{Archive, Deserialize as RkyvDeserialize, Serialize as RkyvSerialize};

use serde::{Deserialize, Serialize};

use crate::ids::TableId;
use crate::key::KeyType;
use crate::replication::{Ballot, GroupId, LogIndex, MemberId, Role};

/// A storage node's id, assigned by the control plane at its first registration and kept for
/// the node's name forever.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A registered storage node (etcd value under `nodes/<name>`).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct NodeInfo {
    pub id: NodeId,
    /// Unique, stable host name (the certificate's name).
    pub name: String,
    /// Availability zone (failure domain).
    pub az: String,
    /// `host:port` of the node's QUIC endpoint (replication and forwarding).
    pub quic_addr: String,
    /// `host:port` of the node's DynamoDB HTTP API.
    pub api_addr: String,
}

/// A key attribute's type, as DynamoDB's `AttributeType` (`S`, `N`, `B`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub enum AttributeType {
    S,
    N,
    B,
}

impl AttributeType {
    /// The key-encoding type (`crate::key`).
    pub fn key_type(self) -> KeyType {
        match self {
            AttributeType::S => KeyType::S,
            AttributeType::N => KeyType::N,
            AttributeType::B => KeyType::B,
        }
    }
}

/// `KeyType` of a `KeySchemaElement`: DynamoDB's `HASH` or `RANGE`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub enum KeyRole {
    #[serde(rename = "HASH")]
    Hash,
    #[serde(rename = "RANGE")]
    Range,
}

impl KeyRole {
    /// DynamoDB's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Hash => "HASH",
            KeyRole::Range => "RANGE",
        }
    }
}

/// One `KeySchemaElement`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: KeyRole,
}

/// One `AttributeDefinition`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: AttributeType,
}

/// DynamoDB's `BillingMode`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub enum BillingMode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "PAY_PER_REQUEST")]
    PayPerRequest,
}

impl BillingMode {
    /// DynamoDB's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// DynamoDB's `ProvisionedThroughput` (capacity units per second).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct ProvisionedThroughput {
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
}

/// DynamoDB's `TableStatus` (the subset Cairn uses).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub enum TableStatus {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "DELETING")]
    Deleting,
}

impl TableStatus {
    /// DynamoDB's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Creating => "CREATING",
            TableStatus::Active => "ACTIVE",
            TableStatus::Deleting => "DELETING",
        }
    }
}

/// Everything `DescribeTable` reports about a table (etcd value under `tables/<name>`).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct TableDesc {
    pub name: String,
    #[serde(with = "table_id_serde")]
    pub id: TableId,
    /// One `HASH` element, then optionally one `RANGE` element.
    pub key_schema: Vec<KeySchemaElement>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub billing_mode: BillingMode,
    /// `None` for `PAY_PER_REQUEST`.
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub status: TableStatus,
    /// Milliseconds since the Unix epoch.
    pub creation_time_ms: u64,
    /// Refreshed later from node reports (DynamoDB refreshes it about every 6 hours).
    pub item_count: u64,
    /// Refreshed later from node reports.
    pub size_bytes: u64,
    /// The table's partitions, in hash-range order.
    #[serde(with = "group_ids_serde")]
    pub partitions: Vec<GroupId>,
    /// Tags and time to live (absent in descriptions stored before they existed).
    #[serde(default)]
    pub settings: TableSettings,
}

impl TableDesc {
    /// The `HASH` key attribute's name and type.
    pub fn hash_key(&self) -> Option<(&str, AttributeType)> {
        self.key_attr(KeyRole::Hash)
    }

    /// The `RANGE` key attribute's name and type, if the table has a sort key.
    pub fn range_key(&self) -> Option<(&str, AttributeType)> {
        self.key_attr(KeyRole::Range)
    }

    fn key_attr(&self, role: KeyRole) -> Option<(&str, AttributeType)> {
        let name = &self
            .key_schema
            .iter()
            .find(|e| e.key_type == role)?
            .attribute_name;
        let def = self
            .attribute_definitions
            .iter()
            .find(|d| &d.attribute_name == name)?;
        Some((name, def.attribute_type))
    }
}

/// A range `[start, end)` of the 64-bit partition-key hash space (`crate::key::hash64`);
/// `end == None` means 2^64.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct HashRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl HashRange {
    /// The whole hash space.
    pub const FULL: HashRange = HashRange {
        start: 0,
        end: None,
    };

    /// True when `hash` lies in the range.
    pub fn contains(&self, hash: u64) -> bool {
        hash >= self.start && self.end.is_none_or(|end| hash < end)
    }
}

/// One replica of a partition.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct ReplicaDesc {
    pub node: NodeId,
    #[serde(with = "member_id_serde")]
    pub member: MemberId,
    #[serde(with = "role_serde")]
    pub role: Role,
}

/// A partition: one replication group over a hash range of one table (etcd value under
/// `partitions/<group id>`).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct PartitionDesc {
    #[serde(with = "group_id_serde")]
    pub id: GroupId,
    #[serde(with = "table_id_serde")]
    pub table: TableId,
    pub range: HashRange,
    /// Grows on every change of range or replicas.
    pub epoch: u64,
    /// Intended replicas, in preferred-leader order; three, in three distinct AZs.
    pub replicas: Vec<ReplicaDesc>,
}

/// What a node reports about one replica it hosts.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct ReplicaState {
    #[serde(with = "group_id_serde")]
    pub group: GroupId,
    #[serde(with = "member_id_serde")]
    pub member: MemberId,
    #[serde(with = "role_serde")]
    pub role: Role,
    pub is_leader: bool,
    #[serde(with = "ballot_serde")]
    pub ballot: Ballot,
    pub commit_index: LogIndex,
    pub applied_index: LogIndex,
}

/// A node's periodic report (`ControlRequest::Heartbeat`).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct NodeHeartbeat {
    pub node: NodeId,
    /// Every replica the node hosts, at most [`HEARTBEAT_REPLICAS_MAX`].
    pub replicas: Vec<ReplicaState>,
}

/// The most replicas one heartbeat may list (a bound on the message, not on a node).
pub const HEARTBEAT_REPLICAS_MAX: usize = 100_000;

/// What the control plane asks a node to do, in a heartbeat reply.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub enum NodeCommand {
    /// Create (or keep) a replica of this partition as the given member.
    CreateReplica {
        partition: PartitionDesc,
        #[serde(with = "member_id_serde")]
        member: MemberId,
        /// Start as a member of a brand-new group (every member at index 0 with the
        /// partition's replicas as its membership). `false`: join a running group and wait
        /// for a snapshot from its leader. Only the partitions of a `CREATING` table are
        /// bootstrapped: a member that starts empty in a running group must not vote as if
        /// it had promised nothing.
        bootstrap: bool,
    },
    /// Drop the replica of this group, deleting its data.
    DropReplica {
        #[serde(with = "group_id_serde")]
        group: GroupId,
        #[serde(with = "member_id_serde")]
        member: MemberId,
    },
}

/// A node's first message: who it is. The reply carries its id.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct RegisterRequest {
    pub name: String,
    pub az: String,
    pub quic_addr: String,
    pub api_addr: String,
}

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct RegisterReply {
    pub node: NodeInfo,
    /// How often the node should send heartbeats.
    pub heartbeat_interval_ms: u64,
}

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct HeartbeatReply {
    /// Bounded by the number of replicas the node should host or drop.
    pub commands: Vec<NodeCommand>,
    /// Every node hosting a replica of a partition this node hosts or is told to create
    /// (names, QUIC addresses and AZs, so the node can reach its peers).
    pub nodes: Vec<NodeInfo>,
    /// The tables with time to live enabled that the node hosts partitions of (their leaders
    /// sweep expired items, `storage-node/src/node/ttl.rs`).
    pub time_to_live: Vec<TableDesc>,
}

/// Routing lookup (DESIGN §5): the partitions of `table` owning each hash. Routers send it on
/// every cache hit or miss (batched), so the reply is served from memory.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct RoutingLookup {
    pub table_name: String,
    /// At most [`LOOKUP_HASHES_MAX`].
    pub hashes: Vec<u64>,
}

/// The most hashes one routing lookup may carry.
pub const LOOKUP_HASHES_MAX: usize = 256;

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct RoutingReply {
    pub table: TableDesc,
    /// The distinct partitions owning the asked hashes, in range order.
    pub partitions: Vec<PartitionDesc>,
    /// The nodes hosting replicas of those partitions.
    pub nodes: Vec<NodeInfo>,
}

/// `CreateTable`'s parameters as the API layer parsed them (validation happens in the control
/// plane, which answers with DynamoDB's errors).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct CreateTableRequest {
    pub table_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// `None` means DynamoDB's default, `PROVISIONED`.
    pub billing_mode: Option<BillingMode>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct ListTablesRequest {
    pub exclusive_start_table_name: Option<String>,
    /// 1..=100; `None` means 100.
    pub limit: Option<u32>,
}

#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct ListTablesReply {
    pub table_names: Vec<String>,
    pub last_evaluated_table_name: Option<String>,
}

/// A control RPC from a node.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub enum ControlRequest {
    Register(RegisterRequest),
    Heartbeat(NodeHeartbeat),
    Lookup(RoutingLookup),
    CreateTable(CreateTableRequest),
    DeleteTable {
        table_name: String,
    },
    DescribeTable {
        table_name: String,
    },
    ListTables(ListTablesRequest),
    /// UpdateTable, TagResource, UntagResource, UpdateTimeToLive: answered with the table's
    /// new description.
    AlterTable {
        table_name: String,
        change: TableChange,
    },
}

/// The reply to a [`ControlRequest`].
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub enum ControlReply {
    Registered(RegisterReply),
    Heartbeat(HeartbeatReply),
    Routing(RoutingReply),
    /// CreateTable, DeleteTable and DescribeTable answer with the table's description.
    Table(TableDesc),
    Tables(ListTablesReply),
    Error(ControlError),
}

/// Why a control RPC failed. The DynamoDB kinds map one to one onto DynamoDB's error types
/// (their `__type` is [`ControlErrorKind::dynamodb_type`]); the others are for nodes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub enum ControlErrorKind {
    Validation,
    ResourceInUse,
    ResourceNotFound,
    LimitExceeded,
    /// This instance is a standby; retry at the leader (`leader_hint`).
    NotLeader,
    /// etcd or the leader cannot be reached now; retry later.
    Unavailable,
    /// The node must register (again) first.
    UnknownNode,
    Internal,
}

impl ControlErrorKind {
    /// DynamoDB's `__type` for the kinds a DynamoDB client sees.
    pub fn dynamodb_type(self) -> &'static str {
        match self {
            ControlErrorKind::Validation => "com.amazon.coral.validate#ValidationException",
            ControlErrorKind::ResourceInUse => {
                "com.amazonaws.dynamodb.v20120810#ResourceInUseException"
            }
            ControlErrorKind::ResourceNotFound => {
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            }
            ControlErrorKind::LimitExceeded => {
                "com.amazonaws.dynamodb.v20120810#LimitExceededException"
            }
            ControlErrorKind::NotLeader
            | ControlErrorKind::Unavailable
            | ControlErrorKind::UnknownNode => {
                "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"
            }
            ControlErrorKind::Internal => "com.amazonaws.dynamodb.v20120810#InternalServerError",
        }
    }
}

/// A failed control RPC: the kind, DynamoDB's message, and where the leader is when known.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
    thiserror::Error,
)]
#[error("{kind:?}: {message}")]
pub struct ControlError {
    pub kind: ControlErrorKind,
    pub message: String,
    /// The current leader as `name@address` (its certificate name and advertised control
    /// address), for [`ControlErrorKind::NotLeader`].
    pub leader_hint: Option<String>,
}

impl ControlError {
    pub fn new(kind: ControlErrorKind, message: impl Into<String>) -> ControlError {
        ControlError {
            kind,
            message: message.into(),
            leader_hint: None,
        }
    }
}

macro_rules! newtype_serde {
    ($module:ident, $ty:path, $inner:ty) => {
        mod $module {
            use serde::{Deserialize, Deserializer, Serialize, Serializer};
            pub fn serialize<S: Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                v.0.serialize(s)
            }
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                <$inner>::deserialize(d).map($ty)
            }
        }
    };
}

// The ids live in modules that do not depend on serde; these adapters give them their JSON
// form (a plain number).
newtype_serde!(table_id_serde, crate::ids::TableId, u32);
newtype_serde!(group_id_serde, crate::replication::GroupId, u64);
newtype_serde!(member_id_serde, crate::replication::MemberId, u64);
newtype_serde!(ballot_serde, crate::replication::Ballot, u64);

mod group_ids_serde {
    use crate::replication::GroupId;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(v: &[GroupId], s: S) -> Result<S::Ok, S::Error> {
        v.iter().map(|g| g.0).collect::<Vec<u64>>().serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<GroupId>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(GroupId)
            .collect())
    }
}

mod role_serde {
    use crate::replication::Role;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(v: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match v {
            Role::Full => "Full",
            Role::Log => "Log",
            Role::Learner => "Learner",
        })
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        match String::deserialize(d)?.as_str() {
            "Full" => Ok(Role::Full),
            "Log" => Ok(Role::Log),
            "Learner" => Ok(Role::Learner),
            other => Err(D::Error::custom(format!("unknown replica role {other:?}"))),
        }
    }
}

/// Version 2 added [`ControlRequest::AlterTable`] and [`TableDesc::settings`].
impl crate::frame::Framed for ControlRequest {
    const TYPE: u16 = 0x0100;
    const VERSION: u16 = 2;

    /// The bounds rkyv cannot check: replicas per heartbeat, hashes per
    /// routing lookup.
    fn validate(&self) -> Result<(), String> {
        match self {
            ControlRequest::Heartbeat(h) if h.replicas.len() > HEARTBEAT_REPLICAS_MAX => {
                Err(format!(
                    "heartbeat lists {} replicas, at most {HEARTBEAT_REPLICAS_MAX}",
                    h.replicas.len()
                ))
            }
            ControlRequest::Lookup(l) if l.hashes.len() > LOOKUP_HASHES_MAX => Err(format!(
                "routing lookup of {} hashes, at most {LOOKUP_HASHES_MAX}",
                l.hashes.len()
            )),
            ControlRequest::AlterTable {
                change: TableChange::Tag(t),
                ..
            } if t.len() > TAGS_PER_RESOURCE_MAX => Err(format!("{} tags", t.len())),
            ControlRequest::AlterTable {
                change: TableChange::Untag(k),
                ..
            } if k.len() > TAGS_PER_RESOURCE_MAX => Err(format!("{} tag keys", k.len())),
            _ => Ok(()),
        }
    }
}

/// Version 2 added [`TableDesc::settings`] and [`HeartbeatReply::time_to_live`].
impl crate::frame::Framed for ControlReply {
    const TYPE: u16 = 0x0101;
    const VERSION: u16 = 2;
}

pub mod alter;
mod settings;
#[cfg(test)]
mod tests;

pub use settings::{
    CAPACITY_UNITS_BOUND, ResourceTag, TAGS_PER_RESOURCE_MAX, TableChange, TableSettings,
};
