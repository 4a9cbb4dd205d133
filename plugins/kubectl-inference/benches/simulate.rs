//! `cargo bench -p kubectl-inference --bench simulate` (part of `make
//! bench`): the simulator's speed and memory.
//! - 10 servers × 1,000 QPS × 60 s (about 60,000 requests) on one thread,
//!   per router: wall time and simulated requests a second (target: < 2 s);
//! - the command's default ladder (10 rates × random and epp) on one
//!   thread and on every core: the parallel speed-up;
//! - peak memory of 60 s against 600 s of a sustainable load (10 servers
//!   at 400 QPS): flat, the statistics are histograms and requests are
//!   drawn as they arrive.

use std::process::Command;
use std::time::Instant;

use kplug_inference::simulate::router::Router;
use kplug_inference::simulate::run::{self, Setup};
use kplug_inference::simulate::server::StepModel;

const RUNS: usize = 3;

/// The process's peak resident memory so far (Linux), in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn setup(duration: f64) -> Setup {
    Setup {
        servers: 10,
        model: StepModel::blog(),
        duration,
        ..Setup::default()
    }
}

fn main() {
    // Memory first: the peak is the process's, and later runs would set it.
    let before = peak_mib();
    let short = run::run(&setup(60.0), Router::parse("epp").expect("epp"), 400.0);
    let after_short = peak_mib();
    let long = run::run(&setup(600.0), Router::parse("epp").expect("epp"), 400.0);
    let after_long = peak_mib();
    match (before, after_short, after_long) {
        (Some(b), Some(s), Some(l)) => println!(
            "simulate memory, 10 servers at 400 QPS: peak {s:.1} MiB after 60 s ({} requests), {l:.1} MiB after 600 s ({} requests); {b:.1} MiB before",
            short.requests, long.requests
        ),
        _ => println!("skipped: simulate memory: no /proc/self/status on this system"),
    }

    let one = setup(60.0);
    for router in ["random", "legacy", "epp"] {
        let mut times = Vec::new();
        let mut requests = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let o = run::run(&one, Router::parse(router).expect("a router"), 1000.0);
            times.push(t.elapsed().as_secs_f64());
            requests = o.requests;
        }
        times.sort_by(f64::total_cmp);
        let median = times[RUNS / 2];
        println!(
            "simulate {router:<7} 10 servers × 1,000 QPS × 60 s ({requests} requests), one thread: median {:.3} s, {:.0} simulated requests/s",
            median,
            requests as f64 / median
        );
    }

    let bin = env!("CARGO_BIN_EXE_kubectl-inference");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ladder = |jobs: usize| {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["simulate", "-o", "csv", "-j", &jobs.to_string()])
            .output()
            .expect("kubectl-inference runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (t.elapsed().as_secs_f64(), out.stdout)
    };
    let (serial, a) = ladder(1);
    let (parallel, b) = ladder(cores);
    assert_eq!(a, b, "the same output on any number of threads");
    println!(
        "simulate default ladder (10 rates × random, epp; 60 s each) as a command: one thread {serial:.2} s, {cores} threads {parallel:.2} s ({:.2}× faster)",
        serial / parallel
    );
}
