//! What a user changes on an existing table besides its items: tags, time to live, capacity
//! ([`TableChange`], carried by `ControlRequest::AlterTable` and decided by `alter.rs`), and
//! the settings a table keeps ([`TableSettings`], inside `TableDesc`).

use rkyv::{Archive, Deserialize as RkyvDeserialize, Serialize as RkyvSerialize};
use serde::{Deserialize, Serialize};

use super::{BillingMode, ProvisionedThroughput};

/// A resource tag (TagResource).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub struct ResourceTag {
    pub key: String,
    pub value: String,
}

/// DynamoDB's upper bound on a capacity value before quotas ("out of bounds").
pub const CAPACITY_UNITS_BOUND: u64 = 1_000_000_000_000;

/// DynamoDB's most tags per resource.
pub const TAGS_PER_RESOURCE_MAX: usize = 50;

/// What a user sets on a table besides its key schema and capacity.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Archive,
    RkyvSerialize,
    RkyvDeserialize,
)]
pub struct TableSettings {
    /// Sorted by key, keys distinct, at most [`TAGS_PER_RESOURCE_MAX`].
    #[serde(default)]
    pub tags: Vec<ResourceTag>,
    /// UpdateTimeToLive: the attribute holding each item's expiry time (a number of seconds
    /// since the Unix epoch); `None` when time to live is disabled.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
}

/// A change to an existing table (`ControlRequest::AlterTable`).
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Archive, RkyvSerialize, RkyvDeserialize,
)]
pub enum TableChange {
    /// UpdateTable: the billing mode and provisioned throughput (`None`: unchanged).
    Capacity {
        billing_mode: Option<BillingMode>,
        provisioned_throughput: Option<ProvisionedThroughput>,
    },
    /// TagResource: add or overwrite these tags.
    Tag(Vec<ResourceTag>),
    /// UntagResource: remove the tags with these keys.
    Untag(Vec<String>),
    /// UpdateTimeToLive.
    TimeToLive {
        enabled: bool,
        attribute_name: String,
    },
}
