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

/// `nfd export features` of this host, written to `dir/features.json`: the
/// features both tools are given when only the engines are compared.
fn nfd_export(dir: &Path) -> PathBuf {
    let features = dir.join("features.json");
    let export = run(&peers::path("NFD"), &["export", "features"]);
    std::fs::write(&features, ok(&export, "nfd export features")).unwrap();
    features
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
    let features = nfd_export(dir.path());
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
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
            // The same through the registry, reading the artifact NFD read.
            let image = format!("{}/{repo}:v1", registry.host);
            let via_image = compat_image(
                &[
                    "validate-node",
                    "--features",
                    features.to_str().unwrap(),
                    "--platform",
                    "linux/amd64",
                    "--output-json",
                ],
                &image,
            );
            assert_eq!(
                text(&via_image.stdout),
                nfd_doc,
                "{kind:?} {name}: --image: {}",
                text(&via_image.stderr)
            );
            compared += 1;
        }
        assert!(compared >= 30, "{kind:?}: compared {compared} specs");
    }
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

fn compat_image(args: &[&str], image: &str) -> std::process::Output {
    Command::new(compat())
        .args(args)
        .args(["--plain-http", "--image", image])
        .output()
        .unwrap()
}

/// `validate-node ARGS --platform linux/amd64 --plain-http --image IMAGE`
/// with the registry cache at `cache` (a directory, or `off`).
fn validate_cached(args: &[&str], image: &str, cache: &Path) -> std::process::Output {
    Command::new(compat())
        .arg("validate-node")
        .args(args)
        .args([
            "--platform",
            "linux/amd64",
            "--plain-http",
            "--image",
            image,
        ])
        .env("KPLUG_COMPAT_CACHE", cache)
        .output()
        .unwrap()
}

