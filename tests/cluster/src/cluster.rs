//! [`Cluster`]: a real etcd, `cairn-control` instances and `cairn-node`s on loopback, started
//! by one test and torn down when it ends (DESIGN §5.1, §13).
//!
//! Start order: cluster CA and one certificate per process (`cairnctl certs`), a random access
//! key (file mode 0600) and admin token, etcd (waits for `/health`), the control instances
//! (waits for one to hold the election key), then the nodes in AZs `az1..azN`, round-robin
//! (node `k` is in `az{k % azs + 1}`), and waits until every node is registered in etcd, its
//! API answers `GET /health`, its admin endpoint `/metrics`, and a signed `ListTables` through
//! it succeeds. A start that fails because a port was taken is retried once on another port
//! block (`ports.rs`); any other failure panics with the log tail of the process at fault.
//!
//! Files: everything lives in one directory under the system temp dir (`certs/`, `data/NAME`,
//! `logs/NAME.log`, `etcd/`, `access-keys`, `admin-token`). Dropping the cluster SIGKILLs
//! exactly the processes it spawned (`proc.rs`). During a panic it prints the tail of every
//! log and keeps the directory (so does `CAIRN_KEEP_CLUSTER=1`); otherwise it removes it.
//!
//! Node, etcd and control operations and the queries tests use are in `ops.rs`.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use control_plane::store::{EtcdConfig, EtcdStore, Keys, MetaStore};

use crate::bins::{BinError, Binaries};
use crate::ports::{CONTROLS_MAX, NODES_MAX, PortBlock};
use crate::proc::Proc;
use crate::{admin, http};

/// The etcd key prefix of test clusters (each cluster has its own etcd).
pub const CLUSTER_PREFIX: &str = "/cairn/test";
/// The region the SDK clients sign for.
pub const REGION: &str = "us-east-1";
/// How long a start may take before it fails (a debug build's nodes start slower).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines printed per process when a test fails.
const FAILURE_TAIL_LINES: usize = 60;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The arguments of one etcd member named `name` storing in `data`, serving clients on
/// `client` and peers on `peer` (URLs), in a new cluster `initial` (`name=peer,...`), with
/// the cluster token `token` when given; warnings-only zap logs.
pub fn etcd_args(
    name: &str,
    data: &Path,
    client: &str,
    peer: &str,
    initial: &str,
    token: Option<&str>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--name",
        name,
        "--data-dir",
        &data.to_string_lossy(),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--logger",
        "zap",
        "--log-level",
        "warn",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    if let Some(token) = token {
        args.extend(["--initial-cluster-token".into(), token.into()]);
    }
    args
}

/// What to start.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Availability zones (`az1..`).
    pub azs: usize,
    /// Nodes per AZ; 0 starts only etcd and the control plane.
    pub nodes_per_az: usize,
    /// `cairn-control` instances.
    pub controls: usize,
    /// `--partitions-override` for every control instance: each new table gets exactly
    /// this many partitions.
    pub partitions: Option<u32>,
    /// Extra arguments for every `cairn-node` (e.g. `--wal-flushes-in-flight 2`).
    pub node_args: Vec<String>,
    /// `--wal-segment-mib` for every node: tests use small segments (each node zero-fills
    /// and syncs two at start, and a suite starts a hundred nodes); the bench uses the
    /// daemon's default.
    pub wal_segment_mib: u64,
}

impl Default for ClusterSpec {
    fn default() -> ClusterSpec {
        ClusterSpec {
            azs: 3,
            nodes_per_az: 1,
            controls: 2,
            partitions: None,
            node_args: Vec::new(),
            wal_segment_mib: 4,
        }
    }
}

/// The cluster's SigV4 key (the only one in its access-keys file).
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// One `cairn-node` of the cluster.
#[derive(Debug)]
pub(crate) struct NodeProc {
    pub(crate) name: String,
    pub(crate) az: String,
    pub(crate) proc: Proc,
}

