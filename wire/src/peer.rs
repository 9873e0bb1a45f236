//! Node-to-node messages that travel in frames ([`crate::frame`], type ids 0x0001–0x00FF).
//!
//! - [`ReplicationBatch`]: the replication envelopes one node driver sends another in one
//!   go (one-way, on the peer's ordered stream).
//! - [`PeerHello`]: the transport's own handshake (`storage-node/src/transport/`): the
//!   dialer's first call on a new connection; the answer tells it that the other side has
//!   checked its certificate and will accept its frames.
//!
//! Invariants checked on decode ([`Framed::validate`]) beyond what rkyv checks: memberships
//! in snapshots are what [`Membership::new`] would build (sorted, no duplicates, at most
//! `MEMBERS_MAX`, a Full member), split keys are at most [`SPLIT_KEY_BYTES_MAX`], names are
//! at most [`PEER_NAME_BYTES_MAX`].

use crate::frame::Framed;
use crate::replication::{Entry, Envelope, Membership, Message, Payload, SPLIT_KEY_BYTES_MAX};

/// Replication envelopes from one node to another.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct ReplicationBatch {
    /// The sending node's id.
    pub from_node: u64,
    pub envelopes: Vec<Envelope>,
}

impl Framed for ReplicationBatch {
    const TYPE: u16 = 0x0001;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        for env in &self.envelopes {
            check_message(&env.msg)
                .map_err(|e| format!("{} {}→{}: {e}", env.group, env.from, env.to))?;
        }
        Ok(())
    }
}

fn check_message(msg: &Message) -> Result<(), String> {
    match msg {
        Message::Accept { entries, .. } | Message::FetchResp { entries, .. } => {
            check_entries(entries)
        }
        Message::Snapshot { meta, .. } => check_membership(&meta.membership),
        _ => Ok(()),
    }
}

fn check_entries(entries: &[Entry]) -> Result<(), String> {
    for e in entries {
        if let Payload::Split(s) = &e.payload
            && s.key.len() > SPLIT_KEY_BYTES_MAX
        {
            return Err(format!(
                "entry {}: split key of {} bytes (max {SPLIT_KEY_BYTES_MAX})",
                e.index,
                s.key.len()
            ));
        }
    }
    Ok(())
}

fn check_membership(m: &Membership) -> Result<(), String> {
    match Membership::new(m.members().to_vec()) {
        Ok(rebuilt) if rebuilt == *m => Ok(()),
        Ok(_) => Err("membership not sorted by id".to_owned()),
        Err(e) => Err(format!("membership: {e}")),
    }
}

/// The longest host name a peer may have (a DNS name).
pub const PEER_NAME_BYTES_MAX: usize = 253;

/// The transport handshake: "I am `name`" (each side also proves it with its certificate).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PeerHello {
    pub name: String,
}

impl Framed for PeerHello {
    const TYPE: u16 = 0x0002;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.len() > PEER_NAME_BYTES_MAX {
            return Err(format!("peer name of {} bytes", self.name.len()));
        }
        Ok(())
    }
}

/// One log entry as the node driver stores it in its WAL (node-local; the frame's type and
/// version make the on-disk format explicit). `prev_ballot` is the ballot of the entry before
/// it: recovery checks that the stored entries chain to the snapshot point.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct StoredEntry {
    pub prev_ballot: crate::replication::Ballot,
    pub entry: Entry,
}

impl Framed for StoredEntry {
    const TYPE: u16 = 0x0003;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        check_entries(std::slice::from_ref(&self.entry))
    }
}

/// A replication membership as the node driver stores it (node-local).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct StoredMembership {
    pub membership: Membership,
}

impl Framed for StoredMembership {
    const TYPE: u16 = 0x0004;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        check_membership(&self.membership)
    }
}

/// A partition's state machine as a snapshot sent to a lagging member (inside
/// `Message::Snapshot::data`): every stored key and value of the partition's range, in key
/// order.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SnapshotData {
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Framed for SnapshotData {
    const TYPE: u16 = 0x0005;
    const VERSION: u16 = 1;

    fn validate(&self) -> Result<(), String> {
        if self.items.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("snapshot keys not strictly increasing".to_owned());
        }
        Ok(())
    }
}
