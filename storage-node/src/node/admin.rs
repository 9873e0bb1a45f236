//! The node's admin listener: `GET /metrics` (Prometheus/OpenMetrics text, open, like any
//! exporter: bind it to an internal address) and the token-protected debug endpoints
//! `GET /debug/groups` (every hosted replica as JSON) and `GET /debug/digest?group=N` (the
//! blake3 digest of a replica's data at its applied index).
//!
//! Metrics: API requests by operation and outcome, API latency histograms by operation
//! (from the API layer's `RequestObserver`, with prometheus-client), and at scrape time the
//! driver's and router's counters, WAL flush latency and batch sizes, and groups and leaders
//! on this node.
//!
//! Security: the token is compared in constant time; a missing or wrong token gets 401
//! without detail.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router as Http;
use axum::extract::State;
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wire::forward::DigestReply;
use wire::replication::GroupId;

use super::metrics::{OPENMETRICS_CONTENT_TYPE, OpMetrics};
use crate::api::server::RequestObserver;
use crate::driver::{Driver, LATENCY_BUCKETS_S, LatencyHist};
use crate::router::Router;

/// API metrics, fed by the API layer.
pub struct ApiMetrics {
    ops: OpMetrics,
}

impl ApiMetrics {
    pub fn new() -> Arc<ApiMetrics> {
        Arc::new(ApiMetrics {
            ops: OpMetrics::new(
                "cairn_api_requests",
                "DynamoDB API requests by operation and outcome",
                "cairn_api_latency_seconds",
                "DynamoDB API request latency by operation",
            ),
        })
    }
}

impl RequestObserver for ApiMetrics {
    fn observe(&self, operation: Option<&str>, error: Option<&'static str>, elapsed: Duration) {
        self.ops.observe(
            operation.unwrap_or("unknown"),
            error.unwrap_or("ok"),
            elapsed,
        );
    }
}

#[derive(Clone)]
pub struct AdminState {
    pub token: Arc<String>,
    pub driver: Driver,
    pub router: Arc<Router>,
    pub api: Arc<ApiMetrics>,
    pub ttl: Arc<super::ttl::TtlStats>,
}

pub fn router(state: AdminState) -> Http {
    Http::new()
        .route("/metrics", get(metrics))
        .route("/debug/groups", get(groups))
        .route("/debug/digest", get(digest))
        .with_state(state)
}

fn authorized(state: &AdminState, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let want = state.token.as_bytes();
    let given = given.as_bytes();
    // Constant time in the token's length.
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn groups(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let list: Vec<serde_json::Value> = s
        .driver
        .status()
        .await
        .into_iter()
        .map(|g| {
            serde_json::json!({
                "group": g.state.group.0,
                "table": g.table.0,
                "member": g.state.member.0,
                "role": format!("{:?}", g.state.role),
                "is_leader": g.state.is_leader,
                "ballot": g.state.ballot.0,
                "commit": g.state.commit_index,
                "applied": g.state.applied_index,
                "range_start": g.range.start,
                "range_end": g.range.end,
                "leader_node": g.leader_node.map(|n| n.0),
            })
        })
        .collect();
    json(&serde_json::Value::Array(list))
}

fn json(v: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(v).expect("json values serialize"),
    )
        .into_response()
}

async fn digest(State(s): State<AdminState>, headers: HeaderMap, uri: Uri) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let group = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("group=")))
        .and_then(|g| g.parse::<u64>().ok());
    let Some(group) = group else {
        return (StatusCode::BAD_REQUEST, "expected ?group=N").into_response();
    };
    match s.driver.digest(GroupId(group)).await {
        DigestReply::Digest {
            applied,
            items,
            digest,
        } => {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            json(&serde_json::json!({
                "group": group, "applied": applied, "items": items, "digest": hex,
            }))
        }
        DigestReply::NotHere => {
            (StatusCode::NOT_FOUND, "no replica of that group here").into_response()
        }
    }
}

