//! Runs the built `cairnctl` binary: `certs init` and `certs issue` create the files with
//! the right modes, refuse to overwrite without `--force`, reject bad names, and produce an
//! identity the transport loads.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use storage_node::transport::certs;

fn cairnctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairnctl"))
        .args(args)
        .output()
        .expect("run cairnctl")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn certs_init_and_issue() {
    let dir = Dir(std::env::temp_dir().join(format!("cairnctl-certs-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let d = dir.0.join("pki"); // does not exist yet: init creates it
    let ds = d.to_str().unwrap();

    let out = cairnctl(&["certs", "init", "--dir", ds]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&d.join("ca.key")), 0o600);
    assert_eq!(mode(&d.join("ca.pem")), 0o644);
    let ca_before = std::fs::read(d.join("ca.pem")).unwrap();

    let out = cairnctl(&["certs", "init", "--dir", ds]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(d.join("ca.pem")).unwrap(), ca_before);

    let out = cairnctl(&[
        "certs",
        "issue",
        "--dir",
        ds,
        "--host",
        "node-1",
        "--san",
        "127.0.0.1",
        "--san",
        "node-1.local",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&d.join("node-1.key")), 0o600);
    assert_eq!(mode(&d.join("node-1.pem")), 0o644);
    let id = certs::load_identity(&d, "node-1").unwrap();
    assert_eq!(id.name, "node-1");

    let out = cairnctl(&["certs", "issue", "--dir", ds, "--host", "node-1"]);
    assert!(!out.status.success(), "overwrote without --force");
    let out = cairnctl(&["certs", "issue", "--dir", ds, "--host", "node-1", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&d.join("node-1.key")), 0o600);

    let out = cairnctl(&["certs", "issue", "--dir", ds, "--host", "../escape"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a DNS name"));
    assert!(!dir.0.join("escape.pem").exists());

    let out = cairnctl(&["certs", "bogus"]);
    assert!(!out.status.success());
}
