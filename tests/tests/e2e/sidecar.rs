//! `kubectl sidecar` against the real API server: every scenario of
//! plugins/kubectl-sidecar/tests/scenarios is submitted with server-side
//! dry-run, and the server's verdict (accepted or rejected, and why) must be
//! what kplug predicts offline.

use std::path::PathBuf;
use std::process::Command;

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::{peers, workspace_bin, workspace_root};

use crate::text;

fn scenarios() -> Vec<PathBuf> {
    let dir = workspace_root().join("plugins/kubectl-sidecar/tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn expect_api(file: &std::path::Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# expect-api: "))
        .unwrap_or_else(|| panic!("{}: no expect-api line", file.display()))
        .trim()
        .to_string()
}

/// The API server's own words that kplug predicts for a file's INVALID
/// containers.
fn predicted_errors(file: &std::path::Path) -> Vec<String> {
    let bin = workspace_bin("kubectl-sidecar")
        .expect("kubectl-sidecar is built by cargo test --workspace");
    let out = Command::new(bin)
        .args(["analyze", "-o", "json", "-f"])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut errors = Vec::new();
    for item in v["items"].as_array().unwrap() {
        for c in item["containers"].as_array().unwrap() {
            if c["verdict"] != "INVALID" {
                continue;
            }
            for f in c["findings"].as_array().unwrap() {
                if let Some(m) = f["message"]
                    .as_str()
                    .and_then(|m| m.strip_prefix("the API server rejects this: "))
                {
                    errors.push(m.to_string());
                }
            }
        }
    }
    errors.sort();
    errors.dedup();
    errors
}

