//! `cairn-node`'s command line and the files it names (access keys, admin token), validated
//! before anything starts.
//!
//! Access keys file: one key per line, `ACCESS_KEY_ID SECRET_ACCESS_KEY`, `#` comments and
//! blank lines ignored; the admin token file holds one line. Both hold secrets, so the node
//! refuses files that the group or others may read (like the TLS key, `transport/certs.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(name = "cairn-node", version, about = "Cairn storage node")]
pub struct NodeArgs {
    /// This node's name: the host name of its certificate (`cairnctl certs issue --host`).
    #[arg(long)]
    pub name: String,
    /// The availability zone this node runs in (replicas of a partition go to distinct AZs).
    #[arg(long)]
    pub az: String,
    /// Data directory (WAL, tree, group registry); locked while the node runs.
    #[arg(long)]
    pub data: PathBuf,
    /// Directory with the cluster CA (`ca.pem`) and this node's certificate and key.
    #[arg(long)]
    pub certs: PathBuf,
    /// Node-to-node and router QUIC address.
    #[arg(long, default_value = "127.0.0.1:7500")]
    pub listen_quic: SocketAddr,
    /// The DynamoDB HTTP endpoint.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen_api: SocketAddr,
    /// `GET /metrics` (open) and `GET /debug/...` (admin token).
    #[arg(long, default_value = "127.0.0.1:9500")]
    pub listen_admin: SocketAddr,
    /// File holding the admin API's bearer token (one line, mode 0600).
    #[arg(long)]
    pub admin_token_file: PathBuf,
    /// Control-plane instances, `NAME@ADDR` (their `--name` and `--listen`), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub control: Vec<String>,
    /// SigV4 access keys (`ACCESS_KEY_ID SECRET` per line, mode 0600).
    #[arg(long)]
    pub access_keys: Option<PathBuf>,
    /// Accept unsigned requests (development only).
    #[arg(long)]
    pub no_auth: bool,
    /// One replication tick in milliseconds (elections take 10–20 ticks, leases 8).
    #[arg(long, default_value_t = 50)]
    pub tick_ms: u64,
    /// Longest time between engine checkpoints, in seconds (a checkpoint writes the pages
    /// dirtied since the last one; a restart replays the WAL written since).
    #[arg(long, default_value_t = 30)]
    pub checkpoint_secs: u64,
    /// WAL written since the last checkpoint, in MiB, that starts the next one early.
    #[arg(long, default_value_t = 64)]
    pub checkpoint_wal_mib: u64,
    /// Size of each preallocated WAL segment file, in MiB (1..=4096). Each new segment is
    /// zero-filled and synced before use; small segments suit test and dev clusters.
    #[arg(long, default_value_t = 64)]
    pub wal_segment_mib: u64,
    /// WAL flushes in flight at once (1..=8): more keeps the disk busy while the node
    /// handles a completion, at the price of smaller batches.
    #[arg(long, default_value_t = 1)]
    pub wal_flushes_in_flight: usize,
    /// The region reported in table ARNs.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Seconds between time-to-live sweeps of the partitions this node leads (1..=86400).
    #[arg(long, default_value_t = 10)]
    pub ttl_sweep_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("--control {0:?}: expected NAME@HOST:PORT")]
    Control(String),
    #[error("give --access-keys FILE, or --no-auth to accept unsigned requests")]
    NoKeys,
    #[error("--tick-ms must be between 5 and 1000")]
    Tick,
    #[error(
        "--checkpoint-secs must be between 1 and 3600 and --checkpoint-wal-mib between 1 and 4096"
    )]
    Checkpoint,
    #[error("--wal-flushes-in-flight must be between 1 and 8")]
    FlushesInFlight,
    #[error("--wal-segment-mib must be between 1 and 4096")]
    WalSegment,
    #[error("--ttl-sweep-secs must be between 1 and 86400")]
    TtlSweep,
}

