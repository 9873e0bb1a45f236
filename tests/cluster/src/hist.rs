//! A latency histogram for benchmarks (`benches/cluster/`, `scripts/bench cluster`): log-linear buckets in the style of
//! HdrHistogram (each power of two of nanoseconds split into [`SUB_BUCKETS`] equal parts), so
//! any recorded value is reported within 1/[`SUB_BUCKETS`] (< 0.8 %) of its true value, with
//! fixed memory whatever the number of samples.
//!
//! Invariants: `counts.len()` is fixed at construction ([`BUCKETS`]); values of zero count in
//! bucket 0 and values above the top bucket's range are clamped into it (the exact maximum is
//! kept separately, so `max` is always exact).

/// Sub-buckets per power of two (a power of two itself).
const SUB_BUCKETS: u64 = 128;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// Powers of two covered above the linear first range: up to 2^(7+40) ns, far beyond any run.
const MAGNITUDES: u64 = 40;
/// Number of buckets.
const BUCKETS: usize = ((MAGNITUDES + 1) * SUB_BUCKETS) as usize;

/// Latencies in nanoseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ns: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max_ns: 0,
            sum_ns: 0,
        }
    }
}

/// The bucket of `v`: values below `SUB_BUCKETS` map one to one; above, the top `SUB_BITS`
/// bits below the leading one select the sub-bucket of the value's power of two.
fn bucket_of(v: u64) -> usize {
    if v < SUB_BUCKETS {
        return v as usize;
    }
    let magnitude = u64::from(63 - v.leading_zeros()) - u64::from(SUB_BITS) + 1;
    let sub = (v >> (magnitude - 1)) - SUB_BUCKETS;
    let idx = magnitude * SUB_BUCKETS + sub;
    idx.min(BUCKETS as u64 - 1) as usize
}

/// The largest value that falls in bucket `idx` (what a percentile reports: never optimistic).
fn bucket_high(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < SUB_BUCKETS {
        return idx;
    }
    let magnitude = idx / SUB_BUCKETS;
    let sub = idx % SUB_BUCKETS;
    ((SUB_BUCKETS + sub + 1) << (magnitude - 1)) - 1
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, d: std::time::Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(ns)] += 1;
        self.total += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1) in milliseconds (0 when empty); the exact maximum
    /// for `q == 1`.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        if q >= 1.0 {
            return self.max_ms();
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max_ns) as f64 / 1e6;
            }
        }
        self.max_ms()
    }

    /// The exact largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.max_ns as f64 / 1e6
    }

    /// The mean in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.sum_ns / u128::from(self.total)) as f64 / 1e6
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..2_000_000u64).step_by(7).chain([1 << 40]) {
            let b = bucket_of(v);
            assert!(b >= last, "bucket order at {v}");
            last = b;
            let high = bucket_high(b);
            assert!(high >= v, "{v} above its bucket's top {high}");
            assert!((high - v) as f64 <= v as f64 / 100.0 + 1.0, "{v} -> {high}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_ms(0.5);
        let p99 = h.quantile_ms(0.99);
        assert!((0.5..0.505).contains(&p50), "{p50}");
        assert!((0.99..0.998).contains(&p99), "{p99}");
        assert_eq!(h.quantile_ms(1.0), 1.0);
        let mut g = Histogram::default();
        g.record(Duration::from_millis(7));
        h.merge(&g);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.max_ms(), 7.0);
    }
}
