//! The peer of `scripts/bench cluster`: a 3-member etcd cluster (Raft, quorum fsync) on
//! loopback, each member with its own data dir under one temp dir, started with the harness's
//! [`Proc`] (killed with the bench process) on a port block of the harness's [`PortBlock`]
//! (so it never collides with a Cairn test cluster). Member `i` listens for clients on
//! `base + i` and for peers on `base + 3 + i`.
//!
//! Settings are etcd's defaults (heartbeat 100 ms, election 1 s, one fsync per Raft batch),
//! i.e. what an operator gets from `etcd --initial-cluster ...`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_cluster_tests::cluster::etcd_args;
use cairn_cluster_tests::http;
use cairn_cluster_tests::ports::PortBlock;
use cairn_cluster_tests::proc::Proc;

/// Members of the peer cluster.
pub const MEMBERS: usize = 3;
/// How long the members may take to elect a leader and answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running 3-member etcd; dropping it kills the members and removes the data.
pub struct Etcd3 {
    _ports: PortBlock,
    base: u16,
    dir: PathBuf,
    members: Vec<Proc>,
}

impl Etcd3 {
    /// Starts the members and waits until every one answers `/health` with `true` and a put
    /// through each succeeds.
    pub async fn start(etcd: &Path) -> Etcd3 {
        let ports = PortBlock::take(None).expect("a free loopback port block for etcd");
        let base = ports.base();
        let dir = std::env::temp_dir().join(format!("cairn-bench-etcd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("etcd bench dir");
        let peer = |i: usize| format!("http://127.0.0.1:{}", base + 3 + i as u16);
        let initial = (0..MEMBERS)
            .map(|i| format!("m{i}={}", peer(i)))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for i in 0..MEMBERS {
            let client = format!("http://127.0.0.1:{}", base + i as u16);
            let args = etcd_args(
                &format!("m{i}"),
                &dir.join(format!("m{i}")),
                &client,
                &peer(i),
                &initial,
                Some("cairn-bench"),
            );
            let mut p = Proc::new(
                &format!("etcd-m{i}"),
                etcd,
                args,
                dir.join(format!("m{i}.log")),
            );
            p.start().expect("starting an etcd member");
            members.push(p);
        }
        let cluster = Etcd3 {
            _ports: ports,
            base,
            dir,
            members,
        };
        cluster.wait_ready().await;
        cluster
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        'poll: loop {
            assert!(
                Instant::now() < deadline,
                "etcd peer cluster not healthy within {START_TIMEOUT:?}; logs in {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            for i in 0..MEMBERS {
                let addr = ([127, 0, 0, 1], self.base + i as u16).into();
                match http::get(addr, "/health", None, Duration::from_secs(1)).await {
                    Ok(r) if r.status == 200 && r.text().contains("true") => {}
                    _ => continue 'poll,
                }
            }
            for ep in self.endpoints() {
                let Ok(mut c) = etcd_client::Client::connect([ep], None).await else {
                    continue 'poll;
                };
                if c.put("bench-ready", "1", None).await.is_err() {
                    continue 'poll;
                }
            }
            return;
        }
    }

    /// `http://127.0.0.1:PORT` of every member's client listener.
    pub fn endpoints(&self) -> Vec<String> {
        (0..MEMBERS)
            .map(|i| format!("http://127.0.0.1:{}", self.base + i as u16))
            .collect()
    }

    /// Member pids (for CPU accounting).
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().filter_map(Proc::pid).collect()
    }

    /// The data directory holding the members' data dirs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Etcd3 {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill9();
        }
        if std::env::var_os("CAIRN_KEEP_CLUSTER").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
