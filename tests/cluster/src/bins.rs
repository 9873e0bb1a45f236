//! Where the binaries a test cluster runs come from, and the one-shot `cairnctl` calls.
//!
//! Cairn's binaries (`cairn-node`, `cairn-control`, `cairnctl`) are taken from the workspace
//! target directory the test itself was built into: a test executable lives in
//! `target/<profile>/deps/`, so its grandparent is `target/<profile>/`. `cargo nextest run
//! --workspace` (what `scripts/test` runs) builds every binary of the workspace first;
//! `cargo test -p cairn-cluster-tests` alone does not, and then the harness fails with the
//! command to run. `CAIRN_BIN_DIR` overrides the directory.
//!
//! etcd comes from `CAIRN_ETCD_BIN`, else `etcd` on `PATH`, else `/usr/bin/etcd`; missing, the
//! test fails (DESIGN §13: fail, never skip) and says to install `etcd-server`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a binary could not be found or a `cairnctl` call failed.
#[derive(Debug, thiserror::Error)]
pub enum BinError {
    #[error(
        "{name} not found at {path}: build the workspace's binaries first \
         (`cargo build --bins`, or `cargo nextest run --workspace`, which builds them), \
         or point CAIRN_BIN_DIR at a directory holding them"
    )]
    MissingCairn { name: &'static str, path: PathBuf },
    #[error(
        "etcd not found (looked at $CAIRN_ETCD_BIN, PATH and /usr/bin/etcd): install it with \
         `apt-get install etcd-server` (scripts/test does), or set CAIRN_ETCD_BIN"
    )]
    MissingEtcd,
    #[error("cannot tell the target directory from the test executable {0}")]
    NoTargetDir(PathBuf),
    #[error("running {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed ({status}): {stderr}")]
    Failed {
        what: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// The programs a cluster runs.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub node: PathBuf,
    pub control: PathBuf,
    pub cairnctl: PathBuf,
    pub etcd: PathBuf,
}

impl Binaries {
    /// Finds every binary; `need_node` false allows a control-plane-only cluster to run
    /// before `cairn-node` exists.
    pub fn locate(need_node: bool) -> Result<Binaries, BinError> {
        let dir = match std::env::var_os("CAIRN_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => target_profile_dir()?,
        };
        let find = |name: &'static str, required: bool| {
            let path = dir.join(name);
            if required && !path.is_file() {
                return Err(BinError::MissingCairn { name, path });
            }
            Ok(path)
        };
        Ok(Binaries {
            node: find("cairn-node", need_node)?,
            control: find("cairn-control", true)?,
            cairnctl: find("cairnctl", true)?,
            etcd: etcd_binary().ok_or(BinError::MissingEtcd)?,
        })
    }

    /// `cairnctl certs init --dir DIR`: a new cluster CA.
    pub fn certs_init(&self, dir: &Path) -> Result<(), BinError> {
        let mut cmd = Command::new(&self.cairnctl);
        cmd.args(["certs", "init", "--dir"]).arg(dir);
        run(cmd, &format!("cairnctl certs init --dir {}", dir.display()))
    }

    /// `cairnctl certs issue --dir DIR --host NAME`: `NAME.pem` and `NAME.key`.
    pub fn certs_issue(&self, dir: &Path, host: &str) -> Result<(), BinError> {
        let mut cmd = Command::new(&self.cairnctl);
        cmd.args(["certs", "issue", "--dir"])
            .arg(dir)
            .args(["--host", host]);
        run(
            cmd,
            &format!("cairnctl certs issue --dir {} --host {host}", dir.display()),
        )
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), BinError> {
    let out = cmd.output().map_err(|source| BinError::Spawn {
        what: what.to_owned(),
        source,
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BinError::Failed {
            what: what.to_owned(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `target/<profile>/` from the running test executable (`target/<profile>/deps/<test>`).
fn target_profile_dir() -> Result<PathBuf, BinError> {
    let exe = std::env::current_exe().map_err(|e| BinError::Spawn {
        what: "current_exe".to_owned(),
        source: e,
    })?;
    let deps = exe
        .parent()
        .ok_or_else(|| BinError::NoTargetDir(exe.clone()))?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()
    } else {
        Some(deps)
    };
    dir.map(Path::to_path_buf).ok_or(BinError::NoTargetDir(exe))
}

/// etcd's path, if there is one.
fn etcd_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CAIRN_ETCD_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("etcd"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let p = PathBuf::from("/usr/bin/etcd");
        p.is_file().then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_is_the_grandparent_of_a_deps_executable() {
        let dir = target_profile_dir().unwrap();
        // Unit tests of this crate run from target/<profile>/deps/.
        assert!(
            dir.file_name()
                .is_some_and(|n| n == "debug" || n == "release" || dir.join("deps").is_dir()),
            "{}",
            dir.display()
        );
    }

    #[test]
    fn a_missing_binary_names_the_command_that_builds_it() {
        let e = BinError::MissingCairn {
            name: "cairn-node",
            path: PathBuf::from("/x/cairn-node"),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("cairn-node not found at /x/cairn-node"),
            "{msg}"
        );
        assert!(msg.contains("cargo build --bins"), "{msg}");
    }
}
