//! `cargo bench -p kubectl-sidecar` (part of `make bench`): `kubectl sidecar
//! analyze -f` on generated corpora of 1,000, 10,000 and 100,000 workloads
//! (one multi-document file: Deployments, StatefulSets, DaemonSets, Jobs,
//! CronJobs and Pods with 0–3 native or legacy sidecars each), wall time and
//! the process's own peak RSS (VmHWM), and kube-score scoring the same
//! 10,000-workload file in the same run. Targets: 10,000 workloads in under
//! 1 s, at least 5x kube-score, peak RSS flat across the three sizes.
//!
//! kube-score comes from the e2e peer cache (`make peers`); without it the
//! comparison prints a skip line and only our numbers.

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KINDS: [&str; 6] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Pod",
];
const SIDECARS: [(&str, &str); 3] = [
    ("istio-proxy", "docker.io/istio/proxyv2:1.24.0"),
    ("log-shipper", "fluent/fluent-bit:3.1"),
    (
        "cloud-sql-proxy",
        "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11",
    ),
];

/// A small deterministic generator (no rand dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// The PodSpec of workload `i`, indented by `pad`.
fn pod_spec(out: &mut String, i: usize, rng: &mut Lcg, pad: &str) {
    let sidecars = (rng.next() % 4) as usize;
    let native = !rng.next().is_multiple_of(4);
    let probed = rng.next().is_multiple_of(2);
    let _ = writeln!(out, "{pad}terminationGracePeriodSeconds: 30");
    let mut init = String::new();
    let mut legacy = String::new();
    for (n, (name, image)) in SIDECARS.iter().take(sidecars).enumerate() {
        let port = 15000 + n;
        let target = if native { &mut init } else { &mut legacy };
        let _ = writeln!(target, "{pad}- name: {name}\n{pad}  image: {image}");
        if native {
            let _ = writeln!(target, "{pad}  restartPolicy: Always");
        }
        let _ = writeln!(
            target,
            "{pad}  ports:\n{pad}  - containerPort: {port}\n{pad}  resources:\n{pad}    requests: {{cpu: 50m, memory: 64Mi}}\n{pad}    limits: {{memory: 128Mi}}"
        );
        if probed {
            let _ = writeln!(
                target,
                "{pad}  startupProbe:\n{pad}    tcpSocket: {{port: {port}}}\n{pad}    periodSeconds: 1\n{pad}    failureThreshold: 30"
            );
        }
    }
    if !init.is_empty() {
        let _ = writeln!(
            out,
            "{pad}initContainers:\n{pad}- name: migrate\n{pad}  image: registry.example/migrate:{i}\n{pad}  command: [/migrate]"
        );
        out.push_str(&init);
    }
    let _ = writeln!(
        out,
        "{pad}containers:\n{pad}- name: app\n{pad}  image: registry.example/app-{}:1.{}\n{pad}  ports:\n{pad}  - containerPort: 8080\n{pad}  readinessProbe:\n{pad}    httpGet: {{path: /ready, port: 8080}}\n{pad}  resources:\n{pad}    requests: {{cpu: 100m, memory: 128Mi}}\n{pad}    limits: {{memory: 256Mi}}",
        i % 97,
        i % 13
    );
    out.push_str(&legacy);
}

