//! The receiving side of forwarding (design-driver §3.2): a transport call whose frame is an
//! `ItemRequest` (0x0200) or a `DigestRequest` (0x0220) is decoded (every check of
//! `wire::frame::decode`) and run on this node's [`LocalItems`]; the reply frame goes back.
//!
//! One hop: the handler never forwards again. A request for a group this node does not
//! lead comes back as `NotLeader`/`NotHere` to the router that sent it, which moves on. So
//! routing loops are impossible whatever the routers' caches say.
//!
//! The transport takes one [`CallHandler`] per process: the node combines this one with its
//! other handlers by frame type ([`handles`]) — e.g. its own handler calls
//! `forward.handle(peer, frame)` when `handles(peek_type(&frame))` — or registers it alone.
//! Frames of any other type get no reply (`None`: the caller sees `NoReply`).

use std::sync::Arc;

use tracing::warn;
use wire::forward::{DigestReply, DigestRequest, ItemRequest};
use wire::frame::{self, CheckedFrame, Framed};

use super::{LocalItems, RouterStats, bump};
use crate::transport::{BoxFuture, CallHandler};

/// True for the frame types [`ForwardHandler`] answers.
pub fn handles(frame_type: u16) -> bool {
    frame_type == ItemRequest::TYPE || frame_type == DigestRequest::TYPE
}

/// Serves forwarded item and digest requests from this node's [`LocalItems`].
#[derive(Clone)]
pub struct ForwardHandler {
    local: Arc<dyn LocalItems>,
    stats: Arc<RouterStats>,
    frame_body_bytes_max: usize,
}

impl ForwardHandler {
    pub fn new(
        local: Arc<dyn LocalItems>,
        stats: Arc<RouterStats>,
        frame_body_bytes_max: usize,
    ) -> ForwardHandler {
        ForwardHandler {
            local,
            stats,
            frame_body_bytes_max,
        }
    }
}

impl CallHandler for ForwardHandler {
    fn handle(&self, peer: String, f: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        let max = self.frame_body_bytes_max;
        match f.header().msg_type {
            t if t == ItemRequest::TYPE => {
                let req = match f.decode::<ItemRequest>() {
                    Ok(r) => r,
                    Err(e) => {
                        warn!(peer = %peer, error = %e, "refused a forwarded item request");
                        return Box::pin(async { None });
                    }
                };
                bump(&self.stats.served);
                let fut = self.local.execute(req);
                Box::pin(async move { encode_reply(&fut.await, max, &peer) })
            }
            t if t == DigestRequest::TYPE => {
                let req = match f.decode::<DigestRequest>() {
                    Ok(r) => r,
                    Err(e) => {
                        warn!(peer = %peer, error = %e, "refused a digest request");
                        return Box::pin(async { None });
                    }
                };
                let fut = self.local.digest(req);
                Box::pin(async move { encode_reply::<DigestReply>(&fut.await, max, &peer) })
            }
            _ => Box::pin(async { None }),
        }
    }
}

fn encode_reply<T: Framed>(reply: &T, max: usize, peer: &str) -> Option<Vec<u8>> {
    match frame::encode(reply, max) {
        Ok(f) => Some(f),
        Err(e) => {
            warn!(peer = %peer, error = %e, "cannot frame a forward reply");
            None
        }
    }
}