/// Why one start attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// A process could not bind its port (another process took it): worth one retry.
    #[error("{0}")]
    AddrInUse(String),
    #[error("{0}")]
    Failed(String),
}

/// A running test cluster. See the module doc.
pub struct Cluster {
    pub(crate) spec: ClusterSpec,
    pub(crate) dir: PathBuf,
    pub(crate) ports: PortBlock,
    pub(crate) bins: Binaries,
    pub(crate) certs: PathBuf,
    pub(crate) key: AccessKey,
    pub(crate) admin_token: String,
    pub(crate) keys_file: PathBuf,
    pub(crate) token_file: PathBuf,
    pub(crate) etcd: Proc,
    pub(crate) controls: Vec<Proc>,
    pub(crate) nodes: Vec<NodeProc>,
    /// Processes started by tests on top of the spec (e.g. a node with a foreign certificate).
    pub(crate) extra: Vec<Proc>,
}

impl Cluster {
    /// Starts a cluster as `spec` says and waits until it serves (see the module doc).
    /// Panics with the failing process's log tail when it cannot.
    pub async fn start(spec: ClusterSpec) -> Cluster {
        assert!(spec.azs > 0, "a cluster needs at least one AZ");
        assert!(
            (1..=CONTROLS_MAX).contains(&spec.controls),
            "1..={CONTROLS_MAX} control instances"
        );
        assert!(
            spec.azs * spec.nodes_per_az < NODES_MAX,
            "at most {} nodes (one port slot stays free for a foreign node)",
            NODES_MAX - 1
        );
        let bins = Binaries::locate(spec.nodes_per_az > 0).unwrap_or_else(|e: BinError| {
            panic!("cannot start a test cluster: {e}");
        });
        let mut avoid = None;
        for attempt in 1..=2 {
            let ports = PortBlock::take(avoid).expect("every loopback port block is busy");
            avoid = Some(ports.index());
            let mut cluster = Cluster::prepare(spec.clone(), ports, bins.clone());
            match cluster.boot().await {
                Ok(()) => {
                    cluster.print_summary();
                    return cluster;
                }
                Err(StartError::AddrInUse(why)) if attempt == 1 => {
                    eprintln!("cluster: a port was taken ({why}); retrying on another block");
                }
                // Panics with `cluster` alive: its Drop prints every log tail and keeps files.
                Err(e) => panic!("cluster start failed: {e}"),
            }
        }
        unreachable!("the second attempt returns or panics")
    }

