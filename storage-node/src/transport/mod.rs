//! The transport: frames between processes over QUIC with mutual TLS from the cluster CA
//! (DESIGN §1, §9). The node driver sends replication batches through it, the router
//! forwards requests through it, and the control plane and nodes call each other through it.
//!
//! The seam ([`Transport`]):
//! - [`Transport::send`]: one-way frame to a peer, never blocks: it goes into that peer's
//!   bounded queue (frames and bytes) or fails with [`SendError::Full`]. Frames to one peer
//!   travel in order on one long-lived unidirectional stream; across a reconnect or a
//!   connection switch they may be lost, duplicated (a frame whose write failed is resent)
//!   or reordered, as on any network.
//! - [`Transport::call`]: request/response with a timeout, one bidirectional stream per call;
//!   the other side answers through its [`CallHandler`].
//! - Inbound one-way frames arrive on the bounded channel [`Transport::bind`] returns, as
//!   [`InboundFrame`]s (peer name and frame). When it is full the connection's stream stops
//!   being read, QUIC flow control pushes back, and the sender's queue fills.
//! - Peers are named by host name; [`Transport::set_peer_addr`] keeps the address book.
//!
//! Every frame crossing the transport is checked against `wire::frame` on both ends. The
//! sender checks its shape (magic, reserved bits, body bound, length: `check_shape`; the
//! checksum is right by construction of `wire::frame::encode`). The receiver checks the
//! body bound from the header before the body is read or allocated, then the checksum, and
//! hands on a [`CheckedFrame`]: each frame is hashed once per side. Typed decoding (type,
//! version, rkyv validation) is the receiver's business ([`CheckedFrame::decode`]). A frame that fails is logged with its reason
//! and the connection is closed (code [`CLOSE_BAD_FRAME`], the reason as close reason): with
//! TLS below, a bad frame means a broken peer, and its framing can no longer be trusted. The
//! sender's side then reconnects; frames in flight on the closed connection are lost, as on
//! any connection loss (the replication protocol tolerates loss, reordering and duplicates).
//!
//! Authentication (`transport/tls.rs`, `transport/certs.rs`): both ends present certificates
//! from the cluster CA. A server never reads a stream of a connection whose client
//! certificate has not been verified (quinn yields the connection only after the handshake,
//! and the name is read from the certificate before anything else). A client does not trust
//! `connect()` alone: in TLS 1.3 it completes before the server has checked the client's
//! certificate, so the dialer first sends a [`wire::peer::PeerHello`] call and uses the
//! connection only once the answer arrives (`transport/link.rs`).
//!
//! Connections (`transport/link.rs`): one per peer pair. Either side dials when it has
//! something to send and no connection; if both dial at once, the connection dialed by the
//! side with the smaller name wins on both sides, and the loser's dialer closes its own after
//! a grace period (so frames already written on it still arrive). Reconnects use capped
//! exponential backoff. Incoming connections are served in `transport/serve.rs`.
//!
//! Shutdown: [`Transport::shutdown`] (or dropping the last handle) closes the endpoint and
//! stops every task.

pub mod certs;
mod link;
mod serve;
pub mod tls;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use wire::frame::{CheckedFrame, FRAME_BODY_BYTES_MAX_DEFAULT, FrameError, check_shape};

pub use certs::{CertError, Identity};
pub use tls::TlsError;

use link::Peer;

/// Close code: the transport is shutting down.
pub const CLOSE_SHUTDOWN: u32 = 0;
/// Close code: a duplicate connection was retired (see the simultaneous-dial rule).
pub const CLOSE_DUPLICATE: u32 = 1;
/// Close code: a frame failed its checks; the reason is the close reason.
pub const CLOSE_BAD_FRAME: u32 = 2;
/// Close code: the handshake (certificate name or hello) failed.
pub const CLOSE_HANDSHAKE: u32 = 3;
/// Stream reset code: the handler had no answer for a call.
pub const RESET_NO_REPLY: u32 = 1;

/// Settings of a transport endpoint.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Where to listen (port 0: any).
    pub listen: SocketAddr,
    /// The bound on every frame body, sent or received.
    pub frame_body_bytes_max: usize,
    /// Per-peer send queue bound, in frames.
    pub send_queue_frames_max: usize,
    /// Per-peer send queue bound, in bytes.
    pub send_queue_bytes_max: usize,
    /// Inbound one-way frame channel bound, in frames.
    pub inbound_frames_max: usize,
    /// Concurrent incoming calls per connection.
    pub calls_inflight_max: u32,
    /// Peers known at once (address book plus authenticated strangers).
    pub peers_max: usize,
    pub reconnect_backoff_min_ms: u64,
    pub reconnect_backoff_max_ms: u64,
    /// Handshake (TLS and hello) deadline.
    pub handshake_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub keep_alive_ms: u64,
    /// How long a retired duplicate connection stays open for frames in flight.
    pub retire_grace_ms: u64,
}

