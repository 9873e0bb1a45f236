//! DynamoDB helpers the cluster tests share: a simple table (`pk` string hash key), waiting
//! for it to serve, string items, SDK error inspection, and signed raw requests (for bodies
//! the SDK would never send).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use storage_node::api::testing::sign_headers;

use crate::cluster::{AccessKey, Cluster, REGION};
use crate::http::{self, HttpError, Response};

/// Sends `CreateTable` for a table with one string hash key `pk`, on demand.
pub async fn create_table(
    client: &Client,
    table: &str,
) -> Result<(), SdkError<aws_sdk_dynamodb::operation::create_table::CreateTableError>> {
    client
        .create_table()
        .table_name(table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("complete key schema"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete attribute definition"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map(|_| ())
}

/// Creates `table` through node 0 and waits until it serves: ACTIVE in `DescribeTable` and
/// every partition has a leader. Returns the partitions' group ids.
pub async fn create_table_ready(cluster: &Cluster, table: &str) -> Vec<u64> {
    let client = cluster.client(0);
    if let Err(e) = create_table(&client, table).await {
        panic!("CreateTable {table}: {}", describe_error(&e));
    }
    wait_table_ready(cluster, table, Duration::from_secs(30)).await
}

/// Waits until `table` is ACTIVE and every partition has a leader; returns the group ids.
pub async fn wait_table_ready(cluster: &Cluster, table: &str, within: Duration) -> Vec<u64> {
    let started = Instant::now();
    let client = cluster.client(0);
    loop {
        let status = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .ok()
            .and_then(|d| d.table)
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            break;
        }
        assert!(
            started.elapsed() < within,
            "table {table} not ACTIVE after {within:?} (status {status:?}):\n{}",
            cluster.tails(20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let groups: Vec<u64> = cluster
        .table_partitions(table)
        .await
        .iter()
        .map(|p| p.id.0)
        .collect();
    for &g in &groups {
        let left = within.saturating_sub(started.elapsed());
        cluster
            .wait_leader(g, left.max(Duration::from_secs(1)))
            .await;
    }
    eprintln!(
        "table {table}: ready in {} ms, groups {groups:?}",
        started.elapsed().as_millis()
    );
    groups
}

/// `PutItem {pk: key, v: value}`.
pub async fn put(client: &Client, table: &str, key: &str, value: &str) -> Result<(), String> {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(key.to_owned()))
        .item("v", AttributeValue::S(value.to_owned()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| describe_error(&e))
}

/// `GetItem {pk: key}` → the `v` attribute (`None`: no item).
pub async fn get(
    client: &Client,
    table: &str,
    key: &str,
    consistent: bool,
) -> Result<Option<String>, String> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.to_owned()))
        .consistent_read(consistent)
        .send()
        .await
        .map_err(|e| describe_error(&e))?;
    Ok(out
        .item
        .and_then(|mut i| i.remove("v"))
        .and_then(|v| v.as_s().ok().cloned()))
}

/// `code: message (HTTP status)` of an SDK error, or its display for transport errors.
pub fn describe_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E>,
) -> String {
    match e {
        SdkError::ServiceError(s) => format!(
            "{}: {} (HTTP {})",
            s.err().code().unwrap_or("?"),
            s.err().message().unwrap_or(""),
            s.raw().status().as_u16()
        ),
        other => format!("{other:?}"),
    }
}

/// The HTTP status of a service error (`None` for transport errors and timeouts).
pub fn error_status<E>(e: &SdkError<E>) -> Option<u16> {
    match e {
        SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
        _ => None,
    }
}

/// A `POST /` with `X-Amz-Target: DynamoDB_20120810.<operation>` and `body` as it is,
/// signed with the cluster's key (or unsigned when `signed` is false).
pub async fn raw_request(
    cluster: &Cluster,
    addr: SocketAddr,
    operation: &str,
    body: &[u8],
    signed: bool,
) -> Result<Response, HttpError> {
    let key = signed.then(|| cluster.access_key());
    let headers = request_headers(key, &addr.to_string(), operation, body);
    // `http::request` adds host itself.
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k != "host")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    http::request(addr, "POST", "/", &refs, body, Duration::from_secs(10)).await
}

/// The headers of a `POST /` for `DynamoDB_20120810.<operation>`: host, content type,
/// target and, when `key` is given, SigV4's (`x-amz-date`, `authorization`) signed now.
pub fn request_headers(
    key: Option<&AccessKey>,
    host: &str,
    operation: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("host".to_owned(), host.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.0".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            format!("DynamoDB_20120810.{operation}"),
        ),
    ];
    if let Some(key) = key {
        let auth = sign_headers(
            &key.id,
            &key.secret,
            REGION,
            "POST",
            "/",
            &headers,
            body,
            SystemTime::now(),
        );
        headers.extend(auth);
    }
    headers
}

/// The `__type` of a DynamoDB error body without its namespace
/// (`com.amazonaws.dynamodb.v20120810#ValidationException` → `ValidationException`).
pub fn error_type(resp: &Response) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    let t = v.get("__type")?.as_str()?;
    Some(t.rsplit('#').next().unwrap_or(t).to_owned())
}

/// Runs the boto3 script `script` (relative to the repository root) with the node's endpoint
/// as its one argument and the cluster's key in a clean AWS environment (no profile, config
/// or session token of the machine's user leaks in). Panics, naming the fix, when python3 or
/// boto3 is missing (`scripts/test` installs python3-boto3). Returns the script's output.
pub async fn run_boto3_script(
    cluster: &Cluster,
    node: usize,
    script: &str,
) -> std::process::Output {
    use std::process::Command;
    let probe = Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): apt-get install python3-boto3"));
    assert!(
        probe.status.success(),
        "python3 cannot import boto3: apt-get install python3-boto3 (scripts/test does)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let script = crate::repo_root().join(script);
    let key = cluster.access_key().clone();
    let endpoint = cluster.endpoint(node);
    tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&script)
            .arg(&endpoint)
            .env("AWS_ACCESS_KEY_ID", &key.id)
            .env("AWS_SECRET_ACCESS_KEY", &key.secret)
            .env("AWS_DEFAULT_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run python3")
    })
    .await
    .expect("the script's task")
}
