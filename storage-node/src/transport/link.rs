//! One peer's side of the transport (`transport/mod.rs`): its bounded send queue, its current
//! connection (the "link"), the driver task that drains the queue onto one unidirectional
//! stream, and dialing with capped exponential backoff. Peers are dialed lazily: when a frame
//! is queued or a call waits and there is no live link.
//!
//! Invariants:
//! - A link is only ever an authenticated connection: dialed here and answered by the
//!   peer's hello ([`dial`]), or accepted and checked in `transport/serve.rs`.
//! - The queue holds at most `send_queue_frames_max` frames and `send_queue_bytes_max` bytes
//!   (bytes counted on enqueue, released when the driver takes the frame).
//! - Simultaneous dials ([`adopt`]): of two live links to one peer, the one dialed by the
//!   side with the smaller name is kept, on both sides; between two links of the same kind,
//!   the newer wins (the older one belongs to a peer that has restarted). A link we dialed
//!   and no longer use is closed after `retire_grace_ms`; a link the peer dialed is left for
//!   the peer to close, and kept as the standby that replaces the current link if that one
//!   fails first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use wire::frame::{self, CheckedFrame};
use wire::peer::PeerHello;

use super::serve::{self, ReadFrameError, read_frame};
use super::{CLOSE_DUPLICATE, CLOSE_HANDSHAKE, CallError, SendError, Shared, TransportConfig, tls};

/// The largest hello body we accept (a name and rkyv overhead).
pub(crate) const HELLO_BODY_BYTES_MAX: usize = 512;

/// An authenticated connection to a peer.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) conn: quinn::Connection,
    pub(crate) dialed_by_me: bool,
}

pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) addr: Mutex<Option<SocketAddr>>,
    queue_tx: mpsc::Sender<Vec<u8>>,
    queued_bytes: AtomicUsize,
    link: watch::Sender<Option<Link>>,
    /// A live link the peer dialed that lost to the current one: used if the current one
    /// fails before the peer retires it (say the current one points at a dead process and
    /// the standby comes from its successor).
    standby: Mutex<Option<Link>>,
    /// Wakes the driver: the address changed, or a call wants a connection.
    pub(crate) wake: Notify,
    /// A call is waiting for a connection: dial even with nothing queued. (Without it a
    /// wake only re-reads the address: peers are dialed lazily, when there is traffic.)
    dial_wanted: AtomicBool,
}

impl Peer {
    /// The current live link, if any.
    pub(crate) fn current(&self) -> Option<Link> {
        self.link
            .borrow()
            .as_ref()
            .filter(|l| l.conn.close_reason().is_none())
            .cloned()
    }

    pub(crate) fn enqueue(
        &self,
        frame: Vec<u8>,
        config: &TransportConfig,
    ) -> Result<(), SendError> {
        let full = || SendError::Full {
            peer: self.name.clone(),
            frames_max: config.send_queue_frames_max,
            bytes_max: config.send_queue_bytes_max,
        };
        let len = frame.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before + len > config.send_queue_bytes_max {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(full());
        }
        match self.queue_tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                match e {
                    mpsc::error::TrySendError::Full(_) => Err(full()),
                    mpsc::error::TrySendError::Closed(_) => Err(SendError::Shutdown),
                }
            }
        }
    }

    /// Waits for a live link, asking the driver to dial every `retry` meanwhile.
    pub(crate) async fn wait_link(&self, retry: Duration) -> quinn::Connection {
        let mut rx = self.link.subscribe();
        loop {
            if let Some(l) = self.current() {
                return l.conn;
            }
            self.dial_wanted.store(true, Ordering::Release);
            self.wake.notify_one();
            let _ = tokio::time::timeout(retry, rx.changed()).await;
        }
    }

    /// Drops link `id` (it closed or failed): the standby takes its place if it is alive.
    fn clear_if_current(&self, id: usize) {
        let mut standby = self.standby.lock().expect("standby lock");
        if standby.as_ref().is_some_and(|l| l.conn.stable_id() == id) {
            *standby = None;
        }
        self.link.send_if_modified(|cur| {
            if cur.as_ref().is_some_and(|l| l.conn.stable_id() == id) {
                *cur = standby.take().filter(|l| l.conn.close_reason().is_none());
                true
            } else {
                false
            }
        });
    }
}

