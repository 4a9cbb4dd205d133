//! The real `kubectl-inference` binary on the metrics in examples/inference.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/inference")
        .join(name)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-inference"))
        .args(args)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn explain(extra: &[&str]) -> Value {
    let idle = format!("idle={}", data("idle.prom"));
    let busy = format!("busy={}", data("busy.prom"));
    let mut args = vec![
        "explain",
        "--endpoint",
        &idle,
        "--endpoint",
        &busy,
        "-o",
        "json",
    ];
    args.extend(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_default_profile_picks_the_idle_server() {
    let r = explain(&[]);
    assert_eq!(r["pick"], "idle");
    assert_eq!(r["shed"], false);
    assert_eq!(r["saturation"], 0.7125);
    assert_eq!(r["endpoints"][0]["total"], 3.0);
    assert_eq!(r["endpoints"][1]["scores"]["queue-scorer"], 0.0);
    assert_eq!(r["profile"][2]["scorer"], "prefix-cache-scorer");
    assert!(
        r["assumptions"]
            .to_string()
            .contains("no --prompt: the request has no prefix blocks"),
        "{r}"
    );
}

#[test]
fn a_prefix_history_scores_the_blocks_an_endpoint_holds() {
    let dir = tempfile::tempdir().unwrap();
    // 640 characters: as one user message, 28 + 640 + 3 bytes of JSON, so
    // 10 whole blocks of 16 tokens × 4 characters.
    let prompt: String = (0..640).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    // Shares the message's first 348 bytes: 5 whole blocks.
    let half = format!("{}{}", &prompt[..320], "Z".repeat(320));
    let history = dir.path().join("history.jsonl");
    std::fs::write(
        &history,
        format!(
            "{}\n{}\n",
            serde_json::json!({"endpoint": "busy", "prompt": half}),
            serde_json::json!({"endpoint": "idle", "prompt": "short"})
        ),
    )
    .unwrap();
    let file = dir.path().join("prompt.txt");
    std::fs::write(&file, &prompt).unwrap();
    let at = format!("@{}", file.display());
    let h = history.display().to_string();
    let r = explain(&["--prompt", &at, "--prefix-history", &h, "--model", "chat"]);
    let score = |r: &Value, i: usize| r["endpoints"][i]["scores"]["prefix-cache-scorer"].as_f64();
    assert_eq!((score(&r, 0), score(&r, 1)), (Some(0.0), Some(0.5)), "{r}");
    assert!(
        r["assumptions"]
            .to_string()
            .contains("the prompt is 10 blocks of 16 tokens"),
        "{r}"
    );

    // Without a history the cache is cold; a history naming no endpoint
    // of the replay is refused with its line.
    let r = explain(&["--prompt", &at]);
    assert_eq!(score(&r, 1), Some(0.0));
    std::fs::write(&history, "{\"endpoint\": \"gone\", \"prompt\": \"x\"}\n").unwrap();
    let idle = format!("idle={}", data("idle.prom"));
    let out = run(&[
        "explain",
        "--endpoint",
        &idle,
        "--prompt",
        "x",
        "--prefix-history",
        &h,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("history.jsonl:1: no endpoint \"gone\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn what_if_flags_change_the_decision() {
    // KV weighed 10: busy's free cache (score 1) outweighs idle's short queue.
    assert_eq!(
        explain(&["--weight", "kv-cache-utilization-scorer=10"])["pick"],
        "busy"
    );
    assert_eq!(explain(&["--drain", "idle"])["pick"], "busy");
    // A lower queue threshold saturates the pool for sheddable requests.
    let r = explain(&["--threshold", "queueDepthThreshold=1", "--priority", "-1"]);
    assert_eq!(r["saturation"], 2.3125);
    assert_eq!(r["shed"], true);
    assert_eq!(r["pick"], Value::Null);
}

#[test]
fn a_config_file_sets_the_profile_and_the_detector() {
    let config = data("epp-config.yaml");
    let r = explain(&["--config", &config]);
    // busy has 4 waiting: at the threshold of 4, the filter drops it.
    assert_eq!(r["endpoints"][1]["filteredBy"], "utilization-detector");
    assert_eq!(r["pick"], "idle");
    assert_eq!(r["profile"][1]["weight"], 3.0);
    // Loads against 4 waiting: max(0/4, 0.5/0.8) and max(4/4, 0).
    assert_eq!(r["saturation"], (0.625 + 1.0) / 2.0);
    // The flags change the file's profile further.
    let r = explain(&["--config", &config, "--threshold", "queueDepthThreshold=10"]);
    assert_eq!(r["endpoints"][1]["filteredBy"], Value::Null);
    assert_eq!(r["pick"], "busy", "KV ×3 now decides: 3 vs 1 + 1.5");
    assert_eq!(r["fallbacks"][0], "idle");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\n").unwrap();
    let idle = format!("idle={}", data("idle.prom"));
    let out = run(&[
        "explain",
        "--endpoint",
        &idle,
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad.yaml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn engines_are_read_by_their_own_names_and_sheddable_requests_shed() {
    let idle = format!("idle={}", data("idle.prom"));
    let full = format!("full=sglang:{}", data("full.sglang.prom"));
    let out = run(&[
        "explain",
        "--endpoint",
        &idle,
        "--endpoint",
        &full,
        "--priority",
        "-1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("shed: a request of priority -1"), "{said}");
    assert!(said.contains("2.40"), "full's load is 12/5: {said}");
    // Read as vLLM, the SGLang server lacks every metric.
    let wrong = format!("full={}", data("full.sglang.prom"));
    let out = run(&["explain", "--endpoint", &idle, "--endpoint", &wrong]);
    assert!(text(&out.stdout).contains("missing on full: vllm:num_requests_waiting"));
}

#[test]
fn bad_input_says_where_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.prom");
    std::fs::write(&broken, "vllm:num_requests_waiting 1\nvllm:kv{a=\"x} 2\n").unwrap();
    let out = run(&["explain", "--endpoint", &format!("a={}", broken.display())]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.prom") && err.contains("line 2"),
        "{err}"
    );

    let out = run(&["explain", "--endpoint", "a=/nonexistent.prom"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent.prom"));

    for args in [
        &["explain", "--endpoint", "nameonly"][..],
        &["explain", "--endpoint", "a=x", "--weight", "magic-scorer=1"],
        &[
            "explain",
            "--endpoint",
            "a=x",
            "--threshold",
            "kvCacheUtilThreshold=0",
        ],
        &["explain"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let idle = format!("idle={}", data("idle.prom"));
    let out = run(&["explain", "--endpoint", &idle, "--drain", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ghost"));
}

#[test]
fn help_has_examples_and_completion_works() {
    let out = run(&["--help"]);
    assert!(text(&out.stdout).contains("kubectl inference explain --endpoint"));
    let out = run(&["completion", "bash"]);
    assert!(out.status.success() && text(&out.stdout).contains("kubectl-inference"));
}

#[test]
fn the_legacy_tree_walks_its_filters_and_drops_non_critical_requests() {
    let r = explain(&["--scheduler", "legacy"]);
    assert_eq!(r["pick"], "idle");
    assert_eq!(r["endpoints"][1]["filteredBy"], "least queuing");
    assert_eq!(r["path"][0], "critical request 0/2");
    assert_eq!(r["config"], "the v0.3 filter tree (--scheduler legacy)");
    // idle's KV (0.5) and busy's queue (4) over the thresholds: a Standard
    // request is dropped.
    let r = explain(&[
        "--scheduler",
        "legacy",
        "--threshold",
        "kvCacheUtilThreshold=0.1",
        "--threshold",
        "queueDepthThreshold=3",
    ]);
    assert_eq!(
        (r["shed"].as_bool(), &r["pick"]),
        (Some(true), &Value::Null),
        "{r}"
    );
    // The tree has no weights to change.
    let idle = format!("idle={}", data("idle.prom"));
    let out = run(&[
        "explain",
        "--endpoint",
        &idle,
        "--scheduler",
        "legacy",
        "--weight",
        "queue-scorer=1",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn simulate_is_a_function_of_its_seed_and_reports_every_router_and_rate() {
    let args = [
        "simulate",
        "--servers",
        "3",
        "--qps",
        "5,20",
        "--duration",
        "5s",
        "--routers",
        "random,legacy,epp",
        "-o",
        "json",
    ];
    let first = run(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(first.stdout, run(&args).stdout, "same seed, same bytes");
    let v: Value = serde_json::from_slice(&first.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    for r in runs {
        for key in [
            "achievedQps",
            "outputTokensPerSec",
            "ttftP90",
            "e2eP90",
            "shed",
            "preempted",
        ] {
            assert!(r[key].is_number(), "{key} in {r}");
        }
        assert!(r["ntpotP90"].as_f64().unwrap() > 0.0, "{r}");
    }
    let mut other = args.to_vec();
    other.extend(["--seed", "2"]);
    assert_ne!(
        first.stdout,
        run(&other).stdout,
        "another seed, another load"
    );
    let bad = run(&["simulate", "--qps", "100..10/5"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("100..10/5"),
        "{}",
        text(&bad.stderr)
    );
}
