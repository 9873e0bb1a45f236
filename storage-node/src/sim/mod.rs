//! deterministic simulator; see issue 3
//!
//! - [`lin`]: per-key linearizability checker for the client history.

pub mod lin;
