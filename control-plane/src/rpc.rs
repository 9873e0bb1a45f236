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
use wire::frame::{self, FRAME_BODY_BYTES_MAX_DEFAULT};

use crate::service::ControlService;
use crate::store::MetaStore;

/// Answers control calls with a [`ControlService`].
pub struct ControlRpc<S: MetaStore> {
    service: Arc<ControlService<S>>,
    frame_body_bytes_max: usize,
}

impl<S: MetaStore> ControlRpc<S> {
    pub fn new(service: Arc<ControlService<S>>) -> ControlRpc<S> {
        ControlRpc {
            service,
            frame_body_bytes_max: FRAME_BODY_BYTES_MAX_DEFAULT,
        }
    }
}

impl<S: MetaStore + Send + Sync + 'static> CallHandler for ControlRpc<S> {
    fn handle(&self, peer: String, bytes: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let service = self.service.clone();
        let max = self.frame_body_bytes_max;
        Box::pin(async move {
            let req = match frame::decode::<ControlRequest>(&bytes, max) {
                Ok(req) => req,
                Err(e) => {
                    warn!(%peer, error = %e, "control call rejected");
                    return None;
                }
            };
            let reply: ControlReply = service.handle_from(&peer, req).await;
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
