//! `kubectl inference` against the tier's API server, with the Gateway API
//! Inference Extension's CRDs of two releases (v1.5.0 and v0.5.1, from its
//! Go module) and the llm-d.ai group derived from the x-k8s one (the same
//! schema under another group, spec §10).

use std::process::{Command, Output};

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{peers, workspace_bin};
use serde_json::Value;

use crate::text;

fn kubectl(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new(peers::path("KUBECTL"))
        .args(cluster.args(ADMIN))
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn ok(out: Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", text(&out.stderr));
}

/// Every generation's CRDs, installed and Established.
fn install_crds(cluster: &Cluster) {
    for key in ["GIE_CRDS_1_5_0", "GIE_CRDS_0_5_1"] {
        let dir = peers::path(key);
        ok(
            kubectl(
                cluster,
                &["apply", "--server-side", "-f", &dir.display().to_string()],
            ),
            key,
        );
    }
    let llmd = tempfile::tempdir().unwrap();
    for plural in ["inferenceobjectives", "inferencemodelrewrites"] {
        let from = peers::path("GIE_CRDS_1_5_0")
            .join(format!("inference.networking.x-k8s.io_{plural}.yaml"));
        let crd = std::fs::read_to_string(&from)
            .unwrap()
            .replace("inference.networking.x-k8s.io", "llm-d.ai")
            .replace(
                "inference.networking.k8s.io/bundle-version:",
                "llm-d.ai/bundle-version:",
            );
        std::fs::write(llmd.path().join(format!("llm-d.ai_{plural}.yaml")), crd).unwrap();
    }
    ok(
        kubectl(
            cluster,
            &[
                "apply",
                "--server-side",
                "-f",
                &llmd.path().display().to_string(),
            ],
        ),
        "llm-d.ai CRDs",
    );
    ok(
        kubectl(
            cluster,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd/inferencepools.inference.networking.k8s.io",
                "crd/inferencepools.inference.networking.x-k8s.io",
                "crd/inferencemodels.inference.networking.x-k8s.io",
                "crd/inferenceobjectives.inference.networking.x-k8s.io",
                "crd/inferenceobjectives.llm-d.ai",
                "crd/inferencemodelrewrites.llm-d.ai",
            ],
        ),
        "CRDs Established",
    );
}

fn inference(cluster: &Cluster, args: &[&str]) -> Output {
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
