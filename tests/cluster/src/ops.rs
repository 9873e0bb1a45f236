//! What a test does to a running [`Cluster`]: kill and restart nodes, stop and start etcd,
//! kill the control-plane leader, start a node with a foreign certificate, and the queries
//! that observe the cluster (admin endpoints of the nodes, etcd's view of tables and nodes).
//!
//! Who leads the control plane is read from the election key in etcd (`Keys::leader`,
//! `control-plane/src/store/keys.rs`, written by `election.rs`): the `LeaderRecord`'s name is
//! the instance's `--name`. Who leads a partition is read from the nodes' `/debug/groups`: the
//! member claiming leadership with the highest ballot.
//!
//! All waits poll with a deadline and panic with the relevant log tails when it passes.

use std::time::{Duration, Instant};

use control_plane::store::{Keys, LeaderRecord, MetaStore};
use wire::control::{NodeInfo, PartitionDesc, TableDesc};

use crate::admin::{self, AdminError, GroupDigest, GroupStatus};
use crate::cluster::{CLUSTER_PREFIX, Cluster, control_name};
use crate::proc::Proc;

/// How long a restarted process may take to answer.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

impl Cluster {
    /// Runs `f` on a fresh etcd client until it succeeds, for up to 20 s (a loaded machine's
    /// etcd can stall for seconds: the harness observes the cluster, it must not fail for
    /// etcd's slowness); then panics with `what` and the last error.
    pub(crate) async fn etcd_retrying<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: Fn(control_plane::store::EtcdStore) -> Fut,
        Fut: std::future::Future<Output = Result<T, control_plane::store::StoreError>>,
    {
        let t = Instant::now();
        loop {
            let last = match self.etcd_store().await {
                Some(store) => match f(store).await {
                    Ok(v) => return v,
                    Err(e) => e.to_string(),
                },
                None => "no etcd client".to_owned(),
            };
            if t.elapsed() > Duration::from_secs(20) {
                panic!("{what}: etcd did not answer for 20 s: {last}");
            }
            eprintln!("cluster: {what}: {last}; retrying");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// SIGKILLs node `k` (its data stays).
    pub fn kill9(&mut self, k: usize) {
        self.nodes[k].proc.kill9();
        eprintln!("cluster: killed {} (SIGKILL)", self.nodes[k].name);
    }

    /// SIGTERM to node `k`; waits up to `grace` for it to exit, then SIGKILLs it. True when it
    /// exited by itself with status 0.
    pub async fn stop_node(&mut self, k: usize, grace: Duration) -> bool {
        let status = self.nodes[k].proc.terminate(grace).await;
        status.is_some_and(|s| s.success())
    }

    /// True while node `k`'s process runs.
    pub fn node_running(&mut self, k: usize) -> bool {
        self.nodes[k].proc.is_running()
    }

    /// Starts node `k` again on its data directory and ports; waits until its API and admin
    /// endpoints answer.
    pub async fn restart(&mut self, k: usize) {
        let name = self.nodes[k].name.clone();
        self.nodes[k]
            .proc
            .start()
            .unwrap_or_else(|e| panic!("restarting {name}: {e}"));
        let deadline = Instant::now() + RESTART_TIMEOUT;
        loop {
            if let Some(status) = self.nodes[k].proc.exit_status() {
                panic!(
                    "{name} exited ({status}) after a restart:\n{}",
                    self.nodes[k].proc.log_tail(40)
                );
            }
            if self.node_answers(k).await {
                eprintln!("cluster: restarted {name}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not answer within {RESTART_TIMEOUT:?} of a restart:\n{}",
                self.nodes[k].proc.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs etcd (its data stays).
    pub fn stop_etcd(&mut self) {
        self.etcd.kill9();
        eprintln!("cluster: stopped etcd (SIGKILL)");
    }

    /// Starts etcd again on its data and ports; waits for `/health`.
    pub async fn start_etcd(&mut self) {
        self.etcd
            .start()
            .unwrap_or_else(|e| panic!("restarting etcd: {e}"));
        if let Err(e) = self
            .wait_for(
                "etcd to answer /health",
                Duration::from_secs(15),
                async |c| c.etcd_healthy().await,
            )
            .await
        {
            panic!("{e}");
        }
        eprintln!("cluster: started etcd again");
    }

    /// The index of the control instance holding the election key, if etcd answers and one
    /// does.
    pub async fn control_leader(&self) -> Option<usize> {
        let store = self.etcd_store().await?;
        let kv = store
            .get(&Keys::new(CLUSTER_PREFIX).leader())
            .await
            .ok()??;
        let record: LeaderRecord = serde_json::from_slice(&kv.value).ok()?;
        (0..self.spec.controls).find(|&i| control_name(i) == record.name)
    }

    /// SIGKILLs the control-plane leader; returns its index.
    pub async fn kill_control_leader(&mut self) -> usize {
        let i = self
            .control_leader()
            .await
            .expect("no control-plane leader to kill (is etcd up?)");
        self.controls[i].kill9();
        eprintln!(
            "cluster: killed control leader {} (SIGKILL)",
            control_name(i)
        );
        i
    }

    /// True while control instance `i` runs.
    pub fn control_running(&mut self, i: usize) -> bool {
        self.controls[i].is_running()
    }

    /// Starts control instance `i` again (it joins as a standby).
    pub fn restart_control(&mut self, i: usize) {
        self.controls[i]
            .start()
            .unwrap_or_else(|e| panic!("restarting {}: {e}", control_name(i)));
    }

    /// Node `k`'s `/debug/groups`.
    pub async fn debug_groups(&self, k: usize) -> Result<Vec<GroupStatus>, AdminError> {
        admin::debug_groups(self.admin_addr(k), &self.admin_token).await
    }

    /// Node `k`'s `/debug/digest?group=N`.
    pub async fn digest(&self, k: usize, group: u64) -> Result<GroupDigest, AdminError> {
        admin::digest(self.admin_addr(k), &self.admin_token, group).await
    }

    /// Node `k`'s `/metrics`.
    pub async fn metrics(&self, k: usize) -> Result<String, AdminError> {
        admin::metrics(self.admin_addr(k)).await
    }

    /// `(node, status)` of every replica of `group` on the nodes that answer.
    pub async fn members_of(&self, group: u64) -> Vec<(usize, GroupStatus)> {
        let mut out = Vec::new();
        for k in 0..self.nodes.len() {
            if let Ok(groups) = self.debug_groups(k).await {
                out.extend(
                    groups
                        .into_iter()
                        .filter(|g| g.group == group)
                        .map(|g| (k, g)),
                );
            }
        }
        out
    }

    /// The node whose replica of `group` claims leadership with the highest ballot.
    pub async fn leader_of(&self, group: u64) -> Option<usize> {
        self.members_of(group)
            .await
            .into_iter()
            .filter(|(_, g)| g.is_leader)
            .max_by_key(|(_, g)| g.ballot)
            .map(|(k, _)| k)
    }

    /// Waits until `group` has a leader; returns its node.
    pub async fn wait_leader(&self, group: u64, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(k) = self.leader_of(group).await {
                return k;
            }
            assert!(
                Instant::now() < deadline,
                "group {group} has no leader after {within:?}:\n{}",
                self.tails(20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The table's description as stored in etcd (`None` if absent or etcd is down).
    pub async fn table_desc(&self, table: &str) -> Option<TableDesc> {
        let store = self.etcd_store().await?;
        let kv = store
            .get(&Keys::new(CLUSTER_PREFIX).table(table))
            .await
            .ok()??;
        serde_json::from_slice(&kv.value).ok()
    }

    /// The table's partitions as stored in etcd, in hash order. Panics if etcd is down or
    /// the table is unknown.
    pub async fn table_partitions(&self, table: &str) -> Vec<PartitionDesc> {
        let desc = self
            .table_desc(table)
            .await
            .unwrap_or_else(|| panic!("table {table} not in etcd (or etcd down)"));
        let keys = Keys::new(CLUSTER_PREFIX);
        let mut parts = Vec::new();
        for id in desc.partitions {
            let kv = self
                .etcd_retrying(&format!("reading partition {id:?}"), |s| {
                    let key = keys.partition(id);
                    async move { s.get(&key).await }
                })
                .await
                .unwrap_or_else(|| panic!("partition {id:?} of {table} missing in etcd"));
            parts.push(serde_json::from_slice(&kv.value).expect("PartitionDesc JSON"));
        }
        parts
    }

    /// The nodes registered in etcd.
    pub async fn registered_nodes(&self) -> Vec<NodeInfo> {
        let range = self
            .etcd_retrying("listing nodes", |s| async move {
                s.range(&Keys::new(CLUSTER_PREFIX).nodes_prefix()).await
            })
            .await;
        range
            .kvs
            .iter()
            .map(|kv| serde_json::from_slice(&kv.value).expect("NodeInfo JSON"))
            .collect()
    }

    /// Starts a node named `name` whose certificate comes from a CA of its own (not the
    /// cluster's), pointed at the cluster's control plane. Returns its index among the extra
    /// processes (see [`Cluster::extra_proc`]). Its ports are the next free node slot.
    pub fn start_foreign_node(&mut self, name: &str) -> usize {
        let slot = self.nodes.len() + self.extra.len();
        let certs = self.dir.join(format!("foreign-certs-{name}"));
        std::fs::create_dir_all(&certs).expect("foreign certs dir");
        self.bins
            .certs_init(&certs)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = self.node_proc(slot, name, "az1", &certs);
        p.start()
            .unwrap_or_else(|e| panic!("starting foreign node {name}: {e}"));
        self.extra.push(p);
        eprintln!("cluster: started foreign node {name} (port slot {slot})");
        self.extra.len() - 1
    }

    /// A process started on top of the spec (see [`Cluster::start_foreign_node`]).
    pub fn extra_proc(&mut self, i: usize) -> &mut Proc {
        &mut self.extra[i]
    }

    /// Control instance `i`'s log so far.
    pub fn control_log(&self, i: usize) -> String {
        self.controls[i].log_text()
    }

    /// Node `k`'s log so far.
    pub fn node_log(&self, k: usize) -> String {
        self.nodes[k].proc.log_text()
    }

    /// Control instance `i`'s `/metrics` address.
    pub fn control_metrics_addr(&self, i: usize) -> std::net::SocketAddr {
        crate::cluster::loopback(self.ports.control_metrics(i))
    }

    /// Number of control instances.
    pub fn control_count(&self) -> usize {
        self.controls.len()
    }
}
