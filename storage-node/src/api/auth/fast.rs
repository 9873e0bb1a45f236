//! The SigV4 signature of the requests every DynamoDB client sends (`POST /`, no query, a
//! few plain headers), computed directly: canonical request and string to sign built in one
//! buffer each, and the signing key (four HMACs) cached per access key, day and region.
//! Under load, `aws-sigv4`'s general signer (header maps, URI parsing, a dozen allocations per
//! request) was about a sixth of a node's CPU.
//!
//! [`signature`] answers only when the request is in the simple shape it handles *exactly*
//! as `aws-sigv4` would: path `/` without a query, signed header names lower-case, sorted,
//! unique, and every signed value plain (visible ASCII or single inner spaces: nothing for
//! SigV4's trimming rules to change). Otherwise it returns `None` and the caller falls back
//! to `aws-sigv4` (`auth.rs`). A seeded randomized test checks both agree
//! (`auth/tests.rs`).
//!
//! Invariants: the cache holds at most [`KEY_CACHE_MAX`] keys (cleared when full); a cached
//! key is only ever used for the same (secret, day, region).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{ALGORITHM, SERVICE, format_amz_date};

/// Signing keys kept (one per access key, day and region in use).
pub const KEY_CACHE_MAX: usize = 64;

/// What a signing key is derived from: access key id, secret, `YYYYMMDD`, region.
type KeyId = (String, String, String, String);

/// [`KeyId`] → signing key.
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<KeyId, [u8; 32]>>,
}

impl KeyCache {
    fn signing_key(&self, access_key: &str, secret: &str, day: &str, region: &str) -> [u8; 32] {
        let id = (
            access_key.to_owned(),
            secret.to_owned(),
            day.to_owned(),
            region.to_owned(),
        );
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.get(&id) {
            return *k;
        }
        let k = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
        let k = hmac(&k, region.as_bytes());
        let k = hmac(&k, SERVICE.as_bytes());
        let k = hmac(&k, b"aws4_request");
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(id, k);
        k
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 * bytes.len());
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
}

/// A value SigV4's canonicalization leaves as it is.
fn plain(v: &[u8]) -> bool {
    !v.is_empty()
        && v[0] != b' '
        && v[v.len() - 1] != b' '
        && v.iter().all(|&c| (b' '..=b'~').contains(&c))
        && !v.windows(2).any(|w| w == b"  ")
}

/// What the signature of the request is, or `None` when it is not in the simple shape (see
/// the module docs). `time` is the request's `X-Amz-Date` as parsed.
#[allow(clippy::too_many_arguments)]
pub fn signature(
    cache: &KeyCache,
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
    signed_headers: &[&str],
    access_key: &str,
    secret: &str,
    region: &str,
    time: std::time::SystemTime,
) -> Option<String> {
    if uri != "/" || !signed_headers.is_sorted() || !signed_headers.contains(&"x-amz-date") {
        return None;
    }
    let amz_date = format_amz_date(time);
    let mut canonical = String::with_capacity(256 + 64 * signed_headers.len());
    canonical.push_str(method);
    canonical.push_str("\n/\n\n");
    let mut prev: Option<&str> = None;
    for &name in signed_headers {
        if prev == Some(name)
            || name.is_empty()
            || !name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return None;
        }
        prev = Some(name);
        canonical.push_str(name);
        canonical.push(':');
        if name == "x-amz-date" {
            // aws-sigv4 signs the date it was given as a time, formatted.
            canonical.push_str(&amz_date);
        } else {
            let mut values = headers.get_all(name).iter().peekable();
            values.peek()?;
            for (i, v) in values.enumerate() {
                if !plain(v.as_bytes()) {
                    return None;
                }
                if i > 0 {
                    canonical.push(',');
                }
                canonical.push_str(v.to_str().ok()?);
            }
        }
        canonical.push('\n');
    }
    canonical.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            canonical.push(';');
        }
        canonical.push_str(name);
    }
    canonical.push('\n');
    hex_into(&mut canonical, &Sha256::digest(body));

    let day = &amz_date[..8];
    let mut to_sign = String::with_capacity(160);
    to_sign.push_str(ALGORITHM);
    to_sign.push('\n');
    to_sign.push_str(&amz_date);
    to_sign.push('\n');
    let _ = writeln!(to_sign, "{day}/{region}/{SERVICE}/aws4_request");
    hex_into(&mut to_sign, &Sha256::digest(canonical.as_bytes()));

    let key = cache.signing_key(access_key, secret, day, region);
    let mut out = String::with_capacity(64);
    hex_into(&mut out, &hmac(&key, to_sign.as_bytes()));
    Some(out)
}
