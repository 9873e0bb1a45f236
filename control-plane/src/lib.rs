//! The Cairn control plane (`cairn-control`) and operator CLI (`cairnctl`).
//!
//! Not built yet: it arrives with the cluster issue (DESIGN §8). This crate
//! exists now only so the workspace has its fixed shape; it contains no code
//! that pretends to be the control plane.
