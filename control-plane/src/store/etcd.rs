//! [`MetaStore`] on a real etcd (v3 API through `etcd-client` 0.21; tested against etcd 3.4).
//!
//! Fail fast: every call runs under [`EtcdConfig::request_timeout_ms`] (and the gRPC
//! connection under `connect_timeout_ms`), so a dead etcd turns into
//! [`StoreError::Unavailable`] ("etcd unavailable (op): …") within that time instead of a hang.
//! Connecting is lazy: [`EtcdStore::connect`] succeeds without a running etcd, and the channel
//! reconnects by itself when etcd comes back.
//!
//! A watch runs in a spawned pump task that forwards etcd's watch responses into a bounded
//! channel ([`super::WATCH_BUFFER_MSGS_MAX`]) and ends after the first compaction or error;
//! dropping the receiver cancels it.
//!
//! No TLS yet (etcd on loopback in dev clusters); the `tls-aws-lc` feature is the path to it.

use std::time::Duration;

use etcd_client::{
    Client, Compare as EtcdCompare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions,
    Txn as EtcdTxn, TxnOp as EtcdTxnOp, WatchOptions,
};
use tokio::sync::mpsc;

use super::{
    Compare, KeyValue, LeaseId, MetaStore, Range, Revision, StoreError, Txn, TxnOp, TxnOutcome,
    WATCH_BUFFER_MSGS_MAX, Watch, WatchEvent, WatchMsg,
};

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// `http://host:port` (or `host:port`) of each member.
    pub endpoints: Vec<String>,
    /// Deadline of every call, connection included.
    pub request_timeout_ms: u64,
    /// Deadline of establishing a connection.
    pub connect_timeout_ms: u64,
}

impl EtcdConfig {
    pub fn new(endpoints: Vec<String>) -> EtcdConfig {
        EtcdConfig {
            endpoints,
            request_timeout_ms: 2_000,
            connect_timeout_ms: 1_000,
        }
    }
}

/// The etcd-backed store. Cheap to clone (one shared gRPC channel).
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EtcdStore {
    /// Builds the client; does not wait for etcd to be up.
    pub async fn connect(config: &EtcdConfig) -> Result<EtcdStore, StoreError> {
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let options = ConnectOptions::new()
            .with_timeout(timeout)
            .with_connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
            .with_keep_alive_while_idle(true);
        let client = tokio::time::timeout(
            timeout,
            Client::connect(config.endpoints.clone(), Some(options)),
        )
        .await
        .map_err(|_| unavailable_timeout("connect", timeout))?
        .map_err(|e| classify("connect", e))?;
        Ok(EtcdStore { client, timeout })
    }

    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(|e| classify(op, e)),
            Err(_) => Err(unavailable_timeout(op, self.timeout)),
        }
    }
}

fn unavailable_timeout(op: &'static str, after: Duration) -> StoreError {
    StoreError::Unavailable {
        op,
        detail: format!("no answer within {} ms", after.as_millis()),
    }
}

/// Maps an etcd-client error onto [`StoreError`].
fn classify(op: &'static str, e: etcd_client::Error) -> StoreError {
    use etcd_client::Error as E;
    let detail = e.to_string();
    match &e {
        E::TransportError(_) | E::IoError(_) | E::EndpointError(_) => {
            StoreError::Unavailable { op, detail }
        }
        E::LeaseKeepAliveError(m) if m.contains("lease not found") => {
            StoreError::LeaseExpired(LeaseId(0))
        }
        E::GRpcStatus(status) => {
            let code = format!("{:?}", status.code());
            // The innermost cause says most ("Connection refused", "broken pipe", …).
            let mut cause: &dyn std::error::Error = status;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let same = std::ptr::addr_eq(cause, status as &dyn std::error::Error)
                || cause.to_string() == status.message();
            let detail = if same {
                format!("{code}: {}", status.message())
            } else {
                format!("{code}: {}: {cause}", status.message())
            };
            if status.message().contains("lease not found") {
                StoreError::LeaseExpired(LeaseId(0))
            } else if matches!(
                code.as_str(),
                "Unavailable" | "DeadlineExceeded" | "Cancelled" | "Unknown"
            ) {
                StoreError::Unavailable { op, detail }
            } else {
                StoreError::Other { op, detail }
            }
        }
        _ => StoreError::Other { op, detail },
    }
}

fn lease_of(lease: Option<LeaseId>) -> Option<PutOptions> {
    lease.map(|l| PutOptions::new().with_lease(l.0))
}

fn convert_kv(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        lease: (kv.lease() != 0).then_some(LeaseId(kv.lease())),
    }
}

fn header_revision(h: Option<&etcd_client::ResponseHeader>) -> Revision {
    h.map_or(0, |h| h.revision())
}

