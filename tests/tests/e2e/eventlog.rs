//! `kubectl eventlog collect` against the real API server: Events created,
//! bumped and created again while the collector runs, is killed with
//! SIGKILL and restarts — the store must hold exactly the occurrences that
//! happened.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{free_port, objects, workspace_bin};
use serde_json::{Value, json};

use crate::text;

pub(crate) fn eventlog() -> std::path::PathBuf {
    workspace_bin("kubectl-eventlog").expect("kubectl-eventlog is built by cargo test --workspace")
}

/// `kubectl eventlog ARGS --store STORE`.
pub(crate) fn on_store(store: &str, args: &[&str]) -> std::process::Output {
    Command::new(eventlog())
        .args(args)
        .args(["--store", store])
        .output()
        .unwrap()
}

/// See [`Postgres::with_eventlog_store`].
pub(crate) fn shared_store(name: &str) -> (kplug_tests::e2e::postgres::Postgres, String) {
    kplug_tests::e2e::postgres::Postgres::with_eventlog_store(&eventlog(), name)
}

/// See [`lay_out_eventlog`](kplug_tests::e2e::postgres::lay_out_eventlog).
pub(crate) fn lay_out(store: &str) {
    kplug_tests::e2e::postgres::lay_out_eventlog(&eventlog(), store)
}

