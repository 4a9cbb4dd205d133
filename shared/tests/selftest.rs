//! End-to-end tests of the shared library through the `kplug-selftest` binary:
//! real process, real files, real exit codes, and real kubectl dispatch.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::skip;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kplug-selftest"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run kplug-selftest")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      initContainers:
      - name: proxy
        image: envoy
        restartPolicy: Always
      containers:
      - name: app
        image: nginx
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  labels: {app: batch}
spec:
  schedule: '0 0 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: job, image: busybox}
";

#[test]
fn manifests_table_lists_pod_templates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.yaml");
    std::fs::write(&file, DEPLOY).unwrap();
    let out = run(&["manifests", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("SOURCE") && lines[0].contains("   KIND   "),
        "{stdout}"
    );
    assert!(
        lines[1].contains(":1 ") && lines[1].contains("Deployment") && lines[1].contains("app")
    );
    assert!(
        lines[2].contains(":25 ") && lines[2].contains("CronJob") && lines[2].contains("job"),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'), "no colour when piped");

    let out = run(&[
        "manifests",
        "-f",
        file.to_str().unwrap(),
        "-l",
        "app=web",
        "-o",
        "name",
    ]);
    assert_eq!(text(&out.stdout), "deployment.apps/web\n");

    let out = run(&[
        "manifests",
        "-f",
        file.to_str().unwrap(),
        "-A",
        "--no-headers",
        "-o",
        "wide",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("shop "), "{stdout}");
    assert!(stdout.contains("app=web,tier=front"), "{stdout}");
}

#[test]
fn manifests_from_stdin() {
    let mut child = Command::new(bin())
        .args(["manifests", "-f", "-", "--no-headers"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(DEPLOY.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("<stdin>:1 "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_manifest_names_file_document_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n").unwrap();
    let out = run(&["manifests", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&format!("{}:", file.display())), "{stderr}");
    assert!(stderr.contains("document 2"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["manifests"][..],
        &["pods", "-o", "xml"],
        &["pods", "--request-timeout", "soon"],
        &["pods", "-l", "a in (b"],
        &["no-such-command"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("--kubeconfig"),
        "{help}"
    );
}

#[test]
fn selector_match_exit_codes() {
    let out = run(&["selector", "tier in (back,front),!canary", "tier=front"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "!canary,tier in (back,front)\tmatch\n");
    let out = run(&["selector", "x>5", "x=3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&["selector", "x in (a", "x=a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("found '', expected: ',' or ')'"));
}

fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\n- name: b\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {{server: \"{server}\"}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn kubeconfig_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let kc = kc.to_str().unwrap();

    let out = run(&["version", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("connection refused") && stderr.contains(&port.to_string()),
        "{stderr}"
    );

    let out = run(&["version", "--kubeconfig", kc, "--context", "zzz"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: context \"zzz\" not found in kubeconfig; available contexts: a, b\n"
    );

    // No kubeconfig at all: empty HOME, no KUBECONFIG, not in a cluster.
    let out = Command::new(bin())
        .args(["pods"])
        .env("HOME", dir.path().join("empty-home"))
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: no kubeconfig found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn broken_pipe_exits_quietly() {
    let mut child = Command::new(bin())
        .args(["rows", "200000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// Run the binary under a pseudo-terminal (util-linux `script`) so stdout is a TTY.
fn run_on_tty(args: &str, env: &[(&str, &str)]) -> Option<String> {
    let script = which("script")?;
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Some(text(&cmd.output().ok()?.stdout))
}

#[test]
fn colour_only_on_a_tty_and_never_with_no_color() {
    let esc = '\u{1b}';
    assert!(
        !text(&run(&["rows", "3"]).stdout).contains(esc),
        "piped: no colour"
    );
    assert!(text(&run(&["rows", "3", "--color=always"]).stdout).contains(esc));
    let Some(tty) = run_on_tty("rows 3", &[]) else {
        skip("TTY half of colour_only_on_a_tty: util-linux `script` is not installed");
        return;
    };
    assert!(tty.contains(esc), "TTY: colour expected: {tty:?}");
    let no_color = run_on_tty("rows 3", &[("NO_COLOR", "")]).unwrap();
    assert!(
        !no_color.contains(esc),
        "NO_COLOR set (even empty): {no_color:?}"
    );
    let dumb = run_on_tty("rows 3", &[("TERM", "dumb")]).unwrap();
    assert!(!dumb.contains(esc), "TERM=dumb: {dumb:?}");
    let never = run_on_tty("rows 3 --color=never", &[]).unwrap();
    assert!(!never.contains(esc));
}

#[test]
fn completion_scripts() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completion", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(text(&out.stdout).contains("kplug-selftest"), "{shell}");
    }
}

/// kubectl finds the plugin on PATH, runs it, and the usage says `kubectl <name>`.
#[test]
fn kubectl_dispatch_and_usage_name() {
    let Some(kubectl) = which("kubectl") else {
        skip("kubectl_dispatch_and_usage_name: kubectl is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("kubectl-kplug_selftest");
    std::fs::copy(bin(), &plugin).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let out = Command::new(&kubectl)
        .args(["kplug-selftest", "--help"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(
        help.contains("Usage: kubectl kplug-selftest [OPTIONS] <COMMAND>"),
        "{help}"
    );

    // Exit codes pass through kubectl unchanged (it execs the plugin).
    let out = Command::new(&kubectl)
        .args(["kplug-selftest", "selector", "x=1", "x=2"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));

    let out = Command::new(&kubectl)
        .args(["kplug-selftest", "selector", "--bogus"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Usage: kubectl kplug-selftest selector"),
        "{}",
        text(&out.stderr)
    );
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
