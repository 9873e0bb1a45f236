//! The node's admin endpoint as the tests read it: `GET /metrics` (open),
//! `GET /debug/groups` and `GET /debug/digest?group=N` (both need the admin token as
//! `Authorization: Bearer <token>`).
//!
//! The JSON shapes are the node's (`storage-node/src/bin/cairn-node.rs` and its admin module);
//! they are declared again here, not imported, so the tests pin the wire format a user sees.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::http::{self, HttpError};

/// Deadline of one admin call.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(3);

/// One replica hosted by a node, as `/debug/groups` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct GroupStatus {
    pub group: u64,
    pub table: u32,
    pub member: u64,
    /// `Full`, `Log` or `Learner`.
    pub role: String,
    pub is_leader: bool,
    pub ballot: u64,
    pub commit: u64,
    pub applied: u64,
    pub range_start: u64,
    pub range_end: Option<u64>,
}

/// `/debug/digest?group=N`: the blake3 of the group's range at its applied index.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct GroupDigest {
    pub group: u64,
    pub applied: u64,
    pub items: u64,
    /// Hex.
    pub digest: String,
}

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("GET {path} answered {status}: {body}")]
    Status {
        path: String,
        status: u16,
        body: String,
    },
    #[error("GET {path}: bad JSON ({error}): {body}")]
    Json {
        path: String,
        error: serde_json::Error,
        body: String,
    },
}

/// `GET path` with the token; the body parsed as `T`.
pub async fn get_json<T: for<'de> Deserialize<'de>>(
    addr: SocketAddr,
    path: &str,
    token: &str,
) -> Result<T, AdminError> {
    let resp = http::get(addr, path, Some(token), ADMIN_TIMEOUT).await?;
    if resp.status != 200 {
        return Err(AdminError::Status {
            path: path.to_owned(),
            status: resp.status,
            body: resp.text(),
        });
    }
    serde_json::from_slice(&resp.body).map_err(|error| AdminError::Json {
        path: path.to_owned(),
        error,
        body: resp.text(),
    })
}

/// `/debug/groups` of the node whose admin listener is `addr`.
pub async fn debug_groups(addr: SocketAddr, token: &str) -> Result<Vec<GroupStatus>, AdminError> {
    get_json(addr, "/debug/groups", token).await
}

/// `/debug/digest?group=N`.
pub async fn digest(addr: SocketAddr, token: &str, group: u64) -> Result<GroupDigest, AdminError> {
    get_json(addr, &format!("/debug/digest?group={group}"), token).await
}

/// `/metrics` as text (open, no token).
pub async fn metrics(addr: SocketAddr) -> Result<String, AdminError> {
    let resp = http::get(addr, "/metrics", None, ADMIN_TIMEOUT).await?;
    if resp.status != 200 {
        return Err(AdminError::Status {
            path: "/metrics".to_owned(),
            status: resp.status,
            body: resp.text(),
        });
    }
    Ok(resp.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shapes_parse() {
        let groups: Vec<GroupStatus> = serde_json::from_str(
            r#"[{"group": 7, "table": 2, "member": 21, "role": "Full", "is_leader": true,
                 "ballot": 4294967297, "commit": 10, "applied": 9, "range_start": 0,
                 "range_end": null},
                {"group": 8, "table": 2, "member": 24, "role": "Full", "is_leader": false,
                 "ballot": 3, "commit": 1, "applied": 1, "range_start": 9223372036854775808,
                 "range_end": 18446744073709551615}]"#,
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups[0].is_leader && groups[0].range_end.is_none());
        assert_eq!(groups[1].range_end, Some(u64::MAX));
        let d: GroupDigest =
            serde_json::from_str(r#"{"group": 7, "applied": 9, "items": 300, "digest": "ab01"}"#)
                .unwrap();
        assert_eq!((d.group, d.items, d.digest.as_str()), (7, 300, "ab01"));
    }
}
