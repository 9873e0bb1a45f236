//! The multi-process test harness of Cairn (DESIGN §5.1 of the driver notes, §13): real etcd,
//! real `cairn-control` and `cairn-node` processes on loopback, driven through the AWS Rust
//! SDK, boto3 and raw HTTP. The tests themselves are in `tests/cluster/tests/*.rs`.
//!
//! - [`cluster`]: [`Cluster::start`] with a [`ClusterSpec`], clients, addresses, teardown.
//! - [`ops`]: kill/restart nodes, stop/start etcd, kill the control leader, foreign nodes, and
//!   the queries (`/debug/groups`, `/debug/digest`, etcd's view of tables and nodes).
//! - [`dynamo`]: table and item helpers, SDK error inspection, signed raw requests.
//! - [`load`]: a steady put/get background load that counts errors.
//! - [`admin`]: the admin endpoint's JSON shapes.
//! - [`hist`]: a fixed-size latency histogram (for `benches/cluster/`).
//! - [`http`]: a minimal HTTP/1.1 client (also for malformed requests).
//! - [`keepalive`]: a keep-alive connection sending signed DynamoDB requests (the lean client of
//!   `benches/cluster/`).
//! - [`proc`]: one child process (restart, signals, log file).
//! - [`ports`]: per-cluster loopback port blocks.
//! - [`bins`]: where the binaries come from; `cairnctl certs`.
//!
//! Requirements, each a clear failure (never a skip) when missing: the workspace's binaries
//! built into the same target dir as the test (`cargo nextest run --workspace` does that),
//! etcd (`apt-get install etcd-server`), and for the boto3 test python3 with boto3.
//! `scripts/test` installs all of them.

pub mod admin;
pub mod bins;
pub mod cluster;
pub mod dynamo;
pub mod hist;
pub mod http;
pub mod keepalive;
pub mod load;
pub mod ops;
pub mod ports;
pub mod proc;

pub use admin::{GroupDigest, GroupStatus};
pub use cluster::{AccessKey, Cluster, ClusterSpec};

/// The repository root (for scripts the tests run, like `tests/api_boto3_smoke.py`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}
