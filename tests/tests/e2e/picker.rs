//! `kubectl inference` against the real endpoint picker (GIE v1.5.0's
//! `cmd/epp`) and real model servers (llm-d-inference-sim v0.10.2).
//!
//! The simulator binds its port on every address, so one per loopback
//! address is impossible; instead one Pod (podIP 127.0.0.2) has a target
//! port per simulator — the EPP makes an endpoint of each (Pod, port) and
//! scrapes `127.0.0.2:PORT/metrics`, which each simulator answers.
//!
//! The differential test sets metric snapshots on the simulators
//! (`POST /admin/config`), asks the EPP over ext_proc (the `extproc-client`
//! peer plays Envoy) where a chat request goes, or whether a sheddable one
//! gets 429, and checks that `kubectl inference explain POOL -o json`
//! replays the same decision.

use std::path::PathBuf;
use std::time::Duration;

use kplug_tests::e2e::cluster::{ADMIN, Cluster, run_dir};
use kplug_tests::e2e::inference::{ask_epp, start_epp};
use kplug_tests::e2e::process::Process;
use kplug_tests::e2e::{free_port, http, objects, peers};
use serde_json::{Value, json};

use crate::inference::{apply, inference, install_crds};
use crate::text;

const SERVERS: usize = 4;

/// Simulators on free ports, each reporting fixed metrics it is told.
struct Servers {
    ports: Vec<u16>,
    _processes: Vec<Process>,
}

impl Servers {
    fn start(dir: &std::path::Path) -> Servers {
        let bin = peers::path("INFERENCE_SIM");
        let mut ports = Vec::new();
        let mut processes = Vec::new();
        for i in 0..SERVERS {
            let port = free_port();
            let args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--model",
                "chat",
                // Otherwise it downloads a tokenizer from the internet.
                "--force-dummy-tokenizer",
                "--fake-metrics",
                r#"{"running-requests":0,"waiting-requests":0,"kv-cache-usage":0}"#,
            ]
            .map(String::from)
            .to_vec();
            let mut p = Process::start(&format!("inference-sim-{i}"), &bin, &args, dir, &[]);
            p.wait_until(Duration::from_secs(30), || {
                http::get(&format!("127.0.0.1:{port}"), "/metrics", &[])
                    .is_ok_and(|r| r.status == 200)
            });
            ports.push(port);
            processes.push(p);
        }
        Servers {
            ports,
            _processes: processes,
        }
    }

    /// Make server `i` report `waiting`, `running` and `kv` (0..1).
    fn set(&self, i: usize, waiting: u32, running: u32, kv: f64) {
        let body = json!({"fake-metrics": {
            "waiting-requests": waiting, "running-requests": running, "kv-cache-usage": kv}});
        let r = http::request(
            "POST",
            &format!("127.0.0.1:{}", self.ports[i]),
            "/admin/config",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .expect("the simulator answers /admin/config");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}

/// What the real EPP decided for one request.
fn ask_one(grpc: u16, objective: Option<&str>, prompt: &str) -> Value {
    ask_epp(grpc, objective, prompt, 1).remove(0)
}

/// What `explain POOL -o json` replays for a request of `priority`.
fn explain(cluster: &Cluster, namespace: &str, pool: &str, priority: i64) -> Value {
    let out = inference(
        cluster,
        &[
            "explain",
            pool,
            "-n",
            namespace,
            "--priority",
            &priority.to_string(),
            "-o",
            "json",
        ],
    );
    assert!(out.status.success(), "explain: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The picked endpoints' addresses, pick first, as the EPP's header lists them.
fn picked_addresses(report: &Value, how_many: usize) -> Vec<String> {
    let names = std::iter::once(&report["pick"])
        .chain(report["fallbacks"].as_array().unwrap())
        .take(how_many);
    names
        .map(|n| {
            report["addresses"][n.as_str().unwrap()]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A pool over the simulators' ports, its picker's Service and Deployment
/// (with the config in a ConfigMap when given, as a real install has it),
/// and a sheddable objective.
fn pool_objects(cluster: &Cluster, ns: &str, pool: &str, ports: &[u16], config: Option<&str>) {
    let target_ports: Vec<Value> = ports.iter().map(|p| json!({"number": p})).collect();
    let picker = format!("{pool}-epp");
    apply(
        cluster,
        ns,
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": {"name": pool},
        "spec": {"selector": {"matchLabels": {"app": "sim"}}, "targetPorts": target_ports,
                 "endpointPickerRef": {"name": picker, "port": {"number": 9002}}}}),
    );
    apply(
        cluster,
        ns,
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceObjective",
        "metadata": {"name": format!("{pool}-batch")}, "spec": {"poolRef": {"name": pool}, "priority": -1}}),
    );
    apply(
        cluster,
        ns,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": picker},
        "spec": {"selector": {"app": picker}, "ports": [{"port": 9002}]}}),
    );
    let mut args = vec!["--pool-name".to_string(), pool.to_string()];
    let mut pod_spec = json!({"containers": [{"name": "epp", "image": "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"}]});
    if let Some(text) = config {
        apply(
            cluster,
            ns,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{picker}-config")},
            "data": {"epp.yaml": text}}),
        );
        args.extend(["--config-file".into(), "/config/epp.yaml".into()]);
        pod_spec["containers"][0]["volumeMounts"] =
            json!([{"name": "config", "mountPath": "/config"}]);
        pod_spec["volumes"] =
            json!([{"name": "config", "configMap": {"name": format!("{picker}-config")}}]);
    }
    pod_spec["containers"][0]["args"] = json!(args);
    apply(
        cluster,
        ns,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": picker},
        "spec": {"selector": {"matchLabels": {"app": picker}},
                 "template": {"metadata": {"labels": {"app": picker}}, "spec": pod_spec}}}),
    );
}

