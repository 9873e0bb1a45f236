//! `scripts/bench cluster`: Cairn (real release binaries: etcd for the control plane, two
//! `cairn-control`, three `cairn-node`s in az1..az3, started by the test harness) against a
//! 3-member etcd cluster on loopback, in the same run, with the same load generator
//! (`load.rs`): PutItem / put of 1 KB values and consistent GetItem / linearizable get at 1, 16
//! and 64 concurrent clients, spread over the three endpoints of each system, rounds
//! alternating Cairn, etcd for every (operation, clients) pair. Then the failover measurement
//! (`failover.rs`). Prints markdown tables and, as its last line, one JSON object with the
//! headline figures (`put_64c_ratio_vs_etcd`, `get_64c_ratio_vs_etcd`, `put_p99_ms_64c`,
//! `etcd_put_p99_ms_64c`, `failover_gap_ms`, more) and every round. See BENCHMARKS.md.
//!
//! Env: `CAIRN_BENCH_SECS` (measured seconds per round, default 5), `CAIRN_BENCH_WARMUP_SECS`
//! (default 1), `CAIRN_BENCH_CLIENTS` (default `1,16,64`), `CAIRN_BENCH_PARTITIONS` (the
//! table's partitions, `--partitions-override` of cairn-control, default 6),
//! `CAIRN_BENCH_KEYS` (keys loaded before the rounds, default 10000), `CAIRN_BENCH_SEED`,
//! `CAIRN_BENCH_FAILOVER=0` (skip the failover), `CAIRN_BENCH_PERF=DIR` (a flat `perf
//! record` of the servers and this process during every round, `DIR/<system>-<op>-<n>.data`),
//! `CAIRN_BENCH_NODE_ARGS` (extra `cairn-node` flags, space-separated, e.g.
//! `--checkpoint-secs 1`), `CAIRN_BENCH_JSON=PATH` (also write the JSON there),
//! `CAIRN_BENCH_CAIRN_CLIENT=lean|sdk`
//! (Cairn's client: keep-alive signed HTTP, the default, or the AWS Rust SDK), `CAIRN_BIN_DIR` (where cairn-node etc.
//! are; default the target dir this program was built into, i.e. `target/release` under
//! `cargo bench`).
//!
//! Besides latency and throughput, every round records the CPU time the servers and this
//! load generator spent per operation (`/proc/PID/stat`), and the servers' own counters
//! (Cairn: WAL flushes, records per flush, flush time, replication frames, router forwards;
//! etcd: WAL fsyncs and their time), so a gap between the systems can be located.

mod etcd3;
mod failover;
mod load;
mod probe;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_cluster_tests::bins::Binaries;
use cairn_cluster_tests::dynamo::create_table_ready;
use cairn_cluster_tests::hist::Histogram;
use cairn_cluster_tests::keepalive::DynamoConn;
use cairn_cluster_tests::{Cluster, ClusterSpec};

use crate::load::{Conn, Op, RoundResult};
use crate::probe::Counters;

const TABLE: &str = "bench";
const PRELOAD_WORKERS: usize = 64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Cairn,
    Etcd,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Cairn => "cairn",
            System::Etcd => "etcd-3node",
        }
    }
}

