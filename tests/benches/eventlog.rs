//! `kubectl eventlog` against its peers, same run, same data:
//! - `import` of a generated file of 1,000,000 Events into SQLite and into
//!   PostgreSQL: events per second end to end, and the importer's peak RSS;
//! - the collector's memory (RSS, sampled) while a real API server receives
//!   20,000 new Events: target flat, under 100 MB;
//! - listing those Events: `kubectl get events -A -o json` and `kubectl
//!   events -A` against the API server, `kubectl eventlog query -A` against
//!   the store;
//! - a fleet on one PostgreSQL: four writers, one per cluster, each storing
//!   250,000 Events at once, against the single writer above: the total
//!   rate, and the latency of queries while they write.
//!
//! Needs the e2e peers (kube-apiserver, etcd, PostgreSQL, kubectl).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kplug_tests::corpus::REASONS;
use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::postgres::Postgres;
use kplug_tests::e2e::{objects, peers};
use serde_json::json;

const IMPORTED: usize = 1_000_000;
/// Writers of the fleet bench, and Events each.
const WRITERS: usize = 4;
const PER_WRITER: usize = 250_000;
const COLLECTED: usize = 20_000;

fn main() {
    let Some(bin) = kplug_tests::e2e::bench_binary("eventlog bench", "kubectl-eventlog") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let single = import(&bin, dir.path());
    fleet(&bin, dir.path(), single);
    collect(&bin, dir.path());
}

/// Peak RSS in MB of a running process (VmHWM), or 0 once it is gone.
fn peak_mb(pid: u32) -> f64 {
    status_kb(pid, "VmHWM:") / 1024.0
}

fn rss_mb(pid: u32) -> f64 {
    status_kb(pid, "VmRSS:") / 1024.0
}

