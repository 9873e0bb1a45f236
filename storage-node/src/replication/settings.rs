//! Tunables of one replica, in ticks, messages and bytes, and the rules
//! that make them safe together (checked by [`Settings::validate`]).
//!
//! Time is counted in ticks the driver delivers ([`super::Replica::tick`]);
//! every member of a group must tick at the same nominal rate. The lease
//! argument (module docs of `leader.rs`) needs
//! `lease_ticks + 2 <= election_ticks`: a follower that acknowledged a
//! heartbeat refuses other candidates for `election_ticks` of its own
//! ticks, and one tick is lost to rounding at each end.

/// Why settings were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "heartbeat_ticks ({heartbeat}) must be at least 1 and below election_ticks ({election})"
    )]
    Heartbeat { heartbeat: u32, election: u32 },
    #[error("lease_ticks ({lease}) + 2 must not exceed election_ticks ({election})")]
    Lease { lease: u32, election: u32 },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Minimum election timeout; each timeout is drawn from
    /// `[election_ticks, 2 * election_ticks)`.
    pub election_ticks: u32,
    /// Leader heartbeat period.
    pub heartbeat_ticks: u32,
    /// How long a quorum-acknowledged heartbeat lets the leader serve
    /// consistent reads locally, counted from when it was sent.
    pub lease_ticks: u32,
    /// Accept messages in flight to one follower.
    pub inflight_msgs_max: usize,
    /// Entry bytes in one Accept (at least one entry is always sent).
    pub accept_bytes_max: usize,
    /// Entries appended but not yet committed at the leader.
    pub uncommitted_entries_max: usize,
    /// Consistent reads waiting for a quorum round at the leader.
    pub pending_reads_max: usize,
    /// Entry bytes in one fetch response (leader recovery from a log member).
    pub fetch_bytes_max: u64,
    /// Committed entries handed to the driver in one `Ready`.
    pub apply_entries_max: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            election_ticks: 10,
            heartbeat_ticks: 2,
            lease_ticks: 8,
            inflight_msgs_max: 64,
            accept_bytes_max: 1 << 20,
            uncommitted_entries_max: 4096,
            pending_reads_max: 4096,
            fetch_bytes_max: 4 << 20,
            apply_entries_max: 1024,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.heartbeat_ticks == 0 || self.heartbeat_ticks >= self.election_ticks {
            return Err(SettingsError::Heartbeat {
                heartbeat: self.heartbeat_ticks,
                election: self.election_ticks,
            });
        }
        if self.lease_ticks + 2 > self.election_ticks {
            return Err(SettingsError::Lease {
                lease: self.lease_ticks,
                election: self.election_ticks,
            });
        }
        for (name, v) in [
            ("inflight_msgs_max", self.inflight_msgs_max),
            ("accept_bytes_max", self.accept_bytes_max),
            ("uncommitted_entries_max", self.uncommitted_entries_max),
            ("pending_reads_max", self.pending_reads_max),
            ("apply_entries_max", self.apply_entries_max),
        ] {
            if v == 0 {
                return Err(SettingsError::Zero(name));
            }
        }
        if self.fetch_bytes_max == 0 {
            return Err(SettingsError::Zero("fetch_bytes_max"));
        }
        Ok(())
    }
}