impl Default for TransportConfig {
    fn default() -> TransportConfig {
        TransportConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            frame_body_bytes_max: FRAME_BODY_BYTES_MAX_DEFAULT,
            send_queue_frames_max: 4096,
            send_queue_bytes_max: 64 << 20,
            inbound_frames_max: 4096,
            calls_inflight_max: 256,
            peers_max: 4096,
            reconnect_backoff_min_ms: 50,
            reconnect_backoff_max_ms: 5_000,
            handshake_timeout_ms: 5_000,
            idle_timeout_ms: 10_000,
            keep_alive_ms: 2_000,
            retire_grace_ms: 1_000,
        }
    }
}

/// Why an endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("bad setting: {0}")]
    Config(String),
}

/// Why a one-way frame was not queued.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("unknown peer {0:?} (no address and no connection)")]
    UnknownPeer(String),
    #[error("send queue to {peer} full ({frames_max} frames / {bytes_max} bytes)")]
    Full {
        peer: String,
        frames_max: usize,
        bytes_max: usize,
    },
    #[error("frame refused before sending: {0}")]
    BadFrame(FrameError),
    #[error("transport shut down")]
    Shutdown,
}

/// Why a call failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown peer {0:?}")]
    UnknownPeer(String),
    #[error("request refused before sending: {0}")]
    BadFrame(FrameError),
    #[error("no reply within the timeout")]
    Timeout,
    #[error("connection: {0}")]
    Connection(String),
    #[error("the peer had no reply")]
    NoReply,
    #[error("reply refused: {0}")]
    BadReply(FrameError),
    #[error("transport shut down")]
    Shutdown,
}

/// A one-way frame from a peer (header and checksum checked; decode it with
/// [`CheckedFrame::decode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundFrame {
    pub peer: String,
    pub frame: CheckedFrame,
}

/// A boxed future, as [`CallHandler`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers incoming calls. `frame` has passed the transport's checks; the reply must be a
/// whole frame (it is checked before it is sent). `None` resets the call's stream (the caller
/// gets [`CallError::NoReply`]).
pub trait CallHandler: Send + Sync + 'static {
    fn handle(&self, peer: String, frame: CheckedFrame) -> BoxFuture<Option<Vec<u8>>>;
}

/// A handler that answers no call.
pub struct NoCalls;

impl CallHandler for NoCalls {
    fn handle(&self, _peer: String, _frame: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        Box::pin(async { None })
    }
}

/// State shared by the handle, the accept loop and the per-peer tasks.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) config: TransportConfig,
    pub(crate) endpoint: quinn::Endpoint,
    pub(crate) client_config: quinn::ClientConfig,
    pub(crate) peers: Mutex<HashMap<String, Arc<Peer>>>,
    pub(crate) inbound_tx: mpsc::Sender<InboundFrame>,
    pub(crate) handler: Arc<dyn CallHandler>,
    /// Long-lived tasks (accept loop, per-peer drivers), aborted on shutdown.
    pub(crate) tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    pub(crate) shut: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn spawn_tracked<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(fut).abort_handle();
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }
}

/// A transport endpoint (cheap to clone; all clones share it). Dropping the last clone
/// stops it as [`Transport::shutdown`] does, without waiting for close frames to go out.
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

/// Stops the endpoint when the last [`Transport`] clone goes (the tasks hold `Shared`, so it
/// cannot do this itself).
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        stop(&self.0);
    }
}

/// Closes the endpoint, aborts the long-lived tasks and forgets the peers.
fn stop(shared: &Shared) {
    shared.shut.store(true, Ordering::Relaxed);
    shared.endpoint.close(CLOSE_SHUTDOWN.into(), b"shutdown");
    let tasks = std::mem::take(&mut *shared.tasks.lock().expect("tasks lock"));
    for t in tasks {
        t.abort();
    }
    shared.peers.lock().expect("peers lock").clear();
}

