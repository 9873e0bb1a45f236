//! cairn-control's `GET /metrics` (Prometheus/OpenMetrics text): control RPCs by kind and
//! outcome with latency histograms (counted in `rpc.rs` through the shared
//! `storage_node::node::metrics::OpMetrics`), and at scrape time whether this instance
//! leads, and the registered nodes, tables and partitions it serves routing from.
//!
//! Bind the listener to an internal address: like any exporter it is unauthenticated and
//! shows only counts.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use storage_node::node::metrics::{OPENMETRICS_CONTENT_TYPE, OpMetrics};
use tokio::net::TcpListener;

use crate::metadata::Metadata;

/// The figures `/metrics` shows.
#[derive(Clone)]
pub struct ControlMetrics {
    pub rpcs: Arc<OpMetrics>,
    pub metadata: Metadata,
    /// `true` while this instance leads.
    pub leading: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl ControlMetrics {
    pub fn rpc_metrics() -> Arc<OpMetrics> {
        Arc::new(OpMetrics::new(
            "cairn_control_requests",
            "control RPCs by kind and outcome",
            "cairn_control_request_latency_seconds",
            "control RPC latency by kind",
        ))
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = self.rpcs.encode(&mut text);
        let (nodes, tables, partitions) = self.metadata.read(|v| {
            (
                v.nodes().count(),
                v.tables().count(),
                v.partitions().count(),
            )
        });
        for (name, help, v) in [
            (
                "cairn_control_is_leader",
                "1 while this instance leads",
                usize::from((self.leading)()),
            ),
            ("cairn_control_nodes", "registered storage nodes", nodes),
            ("cairn_control_tables", "tables", tables),
            ("cairn_control_partitions", "partitions", partitions),
        ] {
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            );
        }
        text.push_str("# EOF\n");
        text
    }
}

async fn metrics(State(m): State<ControlMetrics>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        m.render(),
    )
        .into_response()
}

/// Serves `/metrics` on `addr` until the task is aborted.
pub async fn serve(addr: SocketAddr, m: ControlMetrics) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .with_state(m);
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_rpcs_and_gauges() {
        let m = ControlMetrics {
            rpcs: ControlMetrics::rpc_metrics(),
            metadata: Metadata::new(),
            leading: Arc::new(|| true),
        };
        m.rpcs
            .observe("Heartbeat", "ok", std::time::Duration::from_millis(2));
        let text = m.render();
        assert!(
            text.contains("cairn_control_requests_total{op=\"Heartbeat\",code=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("cairn_control_is_leader 1"));
        assert!(text.contains("cairn_control_nodes 0"));
        assert!(text.ends_with("# EOF\n"));
    }
}
