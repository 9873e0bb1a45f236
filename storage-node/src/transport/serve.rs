//! The receiving side of the transport (`transport/mod.rs`): accepting connections, the
//! server half of the hello, and reading frames off streams.
//!
//! Invariants:
//! - No stream of a connection is read before the connection is authenticated: quinn yields
//!   an incoming connection only after the TLS handshake has verified the client's
//!   certificate against the cluster CA, the peer's name is then taken from that
//!   certificate, and the first stream must be a hello naming the same peer. Only then are
//!   the stream readers started ([`spawn_connection`]).
//! - Every frame is read by [`read_frame`]: the 32-byte header first, the body bound checked
//!   from it, then the body read as it arrives (memory grows with bytes received, never
//!   past the bound), then the checksum. A frame that fails closes the connection with
//!   `CLOSE_BAD_FRAME` and the reason, logged at `warn`.

use std::sync::Arc;
use std::time::Duration;

use wire::frame::{self, CheckedFrame, FrameError, HEADER_BYTES, check_shape, read_header};
use wire::peer::PeerHello;

use super::link::{self, HELLO_BODY_BYTES_MAX, Link};
use super::{CLOSE_BAD_FRAME, CLOSE_HANDSHAKE, InboundFrame, RESET_NO_REPLY, Shared, tls};

/// Why a frame could not be read from a stream.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    /// The bytes were not a valid frame.
    Frame(FrameError),
    /// The sender reset the stream.
    Reset,
    /// The stream or connection failed.
    Stream(String),
}

/// Reads one frame; `None` if the stream ended cleanly before a new frame began.
pub(crate) async fn read_frame(
    recv: &mut quinn::RecvStream,
    body_bytes_max: usize,
) -> Result<Option<CheckedFrame>, ReadFrameError> {
    let mut head = [0u8; HEADER_BYTES];
    match recv.read_exact(&mut head).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(got)) => {
            return Err(ReadFrameError::Frame(FrameError::Truncated {
                needed: HEADER_BYTES,
                got,
            }));
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(stream_error(e)),
    }
    let header = read_header(&head, body_bytes_max).map_err(ReadFrameError::Frame)?;
    let total = HEADER_BYTES + header.body_len();
    let mut frame = Vec::with_capacity(HEADER_BYTES + header.body_len().min(64 << 10));
    frame.extend_from_slice(&head);
    while frame.len() < total {
        match recv.read_chunk(total - frame.len(), true).await {
            Ok(Some(chunk)) => frame.extend_from_slice(&chunk.bytes),
            Ok(None) => {
                return Err(ReadFrameError::Frame(FrameError::Truncated {
                    needed: total,
                    got: frame.len(),
                }));
            }
            Err(e) => return Err(stream_error(e)),
        }
    }
    CheckedFrame::check(frame, body_bytes_max)
        .map(Some)
        .map_err(ReadFrameError::Frame)
}

fn stream_error(e: quinn::ReadError) -> ReadFrameError {
    match e {
        quinn::ReadError::Reset(_) => ReadFrameError::Reset,
        e => ReadFrameError::Stream(e.to_string()),
    }
}

/// Accepts connections until the endpoint closes.
pub(crate) async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        tokio::spawn(accept_one(shared.clone(), incoming));
    }
}

async fn accept_one(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let conn = match tokio::time::timeout(timeout, incoming).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::warn!(%remote, "rejected connection: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%remote, "rejected connection: handshake timed out");
            return;
        }
    };
    let name = match tls::peer_name(&conn) {
        Ok(name) if name != shared.name => name,
        Ok(name) => {
            refuse(&conn, &format!("peer claims our own name {name:?}"));
            return;
        }
        Err(e) => {
            refuse(&conn, &e);
            return;
        }
    };
    match tokio::time::timeout(timeout, hello(&shared, &conn, &name)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            refuse(&conn, &format!("hello from {name}: {e}"));
            return;
        }
        Err(_) => {
            refuse(&conn, &format!("hello from {name} timed out"));
            return;
        }
    }
    let peer = match link::peer_entry(&shared, &name) {
        Ok(p) => p,
        Err(e) => {
            refuse(&conn, &e.to_string());
            return;
        }
    };
    tracing::info!(peer = %name, %remote, "peer connected");
    spawn_connection(&shared, name, conn.clone());
    link::adopt(
        &shared,
        &peer,
        Link {
            conn,
            dialed_by_me: false,
        },
    );
}

