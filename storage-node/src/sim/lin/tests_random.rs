//! Randomized tests: histories from real sequential executions must pass;
//! small histories (mutated or fully random) must get the same verdict from
//! the checker and the brute-force oracle; larger histories measure speed
//! (times are printed with `--nocapture`, only verdicts are asserted).

use std::time::Instant;

use crate::rng::{Rng, for_each_seed};

use super::brute::{BRUTE_OPS_MAX, brute_linearizable, prefix_is_valid};
use super::generate::{self, GenParams};
use super::*;

fn budget() -> CheckBudget {
    CheckBudget::default()
}

#[test]
fn sequential_executions_are_linearizable() {
    for_each_seed(
        "sim::lin::tests_random::sequential_executions_are_linearizable",
        1000,
        |seed| {
            let mut rng = Rng::new(seed);
            let p = GenParams {
                ops: rng.range(1, 80) as usize,
                keys: rng.range(1, 4),
                clients: rng.range(1, 6) as u32,
                duration_max: rng.range(1, 20),
                gap_max: rng.range(0, 5),
                unknown_pct: rng.range(0, 15),
            };
            let h = generate::sequential(&mut rng, &p);
            let r = h.check(budget());
            assert!(r.is_linearizable(), "{p:?}\n{r}");
        },
    );
}

/// Checker and oracle agree on one history; returns the verdict.
#[track_caller]
fn agree(h: &History) -> bool {
    let r = h.check(budget());
    let brute = brute_linearizable(h);
    match &r {
        CheckResult::Linearizable => assert!(
            brute,
            "checker passes, brute force finds no linearization: {h:?}"
        ),
        CheckResult::NotLinearizable(v) => {
            assert!(!brute, "checker fails a linearizable history:\n{v}{h:?}");
            prefix_is_valid(h, v.key, &v.longest_prefix)
                .unwrap_or_else(|e| panic!("bad prefix: {e}\n{v}"));
        }
        CheckResult::Unknown(i) => panic!("budget exceeded on a small history: {i}"),
    }
    brute
}

#[test]
fn small_mutated_histories_agree_with_brute_force() {
    let (mut pass, mut fail) = (0u64, 0u64);
    for_each_seed(
        "sim::lin::tests_random::small_mutated_histories_agree_with_brute_force",
        10_000,
        |seed| {
            let mut rng = Rng::new(seed);
            let p = GenParams {
                ops: rng.range(1, 8) as usize,
                keys: rng.range(1, 2),
                clients: rng.range(1, 4) as u32,
                duration_max: rng.range(1, 12),
                gap_max: rng.range(0, 3),
                unknown_pct: rng.range(0, 30),
            };
            let h = generate::sequential(&mut rng, &p);
            assert!(h.len() <= BRUTE_OPS_MAX);
            assert!(agree(&h), "unmutated history judged non-linearizable");
            let mut m = generate::mutate(&mut rng, &h);
            if rng.chance(1, 3) {
                m = generate::mutate(&mut rng, &m);
            }
            if agree(&m) {
                pass += 1;
            } else {
                fail += 1;
            }
        },
    );
    eprintln!("mutated small histories: {pass} linearizable, {fail} not");
    // Both verdicts must be well represented, or the cross-check is weak.
    let total = pass + fail;
    if total >= 100 {
        assert!(
            fail * 5 >= total && pass * 5 >= total,
            "{pass} pass / {fail} fail"
        );
    }
}

#[test]
fn small_random_histories_agree_with_brute_force() {
    let (mut pass, mut fail) = (0u64, 0u64);
    for_each_seed(
        "sim::lin::tests_random::small_random_histories_agree_with_brute_force",
        10_000,
        |seed| {
            let mut rng = Rng::new(seed);
            let ops = rng.range(1, 8) as usize;
            let keys = rng.range(1, 2);
            let h = generate::random(&mut rng, ops, keys);
            if agree(&h) {
                pass += 1;
            } else {
                fail += 1;
            }
        },
    );
    eprintln!("random small histories: {pass} linearizable, {fail} not");
    let total = pass + fail;
    if total >= 100 {
        assert!(
            fail * 10 >= total && pass * 10 >= total,
            "{pass} pass / {fail} fail"
        );
    }
}

/// Generates a sequential history, checks it, and checks it again with one
/// read made impossible (a value nobody wrote); prints the times.
fn perf_case(name: &str, rng: &mut Rng, p: &GenParams) {
    let h = generate::sequential(rng, p);
    let t = Instant::now();
    let r = h.check(budget());
    let ok_time = t.elapsed();
    assert!(r.is_linearizable(), "{name}: {r}");

    let mut ops = h.ops().to_vec();
    let reads: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].input == Input::Get && ops[i].ret().is_some())
        .collect();
    let i = reads[rng.below(reads.len() as u64) as usize];
    let time = ops[i].ret().expect("a returned read");
    ops[i].outcome = Outcome::Returned {
        output: Output::Value(Some(u64::MAX)),
        time,
    };
    let bad = History::from_ops(ops);
    let t = Instant::now();
    let r = bad.check(budget());
    let bad_time = t.elapsed();
    let v = r
        .violation()
        .unwrap_or_else(|| panic!("{name}: mutated history passed: {r}"));
    assert_eq!(v.key, h.ops()[i].key);
    assert!(!v.longest_prefix.contains(&OpId(i as u32)));
    eprintln!(
        "{name}: {} ops, {} keys, {} clients: linearizable in {ok_time:?}; violation found in {bad_time:?}",
        p.ops, p.keys, p.clients
    );
}

#[test]
fn perf_one_key_200_ops_concurrency_5() {
    for_each_seed(
        "sim::lin::tests_random::perf_one_key_200_ops_concurrency_5",
        3,
        |seed| {
            let mut rng = Rng::new(seed);
            let p = GenParams {
                ops: 200,
                keys: 1,
                clients: 5,
                duration_max: 20,
                gap_max: 2,
                unknown_pct: 5,
            };
            perf_case("1 key", &mut rng, &p);
        },
    );
}

#[test]
fn perf_100_keys_10000_ops() {
    for_each_seed(
        "sim::lin::tests_random::perf_100_keys_10000_ops",
        1,
        |seed| {
            let mut rng = Rng::new(seed);
            let p = GenParams {
                ops: 10_000,
                keys: 100,
                clients: 50,
                duration_max: 20,
                gap_max: 2,
                unknown_pct: 5,
            };
            perf_case("100 keys", &mut rng, &p);
        },
    );
}
