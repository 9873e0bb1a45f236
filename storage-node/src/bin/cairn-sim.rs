//! `cairn-sim`: runs the deterministic replication simulator (`sim/`) for
//! many seeds, or replays one. `scripts/sim` is the front door.
//!
//! ```text
//! cairn-sim --seeds N            run N random seeds
//! cairn-sim --minutes M          run random seeds for M minutes
//! cairn-sim --seed S             replay one seed, print its report
//! options: --base B (first seed instead of a random one), --threads T
//! ```
//! Every failure prints its violations and the exact replay command. The
//! last line is one JSON object:
//! `{"seeds": N, "failures": F, "simulated_hours": H, "faults_injected": K}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use storage_node::sim::{SimConfig, SimReport, run};

struct Args {
    seeds: Option<u64>,
    minutes: Option<f64>,
    seed: Option<u64>,
    base: Option<u64>,
    threads: usize,
}

fn usage(err: &str) -> ! {
    eprintln!("cairn-sim: {err}");
    eprintln!("usage: cairn-sim (--seeds N | --minutes M | --seed S) [--base B] [--threads T]");
    std::process::exit(2);
}

fn parse() -> Args {
    let mut a = Args {
        seeds: None,
        minutes: None,
        seed: None,
        base: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{v:?} is not a number")))
        };
        match flag.as_str() {
            "--seeds" => a.seeds = Some(num(value())),
            "--seed" => a.seed = Some(num(value())),
            "--base" => a.base = Some(num(value())),
            "--threads" => a.threads = num(value()).clamp(1, 64) as usize,
            "--minutes" => {
                let v = value();
                let m: f64 = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("{v:?} is not a number")));
                if m.is_nan() || m <= 0.0 {
                    usage("--minutes must be positive");
                }
                a.minutes = Some(m);
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if [a.seeds.is_some(), a.minutes.is_some(), a.seed.is_some()]
        .iter()
        .filter(|x| **x)
        .count()
        != 1
    {
        usage("give exactly one of --seeds, --minutes, --seed");
    }
    a
}

/// Run one seed; a panic (an invariant the core or the checkers assert)
/// is a failure of that seed, reported like any violation.
fn run_seed(seed: u64) -> SimReport {
    match std::panic::catch_unwind(|| run(SimConfig::new(seed))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            SimReport {
                seed,
                violations: vec![format!("panic: {msg}")],
                simulated_ms: 0,
                faults_injected: 0,
                ops_ok: 0,
                ops_unknown: 0,
                entries_applied: 0,
                replacements_completed: 0,
                transfers: 0,
                splits: 0,
                children_rejoined: 0,
            }
        }
    }
}

fn report_failure(r: &SimReport) {
    eprintln!("FAIL seed {}: {} violation(s)", r.seed, r.violations.len());
    for v in &r.violations {
        eprintln!("  {v}");
    }
    eprintln!("  replay: scripts/sim --seed {}", r.seed);
}

fn main() {
    let args = parse();
    if let Some(seed) = args.seed {
        let r = run_seed(seed);
        println!("{r:#?}");
        let failed = !r.violations.is_empty();
        if failed {
            report_failure(&r);
        }
        println!(
            "{{\"seeds\": 1, \"failures\": {}, \"simulated_hours\": {:.4}, \"faults_injected\": {}, \"splits\": {}, \"children_rejoined\": {}}}",
            u8::from(failed),
            r.simulated_ms as f64 / 3.6e6,
            r.faults_injected,
            r.splits,
            r.children_rejoined
        );
        std::process::exit(i32::from(failed));
    }
    let base = args.base.unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (t ^ (t >> 29)) % 1_000_000_000_000
    });
    let deadline = args
        .minutes
        .map(|m| Instant::now() + Duration::from_secs_f64(m * 60.0));
    let limit = args.seeds.unwrap_or(u64::MAX);
    let next = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new((0u64, 0u64, 0u64, 0u64, 0u64, 0u64)));
    eprintln!("cairn-sim: seeds from {base}, {} thread(s)", args.threads);
    let workers: Vec<_> = (0..args.threads)
        .map(|_| {
            let (next, totals) = (next.clone(), totals.clone());
            std::thread::spawn(move || {
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= limit {
                        return;
                    }
                    let r = run_seed(base + i);
                    let mut t = totals.lock().expect("totals");
                    t.0 += 1;
                    t.2 += r.simulated_ms;
                    t.3 += r.faults_injected;
                    t.4 += r.splits;
                    t.5 += r.children_rejoined;
                    if !r.violations.is_empty() {
                        t.1 += 1;
                        report_failure(&r);
                    }
                    if t.0 % 100 == 0 {
                        eprintln!("cairn-sim: {} seeds, {} failure(s)", t.0, t.1);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let t = *totals.lock().expect("totals");
    println!(
        "{{\"seeds\": {}, \"failures\": {}, \"simulated_hours\": {:.4}, \"faults_injected\": {}, \"splits\": {}, \"children_rejoined\": {}}}",
        t.0,
        t.1,
        t.2 as f64 / 3.6e6,
        t.3,
        t.4,
        t.5
    );
    std::process::exit(i32::from(t.1 > 0));
}
