//! The control RPC server: control-plane requests arrive as calls on the QUIC transport
//! (`storage-node/src/transport/`, mutual TLS from the cluster CA), each a
//! [`ControlRequest`] frame (type 0x0100, `wire/src/control.rs`); the answer is a
//! [`ControlReply`] frame (0x0101) from [`ControlService::handle`].
//!
//! A frame that is not a valid `ControlRequest` (unknown type or version, failed rkyv
//! validation, bounds) is logged with its reason and the call is reset: nothing malformed
//! reaches the service. A node registers and heartbeats only as itself: the name in a
//! `Register` and the node of a `Heartbeat` must be the peer's certificate name
//! ([`ControlService::handle_from`]). The transport has already checked the peer's certificate, the frame
//! header, the checksum and the size bound before this handler runs.
//!
//! The node side (encode, call, decode) is `storage-node/src/control_client/`.

use std::sync::Arc;

use storage_node::transport::{BoxFuture, CallHandler};
use tracing::warn;
use wire::control::{ControlReply, ControlRequest};
use wire::frame::{self, CheckedFrame, FRAME_BODY_BYTES_MAX_DEFAULT};

use crate::service::ControlService;
use crate::store::MetaStore;
use storage_node::node::metrics::OpMetrics;

/// Answers control calls with a [`ControlService`].
pub struct ControlRpc<S: MetaStore> {
    service: Arc<ControlService<S>>,
    frame_body_bytes_max: usize,
    metrics: Option<Arc<OpMetrics>>,
}

impl<S: MetaStore> ControlRpc<S> {
    pub fn new(service: Arc<ControlService<S>>) -> ControlRpc<S> {
        ControlRpc {
            service,
            frame_body_bytes_max: FRAME_BODY_BYTES_MAX_DEFAULT,
            metrics: None,
        }
    }

    /// Counts every answered call by request kind and outcome (`crate::metrics`).
    pub fn with_metrics(mut self, metrics: Arc<OpMetrics>) -> ControlRpc<S> {
        self.metrics = Some(metrics);
        self
    }
}

/// The request's kind, as a metrics label.
pub fn request_kind(req: &ControlRequest) -> &'static str {
    match req {
        ControlRequest::Register(_) => "Register",
        ControlRequest::Heartbeat(_) => "Heartbeat",
        ControlRequest::Lookup(_) => "Lookup",
        ControlRequest::CreateTable(_) => "CreateTable",
        ControlRequest::DeleteTable { .. } => "DeleteTable",
        ControlRequest::DescribeTable { .. } => "DescribeTable",
        ControlRequest::ListTables(_) => "ListTables",
        ControlRequest::AlterTable { .. } => "AlterTable",
    }
}

impl<S: MetaStore + Send + Sync + 'static> CallHandler for ControlRpc<S> {
    fn handle(&self, peer: String, f: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        let service = self.service.clone();
        let max = self.frame_body_bytes_max;
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let req = match f.decode::<ControlRequest>() {
                Ok(req) => req,
                Err(e) => {
                    warn!(%peer, error = %e, "control call rejected");
                    return None;
                }
            };
            let started = std::time::Instant::now();
            let kind = request_kind(&req);
            let reply: ControlReply = service.handle_from(&peer, req).await;
            if let Some(m) = &metrics {
                let code = match &reply {
                    ControlReply::Error(e) => format!("{:?}", e.kind),
                    _ => "ok".to_owned(),
                };
                m.observe(kind, &code, started.elapsed());
            }
            match frame::encode(&reply, max) {
                Ok(f) => Some(f),
                Err(e) => {
                    warn!(%peer, error = %e, "control reply could not be framed");
                    None
                }
            }
        })
    }
}
