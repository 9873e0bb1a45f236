//! Partition snapshots and digests, read from a pinned engine snapshot (`btree::Snapshot`):
//!
//! - [`build`]: every key and value of a partition's range as a `wire::peer::SnapshotData`
//!   frame, sent whole in `Message::Snapshot::data` to a member that fell behind the leader's
//!   log. Bounded by [`SNAPSHOT_BYTES_MAX`]: a larger partition is not sent (an error the
//!   caller logs; the follower stays behind: chunked transfer is not built yet).
//! - [`check`]: a received snapshot is well formed and holds only keys the receiving
//!   partition owns (checked before the message reaches the replica).
//! - [`digest`]: blake3 over `klen u32 LE | key | vlen u32 LE | value` in key order, the
//!   partition's content at the pinned point (tests compare members with it; scrub later).

use std::ops::Bound;

use wire::peer::SnapshotData;

use crate::btree::{Direction, Snapshot};
use crate::engine::KeyRange;
use crate::io::Disk;
use crate::partition::{Ownership, SNAPSHOT_BYTES_MAX};

pub async fn build<D: Disk>(snap: &Snapshot<D>, range: &KeyRange) -> Result<Vec<u8>, String> {
    let mut cur = snap.range(
        Bound::Included(range.start.clone()),
        Bound::Excluded(range.end.clone()),
        Direction::Forward,
    );
    let mut items = Vec::new();
    let mut bytes = 0usize;
    while cur.advance().await.map_err(|e| e.to_string())? {
        bytes += cur.key().len() + cur.value().len() + 16;
        if bytes > SNAPSHOT_BYTES_MAX {
            return Err(format!(
                "partition larger than {SNAPSHOT_BYTES_MAX} bytes: snapshot transfer of large partitions is not supported yet"
            ));
        }
        items.push((cur.key().to_vec(), cur.value().to_vec()));
    }
    wire::frame::encode(&SnapshotData { items }, SNAPSHOT_BYTES_MAX + (1 << 20))
        .map_err(|e| e.to_string())
}

pub fn check(data: &[u8], own: &Ownership) -> Result<(), String> {
    let d: SnapshotData =
        wire::frame::decode(data, SNAPSHOT_BYTES_MAX + (1 << 20)).map_err(|e| e.to_string())?;
    match d.items.iter().find(|(k, _)| !own.owns(k)) {
        Some((k, _)) => Err(format!("key {k:02x?} outside the partition")),
        None => Ok(()),
    }
}

pub async fn digest<D: Disk>(
    snap: &Snapshot<D>,
    range: &KeyRange,
) -> Result<(u64, [u8; 32]), String> {
    let mut cur = snap.range(
        Bound::Included(range.start.clone()),
        Bound::Excluded(range.end.clone()),
        Direction::Forward,
    );
    let mut h = blake3::Hasher::new();
    let mut n = 0u64;
    while cur.advance().await.map_err(|e| e.to_string())? {
        let (k, v) = (cur.key(), cur.value());
        h.update(&(k.len() as u32).to_le_bytes());
        h.update(k);
        h.update(&(v.len() as u32).to_le_bytes());
        h.update(v);
        n += 1;
    }
    Ok((n, *h.finalize().as_bytes()))
}
