//! Test-only seeded randomness for the expression and number-arithmetic tests: SplitMix64 (the
//! generator of `storage-node/src/rng.rs`) and [`for_each_seed`], which honours `CAIRN_SEED`
//! (replay one seed) and `CAIRN_SEEDS` (how many seeds) and prints a replay command when a
//! seed fails.

/// SplitMix64: small, fast, and deterministic per seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Runs `body` for `CAIRN_SEEDS` (default `default_count`) seeds, or only for `CAIRN_SEED`.
/// A failing seed is printed with the command that replays it.
pub fn for_each_seed(test_name: &str, default_count: u64, mut body: impl FnMut(u64)) {
    if let Some(seed) = std::env::var("CAIRN_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        body(seed);
        return;
    }
    let count = std::env::var("CAIRN_SEEDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(default_count);
    for seed in 0..count {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(seed)));
        if let Err(panic) = result {
            eprintln!(
                "{test_name} failed for seed {seed}; replay: CAIRN_SEED={seed} cargo test -p wire {test_name}"
            );
            std::panic::resume_unwind(panic);
        }
    }
}