/// The real event dumps in the repository (`tests/data/events/*.json`),
/// sorted.
pub(crate) fn dumps() -> Vec<String> {
    let data = kplug_tests::e2e::workspace_root().join("tests/data/events");
    let mut files: Vec<String> = std::fs::read_dir(&data)
        .map(|d| {
            d.map(|e| e.unwrap().path().display().to_string())
                .filter(|p| p.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(
        !files.is_empty(),
        "the real event dumps are at {}",
        data.display()
    );
    files
}

fn sqlite(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

/// The collector on namespace `ns`, writing to the store URL `store`.
fn start(cluster: &Cluster, ns: &str, store: &str, metrics: u16) -> Child {
    start_with(cluster, ns, store, metrics, &[])
}

/// [`start`] with more flags (`--cluster-name c1`).
pub(crate) fn start_with(
    cluster: &Cluster,
    ns: &str,
    store: &str,
    metrics: u16,
    flags: &[&str],
) -> Child {
    Command::new(eventlog())
        .args([
            "collect",
            "-n",
            ns,
            "--flush-interval",
            "100ms",
            "--metrics-addr",
            &format!("127.0.0.1:{metrics}"),
        ])
        .args(flags)
        .args(["--store", store])
        .args(cluster.args(ADMIN))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The stored count per Event name (from `query -o json`).
pub(crate) fn counts(store: &str, ns: &str) -> std::collections::BTreeMap<String, i64> {
    counts_in(store, ns, &[])
}

/// [`counts`] of a query with more flags (`--cluster-name c1`).
pub(crate) fn counts_in(
    store: &str,
    ns: &str,
    flags: &[&str],
) -> std::collections::BTreeMap<String, i64> {
    let out = Command::new(eventlog())
        .args(["query", "-n", ns, "-o", "json", "--store", store])
        .args(flags)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(json!({"items": []}));
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!(
                    "{}/{}",
                    i["reason"].as_str().unwrap(),
                    i["name"].as_str().unwrap()
                ),
                i["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Wait until `done`; on time-out, fail with what the collector said.
pub(crate) fn wait_for(collector: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = collector.kill();
            let mut said = String::new();
            if let Some(mut err) = collector.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut said);
            }
            panic!("timed out waiting for {what}; the collector said:\n{said}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn now(offset: i64) -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + offset)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn collect_records_every_occurrence_once_across_kills_and_restarts() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::api::{Api, Patch, PatchParams};

    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog").await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let involved = |name: &str| json!({"kind": "Pod", "namespace": ns, "name": name, "uid": format!("{name}-uid"), "apiVersion": "v1"});
    let core = |name: &str, reason: &str, count: i64| {
        json!({"metadata": {"name": name}, "involvedObject": involved("web-6d4f9c8b7-x7k2p"), "reason": reason,
               "message": format!("{reason} happened"), "type": "Warning", "source": {"component": "kubelet", "host": "node-1"},
               "firstTimestamp": now(-60), "lastTimestamp": now(0), "count": count})
    };
    // The Pod exists, with labels: the collector reads them for `-l`.
    objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "web-6d4f9c8b7-x7k2p", "labels": {"app": "web", "tier": "front"}},
               "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}}),
        json!({"phase": "Pending"}),
    )
    .await;
    objects::core_event(&client, &ns, core("e1", "BackOff", 1)).await;

    let metrics = free_port();
    let mut collector = start(cluster, &ns, &store, metrics);
    wait_for(&mut collector, "the first event", || {
        counts(&store, &ns).get("BackOff/web-6d4f9c8b7-x7k2p") == Some(&1)
    });

    // Repeats bump the count of the same object.
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), &ns);
    let bump = |count: i64| Patch::Merge(json!({"count": count, "lastTimestamp": now(0)}));
    events
        .patch("e1", &PatchParams::default(), &bump(4))
        .await
        .unwrap();
    wait_for(&mut collector, "the count bump", || {
        counts(&store, &ns).get("BackOff/web-6d4f9c8b7-x7k2p") == Some(&4)
    });
    // A newer reporter: events.k8s.io/v1 with a series.
    objects::events_v1_event(&client, &ns, json!({"metadata": {"name": "e2"}, "regarding": involved("web-6d4f9c8b7-x7k2p"),
        "reason": "Unhealthy", "note": "Readiness probe failed: 503", "type": "Warning", "action": "Probe",
        "reportingController": "kubelet", "reportingInstance": "node-1",
        "eventTime": format!("{}", now(-30).replace('Z', ".000000Z")),
        "series": {"count": 2, "lastObservedTime": now(0).replace('Z', ".000000Z")}})).await;
    wait_for(&mut collector, "the series event", || {
        counts(&store, &ns).get("Unhealthy/web-6d4f9c8b7-x7k2p") == Some(&2)
    });

    // SIGKILL: no chance to flush. Things happen while it is down.
    collector.kill().unwrap();
    collector.wait().unwrap();
    events
        .patch("e1", &PatchParams::default(), &bump(6))
        .await
        .unwrap();
    objects::core_event(&client, &ns, core("e3", "FailedMount", 1)).await;

    let mut collector = start(cluster, &ns, &store, metrics);
    wait_for(&mut collector, "catching up after the restart", || {
        let c = counts(&store, &ns);
        c.get("BackOff/web-6d4f9c8b7-x7k2p") == Some(&6)
            && c.get("FailedMount/web-6d4f9c8b7-x7k2p") == Some(&1)
    });
    // Let a few more flushes pass: nothing may be added twice.
    std::thread::sleep(Duration::from_millis(500));
    let c = counts(&store, &ns);
    assert_eq!(c.get("Unhealthy/web-6d4f9c8b7-x7k2p"), Some(&2), "{c:?}");
    assert_eq!(
        c.values().sum::<i64>(),
        9,
        "6 + 2 + 1 occurrences, each once: {c:?}"
    );
    // Deleted (as the API server's TTL does): the history stays as it was.
    events
        .delete("e3", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counts(&store, &ns), c, "a deletion records nothing");

    // `-l` on the labels the collector read.
    let selected = |selector: &str| {
        let out = Command::new(eventlog())
            .args([
                "query", "-n", &ns, "-o", "json", "-l", selector, "--store", &store,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["items"].as_array().unwrap().len()
    };
    assert_eq!(selected("app=web,tier in (front,back)"), 3);
    assert_eq!(selected("app=db"), 0);
    assert_eq!(selected("!tier"), 0);

    // Health: the relist after the restart was all dedup hits but the two changes.
    let m = kplug_tests::e2e::http::get(&format!("127.0.0.1:{metrics}"), "/metrics", &[]).unwrap();
    let body = String::from_utf8_lossy(&m.body).into_owned();
    assert!(body.contains("kplug_eventlog_relist_size 3"), "{body}");
    assert!(
        body.contains("kplug_eventlog_dedup_hits_total 1"),
        "e2 was listed again: {body}"
    );
    assert!(
        body.contains("kplug_eventlog_occurrences_written_total 3"),
        "2 BackOffs + 1 FailedMount since the restart: {body}"
    );
    // The probes: alive, and ready once listed with a store that takes writes.
    for (path, says) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = kplug_tests::e2e::http::get(&format!("127.0.0.1:{metrics}"), path, &[]).unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(String::from_utf8_lossy(&r.body).trim(), says, "{path}");
    }
    let missing =
        kplug_tests::e2e::http::get(&format!("127.0.0.1:{metrics}"), "/nothing", &[]).unwrap();
    assert_eq!(missing.status, 404);

    // SIGTERM: flush and exit cleanly.
    Command::new("kill")
        .args(["-TERM", &collector.id().to_string()])
        .status()
        .unwrap();
    let out = collector.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("eventlog: stopped;"),
        "{}",
        text(&out.stderr)
    );
}

/// `--max-size` deletes the oldest days first and never the newest, on
/// SQLite (rows) and PostgreSQL (day partitions dropped: deleted rows give
/// no space back there) alike.
#[test]
fn a_size_limit_keeps_the_newest_day_on_sqlite_and_postgresql() {
    use kplug_tests::e2e::postgres::Postgres;

    let pg = Postgres::start();
    pg.psql("CREATE DATABASE sized");
    let dir = tempfile::tempdir().unwrap();
    let data = kplug_tests::e2e::workspace_root().join("tests/data/events");
    // One day of 2019 and one of 2020.
    let old = data.join("minikube-2019-default.json");
    let new = data.join("aks-2020-default.json");
    let partitions = || {
        pg.psql_in(
            "sized",
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'occurrences'::regclass",
        )
    };
    for store in [sqlite(&dir.path().join("sized.db")), pg.url("sized")] {
        let run = |args: &[&str]| on_store(&store, args);
        let stored = || -> usize {
            let out = run(&["query", "-A", "-o", "json"]);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            v["items"].as_array().map_or(0, Vec::len)
        };
        let imported = run(&["import", new.to_str().unwrap()]);
        assert!(imported.status.success(), "{}", text(&imported.stderr));
        let newest = stored();
        let imported = run(&["import", old.to_str().unwrap()]);
        assert!(imported.status.success(), "{}", text(&imported.stderr));
        let before = stored();
        assert!(before > newest + 100, "{store}: {before} vs {newest}");
        if store.starts_with("postgres") {
            assert_eq!(partitions(), "3", "two days and the default");
        }

        let pruned = run(&["prune", "--max-size", "1KB"]);
        assert!(pruned.status.success(), "{store}: {}", text(&pruned.stderr));
        assert!(
            text(&pruned.stdout).contains("deleted"),
            "{}",
            text(&pruned.stdout)
        );
        assert_eq!(stored(), newest, "{store}: the 2019 day went, 2020 stayed");
        if store.starts_with("postgres") {
            assert_eq!(partitions(), "2", "the 2019 day was dropped");
            assert!(
                text(&pruned.stdout).contains("1 day partition"),
                "{}",
                text(&pruned.stdout)
            );
        }
        // The dumps are years old: a day's retention deletes the rest.
        let pruned = run(&["prune", "--retain", "1d"]);
        assert!(pruned.status.success(), "{}", text(&pruned.stderr));
        assert_eq!(stored(), 0, "{store}");
    }
}

/// A PostgreSQL store of schema 3 (one plain table of occurrences) is
/// moved into day partitions by the first command that writes, its rows
/// and ids kept, and new rows numbered after them.
#[test]
fn an_unpartitioned_postgresql_store_is_moved_into_day_partitions() {
    use kplug_eventlog::store::schema::{SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION};
    use kplug_tests::e2e::postgres::Postgres;

    let pg = Postgres::start();
    pg.psql("CREATE DATABASE old");
    // A version 3 store, as kplug wrote it before partitions.
    for sql in SCHEMA_V1.iter().chain(SCHEMA_V2).chain(SCHEMA_V3) {
        pg.psql_in(
            "old",
            &sql.replace("{ID}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                .replace("{WITHOUT_ROWID}", ""),
        );
    }
    pg.psql_in(
        "old",
        "INSERT INTO meta (key, value) VALUES ('schema_version', '3');
         INSERT INTO ledger (key, resource_version, count, last_ms) VALUES ('c/u1', '9', 7, 1764460800000);
         INSERT INTO occurrences (event_key, cluster, namespace, kind, name, object_uid, field_path, owner_root, reason, type, message,
             reporting_controller, node, first_ms, last_ms, occurrences, category, severity, template, fingerprint, raw)
         VALUES ('c/u1', 'c', 'shop', 'Pod', 'web-0', '', '', 'web', 'BackOff', 'Warning', 'm', 'kubelet', 'n', 1, 1764460800000, 7, 'crash', 'high', 'm', 'f', '{}'),
                ('c/u2', 'c', 'shop', 'Pod', 'web-1', '', '', 'web', 'Pulled', 'Normal', 'm', 'kubelet', 'n', NULL, NULL, 1, 'info', 'info', 'm', 'g', '{}')",
    );
    let store = pg.url("old");
    let run = |args: &[&str]| on_store(&store, args);
    let outdated = run(&["query", "-A"]);
    assert_eq!(outdated.status.code(), Some(1));
    assert!(
        text(&outdated.stderr).contains("schema 3"),
        "{}",
        text(&outdated.stderr)
    );

    let dump =
        kplug_tests::e2e::workspace_root().join("tests/data/events/minikube-2019-default.json");
    let imported = run(&["import", dump.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let partitions = pg.psql_in(
        "old",
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'occurrences'::regclass",
    );
    assert_eq!(
        partitions,
        "occurrences_d20190308,occurrences_d20251130,occurrences_default"
    );
    assert_eq!(
        pg.psql_in("old", "SELECT id, occurrences FROM occurrences WHERE event_key IN ('c/u1', 'c/u2') ORDER BY id"),
        "1|7\n2|1",
        "the old rows keep their ids"
    );
    assert_eq!(
        pg.psql_in("old", "SELECT count(*) FROM occurrences WHERE id <= 2"),
        "2",
        "new rows are numbered after the old ones"
    );
    assert_eq!(
        pg.psql_in("old", "SELECT value FROM meta WHERE key = 'schema_version'"),
        SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        pg.psql_in(
            "old",
            "SELECT cluster, count FROM ledger WHERE key = 'c/u1'"
        ),
        "c|7",
        "the ledger learns each entry's cluster from its key"
    );
    let out = run(&["query", "-A", "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["items"].as_array().unwrap().len() > 100);
}

#[test]
fn postgresql_over_tls_verifies_as_sslmode_asks() {
    use kplug_tests::e2e::postgres::{Postgres, SERVER_NAME};

    let (pg, certs) = Postgres::start_tls();
    pg.psql("CREATE DATABASE secure");
    let dump =
        kplug_tests::e2e::workspace_root().join("tests/data/events/minikube-2019-default.json");
    let import = |store: &str| {
        Command::new(eventlog())
            .args(["import", dump.to_str().unwrap(), "--store", store])
            .output()
            .unwrap()
    };
    let at_ip = |query: &str| format!("postgresql://postgres@127.0.0.1:{}/secure?{query}", pg.port);
    let ca = certs.ca.display().to_string();

    // The server takes TLS only: a plain connection is turned away.
    let plain = import(&at_ip("sslmode=disable"));
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain.stderr));
    assert!(
        text(&plain.stderr).contains("no encryption"),
        "{}",
        text(&plain.stderr)
    );

    // Encrypted without checking the certificate, as libpq's require.
    let required = import(&at_ip("sslmode=require"));
    assert!(required.status.success(), "{}", text(&required.stderr));

    // The certificate is for db.kplug.test, not for 127.0.0.1: verify-ca
    // checks only the CA, verify-full the name too.
    let chain = import(&at_ip(&format!("sslmode=verify-ca&sslrootcert={ca}")));
    assert!(chain.status.success(), "{}", text(&chain.stderr));
    let wrong_name = import(&at_ip(&format!("sslmode=verify-full&sslrootcert={ca}")));
    assert_eq!(wrong_name.status.code(), Some(1));
    assert!(
        text(&wrong_name.stderr).contains("certificate not valid for name \"127.0.0.1\""),
        "{}",
        text(&wrong_name.stderr)
    );
    let named = import(&format!(
        "postgresql://postgres@{SERVER_NAME}:{}/secure?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}",
        pg.port
    ));
    assert!(named.status.success(), "{}", text(&named.stderr));
    assert!(
        text(&named.stdout).contains("0 new occurrences"),
        "the third import adds nothing: {}",
        text(&named.stdout)
    );

    // A CA that did not sign the server's certificate.
    let stranger = import(&at_ip(&format!(
        "sslmode=verify-full&sslrootcert={}",
        certs.other_ca.display()
    )));
    assert_eq!(stranger.status.code(), Some(1));
    assert!(
        text(&stranger.stderr).contains("invalid peer certificate"),
        "{}",
        text(&stranger.stderr)
    );
    // Verifying without a CA is a usage error, said before connecting.
    let no_ca = import(&at_ip("sslmode=verify-full"));
    assert_eq!(no_ca.status.code(), Some(2), "{}", text(&no_ca.stderr));
    assert!(
        text(&no_ca.stderr).contains("sslrootcert"),
        "{}",
        text(&no_ca.stderr)
    );

    assert!(
        pg.psql_in("secure", "SELECT count(*) FROM occurrences")
            .parse::<u64>()
            .unwrap()
            > 100
    );
}

/// The same imports and queries on SQLite and on PostgreSQL give the same
/// results, and re-importing adds nothing on either.
#[test]
fn sqlite_postgresql_and_citus_answer_alike() {
    use kplug_tests::e2e::postgres::Postgres;

    let pg = Postgres::start();
    pg.psql("CREATE DATABASE eventlog");
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![
        format!("sqlite:{}", dir.path().join("e.db").display()),
        pg.url("eventlog"),
    ];
    let citus = match kplug_tests::e2e::citus::Citus::start() {
        Ok(citus) => Some(citus),
        Err(why) => {
            kplug_tests::e2e::skip(&format!("the Citus third of the parity test: {why}"));
            None
        }
    };
    stores.extend(citus.as_ref().map(|c| c.url()));
    // A generated fleet beside the real dumps: the same Events from two
    // clusters, so answers across clusters and for one are compared too.
    let corpus = dir.path().join("fleet.json");
    kplug_tests::corpus::write_event_list(&corpus, 6_000);
    let corpus = corpus.display().to_string();
    let files = dumps();
    let run = |store: &str, args: &[&str]| {
        let out = Command::new(eventlog())
            .args(args)
            .args(["--store", store])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} on {store}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let queries: Vec<Vec<&str>> = vec![
        vec!["query", "-A", "-o", "json"],
        vec!["query", "-A", "--severity", "high", "-o", "json"],
        vec![
            "query",
            "-n",
            "kube-system",
            "--for",
            "deploy/coredns-autoscaler",
            "-o",
            "json",
        ],
        vec![
            "query",
            "-A",
            "--grep",
            "probe",
            "--category",
            "probes",
            "--limit",
            "5",
            "-o",
            "json",
        ],
        vec![
            "query",
            "-A",
            "--since",
            "2020-06-01T00:00:00Z",
            "--until",
            "2020-07-01T00:00:00Z",
            "-o",
            "json",
        ],
        vec![
            "aggregate",
            "-A",
            "--by",
            "reason,category,severity",
            "--since",
            "2019-01-01T00:00:00Z",
            "--until",
            "2020-12-31T00:00:00Z",
            "--window",
            "30d",
            "-o",
            "json",
        ],
        vec![
            "aggregate",
            "-A",
            "--by",
            "node,fingerprint",
            "--since",
            "2019-01-01T00:00:00Z",
            "--until",
            "2020-12-31T00:00:00Z",
            "--window",
            "7d",
            "-o",
            "json",
        ],
        // Whole hours by object and fingerprint: the object rollup answers.
        vec![
            "aggregate",
            "-A",
            "--by",
            "namespace,name,fingerprint",
            "--since",
            "2019-03-01T00:00:00Z",
            "--until",
            "2019-03-15T00:00:00Z",
            "--window",
            "1d",
            "-o",
            "json",
        ],
    ];
    let fleet_week = [
        "--since",
        "2026-11-19T00:00:00Z",
        "--until",
        "2026-11-26T00:00:00Z",
    ];
    let fleet: Vec<Vec<&str>> = vec![
        [
            &["aggregate", "-A", "--by", "cluster,reason", "-o", "json"][..],
            &fleet_week,
        ]
        .concat(),
        [
            &[
                "aggregate",
                "-A",
                "--by",
                "fingerprint",
                "--cluster-name",
                "fleet-b",
                "-o",
                "json",
            ][..],
            &fleet_week,
        ]
        .concat(),
        vec![
            "query",
            "-A",
            "--cluster-name",
            "fleet-a",
            "--for",
            "deploy/web-7",
            "-o",
            "json",
        ],
        vec![
            "query", "-n", "ns-7", "--reason", "Pulled", "--limit", "20", "-o", "json",
        ],
        vec![
            "incidents",
            "-A",
            "--since",
            "2019-01-01T00:00:00Z",
            "-o",
            "json",
        ],
        vec![
            "patterns",
            "-A",
            "--since",
            "2019-03-01T00:00:00Z",
            "--until",
            "2019-03-10T00:00:00Z",
            "-o",
            "json",
        ],
    ];
    let queries: Vec<Vec<&str>> = queries.into_iter().chain(fleet).collect();
    let mut answers: Vec<Vec<String>> = Vec::new();
    for store in &stores {
        let mut import = vec!["import"];
        import.extend(files.iter().map(String::as_str));
        assert!(run(store, &import).contains("imported 496 Events"));
        assert!(
            run(store, &import).contains("0 new occurrences; 496 Events already recorded in full"),
            "{store}"
        );
        for cluster in ["fleet-a", "fleet-b"] {
            let out = run(store, &["import", "--cluster-name", cluster, &corpus]);
            assert!(out.contains("imported 6000 Events"), "{out}");
        }
        answers.push(queries.iter().map(|q| run(store, q)).collect());
    }
    let kinds = ["SQLite", "PostgreSQL", "Citus"];
    for (k, other) in answers.iter().enumerate().skip(1) {
        for (q, (a, b)) in queries.iter().zip(answers[0].iter().zip(other)) {
            assert_eq!(a, b, "{q:?} differs between SQLite and {}", kinds[k]);
        }
    }
    for (q, a) in queries.iter().zip(&answers[0]) {
        let v: Value = serde_json::from_str(a).unwrap();
        let found = v
            .get("items")
            .or_else(|| v.get("groups"))
            .or_else(|| v.get("incidents"))
            .or_else(|| v.get("patterns"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        assert!(found > 0, "{q:?} found nothing: {a}");
    }
    // An incident's Events, by its ID, alike everywhere: the liveness
    // failures of coredns-autoscaler explain its BackOffs.
    let patterns: Value = serde_json::from_str(answers[0].last().unwrap()).unwrap();
    assert!(
        patterns["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "burst"
                && p["reason"] == "FailedScheduling"
                && p["at"] == "2019-03-08T08:00:00Z"),
        "the scheduling storm of 2019-03-08 is a burst: {patterns}"
    );
    let listed: Value = serde_json::from_str(&answers[0][answers[0].len() - 2]).unwrap();
    let incident = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["root"]["reason"] == "Unhealthy")
        .unwrap_or_else(|| panic!("a liveness incident in {listed}"));
    assert_eq!(incident["effects"][0]["reason"], "BackOff", "{incident}");
    let id = incident["id"].as_str().unwrap();
    let by_id = [
        "query",
        "-A",
        "--since",
        "2019-01-01T00:00:00Z",
        "--incident",
        id,
        "-o",
        "json",
    ];
    let events: Vec<String> = stores.iter().map(|s| run(s, &by_id)).collect();
    assert!(events.iter().all(|e| *e == events[0]));
    let v: Value = serde_json::from_str(&events[0]).unwrap();
    let reasons: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Unhealthy", "BackOff"], "{v}");
    let unknown = on_store(&stores[0], &["query", "-A", "--incident", "000000000000"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    // Credentials in a URL never show in messages.
    let out = Command::new(eventlog())
        .args([
            "query",
            "--store",
            "postgres://kplug:hunter2@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stderr).contains("hunter2")
            && text(&out.stderr).contains("postgres://kplug@127.0.0.1:1/none"),
        "{}",
        text(&out.stderr)
    );
}

/// deploy/eventlog applies in one go to a fresh API server (files are
/// named so kubectl applies the namespace first), and the collector's
/// ServiceAccount may list and watch Events of both APIs everywhere and
/// nothing else.
#[test]
fn the_in_cluster_manifests_apply_with_least_privilege() {
    use kplug_tests::e2e::peers;
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        eprintln!("skipped: the manifests are applied to a fresh local API server only");
        return;
    }
    let cluster = Cluster::private();
    let kubectl = |args: &[&str]| {
        Command::new(peers::path("KUBECTL"))
            .args(cluster.args(ADMIN))
            .args(args)
            .output()
            .unwrap()
    };
    let dir = kplug_tests::e2e::workspace_root().join("deploy/eventlog");
    let out = kubectl(&["apply", "-f", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sa = "system:serviceaccount:kplug-eventlog:eventlog";
    let can = |verb: &str, resource: &str| {
        let o = kubectl(&[
            "auth",
            "can-i",
            verb,
            resource,
            "--all-namespaces",
            "--as",
            sa,
        ]);
        text(&o.stdout).trim() == "yes"
    };
    assert!(can("watch", "events") && can("list", "events.events.k8s.io"));
    assert!(
        can("get", "pods") && can("get", "deployments.apps"),
        "labels for -l"
    );
    assert!(!can("get", "secrets") && !can("create", "events") && !can("list", "pods"));
    // Its identity, and no other namespace.
    let can_in_cluster = |verb: &str, resource: &str| {
        let o = kubectl(&["auth", "can-i", verb, resource, "--as", sa]);
        text(&o.stdout).trim() == "yes"
    };
    assert!(can_in_cluster("get", "namespaces/kube-system"));
    assert!(!can_in_cluster("get", "namespaces/default") && !can_in_cluster("list", "namespaces"));
    // --leader-elect: its own Lease in its own namespace, nothing more.
    let can_in = |verb: &str, resource: &str, ns: &str| {
        let o = kubectl(&["auth", "can-i", verb, resource, "-n", ns, "--as", sa]);
        text(&o.stdout).trim() == "yes"
    };
    assert!(
        can_in(
            "get",
            "leases.coordination.k8s.io/kplug-eventlog",
            "kplug-eventlog"
        ) && can_in(
            "update",
            "leases.coordination.k8s.io/kplug-eventlog",
            "kplug-eventlog"
        ) && can_in("create", "leases.coordination.k8s.io", "kplug-eventlog")
    );
    assert!(
        !can_in(
            "update",
            "leases.coordination.k8s.io/other",
            "kplug-eventlog"
        ) && !can_in(
            "get",
            "leases.coordination.k8s.io/kplug-eventlog",
            "kube-system"
        ) && !can_in(
            "delete",
            "leases.coordination.k8s.io/kplug-eventlog",
            "kplug-eventlog"
        )
    );
    // The two-replica variant applies over the single one.
    let ha = dir.join("ha");
    let out = kubectl(&["apply", "-f", ha.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replicas = kubectl(&[
        "get",
        "deployment",
        "eventlog",
        "-n",
        "kplug-eventlog",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(text(&replicas.stdout).trim(), "2");
}

/// The API server goes away mid-watch and comes back: the collector retries
/// with backoff, relists, and records what happened — once.
#[tokio::test]
async fn collect_survives_an_api_server_restart() {
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        eprintln!("skipped: cannot restart the API server of an existing cluster");
        return;
    }
    let cluster = Cluster::private();
    let ns = cluster.namespace("eventlog-restart").await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let event = |count: i64| {
        json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": "api-0", "uid": "api-0-uid"},
               "reason": "Unhealthy", "message": "Liveness probe failed: timeout", "type": "Warning",
               "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": now(-10), "lastTimestamp": now(0), "count": count})
    };
    objects::core_event(&cluster.client(ADMIN).await, &ns, event(2)).await;
    let metrics = free_port();
    let mut collector = start(&cluster, &ns, &store, metrics);
    wait_for(&mut collector, "the first occurrences", || {
        counts(&store, &ns).get("Unhealthy/api-0") == Some(&2)
    });

    cluster.stop_apiserver();
    std::thread::sleep(Duration::from_secs(2));
    cluster.start_apiserver();
    bump(&cluster.client(ADMIN).await, &ns, "e1", 5).await;
    wait_for(&mut collector, "the occurrences after the restart", || {
        counts(&store, &ns).get("Unhealthy/api-0") == Some(&5)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counts(&store, &ns).get("Unhealthy/api-0"),
        Some(&5),
        "nothing twice"
    );
    let m = kplug_tests::e2e::http::get(&format!("127.0.0.1:{metrics}"), "/metrics", &[]).unwrap();
    let body = String::from_utf8_lossy(&m.body).into_owned();
    let restarts: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("kplug_eventlog_watch_restarts_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(restarts >= 1, "the lost watch was counted: {body}");
    collector.kill().unwrap();
    let _ = collector.wait();
}

/// A metric's value from the collector's `/metrics`.
pub(crate) fn metric(port: u16, name: &str) -> u64 {
    let m = kplug_tests::e2e::http::get(&format!("127.0.0.1:{port}"), "/metrics", &[]).unwrap();
    let body = String::from_utf8_lossy(&m.body).into_owned();
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// etcd compacts away the history the collector's watch would resume from:
/// the API server answers 410 Gone, the collector relists, and the store
/// holds exactly the occurrences that happened.
#[tokio::test]
async fn collect_relists_after_410_gone() {
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        eprintln!("skipped: cannot compact the etcd of an existing cluster");
        return;
    }
    let cluster = Cluster::private();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-gone").await;
    let noise = cluster.namespace("eventlog-noise").await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let event = |name: &str, ns: &str, count: i64| {
        json!({"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": "db-0", "uid": "db-0-uid"},
               "reason": "BackOff", "message": "Back-off restarting failed container db", "type": "Warning",
               "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": now(-10), "lastTimestamp": now(0), "count": count})
    };
    objects::core_event(&client, &ns, event("e1", &ns, 1)).await;
    let metrics = free_port();
    let mut collector = start(&cluster, &ns, &store, metrics);
    wait_for(&mut collector, "the first occurrence", || {
        counts(&store, &ns).get("BackOff/db-0") == Some(&1)
    });

    // History moves on where the collector does not look, and is compacted
    // away; the restarted API server's watch cache starts after it.
    for i in 0..20 {
        objects::core_event(&client, &noise, event(&format!("n{i}"), &noise, 1)).await;
    }
    cluster.stop_apiserver();
    let revision = cluster.compact_etcd();
    cluster.start_apiserver();
    bump(&cluster.client(ADMIN).await, &ns, "e1", 4).await;
    wait_for(&mut collector, "the occurrences after the 410", || {
        counts(&store, &ns).get("BackOff/db-0") == Some(&4)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counts(&store, &ns),
        [("BackOff/db-0".to_string(), 4)].into(),
        "nothing twice, nothing from elsewhere"
    );
    assert!(
        metric(metrics, "kplug_eventlog_watch_gone_total") >= 1,
        "the watch from before revision {revision} got 410 Gone"
    );
    collector.kill().unwrap();
    let _ = collector.wait();
}

/// PostgreSQL stops while the collector runs: writes fail and are kept,
/// Events keep coming, and when the server is back the collector connects
/// again and writes everything, once.
/// A Warning about Pod api-0 in `ns`, seen `count` times.
pub(crate) fn warning(ns: &str, name: &str, reason: &str, count: i64) -> Value {
    json!({"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": "api-0", "uid": "api-0-uid"},
           "reason": reason, "message": format!("{reason} happened"), "type": "Warning",
           "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": now(-10), "lastTimestamp": now(0), "count": count})
}

/// Event `name` in `ns` occurs again: its count becomes `count`, seen now.
pub(crate) async fn bump(client: &kube::Client, ns: &str, name: &str, count: i64) {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::api::{Api, Patch, PatchParams};
    Api::<CoreEvent>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"count": count, "lastTimestamp": now(0)})),
        )
        .await
        .unwrap();
}

/// What happens while the store cannot write: e1 occurs twice more and a
/// new Event e2 twice (with e1 once before, 5 occurrences in all).
async fn occur_while_the_store_is_away(client: &kube::Client, ns: &str) {
    bump(client, ns, "e1", 3).await;
    objects::core_event(client, ns, warning(ns, "e2", "Unhealthy", 2)).await;
}

/// Every occurrence of [`occur_while_the_store_is_away`] stored, once.
fn caught_up(store: &str, ns: &str) -> bool {
    let c = counts(store, ns);
    c.get("BackOff/api-0") == Some(&3) && c.get("Unhealthy/api-0") == Some(&2)
}

/// Wait until `collector` has caught up, then check a moment later that
/// nothing was stored twice.
fn stored_once(collector: &mut Child, what: &str, store: &str, ns: &str) {
    wait_for(collector, what, || caught_up(store, ns));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counts(store, ns).values().sum::<i64>(),
        5,
        "3 + 2 occurrences, each once"
    );
}

/// Another process holds the SQLite store's write lock for longer than the
/// store waits for it: the collector keeps its batch, backs off, and stores
/// everything once the lock is gone, without stopping.
#[tokio::test]
async fn collect_waits_out_a_lock_on_its_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = sqlite(&path);
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-lock").await;
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 1)).await;
    let metrics = free_port();
    let mut collector = start(cluster, &ns, &store, metrics);
    wait_for(&mut collector, "the first occurrence", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&1)
    });

    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    occur_while_the_store_is_away(&client, &ns).await;
    // The store waits 10 s for a lock before it reports the store busy.
    let started = Instant::now();
    while metric(metrics, "kplug_eventlog_store_errors_total") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "no failed write while the store was locked"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    stored_once(&mut collector, "catching up after the lock", &store, &ns);
    assert!(
        collector.try_wait().unwrap().is_none(),
        "a lock is no reason to stop"
    );
    collector.kill().unwrap();
    let said = text(&collector.wait_with_output().unwrap().stderr);
    assert!(said.contains("retrying in"), "{said}");
}

/// Unmounts a tmpfs when dropped.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The SQLite store's disk fills up: the collector stops with one sentence
/// instead of retrying forever, and once there is room the next collect
/// stores what it missed, each occurrence once.
#[tokio::test]
async fn collect_stops_on_a_full_disk_and_the_next_run_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&small)
        .output();
    match &mounted {
        Ok(out) if out.status.success() => {}
        other => {
            println!(
                "skipped: collect_stops_on_a_full_disk_and_the_next_run_loses_nothing: cannot mount a small tmpfs here (it needs root): {:?}",
                other.as_ref().map(|o| text(&o.stderr))
            );
            return;
        }
    }
    let _mounted = Mounted(small.clone());
    let store = sqlite(&small.join("events.db"));
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-full").await;
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 1)).await;
    let mut collector = start(cluster, &ns, &store, free_port());
    wait_for(&mut collector, "the first occurrence", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&1)
    });

    // Take every byte that is left.
    let filler = small.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    occur_while_the_store_is_away(&client, &ns).await;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = collector.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = collector.kill();
            let said = text(&collector.wait_with_output().unwrap().stderr);
            panic!("the collector kept going on a full disk:\n{said}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let said = text(&collector.wait_with_output().unwrap().stderr);
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains("the store cannot take writes") && said.contains("full"),
        "{said}"
    );

    std::fs::remove_file(&filler).unwrap();
    let mut again = start(cluster, &ns, &store, free_port());
    stored_once(&mut again, "the next collect catching up", &store, &ns);
    again.kill().unwrap();
    let _ = again.wait();
}

