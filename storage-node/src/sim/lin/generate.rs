//! Test generators for the checker:
//! - [`sequential`]: a history produced by a real sequential execution —
//!   each op gets a linearization point inside its `[call, ret]` interval
//!   (clients issue ops back to back, so about `clients` ops overlap), the
//!   ops are executed in point order on per-key registers and record what
//!   they saw. Some ops end with an unknown outcome; those take effect at a
//!   random time after their call (possibly after the client moved on), or
//!   never. Always linearizable.
//! - [`mutate`]: one random change (a read's value, a condition's outcome, a
//!   written value, an op's interval, an unknown op becoming known), which
//!   may or may not break linearizability.
//! - [`random`]: unrelated random ops and outputs (mostly not linearizable).

use std::collections::BTreeMap;

use crate::rng::Rng;

use super::history::{History, Input, Op, Outcome, Output};

/// Values the mutations invent that no generator ever writes.
const FRESH_VALUE_BASE: u64 = 1 << 40;

#[derive(Clone, Copy, Debug)]
pub struct GenParams {
    pub ops: usize,
    pub keys: u64,
    pub clients: u32,
    /// Longest op duration (ops take `1..=duration_max`).
    pub duration_max: u64,
    /// Longest idle gap between a client's ops.
    pub gap_max: u64,
    /// Percent of ops that end with an unknown outcome.
    pub unknown_pct: u64,
}

struct Planned {
    op: Op,
    ret: u64,
    unknown: bool,
    /// Linearization point; `None` = never took effect.
    point: Option<u64>,
}

pub fn sequential(rng: &mut Rng, p: &GenParams) -> History {
    let mut free_at = vec![0u64; p.clients as usize];
    let mut written: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut next_value = 1;
    let mut plan = Vec::with_capacity(p.ops);
    for _ in 0..p.ops {
        let client = rng.below(u64::from(p.clients)) as u32;
        let key = rng.below(p.keys);
        let call = free_at[client as usize] + rng.below(p.gap_max + 1);
        let ret = call + rng.range(1, p.duration_max);
        free_at[client as usize] = ret;
        let input = match rng.below(10) {
            0..=3 => Input::Get,
            4..=6 => Input::Put { value: next_value },
            7 => Input::Delete,
            _ => {
                let seen = written.get(&key).map_or(&[][..], |v| &v[..]);
                let expected = if seen.is_empty() || rng.chance(1, 3) {
                    None
                } else {
                    Some(seen[rng.below(seen.len() as u64) as usize])
                };
                Input::CondPut {
                    expected,
                    value: next_value,
                }
            }
        };
        if let Input::Put { value } | Input::CondPut { value, .. } = input {
            written.entry(key).or_default().push(value);
            next_value += 1;
        }
        let unknown = rng.chance(p.unknown_pct, 100);
        let point = if !unknown {
            Some(rng.range(call, ret))
        } else if rng.chance(1, 2) {
            Some(call + rng.below(4 * p.duration_max + 1))
        } else {
            None
        };
        let op = Op {
            client,
            key,
            input,
            call,
            outcome: Outcome::Unknown,
        };
        plan.push(Planned {
            op,
            ret,
            unknown,
            point,
        });
    }

    let mut order: Vec<(u64, u64, usize)> = plan
        .iter()
        .enumerate()
        .filter_map(|(i, pl)| pl.point.map(|t| (t, rng.next_u64(), i)))
        .collect();
    order.sort_unstable();
    let mut regs: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let mut outputs: Vec<Option<Output>> = vec![None; plan.len()];
    for &(_, _, i) in &order {
        let op = &plan[i].op;
        let reg = regs.entry(op.key).or_default();
        outputs[i] = Some(match op.input {
            Input::Put { value } => {
                *reg = Some(value);
                Output::Ok
            }
            Input::Delete => {
                *reg = None;
                Output::Ok
            }
            Input::CondPut { expected, value } => {
                if *reg == expected {
                    *reg = Some(value);
                    Output::CondOk
                } else {
                    Output::CondFailed
                }
            }
            Input::Get => Output::Value(*reg),
        });
    }

    let mut ops: Vec<Op> = plan
        .into_iter()
        .zip(outputs)
        .map(|(pl, out)| {
            let mut op = pl.op;
            op.outcome = match (pl.unknown, out) {
                (false, Some(output)) => Outcome::Returned {
                    output,
                    time: pl.ret,
                },
                _ => Outcome::Unknown,
            };
            op
        })
        .collect();
    ops.sort_by_key(|op| (op.call, op.client));
    History::from_ops(ops)
}

