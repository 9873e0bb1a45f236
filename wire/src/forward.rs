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
}

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
}

impl Framed for ItemRequest {
    const TYPE: u16 = 0x0200;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() || self.key.len() > crate::key::MAX_ENCODED_KEY_BYTES {
            return Err(format!("key of {} bytes", self.key.len()));
        }
        if let ItemOp::Put { item, .. } = &self.op
            && item.len() > ITEM_IMAGE_BYTES_MAX
        {
            return Err(format!("item image of {} bytes", item.len()));
        }
        Ok(())
    }
}

impl Framed for ItemReply {
    const TYPE: u16 = 0x0201;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        if let ItemReply::Ok(Some(item)) = self
            && item.len() > ITEM_IMAGE_BYTES_MAX
        {
            return Err(format!("item image of {} bytes", item.len()));
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
