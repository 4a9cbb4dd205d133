//! `kubectl inference doctor`: every finding produced by a real
//! misconfiguration in the tier's API server, and a clean bill for a pool
//! set up right (in `picker.rs`, against the real EPP).

use std::time::Duration;

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{objects, peers};
use serde_json::{Value, json};

use crate::inference::{apply, inference, install_crds, kubectl, ok, serve_metrics};
use crate::text;
pub(crate) use kplug_tests::e2e::inference::install_gateway_crds;

/// An HTTPRoute in `namespace` to pool `pool` of `pool_ns`, by `group`.
pub(crate) fn route(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    pool: &str,
    pool_ns: &str,
    group: &str,
) {
    apply(
        cluster,
        namespace,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
        "spec": {"parentRefs": [{"name": "inference-gateway"}],
                 "rules": [{"backendRefs": [{"group": group, "kind": "InferencePool", "name": pool, "namespace": pool_ns}]}]}}),
    );
}

fn doctor(cluster: &Cluster, namespace: &str, pool: &str) -> (Option<i32>, Value) {
    let out = inference(
        cluster,
        &[
            "doctor",
            pool,
            "-n",
            namespace,
            "-o",
            "json",
            "--scrape-timeout",
            "1s",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor -o json: {e}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code(), report)
}

fn codes(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["object"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_each_misconfiguration() {
    const IDLE: &str = include_str!("../../../examples/inference/idle.prom");
    let cluster = Cluster::shared();
    install_crds(cluster);
    install_gateway_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("inference-doctor").await;
    let other = cluster.namespace("inference-doctor-routes").await;

    // Three target ports: a vLLM metrics server, a slow one, and one no
    // container declares and nothing serves.
    let fast = tokio::net::TcpListener::bind(("127.0.0.5", 0))
        .await
        .unwrap();
    let slow = tokio::net::TcpListener::bind(("127.0.0.5", 0))
        .await
        .unwrap();
    let (fast_port, slow_port) = (
        fast.local_addr().unwrap().port(),
        slow.local_addr().unwrap().port(),
    );
    serve_metrics(fast, IDLE.into(), Duration::ZERO);
    serve_metrics(slow, IDLE.into(), Duration::from_millis(400));
    let dead_port = kplug_tests::e2e::free_port();
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool", "metadata": {"name": "broken"},
        "spec": {"selector": {"matchLabels": {"app": "llm"}},
                 "targetPorts": [{"number": fast_port}, {"number": slow_port}, {"number": dead_port}],
                 "endpointPickerRef": {"name": "broken-epp", "port": {"number": 9002}}}}),
    );
    // The Pod says it runs SGLang, but serves vLLM's metric names.
    objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "llm-0", "labels": {"app": "llm", "inference.networking.k8s.io/engine-type": "sglang"}},
               "spec": {"containers": [{"name": "server", "image": "lmsysorg/sglang:v0.5.0",
                        "ports": [{"containerPort": fast_port}, {"containerPort": slow_port}]}]}}),
        json!({"phase": "Running", "podIP": "127.0.0.5", "conditions": [{"type": "Ready", "status": "True"}]}),
    )
    .await;
    // The picker: its Service on the wrong port, a Deployment for another
    // pool, never ready, whose ServiceAccount has no Role.
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "broken-epp"},
        "spec": {"selector": {"app": "broken-epp"}, "ports": [{"port": 9000}]}}),
    );
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken-epp"},
        "spec": {"selector": {"matchLabels": {"app": "broken-epp"}},
                 "template": {"metadata": {"labels": {"app": "broken-epp"}},
                              "spec": {"serviceAccountName": "broken-epp",
                                       "containers": [{"name": "epp", "image": "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0",
                                                       "args": ["--pool-name", "brokn"]}]}}}}),
    );
    // Routes: one to the first generation's group, one across namespaces
    // without a ReferenceGrant.
    route(
        cluster,
        &ns,
        "old-group",
        "broken",
        &ns,
        "inference.networking.x-k8s.io",
    );
    route(
        cluster,
        &other,
        "cross",
        "broken",
        &ns,
        "inference.networking.k8s.io",
    );
    // The same objective in two groups; two rewrites of one model.
    for api in [
        "inference.networking.x-k8s.io/v1alpha2",
        "llm-d.ai/v1alpha2",
    ] {
        apply(
            cluster,
            &ns,
            json!({"apiVersion": api, "kind": "InferenceObjective", "metadata": {"name": "batch"},
            "spec": {"poolRef": {"name": "broken"}, "priority": -1}}),
        );
    }
    for name in ["first", "second"] {
        apply(
            cluster,
            &ns,
            json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceModelRewrite", "metadata": {"name": name},
            "spec": {"poolRef": {"name": "broken"},
                     "rules": [{"matches": [{"model": {"value": "llama"}}], "targets": [{"modelRewrite": format!("llama-{name}")}]}]}}),
        );
        // Creation times are in seconds: the second must be younger.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    let (code, report) = doctor(cluster, &ns, "broken");
    assert_eq!(code, Some(3), "errors exit 3: {report:#}");
    let found = codes(&report);
    let sglang_endpoint = "llm-0-rank-0".to_string();
    for want in [
        ("route-backend-kind", "old-group"),
        ("missing-reference-grant", "cross"),
        ("picker-port-mismatch", "broken-epp"),
        ("picker-not-ready", "broken-epp"),
        ("picker-pool-name", "broken-epp"),
        ("picker-rbac", "broken-epp"),
        ("target-port-not-exposed", "broken"),
        ("scrape-failed", "llm-0-rank-2"),
        ("missing-metrics", &sglang_endpoint),
        ("stale-metrics", "llm-0-rank-1"),
        ("duplicate-objective", "batch"),
        ("rewrite-conflict", "second"),
    ] {
        assert!(
            found.iter().any(|(c, o)| c == want.0 && o == want.1),
            "{want:?} not among {found:?}"
        );
    }
    // Wide tables carry the fixes.
    let out = inference(cluster, &["doctor", "broken", "-n", &ns, "-o", "wide"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("FIX") && table.contains("create a ReferenceGrant in"),
        "{table}"
    );

    // Fix the cross-namespace route with a grant: that finding goes.
    apply(
        cluster,
        &ns,
        json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "routes"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": other}],
                 "to": [{"group": "inference.networking.k8s.io", "kind": "InferencePool"}]}}),
    );
    let (_, report) = doctor(cluster, &ns, "broken");
    assert!(
        !codes(&report)
            .iter()
            .any(|(c, _)| c == "missing-reference-grant"),
        "{report:#}"
    );
}