    /// Creates the directory, certificates, key and token files; starts nothing.
    fn prepare(spec: ClusterSpec, ports: PortBlock, bins: Binaries) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "cairn-cluster-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["certs", "data", "logs", "etcd"] {
            std::fs::create_dir_all(dir.join(sub))
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.join(sub).display()));
        }
        let certs = dir.join("certs");
        bins.certs_init(&certs).unwrap_or_else(|e| panic!("{e}"));
        let key = AccessKey {
            id: format!("AKIA{}", random_hex(8).to_ascii_uppercase()),
            secret: random_hex(20),
        };
        let admin_token = random_hex(16);
        let keys_file = dir.join("access-keys");
        write_private(
            &keys_file,
            &format!("# cairn test cluster\n{} {}\n", key.id, key.secret),
        );
        let token_file = dir.join("admin-token");
        write_private(&token_file, &format!("{admin_token}\n"));

        let etcd_dir = dir.join("etcd");
        let client = format!("http://127.0.0.1:{}", ports.etcd_client());
        let peer = format!("http://127.0.0.1:{}", ports.etcd_peer());
        let etcd_args = etcd_args(
            "etcd",
            &etcd_dir.join("data"),
            &client,
            &peer,
            &format!("etcd={peer}"),
            None,
        );
        let etcd = Proc::new("etcd", &bins.etcd, etcd_args, dir.join("logs/etcd.log"));

        let mut cluster = Cluster {
            spec,
            ports,
            certs,
            key,
            admin_token,
            keys_file,
            token_file,
            etcd,
            controls: Vec::new(),
            nodes: Vec::new(),
            extra: Vec::new(),
            bins,
            dir,
        };
        for i in 0..cluster.spec.controls {
            let p = cluster.control_proc(i);
            cluster.controls.push(p);
        }
        for k in 0..cluster.spec.azs * cluster.spec.nodes_per_az {
            let name = format!("node{k}");
            let az = format!("az{}", k % cluster.spec.azs + 1);
            let proc = cluster.node_proc(k, &name, &az, &cluster.certs.clone());
            cluster.nodes.push(NodeProc { name, az, proc });
        }
        cluster
    }

    fn control_proc(&self, i: usize) -> Proc {
        let name = control_name(i);
        self.bins
            .certs_issue(&self.certs, &name)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut args: Vec<OsString> = vec![
            "--name".into(),
            name.clone().into(),
            "--certs".into(),
            self.certs.clone().into(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.ports.control(i)).into(),
            "--etcd".into(),
            format!("http://127.0.0.1:{}", self.ports.etcd_client()).into(),
            "--cluster".into(),
            CLUSTER_PREFIX.into(),
            "--listen-metrics".into(),
            format!("127.0.0.1:{}", self.ports.control_metrics(i)).into(),
        ];
        if let Some(n) = self.spec.partitions {
            args.extend(["--partitions-override".into(), n.to_string().into()]);
        }
        let mut p = Proc::new(
            &name,
            &self.bins.control,
            args,
            self.dir.join(format!("logs/{name}.log")),
        );
        daemon_env(&mut p);
        p
    }

    /// The `cairn-node` process for port slot `k`, with certificates from `certs` (the
    /// cluster's, or a foreign CA's directory).
    pub(crate) fn node_proc(&self, k: usize, name: &str, az: &str, certs: &Path) -> Proc {
        self.bins
            .certs_issue(certs, name)
            .unwrap_or_else(|e| panic!("{e}"));
        let data = self.dir.join("data").join(name);
        let mut args: Vec<OsString> = vec![
            "--name".into(),
            name.into(),
            "--az".into(),
            az.into(),
            "--data".into(),
            data.into(),
            "--certs".into(),
            certs.into(),
            "--listen-quic".into(),
            format!("127.0.0.1:{}", self.ports.node_quic(k)).into(),
            "--listen-api".into(),
            format!("127.0.0.1:{}", self.ports.node_api(k)).into(),
            "--listen-admin".into(),
            format!("127.0.0.1:{}", self.ports.node_admin(k)).into(),
            "--admin-token-file".into(),
            self.token_file.clone().into(),
            "--control".into(),
            self.control_list().into(),
            "--access-keys".into(),
            self.keys_file.clone().into(),
            "--wal-segment-mib".into(),
            self.spec.wal_segment_mib.to_string().into(),
        ];
        args.extend(self.spec.node_args.iter().map(OsString::from));
        let mut p = Proc::new(
            name,
            &self.bins.node,
            args,
            self.dir.join(format!("logs/{name}.log")),
        );
        daemon_env(&mut p);
        p
    }

    /// `ctl0@127.0.0.1:P0,ctl1@...` for `--control`.
    pub(crate) fn control_list(&self) -> String {
        (0..self.spec.controls)
            .map(|i| format!("{}@127.0.0.1:{}", control_name(i), self.ports.control(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts everything and waits for readiness.
    async fn boot(&mut self) -> Result<(), StartError> {
        self.etcd.start().map_err(|e| spawn_failed(&self.etcd, e))?;
        self.wait_for(
            "etcd to answer /health",
            Duration::from_secs(15),
            async |c| c.etcd_healthy().await,
        )
        .await?;
        for p in &mut self.controls {
            p.start().map_err(|e| spawn_failed(p, e))?;
        }
        self.wait_for(
            "a control instance to lead",
            Duration::from_secs(15),
            async |c| c.control_leader().await.is_some(),
        )
        .await?;
        for n in &mut self.nodes {
            n.proc.start().map_err(|e| spawn_failed(&n.proc, e))?;
        }
        self.wait_for(
            "every node to register and answer /health and /metrics",
            START_TIMEOUT,
            async |c| c.nodes_up().await,
        )
        .await?;
        self.wait_for(
            "a signed ListTables to succeed through every node",
            Duration::from_secs(15),
            async |c| {
                for k in 0..c.nodes.len() {
                    if c.client(k).list_tables().send().await.is_err() {
                        return false;
                    }
                }
                true
            },
        )
        .await
    }

    /// Polls `ready` every 50 ms until it holds; fails when `within` passes or a started
    /// process exits (with its log tail; "address in use" makes it [`StartError::AddrInUse`]).
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        ready: impl AsyncFn(&Cluster) -> bool,
    ) -> Result<(), StartError> {
        let deadline = Instant::now() + within;
        loop {
            self.check_alive()?;
            if ready(self).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(format!(
                    "timed out after {within:?} waiting for {what}\n{}",
                    self.tails(20)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if any started process has exited.
    fn check_alive(&mut self) -> Result<(), StartError> {
        let procs = std::iter::once(&mut self.etcd)
            .chain(self.controls.iter_mut())
            .chain(self.nodes.iter_mut().map(|n| &mut n.proc));
        for p in procs {
            if let Some(status) = p.exit_status() {
                let tail = p.log_tail(30);
                let msg = format!(
                    "{} exited ({status}) during start; last log lines:\n{tail}",
                    p.name()
                );
                let lower = tail.to_ascii_lowercase();
                return Err(
                    if lower.contains("address already in use") || lower.contains("os error 98") {
                        StartError::AddrInUse(msg)
                    } else {
                        StartError::Failed(msg)
                    },
                );
            }
        }
        Ok(())
    }

    pub(crate) async fn etcd_healthy(&self) -> bool {
        let addr = loopback(self.ports.etcd_client());
        matches!(
            http::get(addr, "/health", None, Duration::from_secs(1)).await,
            Ok(r) if r.status == 200 && r.text().contains("true")
        )
    }

    /// True when every node is registered, its API says healthy and `/metrics` answers.
    async fn nodes_up(&self) -> bool {
        let Some(store) = self.etcd_store().await else {
            return false;
        };
        let keys = Keys::new(CLUSTER_PREFIX);
        for (k, n) in self.nodes.iter().enumerate() {
            if !matches!(store.get(&keys.node(&n.name)).await, Ok(Some(_))) {
                return false;
            }
            if !self.node_answers(k).await {
                return false;
            }
        }
        true
    }

    /// Node `k`'s API says healthy and its `/metrics` answers.
    pub(crate) async fn node_answers(&self, k: usize) -> bool {
        let api = http::get(self.api_addr(k), "/health", None, Duration::from_secs(1)).await;
        matches!(api, Ok(r) if r.status == 200) && admin::metrics(self.admin_addr(k)).await.is_ok()
    }

    /// A client of this cluster's etcd, or `None` when it cannot be built.
    pub(crate) async fn etcd_store(&self) -> Option<EtcdStore> {
        let mut cfg = EtcdConfig::new(vec![self.etcd_endpoint()]);
        // A loaded CI machine has seen etcd's fdatasync take 1.8 s: the harness's own reads
        // must not give up before the cluster does (cairn-control waits 2 s).
        cfg.request_timeout_ms = 5_000;
        cfg.connect_timeout_ms = 1_000;
        EtcdStore::connect(&cfg).await.ok()
    }

    /// `http://127.0.0.1:PORT` of etcd's client listener.
    pub fn etcd_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.etcd_client())
    }

    /// Number of nodes of the spec (foreign nodes excluded).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `k`'s name (its certificate's host name).
    pub fn node_name(&self, k: usize) -> &str {
        &self.nodes[k].name
    }

    /// Node `k`'s AZ.
    pub fn node_az(&self, k: usize) -> &str {
        &self.nodes[k].az
    }

    /// Node `k`'s DynamoDB endpoint address.
    pub fn api_addr(&self, k: usize) -> SocketAddr {
        loopback(self.ports.node_api(k))
    }

    /// Node `k`'s DynamoDB endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self, k: usize) -> String {
        format!("http://{}", self.api_addr(k))
    }

    /// Node `k`'s admin address (`/metrics`, `/debug/*`).
    pub fn admin_addr(&self, k: usize) -> SocketAddr {
        loopback(self.ports.node_admin(k))
    }

    /// The admin token (`Authorization: Bearer <token>` on `/debug/*`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The cluster's access key.
    pub fn access_key(&self) -> &AccessKey {
        &self.key
    }

    /// The cluster's directory (certificates, data, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An SDK config for node `k`'s endpoint, signed with the cluster's key: standard retries
    /// (3 attempts) and a 10 s operation timeout. Tests adjust it (e.g. one attempt).
    pub fn sdk_config(&self, k: usize) -> aws_sdk_dynamodb::config::Builder {
        self.sdk_config_with_secret(k, &self.key.secret)
    }

    /// Like [`Cluster::sdk_config`] with another secret (for signature tests).
    pub fn sdk_config_with_secret(
        &self,
        k: usize,
        secret: &str,
    ) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                &self.key.id,
                secret,
                None,
                None,
                "cairn-cluster-tests",
            ))
            .endpoint_url(self.endpoint(k))
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
    }

    /// A DynamoDB client of node `k` (see [`Cluster::sdk_config`]).
    pub fn client(&self, k: usize) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(self.sdk_config(k).build())
    }

    /// A client of node `k` that makes one attempt per call (no hidden retries: a failure
    /// reaches the caller) and gives up on a call after `timeout`.
    pub fn client_one_attempt(&self, k: usize, timeout: Duration) -> aws_sdk_dynamodb::Client {
        let conf = self
            .sdk_config(k)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// The last `lines` of every process's log, with headers.
    pub fn tails(&self, lines: usize) -> String {
        let mut out = String::new();
        let procs = std::iter::once(&self.etcd)
            .chain(self.controls.iter())
            .chain(self.nodes.iter().map(|n| &n.proc))
            .chain(self.extra.iter());
        for p in procs {
            out.push_str(&format!(
                "----- {} ({}) -----\n{}\n",
                p.name(),
                p.log_path().display(),
                p.log_tail(lines)
            ));
        }
        out
    }

    fn print_summary(&self) {
        let mut s = format!(
            "cluster: dir {} etcd {} controls {}",
            self.dir.display(),
            self.etcd_endpoint(),
            self.control_list()
        );
        for (k, n) in self.nodes.iter().enumerate() {
            s.push_str(&format!(
                "\n  {} ({}) api {} admin {} pid {:?}",
                n.name,
                n.az,
                self.endpoint(k),
                self.admin_addr(k),
                n.proc.pid()
            ));
        }
        eprintln!("{s}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            eprintln!(
                "cluster: the test failed; last {FAILURE_TAIL_LINES} log lines of every process:\n{}",
                self.tails(FAILURE_TAIL_LINES)
            );
        }
        for p in self.extra.iter_mut() {
            p.kill9();
        }
        for n in self.nodes.iter_mut() {
            n.proc.kill9();
        }
        for p in self.controls.iter_mut() {
            p.kill9();
        }
        self.etcd.kill9();
        if failed || std::env::var_os("CAIRN_KEEP_CLUSTER").is_some() {
            eprintln!("cluster: files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Control instance `i`'s name (its certificate's host name).
pub(crate) fn control_name(i: usize) -> String {
    format!("ctl{i}")
}

pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn spawn_failed(p: &Proc, e: std::io::Error) -> StartError {
    StartError::Failed(format!("cannot run {}: {e}", p.command_line()))
}

/// Logs at info unless the test's environment says otherwise; no colour codes in log files.
fn daemon_env(p: &mut Proc) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    p.env("RUST_LOG", &filter);
    p.env("NO_COLOR", "1");
}

/// Writes a file only its owner can read (mode 0600).
fn write_private(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// `bytes` random bytes from the OS, as lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
