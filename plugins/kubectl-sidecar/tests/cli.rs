//! The real `kubectl-sidecar` binary over the scenario corpus
//! (tests/scenarios, one file per row of sidecar.md §5 plus the API rules of
//! §1.8). Each file states what must come out in its header comments:
//!
//! ```text
//! # expect-verdict: <container> <VERDICT> [<gate>]
//! # expect-wait: <seconds the first sidecar may hold the app>
//! # expect-code: <code> <severity>      (the exact set of findings)
//! # expect-api: accepted|rejected       (checked by the e2e tier)
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-sidecar"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("kubectl-sidecar runs")
}

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

fn expectations(file: &Path, key: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("# expect-{key}: ")))
        .map(|s| s.trim().to_string())
        .collect()
}

fn report(file: &Path) -> (Value, Option<i32>) {
    let out = run(&["analyze", "-o", "json", "-f", file.to_str().unwrap()]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

#[test]
fn every_scenario_gets_its_verdicts_and_codes() {
    let files = scenarios();
    assert!(
        files.len() >= 36,
        "the corpus covers every row of sidecar.md §5"
    );
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let (v, code) = report(file);
        assert_eq!(v["kind"], "SidecarReport");
        let items = v["items"].as_array().unwrap();
        let containers: Vec<&Value> = items
            .iter()
            .flat_map(|i| i["containers"].as_array().unwrap())
            .collect();
        let findings: Vec<&Value> = items
            .iter()
            .flat_map(|i| {
                i["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|c| c["findings"].as_array().unwrap())
                    .chain(i["findings"].as_array().unwrap())
            })
            .collect();
        for want in expectations(file, "verdict") {
            let parts: Vec<&str> = want.split_whitespace().collect();
            // The last template wins: a live Pod after its owner (scenario 33).
            let got = containers.iter().rev().find(|c| c["name"] == parts[0]);
            let verdict = got.map(|c| c["verdict"].clone()).unwrap_or(Value::Null);
            if verdict != parts[1] {
                failures.push(format!(
                    "{name}: {} verdict {verdict}, want {}",
                    parts[0], parts[1]
                ));
            }
            if let Some(gate) = parts.get(2)
                && got.map(|c| c["gate"].clone()) != Some(Value::from(*gate))
            {
                failures.push(format!(
                    "{name}: {} gate {:?}, want {gate}",
                    parts[0],
                    got.map(|c| &c["gate"])
                ));
            }
        }
        for want in expectations(file, "wait") {
            let first = containers.iter().find(|c| c["role"] == "sidecar").unwrap();
            if first["maxWaitSeconds"] != want.parse::<i64>().unwrap() {
                failures.push(format!(
                    "{name}: maxWaitSeconds {}, want {want}",
                    first["maxWaitSeconds"]
                ));
            }
        }
        let got: BTreeSet<String> = findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["code"].as_str().unwrap(),
                    f["severity"].as_str().unwrap()
                )
            })
            .collect();
        let want: BTreeSet<String> = expectations(file, "code").into_iter().collect();
        if got != want {
            failures.push(format!("{name}: findings {got:?}, want {want:?}"));
        }
        let errors = findings.iter().any(|f| f["severity"] == "error");
        if code != Some(if errors { 3 } else { 0 }) {
            failures.push(format!("{name}: exit {code:?} with errors={errors}"));
        }
        // Every finding is about an object from a file, with its line.
        for f in &findings {
            if f["object"]["file"].is_null() || f["object"]["line"].is_null() {
                failures.push(format!("{name}: finding without file/line: {f}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_directory_and_stdin_give_the_same_items() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let whole = run(&["analyze", "-o", "json", "-f", dir.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(whole.status.code(), Some(3), "the corpus has errors");
    // 43 templates: one per file, two in scenario 33.
    assert_eq!(v["items"].as_array().unwrap().len(), scenarios().len() + 1);

    let file = scenarios()
        .into_iter()
        .find(|p| p.ends_with("18-migrate-after-proxy.yaml"))
        .unwrap();
    let mut child = Command::new(bin())
        .args(["analyze", "-o", "json", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&file).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"][0]["object"]["file"], "<stdin>");
    assert_eq!(v["items"][0]["containers"][1]["name"], "db-migrate");
    assert_eq!(v["items"][0]["containers"][1]["role"], "init");
}

#[test]
fn the_human_report_shows_the_chain_and_fixes() {
    let file = scenarios()
        .into_iter()
        .find(|p| p.ends_with("19-init-before-mesh.yaml"))
        .unwrap();
    let out = run(&["analyze", "-f", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("start: fetch-config ─exit 0→ istio-proxy ─startupProbe ≤600s→ app"),
        "{text}"
    );
    assert!(
        text.contains("fix: move fetch-config after istio-proxy"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n").unwrap();
    let out = run(&["analyze", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:") && !err.contains("panicked"),
        "{err}"
    );

    let missing = run(&["analyze", "-f", "/nonexistent/x.yaml"]);
    assert_eq!(missing.status.code(), Some(1));

    let version = run(&[
        "analyze",
        "-f",
        bad.to_str().unwrap(),
        "--kube-version",
        "two",
    ]);
    assert_eq!(version.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn older_servers_reject_what_1_36_accepts() {
    let file = scenarios()
        .into_iter()
        .find(|p| p.ends_with("22-restartpolicy-on-regular.yaml"))
        .unwrap();
    let out = run(&[
        "analyze",
        "-o",
        "json",
        "--kube-version",
        "1.33",
        "-f",
        file.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let helper = v["items"][0]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "helper")
        .unwrap();
    assert_eq!(helper["verdict"], "INVALID");
    assert!(
        helper["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("may not be set for non-init containers")
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn explain_a_saved_pod_termination_order_and_gates() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let pod = data.join("terminated-pod.yaml");
    let events = data.join("terminated-events.yaml");
    let out = run(&[
        "explain",
        "-o",
        "json",
        "-f",
        pod.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gates = t["gates"].as_array().unwrap();
    assert_eq!(gates[0]["sidecar"], "proxy");
    assert_eq!(gates[0]["delaySeconds"], 6, "proxy +2 → shipper +8");
    assert_eq!(
        gates[0]["causes"][0], "4 failed startup probe(s)",
        "only this Pod's events count"
    );
    assert_eq!(gates[1]["sidecar"], "shipper");
    assert_eq!(gates[1]["delaySeconds"], 1, "shipper +8 → Initialized +9");
    let term = &t["termination"];
    assert_eq!(
        term["finishOrder"],
        serde_json::json!(["report", "shipper", "proxy"])
    );
    assert_eq!(term["ordered"], true);
    assert_eq!(term["killedAtDeadline"], serde_json::json!(["proxy"]));

    let human = run(&[
        "explain",
        "-f",
        pod.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("termination: stopped in order report, shipper, proxy; sidecars stopped after the app, in reverse order"), "{text}");
    assert!(
        text.contains("killed at the end of the grace period: proxy"),
        "{text}"
    );
    assert!(text.contains("+330s"), "offsets from creation: {text}");
}

/// A Deployment whose sidecar can be fixed (readinessProbe, no startupProbe).
fn fixable(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map_or(String::new(), |n| format!("\n  namespace: {n}"));
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}{ns}\nspec:\n  selector: {{matchLabels: {{app: w}}}}\n  template:\n    metadata: {{labels: {{app: w}}}}\n    spec:\n      initContainers:\n      - name: proxy\n        image: registry.example/proxy:1\n        restartPolicy: Always\n        readinessProbe: {{tcpSocket: {{port: 9901}}}}\n      containers:\n      - name: app\n        image: registry.example/app:1\n---\n"
    )
}

#[test]
fn kustomize_files_are_unique_safe_and_never_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.yaml");
    let fixes = dir.path().join("fixes");
    std::fs::write(
        &input,
        fixable("web", Some("a")) + &fixable("web", Some("b")),
    )
    .unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "fix",
            "-o",
            "kustomize",
            "-f",
            input.to_str().unwrap(),
            "--dir",
            fixes.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run_owned = |a: Vec<String>| Command::new(bin()).args(a).output().unwrap();
    let out = run_owned(args(&[]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(&fixes)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "a.deployment.web.sidecar-startup.yaml",
            "b.deployment.web.sidecar-startup.yaml"
        ]
    );
    let snippet = String::from_utf8_lossy(&out.stdout);
    assert!(
        snippet.contains("namespace: a") && snippet.contains("namespace: b"),
        "{snippet}"
    );
    let patch =
        std::fs::read_to_string(fixes.join("b.deployment.web.sidecar-startup.yaml")).unwrap();
    assert!(patch.contains("namespace: b"), "{patch}");

    // A second run refuses to overwrite, and --force does.
    let again = run_owned(args(&[]));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(run_owned(args(&["--force"])).status.code(), Some(0));

    // Names that are no Kubernetes names never become paths or snippet lines.
    for hostile in ["a/../../../escaped", "\"web\\n    kind: Secret\""] {
        std::fs::write(&input, fixable(hostile, None)).unwrap();
        let out = run_owned(args(&["--force"]));
        assert_eq!(out.status.code(), Some(3), "{hostile}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a valid Kubernetes name"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Secret"));
    }
    assert!(!dir.path().join("escaped").exists());
    assert!(!dir.path().parent().unwrap().join("escaped").exists());
}

#[test]
fn budgets_outside_what_a_probe_can_hold_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, fixable("web", None)).unwrap();
    let file = input.to_str().unwrap();
    for budget in ["0", "9223372036854775807s", "3000000000s"] {
        let out = run(&["fix", "-f", file, "--budget", budget]);
        assert_eq!(out.status.code(), Some(2), "--budget {budget}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("budget") || err.contains("out of range"),
            "{err}"
        );
    }
    let out = run(&["fix", "-f", file, "--budget", "2147483647s"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"failureThreshold\":2147483647"));
}

#[test]
fn a_closed_pipe_is_quiet_and_duplicate_keys_read_well() {
    // The reader is gone before anything is written: the write must fail.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let out = Command::new(bin())
        .args(["analyze", "-o", "json", "-f", dir.to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let tmp = tempfile::tempdir().unwrap();
    let dup = tmp.path().join("dup.yaml");
    std::fs::write(&dup, "apiVersion: v1\nkind: Pod\nkind: Pod\n").unwrap();
    let out = run(&["analyze", "-f", dup.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("\"kind\" is defined twice") && !err.contains("Options"),
        "{err}"
    );
}

#[test]
fn control_characters_from_manifests_never_reach_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("esc.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"x\\e]0;owned\\a\"}\nspec:\n  initContainers:\n  - {name: \"p\\e[2J\", image: i, restartPolicy: Always}\n  containers:\n  - {name: app, image: i}\n",
    )
    .unwrap();
    let out = run(&["analyze", "-f", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("^[]0;owned"), "{text}");
    let json = run(&["analyze", "-o", "json", "-f", f.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["items"][0]["object"]["name"], "x\x1b]0;owned\x07",
        "JSON keeps the data"
    );
}

#[test]
fn each_command_lists_and_keeps_to_its_own_output_formats() {
    let help = run(&["fix", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for format in ["patch", "manifest", "kustomize"] {
        assert!(help.contains(&format!("- {format}:")), "{help}");
    }
    // A report has no object names to print, and fix prints no JSON.
    for args in [
        &["analyze", "-o", "name", "-f", "-"][..],
        &["fix", "-o", "json", "-f", "-"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(why.contains("invalid value"), "{why}");
        assert!(why.contains("[possible values:"), "{why}");
    }
    // -o belongs to the command, as in kubectl: not before it.
    let out = run(&["-o", "json", "analyze", "-f", "-"]);
    assert_eq!(out.status.code(), Some(2));
}
