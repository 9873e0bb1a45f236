//! Transport tests on real QUIC over loopback: ordered one-way traffic, calls, bounded queues,
//! reconnects, simultaneous dials and corrupted frames. Authentication tests are in
//! `tests_auth.rs`.

use std::time::{Duration, Instant};

use super::test_support::*;
use super::*;

fn body_of(f: &InboundFrame) -> &[u8] {
    &f.frame.as_bytes()[wire::frame::HEADER_BYTES..]
}

/// Sends, yielding while the queue is full (the caller's side of backpressure).
async fn send_retrying(t: &Transport, peer: &str, frame: Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match t.send(peer, frame.clone()) {
            Ok(()) => return,
            Err(SendError::Full { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => panic!("send: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_one_way_frames_arrive_in_order() {
    let dir = cluster("order", &["a", "b"]);
    let (a, _a_rx) = start(&identity(&dir, "a"));
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    a.set_peer_addr("b", b.local_addr()).unwrap();
    let n = 10_000u32;
    let sender = {
        let a = a.clone();
        tokio::spawn(async move {
            for i in 0..n {
                send_retrying(&a, "b", test_frame(&i.to_le_bytes())).await;
            }
        })
    };
    for i in 0..n {
        let f = recv_within(&mut b_rx, 10).await.expect("frame");
        assert_eq!(f.peer, "a");
        assert_eq!(body_of(&f), i.to_le_bytes(), "frame {i} out of order");
    }
    sender.await.unwrap();
    assert_eq!(a.connected_peers(), vec!["b".to_owned()]);
    assert_eq!(b.connected_peers(), vec!["a".to_owned()]);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reply_time_out_and_refuse() {
    let dir = cluster("calls", &["a", "b"]);
    let (a, _a_rx) = start(&identity(&dir, "a"));
    let (b, _b_rx) = start(&identity(&dir, "b"));
    a.set_peer_addr("b", b.local_addr()).unwrap();
    let t = Duration::from_secs(5);

    let req = test_frame(b"ping");
    assert_eq!(a.call("b", req.clone(), t).await.unwrap().into_bytes(), req);
    // Many calls at once, each on its own stream.
    let calls: Vec<_> = (0..64u32)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                let f = test_frame(&i.to_le_bytes());
                assert_eq!(a.call("b", f.clone(), t).await.unwrap().into_bytes(), f);
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let started = Instant::now();
    assert_eq!(
        a.call("b", test_frame(b"slow"), Duration::from_millis(300))
            .await,
        Err(CallError::Timeout)
    );
    // The echo answers "slow" after 2 s; the deadline must cut the call off before that
    // (with room for a loaded CI machine's late timers).
    assert!(started.elapsed() < Duration::from_millis(1900));
    assert_eq!(
        a.call("b", test_frame(b"none"), t).await,
        Err(CallError::NoReply)
    );
    assert_eq!(
        a.call("nobody", test_frame(b"x"), t).await,
        Err(CallError::UnknownPeer("nobody".into()))
    );
    // The sender checks a frame's shape (a corrupted checksum is the receiver's to find:
    // `corrupted_frame_closes_the_connection_cleanly`).
    let mut bad = test_frame(b"x");
    bad.pop();
    assert!(matches!(
        a.call("b", bad, t).await,
        Err(CallError::BadFrame(FrameError::Truncated { .. }))
    ));

    // b has no address for a, but calls it over the connection a opened.
    assert_eq!(b.call("a", req.clone(), t).await.unwrap().into_bytes(), req);
    assert_eq!(b.shared.endpoint.open_connections(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_to_unreachable_peer_fills_then_refuses_without_blocking() {
    let dir = cluster("full", &["a", "b"]);
    let config = TransportConfig {
        send_queue_frames_max: 32,
        send_queue_bytes_max: 1 << 20,
        ..test_config()
    };
    let (a, _rx) = start_with(&identity(&dir, "a"), config);
    // Nothing listens there: a UDP port we hold closed-for-QUIC.
    let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_peer_addr("b", hole.local_addr().unwrap()).unwrap();
    let started = Instant::now();
    let mut accepted = 0;
    let mut fill = || loop {
        match a.send("b", test_frame(b"x")) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= 33, "queue grew past its bound");
    };
    let err = fill();
    assert!(
        matches!(err, SendError::Full { frames_max: 32, .. }),
        "{err}"
    );
    // The driver takes one frame off the queue and holds it while it dials (it may not have
    // yet): after a pause, at most that one slot has freed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = fill();
    assert!(matches!(err, SendError::Full { .. }), "{err}");
    assert_eq!(accepted, 33);
    let refusing = Instant::now();
    for _ in 0..1000 {
        assert!(matches!(
            a.send("b", test_frame(b"x")),
            Err(SendError::Full { .. })
        ));
    }
    assert!(
        refusing.elapsed() < Duration::from_millis(500),
        "send blocked"
    );
    // The echo answers "slow" after 2 s; the deadline must cut the call off before that
    // (with room for a loaded CI machine's late timers).
    assert!(started.elapsed() < Duration::from_millis(1900));

    // The byte bound bites before the frame bound.
    let (c, _rx) = start_with(
        &identity(&dir, "b"),
        TransportConfig {
            send_queue_bytes_max: 10_000,
            ..test_config()
        },
    );
    c.set_peer_addr("a", hole.local_addr().unwrap()).unwrap();
    let big = test_frame(&[7u8; 4000]);
    let mut sent = 0;
    while c.send("a", big.clone()).is_ok() {
        sent += 1;
        assert!(sent < 10, "byte bound not enforced");
    }
    assert!(sent <= 3, "{sent} frames of 4 KB in a 10 KB queue");
    // Both still dial the hole: shutdown waits (bounded) for those attempts.
    tokio::join!(a.shutdown(), c.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_peer_is_reconnected() {
    let dir = cluster("restart", &["a", "b"]);
    let (a, _a_rx) = start(&identity(&dir, "a"));
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    let b_addr = b.local_addr();
    a.set_peer_addr("b", b_addr).unwrap();
    a.send("b", test_frame(b"before")).unwrap();
    assert_eq!(
        body_of(&recv_within(&mut b_rx, 5).await.unwrap()),
        b"before"
    );

    // Dropping the last handle stops the endpoint (no explicit shutdown).
    drop(b);
    drop(b_rx);
    // Rebind the same port (the old socket may take a moment to go).
    let config = TransportConfig {
        listen: b_addr,
        ..test_config()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let (b2, mut b2_rx) = loop {
        match Transport::bind(&identity(&dir, "b"), config.clone(), Arc::new(Echo)) {
            Ok(x) => break x,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("rebind: {e}"),
        }
    };
    // Keep sending until the new process hears from us.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 0u32;
    let got = loop {
        assert!(Instant::now() < deadline, "no reconnect within 10 s");
        let _ = a.send("b", test_frame(&i.to_le_bytes()));
        i += 1;
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(50), b2_rx.recv()).await {
            break f;
        }
    };
    assert_eq!(got.peer, "a");
    a.shutdown().await;
    b2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dials_settle_on_one_connection() {
    let dir = cluster("simul", &["a", "b"]);
    let (a, mut a_rx) = start(&identity(&dir, "a"));
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    a.set_peer_addr("b", b.local_addr()).unwrap();
    b.set_peer_addr("a", a.local_addr()).unwrap();
    // Force the race: both sides dial each other at once and adopt what they dialed.
    let (ab, ba) = tokio::join!(
        link::dial(&a.shared, "b", b.local_addr()),
        link::dial(&b.shared, "a", a.local_addr())
    );
    let (ab, ba) = (ab.unwrap(), ba.unwrap());
    let a_dialed = ab.conn.stable_id();
    link::adopt(&a.shared, &link::peer_entry(&a.shared, "b").unwrap(), ab);
    link::adopt(&b.shared, &link::peer_entry(&b.shared, "a").unwrap(), ba);
    for i in 0..100u32 {
        a.send("b", test_frame(&i.to_le_bytes())).unwrap();
        b.send("a", test_frame(&i.to_le_bytes())).unwrap();
    }
    // b retires the connection it dialed after the grace period; a's ("a" < "b") stays.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.shared.endpoint.open_connections(), 1);
    assert_eq!(b.shared.endpoint.open_connections(), 1);
    let current = |t: &Transport, p: &str| {
        t.shared.peers.lock().unwrap()[p]
            .current()
            .map(|l| (l.conn.stable_id(), l.dialed_by_me))
    };
    assert_eq!(current(&a, "b"), Some((a_dialed, true)));
    assert!(matches!(current(&b, "a"), Some((_, false))));
    // Frames written before the switch arrived (the grace period let them drain).
    for i in 0..100u32 {
        assert_eq!(
            body_of(&recv_within(&mut b_rx, 5).await.unwrap()),
            i.to_le_bytes()
        );
    }
    let mut from_b: Vec<Vec<u8>> = Vec::new();
    while let Ok(f) = a_rx.try_recv() {
        from_b.push(body_of(&f).to_vec());
    }
    assert_eq!(from_b.len(), 100, "frames lost in the switch");
    for i in 100..200u32 {
        a.send("b", test_frame(&i.to_le_bytes())).unwrap();
        b.send("a", test_frame(&i.to_le_bytes())).unwrap();
    }
    for i in 100..200u32 {
        assert_eq!(
            body_of(&recv_within(&mut b_rx, 5).await.unwrap()),
            i.to_le_bytes()
        );
        assert_eq!(
            body_of(&recv_within(&mut a_rx, 5).await.unwrap()),
            i.to_le_bytes()
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// When the current link fails while the peer's own (losing) connection is still open, that
/// connection takes over without a dial (here the address book points at a hole, so a dial
/// could not succeed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_link_takes_over_without_a_dial() {
    let dir = cluster("standby", &["a", "b"]);
    let (a, _a_rx) = start(&identity(&dir, "a"));
    // b keeps the duplicate it dialed open for the whole test.
    let (b, mut b_rx) = start_with(
        &identity(&dir, "b"),
        TransportConfig {
            retire_grace_ms: 30_000,
            ..test_config()
        },
    );
    let hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_peer_addr("b", hole.local_addr().unwrap()).unwrap();
    let a_to_b = link::dial(&a.shared, "b", b.local_addr()).await.unwrap();
    let l1 = a_to_b.conn.clone();
    link::adopt(
        &a.shared,
        &link::peer_entry(&a.shared, "b").unwrap(),
        a_to_b,
    );
    let b_to_a = link::dial(&b.shared, "a", a.local_addr()).await.unwrap();
    link::adopt(
        &b.shared,
        &link::peer_entry(&b.shared, "a").unwrap(),
        b_to_a,
    );
    let current = |t: &Transport, p: &str| {
        t.shared.peers.lock().unwrap()[p]
            .current()
            .map(|l| l.conn.stable_id())
    };
    // a keeps the canonical link it dialed.
    let deadline = Instant::now() + Duration::from_secs(2);
    while a.shared.endpoint.open_connections() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(current(&a, "b"), Some(l1.stable_id()));
    l1.close(0u32.into(), b"test: current link fails");
    // (current() hides a closed link at once; the standby is promoted when the close is seen.)
    let deadline = Instant::now() + Duration::from_secs(2);
    while current(&a, "b").is_none_or(|id| id == l1.stable_id()) {
        assert!(Instant::now() < deadline, "no standby took over");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.send("b", test_frame(b"via standby")).unwrap();
    let f = recv_within(&mut b_rx, 5)
        .await
        .expect("frame via the standby");
    assert_eq!(body_of(&f), b"via standby");
    a.shutdown().await;
    b.shutdown().await;
}

/// A raw client with a valid certificate ("evil") writes a corrupted frame after a good one:
/// the good one is delivered, the bad one is not, the connection is closed with
/// `CLOSE_BAD_FRAME` and the reason, and the server keeps serving everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_frame_closes_the_connection_cleanly() {
    let dir = cluster("corrupt", &["a", "b", "evil"]);
    let (b, mut b_rx) = start(&identity(&dir, "b"));
    let evil = identity(&dir, "evil");
    let limits = tls::QuicLimits {
        idle_timeout_ms: 5_000,
        keep_alive_ms: 1_000,
        calls_inflight_max: 8,
        uni_streams_max: 8,
    };
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = client
        .connect_with(
            tls::client_config(&evil, &limits).unwrap(),
            b.local_addr(),
            "b",
        )
        .unwrap()
        .await
        .unwrap();
    let hello = wire::frame::encode(
        &wire::peer::PeerHello {
            name: "evil".into(),
        },
        512,
    )
    .unwrap();
    let reply = link::call_on(&conn, &hello, 512).await.unwrap();
    assert_eq!(wire::frame::peek_type(reply.as_bytes()), Some((2, 1)));

    let mut uni = conn.open_uni().await.unwrap();
    uni.write_all(&test_frame(b"good")).await.unwrap();
    let mut bad = test_frame(b"flipped");
    *bad.last_mut().unwrap() ^= 0x40;
    uni.write_all(&bad).await.unwrap();
    let good = recv_within(&mut b_rx, 5).await.unwrap();
    assert_eq!((good.peer.as_str(), body_of(&good)), ("evil", &b"good"[..]));
    let reason = tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap();
    match reason {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, CLOSE_BAD_FRAME.into());
            assert_eq!(&close.reason[..], b"checksum mismatch");
        }
        other => panic!("closed with {other}"),
    }
    assert!(
        recv_within(&mut b_rx, 1).await.is_none(),
        "bad frame delivered"
    );

    // An oversized header is refused from the header alone, and the server still serves.
    let conn = client
        .connect_with(
            tls::client_config(&evil, &limits).unwrap(),
            b.local_addr(),
            "b",
        )
        .unwrap()
        .await
        .unwrap();
    link::call_on(&conn, &hello, 512).await.unwrap();
    let mut uni = conn.open_uni().await.unwrap();
    let mut huge = test_frame(b"x");
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    uni.write_all(&huge).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap()
    {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, CLOSE_BAD_FRAME.into());
            assert!(String::from_utf8_lossy(&close.reason).contains("exceeds the bound"));
        }
        other => panic!("closed with {other}"),
    }
    let (a, _a_rx) = start(&identity(&dir, "a"));
    a.set_peer_addr("b", b.local_addr()).unwrap();
    a.send("b", test_frame(b"still here")).unwrap();
    assert_eq!(
        body_of(&recv_within(&mut b_rx, 5).await.unwrap()),
        b"still here"
    );
    a.shutdown().await;
    b.shutdown().await;
}
