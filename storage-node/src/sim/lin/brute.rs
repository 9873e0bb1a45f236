//! Test oracle: linearizability by brute force, straight from the definition,
//! sharing no code with the checker (no per-key split, no memo, no model.rs).
//! A history is linearizable iff some sequence of ALL completed ops plus ANY
//! subset of unknown-outcome ops (an omitted one never took effect) is legal
//! for a map of registers (all absent at first) and puts `a` before `b`
//! whenever `a` returned strictly before `b` was invoked. Exponential: only
//! for histories of at most [`BRUTE_OPS_MAX`] ops.
//!
//! Also [`prefix_is_valid`], which checks a reported longest prefix.

use std::collections::BTreeMap;

use super::history::{History, Input, Op, OpId, Output};

pub const BRUTE_OPS_MAX: usize = 10;

type Regs = BTreeMap<u64, Option<u64>>;

pub fn brute_linearizable(h: &History) -> bool {
    let ops = h.ops();
    assert!(
        ops.len() <= BRUTE_OPS_MAX,
        "brute force on {} ops",
        ops.len()
    );
    let mut placed = vec![false; ops.len()];
    search(ops, &mut placed, &Regs::new())
}

fn search(ops: &[Op], placed: &mut [bool], regs: &Regs) -> bool {
    let all_completed_placed = ops
        .iter()
        .zip(placed.iter())
        .all(|(op, &p)| p || op.ret().is_none());
    if all_completed_placed {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] || !may_go_next(ops, placed, i) {
            continue;
        }
        let Some(next) = apply(regs, &ops[i]) else {
            continue;
        };
        placed[i] = true;
        let ok = search(ops, placed, &next);
        placed[i] = false;
        if ok {
            return true;
        }
    }
    false
}

/// `i` may be placed now iff no unplaced op had to precede it.
fn may_go_next(ops: &[Op], placed: &[bool], i: usize) -> bool {
    (0..ops.len()).all(|j| j == i || placed[j] || ops[j].ret().is_none_or(|r| r >= ops[i].call))
}

/// The registers after `op`, or `None` if its output is impossible.
fn apply(regs: &Regs, op: &Op) -> Option<Regs> {
    let cur = regs.get(&op.key).copied().flatten();
    let mut next = regs.clone();
    let after = match (op.input, op.output()) {
        (Input::Put { value }, _) => Some(value),
        (Input::Delete, _) => None,
        (Input::CondPut { expected, value }, out) => {
            let holds = cur == expected;
            match out {
                Some(Output::CondOk) if !holds => return None,
                Some(Output::CondFailed) if holds => return None,
                _ => {}
            }
            if holds { Some(value) } else { cur }
        }
        (Input::Get, Some(Output::Value(v))) => {
            if v != cur {
                return None;
            }
            cur
        }
        (Input::Get, _) => cur,
    };
    next.insert(op.key, after);
    Some(next)
}

/// Checks that `prefix` (from a `Violation` on `key`) is a legal sequence of
/// that key's ops, respects real time among its ops, and is downward closed:
/// every op of the key that returned before some prefix op was invoked is in
/// the prefix, earlier.
pub fn prefix_is_valid(h: &History, key: u64, prefix: &[OpId]) -> Result<(), String> {
    let ops = h.ops();
    let mut regs = Regs::new();
    for (pos, id) in prefix.iter().enumerate() {
        let op = &ops[id.0 as usize];
        if op.key != key {
            return Err(format!("{id:?} is on key {}, not {key}", op.key));
        }
        for (j, other) in ops.iter().enumerate() {
            let must_precede = other.key == key && other.ret().is_some_and(|r| r < op.call);
            if must_precede && !prefix[..pos].contains(&OpId(j as u32)) {
                return Err(format!(
                    "op {j} returned before {id:?} was invoked but is not before it"
                ));
            }
        }
        regs = apply(&regs, op)
            .ok_or_else(|| format!("{id:?} is illegal after {:?}", &prefix[..pos]))?;
    }
    Ok(())
}
