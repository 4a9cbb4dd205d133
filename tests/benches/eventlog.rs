//! `kubectl eventlog import` into SQLite and into PostgreSQL, same generated
//! file, same run: events per second end to end (reading, normalising,
//! classifying, the ledger and the writes). Needs the e2e peers (PostgreSQL).

use std::process::Command;
use std::time::Instant;

use kplug_tests::e2e::postgres::Postgres;
use kplug_tests::e2e::{peers, workspace_bin};
use serde_json::json;

const EVENTS: usize = 200_000;
const REASONS: [&str; 5] = [
    "BackOff",
    "Unhealthy",
    "Pulled",
    "FailedScheduling",
    "ScalingReplicaSet",
];

fn main() {
    if !peers::cache_dir().join("peers.env").exists() {
        println!("skipped: eventlog import bench: no e2e peers (run `make peers`)");
        return;
    }
    let Some(bin) = workspace_bin("kubectl-eventlog") else {
        println!(
            "skipped: eventlog import bench: kubectl-eventlog is not built in this profile (cargo bench --workspace builds it)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("events.json");
    // 40,000 Events, each seen five times with a growing count.
    let items: Vec<_> = (0..EVENTS)
        .map(|i| {
            let (uid, round) = (i % 40_000, i / 40_000);
            json!({"metadata": {"name": format!("web-{uid}.{uid:x}"), "namespace": format!("ns-{}", uid % 50), "uid": format!("uid-{uid}"), "resourceVersion": (round + 1).to_string()},
                   "involvedObject": {"kind": "Pod", "namespace": format!("ns-{}", uid % 50), "name": format!("web-{}-6d4f9c8b7-x7k2p", uid % 400)},
                   "reason": REASONS[uid % 5],
                   "message": "Back-off restarting failed container app in pod", "type": "Warning",
                   "source": {"component": "kubelet", "host": format!("node-{}", uid % 30)},
                   "firstTimestamp": "2026-11-20T10:00:00Z", "lastTimestamp": format!("2026-11-2{}T10:00:00Z", round + 1), "count": round + 1})
        })
        .collect();
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "EventList", "items": items}))
            .unwrap(),
    )
    .unwrap();
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE bench");
    let stores = [
        (
            "SQLite",
            format!("sqlite:{}", dir.path().join("e.db").display()),
        ),
        ("PostgreSQL", pg.url("bench")),
    ];
    let mut rates = Vec::new();
    for (name, store) in &stores {
        let start = Instant::now();
        let out = Command::new(&bin)
            .arg("import")
            .arg(&file)
            .args(["--store", store])
            .output()
            .expect("import runs");
        let secs = start.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        rates.push(EVENTS as f64 / secs);
        println!(
            "import {EVENTS} events into {name}: {secs:.1} s = {:.0} events/s (target >= 50,000 into SQLite)",
            EVENTS as f64 / secs
        );
    }
    println!("  PostgreSQL / SQLite: {:.2}x", rates[1] / rates[0]);
}
