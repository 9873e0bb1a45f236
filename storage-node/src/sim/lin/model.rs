//! The sequential specification of one DynamoDB item as seen by the checker:
//! a register whose state is `Option<u64>` (absent, or a value), initially
//! absent. [`step`] says whether an op with a given output may be applied to
//! a state, and the state after it. Ops with an unknown output accept every
//! state (they returned nothing to contradict); whether they took effect at
//! all is handled by the search (it may linearize them after everything
//! else, where their effect is unobservable).
//!
//! Used by `search.rs` (the WGL search) and by the brute-force test oracle.

use super::history::{Input, Output};

/// Register state: `None` = item absent.
pub type State = Option<u64>;

/// The state every key starts in.
pub const INITIAL: State = None;

/// Applies `input` with observed `output` (`None` = unknown) to `state`:
/// `Some(next)` if that output is possible from `state`, `None` if not.
pub fn step(state: State, input: &Input, output: Option<&Output>) -> Option<State> {
    match (input, output) {
        (Input::Put { value }, Some(Output::Ok) | None) => Some(Some(*value)),
        (Input::Delete, Some(Output::Ok) | None) => Some(None),
        (Input::CondPut { expected, value }, Some(Output::CondOk)) => {
            (state == *expected).then_some(Some(*value))
        }
        (Input::CondPut { expected, .. }, Some(Output::CondFailed)) => {
            (state != *expected).then_some(state)
        }
        (Input::CondPut { expected, value }, None) => Some(if state == *expected {
            Some(*value)
        } else {
            state
        }),
        (Input::Get, Some(Output::Value(v))) => (state == *v).then_some(state),
        // A read with unknown outcome observed nothing.
        (Input::Get, None) => Some(state),
        // Kind mismatches are rejected by `History::complete`; if one slips
        // through (hand-built `KeyOp`s), it can never be linearized.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_semantics() {
        let put = Input::Put { value: 1 };
        assert_eq!(step(None, &put, Some(&Output::Ok)), Some(Some(1)));
        assert_eq!(step(Some(1), &Input::Delete, None), Some(None));
        let cas = Input::CondPut {
            expected: None,
            value: 2,
        };
        assert_eq!(step(None, &cas, Some(&Output::CondOk)), Some(Some(2)));
        assert_eq!(step(Some(1), &cas, Some(&Output::CondOk)), None);
        assert_eq!(
            step(Some(1), &cas, Some(&Output::CondFailed)),
            Some(Some(1))
        );
        assert_eq!(step(None, &cas, Some(&Output::CondFailed)), None);
        assert_eq!(step(None, &cas, None), Some(Some(2)));
        assert_eq!(step(Some(1), &cas, None), Some(Some(1)));
        assert_eq!(
            step(Some(1), &Input::Get, Some(&Output::Value(Some(1)))),
            Some(Some(1))
        );
        assert_eq!(step(Some(1), &Input::Get, Some(&Output::Value(None))), None);
        assert_eq!(step(Some(1), &put, Some(&Output::CondOk)), None);
    }
}
