//! Request metrics shared by both daemons' `/metrics` (cairn-node's DynamoDB API in
//! `admin.rs`, cairn-control's RPCs in `control-plane/src/metrics.rs`): a request counter by
//! operation and outcome and a latency histogram by operation (prometheus-client, explicit
//! registry, OpenMetrics text).
//!
//! [`OpMetrics::encode`] leaves the text without the terminating `# EOF`, so a caller can
//! append figures it computes at scrape time and then end the exposition itself.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of an OpenMetrics exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, seconds (0.5 ms to 4 s).
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048,
    4.096,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpCode {
    op: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Op {
    op: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_S)
}

/// Requests by operation and outcome, latency by operation.
pub struct OpMetrics {
    registry: Mutex<Registry>,
    requests: Family<OpCode, Counter>,
    latency: Family<Op, Histogram, fn() -> Histogram>,
}

impl OpMetrics {
    /// `requests` becomes `<requests>_total{op,code}`, `latency` a histogram `{op}`.
    pub fn new(
        requests: &str,
        requests_help: &str,
        latency: &str,
        latency_help: &str,
    ) -> OpMetrics {
        let mut registry = Registry::default();
        let req = Family::<OpCode, Counter>::default();
        let lat: Family<Op, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(requests, requests_help, req.clone());
        registry.register(latency, latency_help, lat.clone());
        OpMetrics {
            registry: Mutex::new(registry),
            requests: req,
            latency: lat,
        }
    }

    /// Operation names and codes come from fixed sets (the API's operations and error
    /// names), so the label sets stay bounded.
    pub fn observe(&self, op: &str, code: &str, elapsed: Duration) {
        self.requests
            .get_or_create(&OpCode {
                op: op.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&Op { op: op.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition so far, without the final `# EOF` line.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(out, &reg)?;
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out.truncate(stripped.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histograms_are_exposed_by_operation() {
        let m = OpMetrics::new("t_requests", "r", "t_latency_seconds", "l");
        m.observe("PutItem", "ok", Duration::from_millis(3));
        m.observe("PutItem", "ok", Duration::from_millis(5));
        m.observe("GetItem", "ValidationException", Duration::from_micros(100));
        let mut s = String::new();
        m.encode(&mut s).unwrap();
        assert!(
            s.contains("t_requests_total{op=\"PutItem\",code=\"ok\"} 2"),
            "{s}"
        );
        assert!(s.contains("t_requests_total{op=\"GetItem\",code=\"ValidationException\"} 1"));
        assert!(
            s.contains("t_latency_seconds_bucket{le=\"0.004\",op=\"PutItem\"} 1"),
            "{s}"
        );
        assert!(s.contains("t_latency_seconds_count{op=\"PutItem\"} 2"));
        assert!(!s.contains("# EOF"));
    }
}