fn refuse(conn: &quinn::Connection, reason: &str) {
    tracing::warn!(remote = %conn.remote_address(), "rejected connection: {reason}");
    conn.close(CLOSE_HANDSHAKE.into(), reason.as_bytes());
}

/// The server half of the hello: the first stream must be a hello naming the certificate's
/// host; the answer names us.
async fn hello(shared: &Shared, conn: &quinn::Connection, name: &str) -> Result<(), String> {
    let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
    let request = read_frame(&mut recv, HELLO_BODY_BYTES_MAX)
        .await
        .map_err(|e| format!("{e:?}"))?
        .ok_or_else(|| "empty hello stream".to_owned())?;
    let hello: PeerHello = request.decode().map_err(|e| e.to_string())?;
    if hello.name != name {
        return Err(format!(
            "hello says {:?}, certificate says {name:?}",
            hello.name
        ));
    }
    let reply = frame::encode(
        &PeerHello {
            name: shared.name.clone(),
        },
        HELLO_BODY_BYTES_MAX,
    )
    .map_err(|e| e.to_string())?;
    send.write_all(&reply).await.map_err(|e| e.to_string())?;
    let _ = send.finish();
    Ok(())
}

/// Starts reading an authenticated connection's streams: one-way frames and calls.
pub(crate) fn spawn_connection(shared: &Arc<Shared>, peer: String, conn: quinn::Connection) {
    let (s, p, c) = (shared.clone(), peer.clone(), conn.clone());
    tokio::spawn(async move {
        while let Ok(recv) = c.accept_uni().await {
            tokio::spawn(one_way_stream(s.clone(), p.clone(), c.clone(), recv));
        }
    });
    let s = shared.clone();
    tokio::spawn(async move {
        while let Ok((send, recv)) = conn.accept_bi().await {
            tokio::spawn(call_stream(
                s.clone(),
                peer.clone(),
                conn.clone(),
                send,
                recv,
            ));
        }
    });
}

fn reject_frame(conn: &quinn::Connection, peer: &str, e: &FrameError) {
    tracing::warn!(%peer, reason = %e, "rejected frame; closing the connection");
    conn.close(CLOSE_BAD_FRAME.into(), e.to_string().as_bytes());
}

async fn one_way_stream(
    shared: Arc<Shared>,
    peer: String,
    conn: quinn::Connection,
    mut recv: quinn::RecvStream,
) {
    loop {
        match read_frame(&mut recv, shared.config.frame_body_bytes_max).await {
            Ok(Some(frame)) => {
                let msg = InboundFrame {
                    peer: peer.clone(),
                    frame,
                };
                if shared.inbound_tx.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(ReadFrameError::Frame(e)) => {
                reject_frame(&conn, &peer, &e);
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, "one-way stream ended: {e:?}");
                return;
            }
        }
    }
}

async fn call_stream(
    shared: Arc<Shared>,
    peer: String,
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let max = shared.config.frame_body_bytes_max;
    let request = match read_frame(&mut recv, max).await {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(ReadFrameError::Frame(e)) => {
            reject_frame(&conn, &peer, &e);
            return;
        }
        Err(e) => {
            tracing::debug!(%peer, "call stream ended: {e:?}");
            return;
        }
    };
    match shared.handler.handle(peer.clone(), request).await {
        Some(reply) => {
            if let Err(e) = check_shape(&reply, max) {
                tracing::error!(%peer, "call handler produced a bad frame: {e}");
                let _ = send.reset(RESET_NO_REPLY.into());
                return;
            }
            if send.write_all(&reply).await.is_ok() {
                let _ = send.finish();
            }
        }
        None => {
            let _ = send.reset(RESET_NO_REPLY.into());
        }
    }
}