/// The prefix-cache scorer: the EPP remembers where it sent a long prompt;
/// a later prompt sharing its first half goes there although another
/// endpoint has more free KV cache — and explain, given that history, agrees.
fn prefix_affinity(cluster: &Cluster, servers: &Servers, ns: &str, pool: &str, grpc: u16) {
    let first: String = (0..640).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    // As one user message: 10 blocks of 64 bytes, the first 5 shared.
    let second = format!("{}{}", &first[..320], "Q".repeat(320));
    // Server 0 clearly best: the EPP sends the first prompt there.
    for i in 0..SERVERS {
        servers.set(
            i,
            if i == 0 { 0 } else { 4 },
            0,
            if i == 0 { 0.1 } else { 0.9 },
        );
    }
    std::thread::sleep(Duration::from_millis(400));
    let went = ask_one(grpc, None, &first);
    let went = went["endpoint"]
        .as_str()
        .unwrap_or_else(|| panic!("{went}"))
        .to_string();
    assert!(went.ends_with(&format!(":{}", servers.ports[0])), "{went}");
    // Now server 1 has the most free KV cache: without the prefix it leads
    // server 0 by 2 × 0.675 = 1.35; half the prompt cached is worth
    // 3 × 0.5 = 1.5 (and 4 blocks of 10, 1.2, would not be enough).
    for i in 0..SERVERS {
        let kv = match i {
            0 => 0.675,
            1 => 0.0,
            _ => 0.9,
        };
        servers.set(i, 0, 0, kv);
    }
    std::thread::sleep(Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let (history, prompt) = (
        dir.path().join("history.jsonl"),
        dir.path().join("prompt.txt"),
    );
    std::fs::write(
        &history,
        json!({"endpoint": went, "prompt": first}).to_string(),
    )
    .unwrap();
    std::fs::write(&prompt, &second).unwrap();
    let out = inference(
        cluster,
        &[
            "explain",
            pool,
            "-n",
            ns,
            "--model",
            "chat",
            "-o",
            "json",
            "--prompt",
            &format!("@{}", prompt.display()),
            "--prefix-history",
            &history.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replay: Value = serde_json::from_slice(&out.stdout).unwrap();
    let epp = ask_one(grpc, None, &second);
    assert_eq!(
        picked_addresses(&replay, 1),
        [epp["endpoint"].as_str().unwrap_or_else(|| panic!("{epp}"))],
        "{replay:#}"
    );
    assert_eq!(epp["endpoint"], went.as_str(), "the shared prefix won");
    let held = replay["endpoints"][0]["scores"]["prefix-cache-scorer"].as_f64();
    assert_eq!(held, Some(0.5), "{replay:#}");
}

/// A small deterministic generator: the snapshots are the same every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Over snapshots without a tie, explain picks what the EPP picks (and the
/// same fallbacks, as many as its header lists) and sheds what it sheds.
/// Returns the distinct endpoints picked and the most the header listed.
fn compare(
    cluster: &Cluster,
    servers: &Servers,
    ns: &str,
    pool: &str,
    grpc: u16,
    seed: u64,
) -> (usize, usize) {
    let mut rng = Lcg(seed);
    let (mut compared, mut shed_seen, mut tries) = (0, 0, 0);
    let mut picks = std::collections::BTreeSet::new();
    let mut most_listed = 0;
    while compared < 20 {
        tries += 1;
        assert!(tries <= 60, "fewer than 20 snapshots without a tie in 60");
        // One snapshot in three saturates every server.
        let saturate = tries % 3 == 0;
        for i in 0..SERVERS {
            let (waiting, kv) = if saturate {
                (5 + rng.below(6) as u32, 0.8 + rng.below(5) as f64 / 25.0)
            } else {
                (rng.below(6) as u32, rng.below(19) as f64 / 20.0)
            };
            servers.set(i, waiting, rng.below(8) as u32, kv);
        }
        // The EPP scrapes every 50 ms; give it several rounds.
        std::thread::sleep(Duration::from_millis(400));
        let replay = explain(cluster, ns, pool, 0);
        // The EPP shuffles before sorting: equal totals anywhere in the
        // ranking (pick or fallbacks) make its order a coin toss.
        let mut totals: Vec<f64> = replay["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["total"].as_f64().unwrap())
            .collect();
        totals.sort_by(f64::total_cmp);
        if totals.windows(2).any(|w| (w[1] - w[0]).abs() < 1e-9) {
            continue;
        }
        let prompt =
            format!("snapshot {seed}-{tries}: a prompt of its own keeps the prefix cache cold");
        let epp = ask_one(grpc, None, &prompt);
        let listed: Vec<String> = epp["endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("the EPP picked nothing: {epp}"))
            .split(',')
            .map(String::from)
            .collect();
        assert_eq!(
            picked_addresses(&replay, listed.len()),
            listed,
            "snapshot {tries} of pool {pool}: explain {replay:#}"
        );
        let sheddable = explain(cluster, ns, pool, -1);
        let epp = ask_one(
            grpc,
            Some(&format!("{pool}-batch")),
            &format!("{prompt} (sheddable)"),
        );
        assert_eq!(
            epp["status"] == 429,
            sheddable["shed"] == true,
            "snapshot {tries} of pool {pool}: the EPP said {epp}, explain {sheddable:#}"
        );
        shed_seen += usize::from(epp["status"] == 429);
        picks.insert(listed[0].clone());
        most_listed = most_listed.max(listed.len());
        compared += 1;
    }
    assert!(shed_seen > 0, "no snapshot was saturated enough to shed");
    (picks.len(), most_listed)
}

#[test]
fn explain_decides_as_the_real_endpoint_picker() {
    let cluster = Cluster::shared();
    install_crds(cluster);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(cluster.client(ADMIN));
    let ns = runtime.block_on(cluster.namespace("inference-epp"));
    let servers = Servers::start(&run_dir());
    let tuned_config = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inference/epp-config.yaml"),
    )
    .unwrap();
    pool_objects(cluster, &ns, "chat", &servers.ports, None);
    pool_objects(cluster, &ns, "tuned", &servers.ports, Some(&tuned_config));
    runtime.block_on(objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "sim-0", "labels": {"app": "sim"}},
               "spec": {"containers": [{"name": "sim", "image": "ghcr.io/llm-d/llm-d-inference-sim:v0.10.2",
                                        "ports": servers.ports.iter().map(|p| json!({"containerPort": p})).collect::<Vec<_>>()}]}}),
        json!({"phase": "Running", "podIP": "127.0.0.2", "conditions": [{"type": "Ready", "status": "True"}]}),
    ));

    for (pool, config, seed) in [("chat", None, 1), ("tuned", Some(tuned_config.as_str()), 2)] {
        let (mut epp, grpc, _) = start_epp(cluster, &ns, pool, config);
        let report = explain(cluster, &ns, pool, 0);
        assert_eq!(
            report["endpoints"].as_array().unwrap().len(),
            SERVERS,
            "{report}"
        );
        match config {
            None => assert!(
                report["config"]
                    .as_str()
                    .unwrap()
                    .contains("default profile"),
                "{report}"
            ),
            Some(_) => assert!(
                report["config"]
                    .as_str()
                    .unwrap()
                    .contains("ConfigMap tuned-epp-config key epp.yaml"),
                "{report}"
            ),
        }
        if config.is_none() {
            prefix_affinity(cluster, &servers, &ns, pool, grpc);
        }
        let (distinct, listed) = compare(cluster, &servers, &ns, pool, grpc, seed);
        assert!(
            distinct >= 3,
            "the snapshots moved the pick among {distinct} endpoints only"
        );
        // The tuned config's max-score-picker keeps 2 endpoints: the header
        // lists a fallback, which explain must name in the same order.
        assert_eq!(
            listed,
            if config.is_some() { 2 } else { 1 },
            "endpoints per header"
        );
        epp.stop();
    }
    simulate_from_cluster(cluster, &ns);
}