/// One round with what was observed around it.
struct Row {
    system: System,
    op: Op,
    clients: usize,
    r: RoundResult,
    server_cpu_us_per_op: f64,
    client_cpu_us_per_op: f64,
    /// WAL fsyncs (Cairn: group-commit flushes over all nodes; etcd: WAL fsyncs over all
    /// members) per operation.
    fsyncs_per_op: f64,
    fsync_mean_ms: f64,
    /// Upper bounds of the histogram buckets holding the median and the 99th percentile.
    fsync_p50_le_ms: Option<f64>,
    fsync_p99_le_ms: Option<f64>,
    /// Bytes the servers wrote to storage per operation (WAL, tree/backend, metadata).
    disk_bytes_per_op: f64,
    /// Cairn only: log records per flush, replication frames per op, share of requests the
    /// router forwarded to another node.
    records_per_flush: Option<f64>,
    /// Cairn only: mean leader write time from proposal to reply, and mean engine commit.
    commit_mean_ms: Option<f64>,
    apply_mean_ms: Option<f64>,
    /// Cairn only: mean write time in the nodes' drivers (commit plus the wait for the
    /// driver), and mean API request time at the entry nodes (all of the server's part).
    driver_write_mean_ms: Option<f64>,
    api_mean_ms: Option<f64>,
    /// Cairn only: mean time of the WAL writer's durable batch write (write and sync).
    wal_write_ms: Option<f64>,
    frames_per_op: Option<f64>,
    /// Cairn only: replication frame bytes sent (all nodes) per op.
    repl_bytes_per_op: Option<f64>,
    forwarded_pct: Option<f64>,
}

struct Systems<'a> {
    cluster: &'a Cluster,
    etcd: &'a etcd3::Etcd3,
    cairn_conns: Vec<Conn>,
    etcd_conns: Vec<Conn>,
    cairn_pids: Vec<u32>,
    cairn_admin: Vec<SocketAddr>,
    etcd_metrics: Vec<SocketAddr>,
    keys: u64,
    warmup: Duration,
    secs: Duration,
    ticks_per_s: f64,
    /// `CAIRN_BENCH_PERF`: record a profile of every round here.
    perf_dir: Option<std::path::PathBuf>,
}

impl Systems<'_> {
    async fn round(&self, system: System, op: Op, clients: usize, seed: u64) -> Row {
        let (conns, pids, metrics) = match system {
            System::Cairn => (
                &self.cairn_conns,
                self.cairn_pids.clone(),
                &self.cairn_admin,
            ),
            System::Etcd => (&self.etcd_conns, self.etcd.pids(), &self.etcd_metrics),
        };
        let me = std::process::id();
        let before = Counters::scrape(metrics).await;
        let perf = self.perf_dir.as_ref().map(|dir| {
            let mut targets = pids.clone();
            targets.push(me);
            let file = dir.join(format!("{}-{}-{clients}.data", system.name(), op.name()));
            probe::PerfRecord::start(&targets, &file)
        });
        let (srv0, cli0) = (probe::cpu_ticks_of(&pids), probe::cpu_ticks(me));
        let disk0 = probe::write_bytes_of(&pids);
        let r = load::round(conns, clients, op, self.keys, self.warmup, self.secs, seed).await;
        let (srv1, cli1) = (probe::cpu_ticks_of(&pids), probe::cpu_ticks(me));
        let disk1 = probe::write_bytes_of(&pids);
        if let Some(p) = perf.flatten() {
            p.stop();
        }
        let d = Counters::scrape(metrics).await.since(&before);
        let ops = r.total_ops.max(1) as f64;
        let per_op_us = |ticks: u64| ticks as f64 / self.ticks_per_s * 1e6 / ops;
        let (fsyncs, fsync_s) = match system {
            System::Cairn => (
                d.get("cairn_wal_flushes_total"),
                d.get("cairn_wal_flush_seconds_sum"),
            ),
            System::Etcd => (
                d.get("etcd_disk_wal_fsync_duration_seconds_count"),
                d.get("etcd_disk_wal_fsync_duration_seconds_sum"),
            ),
        };
        let hist_name = match system {
            System::Cairn => "cairn_wal_flush_seconds",
            System::Etcd => "etcd_disk_wal_fsync_duration_seconds",
        };
        let cairn = |v: f64| (system == System::Cairn).then_some(v);
        let remote = d.get("cairn_router_forwards_total{result=\"remote\"}");
        let local = d.get("cairn_router_forwards_total{result=\"local\"}");
        let row = Row {
            system,
            op,
            clients,
            server_cpu_us_per_op: per_op_us(srv1.saturating_sub(srv0)),
            client_cpu_us_per_op: per_op_us(cli1.saturating_sub(cli0)),
            fsyncs_per_op: fsyncs / ops,
            disk_bytes_per_op: disk1.saturating_sub(disk0) as f64 / ops,
            fsync_mean_ms: if fsyncs > 0.0 {
                fsync_s / fsyncs * 1e3
            } else {
                0.0
            },
            fsync_p50_le_ms: d.bucket_quantile_ms(hist_name, 0.5),
            fsync_p99_le_ms: d.bucket_quantile_ms(hist_name, 0.99),
            records_per_flush: cairn(if fsyncs > 0.0 {
                d.get("cairn_wal_flush_records_total") / fsyncs
            } else {
                0.0
            }),
            commit_mean_ms: cairn(d.mean_ms("cairn_write_commit_seconds")),
            apply_mean_ms: cairn(d.mean_ms("cairn_engine_apply_seconds")),
            driver_write_mean_ms: cairn(d.mean_ms("cairn_write_seconds")),
            api_mean_ms: cairn({
                let op = match op {
                    Op::Put => "PutItem",
                    Op::Get => "GetItem",
                };
                let n = d.get(&format!("cairn_api_latency_seconds_count{{op=\"{op}\"}}"));
                let sum = d.get(&format!("cairn_api_latency_seconds_sum{{op=\"{op}\"}}"));
                if n > 0.0 { sum / n * 1e3 } else { 0.0 }
            }),
            wal_write_ms: cairn(
                d.get("cairn_wal_write_seconds_total") / d.get("cairn_wal_batches_total").max(1.0)
                    * 1e3,
            ),
            frames_per_op: cairn(d.get("cairn_replication_batches_sent_total") / ops),
            repl_bytes_per_op: cairn(d.get("cairn_replication_bytes_sent_total") / ops),
            forwarded_pct: cairn(if local + remote > 0.0 {
                100.0 * remote / (local + remote)
            } else {
                0.0
            }),
            r,
        };
        eprintln!(
            "bench: {} {} x{}: {:.0} ops/s p50 {:.2} ms p99 {:.2} ms, {} errors{}",
            system.name(),
            op.name(),
            clients,
            row.r.ops_per_s(),
            row.r.hist.quantile_ms(0.5),
            row.r.hist.quantile_ms(0.99),
            row.r.errors,
            row.r
                .first_errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
        row
    }
}

