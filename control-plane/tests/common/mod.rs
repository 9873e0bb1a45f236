//! Test support for the control plane's integration tests: a real etcd per test
//! ([`Etcd`]) and simulated storage nodes that obey heartbeat commands ([`FakeNodes`]).
//!
//! `Etcd::start` runs `/usr/bin/etcd` (or `$CAIRN_ETCD_BIN`) on free loopback ports with a
//! fresh data directory under the system temp dir; it panics (the test fails, never skips)
//! when the binary is missing. Dropping it kills the process and removes the directory.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use control_plane::election::{Election, ElectionConfig, ElectionHandle, LeaderState};
use control_plane::metadata::Metadata;
use control_plane::service::{ControlService, ServiceConfig};
use control_plane::store::{EtcdConfig, EtcdStore, Keys, LeaderRecord, MetaStore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wire::control::{NodeCommand, NodeHeartbeat, NodeId, RegisterRequest, ReplicaState};
use wire::replication::Ballot;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free loopback port")
        .local_addr()
        .unwrap()
        .port()
}

/// One etcd process owned by a test.
pub struct Etcd {
    child: Option<Child>,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub async fn start() -> Etcd {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cairn-etcd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the etcd data dir");
        let mut etcd = Etcd {
            child: None,
            dir,
            client_port: free_port(),
            peer_port: free_port(),
        };
        etcd.spawn().await;
        etcd
    }

    fn binary() -> String {
        std::env::var("CAIRN_ETCD_BIN").unwrap_or_else(|_| "/usr/bin/etcd".to_string())
    }

    async fn spawn(&mut self) {
        let bin = Self::binary();
        assert!(
            std::path::Path::new(&bin).exists(),
            "etcd not found at {bin}: install it with `apt-get install etcd-server` \
             (or set CAIRN_ETCD_BIN)"
        );
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&bin)
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("t={peer}")])
            .args([
                "--initial-cluster-state",
                "new",
                "--logger",
                "zap",
                "--log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        self.child = Some(child);
        let store = EtcdStore::connect(&self.config()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if store.get("/ready-probe").await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not come up within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// A client config with short deadlines (a dead etcd fails fast).
    pub fn config(&self) -> EtcdConfig {
        let mut c = EtcdConfig::new(vec![self.endpoint()]);
        c.request_timeout_ms = 1_000;
        c.connect_timeout_ms = 500;
        c
    }

    pub async fn store(&self) -> EtcdStore {
        EtcdStore::connect(&self.config()).await.unwrap()
    }

    /// Kills etcd (SIGKILL), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes etcd (SIGSTOP): connections stay open but nothing answers, the case that
    /// needs client deadlines.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused etcd (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("etcd running").id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill {sig} {pid} failed");
    }

    /// Compacts etcd's history up to `revision` (through `etcdctl`).
    pub fn compact(&self, revision: i64) {
        let ok = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.endpoint(),
                "compact",
                &revision.to_string(),
            ])
            .stdout(Stdio::null())
            .status()
            .expect("run etcdctl (apt-get install etcd-client)");
        assert!(ok.success(), "etcdctl compact {revision} failed");
    }

    /// Starts etcd again on the same ports and data.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A paused etcd must be thawed to die cleanly; never panic in drop.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A control-plane instance as `cairn-control` builds it.
pub struct Instance<S: MetaStore> {
    pub service: Arc<ControlService<S>>,
    pub election: Option<ElectionHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl<S: MetaStore> Instance<S> {
    pub fn start(
        store: S,
        keys: &Keys,
        name: &str,
        election: ElectionConfig,
        cfg: ServiceConfig,
    ) -> Instance<S> {
        let metadata = Metadata::new();
        let sync = metadata.spawn_sync(store.clone(), keys.clone());
        let me = LeaderRecord {
            name: name.into(),
            addr: format!("{name}:7400"),
        };
        let election = Election::new(store.clone(), keys, me, election).spawn();
        let service = Arc::new(ControlService::new(
            store,
            keys.clone(),
            metadata,
            election.state(),
            cfg,
        ));
        let reconciler = service.clone().spawn_reconciler(Duration::from_millis(50));
        Instance {
            service,
            election: Some(election),
            tasks: vec![sync, reconciler],
        }
    }

    pub fn is_leader(&self) -> bool {
        self.election.as_ref().is_some_and(|e| e.fence().is_some())
    }

    pub async fn wait_leader(&self, within: Duration) {
        let mut rx = self.election.as_ref().unwrap().state();
        tokio::time::timeout(within, rx.wait_for(|s| matches!(s, LeaderState::Leader(_))))
            .await
            .expect("no leadership in time")
            .unwrap();
    }

    /// Crash: stop everything without resigning.
    pub fn crash(&mut self) {
        if let Some(e) = self.election.take() {
            e.abort();
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl<S: MetaStore> Drop for Instance<S> {
    fn drop(&mut self) {
        self.crash();
    }
}

/// One simulated storage node.
#[derive(Clone, Debug)]
pub struct FakeNode {
    /// A silent node sends no heartbeats (as if crashed).
    pub silent: bool,
    pub name: String,
    pub az: String,
    pub id: Option<NodeId>,
    pub replicas: Vec<ReplicaState>,
}

/// Simulated nodes: register, heartbeat, create and drop replicas as told. The first replica
/// of each partition (its preferred leader) reports itself leader.
pub struct FakeNodes {
    pub nodes: Vec<FakeNode>,
}

impl FakeNodes {
    /// `per_az` nodes in each of `azs` AZs.
    pub fn new(azs: usize, per_az: usize) -> FakeNodes {
        let mut nodes = Vec::new();
        for a in 0..azs {
            for i in 0..per_az {
                nodes.push(FakeNode {
                    silent: false,
                    name: format!("node-{a}-{i}"),
                    az: format!("az{a}"),
                    id: None,
                    replicas: Vec::new(),
                });
            }
        }
        FakeNodes { nodes }
    }

    pub async fn register<S: MetaStore>(&mut self, svc: &ControlService<S>) {
        for n in &mut self.nodes {
            let reply = svc
                .register(RegisterRequest {
                    name: n.name.clone(),
                    az: n.az.clone(),
                    quic_addr: format!("{}:7500", n.name),
                    api_addr: format!("{}:8000", n.name),
                })
                .await
                .expect("register");
            n.id = Some(reply.node.id);
        }
    }

    /// One heartbeat round; returns how many commands were applied.
    pub async fn heartbeat<S: MetaStore>(&mut self, svc: &ControlService<S>) -> usize {
        let mut applied = 0;
        for n in &mut self.nodes {
            let Some(id) = n.id.filter(|_| !n.silent) else {
                continue;
            };
            let reply = match svc
                .heartbeat(NodeHeartbeat {
                    node: id,
                    replicas: n.replicas.clone(),
                })
                .await
            {
                Ok(r) => r,
                Err(_) => continue,
            };
            for cmd in reply.commands {
                applied += 1;
                match cmd {
                    NodeCommand::CreateReplica {
                        partition, member, ..
                    } => {
                        let r = partition
                            .replicas
                            .iter()
                            .find(|r| r.member == member)
                            .unwrap();
                        n.replicas.push(ReplicaState {
                            group: partition.id,
                            member,
                            role: r.role,
                            is_leader: partition.replicas[0].member == member,
                            ballot: Ballot(1),
                            commit_index: 0,
                            applied_index: 0,
                        });
                    }
                    NodeCommand::DropReplica { group, member } => {
                        n.replicas
                            .retain(|r| !(r.group == group && r.member == member));
                    }
                }
            }
        }
        applied
    }
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