#[tokio::test]
async fn collect_keeps_its_batch_while_postgresql_is_down() {
    use kplug_tests::e2e::postgres::Postgres;

    let mut pg = Postgres::start();
    pg.psql("CREATE DATABASE outage");
    let store = pg.url("outage");
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-pg").await;
    let event = |name: &str, reason: &str, count: i64| warning(&ns, name, reason, count);
    objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "api-0", "labels": {"app": "api"}},
               "spec": {"containers": [{"name": "app", "image": "registry.example/api:1"}]}}),
        json!({"phase": "Pending"}),
    )
    .await;
    objects::core_event(&client, &ns, event("e1", "BackOff", 1)).await;
    let metrics = free_port();
    let mut collector = start(cluster, &ns, &store, metrics);
    wait_for(&mut collector, "the first occurrence", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&1)
    });

    pg.stop();
    occur_while_the_store_is_away(&client, &ns).await;
    wait_for(&mut collector, "a failed write", || {
        metric(metrics, "kplug_eventlog_store_errors_total") >= 1
    });
    let readyz = || {
        kplug_tests::e2e::http::get(&format!("127.0.0.1:{metrics}"), "/readyz", &[])
            .unwrap()
            .status
    };
    assert_eq!(readyz(), 503, "not ready while the store refuses writes");
    pg.restart();
    stored_once(&mut collector, "catching up after the outage", &store, &ns);
    assert_eq!(readyz(), 200, "ready again");
    // The labels read for `-l` are kept in PostgreSQL too.
    let out = Command::new(eventlog())
        .args([
            "query", "-n", &ns, "-l", "app=api", "-o", "json", "--store", &store,
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if v["items"].as_array().map(Vec::len) != Some(2) {
        let _ = collector.kill();
        let said = collector.wait_with_output().unwrap();
        panic!(
            "-l app=api on PostgreSQL: {v}; the collector said: {}",
            text(&said.stderr)
        );
    }
    collector.kill().unwrap();
    let _ = collector.wait();
}

/// Two collectors with `--leader-elect` on one PostgreSQL: one leads, the
/// other waits; the leader is SIGKILLed while Events keep occurring; the
/// other takes the Lease over after the lease duration and the store ends
/// with every occurrence exactly once. A clean stop releases the Lease.
#[tokio::test]
async fn a_standby_collector_takes_over_when_the_leader_is_killed() {
    use k8s_openapi::api::coordination::v1::Lease;

    let (_pg, store) = shared_store("ha");
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-ha").await;
    let lease = format!("{ns}/kplug-eventlog");
    let replica = |name: &str, metrics: u16| {
        start_with(
            cluster,
            &ns,
            &store,
            metrics,
            &[
                "--leader-elect",
                "--lease",
                &lease,
                "--lease-duration",
                "3s",
                "--identity",
                name,
            ],
        )
    };
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 1)).await;
    let (pa, pb) = (free_port(), free_port());
    let mut a = replica("replica-a", pa);
    wait_for(&mut a, "replica-a to lead and write", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&1)
    });
    assert_eq!(metric(pa, "kplug_eventlog_leader"), 1);
    let mut b = replica("replica-b", pb);
    wait_for(&mut b, "replica-b's metrics", || {
        kplug_tests::e2e::http::get(&format!("127.0.0.1:{pb}"), "/metrics", &[]).is_ok()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(metric(pb, "kplug_eventlog_leader"), 0, "replica-b waits");
    bump(&client, &ns, "e1", 3).await;
    wait_for(&mut a, "replica-a to write the bump", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&3)
    });

    // The leader dies mid-stream; Events go on occurring.
    a.kill().unwrap();
    let _ = a.wait();
    let killed = Instant::now();
    bump(&client, &ns, "e1", 5).await;
    objects::core_event(&client, &ns, warning(&ns, "e2", "Unhealthy", 2)).await;
    wait_for(&mut b, "replica-b to take over", || {
        metric(pb, "kplug_eventlog_leader") == 1
    });
    let took = killed.elapsed();
    eprintln!("replica-b took over {took:?} after replica-a was killed (lease duration 3s)");
    assert!(
        took < Duration::from_secs(6),
        "took over after {took:?}, more than the lease duration and a few retries"
    );
    wait_for(&mut b, "replica-b to catch up", || {
        let c = counts(&store, &ns);
        c.get("BackOff/api-0") == Some(&5) && c.get("Unhealthy/api-0") == Some(&2)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counts(&store, &ns).values().sum::<i64>(),
        7,
        "5 + 2 occurrences, each once"
    );
    assert_eq!(metric(pb, "kplug_eventlog_leader_acquired_total"), 1);
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), &ns);
    let held = leases.get("kplug-eventlog").await.unwrap().spec.unwrap();
    assert_eq!(held.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(held.lease_transitions, Some(1));

    // A clean stop hands the Lease back.
    let term = Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = b.wait().unwrap();
    assert!(stopped.success(), "{stopped:?}");
    let released = leases.get("kplug-eventlog").await.unwrap().spec.unwrap();
    assert_eq!(released.holder_identity, None, "released on SIGTERM");
}

