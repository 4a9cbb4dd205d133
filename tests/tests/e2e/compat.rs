//! `kubectl compat` against NFD itself on this machine: the same features as
//! `nfd export features`, and the same `--output-json` document as
//! `nfd compat validate-node` for every spec of the corpus in
//! plugins/kubectl-compat/tests/data/corpus (NFD reads its spec from an
//! oras-attached artifact; kubectl compat from the file).

use std::path::{Path, PathBuf};
use std::process::Command;

use kplug_tests::e2e::registry::{Kind, Registry};
use kplug_tests::e2e::{oci, peers, workspace_bin, workspace_root};
use serde_json::Value;

use crate::registries::oras_attach;
use crate::{ok, run, text};

fn compat() -> PathBuf {
    workspace_bin("kubectl-compat").expect("kubectl-compat is built by cargo test --workspace")
}

/// Every element where two feature documents differ, as readable lines.
fn differences(nfd: &Value, ours: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["flags", "attributes", "instances"] {
        let (a, b) = (&nfd[kind], &ours[kind]);
        let names: std::collections::BTreeSet<&String> = a
            .as_object()
            .into_iter()
            .chain(b.as_object())
            .flat_map(|m| m.keys())
            .collect();
        for name in names {
            let (ea, eb) = (&a[name]["elements"], &b[name]["elements"]);
            match (a.get(name), b.get(name)) {
                (Some(_), None) => out.push(format!("{kind} {name}: only NFD has it")),
                (None, Some(_)) => out.push(format!("{kind} {name}: only kubectl compat has it")),
                _ if ea == eb => {}
                _ => match (ea.as_object(), eb.as_object()) {
                    (Some(ma), Some(mb)) => {
                        for k in ma
                            .keys()
                            .chain(mb.keys())
                            .collect::<std::collections::BTreeSet<_>>()
                        {
                            if ma.get(k) != mb.get(k) {
                                out.push(format!(
                                    "{kind} {name} {k}: NFD {:?}, kubectl compat {:?}",
                                    ma.get(k),
                                    mb.get(k)
                                ));
                            }
                        }
                    }
                    _ => out.push(format!("{kind} {name}: NFD {ea}, kubectl compat {eb}")),
                },
            }
        }
    }
    out
}

/// Differences we make on purpose (see the README): none so far.
const DELIBERATE: &[&str] = &[];

#[test]
fn features_json_is_what_nfd_export_features_prints() {
    let nfd = run(&peers::path("NFD"), &["export", "features"]);
    let nfd_text = ok(&nfd, "nfd export features");
    let ours = run(&compat(), &["features", "-o", "json"]);
    let ours_text = ok(&ours, "kubectl compat features -o json");
    let diffs: Vec<String> = differences(
        &serde_json::from_str(&nfd_text).unwrap(),
        &serde_json::from_str(&ours_text).unwrap(),
    )
    .into_iter()
    .filter(|d| !DELIBERATE.iter().any(|p| d.starts_with(p)))
    .collect();
    assert!(
        diffs.is_empty(),
        "kubectl compat features differs from nfd export features:\n{}",
        diffs.join("\n")
    );
    assert_eq!(
        ours_text, nfd_text,
        "same features, so the bytes (Go's MarshalIndent) must match too"
    );
}

fn corpus() -> Vec<PathBuf> {
    let dir = workspace_root().join("plugins/kubectl-compat/tests/data/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} specs", files.len());
    files
}

fn nfd_validate(image: &str) -> std::process::Output {
    run(
        &peers::path("NFD"),
        &[
            "compat",
            "validate-node",
            "--plain-http",
            "--platform",
            "linux/amd64",
            "--output-json",
            "--image",
            image,
        ],
    )
}

fn ours_validate(spec: &Path, features: &Path) -> std::process::Output {
    Command::new(compat())
        .args(["validate-node", "--spec"])
        .arg(spec)
        .arg("--features")
        .arg(features)
        .arg("--output-json")
        .output()
        .unwrap()
}

#[test]
fn validate_node_prints_nfds_json_for_every_corpus_spec() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.json");
    let export = run(&peers::path("NFD"), &["export", "features"]);
    std::fs::write(&features, ok(&export, "nfd export features")).unwrap();
    let registry = Registry::start(Kind::Referrers);
    let mut compared = 0;
    for spec in corpus() {
        let name = spec.file_stem().unwrap().to_string_lossy().to_lowercase();
        // One repository per spec: oras stamps `created` to the second, and
        // NFD picks the newest artifact with ties unordered.
        let repo = format!("corpus/{name}");
        oci::push_image(&registry.host, &repo, "v1", "linux", "amd64");
        oras_attach(&registry, &format!("{repo}:v1"), &spec);
        let nfd = nfd_validate(&format!("{}/{repo}:v1", registry.host));
        let ours = ours_validate(&spec, &features);
        if name.starts_with("err-") {
            assert!(
                !nfd.status.success(),
                "{name}: NFD accepted it: {}",
                text(&nfd.stdout)
            );
            assert_eq!(
                ours.status.code(),
                Some(1),
                "{name}: NFD failed ({}), kubectl compat must exit 1",
                text(&nfd.stdout)
            );
            continue;
        }
        let nfd_doc = ok(&nfd, &format!("nfd compat validate-node on {name}"));
        assert_eq!(
            ours.status.code(),
            Some(if compatible(&nfd_doc) { 0 } else { 3 }),
            "{name}: {}",
            text(&ours.stderr)
        );
        assert_eq!(
            text(&ours.stdout),
            nfd_doc,
            "{name}: kubectl compat --output-json differs from NFD"
        );
        compared += 1;
    }
    assert!(compared >= 30, "compared {compared} specs");
}

/// Our verdict from NFD's per-rule results: some set has all rules matching.
fn compatible(nfd_doc: &str) -> bool {
    let sets: Value = serde_json::from_str(nfd_doc).unwrap();
    sets.as_array().unwrap().iter().any(|s| {
        s["rules"]
            .as_array()
            .is_none_or(|rules| rules.iter().all(|r| r["isMatch"] == true))
    })
}
