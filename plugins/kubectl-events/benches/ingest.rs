//! Ingest rate into SQLite of a generated corpus of 1,000,000 Events (a mix
//! of new Events and count bumps of earlier ones, as a busy cluster sends
//! them), and query latency on the resulting store. Target: at least 50,000
//! events/s into SQLite. PostgreSQL and the collector's memory are measured
//! in the e2e tier's bench (tests/benches).

use std::time::Instant;

use kplug::event::Event;
use kplug_eventlog::classify::Classifier;
use kplug_eventlog::record::Record;
use kplug_eventlog::store::{Filter, Store};
use serde_json::json;

const EVENTS: usize = 1_000_000;
const BATCH: usize = 5000;

/// The i-th Event of the corpus: 200,000 distinct Events, each seen about
/// five times with a growing count.
fn event(i: usize, base: i64) -> Event {
    let uid = i % 200_000;
    let round = (i / 200_000) as i64;
    let (reason, message, kind) = match uid % 5 {
        0 => (
            "BackOff",
            "Back-off restarting failed container app in pod",
            "Warning",
        ),
        1 => (
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            "Warning",
        ),
        2 => (
            "Pulled",
            "Successfully pulled image \"registry.example/app:1.2.3\" in 1.2s",
            "Normal",
        ),
        3 => (
            "FailedScheduling",
            "0/12 nodes are available: 12 Insufficient cpu.",
            "Warning",
        ),
        _ => (
            "ScalingReplicaSet",
            "Scaled up replica set web-6d4f9c8b7 to 3",
            "Normal",
        ),
    };
    let t = |s: i64| jiff::Timestamp::from_second(base + s).unwrap().to_string();
    Event::from_value(&json!({
        "metadata": {"name": format!("web-{uid}.{uid:x}"), "namespace": format!("ns-{}", uid % 50), "uid": format!("uid-{uid}"), "resourceVersion": (round + 1).to_string()},
        "involvedObject": {"kind": "Pod", "namespace": format!("ns-{}", uid % 50), "name": format!("web-{}-6d4f9c8b7-x7k2p", uid % 400), "uid": format!("pod-{uid}")},
        "reason": reason, "message": message, "type": kind,
        "source": {"component": "kubelet", "host": format!("node-{}", uid % 30)},
        "firstTimestamp": t((uid as i64) % 86_400), "lastTimestamp": t((uid as i64) % 86_400 + round * 600), "count": round + 1
    }))
    .expect("generated events are valid")
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let mut store = Store::open(path.to_str().unwrap()).expect("store opens");
    let classifier = Classifier::default();
    let base = jiff::Timestamp::now().as_second() - 86_400 * 7;
    let started = Instant::now();
    let mut normalise = std::time::Duration::ZERO;
    let mut written = 0u64;
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(BATCH) {
        let t = Instant::now();
        let batch: Vec<Record> = chunk
            .iter()
            .map(|&i| Record::new(event(i, base), "bench", &classifier))
            .collect();
        normalise += t.elapsed();
        written += store.ingest(&batch).expect("ingest").occurrences;
    }
    let total = started.elapsed();
    let store_only = total - normalise;
    println!(
        "ingest into SQLite: {EVENTS} events in {:.1} s = {:.0} events/s end to end (store alone {:.0} events/s; target >= 50,000); {written} occurrences",
        total.as_secs_f64(),
        EVENTS as f64 / total.as_secs_f64(),
        EVENTS as f64 / store_only.as_secs_f64()
    );
    let time = |f: &mut dyn FnMut()| {
        let mut v: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        v.sort_by(f64::total_cmp);
        (v[25], v[49])
    };
    let since = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 86_400).unwrap();
    let (p50, p99) = time(&mut || {
        let f = Filter {
            namespace: Some("ns-7".into()),
            for_object: Some(("Deployment".into(), "web-7".into())),
            since: Some(since),
            ..Default::default()
        };
        store.query(&f, None).expect("query");
    });
    println!(
        "query --for deploy/web-7 --since 24h: p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 < 100 ms; store of {written} occurrences)"
    );
    let week =
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 7 * 86_400).unwrap();
    let (p50, p99) = time(&mut || {
        let f = Filter {
            since: Some(week),
            ..Default::default()
        };
        let spans = store.spans(&["reason"], &f).expect("spans");
        let end = jiff::Timestamp::now().as_millisecond();
        kplug_eventlog::aggregate::aggregate(
            &["reason"],
            &spans,
            end - 7 * 86_400_000,
            end,
            3_600_000,
        );
    });
    println!(
        "aggregate --by reason --since 7d --window 1h: p50 {p50:.0} ms, p99 {p99:.0} ms (target < 1 s)"
    );
}
