//! The DynamoDB HTTP endpoint: `POST /` with `X-Amz-Target: DynamoDB_20120810.<Op>` and a JSON
//! 1.0 body (dynamodb-facts §2.1), dispatched to one file per operation under `ops/`.
//!
//! Request pipeline, in this order (each step answers with DynamoDB's error):
//! 1. `GET /` or `GET /health` → 200 `healthy: cairn` (for scripts and load balancers); any
//!    other non-POST → 404 `<UnknownOperationException/>`, as the service does.
//! 2. Body bound ([`ApiConfig::request_body_bytes_max`], DynamoDB's 16 MB): a declared
//!    `Content-Length` over it is refused before reading; a body that grows past it while
//!    being read is refused as soon as it does (413). Nothing larger is ever buffered, and
//!    all bodies buffered at once stay within [`ApiConfig::body_bytes_in_flight_max`] (a
//!    request waits for its share before reading).
//! 3. `Content-Type` must be `application/x-amz-json-1.0` (or `application/json`), else 404.
//! 4. `X-Amz-Target` names a known operation, else `UnknownOperationException`.
//! 5. SigV4 (`auth.rs`), unless the config turned it off.
//! 6. The body is a JSON object, else `SerializationException`.
//! 7. The operation (`ops/`) validates its parameters and calls the backend.
//!
//! Every response carries `x-amzn-RequestId` and `x-amz-crc32` (CRC32 of the exact body bytes
//! sent; botocore retries on a mismatch). No input reaches a panic: parsing is `serde_json` on
//! bounded bytes, and all checks return errors. (Even so, hyper runs each connection in its own
//! task, so a bug would end one connection, not the process.)
//!
//! Neighbours: `backend.rs` (the seam below), `error.rs` (error shapes), `ops/` (operations).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::auth::SigV4Keys;
use super::backend::ApiBackend;
use super::error::ApiError;
use super::ops::{self, Operation};

/// DynamoDB's request size limit.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Default bound on request bodies buffered at once (16 maximal requests).
pub const BODY_BYTES_IN_FLIGHT_MAX: usize = 256 * 1024 * 1024;
/// The unit of the body budget's semaphore.
const BUDGET_UNIT_BYTES: usize = 1024;
const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Told about every request that reached the DynamoDB pipeline (not health checks), after its
/// response is ready: the hook for `/metrics` (per-operation rate, errors, latency).
pub trait RequestObserver: Send + Sync + 'static {
    /// `operation` is the `X-Amz-Target` operation when it was recognized; `error` is the
    /// DynamoDB error name (`ApiError::name`) of a failed request.
    fn observe(&self, operation: Option<&str>, error: Option<&'static str>, elapsed: Duration);
}

/// How the endpoint behaves.
#[derive(Clone)]
pub struct ApiConfig {
    /// The region reported in ARNs (`arn:aws:dynamodb:<region>:<account>:table/<name>`).
    pub region: String,
    /// The account id reported in ARNs.
    pub account_id: String,
    /// SigV4 keys; `None` turns verification off (tests and explicit opt-out only).
    pub auth: Option<SigV4Keys>,
    /// The largest request body accepted (DynamoDB: 16 MB).
    pub request_body_bytes_max: usize,
    /// Request bodies buffered at once, over all connections; a request waits for its share
    /// (its declared length, or the whole per-request limit if undeclared) before its body is
    /// read. Bounds the memory that concurrent large requests can pin.
    pub body_bytes_in_flight_max: usize,
    /// How long a request may take to deliver its body, and how long it may wait for its share
    /// of the body budget (then `ThrottlingException`, which SDKs retry). Stops a slow client
    /// from holding budget forever.
    pub body_read_timeout: Duration,
    /// Metrics hook; `None` for none.
    pub observer: Option<Arc<dyn RequestObserver>>,
    /// The `host:port` clients reach this endpoint at (DescribeEndpoints).
    pub endpoint_address: String,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("auth", &self.auth)
            .field("request_body_bytes_max", &self.request_body_bytes_max)
            .field("body_bytes_in_flight_max", &self.body_bytes_in_flight_max)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl ApiConfig {
    /// SigV4 on with these keys, region `us-east-1`, account `000000000000`, 16 MB bodies.
    pub fn new(keys: SigV4Keys) -> ApiConfig {
        ApiConfig {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            auth: Some(keys),
            request_body_bytes_max: REQUEST_BODY_BYTES_MAX,
            body_bytes_in_flight_max: BODY_BYTES_IN_FLIGHT_MAX,
            body_read_timeout: Duration::from_secs(30),
            observer: None,
            endpoint_address: "127.0.0.1:8000".to_owned(),
        }
    }
}

/// Shared by all requests.
struct ApiState {
    config: ApiConfig,
    backend: Arc<dyn ApiBackend>,
    /// Request ids: a per-process prefix and a counter.
    id_prefix: u64,
    next_id: AtomicU64,
    /// [`ApiConfig::body_bytes_in_flight_max`] in [`BUDGET_UNIT_BYTES`] units.
    body_budget: Semaphore,
    body_budget_units: usize,
}

/// The endpoint as an axum [`Router`] (merge `/metrics` and admin routes into it, or serve it
/// with [`serve`]).
pub fn router(config: ApiConfig, backend: Arc<dyn ApiBackend>) -> Router {
    let id_prefix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 40;
    let body_budget_units = (config.body_bytes_in_flight_max / BUDGET_UNIT_BYTES).max(1);
    let state = Arc::new(ApiState {
        body_budget: Semaphore::new(body_budget_units),
        body_budget_units,
        config,
        backend,
        id_prefix,
        next_id: AtomicU64::new(0),
    });
    Router::new().fallback(handle).with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: ApiConfig,
    backend: Arc<dyn ApiBackend>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config, backend))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn handle(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    let n = state.next_id.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("{:016X}{:016X}", state.id_prefix, n);
    let started = Instant::now();
    let mut op = None;
    let result = process(&state, req, &mut op).await;
    if let Some(observer) = &state.config.observer
        && !matches!(result, Err(Reply::Health))
    {
        let error = match &result {
            Err(Reply::Error(e)) => Some(e.name()),
            _ => None,
        };
        observer.observe(op.map(Operation::name), error, started.elapsed());
    }
    let (status, body, content_type) = match result {
        Ok(v) => (
            StatusCode::OK,
            serde_json::to_vec(&v).expect("a JSON value serializes"),
            JSON_CONTENT_TYPE,
        ),
        Err(Reply::Health) => (StatusCode::OK, b"healthy: cairn".to_vec(), "text/plain"),
        Err(Reply::Error(e)) => {
            tracing::debug!(request_id, error = %e, "request failed");
            (e.status(), e.body(), JSON_CONTENT_TYPE)
        }
    };
    respond(status, body, content_type, &request_id)
}