/// The peer named `name`, created (with its driver) if new.
pub(crate) fn peer_entry(shared: &Arc<Shared>, name: &str) -> Result<Arc<Peer>, SendError> {
    let mut peers = shared.peers.lock().expect("peers lock");
    if let Some(p) = peers.get(name) {
        return Ok(p.clone());
    }
    if shared.shut.load(Ordering::Relaxed) {
        return Err(SendError::Shutdown);
    }
    if peers.len() >= shared.config.peers_max {
        return Err(SendError::UnknownPeer(format!(
            "{name} (already {} peers)",
            peers.len()
        )));
    }
    let (queue_tx, queue_rx) = mpsc::channel(shared.config.send_queue_frames_max);
    let peer = Arc::new(Peer {
        name: name.to_owned(),
        addr: Mutex::new(None),
        queue_tx,
        queued_bytes: AtomicUsize::new(0),
        link: watch::Sender::new(None),
        standby: Mutex::new(None),
        wake: Notify::new(),
        dial_wanted: AtomicBool::new(false),
    });
    peers.insert(name.to_owned(), peer.clone());
    drop(peers);
    shared.spawn_tracked(drive(shared.clone(), peer.clone(), queue_rx));
    Ok(peer)
}

/// Makes `new` the peer's link or retires it, by the rule in the module docs; watches it so
/// that it is dropped from the peer when it closes.
pub(crate) fn adopt(shared: &Arc<Shared>, peer: &Arc<Peer>, new: Link) {
    let me_smaller = shared.name < peer.name;
    let canonical = |l: &Link| l.dialed_by_me == me_smaller;
    let new_id = new.conn.stable_id();
    let mut retire = None;
    let mut standby = peer.standby.lock().expect("standby lock");
    peer.link.send_modify(|cur| match cur {
        Some(c) if c.conn.close_reason().is_none() && canonical(c) && !canonical(&new) => {
            if new.dialed_by_me {
                retire = Some(new.clone());
            } else {
                *standby = Some(new.clone());
            }
        }
        _ => {
            if let Some(old) = cur.replace(new.clone())
                && old.conn.close_reason().is_none()
            {
                if old.dialed_by_me {
                    retire = Some(old);
                } else {
                    *standby = Some(old);
                }
            }
        }
    });
    drop(standby);
    let watched = peer.clone();
    let conn = new.conn;
    tokio::spawn(async move {
        let reason = conn.closed().await;
        tracing::debug!(peer = %watched.name, %reason, "connection closed");
        watched.clear_if_current(new_id);
    });
    if let Some(r) = retire {
        let grace = Duration::from_millis(shared.config.retire_grace_ms);
        tracing::debug!(peer = %peer.name, "retiring duplicate connection");
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            r.conn
                .close(CLOSE_DUPLICATE.into(), b"duplicate connection");
        });
    }
}

