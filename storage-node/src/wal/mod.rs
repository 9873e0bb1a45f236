//! (wal: under construction in this issue)
