//! Per-key linearizability checker for the simulator's client history
//! (DESIGN §13), in the style of Porcupine (Athalye): Wing–Gong–Lowe search
//! with a memo of (linearized-op set, state), and P-compositionality — each
//! key is an independent register (`Option<u64>`), so the history is split
//! per key and each key is checked on its own under a step budget.
//!
//! Only strongly consistent operations belong in the history (eventually
//! consistent reads are allowed to be stale and are not recorded here).
//!
//! Usage from the simulator:
//! ```
//! use storage_node::sim::lin::{CheckBudget, History, Input, Output};
//! let mut h = History::new();
//! let w = h.invoke(1, 42, Input::Put { value: 7 }, 10);
//! let r = h.invoke(2, 42, Input::Get, 12);
//! h.complete(w, Output::Ok, 15);
//! h.complete(r, Output::Value(Some(7)), 16);
//! assert!(h.check(CheckBudget::default()).is_linearizable());
//! ```
//!
//! Files: `history.rs` (recorder, per-key split), `model.rs` (register
//! semantics), `prepare.rs` (verdict-preserving reductions of unknown-outcome ops),
//! `search.rs` (the WGL search; real-time tie rule documented there: a
//! return and a call at the same time are concurrent), `report.rs`
//! (budget, result, printable violation). Tests: `tests.rs` (hand-written
//! histories), `tests_random.rs` (generated histories cross-checked against
//! the brute-force oracle in `brute.rs`; generator in `generate.rs`).

mod history;
mod model;
mod prepare;
mod report;
mod search;

#[cfg(test)]
mod brute;
#[cfg(test)]
mod generate;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_random;

pub use history::{HISTORY_OPS_MAX, History, Input, Op, OpId, Outcome, Output};
pub use report::{
    BudgetKind, CheckBudget, CheckResult, INCONCLUSIVE_KEYS_DISPLAY_MAX, Inconclusive,
    KeyBudgetExceeded, VIOLATION_OPS_DISPLAY_MAX, Violation,
};