fn respond(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    request_id: &str,
) -> Response {
    let crc = crc32fast::hash(&body);
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    resp
}

/// Outcomes other than a JSON result.
enum Reply {
    Health,
    Error(ApiError),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Error(e)
    }
}

async fn process(
    state: &ApiState,
    req: Request,
    op_seen: &mut Option<Operation>,
) -> Result<Value, Reply> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::GET && matches!(parts.uri.path(), "/" | "/health") {
        return Err(Reply::Health);
    }
    if parts.method != Method::POST {
        return Err(ApiError::NotFound.into());
    }
    let limit = state.config.request_body_bytes_max;
    let too_large = ApiError::RequestTooLarge { limit_bytes: limit };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large.into());
    }
    // Wait for this body's share of the in-flight budget; held until the response is built.
    let want = declared.map_or(limit, |n| n as usize).min(limit);
    let units = want
        .div_ceil(BUDGET_UNIT_BYTES)
        .clamp(1, state.body_budget_units);
    let timeout = state.config.body_read_timeout;
    let acquire = state
        .body_budget
        .acquire_many(u32::try_from(units).unwrap_or(u32::MAX));
    let _budget = match tokio::time::timeout(timeout, acquire).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => {
            return Err(ApiError::ServiceUnavailable("the server is shutting down".into()).into());
        }
        Err(_) => return Err(ApiError::Throttling.into()),
    };
    let read = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    let body = match read {
        Err(_) => return Err(ApiError::RequestTimeout.into()),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large.into()),
        Ok(Err(e)) => {
            return Err(
                ApiError::Serialization(format!("could not read the request body: {e}")).into(),
            );
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(JSON_CONTENT_TYPE)
        && !media.eq_ignore_ascii_case("application/json")
    {
        return Err(ApiError::NotFound.into());
    }
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .and_then(Operation::from_name)
        .ok_or(ApiError::UnknownOperation)?;
    *op_seen = Some(op);
    if let Some(keys) = &state.config.auth {
        let uri = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        keys.verify(
            parts.method.as_str(),
            uri,
            &parts.headers,
            &body,
            SystemTime::now(),
        )?;
    }
    Ok(run_body(&state.config, state.backend.as_ref(), op, &body).await?)
}

/// An authenticated request's body, decoded and run: JSON that is not an object is a
/// SerializationException; the operation does the rest. (The fuzz target
/// `tests/fuzz/fuzz_targets/request_json.rs` drives this with arbitrary bytes.)
pub async fn run_body(
    config: &ApiConfig,
    backend: &dyn ApiBackend,
    op: Operation,
    body: &[u8],
) -> Result<Value, ApiError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::Serialization(format!("Could not parse the request body as JSON: {e}"))
    })?;
    let Value::Object(params) = json else {
        return Err(ApiError::Serialization(
            "The request body must be a JSON object".to_owned(),
        ));
    };
    let ctx = ops::Ctx { backend, config };
    ops::dispatch(&ctx, op, &params).await
}