/// Drains the peer's queue onto one unidirectional stream of the current link, dialing when
/// there is none.
async fn drive(shared: Arc<Shared>, peer: Arc<Peer>, mut queue: mpsc::Receiver<Vec<u8>>) {
    let min = Duration::from_millis(shared.config.reconnect_backoff_min_ms);
    let max = Duration::from_millis(shared.config.reconnect_backoff_max_ms);
    let mut backoff = min;
    let mut pending: Option<Vec<u8>> = None;
    let mut stream: Option<(usize, quinn::SendStream)> = None;
    let mut link_rx = peer.link.subscribe();
    loop {
        if pending.is_none() {
            tokio::select! {
                f = queue.recv() => match f {
                    Some(f) => {
                        peer.queued_bytes.fetch_sub(f.len(), Ordering::AcqRel);
                        pending = Some(f);
                    }
                    None => return,
                },
                () = peer.wake.notified() => {
                    if !peer.dial_wanted.swap(false, Ordering::AcqRel) {
                        continue;
                    }
                }
            }
        }
        let link = match peer.current() {
            Some(l) => l,
            None => {
                let addr = *peer.addr.lock().expect("addr lock");
                let Some(addr) = addr else {
                    // No address: wait for one, or for the peer to connect to us.
                    tokio::select! {
                        _ = link_rx.changed() => {}
                        () = peer.wake.notified() => {}
                    }
                    continue;
                };
                match dial(&shared, &peer.name, addr).await {
                    Ok(l) => {
                        backoff = min;
                        adopt(&shared, &peer, l);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(peer = %peer.name, %addr, retry_ms = backoff.as_millis() as u64, "dial failed: {e}");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = link_rx.changed() => {}
                        }
                        backoff = (backoff * 2).min(max);
                        continue;
                    }
                }
            }
        };
        let Some(f) = pending.take() else { continue };
        let id = link.conn.stable_id();
        if stream.as_ref().map(|(sid, _)| *sid) != Some(id) {
            if let Some((_, mut old)) = stream.take() {
                let _ = old.finish();
            }
            match link.conn.open_uni().await {
                Ok(s) => stream = Some((id, s)),
                Err(e) => {
                    tracing::debug!(peer = %peer.name, "open stream: {e}");
                    peer.clear_if_current(id);
                    pending = Some(f);
                    continue;
                }
            }
        }
        let (_, s) = stream.as_mut().expect("stream just set");
        if let Err(e) = s.write_all(&f).await {
            // Resent on the next link: the protocol tolerates a duplicate.
            tracing::debug!(peer = %peer.name, "write: {e}");
            peer.clear_if_current(id);
            stream = None;
            pending = Some(f);
        }
    }
}

/// Dials `name` at `addr`: TLS (the server's certificate must name `name`), then the hello
/// call, which proves the server accepted our certificate.
pub(super) async fn dial(
    shared: &Arc<Shared>,
    name: &str,
    addr: SocketAddr,
) -> Result<Link, String> {
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let connecting = shared
        .endpoint
        .connect_with(shared.client_config.clone(), addr, name)
        .map_err(|e| format!("connect: {e}"))?;
    let conn = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| format!("handshake: {e}"))?;
    let got = tls::peer_name(&conn)?;
    if got != name {
        conn.close(CLOSE_HANDSHAKE.into(), b"wrong peer name");
        return Err(format!("certificate names {got:?}, expected {name:?}"));
    }
    let hello = frame::encode(
        &PeerHello {
            name: shared.name.clone(),
        },
        HELLO_BODY_BYTES_MAX,
    )
    .map_err(|e| format!("hello: {e}"))?;
    let reply = tokio::time::timeout(timeout, call_on(&conn, &hello, HELLO_BODY_BYTES_MAX))
        .await
        .map_err(|_| "hello timed out".to_owned())?
        .map_err(|e| format!("hello refused: {e}"))?;
    let answer: PeerHello = reply.decode().map_err(|e| format!("hello reply: {e}"))?;
    if answer.name != name {
        conn.close(CLOSE_HANDSHAKE.into(), b"wrong hello name");
        return Err(format!("hello from {:?}, expected {name:?}", answer.name));
    }
    serve::spawn_connection(shared, name.to_owned(), conn.clone());
    Ok(Link {
        conn,
        dialed_by_me: true,
    })
}

/// One request/response on a new bidirectional stream of `conn`.
pub(crate) async fn call_on(
    conn: &quinn::Connection,
    request: &[u8],
    body_bytes_max: usize,
) -> Result<CheckedFrame, CallError> {
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| CallError::Connection(e.to_string()))?;
    send.write_all(request)
        .await
        .map_err(|e| CallError::Connection(e.to_string()))?;
    let _ = send.finish();
    match read_frame(&mut recv, body_bytes_max).await {
        Ok(Some(reply)) => Ok(reply),
        Ok(None) => Err(CallError::NoReply),
        Err(ReadFrameError::Frame(e)) => {
            tracing::warn!(remote = %conn.remote_address(), "bad reply frame: {e}");
            Err(CallError::BadReply(e))
        }
        Err(ReadFrameError::Reset) => Err(CallError::NoReply),
        Err(ReadFrameError::Stream(e)) => Err(CallError::Connection(e)),
    }
}
