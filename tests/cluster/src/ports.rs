//! Loopback port blocks for one test cluster.
//!
//! Every cluster gets a block of [`BLOCK_PORTS`] consecutive ports in
//! `FIRST_PORT..FIRST_PORT + BLOCKS * BLOCK_PORTS` (20000..31960, below Linux's ephemeral range
//! 32768..60999, so no outgoing connection of any process can be handed one of them). The
//! first block tried is derived from the process id and a per-process counter, so concurrent
//! nextest processes (one per test) and several clusters in one process start at different
//! blocks; a block is taken only if every port in it binds on TCP and UDP right now, and a
//! process never hands out the same block twice while it is held. Probing is racy against
//! other processes (a port may be taken between the probe and the child's bind), which is why
//! `Cluster::start` retries a whole start once on "address in use" (DESIGN §5.1).
//!
//! Layout inside a block (offsets): etcd client 0, etcd peer 1, control instances' QUIC 2..=5,
//! then per node `k` QUIC `6 + 3k`, API `7 + 3k`, admin `8 + 3k` ([`NODES_MAX`] nodes), then
//! the control instances' `/metrics` 48..=51.

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Ports per cluster.
pub const BLOCK_PORTS: u16 = 52;
/// The first port of the first block.
pub const FIRST_PORT: u16 = 20_000;
/// Number of blocks (the last ends at 31960).
pub const BLOCKS: u16 = 230;
/// Control-plane instances a block has ports for.
pub const CONTROLS_MAX: usize = 4;
/// Nodes a block has ports for.
pub const NODES_MAX: usize = 14;

const NODE_BASE: u16 = 2 + CONTROLS_MAX as u16;
const CONTROL_METRICS_BASE: u16 = NODE_BASE + 3 * NODES_MAX as u16;

/// Blocks held by this process (released on drop).
static HELD: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
static SEQ: AtomicU64 = AtomicU64::new(0);

/// One cluster's ports; released for reuse in this process when dropped.
#[derive(Debug)]
pub struct PortBlock {
    index: u16,
}

impl PortBlock {
    /// Takes a free block, starting the search at a place derived from the pid and a
    /// per-process counter; skips `avoid` (a block that just failed). `None` when every block
    /// is busy.
    pub fn take(avoid: Option<u16>) -> Option<PortBlock> {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let start = (u64::from(std::process::id()) * 31 + seq * 97) % u64::from(BLOCKS);
        for i in 0..u64::from(BLOCKS) {
            let index = ((start + i) % u64::from(BLOCKS)) as u16;
            if Some(index) == avoid {
                continue;
            }
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if held.contains(&index) || !block_is_free(index) {
                continue;
            }
            held.insert(index);
            return Some(PortBlock { index });
        }
        None
    }

    /// The block's number (for [`PortBlock::take`]'s `avoid`).
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The block's first port.
    pub fn base(&self) -> u16 {
        FIRST_PORT + self.index * BLOCK_PORTS
    }

    pub fn etcd_client(&self) -> u16 {
        self.base()
    }

    pub fn etcd_peer(&self) -> u16 {
        self.base() + 1
    }

    /// Control instance `i`'s QUIC port (`i < CONTROLS_MAX`).
    pub fn control(&self, i: usize) -> u16 {
        assert!(i < CONTROLS_MAX, "at most {CONTROLS_MAX} control instances");
        self.base() + 2 + i as u16
    }

    /// Control instance `i`'s `/metrics` port (`--listen-metrics`).
    pub fn control_metrics(&self, i: usize) -> u16 {
        assert!(i < CONTROLS_MAX, "at most {CONTROLS_MAX} control instances");
        self.base() + CONTROL_METRICS_BASE + i as u16
    }

    /// Node `k`'s QUIC port (`k < NODES_MAX`).
    pub fn node_quic(&self, k: usize) -> u16 {
        self.node(k)
    }

    /// Node `k`'s DynamoDB API port.
    pub fn node_api(&self, k: usize) -> u16 {
        self.node(k) + 1
    }

    /// Node `k`'s admin port (`/metrics`, `/debug/*`).
    pub fn node_admin(&self, k: usize) -> u16 {
        self.node(k) + 2
    }

    fn node(&self, k: usize) -> u16 {
        assert!(k < NODES_MAX, "at most {NODES_MAX} nodes per cluster");
        self.base() + NODE_BASE + 3 * k as u16
    }
}

impl Drop for PortBlock {
    fn drop(&mut self) {
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.index);
    }
}

/// True when every port of block `index` binds on loopback, TCP and UDP, right now.
fn block_is_free(index: u16) -> bool {
    let base = FIRST_PORT + index * BLOCK_PORTS;
    (base..base + BLOCK_PORTS).all(|port| {
        TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_stays_inside_the_block_and_below_the_ephemeral_range() {
        let top = FIRST_PORT + BLOCKS * BLOCK_PORTS;
        assert!(
            top <= 32_768,
            "blocks end at {top}, inside the ephemeral range"
        );
        let b = PortBlock::take(None).expect("a free block");
        let mut ports = vec![b.etcd_client(), b.etcd_peer()];
        ports.extend((0..CONTROLS_MAX).map(|i| b.control(i)));
        ports.extend((0..CONTROLS_MAX).map(|i| b.control_metrics(i)));
        for k in 0..NODES_MAX {
            ports.extend([b.node_quic(k), b.node_api(k), b.node_admin(k)]);
        }
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "two roles share a port");
        assert_eq!(
            ports.len(),
            usize::from(BLOCK_PORTS),
            "every port of the block is used"
        );
        assert!(
            ports
                .iter()
                .all(|&p| p >= b.base() && p < b.base() + BLOCK_PORTS)
        );
    }

    #[test]
    fn held_blocks_are_not_handed_out_twice_and_are_released_on_drop() {
        let a = PortBlock::take(None).unwrap();
        let b = PortBlock::take(Some(a.index())).unwrap();
        assert_ne!(a.index(), b.index());
        // A bound port makes its block unavailable to everyone.
        let c = PortBlock::take(None).unwrap();
        let busy = TcpListener::bind(("127.0.0.1", c.node_api(3))).unwrap();
        let c_index = c.index();
        drop(c);
        assert!(!block_is_free(c_index));
        drop(busy);
        let a_index = a.index();
        drop(a);
        assert!(!HELD.lock().unwrap().contains(&a_index));
    }
}
