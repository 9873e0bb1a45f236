//! Router ↔ node messages (frame types 0x0200–0x02FF): one item operation forwarded by the
//! node that received the API request (the *router*) to the node hosting the partition's
//! leader or, for eventually consistent reads, a replica.
//!
//! - [`ItemRequest`] (0x0200) / [`ItemReply`] (0x0201): one hop, never forwarded again (the
//!   receiving node answers from its own replicas; a redirect goes back to the router).
//! - [`DigestRequest`] (0x0220) / [`DigestReply`] (0x0221): the blake3 digest of one
//!   group's key range at its applied index (tests and, later, scrub).
//!
//! The key is the stored key ([`crate::key`] layout, at most
//! [`crate::key::MAX_ENCODED_KEY_BYTES`]); items are in the stored binary form
//! ([`crate::item::encoding`]). Validation bounds both before any use.

use crate::control::NodeId;
use crate::frame::Framed;
use crate::replication::{GroupId, LogIndex};

/// The largest stored item image a forwarded request or reply may carry: DynamoDB's 400 KB
/// item limit plus room for the binary encoding's length prefixes.
pub const ITEM_IMAGE_BYTES_MAX: usize = 512 * 1024;

/// What to do with one item.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ItemOp {
    /// Replace the item (stored binary form); `return_old` asks for the previous image.
    Put {
        item: Vec<u8>,
        return_old: bool,
    },
    Delete {
        return_old: bool,
    },
    /// `consistent`: at the leader under its lease; otherwise from this replica as it is.
    Get {
        consistent: bool,
    },
    /// A write the leader evaluates against the current item, atomically with its proposal:
    /// conditions, updates, returned images and the sizes consumed capacity needs.
    Eval(EvalWrite),
    /// Read a key range in key order (Query, Scan). `ItemRequest::key` is the range's lower
    /// bound and `hash` its hash: the partition that owns the lower bound serves the read,
    /// clipped to the keys it owns. Answered with [`ItemReply::Page`].
    Range(RangeRead),
}

/// A read of the stored keys between `lower` and `upper` (each inclusive or not), in
/// ascending order or (`reverse`) descending, stopping after `items_max` items or once the
/// stored images read reach `bytes_max` bytes (the item that reaches it is included).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct RangeRead {
    pub lower: Vec<u8>,
    pub lower_inclusive: bool,
    pub upper: Vec<u8>,
    pub upper_inclusive: bool,
    pub reverse: bool,
    /// At the leader under its lease, else from this replica as it is.
    pub consistent: bool,
    /// At least 1.
    pub items_max: u32,
    /// At least 1, at most [`PAGE_BYTES_MAX`].
    pub bytes_max: u32,
}

/// The most stored-image bytes one [`RangeRead`] may ask for: DynamoDB's 1 MB page. (DynamoDB
/// measures pages on an internal, compressed size; the stored binary form is ours.)
pub const PAGE_BYTES_MAX: u32 = 1024 * 1024;

/// Why a [`ItemReply::Page`] ended where it did.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum PageEnd {
    /// Nothing more in the requested range.
    Done,
    /// `items_max` or `bytes_max` stopped the read after the last item returned.
    Limit,
    /// (Ascending reads only.) The partition's keys end inside the requested range: the rest
    /// starts at this key (an inclusive lower bound), in the partition that owns it.
    Boundary(Vec<u8>),
}

/// What a write evaluated at the leader returns (DynamoDB's `ReturnValues`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ReturnImage {
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

/// The change an [`EvalWrite`] makes when its condition holds.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum WriteAction {
    /// Replace the item (stored form) whose DynamoDB size is `size_bytes`.
    Put {
        item: Vec<u8>,
        size_bytes: u32,
    },
    Delete,
    /// Apply `update` (a `crate::expr::codec` update blob) to the current item, or to
    /// `key_item` (the key attributes, stored form) when there is none.
    Update {
        update: Vec<u8>,
        key_item: Vec<u8>,
    },
}

