//! Cheap observations around the rounds of `scripts/bench cluster`: machine load, CPU time of
//! processes (from `/proc/PID/stat`), counters scraped from Prometheus text (Cairn's and
//! etcd's `/metrics`), and the physical floors (a 1 KB `write + fdatasync` on the bench's
//! disk, a 1 KB loopback TCP round trip).
//!
//! Nothing here changes what it observes, except that the floors use the disk and a core for
//! a moment (they run between rounds, never during one).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_cluster_tests::hist::Histogram;
use cairn_cluster_tests::http;

/// The 1-minute load average.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, else 100).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// User + system CPU ticks of process `pid` (0 if it is gone).
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

/// Total CPU ticks of `pids`.
pub fn cpu_ticks_of(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| cpu_ticks(p)).sum()
}

/// Bytes process `pid` caused to be written to storage (`write_bytes` of `/proc/PID/io`;
/// 0 if it is gone). Page-cache writeback is charged to the process that dirtied the pages.
pub fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Total [`write_bytes`] of `pids`.
pub fn write_bytes_of(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| write_bytes(p)).sum()
}

/// A `perf record` of some processes for the length of one round (`CAIRN_BENCH_PERF=DIR`):
/// a flat profile (no call graphs, 499 Hz), stopped with SIGINT so perf writes its file.
pub struct PerfRecord {
    child: std::process::Child,
}

impl PerfRecord {
    /// Starts `perf record` on `pids` writing `out`; `None` (with a message) if perf cannot run.
    /// `CAIRN_BENCH_PERF_CALLGRAPH=1` records call graphs (DWARF unwinding, 16 KB of stack);
    /// `=fp` walks frame pointers instead (cheap, and it sees through hand-written assembly
    /// such as blake3's, but only for binaries built with `-C force-frame-pointers=yes`).
    pub fn start(pids: &[u32], out: &Path) -> Option<PerfRecord> {
        let list = pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = std::process::Command::new("perf");
        cmd.args(["record", "-q", "-F", "499"]);
        match std::env::var("CAIRN_BENCH_PERF_CALLGRAPH").as_deref() {
            Ok("1") => {
                cmd.args(["--call-graph", "dwarf,16384"]);
            }
            Ok("fp") => {
                cmd.args(["--call-graph", "fp"]);
            }
            _ => {}
        }
        let child = cmd
            .args(["-p", &list, "-o"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(PerfRecord { child }),
            Err(e) => {
                eprintln!("bench: cannot run perf ({e}); no profile");
                None
            }
        }
    }

    /// SIGINT (perf's normal stop) and wait for it to write its file.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("/bin/sh")
            .args(["-c", "kill -s INT \"$0\"", &pid])
            .status();
        let _ = self.child.wait();
    }
}

/// Pids of the processes whose command line contains `needle` (e.g. a node's data dir).
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
            // The setpriv wrapper execs the daemon, so one pid carries the daemon's args.
            if args.iter().any(|a| a == &needle.as_bytes()) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Sums of Prometheus counters by series (`name` or `name{labels}`), over several scrapes.
#[derive(Clone, Debug, Default)]
pub struct Counters(pub BTreeMap<String, f64>);

impl Counters {
    /// Adds every sample line of a Prometheus/OpenMetrics text.
    pub fn add_text(&mut self, text: &str) {
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Ok(v) = value.trim().parse::<f64>() {
                *self.0.entry(series.trim().to_owned()).or_default() += v;
            }
        }
    }

    /// `GET /metrics` of every address, summed (unreachable ones are skipped).
    pub async fn scrape(addrs: &[SocketAddr]) -> Counters {
        let mut c = Counters::default();
        for &a in addrs {
            if let Ok(r) = http::get(a, "/metrics", None, Duration::from_secs(3)).await
                && r.status == 200
            {
                c.add_text(&r.text());
            }
        }
        c
    }

    /// The value of `series` (0 if absent).
    pub fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// The mean (in ms) of histogram `name` (`_sum` / `_count`); 0 without samples.
    pub fn mean_ms(&self, name: &str) -> f64 {
        let count = self.get(&format!("{name}_count"));
        if count > 0.0 {
            self.get(&format!("{name}_sum")) / count * 1e3
        } else {
            0.0
        }
    }

    /// The upper bound (in ms) of the first bucket of histogram `name` (`name_bucket{le=..}`
    /// series, cumulative) that holds quantile `q` of its samples; `None` without samples.
    pub fn bucket_quantile_ms(&self, name: &str, q: f64) -> Option<f64> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(f64, f64)> = self
            .0
            .iter()
            .filter_map(|(k, &v)| {
                let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        buckets
            .iter()
            .find(|(_, c)| *c >= q * total)
            .map(|(le, _)| le * 1e3)
    }

    /// `self - earlier`, series by series.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.get(k)))
                .collect(),
        )
    }
}

/// Bytes of the preallocated floor file (the writes wrap around inside it).
const FLOOR_FILE_BYTES: u64 = 8 << 20;

/// The `write(1 KB) + fdatasync` floor on `dir`'s disk, one writer for `secs`, two ways:
/// `preallocated` overwrites consecutive 1 KB slots of a zero-filled, synced file (what a WAL
/// with preallocated segments does, Cairn's and etcd's both), `appending` extends the file
/// (each fdatasync also commits the new size). Returns `(preallocated, appending)`.
pub fn fsync_floor(dir: &Path, secs: f64) -> (Histogram, Histogram) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(format!("cairn-bench-fsync-{}", std::process::id()));
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .expect("fsync floor file")
    };
    let buf = vec![0x5a_u8; 1024];
    let f = open();
    f.write_all_at(&vec![0u8; FLOOR_FILE_BYTES as usize], 0)
        .expect("floor prefill");
    f.sync_all().expect("floor prefill sync");
    let mut pre = Histogram::default();
    let end = Instant::now() + Duration::from_secs_f64(secs / 2.0);
    let mut off = 0;
    while Instant::now() < end {
        let t = Instant::now();
        f.write_all_at(&buf, off).expect("floor write");
        f.sync_data().expect("floor fdatasync");
        pre.record(t.elapsed());
        off = (off + 1024) % FLOOR_FILE_BYTES;
    }
    drop(f);
    let mut f = open();
    let mut app = Histogram::default();
    let end = Instant::now() + Duration::from_secs_f64(secs / 2.0);
    while Instant::now() < end {
        let t = Instant::now();
        f.write_all(&buf).expect("floor write");
        f.sync_data().expect("floor fdatasync");
        app.record(t.elapsed());
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    (pre, app)
}

/// The loopback floor: 1 KB request, 1 KB reply over one TCP connection (blocking I/O, an
/// echo thread), for `secs`.
pub fn loopback_floor(secs: f64) -> Histogram {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback listener");
    let addr = listener.local_addr().expect("listener address");
    let echo = std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_nodelay(true);
        let mut buf = [0u8; 1024];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                return;
            }
        }
    });
    let mut s = std::net::TcpStream::connect(addr).expect("loopback connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = [0x5a_u8; 1024];
    let mut h = Histogram::default();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        let t = Instant::now();
        s.write_all(&buf).expect("loopback write");
        s.read_exact(&mut buf).expect("loopback read");
        h.record(t.elapsed());
    }
    drop(s);
    let _ = echo.join();
    h
}
