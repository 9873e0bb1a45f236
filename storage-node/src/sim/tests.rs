//! Fixed seed sets of whole simulations with faults (the CI share of
//! `scripts/sim`). Each test runs its own seed range; a failure names the
//! seed and the replay command.

use super::{SimConfig, run};
use crate::rng::for_each_seed;

fn seeds(name: &str, base: u64, count: u64) {
    for_each_seed(name, count, |seed| {
        let r = run(SimConfig::new(base + seed));
        assert!(
            r.violations.is_empty(),
            "seed {}: {} violation(s):\n{}\n(replay: scripts/sim --seed {})",
            r.seed,
            r.violations.len(),
            r.violations.join("\n"),
            r.seed
        );
        assert!(
            r.ops_ok > 0,
            "seed {}: no client operation succeeded",
            r.seed
        );
    });
}

#[test]
fn sim_smoke_one_seed() {
    let r = run(SimConfig::new(1));
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    eprintln!("{r:?}");
}

#[test]
fn sim_seeds_a() {
    seeds("sim::tests::sim_seeds_a", 0, 250);
}

#[test]
fn sim_seeds_b() {
    seeds("sim::tests::sim_seeds_b", 1_000_000, 250);
}

#[test]
fn sim_seeds_c() {
    seeds("sim::tests::sim_seeds_c", 2_000_000, 250);
}

#[test]
fn sim_seeds_d() {
    seeds("sim::tests::sim_seeds_d", 3_000_000, 250);
}