#[test]
fn doctor_names_the_crds_the_picker_needs() {
    // A cluster of its own, with the pool's CRD and nothing else.
    let cluster = Cluster::private();
    let crd = peers::path("GIE_CRDS_1_5_0").join("inference.networking.k8s.io_inferencepools.yaml");
    ok(
        kubectl(
            &cluster,
            &["apply", "--server-side", "-f", &crd.display().to_string()],
        ),
        "pool CRD",
    );
    ok(
        kubectl(
            &cluster,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd/inferencepools.inference.networking.k8s.io",
            ],
        ),
        "Established",
    );
    apply(
        &cluster,
        "default",
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool", "metadata": {"name": "alone"},
        "spec": {"selector": {"matchLabels": {"app": "none"}}, "targetPorts": [{"number": 8000}],
                 "endpointPickerRef": {"name": "alone-epp", "port": {"number": 9002}}}}),
    );
    let (code, report) = doctor(&cluster, "default", "alone");
    assert_eq!(code, Some(3));
    let found = codes(&report);
    for want in [
        "inferenceobjectives.inference.networking.x-k8s.io",
        "inferencemodelrewrites.inference.networking.x-k8s.io",
    ] {
        assert!(
            found.contains(&("missing-crd".to_string(), want.to_string())),
            "{want}: {found:?}"
        );
    }
    assert!(
        found.iter().any(|(c, _)| c == "no-ready-endpoints"),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(c, _)| c == "picker-service-missing"),
        "{found:?}"
    );
}