/// A conditional write, an update, or a write whose old item matters (returned image or
/// capacity).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct EvalWrite {
    pub action: WriteAction,
    /// A `crate::expr::codec` condition blob that must hold on the current item.
    pub condition: Option<Vec<u8>>,
    pub returns: ReturnImage,
    /// `ReturnValuesOnConditionCheckFailure=ALL_OLD`: a failed condition returns the item.
    pub old_on_failure: bool,
}

/// The most bytes of expression blobs one [`EvalWrite`] may carry (two 4 KB expressions and
/// their values are far below it; values hold at most an item's worth).
pub const EXPRESSION_BLOB_BYTES_MAX: usize = 1024 * 1024;

/// One item operation on one partition.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct ItemRequest {
    pub group: GroupId,
    /// The router's routing epoch for this partition (logs and metrics only: the node
    /// decides by its own ownership and leadership).
    pub epoch: u64,
    /// The stored key.
    pub key: Vec<u8>,
    /// `crate::key::hash64` of the partition key (ownership is decided on it).
    pub hash: u64,
    pub op: ItemOp,
    /// How long the router will wait, in milliseconds.
    pub deadline_ms: u32,
}

/// The answer to an [`ItemRequest`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ItemReply {
    /// Done. For `Get`: the item; for writes: the old image when asked for, else `None`.
    Ok(Option<Vec<u8>>),
    /// This replica is not the leader; `leader` is the node it believes leads.
    NotLeader { leader: Option<NodeId> },
    /// The group does not own this key (any more): refresh routing. Certainly no effect.
    WrongGroup,
    /// No replica of this group here. Certainly no effect.
    NotHere,
    /// Overloaded or the group is not ready (installing, no leader yet). Certainly no effect.
    Busy,
    /// The write was proposed but its fate is unknown (leadership lost, deadline passed).
    Ambiguous,
    /// The write's log slot was taken by another leader's entry: certainly no effect.
    NotCommitted,
    /// An [`ItemOp::Eval`] write was applied: the image asked for, and DynamoDB's size of
    /// the item before and after (0: no item), from which consumed capacity is computed.
    Written {
        image: Option<Vec<u8>>,
        old_bytes: u32,
        new_bytes: u32,
    },
    /// The condition did not hold: certainly no effect. `old`: the current item, when
    /// asked for.
    ConditionFailed {
        old: Option<Vec<u8>>,
        old_bytes: u32,
    },
    /// The update cannot apply to the current item; the message is DynamoDB's
    /// ValidationException text. Certainly no effect.
    Invalid(String),
    /// The answer to an [`ItemOp::Range`]: stored item images in the order read.
    Page { items: Vec<Vec<u8>>, end: PageEnd },
}

/// Version 2 added [`ItemOp::Eval`] (conditions and updates), version 3 [`ItemOp::Range`]; a
/// node reads only its own version, so a mixed-version cluster forwards nothing between old
/// and new nodes (rolling upgrades of this message are future work).
impl Framed for ItemRequest {
    const TYPE: u16 = 0x0200;
    const VERSION: u16 = 3;

    fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() || self.key.len() > crate::key::MAX_ENCODED_KEY_BYTES {
            return Err(format!("key of {} bytes", self.key.len()));
        }
        let image = match &self.op {
            ItemOp::Put { item, .. } => item.len(),
            ItemOp::Eval(w) => {
                let blobs = w.condition.as_ref().map_or(0, Vec::len)
                    + match &w.action {
                        WriteAction::Update { update, .. } => update.len(),
                        _ => 0,
                    };
                if blobs > EXPRESSION_BLOB_BYTES_MAX {
                    return Err(format!("expression blobs of {blobs} bytes"));
                }
                match &w.action {
                    WriteAction::Put { item, .. } => item.len(),
                    WriteAction::Update { key_item, .. } => key_item.len(),
                    WriteAction::Delete => 0,
                }
            }
            ItemOp::Range(r) => {
                let key_max = crate::key::MAX_ENCODED_KEY_BYTES;
                if r.lower.len() > key_max || r.upper.len() > key_max {
                    return Err("range bound longer than a key".to_owned());
                }
                if r.lower != self.key {
                    return Err("a range read's key must be its lower bound".to_owned());
                }
                if r.items_max == 0 || r.bytes_max == 0 || r.bytes_max > PAGE_BYTES_MAX {
                    return Err(format!(
                        "range limits of {} items, {} bytes",
                        r.items_max, r.bytes_max
                    ));
                }
                0
            }
            _ => 0,
        };
        if image > ITEM_IMAGE_BYTES_MAX {
            return Err(format!("item image of {image} bytes"));
        }
        Ok(())
    }
}