fn status_kb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Run `child` to its end, sampling its peak RSS; seconds and MB.
fn measure(mut child: Child) -> (f64, f64, std::process::Output) {
    let start = Instant::now();
    let mut peak = 0f64;
    while child.try_wait().expect("wait").is_none() {
        peak = peak.max(peak_mb(child.id()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = start.elapsed().as_secs_f64();
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, peak, out)
}

/// `n` Events: 200,000 (or fewer) Events, each seen up to five times with
/// a growing count, as `kubectl get events -A -o json` writes them;
/// streamed to disk.
/// The import rates into SQLite and PostgreSQL; PostgreSQL's is returned.
fn import(bin: &Path, dir: &Path) -> f64 {
    let file = dir.join("events.json");
    kplug_tests::corpus::write_event_list(&file, IMPORTED);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE bench");
    let stores = [
        ("SQLite", format!("sqlite:{}", dir.join("e.db").display())),
        ("PostgreSQL", pg.url("bench")),
    ];
    let mut rates = Vec::new();
    for (name, store) in &stores {
        let child = Command::new(bin)
            .arg("import")
            .arg(&file)
            .args(["--store", store])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("import runs");
        let (secs, peak, _) = measure(child);
        let rate = IMPORTED as f64 / secs;
        rates.push(rate);
        println!(
            "import {IMPORTED} events ({} MB of JSON) into {name}: {secs:.1} s = {rate:.0} events/s, peak RSS {peak:.0} MB (target {})",
            size / 1_000_000,
            if *name == "SQLite" {
                ">= 50,000 events/s, RSS <= 300 MB"
            } else {
                ">= 35,000 events/s"
            }
        );
    }
    println!("  PostgreSQL / SQLite: {:.2}x", rates[1] / rates[0]);
    let _ = std::fs::remove_file(&file);
    rates[1]
}

/// Four clusters' writers into one PostgreSQL at once, while a reader asks
/// what an on-call engineer asks: one workload's Events in one cluster,
/// and the fleet's reasons of the week.
fn fleet(bin: &Path, dir: &Path, single_rate: f64) {
    let file = dir.join("fleet.json");
    kplug_tests::corpus::write_event_list(&file, PER_WRITER);
    let (pg, store) = Postgres::with_eventlog_store(bin, "fleet");
    let start = Instant::now();
    let mut writers: Vec<Child> = (0..WRITERS)
        .map(|k| {
            Command::new(bin)
                .arg("import")
                .arg(&file)
                .args(["--cluster-name", &format!("cluster-{k}"), "--store", &store])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("import runs")
        })
        .collect();
    let queries: [&[&str]; 2] = [
        &[
            "query",
            "-A",
            "--cluster-name",
            "cluster-1",
            "--for",
            "deploy/web-7",
            "--since",
            "2026-11-19T00:00:00Z",
            "-o",
            "json",
        ],
        &[
            "aggregate",
            "-A",
            "--by",
            "cluster,reason",
            "--since",
            "2026-11-19T00:00:00Z",
            "--until",
            "2026-11-26T00:00:00Z",
            "-o",
            "json",
        ],
    ];
    let mut latencies: [Vec<f64>; 2] = Default::default();
    let mut running = WRITERS;
    while running > 0 {
        for (q, times) in queries.iter().zip(latencies.iter_mut()) {
            let t = Instant::now();
            let out = Command::new(bin)
                .args(*q)
                .args(["--store", &store])
                .output()
                .expect("query runs");
            assert!(
                out.status.success(),
                "{q:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        running = writers
            .iter_mut()
            .map(|w| w.try_wait().expect("wait").is_none())
            .filter(|r| *r)
            .count();
    }
    let secs = start.elapsed().as_secs_f64();
    for w in writers {
        let out = w.wait_with_output().expect("import ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let total = (WRITERS * PER_WRITER) as f64 / secs;
    println!(
        "fleet: {WRITERS} writers (one cluster each) x {PER_WRITER} events into one PostgreSQL at once: {secs:.1} s = {total:.0} events/s in total ({:.2}x the single writer's {single_rate:.0} events/s)",
        total / single_rate
    );
    for (q, mut times) in queries.iter().zip(latencies) {
        times.sort_by(f64::total_cmp);
        let at = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        println!(
            "  while they write, `{}` ({} runs, whole command): p50 {:.0} ms, p99 {:.0} ms",
            q.join(" "),
            times.len(),
            at(50),
            at(99)
        );
    }
    let days = pg.psql_in(
        "fleet",
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'occurrences'::regclass",
    );
    println!("  occurrences in {days} partitions (days and the default)");
    let _ = std::fs::remove_file(&file);
}

fn collect(bin: &Path, dir: &Path) {
    let cluster = Cluster::private();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = rt.block_on(cluster.client(ADMIN));
    let namespaces: Vec<String> = (0..10)
        .map(|i| rt.block_on(cluster.namespace(&format!("bench-{i}"))))
        .collect();
    let store = dir.join("collected.db");
    let mut collector = collector_on(bin, cluster.args(ADMIN), &store, &[]);
    std::thread::sleep(Duration::from_secs(1));
    let pid = collector.id();
    let idle = rss_mb(pid);

    // Recent, so that the incident tracker's window holds them below.
    let stamp = jiff::Timestamp::now().to_string();
    // Create the Events 32 at a time while sampling the collector's RSS.
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while status_kb(pid, "VmRSS:") > 0.0 && samples.len() < 2400 {
            samples.push(rss_mb(pid));
            std::thread::sleep(Duration::from_millis(250));
        }
        samples
    });
    let start = Instant::now();
    create_events(&rt, &client, &namespaces, COLLECTED, |i, ns| {
        json!({"metadata": {"name": format!("e{i}")},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": format!("web-{}-6d4f9c8b7-x7k2p", i % 400), "apiVersion": "v1"},
            "reason": REASONS[i % 5], "message": format!("Back-off restarting failed container app-{} in pod", i % 7),
            "type": "Warning", "source": {"component": "kubelet", "host": format!("node-{}", i % 30)},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1 + i % 3})
    });
    let created = start.elapsed().as_secs_f64();
    // Until every occurrence is stored.
    let expected: usize = (0..COLLECTED).map(|i| 1 + i % 3).sum();
    let deadline = Instant::now() + Duration::from_secs(120);
    while occurrences(bin, &store) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let stored = occurrences(bin, &store);
    let last = rss_mb(pid);
    let peak = peak_mb(pid);
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    let _ = collector.wait();
    let samples = sampler.join().expect("sampler");
    let quarter = |q: usize| samples.get(samples.len() * q / 4).copied().unwrap_or(0.0);
    println!(
        "collector RSS while the API server received {COLLECTED} Events in {created:.1} s: idle {idle:.0} MB, at 25/50/75% {:.0}/{:.0}/{:.0} MB, after {last:.0} MB, peak {peak:.0} MB (target flat, < 100 MB); {stored} of {expected} occurrences stored",
        quarter(1),
        quarter(2),
        quarter(3)
    );

    relist_with_tracking(bin, &cluster, dir, expected);
    fleet_collectors(bin, &cluster, &rt, &client, &namespaces, expected);

    // Listing the same Events: the API server against the store.
    let kubectl = peers::path("KUBECTL");
    let time = |program: &Path, args: &[&str], extra: &[String]| -> f64 {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            let out = Command::new(program)
                .args(args)
                .args(extra)
                .output()
                .expect("runs");
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            best = best.min(start.elapsed().as_secs_f64());
        }
        best
    };
    let access = cluster.args(ADMIN);
    let store_arg = vec!["--store".to_string(), format!("sqlite:{}", store.display())];
    let get_json = time(&kubectl, &["get", "events", "-A", "-o", "json"], &access);
    let events = time(&kubectl, &["events", "-A"], &access);
    let query_json = time(bin, &["query", "-A", "-o", "json"], &store_arg);
    let query = time(bin, &["query", "-A"], &store_arg);
    println!(
        "listing {COLLECTED} Events (best of 3): kubectl get events -A -o json {get_json:.2} s, kubectl events -A {events:.2} s; \
         kubectl eventlog query -A -o json {query_json:.2} s ({:.2}x of get -o json), query -A {query:.2} s ({:.2}x of kubectl events)",
        query_json / get_json,
        query / events
    );
}

/// `collect -A` of every cluster Event into the SQLite file `store`,
/// quiet, with more `flags`.
fn collector_on(bin: &Path, access: Vec<String>, store: &Path, flags: &[String]) -> Child {
    Command::new(bin)
        .args(["collect", "-A", "--no-object-labels", "--log-interval", "0"])
        .args(flags)
        .arg("--store")
        .arg(format!("sqlite:{}", store.display()))
        .args(access)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("collector starts")
}

/// One collector relisting the API server's Events into a new SQLite
/// store, without and then with the incident tracker and an alert rule
/// (`--keep-incidents --rules`, alerts to stdout): how fast each stores
/// them all, and its peak RSS.
fn relist_with_tracking(bin: &Path, cluster: &Cluster, dir: &Path, expected: usize) {
    let rules = dir.join("alerts.yaml");
    std::fs::write(
        &rules,
        "sinks:\n- {name: out, stdout: true}\nalerts:\n- {name: CrashLooping, match: {reasons: [BackOff]}}\n- {name: Unschedulable, match: {reasons: [FailedScheduling]}, groupBy: [namespace]}\n",
    )
    .expect("rules");
    let mut results = Vec::new();
    for (name, flags) in [
        ("alone", vec![]),
        (
            "with incidents and alerts",
            vec![
                "--keep-incidents".to_string(),
                "--rules".to_string(),
                rules.display().to_string(),
            ],
        ),
    ] {
        let store = dir.join(format!("relist-{}.db", results.len()));
        let start = Instant::now();
        let mut collector = collector_on(bin, cluster.args(ADMIN), &store, &flags);
        let pid = collector.id();
        let deadline = Instant::now() + Duration::from_secs(120);
        while occurrences(bin, &store) < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let secs = start.elapsed().as_secs_f64();
        // Let the tracker run over all of them a few times.
        std::thread::sleep(Duration::from_secs(25));
        let peak = peak_mb(pid);
        let incidents = Command::new(bin)
            .args(["incidents", "-A", "--kept", "-o", "json", "--store"])
            .arg(format!("sqlite:{}", store.display()))
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
            .and_then(|v| v["incidents"].as_array().map(Vec::len))
            .unwrap_or(0);
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        let _ = collector.wait();
        let stored = occurrences(bin, &store);
        results.push(COLLECTED as f64 / secs);
        println!(
            "collector {name}: relisted {COLLECTED} Events, {stored} of {expected} occurrences stored in {secs:.1} s ({:.0} events/s, start-up and list included), peak RSS {peak:.1} MB, {incidents} incidents kept (target >= 20,000 events/s, RSS < 100 MB)",
            COLLECTED as f64 / secs
        );
    }
    println!(
        "  with incidents and alerts / alone: {:.2}x",
        results[1] / results[0]
    );
}

/// Four collectors (four `--cluster-name`s: four clusters' worth of
/// writes) into one PostgreSQL at once: first each relists the API
/// server's Events, then 10,000 more arrive; how long until every
/// occurrence is stored, and query latency meanwhile.
fn fleet_collectors(
    bin: &Path,
    cluster: &Cluster,
    rt: &tokio::runtime::Runtime,
    client: &kube::Client,
    namespaces: &[String],
    listed: usize,
) {
    // Kept to the end: dropping it stops the server.
    let (_server, store) = Postgres::with_eventlog_store(bin, "collectors");
    let start = Instant::now();
    let mut collectors: Vec<Child> = (0..WRITERS)
        .map(|k| {
            Command::new(bin)
                .args(["collect", "-A", "--no-object-labels", "--log-interval", "0"])
                .args(["--cluster-name", &format!("fleet-{k}"), "--store", &store])
                .args(cluster.args(ADMIN))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("collector starts")
        })
        .collect();
    let query = [
        "query",
        "-A",
        "--cluster-name",
        "fleet-1",
        "--for",
        "deploy/web-7",
        "--since",
        "2026-11-19T00:00:00Z",
        "-o",
        "json",
        "--store",
        &store,
    ];
    let mut latencies = Vec::new();
    // Until every collector has stored what it listed, querying meanwhile.
    let wait_for = |each: usize, latencies: &mut Vec<f64>| {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let counts = per_cluster(bin, &store);
            if counts.len() == WRITERS && counts.values().all(|c| *c >= each) {
                return true;
            }
            if Instant::now() > deadline {
                println!("  fleet collectors: gave up waiting; stored {counts:?}");
                return false;
            }
            let t = Instant::now();
            let out = Command::new(bin).args(query).output().expect("query runs");
            if out.status.success() {
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    };
    let relisted = wait_for(listed, &mut latencies);
    let relist_secs = start.elapsed().as_secs_f64();
    // 10,000 new Events, each seen by all four.
    let more = 10_000;
    let start = Instant::now();
    create_events(rt, client, namespaces, more, |i, ns| {
        json!({"metadata": {"name": format!("f{i}")},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": format!("web-{}-6d4f9c8b7-x7k2p", i % 400), "apiVersion": "v1"},
            "reason": REASONS[i % 5], "message": "Back-off restarting failed container app in pod",
            "type": "Warning", "source": {"component": "kubelet", "host": format!("node-{}", i % 30)},
            "firstTimestamp": "2026-11-20T10:00:00Z", "lastTimestamp": "2026-11-20T10:00:00Z", "count": 1})
    });
    let created = start.elapsed().as_secs_f64();
    let caught_up = wait_for(listed + more, &mut latencies);
    let secs = start.elapsed().as_secs_f64();
    for c in &mut collectors {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
    for mut c in collectors {
        let _ = c.wait();
    }
    latencies.sort_by(f64::total_cmp);
    let at = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "fleet: {WRITERS} collectors (one --cluster-name each) into one PostgreSQL: relisting {} Events each stored in {relist_secs:.1} s ({:.0} events/s in total){}; \
         {more} new Events created in {created:.1} s, all stored by every collector {secs:.1} s after the first{}; \
         `query --cluster-name fleet-1 --for deploy/web-7` meanwhile ({} runs, whole command): p50 {:.0} ms, p99 {:.0} ms",
        COLLECTED,
        (WRITERS * COLLECTED) as f64 / relist_secs,
        if relisted { "" } else { " (not all)" },
        if caught_up { "" } else { " (not all)" },
        latencies.len(),
        at(50),
        at(99)
    );
}

/// Create `n` Events, 32 at a time, spread over `namespaces`; `event(i, ns)`
/// is the i-th.
fn create_events(
    rt: &tokio::runtime::Runtime,
    client: &kube::Client,
    namespaces: &[String],
    n: usize,
    event: impl Fn(usize, &str) -> serde_json::Value,
) {
    rt.block_on(async {
        use futures::StreamExt;
        futures::stream::iter(0..n)
            .map(|i| {
                let ns = &namespaces[i % namespaces.len()];
                objects::core_event(client, ns, event(i, ns))
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
    });
}

/// Occurrences stored so far, per cluster.
fn per_cluster(bin: &Path, store: &str) -> std::collections::BTreeMap<String, usize> {
    let out = Command::new(bin)
        .args([
            "aggregate",
            "-A",
            "--by",
            "cluster",
            "--since",
            "2026-11-19T00:00:00Z",
            "-o",
            "json",
            "--store",
            store,
        ])
        .output();
    let Ok(out) = out else {
        return Default::default();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["key"]["cluster"].as_str().unwrap_or("").to_string(),
                g["count"].as_u64().unwrap_or(0) as usize,
            )
        })
        .collect()
}

/// Occurrences stored so far (all clusters).
fn occurrences(bin: &Path, store: &Path) -> usize {
    per_cluster(bin, &format!("sqlite:{}", store.display()))
        .values()
        .sum()
}
