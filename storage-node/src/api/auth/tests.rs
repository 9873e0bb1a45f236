//! SigV4 verification: a request signed by `aws-sigv4` as a client signs passes; every way of
//! getting it wrong gets DynamoDB's error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::api::testing::sign_headers;

const AK: &str = "AKIDCAIRNTEST";
const SK: &str = "secret/key+with=chars";
const BODY: &[u8] = br#"{"TableName":"t"}"#;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn keys() -> SigV4Keys {
    SigV4Keys::new([(AK.to_owned(), SK.to_owned())])
}

/// A request as a client sends it, signed with `ak`/`sk` at `time`.
fn signed(ak: &str, sk: &str, time: SystemTime, body: &[u8]) -> HeaderMap {
    let mut base = vec![
        ("host".to_owned(), "127.0.0.1:8000".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.0".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "DynamoDB_20120810.DescribeTable".to_owned(),
        ),
    ];
    base.extend(sign_headers(
        ak,
        sk,
        "us-east-1",
        "POST",
        "/",
        &base,
        body,
        time,
    ));
    to_map(&base)
}

fn to_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn verify(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    keys().verify("POST", "/", headers, body, now())
}

#[test]
fn a_correctly_signed_request_passes() {
    let h = signed(AK, SK, now(), BODY);
    assert_eq!(verify(&h, BODY).unwrap(), AK);
    // Within the skew window on both sides.
    let early = signed(AK, SK, now() - Duration::from_secs(14 * 60), BODY);
    assert!(verify(&early, BODY).is_ok());
    let late = signed(AK, SK, now() + Duration::from_secs(14 * 60), BODY);
    assert!(verify(&late, BODY).is_ok());
}

#[test]
fn wrong_secret_tampered_body_or_header_is_an_invalid_signature() {
    let wrong = signed(AK, "not-the-secret", now(), BODY);
    assert!(matches!(
        verify(&wrong, BODY),
        Err(ApiError::InvalidSignature(m)) if m.starts_with("The request signature we calculated")
    ));
    let h = signed(AK, SK, now(), BODY);
    assert!(matches!(
        verify(&h, br#"{"TableName":"u"}"#),
        Err(ApiError::InvalidSignature(_))
    ));
    let mut tampered = h.clone();
    tampered.insert(
        "x-amz-target",
        HeaderValue::from_static("DynamoDB_20120810.DeleteTable"),
    );
    assert!(matches!(
        verify(&tampered, BODY),
        Err(ApiError::InvalidSignature(_))
    ));
    // A signed header that is missing.
    let mut dropped = h.clone();
    dropped.remove("content-type");
    assert!(matches!(
        verify(&dropped, BODY),
        Err(ApiError::InvalidSignature(_))
    ));
}

#[test]
fn unknown_key_is_unrecognized_client() {
    let h = signed("AKIDSOMEONEELSE", SK, now(), BODY);
    assert_eq!(verify(&h, BODY), Err(ApiError::UnrecognizedClient));
}

#[test]
fn expired_and_future_dates_are_rejected() {
    let old = signed(AK, SK, now() - Duration::from_secs(16 * 60), BODY);
    match verify(&old, BODY) {
        Err(ApiError::InvalidSignature(m)) => {
            assert!(m.starts_with("Signature expired: "), "{m}");
            assert!(m.ends_with(" - 15 min.)"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let future = signed(AK, SK, now() + Duration::from_secs(16 * 60), BODY);
    assert!(matches!(
        verify(&future, BODY),
        Err(ApiError::InvalidSignature(m)) if m.starts_with("Signature not yet current")
    ));
}

#[test]
fn missing_or_malformed_authorization() {
    let mut h = signed(AK, SK, now(), BODY);
    let auth = h.remove("authorization").unwrap();
    assert_eq!(verify(&h, BODY), Err(ApiError::MissingAuthenticationToken));
    h.insert("authorization", HeaderValue::from_static("Basic abc"));
    assert_eq!(verify(&h, BODY), Err(ApiError::MissingAuthenticationToken));

    h.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 SignedHeaders=host"),
    );
    match verify(&h, BODY) {
        Err(ApiError::IncompleteSignature(m)) => {
            assert!(m.contains("requires 'Credential' parameter"), "{m}");
            assert!(m.contains("requires 'Signature' parameter"), "{m}");
            assert!(!m.contains("'SignedHeaders' parameter"), "{m}");
            assert!(m.ends_with("Authorization=AWS4-HMAC-SHA256 SignedHeaders=host"));
        }
        other => panic!("{other:?}"),
    }

    let auth = auth.to_str().unwrap().to_owned();
    let with = |a: String, h: &HeaderMap| {
        let mut h = h.clone();
        h.insert("authorization", HeaderValue::from_str(&a).unwrap());
        verify(&h, BODY)
    };
    // Host not signed.
    let no_host = auth.replace(
        "SignedHeaders=content-type;host;",
        "SignedHeaders=content-type;",
    );
    assert_ne!(no_host, auth, "{auth}");
    assert!(matches!(
        with(no_host, &h),
        Err(ApiError::InvalidSignature(m)) if m.contains("'Host' must be a 'SignedHeader'")
    ));
    // Wrong algorithm, malformed scope, wrong service.
    assert!(matches!(
        with(auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), &h),
        Err(ApiError::IncompleteSignature(m)) if m.contains("Unsupported AWS 'algorithm'")
    ));
    assert!(matches!(
        with(auth.replace("/aws4_request", ""), &h),
        Err(ApiError::IncompleteSignature(m)) if m.contains("exactly 5 slash-delimited")
    ));
    assert!(matches!(
        with(auth.replace("/dynamodb/", "/s3/"), &h),
        Err(ApiError::InvalidSignature(m)) if m.contains("scoped to correct service")
    ));
    // A bad date.
    let mut bad_date = h.clone();
    bad_date.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    bad_date.insert(
        "x-amz-date",
        HeaderValue::from_static("2026-11-21T00:00:00Z"),
    );
    assert!(matches!(
        verify(&bad_date, BODY),
        Err(ApiError::IncompleteSignature(m)) if m.starts_with("Date must be in ISO-8601")
    ));
}

#[test]
fn amz_dates_round_trip() {
    for secs in [0u64, 951_782_400, 1_795_000_000, 4_102_444_799] {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
    }
    assert_eq!(format_amz_date(UNIX_EPOCH), "19700101T000000Z");
    assert_eq!(
        parse_amz_date("20000229T120000Z"),
        Some(UNIX_EPOCH + Duration::from_secs(951_825_600))
    );
    for bad in [
        "",
        "20001301T000000Z",
        "2000010T000000ZZ",
        "20000101 000000Z",
        "+2000101T000000Z",
    ] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
}