/// `n` workloads as one multi-document YAML file.
fn corpus(n: usize, path: &Path) {
    let mut rng = Lcg(42);
    let mut text = String::with_capacity(n * 1200);
    for i in 0..n {
        let kind = KINDS[i % KINDS.len()];
        let api = match kind {
            "Job" | "CronJob" => "batch/v1",
            "Pod" => "v1",
            _ => "apps/v1",
        };
        let _ = writeln!(
            text,
            "---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w{i}\n  namespace: team-{}\n  labels: {{app: w{i}}}",
            i % 50
        );
        match kind {
            "Pod" => {
                text.push_str("spec:\n");
                pod_spec(&mut text, i, &mut rng, "  ");
            }
            "CronJob" => {
                text.push_str("spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          labels: {app: w}\n        spec:\n          restartPolicy: OnFailure\n");
                pod_spec(&mut text, i, &mut rng, "          ");
            }
            "Job" => {
                text.push_str("spec:\n  template:\n    metadata:\n      labels: {app: w}\n    spec:\n      restartPolicy: Never\n");
                pod_spec(&mut text, i, &mut rng, "      ");
            }
            _ => {
                let _ = writeln!(
                    text,
                    "spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: w{i}}}\n  template:\n    metadata:\n      labels: {{app: w{i}}}\n    spec:"
                );
                pod_spec(&mut text, i, &mut rng, "      ");
            }
        }
    }
    std::fs::write(path, text).unwrap();
}

/// Wall time and the child's own peak RSS (KiB) of one run; `None` when it
/// did not run or was killed. The peak is the kernel's VmHWM of the exec'd
/// program, read every millisecond until it exits: wait4's ru_maxrss would
/// also count this benchmark's own memory, which the child shares between
/// its spawn and its exec.
fn measure(cmd: &mut Command) -> Option<(Duration, u64)> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    if status.signal().is_some() {
        return None;
    }
    Some((elapsed, peak))
}

/// Median wall time and the largest peak RSS over `runs` runs.
fn median(make: &mut dyn FnMut() -> Command, runs: usize) -> Option<(Duration, u64)> {
    let mut results: Vec<(Duration, u64)> = (0..runs)
        .map(|_| measure(&mut make()))
        .collect::<Option<_>>()?;
    let rss = results.iter().map(|r| r.1).max()?;
    results.sort();
    Some((results[runs / 2].0, rss))
}

fn main() {
    // `cargo bench -- --list` and filters: nothing to list, nothing to filter.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-sidecar"));
    // KPLUG_BENCH_DIR keeps the corpora (to profile or to try other tools on).
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("KPLUG_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let mut ten_k = None;
    for n in [1_000, 10_000, 100_000] {
        let file = dir.join(format!("corpus-{n}.yaml"));
        corpus(n, &file);
        let size = std::fs::metadata(&file).unwrap().len();
        let runs = if n >= 100_000 { 3 } else { 5 };
        let (time, rss) = median(
            &mut || {
                let mut c = Command::new(&ours);
                c.args(["analyze", "--color", "never", "-f"]).arg(&file);
                c
            },
            runs,
        )
        .expect("kubectl sidecar analyze runs");
        println!(
            "sidecar analyze -f, {n:>7} workloads ({:>6.1} MiB)   {time:>9.2?}   peak RSS {:>6.1} MiB",
            size as f64 / 1048576.0,
            rss as f64 / 1024.0
        );
        if n == 10_000 {
            ten_k = Some((file, time, rss));
        }
    }
    let (file, ours_time, ours_rss) = ten_k.unwrap();
    let Some(kube_score) = kplug::peers::find("KUBE_SCORE") else {
        println!(
            "skipped: kube-score comparison: no kube-score in the e2e peer cache (run `make peers`)"
        );
        return;
    };
    // kube-score exits 1 when it finds critical problems: that is a result.
    match median(
        &mut || {
            let mut c = Command::new(&kube_score);
            c.args(["score", "--output-format", "ci"]).arg(&file);
            c
        },
        3,
    ) {
        Some((theirs, rss)) => println!(
            "10,000 workloads: kubectl sidecar {ours_time:>9.2?} ({:.1} MiB)   kube-score v1.20.0 {theirs:>9.2?} ({:.1} MiB)   ratio {:.1}x   (targets: < 1 s, >= 5x)",
            ours_rss as f64 / 1024.0,
            rss as f64 / 1024.0,
            theirs.as_secs_f64() / ours_time.as_secs_f64()
        ),
        None => println!("kube-score did not finish on the 10,000-workload corpus"),
    }
}
