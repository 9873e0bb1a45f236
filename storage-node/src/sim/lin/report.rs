//! What [`History::check`](super::History::check) returns: the budget it
//! runs under, the three-way result (a budget overrun is `Unknown`, never a
//! silent pass), and a [`Violation`] that prints the offending key's ops with
//! the longest linearizable prefix the search found.
//!
//! Display output is bounded: at most [`VIOLATION_OPS_DISPLAY_MAX`] op lines
//! and [`INCONCLUSIVE_KEYS_DISPLAY_MAX`] budget lines.

use std::fmt;
use std::time::Duration;

use super::history::{Op, OpId, Outcome};

/// Most op lines a [`Violation`] prints (the rest are counted).
pub const VIOLATION_OPS_DISPLAY_MAX: usize = 400;
/// Most over-budget keys an [`Inconclusive`] prints (the rest are counted).
pub const INCONCLUSIVE_KEYS_DISPLAY_MAX: usize = 20;

/// Limits for one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckBudget {
    /// Search steps per key (one step = one event visited or one op lifted;
    /// the memo grows by at most one ~40-byte entry per step).
    pub steps_per_key_max: u64,
    /// Wall-clock limit for the whole check; `None` keeps the result
    /// deterministic (recommended inside the simulator).
    pub wall_time_max: Option<Duration>,
}

impl CheckBudget {
    /// Default steps per key: at most ~100 MB of memo and about a second of
    /// search (release build) per key.
    pub const STEPS_PER_KEY_MAX_DEFAULT: u64 = 2_000_000;
}

impl Default for CheckBudget {
    fn default() -> CheckBudget {
        CheckBudget {
            steps_per_key_max: CheckBudget::STEPS_PER_KEY_MAX_DEFAULT,
            wall_time_max: None,
        }
    }
}

/// The verdict on a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Linearizable,
    NotLinearizable(Box<Violation>),
    /// No violation found, but some key was not fully searched.
    Unknown(Inconclusive),
}

impl CheckResult {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable)
    }

    pub fn violation(&self) -> Option<&Violation> {
        match self {
            CheckResult::NotLinearizable(v) => Some(v),
            CheckResult::Linearizable | CheckResult::Unknown(_) => None,
        }
    }
}

/// Which limit stopped a key's search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetKind {
    Steps,
    WallTime,
}

/// One key whose search ran out of budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBudgetExceeded {
    pub key: u64,
    pub ops: usize,
    pub steps: u64,
    pub kind: BudgetKind,
}

/// Why a check is inconclusive: all keys not listed here and not counted in
/// `keys_unchecked` are linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inconclusive {
    pub exceeded: Vec<KeyBudgetExceeded>,
    /// Keys never started because the wall-clock budget ran out.
    pub keys_unchecked: usize,
    pub keys_total: usize,
}

/// A key whose sub-history has no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: u64,
    /// Every op on the key, in invocation order.
    pub ops: Vec<(OpId, Op)>,
    /// The longest sequence of this key's ops the search could linearize
    /// (consistent with the model and real time), in linearization order.
    pub longest_prefix: Vec<OpId>,
    /// The register after `longest_prefix` (`None` = absent).
    pub state_after_prefix: Option<u64>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {} is not linearizable: {} ops; longest linearizable prefix has {} ops, leaving the item {}",
            self.key,
            self.ops.len(),
            self.longest_prefix.len(),
            StateFmt(self.state_after_prefix),
        )?;
        writeln!(
            f,
            "ops by call time (\"lin #k\": k-th in that prefix; \"-\": not in it; \"?\": unknown outcome, \
             which may never have taken effect):"
        )?;
        let mut by_call: Vec<&(OpId, Op)> = self.ops.iter().collect();
        by_call.sort_by_key(|(id, op)| (op.call, *id));
        for (id, op) in by_call.iter().take(VIOLATION_OPS_DISPLAY_MAX) {
            let output = match op.outcome {
                Outcome::Returned { output, .. } => output.to_string(),
                Outcome::Pending | Outcome::Unknown => "?".to_string(),
            };
            let ret = match op.outcome {
                Outcome::Returned { time, .. } => time.to_string(),
                Outcome::Pending | Outcome::Unknown => "inf".to_string(),
            };
            let lin = match self.longest_prefix.iter().position(|p| p == id) {
                Some(k) => format!("lin #{}", k + 1),
                None => "-".to_string(),
            };
            writeln!(
                f,
                "  op {:<6} client {:<4} {:<26} -> {:<16} call {:<10} ret {:<10} {lin}",
                id.0,
                op.client,
                op.input.to_string(),
                output,
                op.call,
                ret,
            )?;
        }
        if by_call.len() > VIOLATION_OPS_DISPLAY_MAX {
            writeln!(
                f,
                "  ... and {} more ops",
                by_call.len() - VIOLATION_OPS_DISPLAY_MAX
            )?;
        }
        let order: Vec<String> = self
            .longest_prefix
            .iter()
            .map(|id| id.0.to_string())
            .collect();
        writeln!(
            f,
            "longest linearizable prefix (op ids in order): [{}]",
            order.join(", ")
        )
    }
}

struct StateFmt(Option<u64>);

impl fmt::Display for StateFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "= {v}"),
            None => write!(f, "absent"),
        }
    }
}

impl fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "linearizability unknown: {} of {} keys ran out of budget, {} keys never checked (no violation found)",
            self.exceeded.len(),
            self.keys_total,
            self.keys_unchecked,
        )?;
        for k in self.exceeded.iter().take(INCONCLUSIVE_KEYS_DISPLAY_MAX) {
            writeln!(
                f,
                "  key {}: {} ops, stopped by {:?} after {} steps",
                k.key, k.ops, k.kind, k.steps
            )?;
        }
        if self.exceeded.len() > INCONCLUSIVE_KEYS_DISPLAY_MAX {
            writeln!(
                f,
                "  ... and {} more keys",
                self.exceeded.len() - INCONCLUSIVE_KEYS_DISPLAY_MAX
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Linearizable => writeln!(f, "linearizable"),
            CheckResult::NotLinearizable(v) => v.fmt(f),
            CheckResult::Unknown(i) => i.fmt(f),
        }
    }
}