/// The Cairn connections: the lean client unless `CAIRN_BENCH_CAIRN_CLIENT=sdk`.
fn cairn_conns(cluster: &Cluster, client: &str) -> Vec<Conn> {
    match client {
        "sdk" => cairn_sdk_conns(cluster),
        "lean" => {
            let key = Arc::new(cluster.access_key().clone());
            (0..cluster.node_count())
                .map(|k| Conn::CairnHttp {
                    conn: Box::new(DynamoConn::new(
                        cluster.api_addr(k),
                        key.clone(),
                        Duration::from_secs(10),
                    )),
                    table: Arc::from(TABLE),
                })
                .collect()
        }
        other => panic!("CAIRN_BENCH_CAIRN_CLIENT={other:?}: expected lean or sdk"),
    }
}

fn cairn_sdk_conns(cluster: &Cluster) -> Vec<Conn> {
    (0..cluster.node_count())
        .map(|k| Conn::Cairn {
            client: cluster.client_one_attempt(k, Duration::from_secs(10)),
            table: Arc::from(TABLE),
        })
        .collect()
}

async fn etcd_conns(etcd: &etcd3::Etcd3) -> Vec<Conn> {
    let mut conns = Vec::new();
    for ep in etcd.endpoints() {
        let c = etcd_client::Client::connect([ep.clone()], None)
            .await
            .unwrap_or_else(|e| panic!("connecting to etcd member {ep}: {e}"));
        conns.push(Conn::Etcd(Box::new(c.kv_client())));
    }
    conns
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = Duration::from_secs_f64(env_or("CAIRN_BENCH_SECS", 5.0));
    let warmup = Duration::from_secs_f64(env_or("CAIRN_BENCH_WARMUP_SECS", 1.0));
    let clients_list: Vec<usize> = env_or("CAIRN_BENCH_CLIENTS", "1,16,64".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("CAIRN_BENCH_CLIENTS: numbers"))
        .collect();
    let partitions: u32 = env_or("CAIRN_BENCH_PARTITIONS", 6);
    let keys: u64 = env_or("CAIRN_BENCH_KEYS", 10_000);
    let seed: u64 = env_or("CAIRN_BENCH_SEED", 0x00c0_ffee);
    let do_failover = env_or("CAIRN_BENCH_FAILOVER", 1u8) != 0;
    let cairn_client: String = env_or("CAIRN_BENCH_CAIRN_CLIENT", "lean".to_owned());
    let load_start = probe::loadavg();
    let started = Instant::now();

    let tmp = std::env::temp_dir();
    eprintln!(
        "bench: floors (1 KB write+fdatasync on {}, 1 KB loopback round trip)",
        tmp.display()
    );
    let (fsync_floor, fsync_append_floor) = probe::fsync_floor(&tmp, 2.0);
    let rtt_floor = probe::loopback_floor(0.5);

    let bins = Binaries::locate(true).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("bench: cairn binaries {}", bins.node.display());
    let node_args: Vec<String> = env_or("CAIRN_BENCH_NODE_ARGS", String::new())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut cluster = Cluster::start(ClusterSpec {
        partitions: Some(partitions),
        node_args,
        // The daemon's default segment size, as a deployment runs it.
        wal_segment_mib: 64,
        ..ClusterSpec::default()
    })
    .await;
    let groups = create_table_ready(&cluster, TABLE).await;
    let mut leaders = vec![0usize; cluster.node_count()];
    for &g in &groups {
        if let Some(k) = cluster.leader_of(g).await {
            leaders[k] += 1;
        }
    }
    let etcd = etcd3::Etcd3::start(&bins.etcd).await;
    eprintln!(
        "bench: etcd peer {:?} (data {})",
        etcd.endpoints(),
        etcd.dir().display()
    );

    let cairn_pids: Vec<u32> = (0..cluster.node_count())
        .flat_map(|k| {
            let data = cluster.dir().join("data").join(cluster.node_name(k));
            probe::pids_with_arg(&data.to_string_lossy())
        })
        .collect();
    assert_eq!(
        cairn_pids.len(),
        cluster.node_count(),
        "one pid per cairn-node"
    );
    let systems = Systems {
        cluster: &cluster,
        etcd: &etcd,
        cairn_conns: cairn_conns(&cluster, &cairn_client),
        etcd_conns: etcd_conns(&etcd).await,
        cairn_pids,
        cairn_admin: (0..cluster.node_count())
            .map(|k| cluster.admin_addr(k))
            .collect(),
        etcd_metrics: etcd
            .endpoints()
            .iter()
            .map(|e| e.trim_start_matches("http://").parse().expect("etcd addr"))
            .collect(),
        keys,
        warmup,
        secs,
        ticks_per_s: probe::clock_ticks() as f64,
        perf_dir: std::env::var_os("CAIRN_BENCH_PERF").map(|d| {
            let d = std::path::PathBuf::from(d);
            std::fs::create_dir_all(&d).expect("CAIRN_BENCH_PERF dir");
            d
        }),
    };
    let t = Instant::now();
    let failed = load::preload(&systems.cairn_conns, PRELOAD_WORKERS, keys).await;
    assert_eq!(failed, 0, "Cairn preload: {failed} puts failed");
    eprintln!(
        "bench: cairn preload {keys} keys in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let failed = load::preload(&systems.etcd_conns, PRELOAD_WORKERS, keys).await;
    assert_eq!(failed, 0, "etcd preload: {failed} puts failed");
    eprintln!(
        "bench: etcd preload {keys} keys in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    let mut round_seed = seed;
    for &c in &clients_list {
        for op in [Op::Put, Op::Get] {
            for system in [System::Cairn, System::Etcd] {
                round_seed = round_seed.wrapping_add(1);
                rows.push(systems.round(system, op, c, round_seed).await);
            }
        }
    }
    let cluster_info = format!(
        "{} nodes in {} AZs, {} partitions (leaders per node {:?})",
        systems.cluster.node_count(),
        ClusterSpec::default().azs,
        groups.len(),
        leaders
    );
    drop(systems);
    let fo = if do_failover {
        eprintln!("bench: failover");
        Some(failover::run(&mut cluster, TABLE, keys, seed ^ 0xfa11).await)
    } else {
        None
    };
    let (fsync_floor_end, _) = probe::fsync_floor(&tmp, 1.0);
    let load_end = probe::loadavg();
    let report = Report {
        rows,
        fo,
        fsync_floor,
        fsync_append_floor,
        fsync_floor_end,
        rtt_floor,
        load_start,
        load_end,
        secs,
        warmup,
        keys,
        cluster_info,
        cairn_client,
        elapsed: started.elapsed(),
    };
    let json = report.json();
    print!("{}", report.markdown());
    println!("{json}");
    if let Ok(path) = std::env::var("CAIRN_BENCH_JSON") {
        std::fs::write(&path, format!("{json}\n"))
            .unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    drop(etcd);
    drop(cluster);
}

struct Report {
    rows: Vec<Row>,
    fo: Option<failover::Failover>,
    fsync_floor: Histogram,
    fsync_append_floor: Histogram,
    fsync_floor_end: Histogram,
    rtt_floor: Histogram,
    load_start: String,
    load_end: String,
    secs: Duration,
    warmup: Duration,
    keys: u64,
    cluster_info: String,
    /// `lean` (keep-alive HTTP, `keepalive.rs`) or `sdk` (AWS Rust SDK).
    cairn_client: String,
    elapsed: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

impl Report {
    fn find(&self, system: System, op: Op, clients: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.system == system && r.op == op && r.clients == clients)
    }

    fn ratio(&self, op: Op, clients: usize) -> Option<f64> {
        let c = self.find(System::Cairn, op, clients)?;
        let e = self.find(System::Etcd, op, clients)?;
        (e.r.ok > 0).then(|| c.r.ops_per_s() / e.r.ops_per_s())
    }

    /// etcd's server CPU per op over Cairn's (> 1: Cairn's servers spend less per op): the
    /// ratio with the load generator's own cost (which shares the machine) taken out.
    fn server_cpu_ratio(&self, op: Op, clients: usize) -> Option<f64> {
        let c = self.find(System::Cairn, op, clients)?;
        let e = self.find(System::Etcd, op, clients)?;
        (c.server_cpu_us_per_op > 0.0).then(|| e.server_cpu_us_per_op / c.server_cpu_us_per_op)
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n## scripts/bench cluster: 1 KB items, {} keys, {} s rounds after {} s warm-up, load {} -> {}\n\n\
             Cairn: {}; etcd-3node: etcd 3.4, 3 members on loopback. Clients spread over the 3 endpoints of each; \
             the load generator (Cairn: {} client; etcd: etcd-client) shares the machine's cores with the servers. \
             `ratio server CPU/op` = etcd's server CPU per op / Cairn's (> 1: Cairn's servers are cheaper).\n",
            self.keys,
            self.secs.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.load_start,
            self.load_end,
            self.cluster_info,
            self.cairn_client
        );
        let _ = writeln!(
            s,
            "| op | clients | system | ops/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | ratio ops/s | ratio server CPU/op |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.rows {
            let cairn = r.system == System::Cairn;
            let ratio = cairn.then(|| self.ratio(r.op, r.clients)).flatten();
            let cpu_ratio = cairn
                .then(|| self.server_cpu_ratio(r.op, r.clients))
                .flatten();
            let h = &r.r.hist;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
                r.op.name(),
                r.clients,
                r.system.name(),
                r.r.ops_per_s(),
                h.quantile_ms(0.5),
                h.quantile_ms(0.99),
                h.quantile_ms(0.999),
                h.max_ms(),
                r.r.errors,
                opt(ratio, 2),
                opt(cpu_ratio, 2)
            );
        }
        let _ = writeln!(
            s,
            "\nWhere the time goes (per operation, whole round incl. warm-up):\n\n\
             | op | clients | system | server CPU µs/op | client CPU µs/op | disk KB/op | fsyncs/op | fsync ms mean, p50≤, p99≤ | records/flush | WAL durable write ms mean | commit ms mean | driver write ms mean | API ms mean | engine apply ms mean | repl frames/op | repl KB/op | forwarded % |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.3} | {:.2}, {}, {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.op.name(),
                r.clients,
                r.system.name(),
                r.server_cpu_us_per_op,
                r.client_cpu_us_per_op,
                r.disk_bytes_per_op / 1024.0,
                r.fsyncs_per_op,
                r.fsync_mean_ms,
                opt(r.fsync_p50_le_ms, 1),
                opt(r.fsync_p99_le_ms, 1),
                opt(r.records_per_flush, 1),
                opt(r.wal_write_ms, 2),
                opt(r.commit_mean_ms, 2),
                opt(r.driver_write_mean_ms, 2),
                opt(r.api_mean_ms, 2),
                opt(r.apply_mean_ms, 3),
                opt(r.frames_per_op, 2),
                opt(r.repl_bytes_per_op.map(|b| b / 1024.0), 2),
                opt(r.forwarded_pct, 0)
            );
        }
        let _ = writeln!(
            s,
            "\nFloors (before the rounds): 1 KB write+fdatasync into a preallocated file p50 {:.3} ms p99 {:.3} ms ({} samples), \
             appending p50 {:.3} ms p99 {:.3} ms; preallocated again after the run p50 {:.3} ms p99 {:.3} ms; 1 KB loopback TCP round trip p50 {:.3} ms p99 {:.3} ms.",
            self.fsync_floor.quantile_ms(0.5),
            self.fsync_floor.quantile_ms(0.99),
            self.fsync_floor.count(),
            self.fsync_append_floor.quantile_ms(0.5),
            self.fsync_append_floor.quantile_ms(0.99),
            self.fsync_floor_end.quantile_ms(0.5),
            self.fsync_floor_end.quantile_ms(0.99),
            self.rtt_floor.quantile_ms(0.5),
            self.rtt_floor.quantile_ms(0.99)
        );
        if let Some(fo) = &self.fo {
            let _ = writeln!(
                s,
                "\nFailover ({} writers, kill -9 node{} leading {}/{} partitions, restart after 6 s): \
                 largest per-writer gap {:.0} ms, largest gap over all writers {:.0} ms, \
                 first success after the kill +{} ms, largest per-writer gap after the restart {:.0} ms; \
                 {} acked writes, {} failed attempts{}.",
                failover::WRITERS,
                fo.victim,
                fo.led_by_victim,
                fo.partitions,
                ms(fo.per_writer),
                ms(fo.all_writers),
                fo.first_success_after_kill
                    .map_or_else(|| "never".to_owned(), |d| format!("{:.0}", ms(d))),
                ms(fo.after_restart),
                fo.acked,
                fo.errors,
                fo.first_error
                    .as_ref()
                    .map(|e| format!(" (first: {})", e.chars().take(160).collect::<String>()))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(s, "\nTotal run time {:.0} s.\n", self.elapsed.as_secs_f64());
        s
    }

    fn json(&self) -> String {
        let num = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.3}"));
        let p = |system, op, q: f64| self.find(system, op, 64).map(|r| r.r.hist.quantile_ms(q));
        let ops = |system, op| self.find(system, op, 64).map(|r| r.r.ops_per_s());
        let rounds: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "system": r.system.name(), "op": r.op.name(), "clients": r.clients,
                    "ops_per_s": r.r.ops_per_s(), "ok": r.r.ok, "errors": r.r.errors,
                    "p50_ms": r.r.hist.quantile_ms(0.5), "p99_ms": r.r.hist.quantile_ms(0.99),
                    "p999_ms": r.r.hist.quantile_ms(0.999), "max_ms": r.r.hist.max_ms(),
                    "server_cpu_us_per_op": r.server_cpu_us_per_op,
                    "client_cpu_us_per_op": r.client_cpu_us_per_op,
                    "fsyncs_per_op": r.fsyncs_per_op, "disk_bytes_per_op": r.disk_bytes_per_op, "fsync_mean_ms": r.fsync_mean_ms,
                    "fsync_p50_le_ms": r.fsync_p50_le_ms, "fsync_p99_le_ms": r.fsync_p99_le_ms,
                    "records_per_flush": r.records_per_flush, "frames_per_op": r.frames_per_op,
                    "repl_bytes_per_op": r.repl_bytes_per_op,
                    "commit_mean_ms": r.commit_mean_ms, "apply_mean_ms": r.apply_mean_ms,
                    "driver_write_mean_ms": r.driver_write_mean_ms, "api_mean_ms": r.api_mean_ms,
                    "forwarded_pct": r.forwarded_pct,
                })
            })
            .collect();
        let fo = self.fo.as_ref();
        format!(
            "{{\"put_64c_ratio_vs_etcd\": {}, \"get_64c_ratio_vs_etcd\": {}, \"put_p99_ms_64c\": {}, \
             \"etcd_put_p99_ms_64c\": {}, \"failover_gap_ms\": {}, \"get_p99_ms_64c\": {}, \
             \"etcd_get_p99_ms_64c\": {}, \"put_ops_64c\": {}, \"etcd_put_ops_64c\": {}, \
             \"get_ops_64c\": {}, \"etcd_get_ops_64c\": {}, \"failover_gap_all_writers_ms\": {}, \
             \"failover_after_restart_gap_ms\": {}, \"put_64c_server_cpu_ratio_vs_etcd\": {}, \
             \"get_64c_server_cpu_ratio_vs_etcd\": {}, \"fsync_floor_p50_ms\": {:.3}, \
             \"fsync_append_floor_p50_ms\": {:.3}, \"fsync_floor_end_p50_ms\": {:.3}, \"loopback_rtt_p50_ms\": {:.3}, \"load_start\": \"{}\", \"load_end\": \"{}\", \
             \"cairn_client\": \"{}\", \"round_secs\": {}, \"rounds\": {}}}",
            num(self.ratio(Op::Put, 64)),
            num(self.ratio(Op::Get, 64)),
            num(p(System::Cairn, Op::Put, 0.99)),
            num(p(System::Etcd, Op::Put, 0.99)),
            num(fo.map(|f| ms(f.per_writer))),
            num(p(System::Cairn, Op::Get, 0.99)),
            num(p(System::Etcd, Op::Get, 0.99)),
            num(ops(System::Cairn, Op::Put)),
            num(ops(System::Etcd, Op::Put)),
            num(ops(System::Cairn, Op::Get)),
            num(ops(System::Etcd, Op::Get)),
            num(fo.map(|f| ms(f.all_writers))),
            num(fo.map(|f| ms(f.after_restart))),
            num(self.server_cpu_ratio(Op::Put, 64)),
            num(self.server_cpu_ratio(Op::Get, 64)),
            self.fsync_floor.quantile_ms(0.5),
            self.fsync_append_floor.quantile_ms(0.5),
            self.fsync_floor_end.quantile_ms(0.5),
            self.rtt_floor.quantile_ms(0.5),
            self.load_start,
            self.load_end,
            self.cairn_client,
            self.secs.as_secs_f64(),
            serde_json::Value::Array(rounds)
        )
    }
}
