//! Authentication tests of the transport: peers without a valid certificate (none, or from
//! another CA) deliver nothing; a dialed peer whose certificate names someone else is refused;
//! a hello that contradicts the certificate is refused.

use std::time::Duration;

use super::test_support::*;
use super::*;

fn limits() -> tls::QuicLimits {
    tls::QuicLimits {
        idle_timeout_ms: 5_000,
        keep_alive_ms: 1_000,
        calls_inflight_max: 8,
        uni_streams_max: 8,
    }
}

/// Connects with `config`, then tries everything a client could: the hello call, a one-way
/// frame. Returns the connection's close reason (it must be closed by the server).
async fn try_to_deliver(config: quinn::ClientConfig, addr: std::net::SocketAddr) -> String {
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = match client.connect_with(config, addr, "b").unwrap().await {
        Ok(conn) => conn,
        // The server's refusal may already arrive during the handshake.
        Err(e) => return e.to_string(),
    };
    // TLS 1.3: connect() succeeded before the server checked our certificate.
    let hello = wire::frame::encode(&wire::peer::PeerHello { name: "a".into() }, 512).unwrap();
    let hello_result = link::call_on(&conn, &hello, 512).await;
    assert!(hello_result.is_err(), "unauthenticated hello answered");
    if let Ok(mut uni) = conn.open_uni().await {
        let _ = uni.write_all(&test_frame(b"let me in")).await;
        let _ = uni.finish();
    }
    let reason = tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .expect("server did not close the connection");
    reason.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_another_ca_delivers_nothing() {
    let ours = cluster("auth-ours", &["a", "b"]);
    // The impostor's CA issues a certificate with a legitimate member's name.
    let theirs = cluster("auth-theirs", &["a"]);
    let (b, mut b_rx) = start(&identity(&ours, "b"));
    let impostor = identity(&theirs, "a");

    // A raw client that trusts our CA (so it would accept b) but presents the other CA's cert.
    let mixed = Identity {
        ca: identity(&ours, "b").ca,
        ..impostor.clone()
    };
    let reason = try_to_deliver(
        tls::client_config(&mixed, &limits()).unwrap(),
        b.local_addr(),
    )
    .await;
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");

    // A whole transport from the other CA.
    let (t, _rx) = start(&impostor);
    t.set_peer_addr("b", b.local_addr()).unwrap();
    t.send("b", test_frame(b"x")).unwrap();
    assert_eq!(
        t.call("b", test_frame(b"y"), Duration::from_millis(500))
            .await,
        Err(CallError::Timeout)
    );
    assert!(
        recv_within(&mut b_rx, 1).await.is_none(),
        "impostor delivered a frame"
    );
    assert!(b.connected_peers().is_empty());
    t.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_without_certificate_delivers_nothing() {
    let dir = cluster("auth-none", &["b"]);
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    let config = tls::anonymous_client_config(&identity(&dir, "b").ca);
    let reason = try_to_deliver(config, b.local_addr()).await;
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
    assert!(recv_within(&mut b_rx, 1).await.is_none());
    assert!(b.connected_peers().is_empty());
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialed_peer_with_another_name_is_refused() {
    let dir = cluster("auth-name", &["a", "b", "c"]);
    let (a, _a_rx) = start(&identity(&dir, "a"));
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    // The address book says c lives where b does.
    a.set_peer_addr("c", b.local_addr()).unwrap();
    let err = link::dial(&a.shared, "c", b.local_addr())
        .await
        .err()
        .expect("dial to the wrong host succeeded");
    assert!(err.contains("not valid for name"), "{err}");
    a.send("c", test_frame(b"for c")).unwrap();
    assert_eq!(
        a.call("c", test_frame(b"for c"), Duration::from_millis(500))
            .await,
        Err(CallError::Timeout)
    );
    assert!(
        recv_within(&mut b_rx, 1).await.is_none(),
        "frame for c reached b"
    );

    // A certificate for d that also lists c as a SAN passes TLS for "c", but its identity
    // (the common name) is d: still refused.
    certs::issue(
        dir.path(),
        "d",
        &["c".to_owned(), "127.0.0.1".to_owned()],
        false,
    )
    .unwrap();
    let (d, mut d_rx) = start(&identity(&dir, "d"));
    let err = link::dial(&a.shared, "c", d.local_addr())
        .await
        .err()
        .expect("dial to a host that is only an alias succeeded");
    assert!(
        err.contains("certificate names \"d\", expected \"c\""),
        "{err}"
    );
    assert!(recv_within(&mut d_rx, 1).await.is_none());
    a.shutdown().await;
    b.shutdown().await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_contradicting_the_certificate_is_refused() {
    let dir = cluster("auth-hello", &["b", "x"]);
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    // A valid certificate for x whose hello claims to be a.
    let reason = try_to_deliver(
        tls::client_config(&identity(&dir, "x"), &limits()).unwrap(),
        b.local_addr(),
    )
    .await;
    assert!(reason.contains("certificate says"), "{reason}");
    assert!(recv_within(&mut b_rx, 1).await.is_none());
    b.shutdown().await;
}

/// 0-RTT is off: a client that asks for it (and holds a session ticket from an earlier
/// connection) is not given it; our own dialer never asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_rtt_is_refused() {
    let dir = cluster("auth-0rtt", &["a", "b"]);
    let (b, _b_rx) = start(&identity(&dir, "b"));
    let a = identity(&dir, "a");
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    for config in [
        tls::early_data_client_config(&a, &limits()),
        tls::client_config(&a, &limits()).unwrap(),
    ] {
        // A full handshake first, so that the client holds a resumption ticket.
        let conn = client
            .connect_with(config.clone(), b.local_addr(), "b")
            .unwrap()
            .await
            .unwrap();
        let hello = wire::frame::encode(&wire::peer::PeerHello { name: "a".into() }, 512).unwrap();
        link::call_on(&conn, &hello, 512).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.close(0u32.into(), b"done");
        let connecting = client.connect_with(config, b.local_addr(), "b").unwrap();
        match connecting.into_0rtt() {
            Err(connecting) => {
                connecting.await.unwrap();
            }
            Ok((_conn, accepted)) => {
                assert!(!accepted.await, "server accepted 0-RTT data");
            }
        }
    }
    b.shutdown().await;
}
