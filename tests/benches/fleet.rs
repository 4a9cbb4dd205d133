//! `kubectl eventlog` at fleet scale, one PostgreSQL against Citus (a
//! coordinator and two workers), same run, same data, on this one machine:
//! - ingest: eight writers, one per cluster, importing at once; events/s
//!   in total and per worker;
//! - a store of 10,000,000 occurrences from eight clusters over 14 days:
//!   p50/p99 of whole commands — `query --for` for one cluster (Citus routes
//!   it to one worker) and across the fleet, `aggregate --by fingerprint
//!   --since 7d` across the fleet (fanned out) and for one cluster;
//! - a paper estimate of the workers 1,000 clusters at 100 Events/s need.
//!
//! Needs the e2e peers, Citus among them. `KPLUG_FLEET_OCCURRENCES=N`
//! makes the store smaller for a quick look.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use kplug_tests::e2e::citus::Citus;
use kplug_tests::e2e::postgres::Postgres;

const CLUSTERS: usize = 8;
/// Events each cluster's writer imports in the ingest part.
const PER_WRITER: usize = 125_000;
const OCCURRENCES: i64 = 10_000_000;
const DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;

fn main() {
    let Some(bin) = kplug_tests::e2e::bench_binary("fleet bench", "kubectl-eventlog") else {
        return;
    };
    let citus = match Citus::start() {
        Ok(c) => c,
        Err(why) => {
            println!("skipped: fleet bench: {why}");
            return;
        }
    };
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE fleet");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cluster.json");
    kplug_tests::corpus::write_event_list(&file, PER_WRITER);

    // Name, URL, server and database of each store.
    let stores = [
        ("PostgreSQL", pg.url("fleet"), &pg, "fleet"),
        (
            "Citus (2 workers)",
            citus.url(),
            &citus.coordinator,
            "postgres",
        ),
    ];
    let mut rates = Vec::new();
    for (name, store, _, _) in &stores {
        rates.push(ingest(&bin, &file, name, store));
    }
    println!("  Citus / PostgreSQL ingest: {:.2}x", rates[1] / rates[0]);
    let per_worker = rates[1] / citus.workers.len() as f64;
    let needed = 1_000.0 * 100.0;
    println!(
        "  paper estimate: 1,000 clusters x 100 Events/s = {needed:.0} Events/s; at the measured {per_worker:.0} events/s per worker (both workers and the coordinator sharing this machine's cores) that is {:.0} workers, and at least {:.0} coordinator-sized ingest paths (the coordinator parses and routes every row: {:.0} events/s here)",
        (needed / per_worker).ceil(),
        (needed / rates[1]).ceil(),
        rates[1]
    );

    let now = jiff::Timestamp::now().as_millisecond();
    let occurrences = std::env::var("KPLUG_FLEET_OCCURRENCES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(OCCURRENCES);
    for (name, store, server, database) in &stores {
        let t = Instant::now();
        fill(server, database, occurrences, now);
        println!(
            "{name}: filled {occurrences} occurrences of {CLUSTERS} clusters over {DAYS} days (SQL, rollups included) in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        queries(&bin, name, store);
    }
}

/// Eight writers into `store` at once; the total rate.
fn ingest(bin: &Path, file: &Path, name: &str, store: &str) -> f64 {
    // The schema once, before the writers race to open it.
    kplug_tests::e2e::postgres::lay_out_eventlog(bin, store);
    let start = Instant::now();
    let writers: Vec<Child> = (0..CLUSTERS)
        .map(|k| {
            Command::new(bin)
                .arg("import")
                .arg(file)
                .args(["--cluster-name", &format!("cluster-{k}"), "--store", store])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("import runs")
        })
        .collect();
    for w in writers {
        let out = w.wait_with_output().expect("import ends");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let total = (CLUSTERS * PER_WRITER) as f64;
    println!(
        "ingest into {name}: {CLUSTERS} writers (one cluster each) x {PER_WRITER} events at once: {secs:.1} s = {:.0} events/s",
        total / secs
    );
    total / secs
}

/// 10M occurrences straight into the tables (through the coordinator on
/// Citus), days partitioned as kplug makes them, and the rollups summed
/// from them: ingesting them one by one would take longer than the rest.
fn fill(server: &Postgres, database: &str, occurrences: i64, now_ms: i64) {
    let sql = |s: &str| server.psql_in(database, s);
    sql("TRUNCATE occurrences, ledger, hourly, hourly_objects");
    let start = now_ms - DAYS * DAY_MS;
    for d in 0..=DAYS {
        let day = (start / DAY_MS + d) * DAY_MS;
        let date = jiff::Timestamp::from_millisecond(day)
            .unwrap()
            .strftime("%Y%m%d");
        sql(&format!(
            "CREATE TABLE IF NOT EXISTS occurrences_d{date} PARTITION OF occurrences FOR VALUES FROM ({day}) TO ({})",
            day + DAY_MS
        ));
    }
    let step = DAYS * DAY_MS / occurrences;
    sql(&format!(
        "INSERT INTO occurrences (event_key, cluster, namespace, kind, name, object_uid, field_path, owner_root, reason, type,
             message, reporting_controller, node, first_ms, last_ms, occurrences, category, severity, template, fingerprint, raw)
         SELECT 'cluster-' || (i % {CLUSTERS}) || '/u' || (i % 2000000), 'cluster-' || (i % {CLUSTERS}), 'ns-' || (i % 50),
             CASE WHEN i % 20 = 0 THEN 'ReplicaSet' ELSE 'Pod' END,
             CASE WHEN i % 20 = 0 THEN 'web-' || (i % 400) || '-6d4f9c8b7' ELSE 'web-' || (i % 400) || '-6d4f9c8b7-x7k2p' END,
             'uid-' || (i % 400), '', 'web-' || (i % 400),
             (ARRAY['BackOff', 'Unhealthy', 'Pulled', 'FailedScheduling', 'ScalingReplicaSet'])[i % 5 + 1],
             CASE WHEN i % 5 IN (2, 4) THEN 'Normal' ELSE 'Warning' END,
             'Back-off restarting failed container app in pod web-' || (i % 400), 'kubelet', 'node-' || (i % 30),
             {start} + i * {step} - (i % 7) * 60000, {start} + i * {step}, 1 + i % 3,
             'lifecycle', 'high', 'Back-off restarting failed container app in pod web-<pod>',
             'cluster-' || (i % {CLUSTERS}) || '-' || lpad(to_hex(i % 4000), 16, '0'), ''
         FROM generate_series(0, {}) AS i",
        occurrences - 1
    ));
    // Each generated row lies within one hour: its occurrences count
    // whole in the hour of its last time.
    sql("INSERT INTO hourly (hour_ms, cluster, namespace, kind, reason, type, category, severity, node, micro)
         SELECT last_ms / 3600000 * 3600000, cluster, namespace, kind, reason, type, category, severity, node, SUM(occurrences) * 1000000
         FROM occurrences GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9");
    sql("INSERT INTO hourly_objects (hour_ms, fingerprint, kind, name, cluster, namespace, micro)
         SELECT last_ms / 3600000 * 3600000, fingerprint, kind, name, cluster, namespace, SUM(occurrences) * 1000000
         FROM occurrences GROUP BY 1, 2, 3, 4, 5, 6");
    sql("ANALYZE");
}

/// p50 and p99 of each question, as whole commands.
fn queries(bin: &Path, name: &str, store: &str) {
    let questions: [(&str, &[&str]); 2] = [
        (
            "query --for deploy/web-7 -n ns-7 --since 24h",
            &[
                "query",
                "-n",
                "ns-7",
                "--for",
                "deploy/web-7",
                "--since",
                "24h",
            ],
        ),
        (
            "aggregate --by fingerprint --since 7d --window 1d",
            &[
                "aggregate",
                "-A",
                "--by",
                "fingerprint",
                "--since",
                "7d",
                "--window",
                "1d",
            ],
        ),
    ];
    let scopes: [(&str, &[&str]); 2] = [
        ("one cluster", &["--cluster-name", "cluster-3"]),
        ("all clusters", &[]),
    ];
    for ((question, args), (scope, flags)) in questions
        .iter()
        .flat_map(|q| scopes.iter().map(move |s| (q, s)))
    {
        let what = format!("{question}, {scope}");
        let runs = 20;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let out = Command::new(bin)
                    .args(*args)
                    .args(*flags)
                    .args(["--store", store, "-o", "json"])
                    .output()
                    .expect("runs");
                assert!(
                    out.status.success() && out.stdout.len() > 100,
                    "{what}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "  {name}: {what}: p50 {:.0} ms, p99 {:.0} ms ({runs} runs, whole command)",
            times[runs / 2],
            times[runs - 1]
        );
    }
}