/// oras-attached artifacts are found through the referrers API and through
/// the tag schema, on a single-platform image and on an index (per-platform
/// manifest and index), and validated like NFD validates them.
#[test]
fn validate_node_reads_the_artifact_from_both_registries() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::registries::write_spec(dir.path());
    let newer = dir.path().join("newer.yaml");
    std::fs::write(
        &newer,
        "version: v1alpha1\ncompatibilities:\n- description: newer\n  rules:\n  - name: never\n    matchFeatures:\n    - feature: nope.nope\n",
    )
    .unwrap();
    let features = nfd_export(dir.path());
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
        let image = format!("{}/e2e/single:v1", registry.host);
        oci::push_image(&registry.host, "e2e/single", "v1", "linux", "amd64");

        // No artifact yet: exit 1 with how to attach one.
        let none = compat_image(
            &["validate-node", "--features", features.to_str().unwrap()],
            &image,
        );
        assert_eq!(none.status.code(), Some(1), "{kind:?}");
        assert!(
            text(&none.stderr).contains("has no compatibility artifact"),
            "{kind:?}: {}",
            text(&none.stderr)
        );
        assert!(
            text(&none.stderr).contains("oras attach"),
            "{}",
            text(&none.stderr)
        );

        let first = oras_attach(&registry, "e2e/single:v1", &spec);
        let out = compat_image(
            &[
                "validate-node",
                "--features",
                features.to_str().unwrap(),
                "--platform",
                "linux/amd64",
            ],
            &image,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{kind:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("RULE \"kernel present\"  OK"),
            "{}",
            text(&out.stdout)
        );
        assert!(
            text(&out.stderr).contains(&first),
            "says which artifact: {}",
            text(&out.stderr)
        );

        // Same document as NFD reading the same artifact.
        let ours = compat_image(
            &[
                "validate-node",
                "--features",
                features.to_str().unwrap(),
                "--platform",
                "linux/amd64",
                "-o",
                "nfd-json",
            ],
            &image,
        );
        let nfd = nfd_validate(&image);
        assert_eq!(
            text(&ours.stdout),
            ok(&nfd, "nfd compat validate-node"),
            "{kind:?}"
        );

        // A newer artifact wins (oras stamps `created` to the second); --digest picks the old one.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = oras_attach(&registry, "e2e/single:v1", &newer);
        let listed = compat_image(
            &["discover", "-o", "json", "--platform", "linux/amd64"],
            &image,
        );
        let v: Value = serde_json::from_str(&text(&listed.stdout))
            .unwrap_or_else(|e| panic!("{e}: {}", text(&listed.stderr)));
        let digests: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["digest"].as_str().unwrap())
            .collect();
        assert!(
            digests.contains(&first.as_str()) && digests.contains(&second.as_str()),
            "{kind:?}: {v}"
        );
        let newest = compat_image(
            &[
                "validate-node",
                "--features",
                features.to_str().unwrap(),
                "--platform",
                "linux/amd64",
            ],
            &image,
        );
        assert_eq!(
            newest.status.code(),
            Some(3),
            "the newer spec never matches: {}",
            text(&newest.stdout)
        );
        let pinned = compat_image(
            &[
                "validate-node",
                "--features",
                features.to_str().unwrap(),
                "--platform",
                "linux/amd64",
                "--digest",
                &first,
            ],
            &image,
        );
        assert_eq!(pinned.status.code(), Some(0), "{}", text(&pinned.stderr));
        let got = compat_image(
            &["get", "--platform", "linux/amd64", "--digest", &first],
            &image,
        );
        assert_eq!(text(&got.stdout), std::fs::read_to_string(&spec).unwrap());

        // An index: artifacts on the index and on the arm64 manifest.
        let (_, images) = oci::push_index(
            &registry.host,
            "e2e/multi",
            "v1",
            &[("linux", "amd64"), ("linux", "arm64")],
        );
        let multi = format!("{}/e2e/multi:v1", registry.host);
        let on_index = oras_attach(&registry, "e2e/multi:v1", &spec);
        let arm = images[1].digest.clone();
        let on_arm = oras_attach(&registry, &format!("e2e/multi@{arm}"), &newer);
        let arm_list = compat_image(
            &["discover", "-o", "json", "--platform", "linux/arm64"],
            &multi,
        );
        let v: Value = serde_json::from_str(&text(&arm_list.stdout)).unwrap();
        let seen: Vec<(String, String)> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["digest"].as_str().unwrap().to_string(),
                    a["attachedTo"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            seen.contains(&(on_index.clone(), "index".into())),
            "{kind:?}: {seen:?}"
        );
        assert!(
            seen.contains(&(on_arm.clone(), "linux/arm64".into())),
            "{kind:?}: {seen:?}"
        );
        let amd_list = compat_image(
            &["discover", "-o", "name", "--platform", "linux/amd64"],
            &multi,
        );
        assert_eq!(
            text(&amd_list.stdout).trim(),
            on_index,
            "amd64 sees only the index artifact"
        );
    }
}