/// Version 2 added `Written`, `ConditionFailed` and `Invalid`, version 3 `Page`.
impl Framed for ItemReply {
    const TYPE: u16 = 0x0201;
    const VERSION: u16 = 3;

    fn validate(&self) -> Result<(), String> {
        if let ItemReply::Page { items, end } = self {
            let bytes: usize = items.iter().map(Vec::len).sum();
            if bytes > PAGE_BYTES_MAX as usize + ITEM_IMAGE_BYTES_MAX {
                return Err(format!("page of {bytes} bytes"));
            }
            if let Some(big) = items.iter().find(|i| i.len() > ITEM_IMAGE_BYTES_MAX) {
                return Err(format!("item image of {} bytes", big.len()));
            }
            if let PageEnd::Boundary(k) = end
                && (k.is_empty() || k.len() > crate::key::MAX_ENCODED_KEY_BYTES)
            {
                return Err(format!("page boundary of {} bytes", k.len()));
            }
            return Ok(());
        }
        let image = match self {
            ItemReply::Ok(Some(item))
            | ItemReply::Written {
                image: Some(item), ..
            }
            | ItemReply::ConditionFailed {
                old: Some(item), ..
            } => item.len(),
            ItemReply::Invalid(m) => m.len(),
            _ => 0,
        };
        if image > ITEM_IMAGE_BYTES_MAX {
            return Err(format!("item image of {image} bytes"));
        }
        Ok(())
    }
}

/// Ask a node for the digest of its replica of `group`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DigestRequest {
    pub group: GroupId,
}

/// blake3 over `klen u32 LE | key | vlen u32 LE | value` for every key of the group's range,
/// in key order, at `applied`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum DigestReply {
    Digest {
        applied: LogIndex,
        items: u64,
        digest: [u8; 32],
    },
    NotHere,
}

impl Framed for DigestRequest {
    const TYPE: u16 = 0x0220;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Framed for DigestReply {
    const TYPE: u16 = 0x0221;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{decode, encode};

    #[test]
    fn requests_and_replies_round_trip_and_are_bounded() {
        let req = ItemRequest {
            group: GroupId(7),
            epoch: 3,
            key: vec![1; 40],
            hash: 99,
            op: ItemOp::Put {
                item: vec![5; 1000],
                return_old: true,
            },
            deadline_ms: 800,
        };
        let f = encode(&req, 1 << 20).unwrap();
        assert_eq!(decode::<ItemRequest>(&f, 1 << 20).unwrap(), req);
        let big = ItemRequest {
            op: ItemOp::Put {
                item: vec![0; ITEM_IMAGE_BYTES_MAX + 1],
                return_old: false,
            },
            ..req.clone()
        };
        let f = encode(&big, 1 << 21).unwrap();
        assert!(decode::<ItemRequest>(&f, 1 << 21).is_err());
        let empty = ItemRequest {
            key: Vec::new(),
            ..req
        };
        let f = encode(&empty, 1 << 20).unwrap();
        assert!(decode::<ItemRequest>(&f, 1 << 20).is_err());
        for r in [
            ItemReply::Ok(Some(vec![1, 2])),
            ItemReply::NotLeader {
                leader: Some(NodeId(2)),
            },
            ItemReply::Ambiguous,
        ] {
            let f = encode(&r, 1 << 20).unwrap();
            assert_eq!(decode::<ItemReply>(&f, 1 << 20).unwrap(), r);
        }
    }
}
