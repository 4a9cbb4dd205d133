//! `kubectl inference` against the tier's API server, with the Gateway API
//! Inference Extension's CRDs of two releases (v1.5.0 and v0.5.1, from its
//! Go module) and the llm-d.ai group derived from the x-k8s one (the same
//! schema under another group, spec §10).

use std::process::{Command, Output};

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
pub(crate) use kplug_tests::e2e::inference::{install_crds, kubectl, ok, serve_metrics};
use kplug_tests::e2e::{peers, workspace_bin};
use serde_json::Value;

use crate::text;

pub(crate) fn inference(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new(workspace_bin("kubectl-inference").expect("kubectl-inference is built"))
        .args(cluster.args(ADMIN))
        .args(args)
        .output()
        .expect("kubectl-inference runs")
}

#[test]
fn version_finds_every_generation_by_discovery() {
    let cluster = Cluster::shared();
    install_crds(cluster);
    let out = inference(cluster, &["version", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |kind: &str, group: &str| {
        v["apis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind && a["group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} in {group} not found: {v}"))
    };
    let pool = find("InferencePool", "inference.networking.k8s.io");
    assert_eq!(
        (pool["version"].as_str(), pool["bundleVersion"].as_str()),
        (Some("v1"), Some("v1.5.0"))
    );
    // GIE v0.5's CRDs carry no bundle-version annotation yet.
    let model = find("InferenceModel", "inference.networking.x-k8s.io");
    assert_eq!(
        (model["version"].as_str(), &model["bundleVersion"]),
        (Some("v1alpha2"), &Value::Null)
    );
    let objective = find("InferenceObjective", "llm-d.ai");
    assert_eq!(
        objective["bundleVersion"], "v1.5.0",
        "read from llm-d.ai/bundle-version"
    );
    find("InferencePoolImport", "inference.networking.x-k8s.io");
    assert_eq!(
        v["generations"],
        serde_json::json!(["gie-v0.5", "gie-v1", "llm-d"])
    );

    let out = inference(cluster, &["version"]);
    let said = text(&out.stdout);
    assert!(said.contains("generation: GIE v1:"), "{said}");
    assert!(
        said.contains("inference.networking.x-k8s.io/v1alpha2"),
        "{said}"
    );
}

/// Apply `manifest` (one object, JSON) in `namespace`.
pub(crate) fn apply(cluster: &Cluster, namespace: &str, manifest: Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("object.json");
    std::fs::write(&file, manifest.to_string()).unwrap();
    ok(
        kubectl(
            cluster,
            &["apply", "-n", namespace, "-f", &file.display().to_string()],
        ),
        "kubectl apply",
    );
}

#[tokio::test]
async fn get_shows_pools_and_objectives_of_every_generation() {
    use kplug_tests::e2e::objects;
    use serde_json::json;

    let cluster = Cluster::shared();
    install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("inference-get").await;
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": {"name": "chat"},
        "spec": {"selector": {"matchLabels": {"app": "vllm"}}, "targetPorts": [{"number": 8000}, {"number": 8001}],
                 "endpointPickerRef": {"name": "chat-epp", "port": {"number": 9002}, "failureMode": "FailOpen"}}}),
    );
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferencePool",
        "metadata": {"name": "legacy"},
        "spec": {"selector": {"app": "old"}, "targetPortNumber": 8000, "extensionRef": {"name": "legacy-epp"}}}),
    );
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceObjective",
        "metadata": {"name": "batch"}, "spec": {"poolRef": {"name": "chat"}, "priority": -1}}),
    );
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "llm-d.ai/v1alpha2", "kind": "InferenceObjective",
        "metadata": {"name": "interactive"}, "spec": {"poolRef": {"name": "chat"}, "priority": 10}}),
    );
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceModel",
        "metadata": {"name": "chat-model"}, "spec": {"modelName": "chat", "poolRef": {"name": "legacy"},
        "criticality": "Critical", "targetModels": [{"name": "chat-v1", "weight": 90}, {"name": "chat-v2", "weight": 10}]}}),
    );
    // Two Ready Pods (one narrowed to one port), one not Ready, one of another app.
    let ready = json!({"phase": "Running", "podIP": "127.0.0.2", "conditions": [{"type": "Ready", "status": "True"}]});
    let pod = |name: &str, app: &str, active: Option<&str>| {
        let mut p = json!({"metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0"}]}});
        if let Some(a) = active {
            p["metadata"]["annotations"] = json!({"inference.networking.k8s.io/active-ports": a});
        }
        p
    };
    objects::pod_with_status(&client, &ns, pod("vllm-0", "vllm", None), ready.clone()).await;
    objects::pod_with_status(
        &client,
        &ns,
        pod("vllm-1", "vllm", Some("8001")),
        ready.clone(),
    )
    .await;
    objects::pod_with_status(
        &client,
        &ns,
        pod("vllm-2", "vllm", None),
        json!({"phase": "Pending"}),
    )
    .await;
    objects::pod_with_status(&client, &ns, pod("other-0", "other", None), ready).await;

    let out = inference(cluster, &["get", "pools", "-n", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {table}"))
            .to_string()
    };
    assert!(table.lines().next().unwrap().ends_with("AGE"), "{table}");
    let chat = line("chat");
    for want in [
        "app=vllm",
        "8000,8001",
        "chat-epp:9002 (FailOpen)",
        "<none>",
    ] {
        assert!(chat.contains(want), "{want} in {chat}");
    }
    // vllm-0 on both ports, vllm-1 on its one active port.
    assert!(
        chat.split_whitespace().any(|w| w == "3"),
        "3 endpoints: {chat}"
    );
    let legacy = line("legacy");
    assert!(legacy.contains("legacy-epp:9002 (FailClose)"), "{legacy}");

    let out = inference(cluster, &["get", "pools", "-n", &ns, "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let versions: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["apiVersion"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        [
            "inference.networking.k8s.io/v1",
            "inference.networking.x-k8s.io/v1alpha2"
        ]
    );
    let out = inference(cluster, &["get", "pools", "chat", "-n", &ns, "-o", "name"]);
    assert_eq!(
        text(&out.stdout).trim(),
        "inferencepool.inference.networking.k8s.io/chat"
    );

    let out = inference(cluster, &["get", "objectives", "-n", &ns, "-o", "wide"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("-1 (sheddable)")
            && table.contains("inference.networking.x-k8s.io/v1alpha2"),
        "{table}"
    );
    assert!(
        table.contains("interactive") && table.contains("llm-d.ai/v1alpha2"),
        "{table}"
    );
    let out = inference(cluster, &["get", "models", "-n", &ns]);
    assert!(
        text(&out.stdout).contains("chat-v1:90,chat-v2:10"),
        "{}",
        text(&out.stdout)
    );

    let out = inference(cluster, &["get", "pools", "ghost", "-n", &ns]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ghost"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_scrapes_every_endpoint_and_a_dead_one_is_a_row() {
    use kplug_tests::e2e::objects;
    use serde_json::json;

    const IDLE: &str = include_str!("../../../examples/inference/idle.prom");
    const SGLANG: &str = include_str!("../../../examples/inference/full.sglang.prom");
    let cluster = Cluster::shared();
    install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("inference-status").await;
    // One target port for the pool: each server on its own loopback address.
    // (The servers run on the runtime's workers while the test waits for
    // the plugin.)
    let first = tokio::net::TcpListener::bind(("127.0.0.2", 0))
        .await
        .expect("bind");
    let port = first.local_addr().unwrap().port();
    let second = tokio::net::TcpListener::bind(("127.0.0.3", port))
        .await
        .expect("the same port on another loopback address");
    serve_metrics(first, IDLE.into(), std::time::Duration::ZERO);
    serve_metrics(second, SGLANG.into(), std::time::Duration::ZERO);
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": {"name": "chat"},
        "spec": {"selector": {"matchLabels": {"app": "llm"}}, "targetPorts": [{"number": port}],
                 "endpointPickerRef": {"name": "chat-epp", "port": {"number": 9002}}}}),
    );
    let pod = |name: &str, engine: &str| {
        json!({"metadata": {"name": name,
            "labels": {"app": "llm", "inference.networking.k8s.io/engine-type": engine}},
        "spec": {"containers": [{"name": "server", "image": "vllm/vllm-openai:v0.11.0"}]}})
    };
    let ready = |ip: &str| json!({"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]});
    objects::pod_with_status(&client, &ns, pod("vllm-0", "vllm"), ready("127.0.0.2")).await;
    objects::pod_with_status(&client, &ns, pod("sglang-0", "sglang"), ready("127.0.0.3")).await;
    objects::pod_with_status(&client, &ns, pod("dead-0", "vllm"), ready("127.0.0.4")).await;

    let bin = workspace_bin("kubectl-inference").expect("built");
    let args: Vec<String> = cluster
        .args(ADMIN)
        .into_iter()
        .chain([
            "status".to_string(),
            "chat".into(),
            "-n".into(),
            ns.clone(),
            "-o".into(),
            "json".into(),
            "--scrape-timeout".into(),
            "1s".into(),
        ])
        .collect();
    let started = std::time::Instant::now();
    let out = Command::new(&bin).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "a dead endpoint does not hang it"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let endpoints = v["pools"][0]["endpoints"].as_array().unwrap().clone();
    let find = |name: &str| {
        endpoints
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {v}"))
    };
    let vllm = find("vllm-0-rank-0");
    assert_eq!(vllm["reading"]["metrics"]["runningRequestsSize"], 2);
    assert_eq!(vllm["reading"]["metrics"]["kvCacheUsagePercent"], 0.5);
    let sglang = find("sglang-0-rank-0");
    assert_eq!(sglang["engine"], "sglang");
    assert_eq!(sglang["reading"]["metrics"]["waitingQueueSize"], 12);
    let dead = find("dead-0-rank-0");
    assert!(dead["error"].is_string(), "{dead}");
    assert!(
        v["pools"][0]["picker"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{v}"
    );

    let args: Vec<String> = args.into_iter().take_while(|a| a != "-o").collect();
    let out = Command::new(&bin).args(&args).output().unwrap();
    let said = text(&out.stdout);
    assert!(said.contains("sglang") && said.contains("97%"), "{said}");

    // top, piped: one snapshot after another, each headed by its time.
    let mut top: Vec<String> = cluster.args(ADMIN);
    top.extend(
        [
            "top",
            "chat",
            "-n",
            &ns,
            "--count",
            "2",
            "--interval",
            "100ms",
        ]
        .map(String::from),
    );
    let out = Command::new(&bin).args(&top).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert_eq!(said.matches("Pool ").count(), 2, "{said}");
    assert!(!said.contains('\x1b'), "no escapes when piped: {said}");
}

/// `kubectl apply [--dry-run=server] -f -` of `manifests` (YAML or JSON).
fn apply_stdin(cluster: &Cluster, namespace: &str, manifests: &[u8], dry_run: bool) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(peers::path("KUBECTL"));
    cmd.args(cluster.args(ADMIN))
        .args(["apply", "-n", namespace, "-f", "-"]);
    if dry_run {
        cmd.arg("--dry-run=server");
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(manifests).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn migrate_output_is_accepted_by_the_api_server() {
    use serde_json::json;

    let cluster = Cluster::shared();
    install_crds(cluster);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ns = runtime.block_on(cluster.namespace("inference-migrate"));
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferencePool",
        "metadata": {"name": "chat", "labels": {"team": "ml"}},
        "spec": {"selector": {"app": "vllm"}, "targetPortNumber": 8000,
                 "extensionRef": {"name": "chat-epp", "failureMode": "FailOpen"}}}),
    );
    for (name, criticality, targets) in [
        (
            "assistant",
            "Critical",
            json!([{"name": "llama-v1", "weight": 90}, {"name": "llama-v2", "weight": 10}]),
        ),
        ("batch", "Sheddable", json!(null)),
    ] {
        let mut spec =
            json!({"modelName": name, "criticality": criticality, "poolRef": {"name": "chat"}});
        if !targets.is_null() {
            spec["targetModels"] = targets;
        }
        apply(
            cluster,
            &ns,
            json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceModel",
            "metadata": {"name": name}, "spec": spec}),
        );
    }

    let out = inference(cluster, &["migrate", "-n", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(
        yaml.starts_with("# the v1 pools keep their names"),
        "{yaml}"
    );
    let dry = apply_stdin(cluster, &ns, &out.stdout, true);
    assert!(
        dry.status.success(),
        "the API server refuses: {}\n{yaml}",
        text(&dry.stderr)
    );
    let said = text(&dry.stdout);
    for want in [
        "inferencepool.inference.networking.k8s.io/chat created (server dry run)",
        "inferenceobjective.inference.networking.x-k8s.io/assistant created (server dry run)",
        "inferenceobjective.inference.networking.x-k8s.io/batch created (server dry run)",
        "inferencemodelrewrite.inference.networking.x-k8s.io/assistant created (server dry run)",
    ] {
        assert!(said.contains(want), "{want}: {said}");
    }

    let out = inference(cluster, &["migrate", "-n", &ns, "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "InferencePool",
            "InferenceObjective",
            "InferenceObjective",
            "InferenceModelRewrite"
        ]
    );
    let priorities: Vec<i64> = list["items"].as_array().unwrap()[1..3]
        .iter()
        .map(|o| o["spec"]["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [1, -1]);
    // Apply it for real: the objectives then move on to llm-d.ai.
    ok(
        apply_stdin(cluster, &ns, &out.stdout, false),
        "apply the v1 objects",
    );
    let out = inference(cluster, &["migrate", "--to", "llm-d", "-n", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dry = apply_stdin(cluster, &ns, &out.stdout, true);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout)
            .contains("inferencemodelrewrite.llm-d.ai/assistant created (server dry run)"),
        "{}",
        text(&dry.stdout)
    );
}
