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
