//! The one load generator of `scripts/bench cluster`, the same for Cairn and etcd: `n` closed-
//! loop workers (each sends its next request when the previous one answered), worker `w`
//! talking to endpoint `w % endpoints`, keys drawn uniformly from `0..keys` with a seeded
//! [`Rng`], 1 KB values. A round runs for `warmup + secs`; only operations that complete in
//! the last `secs` are counted (throughput = those / `secs`, latency from the same ones).
//!
//! Cairn: `PutItem {pk: S "k<key>", v: S <1000 bytes>}` and `GetItem` with `ConsistentRead`,
//! one attempt (no hidden retries: failures count as errors), either through the lean client
//! (`CairnHttp`: a keep-alive HTTP/1.1 connection per worker, every request SigV4-signed,
//! [`cairn_cluster_tests::keepalive`]; the default) or the AWS Rust SDK (`Cairn`).
//! etcd: `put("k<key>", <1000 bytes>)` and a linearizable `get` (etcd-client's default).
//! A get that finds nothing is an error (every key is loaded before the get rounds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use cairn_cluster_tests::dynamo::describe_error;
use cairn_cluster_tests::hist::Histogram;
use cairn_cluster_tests::keepalive::DynamoConn;
use storage_node::rng::Rng;

/// Bytes of the value attribute (plus the key and names: about 1 KB per item).
pub const VALUE_BYTES: usize = 1000;
/// Error messages kept per round.
const ERRORS_KEPT_MAX: usize = 3;

/// What a round does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
        }
    }
}

/// One endpoint of a system under test.
#[derive(Clone)]
pub enum Conn {
    Cairn {
        client: Client,
        table: Arc<str>,
    },
    /// The lean client: the same requests, hand-encoded JSON, one keep-alive connection per
    /// worker (a clone opens its own).
    CairnHttp {
        conn: Box<DynamoConn>,
        table: Arc<str>,
    },
    /// Boxed: a `KvClient` is about 400 bytes, the SDK client a pointer.
    Etcd(Box<etcd_client::KvClient>),
}

/// The item key of `key`.
pub fn key_name(key: u64) -> String {
    format!("k{key:08}")
}

/// The value written everywhere (content does not matter to either system).
pub fn value() -> Arc<str> {
    Arc::from("v".repeat(VALUE_BYTES))
}

impl Conn {
    /// Performs one operation on `key`.
    pub async fn call(&mut self, op: Op, key: u64, value: &Arc<str>) -> Result<(), String> {
        let k = key_name(key);
        match (self, op) {
            (Conn::Cairn { client, table }, Op::Put) => client
                .put_item()
                .table_name(table.as_ref())
                .item("pk", AttributeValue::S(k))
                .item("v", AttributeValue::S(value.to_string()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| describe_error(&e)),
            (Conn::Cairn { client, table }, Op::Get) => {
                let out = client
                    .get_item()
                    .table_name(table.as_ref())
                    .key("pk", AttributeValue::S(k.clone()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| describe_error(&e))?;
                match out.item {
                    Some(item) if item.contains_key("v") => Ok(()),
                    _ => Err(format!("GetItem {k}: no item")),
                }
            }
            (Conn::CairnHttp { conn, table }, Op::Put) => {
                let body = format!(
                    r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"{k}"}},"v":{{"S":"{value}"}}}}}}"#
                );
                let resp = conn
                    .call("PutItem", body.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status == 200 {
                    Ok(())
                } else {
                    Err(format!("PutItem {k}: {} {}", resp.status, resp.text()))
                }
            }
            (Conn::CairnHttp { conn, table }, Op::Get) => {
                let body = format!(
                    r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"{k}"}}}},"ConsistentRead":true}}"#
                );
                let resp = conn
                    .call("GetItem", body.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status != 200 {
                    return Err(format!("GetItem {k}: {} {}", resp.status, resp.text()));
                }
                // The item must come back with its value (not just `{}`).
                let v: serde_json::Value = serde_json::from_slice(&resp.body)
                    .map_err(|e| format!("GetItem {k}: bad JSON: {e}"))?;
                match v["Item"]["v"]["S"].as_str() {
                    Some(s) if s.len() == value.len() => Ok(()),
                    _ => Err(format!("GetItem {k}: no item")),
                }
            }
            (Conn::Etcd(kv), Op::Put) => kv
                .put(k, value.as_bytes().to_vec(), None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (Conn::Etcd(kv), Op::Get) => {
                let r = kv.get(k.clone(), None).await.map_err(|e| e.to_string())?;
                if r.kvs().is_empty() {
                    Err(format!("get {k}: no value"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// What one round measured.
#[derive(Clone, Debug, Default)]
pub struct RoundResult {
    /// Successful operations completed inside the measured window.
    pub ok: u64,
    /// Failed operations completed inside the measured window.
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Latency of the successful ones.
    pub hist: Histogram,
    /// The measured window.
    pub window: Duration,
    /// Every operation completed during the whole round, warm-up included (to divide the
    /// servers' counters and CPU time, which cover the whole round, by).
    pub total_ops: u64,
}

impl RoundResult {
    pub fn ops_per_s(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    fn merge(&mut self, other: RoundResult) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.total_ops += other.total_ops;
        for e in other.first_errors {
            if self.first_errors.len() < ERRORS_KEPT_MAX {
                self.first_errors.push(e);
            }
        }
        self.hist.merge(&other.hist);
    }
}

/// Runs `workers` closed-loop workers over `conns` (worker `w` uses `conns[w % len]`) for
/// `warmup + secs`; see the module doc.
pub async fn round(
    conns: &[Conn],
    workers: usize,
    op: Op,
    keys: u64,
    warmup: Duration,
    secs: Duration,
    seed: u64,
) -> RoundResult {
    let value = value();
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + secs;
    let mut seeds = Rng::new(seed);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let mut conn = conns[w % conns.len()].clone();
            let value = value.clone();
            let mut rng = seeds.fork();
            tokio::spawn(async move {
                let mut r = RoundResult::default();
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let res = conn.call(op, rng.below(keys), &value).await;
                    let t1 = Instant::now();
                    r.total_ops += 1;
                    if t1 < measure_from || t1 > end {
                        continue;
                    }
                    match res {
                        Ok(()) => {
                            r.ok += 1;
                            r.hist.record(t1 - t0);
                        }
                        Err(e) => {
                            r.errors += 1;
                            if r.first_errors.len() < ERRORS_KEPT_MAX {
                                r.first_errors.push(e);
                            }
                        }
                    }
                }
                r
            })
        })
        .collect();
    let mut total = RoundResult {
        window: secs,
        ..RoundResult::default()
    };
    for t in tasks {
        total.merge(t.await.expect("a load worker panicked"));
    }
    total
}

/// Writes every key in `0..keys` once, `workers` at a time; returns the failures.
pub async fn preload(conns: &[Conn], workers: usize, keys: u64) -> u64 {
    let value = value();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let mut conn = conns[w % conns.len()].clone();
            let (value, next) = (value.clone(), next.clone());
            tokio::spawn(async move {
                let mut failed = 0;
                loop {
                    let key = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if key >= keys {
                        return failed;
                    }
                    // A few attempts: a load failure would turn into get errors later.
                    let mut ok = false;
                    for _ in 0..5 {
                        if conn.call(Op::Put, key, &value).await.is_ok() {
                            ok = true;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    failed += u64::from(!ok);
                }
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        failed += t.await.expect("a preload worker panicked");
    }
    failed
}
