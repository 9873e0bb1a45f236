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

/// The direct signer (`auth/fast.rs`) computes exactly what `aws-sigv4` computes whenever it
/// answers, and answers for the plain requests SDKs send; checked over random header sets,
/// values (including ones SigV4 would trim or that are not plain), bodies, regions and times.
#[test]
fn fast_signatures_agree_with_aws_sigv4() {
    use crate::rng::{Rng, for_each_seed};
    const NAMES: [&str; 6] = [
        "host",
        "content-type",
        "x-amz-target",
        "content-length",
        "x-amz-user-agent",
        "amz-sdk-request",
    ];
    let cache = fast::KeyCache::default();
    let (mut fast_used, mut total) = (0u32, 0u32);
    for_each_seed("fast_signatures_agree_with_aws_sigv4", 300, |seed| {
        let mut rng = Rng::new(seed);
        let value = |rng: &mut Rng| -> String {
            let len = 1 + rng.below(24) as usize;
            // Mostly plain values; a quarter with spaces SigV4 may trim or collapse.
            let spaced = rng.below(4) == 0;
            let pool: &[u8] = if spaced {
                b"abcXYZ019 ;=/.:-_"
            } else {
                b"abcXYZ019;=/.:-_"
            };
            let mut v: String = (0..len)
                .map(|_| pool[rng.below(pool.len() as u64) as usize] as char)
                .collect();
            if spaced && rng.below(2) == 0 {
                v = format!(" {v}");
            }
            v
        };
        let mut signed_names: Vec<&str> = vec!["host", "x-amz-date"];
        let mut headers = HeaderMap::new();
        for &n in &NAMES {
            if n != "host" && rng.below(2) == 0 {
                continue;
            }
            for _ in 0..1 + rng.below(2) * rng.below(2) {
                let v = value(&mut rng);
                if let Ok(hv) = HeaderValue::from_str(&v) {
                    headers.append(HeaderName::from_static(n), hv);
                }
            }
            if n != "host" && headers.contains_key(n) {
                signed_names.push(n);
            }
        }
        if !headers.contains_key("host") {
            headers.insert("host", HeaderValue::from_static("h"));
        }
        signed_names.sort();
        let time = now() + Duration::from_secs(rng.below(1_000_000));
        let region = ["us-east-1", "eu-west-3", "local"][rng.below(3) as usize];
        let body: Vec<u8> = (0..rng.below(300)).map(|_| rng.below(256) as u8).collect();
        let uri = if rng.below(6) == 0 { "/x?a=b" } else { "/" };
        let auth = ParsedAuth {
            access_key: AK,
            region,
            signed_headers: signed_names.clone(),
            signature: "",
            time,
        };
        let slow = resign("POST", uri, &headers, &body, &auth, SK);
        let quick = fast::signature(
            &cache,
            "POST",
            uri,
            &headers,
            &body,
            &signed_names,
            AK,
            SK,
            region,
            time,
        );
        total += 1;
        if let Some(q) = quick {
            fast_used += 1;
            assert_eq!(
                Some(q),
                slow,
                "seed {seed}: signers disagree on {headers:?}"
            );
        }
    });
    // About half the random requests are plain; the fast path must actually be exercised.
    assert!(
        fast_used * 3 > total,
        "fast path used for {fast_used} of {total}"
    );
}
