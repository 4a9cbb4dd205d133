//! The real `kubectl-eventlog` binary: import with dedup across runs and
//! count bumps, queries with every filter, aggregates, and the real dumps in
//! tests/data/events.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn run(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(args)
        .arg("--store")
        .arg(format!("sqlite:{}", store.display()))
        .output()
        .expect("kubectl-eventlog runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// A timestamp `hours` ago, RFC 3339.
fn ago(hours: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours))
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string()
}

/// A core/v1 Event in namespace shop: `object` is (kind, name), `what`
/// (reason, message, type), `times` (count, first and last in hours ago).
fn core(
    uid: &str,
    rv: &str,
    object: (&str, &str),
    what: (&str, &str, &str),
    times: (u64, i64, i64),
) -> Value {
    let ((kind, name), (reason, message, event_type), (count, first, last)) = (object, what, times);
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{uid}"), "namespace": "shop", "uid": uid, "resourceVersion": rv},
        "involvedObject": {"kind": kind, "namespace": "shop", "name": name, "uid": format!("{name}-uid")},
        "reason": reason, "message": message, "type": event_type,
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(first), "lastTimestamp": ago(last), "count": count
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn import_records_each_occurrence_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store/events.db");
    let first = write(
        dir.path(),
        "first.json",
        &json!({"apiVersion": "v1", "kind": "EventList", "items": [
            core("u1", "1", ("Pod", "web-6d4f9c8b7-x7k2p"), ("BackOff", "Back-off restarting failed container app in pod web-6d4f9c8b7-x7k2p", "Warning"), (5, 30, 20)),
            core("u2", "1", ("ReplicaSet", "web-6d4f9c8b7"), ("SuccessfulCreate", "Created pod: web-6d4f9c8b7-x7k2p", "Normal"), (1, 30, 30)),
            core("u3", "1", ("Pod", "db-0"), ("Unhealthy", "Readiness probe failed: 503", "Warning"), (2, 100, 90)),
        ]}),
    );
    let out = ok(&run(&store, &["import", first.to_str().unwrap()]));
    assert!(
        out.contains("imported 3 Events") && out.contains("8 new occurrences"),
        "{out}"
    );
    let again = ok(&run(&store, &["import", first.to_str().unwrap()]));
    assert!(
        again.contains("0 new occurrences; 3 Events already recorded in full"),
        "{again}"
    );

    // The BackOff went on: the same Event, a new version with count 9, in
    // the events.k8s.io/v1 shape (deprecatedCount), plus a Node event.
    let later = write(
        dir.path(),
        "later.json",
        &json!({"apiVersion": "events.k8s.io/v1", "kind": "EventList", "items": [
            {"apiVersion": "events.k8s.io/v1", "kind": "Event",
             "metadata": {"name": "web-6d4f9c8b7-x7k2p.u1", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
             "regarding": {"kind": "Pod", "namespace": "shop", "name": "web-6d4f9c8b7-x7k2p", "uid": "web-6d4f9c8b7-x7k2p-uid"},
             "reason": "BackOff", "note": "Back-off restarting failed container app in pod web-6d4f9c8b7-x7k2p", "type": "Warning",
             "deprecatedSource": {"component": "kubelet", "host": "node-1"},
             "deprecatedFirstTimestamp": ago(30), "deprecatedLastTimestamp": ago(1), "deprecatedCount": 9},
            {"apiVersion": "events.k8s.io/v1", "kind": "Event",
             "metadata": {"name": "node-1.n1", "namespace": "default", "uid": "n1", "resourceVersion": "3"},
             "regarding": {"kind": "Node", "name": "node-1", "uid": "node-1"},
             "reason": "NodeHasInsufficientMemory", "note": "Node node-1 status is now: NodeHasInsufficientMemory", "type": "Normal",
             "action": "NodeStatus", "reportingController": "kubelet", "reportingInstance": "node-1",
             "eventTime": format!("{}", ago(2)), "series": {"count": 3, "lastObservedTime": ago(1)}}
        ]}),
    );
    let out = ok(&run(&store, &["import", later.to_str().unwrap()]));
    assert!(
        out.contains("7 new occurrences"),
        "4 more BackOffs and 3 pressure events: {out}"
    );

    // --for a Deployment takes in its ReplicaSet's and Pods' events.
    let q = ok(&run(
        &store,
        &["query", "-n", "shop", "--for", "deploy/web", "-o", "json"],
    ));
    let v: Value = serde_json::from_str(&q).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{q}");
    assert_eq!(items[0]["reason"], "BackOff");
    assert_eq!(items[0]["count"], 9, "5 + 4, each once");
    assert_eq!(items[0]["category"], "crash");
    assert_eq!(items[1]["kind"], "ReplicaSet");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "List");
    assert_eq!(v["metadata"]["resourceVersion"], "", "a real v1 List: {q}");

    // -o name: the objects the events are about, each once.
    let names = ok(&run(
        &store,
        &["query", "-n", "shop", "--for", "deploy/web", "-o", "name"],
    ));
    assert_eq!(names.lines().count(), 2, "{names}");
    assert!(
        names
            .lines()
            .all(|l| l.starts_with("pod/") || l.starts_with("replicaset/")),
        "{names}"
    );
    // Where a name means nothing, clap refuses it and lists what the command prints.
    let refused = run(&store, &["aggregate", "-o", "name"]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("[possible values: json, yaml]"), "{why}");

    // Filters.
    let count = |args: &[&str]| -> usize {
        let mut all = vec!["query", "-A", "-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str::<Value>(&ok(&run(&store, &all))).unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&[]), 4);
    assert_eq!(
        count(&["--since", "48h"]),
        3,
        "db-0's probe failures are older"
    );
    assert_eq!(count(&["--until", "80h"]), 1);
    assert_eq!(
        count(&["--severity", "high"]),
        2,
        "BackOff and the Normal-but-serious memory pressure"
    );
    assert_eq!(count(&["--category", "pressure,probes"]), 2);
    assert_eq!(count(&["--type", "Normal"]), 2);
    assert_eq!(count(&["--reason", "Unhealthy,SuccessfulCreate"]), 2);
    assert_eq!(count(&["--grep", "READINESS"]), 1);
    assert_eq!(count(&["--node", "node-1"]), 4);
    assert_eq!(count(&["--for", "node/node-1"]), 1);
    assert_eq!(count(&["--cluster-name", "elsewhere"]), 0);
    assert_eq!(
        count(&["--cluster-name", "default"]),
        count(&[]),
        "import's default cluster name"
    );

    // The table, like kubectl's.
    let t = ok(&run(&store, &["query", "-A"]));
    let header = t.lines().next().unwrap();
    assert!(
        header.starts_with("NAMESPACE")
            && header.contains("LAST SEEN")
            && header.ends_with("MESSAGE"),
        "{t}"
    );
    assert!(
        t.contains("pod/web-6d4f9c8b7-x7k2p") && t.contains("   9   "),
        "{t}"
    );

    // Aggregate: occurrences, not objects.
    let a = ok(&run(
        &store,
        &[
            "aggregate",
            "-A",
            "--by",
            "category,severity",
            "--since",
            "7d",
            "--window",
            "1d",
            "-o",
            "json",
        ],
    ));
    let v: Value = serde_json::from_str(&a).unwrap();
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(
        groups[0]["key"],
        json!({"category": "crash", "severity": "high"})
    );
    assert_eq!(groups[0]["count"], 9);
    assert_eq!(groups[0]["buckets"].as_array().unwrap().len(), 7);
    let total: i64 = groups.iter().map(|g| g["count"].as_i64().unwrap()).sum();
    assert_eq!(total, 15);
}

#[test]
fn bad_input_and_flags_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"kind": "EventList", "items": [{"metadata": {"name": "x"}, "reason": "R"}]}"#,
    )
    .unwrap();
    let out = run(&store, &["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bad.json: document 1, item 0: Event x: has neither regarding nor involvedObject"
        ),
        "{err}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{").unwrap();
    assert_eq!(
        run(&store, &["import", broken.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&store, &["query", "--severity", "urgent"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&store, &["aggregate", "--by", "colour"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&store, &["query", "--for", "web"]).status.code(),
        Some(2)
    );
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n- reason: X\n  categroy: crash\n  severity: low\n",
    )
    .unwrap();
    let out = run(
        &store,
        &[
            "import",
            "--rules",
            rules.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rules.yaml"),
        "names the file"
    );
    for (flag, value, says) in [
        ("--since", "9999-12-31T23:59:59Z", "out of range"),
        ("--since", "99999999999999999999s", "out of range"),
        ("--limit", "0", "would show nothing"),
    ] {
        let out = run(&store, &["query", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{flag} {value}"
        );
    }
    // Ten years of one-second buckets is refused, not attempted.
    let out = run(
        &store,
        &["aggregate", "-A", "--since", "3650d", "--window", "1s"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use a bigger --window"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_real_dumps_import_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/events");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("e.db");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["import"];
    args.extend(files.iter().map(String::as_str));
    let out = ok(&run(&store, &args));
    assert!(
        out.contains("imported 496 Events") && out.contains("0 Events already recorded"),
        "{out}"
    );
    let again = ok(&run(&store, &args));
    assert!(
        again.contains("0 new occurrences; 496 Events already recorded in full"),
        "{again}"
    );
    // The AKS dump's BackOff counted 70,944 times is one Event.
    let q: Value = serde_json::from_str(&ok(&run(
        &store,
        &[
            "query", "-A", "--reason", "BackOff", "--limit", "1", "-o", "json",
        ],
    )))
    .unwrap();
    assert_eq!(q["items"][0]["count"], 70944);
}

#[test]
fn prune_applies_retention_by_age_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let file = write(
        dir.path(),
        "events.json",
        &json!({"apiVersion": "v1", "kind": "EventList", "items": [
            core("u1", "1", ("Pod", "web-6d4f9c8b7-x7k2p"), ("BackOff", "Back-off restarting failed container", "Warning"), (5, 30, 20)),
            core("u3", "1", ("Pod", "db-0"), ("Unhealthy", "Readiness probe failed: 503", "Warning"), (2, 100, 90)),
        ]}),
    );
    ok(&run(&store, &["import", file.to_str().unwrap()]));
    let out = ok(&run(&store, &["prune", "--retain", "48h"]));
    // db-0's Event stood for 2 occurrences in 1 row: the count says so.
    assert!(
        out.starts_with("deleted 2 occurrences of 1 Events (1 stored rows)"),
        "{out}"
    );
    let q: Value = serde_json::from_str(&ok(&run(&store, &["query", "-A", "-o", "json"]))).unwrap();
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    // The pruned Event's ledger entry went too; the recent one's stayed, so
    // importing again adds only what was pruned.
    let again = ok(&run(&store, &["import", file.to_str().unwrap()]));
    assert!(
        again.contains("2 new occurrences; 1 Events already recorded in full"),
        "{again}"
    );
    // A size limit deletes the oldest first but never the newest day:
    // db-0's occurrences go, web's (20 hours ago) stay.
    let out = ok(&run(&store, &["prune", "--max-size", "1"]));
    assert!(
        out.starts_with("deleted 2 occurrences of 1 Events (1 stored rows)"),
        "{out}"
    );
    let q: Value = serde_json::from_str(&ok(&run(&store, &["query", "-A", "-o", "json"]))).unwrap();
    assert_eq!(q["items"][0]["reason"], "BackOff", "{q}");
    assert_eq!(run(&store, &["prune"]).status.code(), Some(2));
}

#[test]
fn query_watch_prints_what_is_stored_later() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let first = write(
        dir.path(),
        "a.json",
        &json!({"apiVersion": "v1", "kind": "EventList", "items": [
            core("u1", "1", ("Pod", "web-6d4f9c8b7-x7k2p"), ("BackOff", "Back-off restarting failed container", "Warning"), (5, 3, 2)),
        ]}),
    );
    ok(&run(&store, &["import", first.to_str().unwrap()]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(["query", "-A", "--watch", "-o", "json", "--store"])
        .arg(format!("sqlite:{}", store.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The initial list ends with the closing brace of the List.
    for line in lines.by_ref() {
        if line.unwrap() == "}" {
            break;
        }
    }
    let later = write(
        dir.path(),
        "b.json",
        &json!({"apiVersion": "v1", "kind": "EventList", "items": [
            core("u1", "2", ("Pod", "web-6d4f9c8b7-x7k2p"), ("BackOff", "Back-off restarting failed container", "Warning"), (7, 3, 0)),
            core("u9", "1", ("Pod", "api-0"), ("FailedMount", "MountVolume.SetUp failed", "Warning"), (1, 0, 0)),
        ]}),
    );
    ok(&run(&store, &["import", later.to_str().unwrap()]));
    let mut seen: Vec<Value> = Vec::new();
    while seen.len() < 2 {
        let line = lines.next().expect("more output").unwrap();
        seen.push(serde_json::from_str(&line).unwrap());
    }
    child.kill().unwrap();
    let _ = child.wait();
    let mut got: Vec<(String, i64)> = seen
        .iter()
        .map(|v| {
            (
                v["reason"].as_str().unwrap().to_string(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("BackOff".to_string(), 2), ("FailedMount".to_string(), 1)],
        "new occurrences only"
    );

    // As a table, rows printed later line up under the first ones.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(["query", "-A", "--watch", "--store"])
        .arg(format!("sqlite:{}", store.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    let listed: Value =
        serde_json::from_str(&ok(&run(&store, &["query", "-A", "-o", "json"]))).unwrap();
    let rows = listed["items"].as_array().unwrap().len();
    let mut first: Vec<String> = Vec::new();
    while first.len() < rows {
        first.push(lines.next().unwrap().unwrap());
    }
    let third = write(
        dir.path(),
        "c.json",
        &json!({"apiVersion": "v1", "kind": "EventList", "items": [
            core("u7", "1", ("Pod", "x"), ("Killing", "short", "Normal"), (1, 0, 0)),
        ]}),
    );
    ok(&run(&store, &["import", third.to_str().unwrap()]));
    let later = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let column = |l: &str, word: &str| l.find(word).unwrap();
    let reason_at = column(&header, "REASON");
    assert_eq!(column(&later, "Killing"), reason_at, "{header}\n{later}");
    assert!(
        first
            .iter()
            .all(|l| l.find("BackOff").or(l.find("FailedMount")) == Some(reason_at))
    );
}

fn eventlog(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(args)
        .current_dir(cwd)
        .env_remove("KPLUG_EVENTLOG_STORE")
        .output()
        .expect("kubectl-eventlog runs")
}

#[test]
fn stores_are_never_created_or_changed_by_surprise() {
    let dir = tempfile::tempdir().unwrap();
    let events = write(
        dir.path(),
        "ev.json",
        &json!({"kind": "EventList", "items": [core("u1", "1", ("Pod", "web-1"), ("BackOff", "x", "Warning"), (3, 2, 1))]}),
    );
    let file = events.to_str().unwrap();
    // Empty, file-less and unknown stores are usage errors that write nothing.
    for store in ["", "sqlite:", "mysql://u:secret@db/x"] {
        let out = eventlog(&["import", file, "--store", store], dir.path());
        assert_eq!(out.status.code(), Some(2), "--store {store:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("secret"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(["import", file])
        .env("KPLUG_EVENTLOG_STORE", "")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an empty KPLUG_EVENTLOG_STORE");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ev.json"], "nothing was created");

    // A reader on a mistyped path creates nothing.
    let typo = dir.path().join("no/such/dir/e.db");
    let out = eventlog(&["query", "--store", typo.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store there yet"));
    assert!(!dir.path().join("no").exists());

    // Someone else's SQLite file is neither read as a store nor changed.
    let foreign = dir.path().join("app.db");
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table users(id)'); c.commit()",
            foreign.to_str().unwrap(),
        ])
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("skipped: the foreign-database check needs python3 with sqlite3");
        return;
    }
    let before = std::fs::read(&foreign).unwrap();
    for cmd in [
        vec!["query"],
        vec!["import", file],
        vec!["prune", "--retain", "1d"],
    ] {
        let mut args = cmd.clone();
        args.extend(["--store", foreign.to_str().unwrap()]);
        let out = eventlog(&args, dir.path());
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a kplug eventlog store"));
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), before, "unchanged");
    assert!(!dir.path().join("app.db-wal").exists());
}

#[test]
fn absurd_counts_and_times_are_read_with_a_warning_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let mut huge = core(
        "u1",
        "1",
        ("Pod", "web-1"),
        ("BackOff", "x", "Warning"),
        (1, 2, 1),
    );
    huge["count"] = json!(10_000_000_000_000u64);
    let mut negative = core(
        "u2",
        "1",
        ("Pod", "web-2"),
        ("BackOff", "x", "Warning"),
        (1, 2, 1),
    );
    negative["count"] = json!(-4);
    let mut text = core(
        "u3",
        "1",
        ("Pod", "web-3"),
        ("BackOff", "x", "Warning"),
        (1, 2, 1),
    );
    text["count"] = json!("5");
    let mut float = core(
        "u4",
        "1",
        ("Pod", "web-4"),
        ("BackOff", "x", "Warning"),
        (1, 2, 1),
    );
    float["count"] = json!(1e20);
    let mut backwards = core(
        "u5",
        "1",
        ("Pod", "web-5"),
        ("BackOff", "x", "Warning"),
        (1, 1, 3),
    );
    backwards["lastTimestamp"] = json!(ago(3));
    backwards["firstTimestamp"] = json!(ago(1));
    let mut bad_time = core(
        "u6",
        "1",
        ("Pod", "web-6"),
        ("BackOff", "x", "Warning"),
        (1, 2, 1),
    );
    bad_time["lastTimestamp"] = json!("yesterday");
    let legit = core(
        "u7",
        "1",
        ("Pod", "web-7"),
        ("BackOff", "x", "Warning"),
        (70, 5, 1),
    );
    let file = write(
        dir.path(),
        "ev.json",
        &json!({"kind": "EventList", "items": [huge, negative, text, float, backwards, bad_time, legit]}),
    );
    let out = run(&store, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "Event shop/web-1.u1: count 10000000000000 is beyond the limit of 1000000000",
        "Event shop/web-2.u2: count -4 is not a positive whole number; counted as 1",
        "Event shop/web-3.u3: count \"5\" is not a number; counted as 1",
        "Event shop/web-4.u4: count 1e+20 is not a positive whole number",
        "Event shop/web-5.u5: last seen",
        "Event shop/web-6.u6: lastTimestamp \"yesterday\" is not an RFC 3339 time",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    let v: Value = serde_json::from_str(&ok(&run(
        &store,
        &[
            "aggregate",
            "--by",
            "reason",
            "--since",
            "3d",
            "-A",
            "-o",
            "json",
        ],
    )))
    .unwrap();
    let total = v["groups"][0]["count"].as_i64().unwrap();
    assert_eq!(total, 1_000_000_000 + 1 + 1 + 1 + 1 + 1 + 70, "{v}");
}

#[test]
fn readers_and_a_writer_share_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let items: Vec<Value> = (0..20_000)
        .map(|i| {
            core(
                &format!("u{i}"),
                "1",
                ("Pod", &format!("web-{}", i % 50)),
                ("BackOff", "Back-off restarting failed container", "Warning"),
                (2, 3, 1),
            )
        })
        .collect();
    let first = write(
        dir.path(),
        "a.json",
        &json!({"kind": "EventList", "items": items[..100]}),
    );
    ok(&run(&store, &["import", first.to_str().unwrap()]));
    let big = write(
        dir.path(),
        "b.json",
        &json!({"kind": "EventList", "items": items}),
    );
    let mut import = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(["import", big.to_str().unwrap(), "--store"])
        .arg(format!("sqlite:{}", store.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut failures = Vec::new();
    for _ in 0..50 {
        let out = run(&store, &["query", "-A", "--limit", "5"]);
        if !out.status.success() {
            failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    let status = import.wait().unwrap();
    assert!(status.success());
    assert!(
        failures.is_empty(),
        "{} of 50 queries failed: {:?}",
        failures.len(),
        failures.first()
    );
}

#[test]
fn yaml_event_lists_of_real_size_import() {
    // `kubectl get events -A -o yaml` of 5,000 Events: over serde-saphyr's default budget.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..5000 {
        let e = core(
            &format!("u{i}"),
            "1",
            ("Pod", &format!("web-{i}")),
            ("BackOff", "x", "Warning"),
            (1, 2, 1),
        );
        let doc = kplug::output::format::to_yaml(&e).unwrap();
        for (n, line) in doc.lines().enumerate() {
            text.push_str(if n == 0 { "- " } else { "  " });
            text.push_str(line);
            text.push('\n');
        }
    }
    let file = dir.path().join("ev.yaml");
    std::fs::write(&file, text).unwrap();
    let out = ok(&run(&store, &["import", file.to_str().unwrap()]));
    assert!(out.contains("imported 5000 Events"), "{out}");
    // A closed pipe is not an error.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
        .args(["query", "-A", "-o", "json", "--store"])
        .arg(format!("sqlite:{}", store.display()))
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_cluster_column_appears_when_rows_span_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let file = write(
        dir.path(),
        "ev.json",
        &json!({"kind": "EventList", "items": [core("u1", "1", ("Pod", "web-1"), ("BackOff", "x", "Warning"), (1, 2, 1))]}),
    );
    ok(&run(
        &store,
        &["import", file.to_str().unwrap(), "--cluster-name", "east"],
    ));
    let one = ok(&run(&store, &["query", "-A"]));
    assert!(!one.contains("CLUSTER"), "{one}");
    ok(&run(
        &store,
        &["import", file.to_str().unwrap(), "--cluster-name", "west"],
    ));
    let both = ok(&run(&store, &["query", "-A"]));
    assert!(both.lines().next().unwrap().contains("CLUSTER"), "{both}");
    assert!(both.contains("east") && both.contains("west"), "{both}");
    let west = ok(&run(&store, &["query", "-A", "--cluster-name", "west"]));
    assert!(
        !west.contains("CLUSTER") && west.lines().count() == 2,
        "{west}"
    );
    // Aggregates keep clusters apart too.
    let agg = ok(&run(
        &store,
        &["aggregate", "-A", "--since", "3d", "--by", "reason"],
    ));
    assert!(agg.lines().next().unwrap().starts_with("CLUSTER"), "{agg}");
    assert_eq!(agg.lines().count(), 3, "one row per cluster: {agg}");
    let one = ok(&run(
        &store,
        &[
            "aggregate",
            "-A",
            "--since",
            "3d",
            "--by",
            "reason",
            "--cluster-name",
            "east",
        ],
    ));
    assert!(!one.contains("CLUSTER"), "{one}");
}

#[test]
fn the_sparkline_fits_the_terminal_and_names_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/events/aks-2020-default.json");
    ok(&run(&store, &["import", data.to_str().unwrap()]));
    let cmd = format!(
        "{} aggregate -A --since 3000d --window 1d --by reason --store sqlite:{}",
        env!("CARGO_BIN_EXE_kubectl-eventlog"),
        store.display()
    );
    let Ok(out) = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("COLUMNS", "60")
        .output()
    else {
        println!("skipped: the sparkline check needs util-linux script for a terminal");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // 3,000 days in about 30 columns: windows of whole days merged, and said.
    let header = text.lines().next().unwrap_or("");
    assert!(
        header.contains("PER ") && header.trim_end().ends_with('D'),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            line.trim_end_matches('\r').chars().count() <= 60,
            "{line:?}"
        );
    }
}

/// A store a newer kplug wrote stops every command, the collector first of
/// all, with one sentence that says what to do, and is left as it was.
#[test]
fn a_store_from_a_newer_kplug_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("e.db");
    let events = write(
        dir.path(),
        "ev.json",
        &json!({"kind": "EventList", "items": [core("u1", "1", ("Pod", "web-1"), ("BackOff", "x", "Warning"), (3, 2, 1))]}),
    );
    ok(&run(&store, &["import", events.to_str().unwrap()]));
    let db = rusqlite::Connection::open(&store).unwrap();
    db.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    let rows = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT count(*) FROM occurrences", [], |r| r.get(0))
            .unwrap()
    };
    let before = rows(&db);
    for args in [
        vec!["collect"],
        vec!["import", events.to_str().unwrap()],
        vec!["query"],
        vec!["prune", "--retain", "1d"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-eventlog"))
            .args(&args)
            .arg("--store")
            .arg(format!("sqlite:{}", store.display()))
            .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("written by a newer kplug") && err.contains("upgrade kplug"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    }
    let version: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        (version.as_str(), rows(&db)),
        ("99", before),
        "left as it was"
    );
}