/// `kubectl compat attach` writes what oras writes: oras lists it, NFD
/// validates with it, and without the referrers API the tag-schema index
/// keeps every entry.
#[test]
fn attach_is_read_by_oras_and_nfd() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::registries::write_spec(dir.path());
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: exists}\n").unwrap();
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
        oci::push_image(&registry.host, "e2e/attach", "v1", "linux", "amd64");
        let image = format!("{}/e2e/attach:v1", registry.host);
        let attach = |file: &Path, extra: &[&str]| {
            Command::new(compat())
                .args(["attach", "--plain-http", "--image", &image])
                .args(extra)
                .arg(file)
                .output()
                .unwrap()
        };
        let refused = attach(&broken, &[]);
        assert_eq!(
            refused.status.code(),
            Some(3),
            "{kind:?}: lint errors refuse: {}",
            text(&refused.stderr)
        );
        assert!(
            text(&refused.stderr).contains("op-case"),
            "{}",
            text(&refused.stderr)
        );

        // --platform on a single manifest must be its platform.
        let wrong = attach(&spec, &["--platform", "linux/arm64"]);
        assert_eq!(
            wrong.status.code(),
            Some(1),
            "{kind:?}: {}",
            text(&wrong.stderr)
        );
        assert!(
            text(&wrong.stderr).contains("single linux/amd64 manifest, not linux/arm64"),
            "{}",
            text(&wrong.stderr)
        );

        let out = attach(&spec, &[]);
        let digest = ok(&out, "kubectl compat attach").trim().to_string();
        assert!(digest.starts_with("sha256:"), "{digest}");
        let listed = crate::registries::oras_discover(&registry, "e2e/attach:v1").to_string();
        assert!(
            listed.contains(&digest),
            "{kind:?}: oras discover: {listed}"
        );
        let nfd = ok(
            &nfd_validate(&image),
            "nfd compat validate-node on our artifact",
        );
        assert!(nfd.contains("\"kernel present\""), "{nfd}");

        let forced = attach(&broken, &["--force"]);
        let second = ok(&forced, "attach --force").trim().to_string();
        let listed = crate::registries::oras_discover(&registry, "e2e/attach:v1").to_string();
        assert!(
            listed.contains(&digest) && listed.contains(&second),
            "{kind:?}: both artifacts listed: {listed}"
        );

        // remove deletes one; the other stays listed (tag schema fixed where used).
        let removed = Command::new(compat())
            .args([
                "remove",
                "--plain-http",
                "--image",
                &image,
                "--digest",
                &second,
            ])
            .output()
            .unwrap();
        ok(&removed, "kubectl compat remove");
        let listed = crate::registries::oras_discover(&registry, "e2e/attach:v1").to_string();
        assert!(
            listed.contains(&digest) && !listed.contains(&second),
            "{kind:?}: after remove: {listed}"
        );

        // --platform attaches to that platform's manifest of an index.
        let (_, images) = oci::push_index(
            &registry.host,
            "e2e/attach-multi",
            "v1",
            &[("linux", "amd64"), ("linux", "arm64")],
        );
        let multi = format!("{}/e2e/attach-multi:v1", registry.host);
        let out = Command::new(compat())
            .args([
                "attach",
                "--plain-http",
                "--image",
                &multi,
                "--platform",
                "linux/arm64",
            ])
            .arg(&spec)
            .output()
            .unwrap();
        let on_arm = ok(&out, "attach --platform").trim().to_string();
        let arm = crate::registries::oras_discover(
            &registry,
            &format!("e2e/attach-multi@{}", images[1].digest),
        )
        .to_string();
        assert!(
            arm.contains(&on_arm),
            "{kind:?}: on the arm64 manifest: {arm}"
        );
        let index = crate::registries::oras_discover(&registry, "e2e/attach-multi:v1").to_string();
        assert!(
            !index.contains(&on_arm),
            "{kind:?}: not on the index: {index}"
        );
    }
}

/// `kubectl compat validate-cluster --spec SPEC -l kplug-test=GROUP EXTRA…`
/// against the test cluster as admin.
fn validate_cluster(
    cluster: &kplug_tests::e2e::cluster::Cluster,
    spec: &Path,
    group: &str,
    extra: &[&str],
) -> std::process::Output {
    Command::new(compat())
        .arg("validate-cluster")
        .args(extra)
        .arg("--spec")
        .arg(spec)
        .args(cluster.args(kplug_tests::e2e::cluster::ADMIN))
        .args(["-l", &format!("kplug-test={group}")])
        .output()
        .unwrap()
}

