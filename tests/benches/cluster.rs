//! `kubectl compat validate-cluster` end to end over 5,000 Nodes with
//! NodeFeature objects in a real kube-apiserver (target: under 2 s), beside
//! `kubectl get nodefeatures -A -o json` on the same objects — the cost of
//! merely listing them. The evaluation alone (target under 100 ms) is the
//! in-memory `validate-cluster 5000 nodes` case of the kubectl-compat bench.
//!
//! Needs the e2e peers (`make peers`); without them it prints a skip line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::nfd::{FLEET_SPEC, install_crds, mixed_fleet, publish_fleet};
use kplug_tests::e2e::peers;

const NODES: usize = 5000;
const RUNS: usize = 7;

/// Median wall time of `RUNS` runs (after one warm-up); panics on failure
/// unless the exit code is in `ok_codes`.
fn median(mut make: impl FnMut() -> Command, ok_codes: &[i32]) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..=RUNS {
        let start = Instant::now();
        let out = make()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("runs");
        let took = start.elapsed();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            ok_codes.contains(&code),
            "exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if run > 0 {
            times.push(took);
        }
    }
    times.sort();
    times[RUNS / 2]
}

fn main() {
    let Some(compat) = kplug_tests::e2e::bench_binary("validate-cluster bench", "kubectl-compat")
    else {
        return;
    };
    let cluster = Cluster::private();
    install_crds(&cluster);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let group = "bench";
    let started = Instant::now();
    runtime.block_on(async {
        let client = cluster.client(ADMIN).await;
        let ns = cluster.namespace("bench").await;
        publish_fleet(&client, &ns, mixed_fleet("node", group, NODES), 32).await;
    });
    println!(
        "setup: {NODES} Nodes and {} NodeFeatures created in {:.1} s",
        NODES - NODES / 4,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("fleet.yaml");
    std::fs::write(&spec, FLEET_SPEC).expect("write spec");
    let selector = format!("kplug-test={group}");

    let ours = |extra: &'static [&'static str]| {
        let (compat, spec, cluster, selector) = (&compat, &spec, &cluster, &selector);
        move || {
            let mut c = Command::new(compat);
            c.args(["validate-cluster", "--spec"])
                .arg(spec)
                .args(cluster.args(ADMIN))
                .args(["-l", selector])
                .args(extra);
            c
        }
    };
    let table = median(ours(&[]), &[0]);
    let json = median(ours(&["-o", "json"]), &[0]);
    let listing = median(
        || {
            let mut c = Command::new(peers::path("KUBECTL"));
            c.args(cluster.args(ADMIN)).args([
                "get",
                "nodefeatures.nfd.k8s-sigs.io",
                "-A",
                "-o",
                "json",
            ]);
            c
        },
        &[0],
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "validate-cluster, {NODES} nodes, real apiserver: table {:.0} ms, -o json {:.0} ms (median of {RUNS}; target < 2000 ms)",
        ms(table),
        ms(json)
    );
    println!(
        "  kubectl get nodefeatures -A -o json on the same objects: {:.0} ms; validate-cluster takes {:.2}x that",
        ms(listing),
        ms(table) / ms(listing)
    );
}