/// Two API servers, one collector each and no --cluster-name, into one
/// PostgreSQL: each cluster's rows carry its kube-system namespace's UID,
/// the same Event names stay apart, and --cluster-name picks one.
#[tokio::test]
async fn two_clusters_write_into_one_postgresql_under_their_own_identity() {
    use k8s_openapi::api::core::v1::Namespace;
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        eprintln!("skipped: two private API servers are needed, not an existing cluster");
        return;
    }
    let (_pg, store) = shared_store("fleet");
    let clusters = [Cluster::private(), Cluster::private()];
    let mut collectors = Vec::new();
    let mut identities = Vec::new();
    for (k, cluster) in clusters.iter().enumerate() {
        let client = cluster.client(ADMIN).await;
        // The same namespace and Event names in both clusters.
        let ns = "eventlog-fleet".to_string();
        objects::create_namespace(&client, &ns).await;
        let uid = kube::Api::<Namespace>::all(client.clone())
            .get("kube-system")
            .await
            .unwrap()
            .metadata
            .uid
            .unwrap();
        objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", k as i64 + 2)).await;
        collectors.push(start(cluster, &ns, &store, free_port()));
        identities.push(uid);
    }
    for (collector, (uid, expected)) in collectors.iter_mut().zip(identities.iter().zip([2, 3])) {
        wait_for(
            collector,
            "each cluster's occurrences under its UID",
            || {
                counts_in(&store, "eventlog-fleet", &["--cluster-name", uid]).get("BackOff/api-0")
                    == Some(&expected)
            },
        );
    }
    let out = on_store(
        &store,
        &[
            "aggregate",
            "-A",
            "--by",
            "cluster",
            "--since",
            "1h",
            "-o",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_cluster: Vec<(String, i64)> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"]["cluster"].as_str().unwrap().to_string(),
                g["count"].as_i64().unwrap(),
            )
        })
        .collect();
    by_cluster.sort();
    let mut expected = vec![(identities[0].clone(), 2), (identities[1].clone(), 3)];
    expected.sort();
    assert_eq!(by_cluster, expected);
    for mut c in collectors {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// A store an earlier collector filled under "default" keeps that name when
/// --cluster-name is not given, so nothing is recorded a second time under
/// the cluster's UID.
#[tokio::test]
async fn a_store_written_under_default_keeps_that_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let dump =
        kplug_tests::e2e::workspace_root().join("tests/data/events/minikube-2019-default.json");
    let imported = on_store(&store, &["import", dump.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-legacy").await;
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 1)).await;
    let mut collector = start(cluster, &ns, &store, free_port());
    wait_for(&mut collector, "the occurrence under \"default\"", || {
        counts_in(&store, &ns, &["--cluster-name", "default"]).get("BackOff/api-0") == Some(&1)
    });
    collector.kill().unwrap();
    let said = collector.wait_with_output().unwrap();
    assert!(
        text(&said.stderr).contains("keeping that name"),
        "{}",
        text(&said.stderr)
    );
}

