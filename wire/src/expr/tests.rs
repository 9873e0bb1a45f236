//! Tests of the expression engine, one file per part; `helpers` builds items and requests.

mod codec;
mod eval;
mod helpers;
mod keycond;
mod legacy;
mod legacy_random;
mod legacy_updates;
mod parse;
mod random;
mod reference;
mod update;