impl Transport {
    /// Starts an endpoint for `identity` (our name is its certificate's name). Must run
    /// inside a tokio runtime. Returns the handle and the inbound one-way frame channel.
    pub fn bind(
        identity: &Identity,
        config: TransportConfig,
        handler: Arc<dyn CallHandler>,
    ) -> Result<(Transport, mpsc::Receiver<InboundFrame>), TransportError> {
        if config.send_queue_frames_max == 0
            || config.inbound_frames_max == 0
            || config.calls_inflight_max == 0
            || config.reconnect_backoff_min_ms == 0
            || config.reconnect_backoff_min_ms > config.reconnect_backoff_max_ms
        {
            return Err(TransportError::Config(format!("{config:?}")));
        }
        let limits = tls::QuicLimits {
            idle_timeout_ms: config.idle_timeout_ms,
            keep_alive_ms: config.keep_alive_ms,
            calls_inflight_max: config.calls_inflight_max,
            uni_streams_max: 8,
        };
        let server_config = tls::server_config(identity, &limits)?;
        let client_config = tls::client_config(identity, &limits)?;
        let endpoint = quinn::Endpoint::server(server_config, config.listen)
            .map_err(|e| TransportError::Bind(config.listen, e))?;
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_frames_max);
        let shared = Arc::new(Shared {
            name: identity.name.clone(),
            config,
            endpoint,
            client_config,
            peers: Mutex::new(HashMap::new()),
            inbound_tx,
            handler,
            tasks: Mutex::new(Vec::new()),
            shut: std::sync::atomic::AtomicBool::new(false),
        });
        shared.spawn_tracked(serve::accept_loop(shared.clone()));
        let transport = Transport {
            _stop_on_drop: Arc::new(StopOnDrop(shared.clone())),
            shared,
        };
        Ok((transport, inbound_rx))
    }

    /// Our host name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The address we listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared
            .endpoint
            .local_addr()
            .unwrap_or(self.shared.config.listen)
    }

    /// Sets (or changes) where `peer` listens. The next dial uses it.
    pub fn set_peer_addr(&self, peer: &str, addr: SocketAddr) -> Result<(), SendError> {
        let p = link::peer_entry(&self.shared, peer)?;
        *p.addr.lock().expect("addr lock") = Some(addr);
        p.wake.notify_one();
        Ok(())
    }

    /// Queues a one-way frame to `peer`. Never blocks; a full queue is an error, and the
    /// caller decides what to drop.
    pub fn send(&self, peer: &str, frame: Vec<u8>) -> Result<(), SendError> {
        if self.shared.shut.load(Ordering::Relaxed) {
            return Err(SendError::Shutdown);
        }
        check_shape(&frame, self.shared.config.frame_body_bytes_max)
            .map_err(SendError::BadFrame)?;
        let p = self
            .shared
            .peers
            .lock()
            .expect("peers lock")
            .get(peer)
            .cloned()
            .ok_or_else(|| SendError::UnknownPeer(peer.to_owned()))?;
        p.enqueue(frame, &self.shared.config)
    }

    /// Sends `frame` as a request to `peer` and waits at most `timeout` for the reply frame.
    pub async fn call(
        &self,
        peer: &str,
        frame: Vec<u8>,
        timeout: Duration,
    ) -> Result<CheckedFrame, CallError> {
        if self.shared.shut.load(Ordering::Relaxed) {
            return Err(CallError::Shutdown);
        }
        let max = self.shared.config.frame_body_bytes_max;
        check_shape(&frame, max).map_err(CallError::BadFrame)?;
        let p = self
            .shared
            .peers
            .lock()
            .expect("peers lock")
            .get(peer)
            .cloned()
            .ok_or_else(|| CallError::UnknownPeer(peer.to_owned()))?;
        let backoff = Duration::from_millis(self.shared.config.reconnect_backoff_min_ms);
        tokio::time::timeout(timeout, async {
            let conn = p.wait_link(backoff).await;
            link::call_on(&conn, &frame, max).await
        })
        .await
        .map_err(|_| CallError::Timeout)?
    }

    /// Peers with a live authenticated connection right now.
    pub fn connected_peers(&self) -> Vec<String> {
        let peers = self.shared.peers.lock().expect("peers lock");
        let mut out: Vec<String> = peers
            .values()
            .filter(|p| p.current().is_some())
            .map(|p| p.name.clone())
            .collect();
        out.sort();
        out
    }

    /// Closes every connection and stops every task. Later sends and calls fail with
    /// `Shutdown`.
    pub async fn shutdown(&self) {
        stop(&self.shared);
        let _ =
            tokio::time::timeout(Duration::from_secs(2), self.shared.endpoint.wait_idle()).await;
    }
}