impl NodeArgs {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(5..=1000).contains(&self.tick_ms) {
            return Err(ConfigError::Tick);
        }
        if !(1..=8).contains(&self.wal_flushes_in_flight) {
            return Err(ConfigError::FlushesInFlight);
        }
        if !(1..=4096).contains(&self.wal_segment_mib) {
            return Err(ConfigError::WalSegment);
        }
        if !(1..=86_400).contains(&self.ttl_sweep_secs) {
            return Err(ConfigError::TtlSweep);
        }
        if !(1..=3600).contains(&self.checkpoint_secs)
            || !(1..=4096).contains(&self.checkpoint_wal_mib)
        {
            return Err(ConfigError::Checkpoint);
        }
        if self.access_keys.is_none() && !self.no_auth {
            return Err(ConfigError::NoKeys);
        }
        self.controls()?;
        Ok(())
    }

    /// `(name, addr)` of every control-plane instance.
    pub fn controls(&self) -> Result<Vec<(String, SocketAddr)>, ConfigError> {
        self.control
            .iter()
            .map(|c| {
                let (name, addr) = c
                    .split_once('@')
                    .ok_or_else(|| ConfigError::Control(c.clone()))?;
                let addr = addr.parse().map_err(|_| ConfigError::Control(c.clone()))?;
                if name.is_empty() {
                    return Err(ConfigError::Control(c.clone()));
                }
                Ok((name.to_owned(), addr))
            })
            .collect()
    }
}

fn read_secret_file(path: &Path) -> Result<String, ConfigError> {
    let err = |reason: String| ConfigError::File {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(err(
                "holds secrets but the group or others may read it (chmod 600)".into(),
            ));
        }
    }
    if meta.len() > 1 << 20 {
        return Err(err("larger than 1 MiB".into()));
    }
    std::fs::read_to_string(path).map_err(|e| err(e.to_string()))
}

/// Reads an access keys file.
pub fn read_access_keys(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = read_secret_file(path)?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(secret), None) => keys.push((id.to_owned(), secret.to_owned())),
            _ => {
                return Err(ConfigError::File {
                    path: path.to_path_buf(),
                    reason: format!("line {}: expected ACCESS_KEY_ID SECRET", n + 1),
                });
            }
        }
    }
    if keys.is_empty() {
        return Err(ConfigError::File {
            path: path.to_path_buf(),
            reason: "no keys".into(),
        });
    }
    Ok(keys)
}

/// Reads the admin token (at least 16 characters).
pub fn read_admin_token(path: &Path) -> Result<String, ConfigError> {
    let token = read_secret_file(path)?.trim().to_owned();
    if token.len() < 16 || token.contains(char::is_whitespace) {
        return Err(ConfigError::File {
            path: path.to_path_buf(),
            reason: "the admin token must be one word of at least 16 characters".into(),
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_files_are_parsed_and_must_be_private() {
        let dir = crate::transport::test_support::TestDir::new("node-config");
        let p = dir.path().join("keys");
        std::fs::write(&p, "# dev\nAKID1 secret1\n\nAKID2 secret2\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_access_keys(&p).unwrap().len(), 2);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_access_keys(&p).is_err());
        std::fs::write(&p, "AKID1 secret1 extra\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_access_keys(&p).is_err());
        let t = dir.path().join("token");
        std::fs::write(&t, "short\n").unwrap();
        std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_admin_token(&t).is_err());
        std::fs::write(&t, "0123456789abcdef0123\n").unwrap();
        assert_eq!(read_admin_token(&t).unwrap(), "0123456789abcdef0123");
    }

    #[test]
    fn control_addresses_need_a_name() {
        let args = NodeArgs::parse_from([
            "cairn-node",
            "--name=n1",
            "--az=az1",
            "--data=/tmp/x",
            "--certs=/tmp/c",
            "--admin-token-file=/tmp/t",
            "--control=ctl-1@127.0.0.1:7400,@127.0.0.1:7410",
            "--no-auth",
        ]);
        assert!(matches!(args.validate(), Err(ConfigError::Control(_))));
    }
}
