//! (btree: under construction in this issue)
