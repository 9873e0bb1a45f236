//! AWS Signature Version 4 verification of client requests (DESIGN §9; dynamodb-facts §2.2;
//! crates-verified §2.5).
//!
//! How: parse the `Authorization` header, check it in the order the real service does (so a
//! client gets the same error name for the same mistake), look up the secret of the access key
//! in the configured keys, then **re-sign** the request with `aws-sigv4` (the same
//! canonicalization code the AWS SDKs use) over exactly the headers the client listed in
//! `SignedHeaders`, with the client's `X-Amz-Date`, region and service, and compare the two
//! signatures in constant time.
//!
//! Invariants: nothing here panics on any header content; a request is accepted only if its
//! signature matches a configured secret and its date is within [`SigV4Keys::clock_skew_max`]
//! of our clock; the secret never appears in an error.
//!
//! Not supported (clear errors, listed in the report): presigned query-string auth, session
//! tokens (`X-Amz-Security-Token` is just another signed header; an STS key is unknown here),
//! and dates given only in a `Date` header. The region in the scope is not checked against a
//! configured region: a self-hosted endpoint accepts any.
//!
//! The common shape (`POST /`, plain signed headers: what every SDK sends) is re-signed by
//! `auth/fast.rs` (one buffer per step, signing keys cached); anything else goes through
//! `aws-sigv4`'s general signer. A randomized test checks the two agree.
//!
//! Neighbours: `server.rs` calls [`SigV4Keys::verify`] after reading the (bounded) body and
//! before parsing it.

mod fast;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SigningParams, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;

use super::error::ApiError;

/// The service name in the credential scope.
pub const SERVICE: &str = "dynamodb";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// The configured access keys (access key id → secret access key) and the clock-skew window.
#[derive(Clone)]
pub struct SigV4Keys {
    keys: HashMap<String, String>,
    cache: std::sync::Arc<fast::KeyCache>,
    /// AWS's window is 15 minutes.
    pub clock_skew_max: Duration,
}

impl std::fmt::Debug for SigV4Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("SigV4Keys")
            .field("access_keys", &self.keys.keys().collect::<Vec<_>>())
            .field("clock_skew_max", &self.clock_skew_max)
            .finish()
    }
}

/// What a request's `Authorization` header says.
struct ParsedAuth<'a> {
    access_key: &'a str,
    region: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
    time: SystemTime,
}

impl SigV4Keys {
    /// Keys from `(access key id, secret)` pairs, with AWS's 15-minute skew window.
    pub fn new(keys: impl IntoIterator<Item = (String, String)>) -> SigV4Keys {
        SigV4Keys {
            keys: keys.into_iter().collect(),
            cache: Default::default(),
            clock_skew_max: Duration::from_secs(15 * 60),
        }
    }

    /// Verifies the request's signature; returns the access key id that signed it.
    /// `uri` is the request target as received (path and query).
    pub fn verify(
        &self,
        method: &str,
        uri: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<String, ApiError> {
        let auth = self.check_header(headers, now)?;
        let Some(secret) = self.keys.get(auth.access_key) else {
            return Err(ApiError::UnrecognizedClient);
        };
        let expected = fast::signature(
            &self.cache,
            method,
            uri,
            headers,
            body,
            &auth.signed_headers,
            auth.access_key,
            secret,
            auth.region,
            auth.time,
        )
        .or_else(|| resign(method, uri, headers, body, &auth, secret))
        .ok_or_else(|| ApiError::InvalidSignature(MISMATCH.to_owned()))?;
        if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            Ok(auth.access_key.to_owned())
        } else {
            Err(ApiError::InvalidSignature(MISMATCH.to_owned()))
        }
    }

    /// Checks 1–7 of dynamodb-facts §2.2, in the service's order.
    fn check_header<'h>(
        &self,
        headers: &'h HeaderMap,
        now: SystemTime,
    ) -> Result<ParsedAuth<'h>, ApiError> {
        let Some(header) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .filter(|h| h.starts_with("AWS4-"))
        else {
            return Err(ApiError::MissingAuthenticationToken);
        };
        let (algorithm, params) = header.split_once(' ').unwrap_or((header, ""));
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in params.split(',') {
            let Some((k, v)) = part.trim().split_once('=') else {
                continue;
            };
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed_headers = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let date = headers
            .get("x-amz-date")
            .or_else(|| headers.get("date"))
            .map(|v| v.to_str().unwrap_or(""));
        let mut missing = Vec::new();
        if credential.is_none() {
            missing.push("Authorization header requires 'Credential' parameter.");
        }
        if signature.is_none() {
            missing.push("Authorization header requires 'Signature' parameter.");
        }
        if signed_headers.is_none() {
            missing.push("Authorization header requires 'SignedHeaders' parameter.");
        }
        if date.is_none() {
            missing.push(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            );
        }
        let (Some(credential), Some(signed_headers), Some(signature), Some(date)) =
            (credential, signed_headers, signature, date)
        else {
            return Err(ApiError::IncompleteSignature(format!(
                "{} Authorization={header}",
                missing.join(" ")
            )));
        };
        let Some(time) = parse_amz_date(date) else {
            return Err(ApiError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )));
        };
        if time + self.clock_skew_max < now {
            return Err(ApiError::InvalidSignature(format!(
                "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
                format_amz_date(now - self.clock_skew_max),
                format_amz_date(now)
            )));
        }
        if time > now + self.clock_skew_max {
            return Err(ApiError::InvalidSignature(format!(
                "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
                format_amz_date(now + self.clock_skew_max),
                format_amz_date(now)
            )));
        }
        let signed_headers: Vec<&str> = signed_headers.split(';').collect();
        if !signed_headers.contains(&"host") {
            return Err(ApiError::InvalidSignature(
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
            ));
        }
        if algorithm != ALGORITHM {
            return Err(ApiError::IncompleteSignature(format!(
                "Unsupported AWS 'algorithm': '{algorithm}'"
            )));
        }
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, _day, region, service, terminator] = scope[..] else {
            return Err(ApiError::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
            )));
        };
        if service != SERVICE {
            return Err(ApiError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        if terminator != "aws4_request" {
            return Err(ApiError::InvalidSignature(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            )));
        }
        Ok(ParsedAuth {
            access_key,
            region,
            signed_headers,
            signature,
            time,
        })
    }
}

/// The signature `aws-sigv4` computes for the request as the client described it; `None` if
/// a signed header is missing or not text (the signatures cannot match then).
fn resign(
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
    auth: &ParsedAuth<'_>,
    secret: &str,
) -> Option<String> {
    let mut signed: Vec<(&str, String)> = Vec::with_capacity(auth.signed_headers.len());
    for &name in &auth.signed_headers {
        if name == "x-amz-date" {
            // The signer adds it from `time`, in the same format.
            continue;
        }
        let mut values = headers.get_all(name).iter().peekable();
        values.peek()?;
        let mut joined = String::new();
        for (i, v) in values.enumerate() {
            if i > 0 {
                joined.push(',');
            }
            joined.push_str(v.to_str().ok()?);
        }
        signed.push((name, joined));
    }
    let identity = Credentials::new(auth.access_key, secret, None, None, "cairn-config").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(Vec::new());
    let v4_params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(SERVICE)
        .time(auth.time)
        .settings(settings)
        .build()
        .ok()?;
    let params: SigningParams<'_> = v4_params.into();
    let request = SignableRequest::new(
        method,
        uri,
        signed.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let (_, signature) = sign(request, &params).ok()?.into_parts();
    Some(signature)
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `YYYYMMDDTHHMMSSZ` → time, or `None` if malformed.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// `time` as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests;
