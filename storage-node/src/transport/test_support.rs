//! Test helpers for the transport: temporary certificate directories, endpoints on loopback,
//! an echo call handler, and waiting with a deadline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use wire::frame::{self, CheckedFrame};

use super::certs::{self, Identity};
use super::{BoxFuture, CallHandler, InboundFrame, Transport, TransportConfig};

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(name: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("cairn-transport-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TestDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA directory with certificates for `hosts`.
pub(crate) fn cluster(name: &str, hosts: &[&str]) -> TestDir {
    let dir = TestDir::new(name);
    certs::init_ca(dir.path(), false).expect("init ca");
    for h in hosts {
        certs::issue(dir.path(), h, &["127.0.0.1".to_owned()], false).expect("issue");
    }
    dir
}

pub(crate) fn identity(dir: &TestDir, host: &str) -> Identity {
    certs::load_identity(dir.path(), host).expect("load identity")
}

/// Fast reconnects for tests.
pub(crate) fn test_config() -> TransportConfig {
    TransportConfig {
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 200,
        handshake_timeout_ms: 2_000,
        retire_grace_ms: 200,
        ..TransportConfig::default()
    }
}

/// Replies to a frame with the same frame; a frame whose body starts with "slow" is answered
/// after 2 s, one starting with "none" is not answered.
pub(crate) struct Echo;

impl CallHandler for Echo {
    fn handle(&self, _peer: String, frame: CheckedFrame) -> BoxFuture<Option<Vec<u8>>> {
        Box::pin(async move {
            let frame = frame.into_bytes();
            let body = &frame[frame::HEADER_BYTES..];
            if body.starts_with(b"slow") {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            if body.starts_with(b"none") {
                return None;
            }
            Some(frame)
        })
    }
}

pub(crate) fn start(id: &Identity) -> (Transport, mpsc::Receiver<InboundFrame>) {
    start_with(id, test_config())
}

pub(crate) fn start_with(
    id: &Identity,
    config: TransportConfig,
) -> (Transport, mpsc::Receiver<InboundFrame>) {
    Transport::bind(id, config, Arc::new(Echo)).expect("bind")
}

/// A test frame (type 0x00FE, an unregistered id) around `body`.
pub(crate) fn test_frame(body: &[u8]) -> Vec<u8> {
    frame::encode_raw(0x00FE, 1, body).expect("frame")
}

/// Receives one inbound frame or fails after `secs`.
pub(crate) async fn recv_within(
    rx: &mut mpsc::Receiver<InboundFrame>,
    secs: u64,
) -> Option<InboundFrame> {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .ok()
        .flatten()
}