/// `report --html` writes one page that headless Chromium loads without a
/// console error, with its script run and nothing fetched (the page's
/// Content-Security-Policy allows no fetch at all, so one would be logged
/// as refused); the screenshot is kept in target/ to look at.
#[test]
fn the_report_page_loads_in_chromium_without_errors_or_fetches() {
    use kplug_tests::e2e::peers;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let files = dumps();
    let mut import = vec!["import"];
    import.extend(files.iter().map(String::as_str));
    let imported = on_store(&store, &import);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let page = dir.path().join("coredns.html");
    let made = on_store(
        &store,
        &[
            "report",
            "-n",
            "kube-system",
            "--for",
            "deploy/coredns-autoscaler",
            "--since",
            "2020-06-03T20:00:00Z",
            "--until",
            "2020-06-07T09:00:00Z",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(
        text(&made.stderr).contains("1 incidents"),
        "{}",
        text(&made.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("marker-end=\"url(#arrow)\""),
        "the cause→effect arrow is drawn"
    );

    let chromium = |extra: &[&str]| {
        Command::new(peers::path("CHROMIUM"))
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
                // Any name lookup fails: a fetch could not leave the machine.
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=1200,600",
            ])
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap()
    };
    let dom = chromium(&["--dump-dom"]);
    assert!(dom.status.success(), "{}", text(&dom.stderr));
    assert!(
        text(&dom.stdout).contains("data-ready=\"yes\""),
        "the page's script ran: {}",
        text(&dom.stderr)
    );
    let console: Vec<String> = text(&dom.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Refused to") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    assert!(
        console.is_empty(),
        "console errors or refused fetches: {console:#?}"
    );
    let shot = kplug_tests::e2e::workspace_root().join("target/eventlog-report.png");
    let taken = chromium(&[&format!("--screenshot={}", shot.display())]);
    assert!(taken.status.success(), "{}", text(&taken.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    eprintln!("the report's screenshot: {}", shot.display());
}

/// `incidents -n NS --since 1h --kept -o json`: what the collector kept.
pub(crate) fn kept_incidents(store: &str, ns: &str) -> std::process::Output {
    on_store(
        store,
        &[
            "incidents",
            "-n",
            ns,
            "--since",
            "1h",
            "--kept",
            "-o",
            "json",
        ],
    )
}

/// The collector's incident tracker, quick.
const TRACKING: &[&str] = &["--keep-incidents", "--track-interval", "200ms"];

/// The collector is killed between an incident's cause and its effect and
/// started again: the store holds both, and they make one incident — found
/// at query time and kept by the collector's tracker alike.
#[tokio::test]
async fn a_restart_between_cause_and_effect_still_makes_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir.path().join("events.db"));
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-incident").await;
    let event = |name: &str, reason: &str, message: &str| {
        json!({"metadata": {"name": name}, "involvedObject": {"kind": "Pod", "namespace": ns, "name": "api-0", "uid": "api-0-uid"},
               "reason": reason, "message": message, "type": "Warning",
               "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": now(-5), "lastTimestamp": now(0), "count": 2})
    };
    objects::core_event(
        &client,
        &ns,
        event(
            "cause",
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        ),
    )
    .await;
    let mut collector = start_with(cluster, &ns, &store, free_port(), TRACKING);
    wait_for(&mut collector, "the cause", || {
        counts(&store, &ns).get("Unhealthy/api-0") == Some(&2)
    });
    collector.kill().unwrap();
    let _ = collector.wait();
    objects::core_event(
        &client,
        &ns,
        event(
            "effect",
            "BackOff",
            "Back-off restarting failed container app in pod api-0",
        ),
    )
    .await;
    let mut collector = start_with(cluster, &ns, &store, free_port(), TRACKING);
    wait_for(&mut collector, "the effect, after the restart", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&2)
    });
    wait_for(&mut collector, "the tracker to keep the incident", || {
        let kept = kept_incidents(&store, &ns);
        String::from_utf8_lossy(&kept.stdout).contains("\"BackOff\"")
    });
    collector.kill().unwrap();
    let _ = collector.wait();
    let out = on_store(
        &store,
        &["incidents", "-n", &ns, "--since", "1h", "-o", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let incidents = v["incidents"].as_array().unwrap();
    let rows = on_store(&store, &["query", "-n", &ns, "-o", "json"]);
    assert_eq!(
        incidents.len(),
        1,
        "{v}: the Events are {}",
        text(&rows.stdout)
    );
    assert_eq!(incidents[0]["root"]["reason"], "Unhealthy");
    assert_eq!(incidents[0]["effects"][0]["reason"], "BackOff");
    assert_eq!(incidents[0]["occurrences"], 4);
    // The collector kept the same incident as it went, across the restart.
    let kept = kept_incidents(&store, &ns);
    assert!(kept.status.success(), "{}", text(&kept.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&kept.stdout).unwrap(), v);
}

/// Another replica, its clock an hour ahead, writes itself into the Lease
/// while the leader holds it: the leader sees it at its next renewal and
/// stops at once rather than write beside it, and nothing was stored twice.
#[tokio::test]
async fn a_leader_whose_lease_is_stolen_stops_writing() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    let (_pg, store) = shared_store("stolen");
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-stolen").await;
    let lease = format!("{ns}/kplug-eventlog");
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 2)).await;
    let metrics = free_port();
    let mut a = start_with(
        cluster,
        &ns,
        &store,
        metrics,
        &[
            "--leader-elect",
            "--lease",
            &lease,
            "--lease-duration",
            "3s",
            "--identity",
            "replica-a",
        ],
    );
    wait_for(&mut a, "replica-a to lead and write", || {
        counts(&store, &ns).get("BackOff/api-0") == Some(&2)
    });
    // The thief: renewTime an hour ahead, as its clock says.
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), &ns);
    // The leader renews every few hundred ms: a write that meets a renewal
    // (409) reads again and retries, as a real replica would.
    loop {
        let mut held = leases.get("kplug-eventlog").await.unwrap();
        let spec = held.spec.as_mut().unwrap();
        spec.holder_identity = Some("replica-ahead".into());
        spec.renew_time = Some(MicroTime(
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
        ));
        match leases
            .replace("kplug-eventlog", &Default::default(), &held)
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("stealing the Lease: {e}"),
        }
    }
    let stolen = Instant::now();
    let status = loop {
        if let Some(status) = a.try_wait().unwrap() {
            break status;
        }
        assert!(
            stolen.elapsed() < Duration::from_secs(10),
            "replica-a went on after losing the Lease"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1));
    let said = a.wait_with_output().unwrap();
    assert!(
        text(&said.stderr).contains("replica-ahead holds the Lease now; stopping"),
        "{}",
        text(&said.stderr)
    );
    eprintln!(
        "replica-a stopped {:?} after the Lease was taken",
        stolen.elapsed()
    );
    // What it wrote stays, once.
    assert_eq!(counts(&store, &ns).values().sum::<i64>(), 2);
}
