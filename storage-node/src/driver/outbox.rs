//! Envelopes out, batches in: the node directory (node id → name, QUIC address, AZ), the
//! per-destination outbox that turns one iteration's envelopes into `ReplicationBatch`
//! frames, and the inbound check that a batch's claimed sender is the peer whose
//! certificate the transport verified.
//!
//! The directory is learned from the control plane (heartbeat and routing replies) and kept
//! in `DATA/nodes.json` (atomic rewrite on change) so a restarted node reaches its peers
//! before the control plane answers (e.g. while etcd is down).
//!
//! Loss is tolerated by the protocol: a full peer queue or an unknown destination drops the
//! batch (counted). Bounds: a frame carries at most `FRAME_BYTES_TARGET` of envelopes
//! (larger batches are split); one envelope larger than the transport's frame bound is a bug
//! (accepts are bounded by `Settings::accept_bytes_max`, snapshots by `SNAPSHOT_BYTES_MAX`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tracing::warn;
use wire::control::{NodeId, NodeInfo};
use wire::frame::{CheckedFrame, FRAME_BODY_BYTES_MAX_DEFAULT};
use wire::peer::ReplicationBatch;
use wire::replication::Envelope;

use super::DriverStats;
use crate::transport::Transport;

/// Node id → node, shared by the shell (sending) and the inbound task (checking).
#[derive(Clone, Default)]
pub struct Directory {
    nodes: Arc<RwLock<HashMap<NodeId, NodeInfo>>>,
}

impl Directory {
    pub fn get(&self, id: NodeId) -> Option<NodeInfo> {
        self.nodes.read().expect("directory").get(&id).cloned()
    }

    pub fn all(&self) -> Vec<NodeInfo> {
        let mut v: Vec<NodeInfo> = self
            .nodes
            .read()
            .expect("directory")
            .values()
            .cloned()
            .collect();
        v.sort_by_key(|n| n.id);
        v
    }

    /// Adds or updates nodes; true if anything changed.
    pub fn learn(&self, nodes: &[NodeInfo]) -> bool {
        let mut map = self.nodes.write().expect("directory");
        let mut changed = false;
        for n in nodes {
            if map.get(&n.id) != Some(n) {
                map.insert(n.id, n.clone());
                changed = true;
            }
        }
        changed
    }

    /// Loads `path` if it exists (a missing or unreadable file is an empty directory).
    pub fn load(path: &std::path::Path) -> Directory {
        let d = Directory::default();
        if let Ok(bytes) = std::fs::read(path) {
            match serde_json::from_slice::<Vec<NodeInfo>>(&bytes) {
                Ok(nodes) => {
                    d.learn(&nodes);
                }
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "ignoring unreadable node directory")
                }
            }
        }
        d
    }
}

const FRAME_BYTES_TARGET: usize = 4 << 20;

pub struct Outbox {
    transport: Transport,
    dir: Directory,
    path: PathBuf,
    me: Option<NodeId>,
    pending: BTreeMap<NodeId, Vec<Envelope>>,
    stats: Arc<DriverStats>,
}

impl Outbox {
    pub fn new(
        transport: Transport,
        dir: Directory,
        path: PathBuf,
        stats: Arc<DriverStats>,
    ) -> Outbox {
        for n in dir.all() {
            set_addr(&transport, &n);
        }
        Outbox {
            transport,
            dir,
            path,
            me: None,
            pending: BTreeMap::new(),
            stats,
        }
    }

    pub fn set_me(&mut self, me: NodeId) {
        self.me = Some(me);
    }

    pub fn learn(&mut self, nodes: &[NodeInfo]) {
        if !self.dir.learn(nodes) {
            return;
        }
        for n in nodes {
            set_addr(&self.transport, n);
        }
        let all = self.dir.all();
        let tmp = self.path.with_extension("tmp");
        let write = std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&all).expect("nodes serialize"),
        )
        .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = write {
            warn!(error = %e, "could not save the node directory");
        }
    }

    pub fn push(&mut self, node: NodeId, env: Envelope) {
        self.pending.entry(node).or_default().push(env);
    }

    /// Makes sure `node` gets a frame this round, even an empty one (liveness).
    pub fn ping(&mut self, node: NodeId) {
        self.pending.entry(node).or_default();
    }

    pub fn flush(&mut self) {
        let Some(me) = self.me else {
            // Not registered yet: we cannot name ourselves to peers.
            self.stats.batches_dropped.add(self.pending.len() as u64);
            self.pending.clear();
            return;
        };
        for (node, envs) in std::mem::take(&mut self.pending) {
            let Some(info) = self.dir.get(node) else {
                self.stats.batches_dropped.inc();
                continue;
            };
            for frame in frames(me, envs) {
                let len = frame.len() as u64;
                match self.transport.send(&info.name, frame) {
                    Ok(()) => {
                        self.stats.batches_sent.inc();
                        self.stats.batch_bytes_sent.add(len);
                    }
                    Err(_) => self.stats.batches_dropped.inc(),
                }
            }
        }
    }
}

fn set_addr(transport: &Transport, n: &NodeInfo) {
    match n.quic_addr.parse() {
        Ok(addr) => {
            if let Err(e) = transport.set_peer_addr(&n.name, addr) {
                warn!(node = %n.name, error = %e, "peer address not set");
            }
        }
        Err(e) => warn!(node = %n.name, addr = %n.quic_addr, error = %e, "bad peer address"),
    }
}

/// Splits envelopes into frames of about `FRAME_BYTES_TARGET`.
fn frames(me: NodeId, envs: Vec<Envelope>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<Envelope> = Vec::new();
    let mut bytes = 0;
    let emit = |cur: Vec<Envelope>, out: &mut Vec<Vec<u8>>| {
        let batch = ReplicationBatch {
            from_node: me.0,
            envelopes: cur,
        };
        match wire::frame::encode(&batch, FRAME_BODY_BYTES_MAX_DEFAULT) {
            Ok(f) => out.push(f),
            Err(e) => warn!(error = %e, "replication batch not sent"),
        }
    };
    let empty = envs.is_empty();
    for env in envs {
        let size = envelope_bytes(&env);
        if bytes + size > FRAME_BYTES_TARGET && !cur.is_empty() {
            emit(std::mem::take(&mut cur), &mut out);
            bytes = 0;
        }
        bytes += size;
        cur.push(env);
    }
    if !cur.is_empty() || empty {
        emit(cur, &mut out);
    }
    out
}

fn envelope_bytes(env: &Envelope) -> usize {
    use wire::replication::Message;
    64 + match &env.msg {
        Message::Accept { entries, .. } | Message::FetchResp { entries, .. } => {
            entries.iter().map(|e| e.size_bytes()).sum()
        }
        Message::Snapshot { data, .. } => data.len(),
        _ => 0,
    }
}

/// Checks an inbound frame: a `ReplicationBatch` whose `from_node` is the node the
/// transport authenticated as `peer`. Returns the sender and its envelopes.
pub fn check_inbound(
    dir: &Directory,
    peer: &str,
    frame: &CheckedFrame,
) -> Result<(NodeId, Vec<Envelope>), String> {
    let batch: ReplicationBatch = frame.decode().map_err(|e| e.to_string())?;
    let from = NodeId(batch.from_node);
    match dir.get(from) {
        Some(n) if n.name == peer => Ok((from, batch.envelopes)),
        Some(n) => Err(format!(
            "peer {peer} claims to be node {from} ({}): dropped",
            n.name
        )),
        None => Err(format!("peer {peer} claims unknown node {from}: dropped")),
    }
}