/// `simulate --from-cluster` sizes its pool as the live one: the endpoint
/// count, the simulators' `cache_config_info` (16-token blocks, 1,024 of
/// them) and the picker's config from its ConfigMap.
fn simulate_from_cluster(cluster: &Cluster, ns: &str) {
    let args = [
        "simulate",
        "--from-cluster",
        "tuned",
        "-n",
        ns,
        "--qps",
        "20",
        "--duration",
        "5s",
        "--routers",
        "random,epp",
        "-o",
        "json",
    ];
    let out = inference(cluster, &args);
    assert!(out.status.success(), "simulate: {}", text(&out.stderr));
    let said = text(&out.stderr);
    for want in [
        "pool tuned: 4 endpoints",
        "KV cache 1024 blocks × 16 tokens",
        "ConfigMap tuned-epp-config key epp.yaml",
    ] {
        assert!(said.contains(want), "no {want:?} in {said}");
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for run in v["runs"].as_array().unwrap() {
        assert_eq!(run["servers"], SERVERS, "{run}");
    }
    // --servers overrides the pool's count (what if it had 8?).
    let mut eight = args.to_vec();
    eight.extend(["--servers", "8"]);
    let out = inference(cluster, &eight);
    assert!(out.status.success(), "simulate: {}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"][0]["servers"], 8);
    // A pool that does not exist: the error names it.
    let out = inference(cluster, &["simulate", "--from-cluster", "nope", "-n", ns]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}
