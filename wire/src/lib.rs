//! What crosses a process boundary or reaches disk as a format (DESIGN §11). No I/O here:
//! only types, encodings and the rules that decide whether a value is valid.
//!
//! Modules:
//! - [`control`]: node ↔ control-plane RPCs and the table/partition/node descriptions kept in
//!   etcd (JSON via serde).
//! - [`ids`]: identifiers embedded in formats ([`ids::TableId`]; table 0 is the engine's
//!   metadata).
//! - [`number`]: DynamoDB numbers ([`number::Number`]): parsing with DynamoDB's rules and
//!   messages, canonical text, numeric order, DynamoDB's byte-size rule, and (in
//!   `number/encoding.rs`) the order-preserving byte encoding used in keys.
//! - [`key`]: the stored key layout `table_id | hash64(pk) | pk_len | pk | sk`, the fixed
//!   partition-key hash, DynamoDB's key limits, and key ranges for tables and item collections.
//! - [`item`]: DynamoDB attribute values and items: DynamoDB JSON, validation with DynamoDB's
//!   messages, the item-size formula, the stored binary form, and primary-key extraction.
//! - [`replication`]: the Multi-Paxos messages, log entries, memberships and persisted promise
//!   state exchanged by `storage-node/src/replication/`.
//! - [`frame`]: the checksummed, versioned frame around every message between processes
//!   (byte layout and message type registry in its docs).
//! - [`peer`]: node-to-node framed messages (replication batches, the transport handshake).
//! - [`expr`]: DynamoDB expressions (condition, filter, key condition, update, projection):
//!   parsing with DynamoDB's messages, placeholders, evaluation and update application.
//! - [`forward`]: router-to-node item operations and partition digests (frame types 0x02xx).
//! - [`capacity`]: consumed-capacity accounting (DynamoDB's exact read/write unit rules) and the
//!   `ConsumedCapacity` response shapes; `DescribeLimits` defaults.

pub mod capacity;
pub mod control;
pub mod expr;
pub mod forward;
pub mod frame;
pub mod ids;
pub mod item;
pub mod key;
pub mod number;
pub mod peer;
pub mod replication;

pub use ids::TableId;
pub use key::{KeyAttr, KeyError, KeyType};
pub use number::{Number, NumberError};

#[cfg(test)]
mod test_rng;
#[cfg(test)]
mod test_support;
