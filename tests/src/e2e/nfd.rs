//! Node Feature Discovery in the test cluster: its CRDs, one run of the real
//! nfd-worker, and fleets of hand-made Nodes with NodeFeature objects for
//! cluster-wide checks too big to publish one worker run at a time.

use std::process::Command;

use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::cluster::{ADMIN, Cluster};
use super::peers;

/// Panics with the command's output unless it succeeded.
fn check(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Install NFD's CRDs (server-side apply, so every test may call it) and
/// wait until NodeFeature is served.
pub fn install_crds(cluster: &Cluster) {
    let kubectl = |args: &[&str]| {
        Command::new(peers::path("KUBECTL"))
            .args(cluster.args(ADMIN))
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    let crds = peers::path("NFD_CRDS");
    check(
        &kubectl(&["apply", "--server-side", "-f", &crds.display().to_string()]),
        "kubectl apply NFD CRDs",
    );
    check(
        &kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/nodefeatures.nfd.k8s-sigs.io",
            "--timeout=30s",
        ]),
        "wait for the NodeFeature CRD",
    );
}

/// Run nfd-worker once as node `node`: it publishes this host's features as
/// a NodeFeature in `namespace`.
pub fn run_worker(cluster: &Cluster, node: &str, namespace: &str) {
    let out = Command::new(peers::path("NFD_WORKER"))
        .arg("-oneshot")
        .arg("-no-owner-refs")
        .arg(format!("-kubeconfig={}", cluster.kubeconfig.display()))
        .env("NODE_NAME", node)
        .env("KUBERNETES_NAMESPACE", namespace)
        .output()
        .expect("nfd-worker runs");
    check(&out, "nfd-worker -oneshot");
}

/// The NodeFeature API resource.
pub fn node_feature_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("nfd.k8s-sigs.io", "v1alpha1", "NodeFeature"),
        "nodefeatures",
    )
}

/// One node of a fleet: its name, labels and the `spec.features` of its
/// NodeFeature (`None`: the node publishes nothing).
pub struct FleetNode {
    pub name: String,
    pub labels: Value,
    pub features: Option<Value>,
}

/// Create every node of `fleet` and its NodeFeature (in `namespace`, labelled
/// with the node name as nfd-worker does), `parallel` requests at a time.
pub async fn publish_fleet(
    client: &Client,
    namespace: &str,
    fleet: Vec<FleetNode>,
    parallel: usize,
) {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let features: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &node_feature_resource());
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for node in fleet {
        let (nodes, features, semaphore) = (nodes.clone(), features.clone(), semaphore.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("semaphore open");
            let object = json!({"metadata": {"name": node.name, "labels": node.labels}});
            nodes
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(object).expect("a Node"),
                )
                .await
                .unwrap_or_else(|e| panic!("create node {}: {e}", node.name));
            if let Some(spec) = node.features {
                let object = json!({
                    "apiVersion": "nfd.k8s-sigs.io/v1alpha1",
                    "kind": "NodeFeature",
                    "metadata": {
                        "name": node.name,
                        "labels": {"nfd.node.kubernetes.io/node-name": node.name},
                        "annotations": {"nfd.node.kubernetes.io/worker.version": "v0.19.0"},
                    },
                    "spec": {"features": spec},
                });
                features
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(object).expect("a NodeFeature"),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("create NodeFeature {}: {e}", node.name));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("publishing task");
    }
}

/// A spec for [`mixed_fleet`]: set #1 "gpu" (weight 80) wants an NVIDIA PCI
/// device; set #2 "x86" (weight 20) an Intel or AMD CPU.
pub const FLEET_SPEC: &str = "version: v1alpha1
compatibilities:
- description: gpu
  weight: 80
  rules:
  - name: nvidia
    matchFeatures:
    - feature: pci.device
      matchExpressions:
        vendor: {op: In, value: [\"10de\"]}
- description: x86
  weight: 20
  rules:
  - name: vendor
    matchFeatures:
    - feature: cpu.model
      matchExpressions:
        vendor_id: {op: In, value: [Intel, AMD]}
";

/// `n` nodes named `<prefix>-<i>`, labelled `kplug-test=<group>`, in four
/// kinds by `i % 4`: 0 AMD with an NVIDIA GPU (both sets of [`FLEET_SPEC`]),
/// 1 Intel (x86 only), 2 an Arm CPU (neither), 3 no NodeFeature at all. Each
/// NodeFeature also carries a realistic amount of other features.
pub fn mixed_fleet(prefix: &str, group: &str, n: usize) -> Vec<FleetNode> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}-{i}");
            let vendor = ["AMD", "Intel", "ARM", ""][i % 4];
            let pool = ["gpu", "general", "arm", "new"][i % 4];
            let mut pci = vec![json!({"attributes": {"vendor": "8086", "class": "0600", "device": format!("{:04x}", i % 65536)}})];
            if i % 4 == 0 {
                pci.push(json!({"attributes": {"vendor": "10de", "class": "0302", "device": "20b5"}}));
            }
            let flags: serde_json::Map<String, Value> = ["AVX", "AVX2", "SSE4", "FMA3", "AESNI", "SHA"]
                .iter()
                .map(|f| (f.to_string(), json!({})))
                .collect();
            FleetNode {
                labels: json!({"kplug-test": group, "kubernetes.io/hostname": name, "pool": pool}),
                features: (i % 4 != 3).then(|| {
                    json!({
                        "flags": {"cpu.cpuid": {"elements": flags}},
                        "attributes": {
                            "cpu.model": {"elements": {"vendor_id": vendor, "family": "25", "id": "1"}},
                            "kernel.version": {"elements": {"full": "6.8.0-45-generic", "major": "6", "minor": "8", "revision": "0"}},
                            "system.osrelease": {"elements": {"ID": "ubuntu", "VERSION_ID": "24.04"}},
                        },
                        "instances": {"pci.device": {"elements": pci}},
                    })
                }),
                name,
            }
        })
        .collect()
}
