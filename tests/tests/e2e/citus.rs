//! `kubectl eventlog` on Citus: a real coordinator and two workers on
//! loopback. The store's tables are sharded by cluster and co-located;
//! collectors of several clusters write at once; a worker stopped
//! mid-ingest loses nothing and duplicates nothing; retention drops day
//! partitions of the distributed tables; a plain PostgreSQL store moves
//! onto Citus by dump and restore.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kplug_tests::e2e::citus::Citus;
use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{free_port, objects, skip};
use serde_json::{Value, json};

use crate::eventlog::{
    bump, counts_in, dumps, lay_out, metric, now, on_store, start_with, wait_for, warning,
};
use crate::text;

/// Citus, or the reason it is not here (printed as a skip).
fn citus(test: &str) -> Option<Citus> {
    match Citus::start() {
        Ok(c) => Some(c),
        Err(why) => {
            skip(&format!("{test}: {why}"));
            None
        }
    }
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The store opened for writing twice lays itself out once: every table
/// with a cluster distributed by it in one co-location group, `meta` a
/// reference table; `store info` shows the shards on both workers and the
/// day partitions; retention drops whole days on the workers.
#[test]
fn a_citus_store_is_sharded_by_cluster_and_retention_drops_days() {
    let Some(citus) = citus("a_citus_store_is_sharded_by_cluster") else {
        return;
    };
    let store = citus.url();
    let mut import = vec!["import"];
    let files = dumps();
    import.extend(files.iter().map(String::as_str));
    let first = ok(on_store(&store, &import), "import");
    assert!(first.contains("imported 496 Events"), "{first}");
    let again = ok(on_store(&store, &import), "import again");
    assert!(again.contains("0 new occurrences"), "{again}");

    let layout = citus.coordinator.psql(
        "SELECT string_agg(logicalrelid::text || ':' || partmethod::text || ':' || COALESCE(column_to_column_name(logicalrelid, partkey), '-'), ',' ORDER BY logicalrelid::text) FROM pg_dist_partition WHERE logicalrelid::text NOT LIKE 'occurrences\\_%'",
    );
    assert_eq!(
        layout,
        "alerts:h:cluster,hourly:h:cluster,hourly_objects:h:cluster,incidents:h:cluster,ledger:h:cluster,meta:n:-,objects:h:cluster,occurrences:h:cluster,outbox:h:cluster"
    );
    let groups = citus
        .coordinator
        .psql("SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'");
    assert_eq!(
        groups, "1",
        "every distributed table in one co-location group"
    );

    let info: Value = serde_json::from_str(&ok(
        on_store(&store, &["store", "info", "-o", "json"]),
        "info",
    ))
    .unwrap();
    assert_eq!(info["kind"], "citus");
    assert_eq!(info["workers"].as_array().unwrap().len(), 3, "{info}");
    let occurrences = info["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "occurrences")
        .unwrap();
    assert_eq!(occurrences["placement"], "distributed");
    assert_eq!(occurrences["distributionColumn"], "cluster");
    let days: Vec<&str> = info["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(days, ["occurrences_d20190308", "occurrences_d20200607"]);
    for w in &citus.workers {
        let node = format!("127.0.0.1:{}", w.port);
        let held = info["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["node"] == node.as_str())
            .unwrap_or_else(|| panic!("{node} in {info}"));
        assert!(held["shards"].as_u64().unwrap() > 32, "{held}");
    }
    let table = ok(on_store(&store, &["store", "info"]), "info table");
    assert!(
        table.contains("Kind:     citus") && table.contains("distributed   cluster"),
        "{table}"
    );

    // Retention: everything before 2020 goes, as a dropped partition.
    let before = counts_total(&store);
    let cutoff_days = (jiff::Timestamp::now()
        - "2020-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap())
    .get_seconds()
        / 86_400;
    let pruned = ok(
        on_store(&store, &["prune", "--retain", &format!("{cutoff_days}d")]),
        "prune",
    );
    assert!(pruned.contains("deleted"), "{pruned}");
    let shards_left = citus
        .coordinator
        .psql("SELECT count(*) FROM citus_shards WHERE table_name::text = 'occurrences_d20190308'");
    assert_eq!(
        shards_left, "0",
        "the day's shards are gone from the workers"
    );
    let after = counts_total(&store);
    assert!(0 < after && after < before, "{before} -> {after}");
    let v: Value = serde_json::from_str(&ok(
        on_store(&store, &["query", "-A", "-o", "json"]),
        "query",
    ))
    .unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["lastSeen"].as_str().unwrap() >= "2020"),
        "only 2020 is left"
    );
}

/// Occurrences in the whole store.
fn counts_total(store: &str) -> i64 {
    let v: Value = serde_json::from_str(&ok(
        on_store(
            store,
            &[
                "aggregate",
                "-A",
                "--by",
                "cluster",
                "--since",
                "2010-01-01T00:00:00Z",
                "--window",
                "36500d",
                "-o",
                "json",
            ],
        ),
        "aggregate",
    ))
    .unwrap();
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_i64().unwrap())
        .sum()
}

/// A store on a plain PostgreSQL moves to Citus with pg_dump and psql; the
/// first kplug command that writes distributes it, the answers stay.
#[test]
fn a_plain_postgresql_store_moves_onto_citus() {
    use kplug_tests::e2e::postgres::Postgres;
    let Some(citus) = citus("a_plain_postgresql_store_moves_onto_citus") else {
        return;
    };
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE plain");
    let plain = pg.url("plain");
    let mut import = vec!["import", "--cluster-name", "prod-1"];
    let files = dumps();
    import.extend(files.iter().map(String::as_str));
    ok(on_store(&plain, &import), "import into PostgreSQL");
    let question = ["query", "-A", "--severity", "high", "-o", "json"];
    let before = ok(on_store(&plain, &question), "query PostgreSQL");

    let bin = kplug_tests::e2e::peers::path("POSTGRES_BIN");
    let dump = Command::new(bin.join("pg_dump"))
        .args(["--no-owner", "-d", &plain])
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let mut restore = Command::new(bin.join("psql"))
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &citus.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut restore.stdin.take().unwrap(), &dump.stdout).unwrap();
    let restored = restore.wait_with_output().unwrap();
    assert!(restored.status.success(), "{}", text(&restored.stderr));

    let store = citus.url();
    // A reader does not lay out: the store is still on the coordinator.
    assert_eq!(ok(on_store(&store, &question), "query restored"), before);
    // A writer does (here one that has nothing to do).
    ok(
        on_store(&store, &["prune", "--retain", "36500d"]),
        "prune distributes",
    );
    let distributed = citus
        .coordinator
        .psql("SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'h' AND logicalrelid::text IN ('occurrences', 'ledger', 'hourly', 'hourly_objects', 'objects')");
    assert_eq!(distributed, "5");
    // The coordinator's own copies were emptied once the workers had them.
    assert_eq!(
        citus.coordinator.psql(
            "SELECT sum(pg_relation_size(logicalrelid)) FROM pg_dist_partition WHERE partmethod = 'h'"
        ),
        "0"
    );
    assert_eq!(
        ok(on_store(&store, &question), "query on Citus"),
        before,
        "the same answer from the workers"
    );
    // Events already stored stay stored once.
    let again = ok(on_store(&store, &import), "import again on Citus");
    assert!(again.contains("0 new occurrences"), "{again}");
}

/// Four collectors, one per cluster name, write into Citus at once; the
/// worker holding the first cluster's shards is stopped while Events
/// occur: its writers see errors and retry, and once it is back every
/// cluster holds every occurrence exactly once.
#[tokio::test]
async fn four_collectors_write_at_once_and_a_worker_outage_loses_nothing() {
    let Some(mut citus) = citus("four_collectors_write_at_once") else {
        return;
    };
    let store = citus.url();
    // The schema once, before the writers race to open it.
    lay_out(&store);
    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("eventlog-citus").await;
    let names: Vec<String> = (0..4).map(|k| format!("fleet-{k}")).collect();
    // A volume that would not mount, then the back-off: an incident, which
    // each collector's tracker keeps on its own shard.
    let mut mount = warning(&ns, "e0", "FailedMount", 1);
    mount["firstTimestamp"] = json!(now(-30));
    mount["lastTimestamp"] = json!(now(-30));
    objects::core_event(&client, &ns, mount).await;
    objects::core_event(&client, &ns, warning(&ns, "e1", "BackOff", 1)).await;
    let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let mut collectors: Vec<Child> = names
        .iter()
        .zip(&ports)
        .map(|(n, p)| {
            start_with(
                cluster,
                &ns,
                &store,
                *p,
                &[
                    "--cluster-name",
                    n,
                    "--keep-incidents",
                    "--track-interval",
                    "200ms",
                ],
            )
        })
        .collect();
    let of = |name: &str| counts_in(&store, &ns, &["--cluster-name", name]);
    for (c, name) in collectors.iter_mut().zip(&names) {
        wait_for(c, "the first occurrence", || {
            of(name).get("BackOff/api-0") == Some(&1)
        });
    }

    // The worker with fleet-0's shard goes away.
    let port = citus.coordinator.psql(
        "SELECT nodeport FROM citus_shards WHERE shardid = get_shard_id_for_distribution_column('occurrences', 'fleet-0')",
    );
    let stopped = citus
        .workers
        .iter()
        .position(|w| w.port.to_string() == port)
        .unwrap_or_else(|| panic!("fleet-0 is on a worker, not {port}"));
    citus.workers[stopped].stop();
    bump(&client, &ns, "e1", 3).await;
    objects::core_event(&client, &ns, warning(&ns, "e2", "Unhealthy", 2)).await;
    wait_for(&mut collectors[0], "a failed write", || {
        metric(ports[0], "kplug_eventlog_store_errors_total") >= 1
    });
    std::thread::sleep(Duration::from_secs(2));
    citus.workers[stopped].restart();

    for (c, name) in collectors.iter_mut().zip(&names) {
        wait_for(c, "catching up after the worker came back", || {
            let n = of(name);
            n.get("BackOff/api-0") == Some(&3) && n.get("Unhealthy/api-0") == Some(&2)
        });
    }
    std::thread::sleep(Duration::from_millis(500));
    for name in &names {
        assert_eq!(
            of(name).values().sum::<i64>(),
            6,
            "{name}: 1 + 3 + 2 occurrences, each once"
        );
    }
    // Each tracker kept its cluster's incident as query time finds it.
    for (c, name) in collectors.iter_mut().zip(&names) {
        let incidents = |kept: &[&str]| {
            let mut args = vec![
                "incidents",
                "-n",
                &ns,
                "--cluster-name",
                name,
                "--since",
                "1h",
                "-o",
                "json",
            ];
            args.extend(kept);
            ok(on_store(&store, &args), "incidents")
        };
        wait_for(c, "the kept incident to catch up", || {
            incidents(&["--kept"]) == incidents(&[])
        });
        let v: Value = serde_json::from_str(&incidents(&["--kept"])).unwrap();
        assert_eq!(v["incidents"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["incidents"][0]["root"]["reason"], "FailedMount");
        assert_eq!(v["incidents"][0]["occurrences"], 4, "{v}");
    }
    let errors: Vec<u64> = ports
        .iter()
        .map(|p| metric(*p, "kplug_eventlog_store_errors_total"))
        .collect();
    assert!(errors[0] >= 1, "{errors:?}");
    for mut c in collectors {
        let _ = c.kill();
        let _ = c.wait();
    }
}
