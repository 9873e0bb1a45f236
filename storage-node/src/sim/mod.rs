//! deterministic simulator; see issue 3

pub mod lin;