impl MetaStore for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let mut c = self.client.clone();
        let resp = self.call("get", c.get(key, None)).await?;
        Ok(resp.kvs().first().map(convert_kv))
    }

    async fn range(&self, prefix: &str) -> Result<Range, StoreError> {
        let mut c = self.client.clone();
        let resp = self
            .call(
                "range",
                c.get(prefix, Some(GetOptions::new().with_prefix())),
            )
            .await?;
        Ok(Range {
            kvs: resp.kvs().iter().map(convert_kv).collect(),
            revision: header_revision(resp.header()),
        })
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision, StoreError> {
        let mut c = self.client.clone();
        let resp = self.call("put", c.put(key, value, lease_of(lease))).await;
        let resp = resp.map_err(|e| match e {
            StoreError::LeaseExpired(_) => StoreError::LeaseExpired(lease.unwrap_or(LeaseId(0))),
            other => other,
        })?;
        Ok(header_revision(resp.header()))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut c = self.client.clone();
        let resp = self.call("delete", c.delete(key, None)).await?;
        Ok(resp.deleted() > 0)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        let compares: Vec<EtcdCompare> = txn
            .when
            .iter()
            .map(|c| match c {
                Compare::ModRevision(k, r) => {
                    EtcdCompare::mod_revision(k.as_str(), CompareOp::Equal, *r)
                }
                Compare::CreateRevision(k, r) => {
                    EtcdCompare::create_revision(k.as_str(), CompareOp::Equal, *r)
                }
            })
            .collect();
        let ops: Vec<EtcdTxnOp> = txn
            .then
            .into_iter()
            .map(|op| match op {
                TxnOp::Put { key, value, lease } => EtcdTxnOp::put(key, value, lease_of(lease)),
                TxnOp::Delete { key } => EtcdTxnOp::delete(key, None),
            })
            .collect();
        let mut c = self.client.clone();
        let resp = self
            .call("txn", c.txn(EtcdTxn::new().when(compares).and_then(ops)))
            .await?;
        Ok(TxnOutcome {
            succeeded: resp.succeeded(),
            revision: header_revision(resp.header()),
        })
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        let mut c = self.client.clone();
        let options = WatchOptions::new().with_prefix().with_start_revision(from);
        let mut stream = self.call("watch", c.watch(prefix, Some(options))).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER_MSGS_MAX);
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    m = stream.message() => m,
                    _ = tx.closed() => return,
                };
                let resp = match msg {
                    Ok(Some(resp)) => resp,
                    Ok(None) => {
                        let detail = "watch stream ended".to_string();
                        let _ = tx
                            .send(WatchMsg::Error(StoreError::Unavailable {
                                op: "watch",
                                detail,
                            }))
                            .await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(WatchMsg::Error(classify("watch", e))).await;
                        return;
                    }
                };
                if resp.canceled() {
                    let msg = if resp.compact_revision() > 0 {
                        WatchMsg::Compacted {
                            compact_revision: resp.compact_revision(),
                        }
                    } else {
                        WatchMsg::Error(StoreError::Other {
                            op: "watch",
                            detail: format!("watch canceled: {}", resp.cancel_reason()),
                        })
                    };
                    let _ = tx.send(msg).await;
                    return;
                }
                if resp.events().is_empty() {
                    continue;
                }
                let revision = header_revision(resp.header());
                let events = resp
                    .events()
                    .iter()
                    .filter_map(|ev| {
                        let kv = ev.kv()?;
                        Some(match ev.event_type() {
                            EventType::Put => WatchEvent::Put(convert_kv(kv)),
                            EventType::Delete => WatchEvent::Delete {
                                key: String::from_utf8_lossy(kv.key()).into_owned(),
                                revision: kv.mod_revision(),
                            },
                        })
                    })
                    .collect();
                if tx
                    .send(WatchMsg::Events { revision, events })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Ok(rx)
    }

    async fn lease_grant(&self, ttl_s: i64) -> Result<LeaseId, StoreError> {
        let mut c = self.client.clone();
        let resp = self.call("lease_grant", c.lease_grant(ttl_s, None)).await?;
        Ok(LeaseId(resp.id()))
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut c = self.client.clone();
        // `lease_keep_alive` sends one keep-alive and checks its answer (TTL 0: gone).
        match self
            .call("lease_keep_alive", c.lease_keep_alive(lease.0))
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::LeaseExpired(_)) => Err(StoreError::LeaseExpired(lease)),
            Err(e) => Err(e),
        }
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<(), StoreError> {
        let mut c = self.client.clone();
        match self.call("lease_revoke", c.lease_revoke(lease.0)).await {
            Ok(_) => Ok(()),
            Err(StoreError::LeaseExpired(_)) => Err(StoreError::LeaseExpired(lease)),
            Err(e) => Err(e),
        }
    }
}
