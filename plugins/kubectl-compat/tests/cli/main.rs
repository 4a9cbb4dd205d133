//! The real `kubectl-compat` executable on spec and feature files: exit codes,
//! every output format, errors with file and line, lint, init and features.

mod hostile;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kubectl-compat"))
}

pub(crate) fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const HOST: &str = "features/amd-kvm.json";

fn validate(spec: &Path, extra: &[&str]) -> Output {
    let features = data(HOST);
    let mut args = vec![
        "validate-node",
        "--spec",
        spec.to_str().unwrap(),
        "--features",
        features.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

const GOOD: &str = "version: v1alpha1
compatibilities:
- description: fast path
  weight: 90
  tag: fast
  rules:
  - name: avx512
    matchFeatures:
    - feature: cpu.cpuid
      matchExpressions:
        AVX512F: {op: Exists}
- description: any x86-64
  weight: 10
  tag: base
  rules:
  - name: amd or intel
    matchFeatures:
    - feature: cpu.model
      matchExpressions:
        vendor_id: {op: In, value: [Intel, AMD]}
    - feature: kernel.version
      matchExpressions:
        full: {op: Ge, value: [\"5.4\"], type: version}
";

#[test]
fn compatible_host_exits_0_and_names_the_best_set() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(dir.path(), "spec.yaml", GOOD);
    let out = validate(&spec, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("COMPATIBLE — best set #2 (weight 10): any x86-64"),
        "{text}"
    );
    assert!(text.contains("cpu.cpuid.AVX512F"), "{text}");
    assert!(
        text.contains("Ge 5.4 (version)"),
        "the type is shown: {text}"
    );
    assert!(
        text.contains("6.18.44-fc-v782"),
        "actual values are shown: {text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour when piped");
    let colored = validate(&spec, &["--color", "always"]);
    assert!(stdout(&colored).contains('\u{1b}'));
}

#[test]
fn json_report_schema() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(dir.path(), "spec.yaml", GOOD);
    let out = validate(&spec, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["apiVersion"], "kplug.dev/v1alpha1");
    assert_eq!(v["kind"], "CompatibilityReport");
    assert_eq!(v["compatible"], true);
    // Sets are numbered from 1, in JSON as in tables: the second set is best.
    assert_eq!(v["bestSet"], 2);
    assert_eq!(
        (
            v["sets"][0]["index"].as_u64(),
            v["sets"][1]["index"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let set = &v["sets"][0];
    assert_eq!(
        (
            set["description"].as_str(),
            set["tag"].as_str(),
            set["weight"].as_i64(),
            set["satisfied"].as_bool()
        ),
        (Some("fast path"), Some("fast"), Some(90), Some(false))
    );
    let e = &set["rules"][0]["expressions"][0];
    assert_eq!(e["feature"], "cpu.cpuid");
    assert_eq!(e["key"], "AVX512F");
    assert_eq!(e["matcher"], "matchExpression");
    assert_eq!(e["anyOf"], serde_json::Value::Null);
    assert_eq!(
        e["expression"],
        serde_json::json!({"op": "Exists", "value": [], "type": ""})
    );
    assert_eq!(e["matched"], false);
    assert_eq!(e["actual"], serde_json::Value::Null);
    assert_eq!(e["error"], serde_json::Value::Null);
    let vendor = &v["sets"][1]["rules"][0]["expressions"][0];
    assert_eq!(vendor["actual"], "AMD");
    let yaml = validate(&spec, &["-o", "yaml"]);
    assert!(
        stdout(&yaml).contains("kind: CompatibilityReport"),
        "{}",
        stdout(&yaml)
    );
}

#[test]
fn tags_filter_sets_like_nfd() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(dir.path(), "spec.yaml", GOOD);
    let out = validate(&spec, &["--tags", "fast", "-o", "nfd-json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "only the unsatisfied set is left"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["tag"], "fast");
    assert_eq!(
        stdout(&validate(&spec, &["--tags", "none", "--output-json"])),
        "[]"
    );
    let nfd = validate(&spec, &["--output-json"]);
    assert_eq!(stdout(&nfd), stdout(&validate(&spec, &["-o", "nfd-json"])));
    assert!(!stdout(&nfd).ends_with('\n'), "NFD prints no newline");
}

#[test]
fn bad_expressions_are_reported_on_their_row_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.yaml",
        "compatibilities:\n- rules:\n  - name: broken\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        full: {op: Gt, value: [\"5\"]}\n  - name: fine\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: Exists}\n",
    );
    let out = validate(&spec, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("not a number \"6.18.44-fc-v782\""), "{text}");
    assert!(
        text.contains("RULE \"fine\"  OK"),
        "evaluation went on: {text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&validate(&spec, &["-o", "json"]))).unwrap();
    assert_eq!(
        json["sets"][0]["rules"][0]["expressions"][0]["error"],
        "not a number \"6.18.44-fc-v782\""
    );
    assert_eq!(json["hasErrors"], true);
}

#[test]
fn input_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(&dir.path().join("missing.yaml"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.yaml"), "{}", stderr(&out));
    let spec = write(
        dir.path(),
        "bad.yaml",
        "compatibilities:\n- rules:\n  - matchFeatures: {a: b}\n",
    );
    let out = validate(&spec, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("bad.yaml:3: compatibilities[0].rules[0].matchFeatures: expected a list"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "validate-node",
        "--spec",
        spec.to_str().unwrap(),
        "--node",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(&[
        "validate-node",
        "--spec",
        spec.to_str().unwrap(),
        "-o",
        "xml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nfd-json"), "{}", stderr(&out));
    let good = write(dir.path(), "good.yaml", GOOD);
    let features = write(dir.path(), "f.json", "{\"flags\": 3}");
    let out = run(&[
        "validate-node",
        "--spec",
        good.to_str().unwrap(),
        "--features",
        features.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("f.json"), "{}", stderr(&out));
}

#[test]
fn spec_from_stdin_and_node_features_from_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let list = write(
        dir.path(),
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: nfd.k8s-sigs.io/v1alpha1\n  kind: NodeFeature\n  metadata: {name: a, namespace: nfd, labels: {nfd.node.kubernetes.io/node-name: node-a}}\n  spec: {features: {attributes: {cpu.model: {elements: {vendor_id: Intel}}}}}\n- apiVersion: nfd.k8s-sigs.io/v1alpha1\n  kind: NodeFeature\n  metadata: {name: b, namespace: nfd, labels: {nfd.node.kubernetes.io/node-name: node-b}}\n  spec: {features: {attributes: {cpu.model: {elements: {vendor_id: AMD}}}}}\n",
    );
    let spec = "compatibilities:\n- rules:\n  - name: intel\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: [Intel]}\n";
    let go = |node: Option<&str>| {
        let mut cmd = bin();
        cmd.args([
            "validate-node",
            "--spec",
            "-",
            "--features",
            list.to_str().unwrap(),
        ]);
        if let Some(n) = node {
            cmd.args(["--node", n]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(spec.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let a = go(Some("node-a"));
    assert_eq!(a.status.code(), Some(0), "{}{}", stdout(&a), stderr(&a));
    assert!(stdout(&a).starts_with("Node: node-a"));
    assert_eq!(go(Some("node-b")).status.code(), Some(3));
    let neither = go(None);
    assert_eq!(neither.status.code(), Some(1));
    assert!(
        stderr(&neither).contains("pick one with --node"),
        "{}",
        stderr(&neither)
    );
}

#[test]
fn features_from_a_host_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (p, c) in [
        ("proc/sys/kernel/osrelease", "5.15.0-91-generic\n"),
        ("proc/modules", "vfio_pci 16384 0 - Live 0x0\n"),
        ("etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n"),
        ("sys/bus/pci/devices/0000:01:00.0/class", "0x020000\n"),
        ("sys/bus/pci/devices/0000:01:00.0/vendor", "0x8086\n"),
        ("sys/bus/pci/devices/0000:01:00.0/device", "0x1572\n"),
        (
            "sys/bus/pci/devices/0000:01:00.0/subsystem_vendor",
            "0x8086\n",
        ),
        (
            "sys/bus/pci/devices/0000:01:00.0/subsystem_device",
            "0x0000\n",
        ),
    ] {
        std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
        std::fs::write(root.join(p), c).unwrap();
    }
    let out = run(&[
        "features",
        "--host-root",
        root.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["attributes"]["kernel.version"]["elements"]["full"],
        "5.15.0-91-generic"
    );
    assert_eq!(
        v["attributes"]["system.osrelease"]["elements"]["VERSION_ID.major"],
        "22"
    );
    assert_eq!(
        v["flags"]["kernel.loadedmodule"]["elements"]["vfio_pci"],
        serde_json::json!({})
    );
    assert_eq!(
        v["instances"]["pci.device"]["elements"][0]["attributes"]["vendor"],
        "8086"
    );
    assert!(
        stderr(&out).contains("warning: "),
        "unreadable sources are warnings: {}",
        stderr(&out)
    );
    let table = run(&[
        "features",
        "--host-root",
        root.to_str().unwrap(),
        "--source",
        "kernel",
    ]);
    assert!(stdout(&table).starts_with("FEATURE"), "{}", stdout(&table));
    assert!(stdout(&table).contains("kernel.loadedmodule"));
    assert!(
        !stdout(&table).contains("pci.device"),
        "--source limits the sources"
    );
    let names = run(&[
        "features",
        "--host-root",
        root.to_str().unwrap(),
        "-o",
        "name",
    ]);
    assert!(stdout(&names).lines().any(|l| l == "pci.device"));
    assert_eq!(
        run(&["features", "--host-root", "/nonexistent/root"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn lint_exit_codes_and_locations() {
    let clean = data("specs/blog-example.yaml");
    let out = run(&["lint", clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stderr(&out).contains("no findings"));
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: exists}\n",
    );
    let out = run(&["lint", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    assert!(
        text.contains("op-case") && text.contains("bad.yaml:8"),
        "{text}"
    );
    let json = run(&["lint", bad.to_str().unwrap(), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        v["findings"][0]["object"]["field"],
        "compatibilities[0].rules[0].matchFeatures[0].matchExpressions.vendor_id.op"
    );
    assert_eq!(run(&["lint", "/nonexistent.yaml"]).status.code(), Some(1));
}

#[test]
fn init_writes_a_spec_that_lints_clean_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let features = data(HOST);
    let out = run(&[
        "init",
        "--features",
        features.to_str().unwrap(),
        "--require",
        "cpu.cpuid=AVX2",
        "--require",
        "kernel.version.full>=5.15",
        "--require",
        "pci.device:vendor=1af4,class=0200",
        "--require",
        "cpu.model.vendor_id=Intel|AMD",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let spec = write(dir.path(), "spec.yaml", &stdout(&out));
    assert!(stdout(&out).starts_with("# Image compatibility spec"));
    assert_eq!(
        run(&["lint", spec.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        validate(&spec, &[]).status.code(),
        Some(0),
        "{}",
        stdout(&validate(&spec, &[]))
    );
    let unmet = run(&[
        "init",
        "--features",
        features.to_str().unwrap(),
        "--require",
        "cpu.cpuid=AVX512F",
    ]);
    assert_eq!(unmet.status.code(), Some(1));
    assert!(
        stderr(&unmet).contains("does not meet"),
        "{}",
        stderr(&unmet)
    );
    let forced = run(&[
        "init",
        "--features",
        features.to_str().unwrap(),
        "--require",
        "cpu.cpuid=AVX512F",
        "--force",
    ]);
    assert_eq!(forced.status.code(), Some(0));
    let defaults = run(&["init", "--features", features.to_str().unwrap()]);
    assert!(
        stdout(&defaults).contains("X86_64_V3"),
        "{}",
        stdout(&defaults)
    );
    assert_eq!(run(&["init", "--require", "nope"]).status.code(), Some(2));

    // --output-file writes only a complete, checked spec: a refusal keeps the old file.
    let target = write(dir.path(), "kept.yaml", "# the user's spec\n");
    let t = target.to_str().unwrap();
    let f = features.to_str().unwrap();
    let refused = run(&[
        "init",
        "--features",
        f,
        "--require",
        "cpu.cpuid=AVX512F",
        "--output-file",
        t,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "# the user's spec\n"
    );
    let written = run(&[
        "init",
        "--features",
        f,
        "--require",
        "cpu.cpuid=AVX2",
        "--output-file",
        t,
    ]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert!(stdout(&written).is_empty());
    assert!(std::fs::read_to_string(&target).unwrap().contains("AVX2"));
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn help_examples_and_completion() {
    let help = run(&["--help"]);
    assert!(
        stdout(&help).contains("Examples:") && stdout(&help).contains("validate-node"),
        "{}",
        stdout(&help)
    );
    let completion = run(&["completion", "bash"]);
    assert!(stdout(&completion).contains("kubectl-compat"));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn registry_failures_are_one_sentence_without_a_panic() {
    let refused = run(&[
        "discover",
        "--plain-http",
        "--registry-timeout",
        "5s",
        "--image",
        "127.0.0.1:1/app:v1",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stderr(&refused);
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
    assert!(text.contains("cannot reach 127.0.0.1:1"), "{text}");
    let dns = run(&[
        "validate-node",
        "--registry-timeout",
        "5s",
        "--image",
        "registry.invalid/app:v1",
    ]);
    assert_eq!(dns.status.code(), Some(1), "{}", stderr(&dns));
    assert!(
        stderr(&dns).starts_with("error: resolving registry.invalid/app:v1: "),
        "{}",
        stderr(&dns)
    );
    let bad = run(&["discover", "--image", "Not/A Reference"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("invalid image reference"),
        "{}",
        stderr(&bad)
    );
    let both = run(&["validate-node", "--spec", "x.yaml", "--image", "app"]);
    assert_eq!(both.status.code(), Some(2));
}

/// A broken root store is a clear error, not a panic inside the HTTP client;
/// over plain HTTP the root store does not matter at all.
#[test]
fn a_missing_root_store_is_an_error_not_a_panic() {
    let out = bin()
        .env("SSL_CERT_FILE", "/nonexistent/bundle.pem")
        .args([
            "discover",
            "--image",
            "127.0.0.1:9/app:v1",
            "--registry-timeout",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("SSL_CERT_FILE=/nonexistent/bundle.pem is not a readable file"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let plain = bin()
        .env("SSL_CERT_FILE", "/nonexistent/bundle.pem")
        .args([
            "discover",
            "--plain-http",
            "--image",
            "127.0.0.1:9/app:v1",
            "--registry-timeout",
            "2s",
        ])
        .output()
        .unwrap();
    let err = stderr(&plain);
    assert_eq!(plain.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot reach 127.0.0.1:9"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
