//! `kubectl eventlog collect` raising alerts from incidents into a real
//! Alertmanager (Debian's) and a webhook: one alert per incident, not per
//! Event; resolved when the Events stop; an Alertmanager silence holds
//! back the other sinks too; nothing lost while Alertmanager is down for a
//! minute, nothing sent twice across a collector restart.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kplug_tests::e2e::alertmanager::{Alertmanager, Receiver};
use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{free_port, objects};
use serde_json::{Value, json};

use crate::eventlog::{kept_incidents, now, on_store, shared_store, start_with};
use crate::text;

const KEY: &str = "e2e-signing-key";

/// A rules file: CrashLooping on BackOff and VolumeStuck on FailedMount,
/// each resolved after `resolve` of quiet, into `sinks` (YAML list items).
fn rules(dir: &Path, sinks: &[String], resolve: &str) -> String {
    let key = dir.join("hook.key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    let sinks: String = sinks
        .iter()
        .map(|s| format!("- {}\n", s.replace("KEYFILE", &key.display().to_string())))
        .collect();
    let file = dir.join("rules.yaml");
    std::fs::write(
        &file,
        format!(
            "sinks:\n{sinks}alerts:\n- name: CrashLooping\n  match: {{reasons: [BackOff]}}\n  resolveAfter: {resolve}\n  labels: {{team: shop}}\n- name: VolumeStuck\n  match: {{reasons: [FailedMount]}}\n  resolveAfter: {resolve}\n"
        ),
    )
    .unwrap();
    file.display().to_string()
}

/// A collector with alerts from `rules`: the tracker every 300 ms,
/// Alertmanager renewed (and failures retried) every 2 s.
fn collector(cluster: &Cluster, ns: &str, store: &str, rules: &str) -> Child {
    start_with(
        cluster,
        ns,
        store,
        free_port(),
        &[
            "--rules",
            rules,
            "--track-interval",
            "300ms",
            "--alert-resend",
            "2s",
        ],
    )
}

/// A liveness failure, the kill, and back-offs on `pod`: one incident.
async fn crashloop(client: &kube::Client, ns: &str, pod: &str) {
    let event = |reason: &str, message: &str, kind: &str, count: i32| {
        json!({"metadata": {"name": format!("{pod}.{}", reason.to_lowercase())},
               "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": format!("{pod}-uid")},
               "reason": reason, "message": message, "type": kind,
               "source": {"component": "kubelet", "host": "node-a"},
               "firstTimestamp": now(-3), "lastTimestamp": now(0), "count": count})
    };
    for e in [
        event(
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
            "Warning",
            3,
        ),
        event(
            "Killing",
            "Container app failed liveness probe, will be restarted",
            "Normal",
            1,
        ),
        event(
            "BackOff",
            "Back-off restarting failed container app",
            "Warning",
            5,
        ),
    ] {
        objects::core_event(client, ns, e).await;
    }
}

/// Wait up to `limit` for `done`; on time-out fail with the collector's
/// words and `context()`.
fn wait(
    collector: &mut Child,
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            let _ = collector.kill();
            let mut said = String::new();
            if let Some(mut err) = collector.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut said);
            }
            panic!(
                "timed out waiting for {what}; the collector said:\n{said}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stop(mut collector: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &collector.id().to_string()])
        .status();
    let _ = collector.wait();
}

