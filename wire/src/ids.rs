//! Identifiers that appear in formats (keys on disk, messages between processes).
//!
//! Only [`TableId`] lives here so far. Partition, node and ballot ids will join it as the
//! replication and control-plane formats are written (DESIGN §11).
//!
//! Invariants: an id is a plain number with a fixed width and a big-endian byte form, so that
//! byte order equals numeric order wherever it is embedded in a key (see `crate::key`).

use std::fmt;

/// The id of a table, the first component of every stored key (`crate::key`).
///
/// Table 0 ([`TableId::META`]) is reserved for the engine's own metadata (applied indexes,
/// partition descriptors, …). User tables are numbered from 1 ([`TableId::FIRST_USER`]).
/// Ids are never reused, so a dropped table's keys can be removed lazily by range.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct TableId(pub u32);

impl TableId {
    /// The engine's own metadata table.
    pub const META: TableId = TableId(0);
    /// The first id a user table may get.
    pub const FIRST_USER: TableId = TableId(1);

    /// True for the reserved engine-metadata table.
    pub const fn is_meta(self) -> bool {
        self.0 == Self::META.0
    }

    /// The id's big-endian bytes, as it appears at the front of a key.
    pub const fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// The id from its big-endian bytes.
    pub const fn from_be_bytes(bytes: [u8; 4]) -> TableId {
        TableId(u32::from_be_bytes(bytes))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_form_round_trips_and_orders_like_the_number() {
        let ids = [0u32, 1, 255, 256, 65_535, 65_536, u32::MAX - 1, u32::MAX];
        for pair in ids.windows(2) {
            let (a, b) = (TableId(pair[0]), TableId(pair[1]));
            assert!(a < b);
            assert!(a.to_be_bytes() < b.to_be_bytes());
            assert_eq!(TableId::from_be_bytes(a.to_be_bytes()), a);
        }
        assert!(TableId::META.is_meta());
        assert!(!TableId::FIRST_USER.is_meta());
    }
}
