//! The README's commands, run as a new user would: every command of a
//! `sh` or `console` block that needs no cluster or registry runs through
//! the real kubectl against a copy of `examples/`, and must not end in a
//! usage or runtime error (exit 0, or 3 for "ran and found problems").
//! Commands that need a cluster or a registry are counted and left to the
//! end-to-end tests of their plugin.

use std::path::Path;
use std::process::Command;

use kplug_tests::e2e::{peers, workspace_bin, workspace_root};

use crate::text;

/// Commands of fenced `sh`/`console` blocks, with their line, in order.
fn commands(readme: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut block: Option<&str> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        let n = i + 1;
        if let Some(lang) = line.strip_prefix("```") {
            block = match block {
                None if lang == "sh" || lang == "console" => {
                    Some(if lang == "sh" { "sh" } else { "console" })
                }
                None => Some("other"),
                Some(_) => None,
            };
            continue;
        }
        let Some(kind) = block.filter(|k| *k != "other") else {
            continue;
        };
        let text = match (&mut pending, kind) {
            (Some((_, acc)), _) => {
                acc.push(' ');
                acc.push_str(line.trim());
                None
            }
            (None, "console") => line.strip_prefix("$ ").map(|c| (n, c.to_string())),
            (None, _) => Some((n, line.trim().to_string()))
                .filter(|(_, c)| !c.is_empty() && !c.starts_with('#')),
        };
        if let Some(started) = text {
            pending = Some(started);
        }
        if let Some((start, acc)) = pending.take() {
            if let Some(stripped) = acc.strip_suffix('\\') {
                pending = Some((start, stripped.trim_end().to_string()));
            } else {
                out.push((start, acc));
            }
        }
    }
    out
}

/// Whether a command runs on files alone (no cluster, no registry).
fn offline(command: &str) -> bool {
    // The first command of a pipeline says what it needs.
    let first = command.split('|').next().unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    let has = |flag: &str| words.contains(&flag);
    match words.as_slice() {
        ["kubectl", "compat", sub, ..] => match *sub {
            "validate-node" => !has("--image"),
            "validate" => has("--local") && has("--spec"),
            "lint" | "init" | "features" | "completion" => true,
            _ => false,
        },
        ["kubectl", "sidecar", "analyze" | "fix" | "explain", ..] => has("-f") && !has("--apply"),
        // On the test's SQLite file; a PostgreSQL or Citus server is the
        // eventlog e2e tests' to start.
        ["kubectl", "eventlog", sub, ..] => {
            matches!(
                *sub,
                "import"
                    | "query"
                    | "aggregate"
                    | "prune"
                    | "store"
                    | "incidents"
                    | "patterns"
                    | "report"
            ) && !first.contains("postgres://")
        }
        ["kubectl", "inference", "explain", ..] => has("--endpoint"),
        ["kubectl", "inference", "migrate", ..] => has("-f"),
        ["kubectl", "inference", "simulate", ..] => !has("--from-cluster"),
        _ => false,
    }
}

#[test]
fn every_offline_readme_command_runs_on_the_examples() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let all = commands(&readme);
    let (runnable, elsewhere): (Vec<_>, Vec<_>) = all.iter().partition(|(_, c)| offline(c));
    assert!(
        runnable.len() >= 12,
        "only {} README commands run offline",
        runnable.len()
    );

    // A private copy of the examples, and a PATH with the plugins and kubectl.
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("examples");
    copy_dir(&root.join("examples"), &work);
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for plugin in [
        "kubectl-compat",
        "kubectl-sidecar",
        "kubectl-eventlog",
        "kubectl-inference",
    ] {
        std::os::unix::fs::symlink(workspace_bin(plugin).expect("built"), bin.join(plugin))
            .unwrap();
    }
    let kubectl_dir = peers::path("KUBECTL").parent().unwrap().to_path_buf();
    let path = format!("{}:{}:/usr/bin:/bin", bin.display(), kubectl_dir.display());

    let mut failures = Vec::new();
    for (line, command) in &runnable {
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(&work)
            .env("PATH", &path)
            .env("HOME", dir.path())
            .env(
                "KPLUG_EVENTLOG_STORE",
                format!("sqlite:{}", dir.path().join("events.db").display()),
            )
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        if !matches!(out.status.code(), Some(0 | 3)) {
            failures.push(format!(
                "README.md:{line}: `{command}` exited {:?}: {}",
                out.status.code(),
                text(&out.stderr).trim()
            ));
        }
    }
    println!(
        "{} README commands ran on examples/; {} need a cluster or registry and are covered by their plugin's end-to-end tests",
        runnable.len(),
        elsewhere.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn readme_commands_are_found() {
    let text = "intro\n```sh\nkubectl compat lint a.yaml \\\n  --min-severity error\n# comment\n```\n```console\n$ kubectl eventlog query -A\noutput\n$ echo $?\n```\n```yaml\nkubectl: no\n```\n";
    let found = commands(text);
    assert_eq!(
        found,
        [
            (
                3,
                "kubectl compat lint a.yaml --min-severity error".to_string()
            ),
            (8, "kubectl eventlog query -A".to_string()),
            (10, "echo $?".to_string()),
        ]
    );
    assert!(offline(&found[0].1) && offline(&found[1].1) && !offline(&found[2].1));
    assert!(!offline("kubectl sidecar analyze deploy/web -n shop"));
    assert!(!offline("kubectl compat validate-node --image r/a:v1"));
}
