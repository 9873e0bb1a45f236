//! (engine: under construction in this issue)
