//! The leader's view of one peer: how far its log matches, what to send
//! next, and how many Accepts are in flight (bounded by
//! `Settings::inflight_msgs_max`).
//!
//! States (as in raft-rs): `Probe` sends one Accept at a time until the
//! peer's match point is found; `Replicate` pipelines; `Snapshot` waits for
//! a snapshot to be installed. Invariant: `matched < next`.

use std::collections::VecDeque;

use wire::replication::LogIndex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    Probe,
    Replicate,
    Snapshot { index: LogIndex },
}

#[derive(Clone, Debug)]
pub struct Progress {
    pub matched: LogIndex,
    pub next: LogIndex,
    pub state: PeerState,
    /// Last index of each Accept in flight (Replicate) — oldest first.
    pub inflight: VecDeque<LogIndex>,
    /// Probe: an Accept is out; wait for its answer or a heartbeat round.
    pub probe_sent: bool,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    /// Highest heartbeat sequence number acknowledged.
    pub hb_acked: u64,
    /// It asked for a snapshot: it joined with no state.
    pub wants_snapshot: bool,
}

impl Progress {
    pub fn new(next: LogIndex) -> Progress {
        Progress {
            matched: 0,
            next,
            state: PeerState::Probe,
            inflight: VecDeque::new(),
            probe_sent: false,
            recent_active: true,
            hb_acked: 0,
            wants_snapshot: false,
        }
    }

    /// May another Accept go out now?
    pub fn can_send(&self, inflight_max: usize) -> bool {
        match self.state {
            PeerState::Probe => !self.probe_sent,
            PeerState::Replicate => self.inflight.len() < inflight_max,
            PeerState::Snapshot { .. } => false,
        }
    }

    /// An Accept ending at `last` went out.
    pub fn sent(&mut self, last: LogIndex) {
        match self.state {
            PeerState::Probe => self.probe_sent = true,
            PeerState::Replicate => {
                if last >= self.next {
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
            PeerState::Snapshot { .. } => unreachable!("no Accepts while a snapshot is pending"),
        }
    }

    /// The peer's log matches through `index`. Returns whether anything
    /// advanced.
    pub fn acked(&mut self, index: LogIndex) -> bool {
        let advanced = index > self.matched;
        if advanced {
            self.matched = index;
        }
        if self.next <= index {
            self.next = index + 1;
        }
        while self.inflight.front().is_some_and(|&l| l <= index) {
            self.inflight.pop_front();
        }
        match self.state {
            PeerState::Probe => {
                self.state = PeerState::Replicate;
                self.probe_sent = false;
            }
            PeerState::Snapshot { index: s } if index >= s => {
                self.state = PeerState::Replicate;
            }
            _ => {}
        }
        advanced
    }

    /// The peer refused an Accept; `hint` is the highest index at which its
    /// log may still match. Returns whether the progress changed.
    pub fn refused(&mut self, hint: LogIndex) -> bool {
        if let PeerState::Snapshot { .. } = self.state {
            return false;
        }
        self.next = (hint + 1).max(self.matched + 1).min(self.next);
        self.state = PeerState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
        true
    }

    pub fn become_snapshot(&mut self, index: LogIndex) {
        self.state = PeerState::Snapshot { index };
        self.inflight.clear();
        self.probe_sent = false;
    }

    /// A heartbeat round lets a paused probe try again.
    pub fn resume_probe(&mut self) {
        self.probe_sent = false;
    }
}