/// Cluster mode on NodeFeature objects in the test API server: a node with a
/// GPU, one without, one without data; two objects for one node merged.
#[tokio::test]
async fn validate_cluster_reads_node_features() {
    use kplug_tests::e2e::cluster::{ADMIN, Cluster};
    use kplug_tests::e2e::objects;
    use serde_json::json;

    let cluster = Cluster::shared();
    crate::nfd::install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("compat").await;
    let group = kplug_tests::e2e::unique_name("grp");
    let gpu = kplug_tests::e2e::unique_name("gpu");
    let cpu = kplug_tests::e2e::unique_name("cpu");
    let bare = kplug_tests::e2e::unique_name("bare");
    for (name, pool) in [(&gpu, "gpu"), (&cpu, "general"), (&bare, "general")] {
        objects::node(
            &client,
            name,
            json!({"kplug-test": group, "pool": pool, "kubernetes.io/hostname": name}),
            json!({}),
        )
        .await;
    }
    let nf = |name: &str, node: &str, features: serde_json::Value| {
        json!({
            "metadata": {"name": name, "labels": {"nfd.node.kubernetes.io/node-name": node}, "annotations": {"nfd.node.kubernetes.io/worker.version": "v0.19.0"}},
            "spec": {"features": features},
        })
    };
    let gvk = ("nfd.k8s-sigs.io", "v1alpha1", "NodeFeature");
    objects::custom_resource(
        &client,
        gvk,
        "nodefeatures",
        Some(&ns),
        nf(
            &gpu,
            &gpu,
            json!({"attributes": {"cpu.model": {"elements": {"vendor_id": "AMD"}}}}),
        ),
    )
    .await;
    // A third party publishes the GPU in a second object for the same node.
    objects::custom_resource(&client, gvk, "nodefeatures", Some(&ns), nf(&format!("{gpu}-extra"), &gpu, json!({"instances": {"pci.device": {"elements": [{"attributes": {"vendor": "10de", "class": "0302"}}]}}}))).await;
    objects::custom_resource(
        &client,
        gvk,
        "nodefeatures",
        Some(&ns),
        nf(
            &cpu,
            &cpu,
            json!({"attributes": {"cpu.model": {"elements": {"vendor_id": "Intel"}}}}),
        ),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "version: v1alpha1\ncompatibilities:\n- description: gpu\n  weight: 80\n  rules:\n  - name: nvidia\n    matchFeatures:\n    - feature: pci.device\n      matchExpressions:\n        vendor: {op: In, value: [\"10de\"]}\n- description: x86\n  weight: 20\n  rules:\n  - name: vendor\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel, AMD]}\n").unwrap();
    let run_cluster = |extra: &[&str]| validate_cluster(cluster, &spec, &group, extra);
    let out = run_cluster(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let table = text(&out.stdout);
    assert!(table.starts_with("NODE"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(gpu.as_str()) && l.contains("yes") && l.contains("#1")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(cpu.as_str()) && l.contains("#2")),
        "{table}"
    );
    assert!(
        text(&out.stderr).contains(&bare),
        "nodes without data are named: {}",
        text(&out.stderr)
    );

    let json_out = run_cluster(&["-o", "json"]);
    let v: Value = serde_json::from_str(&text(&json_out.stdout)).unwrap();
    assert_eq!(v["kind"], "ClusterCompatibilityReport");
    assert_eq!(v["sets"][0]["compatibleNodes"], json!([gpu]));
    assert_eq!(v["nodesWithoutData"], json!([bare]));

    // -o name: the compatible nodes, ready for `kubectl label`.
    let names = text(&run_cluster(&["-o", "name"]).stdout);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    let mut expected = vec![format!("node/{cpu}"), format!("node/{gpu}")];
    expected.sort();
    assert_eq!(names, expected, "the node without data is not compatible");

    // The everyday command finds the cluster and its NodeFeatures by itself,
    // and --node narrows it to one node; --local checks this host instead.
    let auto = |extra: &[&str]| {
        Command::new(compat())
            .arg("validate")
            .arg("--spec")
            .arg(&spec)
            .args(extra)
            .args(cluster.args(ADMIN))
            .output()
            .unwrap()
    };
    let one = auto(&["--node", &gpu]);
    let said = text(&one.stderr);
    assert!(
        said.lines()
            .next()
            .unwrap_or("")
            .starts_with(&format!("target: node {gpu} (the cluster at ")),
        "{said}"
    );
    assert_eq!(one.status.code(), Some(0), "{said}");
    assert!(text(&one.stdout).contains(gpu.as_str()) && !text(&one.stdout).contains(cpu.as_str()));
    let local = auto(&["--local"]);
    assert!(
        text(&local.stderr).starts_with("target: this host (--local)"),
        "{}",
        text(&local.stderr)
    );

    let aff = run_cluster(&["--emit", "affinity"]);
    let yaml = ok(&aff, "validate-cluster --emit affinity");
    assert!(
        yaml.contains("requiredDuringSchedulingIgnoredDuringExecution"),
        "{yaml}"
    );
    assert!(
        yaml.contains("pool"),
        "the pool label tells the GPU node apart: {yaml}"
    );

    // No node fits: exit 3.
    let none = dir.path().join("none.yaml");
    std::fs::write(&none, "compatibilities:\n- rules:\n  - name: never\n    matchFeatures:\n    - feature: nope.nope\n").unwrap();
    let out = validate_cluster(cluster, &none, &group, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

/// The NodeFeature the real nfd-worker publishes for this host is evaluated
/// by validate-cluster like validate-node evaluates this host.
#[tokio::test]
async fn validate_cluster_on_what_nfd_worker_publishes() {
    use kplug_tests::e2e::cluster::{ADMIN, Cluster};
    use serde_json::json;

    let cluster = Cluster::shared();
    crate::nfd::install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("nfd-worker").await;
    let node = kplug_tests::e2e::unique_name("worker");
    let group = kplug_tests::e2e::unique_name("grp");
    kplug_tests::e2e::objects::node(&client, &node, json!({"kplug-test": group}), json!({})).await;
    crate::nfd::run_worker(cluster, &node, &ns);

    let dir = tempfile::tempdir().unwrap();
    let spec = corpus()
        .into_iter()
        .find(|p| p.ends_with("06-version.yaml"))
        .unwrap();
    let cluster_out = validate_cluster(cluster, &spec, &group, &["-o", "json"]);
    let v: Value = serde_json::from_str(&text(&cluster_out.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", text(&cluster_out.stderr)));
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{v}");
    assert_eq!(nodes[0]["name"], node.as_str());
    // The same verdicts as this host evaluated locally (nfd-worker saw this host).
    let features = nfd_export(dir.path());
    let local = Command::new(compat())
        .args(["validate-node", "-o", "json", "--spec"])
        .arg(&spec)
        .arg("--features")
        .arg(&features)
        .output()
        .unwrap();
    let local: Value = serde_json::from_str(&text(&local.stdout)).unwrap();
    let verdicts = |report: &Value| -> Vec<bool> {
        report["sets"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["matched"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(verdicts(&nodes[0]["report"]), verdicts(&local), "{v}");
}

/// Runs `program args` with `stdin` on its standard input and `env` set.
fn run_input(
    program: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &Path)],
) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A registry behind htpasswd auth: anonymous and wrong credentials fail with
/// one sentence that names the realm and never echoes a secret; the stdin
/// flags, docker's config.json and podman's auth.json all work; NFD reads
/// what we attached with the same flags.
#[test]
fn registry_auth_flags_and_login_files() {
    use kplug_tests::e2e::registry::{PASSWORD, REALM, USER};
    let registry = Registry::start(Kind::Htpasswd);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.txt"), "app").unwrap();
    let image = format!("{}/e2e/auth:v1", registry.host);
    let pushed = Command::new(peers::path("ORAS"))
        .current_dir(dir.path())
        .args([
            "push",
            "--plain-http",
            "-u",
            USER,
            "-p",
            PASSWORD,
            &image,
            "app.txt:text/plain",
        ])
        .output()
        .unwrap();
    ok(&pushed, "oras push with credentials");
    let spec = crate::registries::write_spec(dir.path());
    let spec = spec.to_str().unwrap();
    let no_env: &[(&str, &Path)] = &[
        ("DOCKER_CONFIG", dir.path()),
        ("REGISTRY_AUTH_FILE", &dir.path().join("none.json")),
    ];

    let anonymous = run_input(
        &compat(),
        &["attach", "--plain-http", "--image", &image, spec],
        "",
        no_env,
    );
    let err = text(&anonymous.stderr);
    assert_eq!(
        anonymous.status.code(),
        Some(1),
        "anonymous attach fails: {err}"
    );
    assert!(
        err.contains(REALM) && err.contains("docker login"),
        "names the realm and what to do: {err}"
    );
    assert!(err.contains("requires authentication"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let wrong = "not-the-Pa55word";
    let refused = run_input(
        &compat(),
        &[
            "validate-node",
            "--plain-http",
            "--image",
            &image,
            "--registry-username",
            USER,
            "--registry-password-stdin",
        ],
        wrong,
        no_env,
    );
    let err = text(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "wrong password fails: {err}"
    );
    assert!(err.contains(REALM), "{err}");
    assert!(
        err.contains("rejected the credentials"),
        "credentials were sent, so they were rejected: {err}"
    );
    assert!(
        !err.contains(wrong) && !text(&refused.stdout).contains(wrong),
        "the secret is never printed: {err}"
    );

    let attached = run_input(
        &compat(),
        &[
            "attach",
            "--plain-http",
            "--image",
            &image,
            "--registry-username",
            USER,
            "--registry-password-stdin",
            spec,
        ],
        &format!("{PASSWORD}\n"),
        no_env,
    );
    let digest = ok(&attached, "attach with --registry-password-stdin")
        .trim()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(!text(&attached.stderr).contains(PASSWORD));

    // NFD's own flags read our artifact.
    let nfd = run_input(
        &peers::path("NFD"),
        &[
            "compat",
            "validate-node",
            "--plain-http",
            "--output-json",
            "--image",
            &image,
            "--registry-username",
            USER,
            "--registry-password-stdin",
        ],
        PASSWORD,
        &[],
    );
    assert!(ok(&nfd, "nfd with credentials").contains("\"kernel present\""));

    // Logged in with docker (config.json, written by `oras login`) or podman
    // (auth.json, the same format), no flags.
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let login = run_input(
        &peers::path("ORAS"),
        &[
            "login",
            "--plain-http",
            "-u",
            USER,
            "--password-stdin",
            "--registry-config",
            docker.join("config.json").to_str().unwrap(),
            &registry.host,
        ],
        PASSWORD,
        &[],
    );
    ok(&login, "oras login");
    let podman = dir.path().join("auth.json");
    std::fs::copy(docker.join("config.json"), &podman).unwrap();
    let logins: [&[(&str, &Path)]; 2] = [
        &[
            ("DOCKER_CONFIG", &docker),
            ("REGISTRY_AUTH_FILE", &dir.path().join("none.json")),
        ],
        &[
            ("DOCKER_CONFIG", dir.path()),
            ("REGISTRY_AUTH_FILE", &podman),
        ],
    ];
    for env in logins {
        let listed = run_input(
            &compat(),
            &["discover", "--plain-http", "--image", &image],
            "",
            env,
        );
        assert!(ok(&listed, "discover with a login file").contains(&digest));
    }
}

/// Hundreds of nodes: every node's verdict and the per-set lists are right,
/// nodes without data are listed, and the affinity names the GPU pool.
#[tokio::test]
async fn validate_cluster_on_many_nodes() {
    use kplug_tests::e2e::cluster::{ADMIN, Cluster};
    use kplug_tests::e2e::nfd::{FLEET_SPEC, install_crds, mixed_fleet, publish_fleet};

    const NODES: usize = 300;
    let cluster = Cluster::shared();
    install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("fleet").await;
    let group = kplug_tests::e2e::unique_name("fleet");
    publish_fleet(&client, &ns, mixed_fleet(&group, &group, NODES), 16).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("fleet.yaml");
    std::fs::write(&spec, FLEET_SPEC).unwrap();

    let out = validate_cluster(cluster, &spec, &group, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let names = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
        let mut v: Vec<String> = (0..NODES)
            .filter(|i| pred(*i))
            .map(|i| format!("{group}-{i}"))
            .collect();
        v.sort();
        v
    };
    let listed = |value: &Value| -> Vec<String> {
        let mut v: Vec<String> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        listed(&v["sets"][0]["compatibleNodes"]),
        names(&|i| i % 4 == 0),
        "gpu set"
    );
    assert_eq!(
        listed(&v["sets"][1]["compatibleNodes"]),
        names(&|i| i % 4 <= 1),
        "x86 set"
    );
    assert_eq!(listed(&v["nodesWithoutData"]), names(&|i| i % 4 == 3));
    assert_eq!(
        v["nodes"].as_array().unwrap().len(),
        NODES - NODES / 4,
        "one report per node with data"
    );

    let aff = validate_cluster(cluster, &spec, &group, &["--emit", "affinity"]);
    let yaml = ok(&aff, "validate-cluster --emit affinity");
    assert!(yaml.contains("pool") && yaml.contains("gpu"), "{yaml}");
}

/// What a check read from the registry is kept by digest: with the spec's
/// blob gone from the registry, a second check still reads the artifact
/// from the cache (and the same report comes out), while one without the
/// cache fails naming the blob; a cached file altered on disk is refetched.
#[test]
fn validate_node_keeps_what_it_read_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::registries::write_spec(dir.path());
    let features = nfd_export(dir.path());
    let registry = Registry::start(Kind::Referrers);
    let image = format!("{}/e2e/cached:v1", registry.host);
    oci::push_image(&registry.host, "e2e/cached", "v1", "linux", "amd64");
    oras_attach(&registry, "e2e/cached:v1", &spec);
    let cache = dir.path().join("cache");
    let check = |cache: &str| {
        validate_cached(
            &["--features", features.to_str().unwrap()],
            &image,
            Path::new(cache),
        )
    };
    let first = check(cache.to_str().unwrap());
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let spec_text = std::fs::read(&spec).unwrap();
    let blob = oci::sha256_digest(&spec_text);
    let hex = blob.trim_start_matches("sha256:");
    assert!(cache.join("sha256").join(hex).is_file(), "the spec is kept");

    // The registry loses the spec's blob.
    let stored = registry.blob_dir().join("sha256").join(hex);
    std::fs::remove_file(&stored).unwrap_or_else(|e| panic!("{}: {e}", stored.display()));
    let again = check(cache.to_str().unwrap());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), text(&first.stdout));
    let uncached = check("off");
    assert_ne!(
        uncached.status.code(),
        Some(0),
        "{}",
        text(&uncached.stdout)
    );
    assert!(
        text(&uncached.stderr).contains("spec"),
        "{}",
        text(&uncached.stderr)
    );

    // An altered cache entry is not trusted: it is dropped and refetched,
    // which fails here because the registry no longer has it.
    std::fs::write(cache.join("sha256").join(hex), "compatibilities: []\n").unwrap();
    let altered = check(cache.to_str().unwrap());
    assert_ne!(altered.status.code(), Some(0), "{}", text(&altered.stdout));
    assert!(!cache.join("sha256").join(hex).exists());
}

/// The cache remembers which subjects a tag led to and asks for their
/// referrers while the tag resolves; when the tag has moved to another
/// image, that guess is dropped and the new image's artifact is the one
/// checked, on the first run after the move and on the ones that follow.
#[test]
fn validate_node_follows_a_tag_that_moved() {
    let dir = tempfile::tempdir().unwrap();
    let passes = crate::registries::write_spec(dir.path());
    let fails = dir.path().join("fails.yaml");
    std::fs::write(
        &fails,
        "version: v1alpha1\ncompatibilities:\n- description: moved\n  rules:\n  - name: no kernel is version 0\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        major: {op: In, value: [\"0\"]}\n",
    )
    .unwrap();
    let features = nfd_export(dir.path());
    let registry = Registry::start(Kind::Referrers);
    let image = format!("{}/e2e/moving:v1", registry.host);
    oci::push_index(
        &registry.host,
        "e2e/moving",
        "v1",
        &[("linux", "amd64"), ("linux", "arm64")],
    );
    let first_artifact = oras_attach(&registry, "e2e/moving:v1", &passes);
    let cache = dir.path().join("cache");
    let check = || validate_cached(&["--features", features.to_str().unwrap()], &image, &cache);
    for _ in 0..2 {
        let out = check();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&first_artifact),
            "{}",
            text(&out.stderr)
        );
    }
    let guesses: Vec<_> = std::fs::read_dir(cache.join("subjects"))
        .expect("the subjects are remembered")
        .collect();
    assert_eq!(guesses.len(), 1);

    // The tag moves to a single-platform image with a spec this host fails.
    oci::push_image(&registry.host, "e2e/moving", "v1", "linux", "amd64");
    let moved_artifact = oras_attach(&registry, "e2e/moving:v1", &fails);
    for _ in 0..2 {
        let out = check();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(&moved_artifact), "{stderr}");
        assert!(stderr.contains("attached to the manifest"), "{stderr}");
        assert!(!stderr.contains(&first_artifact), "{stderr}");
    }
}

/// A check of an image seen before starts host discovery on what the spec
/// it used last time needs (kept in the cache) and skips the rest; when a
/// newer artifact needs a source that was skipped, that source runs after
/// all, and the report is the one a check without the cache prints.
#[test]
fn validate_node_discovers_what_a_newer_artifact_needs() {
    let dir = tempfile::tempdir().unwrap();
    let kernel_only = crate::registries::write_spec(dir.path());
    let os_too = dir.path().join("os.yaml");
    std::fs::write(
        &os_too,
        "version: v1alpha1\ncompatibilities:\n- description: os\n  rules:\n  - name: an os release\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        major: {op: Exists}\n    - feature: system.osrelease\n      matchExpressions:\n        ID: {op: Exists}\n",
    )
    .unwrap();
    let registry = Registry::start(Kind::Referrers);
    let image = format!("{}/e2e/grown:v1", registry.host);
    oci::push_image(&registry.host, "e2e/grown", "v1", "linux", "amd64");
    oras_attach(&registry, "e2e/grown:v1", &kernel_only);
    let cache = dir.path().join("cache");
    let check = |cache: &Path| validate_cached(&["-o", "json"], &image, cache);
    let first = check(&cache);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        !text(&first.stdout).contains("system.osrelease"),
        "{}",
        text(&first.stdout)
    );

    // A newer artifact (creation times are in seconds) reads the OS release.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let newer = oras_attach(&registry, "e2e/grown:v1", &os_too);
    let guessed = check(&cache);
    let fresh = check(Path::new("off"));
    assert!(
        text(&guessed.stderr).contains(&newer),
        "{}",
        text(&guessed.stderr)
    );
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stderr));
    assert_eq!(guessed.status.code(), fresh.status.code());
    assert!(
        text(&fresh.stdout).contains("system.osrelease"),
        "{}",
        text(&fresh.stdout)
    );
    assert_eq!(text(&guessed.stdout), text(&fresh.stdout));
}
