//! Issue 4, "Shows it" 5: hostile peers and clients.
//! - A node whose certificate comes from another CA cannot join: the control plane rejects
//!   its connections (logged) and it never appears among the registered nodes.
//! - A request signed with a wrong secret gets `InvalidSignatureException`; an unsigned one
//!   `MissingAuthenticationTokenException`.
//! - Garbage bodies, bad JSON, non-object JSON, unknown operations, a declared 20 MB body, an
//!   undeclared (chunked) 17 MB body and bytes that are not HTTP get DynamoDB's errors (or a
//!   closed connection), and the node stays up and keeps serving.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use cairn_cluster_tests::dynamo::{
    create_table_ready, describe_error, error_type, get, put, raw_request,
};
use cairn_cluster_tests::http;
use cairn_cluster_tests::{Cluster, ClusterSpec};

fn rejections(cluster: &Cluster) -> usize {
    (0..cluster.control_count())
        .map(|i| {
            cluster
                .control_log(i)
                .matches("rejected connection")
                .count()
        })
        .sum()
}

async fn still_serving(cluster: &mut Cluster, what: &str) {
    assert!(cluster.node_running(0), "node0 died after {what}");
    let c = cluster.client(0);
    put(&c, "hostile", "alive", what)
        .await
        .unwrap_or_else(|e| panic!("node0 stopped serving after {what}: {e}"));
    assert_eq!(
        get(&c, "hostile", "alive", true).await.unwrap().as_deref(),
        Some(what)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input() {
    let mut cluster = Cluster::start(ClusterSpec::default()).await;
    create_table_ready(&cluster, "hostile").await;

    // A node with a certificate from another CA.
    let before = rejections(&cluster);
    let rogue = cluster.start_foreign_node("rogue");
    let t = Instant::now();
    while rejections(&cluster) == before {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the control plane logged no rejected connection within 10 s of the foreign node's \
             start; its log:\n{}",
            cluster.extra_proc(rogue).log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rejected_after = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: Vec<String> = cluster
        .registered_nodes()
        .await
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(
        !names.iter().any(|n| n == "rogue"),
        "the foreign node registered: {names:?}"
    );
    assert_eq!(names.len(), cluster.node_count(), "{names:?}");
    println!(
        "hostile_input: foreign-CA node rejected by the control plane after {} ms; registered: \
         {names:?}",
        rejected_after.as_millis()
    );
    cluster.extra_proc(rogue).kill9();
    still_serving(&mut cluster, "a foreign node").await;

    // Signatures.
    let wrong = Client::from_conf(
        cluster
            .sdk_config_with_secret(0, "not-the-secret")
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build(),
    );
    let e = wrong
        .list_tables()
        .send()
        .await
        .expect_err("a wrong secret was accepted");
    let text = describe_error(&e);
    assert!(text.starts_with("InvalidSignatureException"), "{text}");
    let addr = cluster.api_addr(0);
    let r = raw_request(&cluster, addr, "ListTables", b"{}", false)
        .await
        .unwrap();
    assert_eq!(
        (r.status, error_type(&r).as_deref()),
        (400, Some("MissingAuthenticationTokenException")),
        "{}",
        r.text()
    );

    // Bodies that are not what they should be, correctly signed.
    let cases: [(&str, &str, &[u8], &str); 5] = [
        (
            "binary garbage",
            "PutItem",
            &[0xff, 0x00, 0xfe, 0x13, 0x37, 0x80, 0x81],
            "SerializationException",
        ),
        (
            "truncated JSON",
            "PutItem",
            br#"{"TableName": "hostile", "Item": {"pk": {"S""#,
            "SerializationException",
        ),
        (
            "JSON that is not an object",
            "GetItem",
            b"[1, 2, 3]",
            "SerializationException",
        ),
        (
            "a wrongly typed parameter",
            "GetItem",
            br#"{"TableName": 7, "Key": {}}"#,
            "SerializationException",
        ),
        (
            "an unknown operation",
            "Frobnicate",
            b"{}",
            "UnknownOperationException",
        ),
    ];
    for (what, op, body, expected) in cases {
        let r = raw_request(&cluster, addr, op, body, true)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = error_type(&r);
        println!("hostile_input: {what} -> HTTP {} {got:?}", r.status);
        assert_eq!(
            (r.status, got.as_deref()),
            (400, Some(expected)),
            "{what}: {}",
            r.text()
        );
        assert!(
            r.header("x-amzn-requestid").is_some(),
            "{what}: no request id"
        );
        assert!(r.header("x-amz-crc32").is_some(), "{what}: no crc32");
    }
    still_serving(&mut cluster, "bad bodies").await;

    // A declared 20 MB body: refused from the headers (only 1 MB is sent).
    let mut req = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amz-target: DynamoDB_20120810.PutItem\r\ncontent-length: {}\r\n\r\n",
        20 * 1024 * 1024
    )
    .into_bytes();
    req.extend(std::iter::repeat_n(b'{', 1024 * 1024));
    let raw = http::exchange(addr, &req, Duration::from_secs(10))
        .await
        .unwrap();
    let r = http::parse(addr, &raw).unwrap();
    println!(
        "hostile_input: declared 20 MB body -> HTTP {} {:?}",
        r.status,
        error_type(&r)
    );
    assert_eq!(r.status, 413, "{}", r.text());
    still_serving(&mut cluster, "a declared 20 MB body").await;

    // An undeclared (chunked) 17 MB body: refused once it passes 16 MB. The server may close
    // while we still send, so the answer can be lost; when it arrives it must be a 413.
    let mut req = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amz-target: DynamoDB_20120810.PutItem\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..17 {
        req.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend(&chunk);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    match http::exchange(addr, &req, Duration::from_secs(20)).await {
        Ok(raw) if !raw.is_empty() => {
            let r = http::parse(addr, &raw).unwrap();
            println!("hostile_input: chunked 17 MB body -> HTTP {}", r.status);
            assert_eq!(r.status, 413, "{}", r.text());
        }
        other => println!("hostile_input: chunked 17 MB body -> connection closed ({other:?})"),
    }
    still_serving(&mut cluster, "a chunked 17 MB body").await;

    // Not HTTP at all.
    let raw = http::exchange(
        addr,
        b"\x16\x03\x01\x00\xa5hello\r\n\r\n\x00\x00",
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_default();
    println!(
        "hostile_input: non-HTTP bytes -> {:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(40)])
    );
    still_serving(&mut cluster, "non-HTTP bytes").await;
}
