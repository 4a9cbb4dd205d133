//! A generated EventList like a busy cluster's, for the benches and the
//! store parity tests: Warnings about 400 Deployments' Pods in 50
//! namespaces on 30 nodes, five reasons, at most 200,000 distinct Events,
//! each seen again a day later with a higher count.

use std::io::Write;
use std::path::Path;

use serde_json::json;

pub const REASONS: [&str; 5] = [
    "BackOff",
    "Unhealthy",
    "Pulled",
    "FailedScheduling",
    "ScalingReplicaSet",
];

/// Write `n` Events as one EventList JSON file at `path`.
pub fn write_event_list(path: &Path, n: usize) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create corpus"));
    write!(
        w,
        "{{\"apiVersion\": \"v1\", \"kind\": \"EventList\", \"items\": ["
    )
    .unwrap();
    let distinct = n.min(200_000);
    for i in 0..n {
        let (uid, round) = (i % distinct, i / distinct);
        let item = json!({"metadata": {"name": format!("web-{uid}.{uid:x}"), "namespace": format!("ns-{}", uid % 50), "uid": format!("uid-{uid}"), "resourceVersion": (round + 1).to_string()},
               "involvedObject": {"kind": "Pod", "namespace": format!("ns-{}", uid % 50), "name": format!("web-{}-6d4f9c8b7-x7k2p", uid % 400), "apiVersion": "v1"},
               "reason": REASONS[uid % 5],
               "message": format!("Back-off restarting failed container app-{} in pod", uid % 7), "type": "Warning",
               "source": {"component": "kubelet", "host": format!("node-{}", uid % 30)},
               "firstTimestamp": "2026-11-20T10:00:00Z", "lastTimestamp": format!("2026-11-2{}T10:00:00Z", round + 1), "count": round + 1});
        if i > 0 {
            w.write_all(b",\n").unwrap();
        }
        serde_json::to_writer(&mut w, &item).unwrap();
    }
    w.write_all(b"]}\n").unwrap();
}