async fn metrics(State(s): State<AdminState>) -> Response {
    let mut text = String::new();
    if s.api.ops.encode(&mut text).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let d = &s.driver.stats;
    let status = s.driver.status().await;
    let leaders = status.iter().filter(|g| g.state.is_leader).count();
    fn counter_to(text: &mut String, name: &str, help: &str, v: u64) {
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {v}\n"
        );
    }
    let ttl = &s.ttl;
    counter_to(
        &mut text,
        "cairn_ttl_deleted_items",
        "expired items the time-to-live sweeper deleted here",
        ttl.deleted.load(std::sync::atomic::Ordering::Relaxed),
    );
    counter_to(
        &mut text,
        "cairn_ttl_scanned_items",
        "items the time-to-live sweeper read here",
        ttl.scanned.load(std::sync::atomic::Ordering::Relaxed),
    );
    counter_to(
        &mut text,
        "cairn_proposals",
        "writes proposed by leaders here",
        d.proposals.get(),
    );
    counter_to(
        &mut text,
        "cairn_applied_entries",
        "log entries applied to the engine",
        d.applied_entries.get(),
    );
    counter_to(
        &mut text,
        "cairn_wal_flushes",
        "WAL group-commit flushes (one durable write each)",
        d.flushes.get(),
    );
    counter_to(
        &mut text,
        "cairn_wal_batches",
        "batches the WAL writer wrote (one durable write each)",
        d.wal_batches.get(),
    );
    let _ = write!(
        text,
        "# HELP cairn_wal_write_seconds time in durable WAL batch writes (write and sync)\n# TYPE cairn_wal_write_seconds counter\ncairn_wal_write_seconds_total {}\n",
        d.wal_write_us.get() as f64 / 1e6,
    );
    counter_to(
        &mut text,
        "cairn_wal_flush_records",
        "log records written by those flushes",
        d.flushed_records.get(),
    );
    counter_to(
        &mut text,
        "cairn_replication_batches_sent",
        "replication frames sent",
        d.batches_sent.get(),
    );
    counter_to(
        &mut text,
        "cairn_replication_bytes_sent",
        "bytes of the replication frames sent",
        d.batch_bytes_sent.get(),
    );
    counter_to(
        &mut text,
        "cairn_replication_batches_dropped",
        "replication frames dropped (queue full, unknown peer)",
        d.batches_dropped.get(),
    );
    counter_to(
        &mut text,
        "cairn_replication_envelopes_dropped",
        "inbound envelopes dropped (unknown group, wrong sender)",
        d.envelopes_dropped.get(),
    );
    counter_to(
        &mut text,
        "cairn_replication_frames_rejected",
        "inbound frames rejected (bad frame, sender not the authenticated peer)",
        d.frames_rejected.get(),
    );
    counter_to(
        &mut text,
        "cairn_snapshots_sent",
        "snapshots sent to lagging members",
        d.snapshots_sent.get(),
    );
    counter_to(
        &mut text,
        "cairn_snapshots_installed",
        "snapshots installed",
        d.snapshots_installed.get(),
    );
    counter_to(
        &mut text,
        "cairn_reads_eventual",
        "eventually consistent reads served here",
        d.reads_eventual.get(),
    );
    let r = s.router.stats().snapshot();
    let _ = write!(
        text,
        "# HELP cairn_router_forwards router decisions by result\n# TYPE cairn_router_forwards counter\n"
    );
    for (result, v) in [
        ("local", r.local),
        ("remote", r.remote),
        ("redirect", r.redirects),
        ("wrong_group", r.wrong_group),
        ("error", r.errors),
        ("eventual_in_az", r.eventual_in_az),
        ("served", r.served),
    ] {
        let _ = writeln!(
            text,
            "cairn_router_forwards_total{{result=\"{result}\"}} {v}"
        );
    }
    counter_to(
        &mut text,
        "cairn_routing_lookups",
        "awaited routing lookups (cache misses)",
        r.lookups,
    );
    counter_to(
        &mut text,
        "cairn_routing_refreshes",
        "constant-work routing refreshes",
        r.refreshes,
    );
    let _ = write!(
        text,
        "# HELP cairn_groups replicas hosted here\n# TYPE cairn_groups gauge\ncairn_groups {}\n\
         # HELP cairn_leaders replicas led here\n# TYPE cairn_leaders gauge\ncairn_leaders {leaders}\n",
        status.len()
    );
    histogram(
        &mut text,
        "cairn_wal_flush_seconds",
        "WAL flush latency (durable write, and hard states when they changed)",
        &d.flush,
    );
    histogram(
        &mut text,
        "cairn_write_commit_seconds",
        "leader writes from proposal to reply (replicated, committed, applied)",
        &d.commit,
    );
    histogram(
        &mut text,
        "cairn_write_seconds",
        "writes handed to this node's driver, from arrival to reply (commit plus the wait for the driver)",
        &d.write,
    );
    histogram(
        &mut text,
        "cairn_engine_apply_seconds",
        "engine commits of applied entries",
        &d.apply,
    );
    text.push_str("# EOF\n");
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
}

/// Appends one histogram in the OpenMetrics text format.
fn histogram(text: &mut String, name: &str, help: &str, h: &LatencyHist) {
    let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} histogram\n");
    let mut cum = 0;
    for (i, b) in LATENCY_BUCKETS_S.iter().enumerate() {
        cum += h.buckets[i].get();
        let _ = writeln!(text, "{name}_bucket{{le=\"{b}\"}} {cum}");
    }
    cum += h.buckets[LATENCY_BUCKETS_S.len()].get();
    let _ = write!(
        text,
        "{name}_bucket{{le=\"+Inf\"}} {cum}\n{name}_count {cum}\n{name}_sum {}\n",
        h.us_sum.get() as f64 / 1e6
    );
}