/// The notifications `alerts --notifications -o json` lists.
fn notifications(store: &str) -> Vec<Value> {
    let out = on_store(store, &["alerts", "--notifications", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["notifications"].as_array().cloned().unwrap_or_default()
}

/// What the webhook received, as (status, alert name, incident label).
fn hooked(receiver: &Receiver) -> Vec<(String, String, String)> {
    receiver
        .received("/hook")
        .iter()
        .map(|r| {
            let v = r.json();
            let labels = &v["alert"]["labels"];
            (
                v["status"].as_str().unwrap_or("").to_string(),
                labels["alertname"].as_str().unwrap_or("").to_string(),
                labels["incident"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Alertmanager's alerts named `name`.
fn named(am: &Alertmanager, name: &str) -> Vec<Value> {
    am.alerts()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name)
        .collect()
}

/// Alertmanager's own notifications (to its webhook receiver) about `name`.
fn am_notified(receiver: &Receiver, name: &str, status: &str) -> usize {
    receiver
        .received("/am")
        .iter()
        .map(|r| r.json())
        .filter(|v| v["status"] == status && v["groupLabels"]["alertname"] == name)
        .count()
}

#[tokio::test]
async fn one_alert_per_incident_resolved_when_it_stops_and_a_silence_holds_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("events.db").display());
    let receiver = Receiver::start();
    let am = Alertmanager::start(&receiver.url("/am"));
    let silence = am.silence("alertname", "VolumeStuck");
    let rules = rules(
        dir.path(),
        &[
            format!("{{name: am, alertmanager: '{}'}}", am.url()),
            format!(
                "{{name: hook, webhook: '{}', secretFile: 'KEYFILE'}}",
                receiver.url("/hook")
            ),
        ],
        "8s",
    );
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-alerts").await;
    let mut c = collector(cluster, &ns, &store, &rules);
    crashloop(&client, &ns, "web-1").await;
    crashloop(&client, &ns, "web-2").await;
    objects::core_event(
        &client,
        &ns,
        json!({"metadata": {"name": "db-0.mount"}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": "db-0"},
               "reason": "FailedMount", "message": "MountVolume.SetUp failed for volume \"data\"", "type": "Warning",
               "source": {"component": "kubelet", "host": "node-a"}, "firstTimestamp": now(-2), "lastTimestamp": now(0), "count": 2}),
    )
    .await;

    // Six Events of two crash loops: two alerts, one per incident.
    wait(
        &mut c,
        "two firing CrashLooping alerts at the webhook",
        Duration::from_secs(60),
        || {
            hooked(&receiver)
                .iter()
                .filter(|h| h.0 == "firing" && h.1 == "CrashLooping")
                .count()
                >= 2
        },
        || format!("{:?}\n{:#?}", hooked(&receiver), notifications(&store)),
    );
    wait(
        &mut c,
        "Alertmanager to hold both",
        Duration::from_secs(20),
        || named(&am, "CrashLooping").len() >= 2,
        || format!("{:#?}", am.alerts()),
    );
    let firing = named(&am, "CrashLooping");
    assert_eq!(firing.len(), 2, "{firing:#?}");
    let out = on_store(
        &store,
        &["incidents", "-n", &ns, "--since", "1h", "-o", "json"],
    );
    let computed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<&str> = computed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut labelled: Vec<&str> = firing
        .iter()
        .map(|a| a["labels"]["incident"].as_str().unwrap())
        .collect();
    labelled.sort();
    assert_eq!(labelled, ids, "one alert per incident");
    for a in &firing {
        assert_eq!(a["labels"]["team"], "shop");
        assert_eq!(a["status"]["state"], "active");
        let summary = a["annotations"]["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("Unhealthy on pod/web-") && summary.contains("BackOff×5"),
            "named by its root cause: {summary}"
        );
    }
    // The webhook's bodies are signed with the key.
    for r in receiver.received("/hook") {
        let expected = kplug_eventlog::alerts::notify::signature(KEY.as_bytes(), &r.body);
        assert_eq!(r.header("X-Kplug-Signature"), Some(expected.as_str()));
        assert!(r.header("X-Kplug-Delivery").is_some());
    }
    // The silenced alert: Alertmanager holds it suppressed and tells its
    // receiver nothing; the webhook is not sent it either.
    wait(
        &mut c,
        "the silenced VolumeStuck in Alertmanager",
        Duration::from_secs(20),
        || !named(&am, "VolumeStuck").is_empty(),
        || format!("{:#?}", am.alerts()),
    );
    let stuck = &named(&am, "VolumeStuck")[0];
    assert_eq!(stuck["status"]["state"], "suppressed", "{stuck:#}");
    assert_eq!(stuck["status"]["silencedBy"][0], silence.as_str());
    assert!(!hooked(&receiver).iter().any(|h| h.1 == "VolumeStuck"));
    let held = notifications(&store)
        .into_iter()
        .find(|n| n["alert"] == "VolumeStuck" && n["sink"] == "hook")
        .expect("a notification for the webhook");
    assert!(
        held["note"].as_str().unwrap().contains(&silence),
        "{held:#}"
    );

    // The incidents the collector kept are the ones found at query time.
    let out = kept_incidents(&store, &ns);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kept: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(kept, computed, "kept and computed incidents differ");

    // Quiet for 8 s: resolved, once each, everywhere.
    wait(
        &mut c,
        "both resolved at the webhook",
        Duration::from_secs(60),
        || {
            hooked(&receiver)
                .iter()
                .filter(|h| h.0 == "resolved" && h.1 == "CrashLooping")
                .count()
                >= 2
        },
        || format!("{:?}", hooked(&receiver)),
    );
    wait(
        &mut c,
        "Alertmanager to let them go",
        Duration::from_secs(20),
        || named(&am, "CrashLooping").is_empty(),
        || format!("{:#?}", am.alerts()),
    );
    wait(
        &mut c,
        "Alertmanager's resolved notifications",
        Duration::from_secs(20),
        || am_notified(&receiver, "CrashLooping", "resolved") >= 2,
        || {
            format!(
                "{:#?}",
                receiver
                    .received("/am")
                    .iter()
                    .map(|r| r.json())
                    .collect::<Vec<_>>()
            )
        },
    );
    assert_eq!(am_notified(&receiver, "VolumeStuck", "firing"), 0);

    // A restart sends nothing again.
    let before = hooked(&receiver);
    stop(c);
    let mut c = collector(cluster, &ns, &store, &rules);
    let listed = Instant::now();
    wait(
        &mut c,
        "the restarted collector to run a while",
        Duration::from_secs(10),
        || listed.elapsed() > Duration::from_secs(4),
        String::new,
    );
    stop(c);
    assert_eq!(hooked(&receiver), before, "the restart sent again");
    let mut sent: Vec<String> = notifications(&store)
        .iter()
        .map(|n| format!("{} {} {}", n["alert"], n["status"], n["sink"]))
        .collect();
    sent.sort();
    // Three alerts (two CrashLooping, one VolumeStuck), each fired and
    // resolved, each to two sinks; the webhook's VolumeStuck ones held
    // back by the silence, every other one sent.
    assert_eq!(sent.len(), 3 * 2 * 2, "{sent:#?}");
    let all = notifications(&store);
    let unsent: Vec<&Value> = all.iter().filter(|n| n["sent"].is_null()).collect();
    assert!(unsent.is_empty(), "{unsent:#?}");
    assert_eq!(
        hooked(&receiver)
            .iter()
            .filter(|h| h.1 == "CrashLooping")
            .count(),
        4
    );
}

#[tokio::test]
async fn alertmanager_down_for_a_minute_gets_every_alert_after_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_pg, store) = shared_store("alerts_outage");
    let receiver = Receiver::start();
    let mut am = Alertmanager::start(&receiver.url("/am"));
    am.stop();
    let rules = rules(
        dir.path(),
        &[format!("{{name: am, alertmanager: '{}'}}", am.url())],
        "10m",
    );
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-am-down").await;
    let mut c = collector(cluster, &ns, &store, &rules);
    let down = Instant::now();
    crashloop(&client, &ns, "api-0").await;
    // It fires; the delivery fails and is retried.
    wait(
        &mut c,
        "failed attempts to reach Alertmanager",
        Duration::from_secs(30),
        || {
            notifications(&store)
                .iter()
                .any(|n| n["attempts"].as_i64() >= Some(2) && n["sent"].is_null())
        },
        || format!("{:#?}", notifications(&store)),
    );
    // The collector restarts during the outage: the outbox is in the store.
    stop(c);
    let mut c = collector(cluster, &ns, &store, &rules);
    let minute = Duration::from_secs(60);
    wait(
        &mut c,
        "a minute of outage",
        minute + Duration::from_secs(5),
        || down.elapsed() >= minute,
        String::new,
    );
    let pending = notifications(&store);
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert!(pending[0]["sent"].is_null());
    assert!(
        pending[0]["note"].as_str().unwrap().contains("refused"),
        "{pending:#?}"
    );
    am.restart();
    wait(
        &mut c,
        "the alert delivered",
        Duration::from_secs(30),
        || notifications(&store)[0]["sent"].is_string() && !named(&am, "CrashLooping").is_empty(),
        || format!("{:#?}\n{}", notifications(&store), am.log_tail()),
    );
    // Renewals keep coming; Alertmanager notifies once.
    wait(
        &mut c,
        "Alertmanager's notification",
        Duration::from_secs(20),
        || am_notified(&receiver, "CrashLooping", "firing") >= 1,
        || format!("{:#?}", am.alerts()),
    );
    std::thread::sleep(Duration::from_secs(5));
    stop(c);
    assert_eq!(am_notified(&receiver, "CrashLooping", "firing"), 1);
    let alerts = named(&am, "CrashLooping");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // It started when the incident did, not when it was delivered.
    let starts: jiff::Timestamp = alerts[0]["startsAt"].as_str().unwrap().parse().unwrap();
    assert!(
        jiff::Timestamp::now().duration_since(starts) > jiff::SignedDuration::from_secs(55),
        "{:#}",
        alerts[0]
    );
    let done = &notifications(&store)[0];
    assert!(done["attempts"].as_i64().unwrap() >= 3, "{done:#}");
}