/// Every scenario goes to the real API server with server-side dry-run: it
/// accepts exactly the ones kplug finds valid, and rejects the others with
/// the very messages kplug predicts.
#[tokio::test]
async fn api_server_agrees_on_every_scenario() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("sidecar").await;
    let mut disagreements = Vec::new();
    let files = scenarios();
    assert!(files.len() >= 36);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let out = Command::new(peers::path("KUBECTL"))
            .args(cluster.args(ADMIN))
            .args(["apply", "--dry-run=server", "-n", &ns, "-f"])
            .arg(file)
            .output()
            .unwrap();
        let server = text(&out.stderr);
        let predicted = predicted_errors(file);
        let expected = expect_api(file);
        match (out.status.success(), predicted.is_empty()) {
            (true, true) if expected == "accepted" => {}
            (false, false) if expected == "rejected" => {
                for p in &predicted {
                    if !server.contains(p.as_str()) {
                        disagreements.push(format!("{name}: kplug predicts {p:?}; the server said {server:?}"));
                    }
                }
            }
            (accepted, _) => disagreements.push(format!(
                "{name}: server accepted={accepted} ({}), kplug predicts {predicted:?}, the file expects {expected}",
                server.trim()
            )),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn sidecar(args: &[&str], dir: Option<&std::path::Path>) -> std::process::Output {
    let mut c = Command::new(workspace_bin("kubectl-sidecar").expect("kubectl-sidecar is built"));
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output().unwrap()
}

/// kubectl with the admin context, `input` on stdin.
fn kubectl(
    cluster: &Cluster,
    args: &[&str],
    input: Option<&str>,
    dir: Option<&std::path::Path>,
) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(peers::path("KUBECTL"));
    c.args(cluster.args(ADMIN)).args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.unwrap_or("").as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The containers `fix` changed, from its patch comments.
fn fixed_containers(patch_output: &str) -> Vec<String> {
    patch_output
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter(|l| !l.starts_with(' ') && !l.starts_with("side effect"))
        .filter_map(|l| l.split_once(':').map(|(c, _)| c.to_string()))
        .collect()
}

/// Every fix kplug writes — the patch, the rewritten manifest and the
/// kustomize patches — is accepted by the real API server, and analysing the
/// result finds every fixed sidecar GATED.
#[tokio::test]
async fn every_fix_is_accepted_and_gates() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("sidecar-fix").await;
    let mut fixed_files = 0;
    let mut problems = Vec::new();
    for file in scenarios() {
        if expect_api(&file) != "accepted" {
            continue;
        }
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let path = file.to_str().unwrap();
        let patch = sidecar(&["fix", "--migrate-legacy", "-f", path], None);
        let patch_text = text(&patch.stdout);
        let containers = fixed_containers(&patch_text);
        if containers.is_empty() {
            continue;
        }
        fixed_files += 1;

        // 1. The rewritten manifest: accepted, and every fixed sidecar gates.
        let manifest = text(
            &sidecar(
                &["fix", "--migrate-legacy", "-o", "manifest", "-f", path],
                None,
            )
            .stdout,
        );
        let applied = kubectl(
            cluster,
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&manifest),
            None,
        );
        if !applied.status.success() {
            problems.push(format!(
                "{name}: fixed manifest rejected: {}",
                text(&applied.stderr)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let fixed = dir.path().join("fixed.yaml");
        std::fs::write(&fixed, &manifest).unwrap();
        let again: serde_json::Value = serde_json::from_slice(
            &sidecar(
                &["analyze", "-o", "json", "-f", fixed.to_str().unwrap()],
                None,
            )
            .stdout,
        )
        .unwrap();
        for c in &containers {
            let verdicts: Vec<&serde_json::Value> = again["items"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|i| i["containers"].as_array().unwrap())
                .filter(|x| x["name"] == c.as_str())
                .map(|x| &x["verdict"])
                .collect();
            if verdicts.iter().any(|v| *v != "GATED") {
                problems.push(format!("{name}: {c} after the fix: {verdicts:?}"));
            }
        }
        if name.contains("field-stripped") {
            continue;
        }

        // 2. The strategic patch, applied by kubectl itself, is accepted.
        for line in patch_text
            .lines()
            .filter(|l| l.starts_with("kubectl patch "))
        {
            let json = line
                .split_once(" -p '")
                .unwrap()
                .1
                .trim_end_matches('\'')
                .replace("'\\''", "'");
            let local = kubectl(
                cluster,
                &[
                    "patch",
                    "--local",
                    "-f",
                    path,
                    "--type=strategic",
                    "-p",
                    &json,
                    "-o",
                    "json",
                ],
                None,
                None,
            );
            if !local.status.success() {
                problems.push(format!(
                    "{name}: kubectl patch --local: {}",
                    text(&local.stderr)
                ));
                continue;
            }
            let created = kubectl(
                cluster,
                &["create", "--dry-run=server", "-n", &ns, "-f", "-"],
                Some(&text(&local.stdout)),
                None,
            );
            if !created.status.success() {
                problems.push(format!(
                    "{name}: patched object rejected: {}",
                    text(&created.stderr)
                ));
            }
        }

        // 3. kustomize: the patch files with the original as the resource.
        std::fs::copy(&file, dir.path().join("resource.yaml")).unwrap();
        let k = sidecar(
            &[
                "fix",
                "--migrate-legacy",
                "-o",
                "kustomize",
                "--dir",
                "patches",
                "-f",
                "resource.yaml",
            ],
            Some(dir.path()),
        );
        let entries = text(&k.stdout);
        let kustomization = format!(
            "resources:\n- resource.yaml\n{}",
            entries
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::fs::write(dir.path().join("kustomization.yaml"), kustomization).unwrap();
        let built = kubectl(cluster, &["kustomize", "."], None, Some(dir.path()));
        if !built.status.success() {
            problems.push(format!("{name}: kustomize build: {}", text(&built.stderr)));
            continue;
        }
        let applied = kubectl(
            cluster,
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&text(&built.stdout)),
            None,
        );
        if !applied.status.success() {
            problems.push(format!(
                "{name}: kustomized output rejected: {}",
                text(&applied.stderr)
            ));
        }
        if !text(&built.stdout).contains("startupProbe") {
            problems.push(format!("{name}: kustomize output has no startupProbe"));
        }
    }
    assert!(
        fixed_files >= 8,
        "only {fixed_files} scenarios had something to fix"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// (kind/name → [(container, verdict, gate)], sorted codes) of a report.
type Summary = std::collections::BTreeMap<String, (Vec<String>, Vec<String>)>;

fn summarise(report: &serde_json::Value) -> Summary {
    let mut out = Summary::new();
    for item in report["items"].as_array().unwrap() {
        let key = format!(
            "{}/{}",
            item["object"]["kind"].as_str().unwrap(),
            item["object"]["name"].as_str().unwrap()
        );
        let containers = item["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{} {} {} {}", c["name"], c["role"], c["verdict"], c["gate"]))
            .collect();
        let mut codes: Vec<String> = item["containers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["findings"].as_array().unwrap())
            .chain(item["findings"].as_array().unwrap())
            .map(|f| format!("{} {}", f["code"], f["severity"]))
            .collect();
        codes.sort();
        out.insert(key, (containers, codes));
    }
    out
}

/// The scenarios the server accepts, created for real, read back live
/// (`analyze all -n NS`): every object gets the verdicts and findings the
/// manifest got offline, defaults filled in by the server notwithstanding;
/// a Pod whose sidecar lost restartPolicy on the way is caught by comparing
/// it with its ReplicaSet.
#[tokio::test]
async fn live_objects_get_the_same_analysis_as_their_manifests() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("sidecar-live").await;
    let mut offline = Summary::new();
    for file in scenarios() {
        if expect_api(&file) != "accepted" {
            continue;
        }
        let created = kubectl(
            cluster,
            &["create", "-n", &ns, "-f", file.to_str().unwrap()],
            None,
            None,
        );
        assert!(
            created.status.success(),
            "{}: {}",
            file.display(),
            text(&created.stderr)
        );
        let out = sidecar(
            &["analyze", "-o", "json", "-f", file.to_str().unwrap()],
            None,
        );
        offline.extend(summarise(&serde_json::from_slice(&out.stdout).unwrap()));
    }
    let mut args: Vec<String> = vec![
        "analyze".into(),
        "all".into(),
        "-n".into(),
        ns.clone(),
        "-o".into(),
        "json".into(),
    ];
    args.extend(cluster.args(ADMIN));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sidecar(&refs, None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the live scenarios hold errors: {}",
        text(&out.stderr)
    );
    let live = summarise(&serde_json::from_slice(&out.stdout).unwrap());
    let mut differences = Vec::new();
    for (key, want) in &offline {
        match live.get(key) {
            None => differences.push(format!("{key}: not read back")),
            Some(got) if got != want => {
                differences.push(format!("{key}:\n  live    {got:?}\n  offline {want:?}"))
            }
            Some(_) => {}
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        live.get("Pod/stripped-6d4f-x7k2p")
            .is_some_and(|(_, codes)| codes
                .iter()
                .any(|c| c.contains("field-stripped-by-admission"))),
        "drift found through the ReplicaSet"
    );

    // One object by name, and a kind kubectl does not know.
    let mut one: Vec<String> = vec![
        "analyze".into(),
        "deploy/migrate-after-proxy".into(),
        "-n".into(),
        ns.clone(),
    ];
    one.extend(cluster.args(ADMIN));
    let out = sidecar(&one.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cloud-sql-proxy ─startupProbe ≤60s→ db-migrate ─exit 0→ app"),
        "{}",
        text(&out.stdout)
    );
    let bad = sidecar(&["analyze", "services/x"], None);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}
