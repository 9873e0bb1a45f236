//! TLS and QUIC settings for the transport (`transport/mod.rs`): mutual TLS 1.3 with the
//! cluster CA (`transport/certs.rs`) as the only root, on quinn.
//!
//! Invariants:
//! - The crypto provider is aws-lc-rs, passed explicitly to every rustls builder, so the
//!   process-wide default provider (and its "two providers" panic, crates-verified §1.2) is
//!   never consulted.
//! - Server side: a client must present a certificate that chains to the cluster CA and has
//!   the ClientAuth usage, or the handshake fails and quinn never yields the connection;
//!   the peer's name is then read from its certificate ([`peer_name`]).
//! - Client side: the server's certificate must chain to the CA, have ServerAuth and be valid
//!   for the name we dialed; [`peer_name`] must also return exactly that name.
//! - 0-RTT is off on both sides (`max_early_data_size = 0`, `enable_early_data = false`):
//!   replayable early data has no place between replicas.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;

use super::certs::{Identity, cert_host_name};

/// The ALPN protocol id of the transport.
pub const ALPN: &[u8] = b"cairn/1";

/// Why TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("quic crypto: {0}")]
    Quic(String),
}

/// QUIC transport parameters shared by both directions.
#[derive(Clone, Debug)]
pub struct QuicLimits {
    pub idle_timeout_ms: u64,
    pub keep_alive_ms: u64,
    /// Concurrent incoming calls (bidirectional streams) per connection.
    pub calls_inflight_max: u32,
    /// Concurrent one-way streams per connection (one in steady state; more only while a
    /// connection switch drains the old one).
    pub uni_streams_max: u32,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    Ok(Arc::new(roots))
}

fn transport_config(limits: &QuicLimits) -> Result<Arc<quinn::TransportConfig>, TlsError> {
    let mut t = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(Duration::from_millis(limits.idle_timeout_ms))
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    t.max_idle_timeout(Some(idle));
    t.keep_alive_interval(Some(Duration::from_millis(limits.keep_alive_ms)));
    t.max_concurrent_bidi_streams(limits.calls_inflight_max.into());
    t.max_concurrent_uni_streams(limits.uni_streams_max.into());
    t.datagram_receive_buffer_size(None);
    Ok(Arc::new(t))
}

/// The server side: requires a client certificate from the cluster CA.
pub fn server_config(id: &Identity, limits: &QuicLimits) -> Result<quinn::ServerConfig, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(roots(&id.ca)?, provider.clone()).build()?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport_config(limits)?);
    Ok(cfg)
}

/// The client side: presents our certificate, trusts only the cluster CA.
pub fn client_config(id: &Identity, limits: &QuicLimits) -> Result<quinn::ClientConfig, TlsError> {
    client_config_early(id, limits, false)
}

/// `early_data` is true only in the test that shows servers refuse 0-RTT.
fn client_config_early(
    id: &Identity,
    limits: &QuicLimits,
    early_data: bool,
) -> Result<quinn::ClientConfig, TlsError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(&id.ca)?)
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = early_data;
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport_config(limits)?);
    Ok(cfg)
}

/// A client that would send 0-RTT data if the server allowed it (tests only).
#[cfg(test)]
pub fn early_data_client_config(id: &Identity, limits: &QuicLimits) -> quinn::ClientConfig {
    client_config_early(id, limits, true).expect("client config")
}

/// A client configuration without a certificate (tests: such a client must be refused).
#[cfg(test)]
pub fn anonymous_client_config(ca: &CertificateDer<'static>) -> quinn::ClientConfig {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots(ca).expect("root"))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).expect("quic crypto");
    quinn::ClientConfig::new(Arc::new(crypto))
}

/// The authenticated host name of the other end of an established connection.
pub fn peer_name(conn: &quinn::Connection) -> Result<String, String> {
    let identity = conn
        .peer_identity()
        .ok_or_else(|| "no peer certificate".to_owned())?;
    let chain = identity
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| "peer identity is not a certificate chain".to_owned())?;
    let leaf = chain
        .first()
        .ok_or_else(|| "empty certificate chain".to_owned())?;
    cert_host_name(leaf).map_err(|e| e.to_string())
}
