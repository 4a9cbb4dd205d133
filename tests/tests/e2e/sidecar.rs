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

/// `explain` on a Pod written the way the kubelet would (status through the
/// status subresource) with Events of both APIs: the sidecar's gate delay
/// and its causes, the restart, the unready sidecar.
#[tokio::test]
async fn explain_reads_status_and_events_of_both_apis() {
    use kplug_tests::e2e::objects;
    use serde_json::json;

    let cluster = Cluster::shared();
    let client = cluster.client(ADMIN).await;
    let ns = cluster.namespace("sidecar-explain").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |offset: i64| {
        jiff::Timestamp::from_second(now + offset)
            .unwrap()
            .to_string()
    };
    let pod = objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "web"}, "spec": {"nodeName": "node-1",
            "initContainers": [
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0", "restartPolicy": "Always",
                 "startupProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 1, "failureThreshold": 600}},
                {"name": "db-migrate", "image": "registry.example/migrate:1.0"}],
            "containers": [{"name": "app", "image": "registry.example/app:1.0"}]}}),
        json!({"phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": at(1)},
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": at(3)},
                {"type": "Initialized", "status": "True", "lastTransitionTime": at(21)},
                {"type": "ContainersReady", "status": "False", "lastTransitionTime": at(45)},
                {"type": "Ready", "status": "False", "lastTransitionTime": at(45)}],
            "initContainerStatuses": [
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0", "imageID": "", "ready": false, "started": true, "restartCount": 0,
                 "state": {"running": {"startedAt": at(4)}}},
                {"name": "db-migrate", "image": "registry.example/migrate:1.0", "imageID": "", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": at(16), "finishedAt": at(20)}}}],
            "containerStatuses": [
                {"name": "app", "image": "registry.example/app:1.0", "imageID": "", "ready": true, "started": true, "restartCount": 1,
                 "state": {"running": {"startedAt": at(41)}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": at(22), "finishedAt": at(40)}}}]}),
    )
    .await;
    let uid = pod.metadata.uid.clone().unwrap();
    let involved = |path: &str| json!({"kind": "Pod", "namespace": ns, "name": "web", "uid": uid, "apiVersion": "v1", "fieldPath": path});
    // The kubelet's legacy recorder: core/v1.
    for (name, reason, path, message, first, last, count) in [
        (
            "web.pulling",
            "Pulling",
            "spec.initContainers{db-migrate}",
            "Pulling image \"registry.example/migrate:1.0\"",
            14,
            14,
            1,
        ),
        (
            "web.pulled",
            "Pulled",
            "spec.initContainers{db-migrate}",
            "Successfully pulled image \"registry.example/migrate:1.0\" in 1.2s (1.2s including waiting)",
            15,
            15,
            1,
        ),
        (
            "web.backoff",
            "BackOff",
            "spec.containers{app}",
            "Back-off restarting failed container app in pod web",
            40,
            40,
            1,
        ),
    ] {
        objects::core_event(&client, &ns, json!({"metadata": {"name": name}, "involvedObject": involved(path), "reason": reason, "message": message,
            "type": if reason == "BackOff" { "Warning" } else { "Normal" }, "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": at(first), "lastTimestamp": at(last), "count": count})).await;
    }
    // A newer reporter: events.k8s.io/v1 with a series.
    objects::events_v1_event(&client, &ns, json!({"metadata": {"name": "web.unhealthy"}, "regarding": involved("spec.initContainers{istio-proxy}"),
        "reason": "Unhealthy", "note": "Startup probe failed: Get \"http://10.0.0.5:15021/healthz/ready\": connect: connection refused",
        "type": "Warning", "action": "Probe", "reportingController": "kubelet", "reportingInstance": "node-1",
        "eventTime": format!("{}.000000Z", at(6).trim_end_matches('Z')),
        "series": {"count": 4, "lastObservedTime": format!("{}.000000Z", at(9).trim_end_matches('Z'))}})).await;

    let mut args: Vec<String> = vec![
        "explain".into(),
        "pod/web".into(),
        "-n".into(),
        ns.clone(),
        "-o".into(),
        "json".into(),
    ];
    args.extend(cluster.args(ADMIN));
    let out = sidecar(&args.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["kind"], "SidecarTimeline");
    let gate = &t["gates"][0];
    assert_eq!(gate["sidecar"], "istio-proxy");
    assert_eq!(
        gate["delaySeconds"], 12,
        "started at +4, db-migrate started at +16: {t}"
    );
    let causes = gate["causes"].to_string();
    assert!(causes.contains("4 failed startup probe(s)"), "{causes}");
    assert!(
        causes.contains("pulling the image of db-migrate"),
        "{causes}"
    );
    assert_eq!(
        t["restarts"][0],
        json!({"container": "app", "count": 1, "lastExitCode": 137, "lastReason": "OOMKilled"})
    );
    assert_eq!(t["unreadySidecars"], json!(["istio-proxy"]));
    let whats: Vec<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(
        whats
            .iter()
            .any(|w| w.starts_with("Unhealthy: Startup probe failed") && w.ends_with("(×4)")),
        "{whats:?}"
    );
    assert!(whats.iter().any(|w| w.starts_with("BackOff:")), "{whats:?}");
    assert!(whats.contains(&"scheduled to node-1"), "{whats:?}");

    // The human form names the gate and its causes.
    let mut human: Vec<String> = vec!["explain".into(), "web".into(), "-n".into(), ns.clone()];
    human.extend(cluster.args(ADMIN));
    let out = sidecar(&human.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("istio-proxy held the next container 12s: 4 failed startup probe(s)"),
        "{shown}"
    );
    assert!(
        shown.contains("unready sidecars (they keep the Pod NotReady): istio-proxy"),
        "{shown}"
    );
}

/// `fix --apply` on live objects: a Deployment's legacy proxy becomes a
/// gating native sidecar and a CronJob's sidecar gets its startupProbe; a
/// bare Pod's probes are immutable, so the dry run refuses and nothing changes.
#[tokio::test]
async fn fix_apply_patches_live_objects_after_a_dry_run() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("sidecar-apply").await;
    let dir = workspace_root().join("plugins/kubectl-sidecar/tests/scenarios");
    for f in [
        "24-legacy-proxy-after-app.yaml",
        "29-cronjob-readiness-only.yaml",
        "01-readiness-only.yaml",
    ] {
        let created = kubectl(
            cluster,
            &["create", "-n", &ns, "-f", dir.join(f).to_str().unwrap()],
            None,
            None,
        );
        assert!(created.status.success(), "{f}: {}", text(&created.stderr));
    }
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend(["-n".to_string(), ns.clone()]);
        args.extend(cluster.args(ADMIN));
        sidecar(&args.iter().map(String::as_str).collect::<Vec<_>>(), None)
    };
    let out = run(&[
        "fix",
        "deploy/legacy-proxy-after-app",
        "cronjob/cronjob-readiness-only",
        "--migrate-legacy",
        "--apply",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(
        said.contains("deployments/legacy-proxy-after-app patched")
            && said.contains("rolls the Deployment"),
        "{said}"
    );
    assert!(
        said.contains("cronjobs/cronjob-readiness-only patched"),
        "{said}"
    );

    let after = run(&[
        "analyze",
        "deploy/legacy-proxy-after-app",
        "cronjob/cronjob-readiness-only",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    let verdicts: Vec<(String, String, String)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["containers"].as_array().unwrap().iter())
        .filter(|c| c["role"] == "sidecar")
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["verdict"].as_str().unwrap().into(),
                c["gate"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("envoy".into(), "GATED".into(), "startupProbe".into()),
            ("proxy".into(), "GATED".into(), "startupProbe".into())
        ],
        "{v}"
    );

    let refused = run(&["fix", "pod/readiness-only", "--apply"]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    let err = text(&refused.stderr);
    assert!(
        err.contains("refused the change in a dry run") && err.contains("recreate the Pod"),
        "{err}"
    );
    let unchanged = kubectl(
        cluster,
        &[
            "get",
            "pod/readiness-only",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.initContainers[0].startupProbe}",
        ],
        None,
        None,
    );
    assert_eq!(text(&unchanged.stdout), "", "the Pod is untouched");

    // Applying again to what is already fixed changes nothing, and says so.
    let again = run(&["fix", "deployment/legacy-proxy-after-app", "--apply"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("nothing to fix"),
        "{}",
        text(&again.stderr)
    );
}

/// kube-score (the benchmark's peer) and kplug read the same multi-document
/// stream: every scenario the API server accepts, concatenated (kube-score
/// refuses the whole stream over one invalid object). kube-score scores the objects it
/// knows (not ReplicaSets), in its own order; kplug must find a Pod
/// template in each of them and in no object kube-score did not see.
#[test]
fn kube_score_and_kplug_read_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("all.yaml");
    let mut all = String::new();
    for file in scenarios()
        .into_iter()
        .filter(|f| expect_api(f) == "accepted")
    {
        all.push_str("---\n");
        all.push_str(&std::fs::read_to_string(&file).unwrap());
        all.push('\n');
    }
    std::fs::write(&stream, all).unwrap();
    let scored = Command::new(peers::path("KUBE_SCORE"))
        .args(["score", "--output-format", "json"])
        .arg(&stream)
        .output()
        .unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&scored.stdout)
        .unwrap_or_else(|e| panic!("kube-score JSON: {e}: {}", text(&scored.stderr)));
    // `KIND/NAME` of a JSON object, from the pointers to its kind and name.
    let kind_name = |v: &serde_json::Value, kind: &str, name: &str| {
        format!(
            "{}/{}",
            v.pointer(kind).and_then(|k| k.as_str()).unwrap(),
            v.pointer(name).and_then(|n| n.as_str()).unwrap()
        )
    };
    let workload_kinds = [
        "Pod/",
        "Deployment/",
        "StatefulSet/",
        "DaemonSet/",
        "Job/",
        "CronJob/",
    ];
    let mut their_names: Vec<String> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| kind_name(o, "/type_meta/kind", "/object_meta/name"))
        .filter(|n| workload_kinds.iter().any(|k| n.starts_with(k)))
        .collect();
    let ours = Command::new(workspace_bin("kubectl-sidecar").unwrap())
        .args(["analyze", "-o", "json", "-f"])
        .arg(&stream)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&ours.stdout)
        .unwrap_or_else(|e| panic!("kplug JSON: {e}: {}", text(&ours.stderr)));
    let mut our_names: Vec<String> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| kind_name(t, "/object/kind", "/object/name"))
        .filter(|n| !n.starts_with("ReplicaSet/"))
        .collect();
    assert!(
        their_names.len() >= 30,
        "kube-score saw the whole stream: {their_names:?}"
    );
    our_names.sort();
    their_names.sort();
    assert_eq!(our_names, their_names);
}