/// One random change to one random op.
pub fn mutate(rng: &mut Rng, h: &History) -> History {
    let mut ops = h.ops().to_vec();
    if ops.is_empty() {
        return History::from_ops(ops);
    }
    let i = rng.below(ops.len() as u64) as usize;
    let key = ops[i].key;
    let mut values: Vec<Option<u64>> = vec![None, Some(FRESH_VALUE_BASE + rng.below(1000))];
    for op in &ops {
        if let (true, Input::Put { value } | Input::CondPut { value, .. }) =
            (op.key == key, op.input)
        {
            values.push(Some(value));
        }
    }
    let pick = |rng: &mut Rng| values[rng.below(values.len() as u64) as usize];
    let op = &mut ops[i];
    match (rng.below(3), op.outcome) {
        // Change what the op saw or did.
        (0, Outcome::Returned { output, time }) => {
            let output = match output {
                Output::Value(_) => Output::Value(pick(rng)),
                Output::CondOk => Output::CondFailed,
                Output::CondFailed => Output::CondOk,
                Output::Ok => output,
            };
            op.outcome = Outcome::Returned { output, time };
            if let Input::Put { value } | Input::CondPut { value, .. } = &mut op.input {
                *value = pick(rng).unwrap_or(FRESH_VALUE_BASE);
            }
        }
        // Shift the op's interval.
        (1, Outcome::Returned { output, time }) => {
            let delta = rng.range(0, 10);
            let (call, time) = if rng.chance(1, 2) {
                (op.call + delta, time + delta)
            } else {
                let d = delta.min(op.call);
                (op.call - d, time - d)
            };
            op.call = call;
            op.outcome = Outcome::Returned { output, time };
        }
        // An unknown op turns out to have returned, or a returned one is lost.
        (_, Outcome::Unknown | Outcome::Pending) => {
            let output = match op.input {
                Input::Put { .. } | Input::Delete => Output::Ok,
                Input::CondPut { .. } if rng.chance(1, 2) => Output::CondOk,
                Input::CondPut { .. } => Output::CondFailed,
                Input::Get => Output::Value(pick(rng)),
            };
            let time = op.call + rng.below(20);
            op.outcome = Outcome::Returned { output, time };
        }
        (_, Outcome::Returned { .. }) => op.outcome = Outcome::Unknown,
    }
    History::from_ops(ops)
}

/// Random ops on `keys` keys with random intervals and random outputs drawn
/// from a small value pool (so some reads match some writes).
pub fn random(rng: &mut Rng, ops: usize, keys: u64) -> History {
    let mut out = Vec::with_capacity(ops);
    for _ in 0..ops {
        let val = |rng: &mut Rng| {
            if rng.chance(1, 4) {
                None
            } else {
                Some(rng.range(1, 4))
            }
        };
        let input = match rng.below(4) {
            0 => Input::Get,
            1 => Input::Put {
                value: rng.range(1, 4),
            },
            2 => Input::Delete,
            _ => Input::CondPut {
                expected: val(rng),
                value: rng.range(1, 4),
            },
        };
        let output = match input {
            Input::Get => Output::Value(val(rng)),
            Input::Put { .. } | Input::Delete => Output::Ok,
            Input::CondPut { .. } if rng.chance(1, 2) => Output::CondOk,
            Input::CondPut { .. } => Output::CondFailed,
        };
        let call = rng.below(30);
        let outcome = if rng.chance(1, 8) {
            Outcome::Unknown
        } else {
            Outcome::Returned {
                output,
                time: call + rng.below(15),
            }
        };
        out.push(Op {
            client: rng.below(4) as u32,
            key: rng.below(keys),
            input,
            call,
            outcome,
        });
    }
    out.sort_by_key(|op| op.call);
    History::from_ops(out)
}
