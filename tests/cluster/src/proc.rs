//! One child process of a test cluster: how to (re)start it, signal it and read its log.
//!
//! Invariants:
//! - Only pids this `Proc` spawned are ever signalled, and only while the child is unreaped
//!   (a `Child` not yet waited for keeps its pid from being reused), so a stop can never hit
//!   an unrelated process.
//! - stdout and stderr go to one log file, opened in append mode: a restart appends after a
//!   `=== harness: start #N ===` marker, so a failure shows the whole history.
//! - Children stay in the test's process group (nextest kills the group on timeout) and, when
//!   `setpriv` exists (util-linux, always on Debian), are started through
//!   `setpriv --pdeathsig KILL` so they die with the thread that spawned them even if the
//!   test process is SIGKILLed before `Drop` runs. Spawn from a long-lived thread (a tokio
//!   worker or the test thread), never from `spawn_blocking`.
//! - Dropping a `Proc` SIGKILLs and reaps it.
//!
//! Neighbours: `cluster.rs` builds the command lines; `http.rs` checks readiness.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Bytes of a log read back for a tail.
const TAIL_BYTES_MAX: u64 = 64 * 1024;
/// Where `setpriv` lives on Debian.
const SETPRIV: &str = "/usr/bin/setpriv";

/// A restartable child process with a log file.
#[derive(Debug)]
pub struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Proc {
    /// A process named `name` (for messages) that runs `program args`, logging to `log`.
    /// Nothing is started yet.
    pub fn new(name: &str, program: &Path, args: Vec<OsString>, log: PathBuf) -> Proc {
        Proc {
            name: name.to_owned(),
            program: program.to_owned(),
            args,
            env: Vec::new(),
            log,
            child: None,
            starts: 0,
        }
    }

    /// Adds an environment variable for every start.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Starts the process (it must not be running).
    pub fn start(&mut self) -> std::io::Result<()> {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(
            log,
            "=== harness: start #{} of {}: {} ===",
            self.starts,
            self.name,
            self.command_line()
        )?;
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut c = Command::new(SETPRIV);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&self.program);
            c
        } else {
            Command::new(&self.program)
        };
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn()?);
        Ok(())
    }

    /// The pid while a child is running (or exited but unreaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while started and not known to have exited.
    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none() && self.child.is_some()
    }

    /// The exit status if the child has exited (reaps it; the `Proc` can be started again).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            Ok(None) | Err(_) => None,
        }
    }

    /// SIGKILL and reap. Nothing happens if it is not running.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (a name `kill -s` understands: TERM, STOP, CONT) to the running child.
    pub fn signal(&self, signal: &str) -> std::io::Result<()> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        // The shell's builtin `kill` (dash is always there; procps' /usr/bin/kill may not be).
        let status = Command::new("/bin/sh")
            .args(["-c", "kill -s \"$0\" \"$1\"", signal, &pid.to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "kill -s {signal} {pid} ({}) failed: {status}",
                self.name
            )))
        }
    }

    /// SIGTERM, then wait up to `grace` for the exit; SIGKILL if it is still running. Returns
    /// the exit status when it stopped by itself within `grace`.
    pub async fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.child.as_ref()?;
        if self.signal("TERM").is_err() {
            self.kill9();
            return None;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill9();
        None
    }

    /// The whole log as text (lossy UTF-8).
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log (reads at most the last 64 KiB).
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log, lines).unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The last `lines` lines of the file at `path`.
pub fn tail_of(path: &Path, lines: usize) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES_MAX)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cairn-proc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn logs_append_across_restarts_and_kill9_reaps_only_our_child() {
        let d = scratch("restart");
        let mut p = Proc::new(
            "sleeper",
            Path::new("/bin/sh"),
            vec!["-c".into(), "echo hello-$$; exec sleep 30".into()],
            d.join("sleeper.log"),
        );
        p.start().unwrap();
        let first = p.pid().unwrap();
        assert!(p.is_running());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(Path::new(&format!("/proc/{first}")).exists());
        p.kill9();
        assert!(!p.is_running());
        assert_eq!(p.pid(), None);
        p.start().unwrap();
        let second = p.pid().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = p.log_text();
        assert!(log.contains("=== harness: start #1 of sleeper"), "{log}");
        assert!(log.contains("=== harness: start #2 of sleeper"), "{log}");
        assert!(log.contains(&format!("hello-{first}")), "{log}");
        assert!(log.contains(&format!("hello-{second}")), "{log}");
        assert_eq!(p.log_tail(1), format!("hello-{second}"));
        drop(p);
        // Reaped: the pid is gone (or reused by something that is not our sleeper).
        let cmdline = std::fs::read(format!("/proc/{second}/cmdline")).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&cmdline).contains("sleep"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn terminate_reports_a_graceful_exit_and_kills_one_that_ignores_sigterm() {
        let d = scratch("term");
        let mut polite = Proc::new(
            "polite",
            Path::new("/bin/sh"),
            vec![
                "-c".into(),
                "trap 'exit 3' TERM; while :; do sleep 0.05; done".into(),
            ],
            d.join("polite.log"),
        );
        polite.start().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = polite.terminate(Duration::from_secs(5)).await;
        assert_eq!(status.and_then(|s| s.code()), Some(3));

        let mut stubborn = Proc::new(
            "stubborn",
            Path::new("/bin/sh"),
            vec![
                "-c".into(),
                "trap '' TERM; while :; do sleep 0.05; done".into(),
            ],
            d.join("stubborn.log"),
        );
        stubborn.start().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        assert_eq!(stubborn.terminate(Duration::from_millis(300)).await, None);
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(!stubborn.is_running());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn an_exited_child_is_noticed_and_can_be_started_again() {
        let d = scratch("exit");
        let mut p = Proc::new(
            "quick",
            Path::new("/bin/sh"),
            vec!["-c".into(), "echo bye; exit 7".into()],
            d.join("quick.log"),
        );
        p.start().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(s) = p.exit_status() {
                break s;
            }
            assert!(Instant::now() < deadline, "sh did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(status.code(), Some(7));
        assert!(
            p.signal("TERM").is_ok(),
            "signalling a reaped child is a no-op"
        );
        p.start().unwrap();
        let _ = std::fs::remove_dir_all(&d);
    }
}
