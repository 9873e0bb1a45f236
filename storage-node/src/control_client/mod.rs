//! The node's side of the control RPCs (DESIGN §1, §8): a [`ControlRequest`] is framed
//! (`wire/src/frame.rs`, type 0x0100), sent as a call on the QUIC transport
//! (`transport/`) to a control-plane instance, and the [`ControlReply`] frame decoded.
//!
//! Control-plane instances are peers named by their certificates. Any instance answers
//! routing lookups and table descriptions from memory; registration, heartbeats and table
//! changes need the leader, and the others answer `NotLeader` with the leader's address,
//! which [`ControlClient::call`] follows (at most `redirects_max` hops).
//!
//! The server side is `control-plane/src/rpc.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wire::control::{ControlErrorKind, ControlReply, ControlRequest};
use wire::frame::{self, FRAME_BODY_BYTES_MAX_DEFAULT, FrameError};

use crate::transport::{CallError, SendError, Transport};

/// Why a control call failed (a reply that is an error is not a failure of the call).
#[derive(Debug, thiserror::Error)]
pub enum ControlCallError {
    #[error("framing the request: {0}")]
    Encode(FrameError),
    #[error("control plane {peer}: {error}")]
    Call { peer: String, error: CallError },
    #[error("control plane {peer} answered with a bad frame: {error}")]
    BadReply { peer: String, error: FrameError },
    #[error("no control-plane instance answered (tried {tried:?})")]
    NoInstance { tried: Vec<String> },
    #[error("leader hint {0:?} is not name@host:port")]
    BadHint(String),
    #[error("address book: {0}")]
    Peer(#[from] SendError),
}

/// Calls control-plane instances over a node's transport.
pub struct ControlClient {
    transport: Transport,
    /// Known instances (peer names, addresses already in the transport's book).
    instances: Vec<String>,
    pub timeout: Duration,
    pub redirects_max: usize,
    /// The instance that last gave a real answer (the leader, for leader-only requests):
    /// tried first, so a dead instance early in the list costs nothing once one call
    /// found its way.
    preferred: Mutex<Option<String>>,
    /// Instances whose last call failed, and until when they are tried last.
    suspects: Mutex<HashMap<String, Instant>>,
}

/// How long an instance that failed a call is tried after the others.
const SUSPECT_FOR: Duration = Duration::from_secs(5);

impl ControlClient {
    /// `instances`: (certificate name, address) of each control-plane instance.
    pub fn new(
        transport: Transport,
        instances: &[(String, SocketAddr)],
    ) -> Result<ControlClient, ControlCallError> {
        for (name, addr) in instances {
            transport.set_peer_addr(name, *addr)?;
        }
        Ok(ControlClient {
            transport,
            instances: instances.iter().map(|(n, _)| n.clone()).collect(),
            timeout: Duration::from_secs(3),
            redirects_max: 2,
            preferred: Mutex::new(None),
            suspects: Mutex::new(HashMap::new()),
        })
    }

    /// The order to try instances in: the preferred one, then the others, suspects last.
    fn order(&self) -> Vec<String> {
        let now = Instant::now();
        let suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        let suspect = |n: &String| suspects.get(n).is_some_and(|until| *until > now);
        let preferred = self
            .preferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut order: Vec<String> = preferred.into_iter().collect();
        for pass in [false, true] {
            for n in &self.instances {
                if suspect(n) == pass && !order.contains(n) {
                    order.push(n.clone());
                }
            }
        }
        order
    }

    /// One call to one instance.
    pub async fn call_peer(
        &self,
        peer: &str,
        req: &ControlRequest,
    ) -> Result<ControlReply, ControlCallError> {
        let f =
            frame::encode(req, FRAME_BODY_BYTES_MAX_DEFAULT).map_err(ControlCallError::Encode)?;
        let reply = self
            .transport
            .call(peer, f, self.timeout)
            .await
            .map_err(|error| ControlCallError::Call {
                peer: peer.to_string(),
                error,
            })?;
        reply
            .decode::<ControlReply>()
            .map_err(|error| ControlCallError::BadReply {
                peer: peer.to_string(),
                error,
            })
    }

    /// Call any instance (the last one that answered first, instances that recently failed
    /// last), following `NotLeader` redirects whose hint names an instance as
    /// `name@host:port`.
    pub async fn call(&self, req: &ControlRequest) -> Result<ControlReply, ControlCallError> {
        let mut tried = Vec::new();
        for first in self.order() {
            let mut peer = first;
            for _ in 0..=self.redirects_max {
                if tried.contains(&peer) {
                    break;
                }
                tried.push(peer.clone());
                let reply = match self.call_peer(&peer, req).await {
                    Ok(r) => r,
                    Err(ControlCallError::Call { .. }) => {
                        self.suspects
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(peer.clone(), Instant::now() + SUSPECT_FOR);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                let answered = !matches!(&reply, ControlReply::Error(e)
                    if e.kind == ControlErrorKind::NotLeader);
                if answered {
                    *self.preferred.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer.clone());
                    self.suspects
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&peer);
                }
                match &reply {
                    ControlReply::Error(e) if e.kind == ControlErrorKind::NotLeader => {
                        match e.leader_hint.as_deref().map(parse_hint) {
                            Some(Ok((name, addr))) if name != peer => {
                                self.transport.set_peer_addr(&name, addr)?;
                                peer = name;
                            }
                            Some(Err(e)) => return Err(e),
                            _ => return Ok(reply),
                        }
                    }
                    _ => return Ok(reply),
                }
            }
        }
        Err(ControlCallError::NoInstance { tried })
    }
}

/// A leader hint: `name@host:port`.
fn parse_hint(hint: &str) -> Result<(String, SocketAddr), ControlCallError> {
    let bad = || ControlCallError::BadHint(hint.to_string());
    let (name, addr) = hint.split_once('@').ok_or_else(bad)?;
    let addr = addr.parse().map_err(|_| bad())?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok((name.to_string(), addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_an_instance() {
        let (n, a) = parse_hint("ctl-2@127.0.0.1:7401").unwrap();
        assert_eq!((n.as_str(), a.port()), ("ctl-2", 7401));
        for bad in ["ctl-2", "@127.0.0.1:1", "ctl@nowhere", ""] {
            assert!(
                matches!(parse_hint(bad), Err(ControlCallError::BadHint(_))),
                "{bad}"
            );
        }
    }
}
