//! A small, fast, seeded PRNG (SplitMix64) for randomized tests, the crash
//! harness and (later) the simulator. Deterministic across platforms and
//! releases: a seed always replays the same run. Never used for anything that
//! needs unpredictability (no crypto, no hash seeding).
//!
//! Seeds for randomized tests come from [`test_seeds`]: `CAIRN_SEED=N` replays
//! exactly one seed; `CAIRN_SEEDS=K` runs K seeds (default per test) starting
//! at `CAIRN_SEED_BASE` (default 0). A failing test prints
//! `CAIRN_SEED=<seed> cargo nextest run -p storage-node <test>` to replay.

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed ^ 0x5DEE_CE66_D1CE_4E5B,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias worth caring about
    /// for tests (Lemire's multiply-shift).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi);
        if hi - lo == u64::MAX {
            return self.next_u64();
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }

    /// A child generator, independent of this one's future output.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// The seeds a randomized test should run (see the module docs).
pub fn test_seeds(default_count: u64) -> Vec<u64> {
    if let Some(seed) = env_u64("CAIRN_SEED") {
        return vec![seed];
    }
    let count = env_u64("CAIRN_SEEDS").unwrap_or(default_count);
    let base = env_u64("CAIRN_SEED_BASE").unwrap_or(0);
    (base..base + count).collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// Runs `f` for every seed from [`test_seeds`]; on panic, prints the replay
/// command for the failing seed and re-raises.
pub fn for_each_seed(test_name: &str, default_count: u64, mut f: impl FnMut(u64)) {
    for seed in test_seeds(default_count) {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(seed)));
        if let Err(p) = res {
            eprintln!(
                "seed {seed} failed; replay with: CAIRN_SEED={seed} cargo nextest run -p storage-node {test_name}"
            );
            std::panic::resume_unwind(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut r = Rng::new(1);
        let mut hist = [0u32; 10];
        for _ in 0..10_000 {
            hist[r.below(10) as usize] += 1;
        }
        assert!(hist.iter().all(|&h| (800..1200).contains(&h)), "{hist:?}");
    }
}
