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

fn simulate_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate", "-o", "json"];
    all.extend(args);
    let out = run(&all);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn number(run: &Value, key: &str) -> f64 {
    run[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {run}"))
}

/// Issue 14 point 5, on the default (blog) profile: 10 servers, 60 s a
/// rate, Poisson arrivals, seed 1. The published claims are asserted where
/// the model produces them; the one it does not (a 2× tail gap in deep
/// overload) is asserted absent, so that the README's account of why goes
/// stale loudly if the model changes.
#[test]
fn simulate_reproduces_the_published_shape_where_the_model_can() {
    let v = simulate_json(&["--qps", "100,200,470,940", "--routers", "random,legacy,epp"]);
    let runs = v["runs"].as_array().unwrap();
    let at = |router: &str, qps: f64| {
        runs.iter()
            .find(|r| r["router"] == router && number(r, "qps") == qps)
            .unwrap_or_else(|| panic!("no {router} at {qps}"))
    };
    // Saturation: the most any router achieved.
    let saturation = runs
        .iter()
        .map(|r| number(r, "achievedQps"))
        .fold(0.0, f64::max);
    assert!(
        (400.0..=500.0).contains(&saturation),
        "the blog profile saturates 10 servers at {saturation} QPS"
    );
    for qps in [100.0, 200.0, 470.0, 940.0] {
        let random = at("random", qps);
        for picker in ["legacy", "epp"] {
            let p = at(picker, qps);
            // Throughput within 5 % at every rate.
            let (a, b) = (
                number(random, "outputTokensPerSec"),
                number(p, "outputTokensPerSec"),
            );
            assert!((a - b).abs() / a < 0.05, "{picker} at {qps}: {b} vs {a}");
            // Below half the saturation rate, tails within 20 %.
            if qps < saturation / 2.0 {
                for key in ["ntpotP90", "e2eP90"] {
                    let (a, b) = (number(random, key), number(p, key));
                    assert!(
                        (a - b).abs() / a < 0.2,
                        "{picker} {key} at {qps}: {b} vs {a}"
                    );
                }
            }
        }
    }
    // Twice the saturation rate: the published 2× lower p90 NTPOT with
    // the picker does not appear in this model (README: why).
    let deep = 940.0;
    assert!(deep >= 1.9 * saturation.min(470.0));
    let ratio = number(at("random", deep), "ntpotP90") / number(at("epp", deep), "ntpotP90");
    assert!(
        ratio < 1.5,
        "random/epp p90 NTPOT at {deep} QPS is {ratio:.2}: the model now opens the published gap; update the README"
    );
}

fn write(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn simulate_replays_a_trace_with_its_adapters() {
    let trace = data("trace.jsonl");
    let v = simulate_json(&[
        "--trace",
        &trace,
        "--arrivals",
        "trace",
        "--qps",
        "40",
        "--servers",
        "2",
        "--routers",
        "random,epp",
    ]);
    for r in v["runs"].as_array().unwrap() {
        assert_eq!(number(r, "requests"), 400.0, "every line once: {r}");
        assert_eq!(number(r, "completed"), 400.0, "{r}");
        // 400 requests at 40 QPS: about 10 s of arrivals.
        let makespan = number(r, "makespan");
        assert!((9.0..20.0).contains(&makespan), "{makespan}");
    }
    // Lengths from the trace under generated arrivals: the trace cycles.
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "t.csv", "input,output\n100,10\n200,20\n");
    let v = simulate_json(&[
        "--trace",
        &csv,
        "--qps",
        "10",
        "--duration",
        "3s",
        "--servers",
        "1",
        "--routers",
        "random",
    ]);
    let r = &v["runs"][0];
    assert!(number(r, "requests") > 20.0, "{r}");
    let per_request =
        number(r, "outputTokensPerSec") * number(r, "makespan") / number(r, "completed");
    assert!((10.0..=20.0).contains(&per_request), "{per_request}");
}

#[test]
fn simulate_finds_capacity_per_router_and_pool_size() {
    let v = simulate_json(&[
        "--servers",
        "2..4/2",
        "--qps",
        "20..400/20",
        "--duration",
        "20s",
        "--routers",
        "random,epp",
        "--target",
        "ntpot-p90=20ms",
    ]);
    assert_eq!(v["target"]["metric"], "ntpotP90");
    let found = v["capacities"].as_array().unwrap();
    assert_eq!(found.len(), 4, "{v}");
    for router in ["random", "epp"] {
        let max = |servers: u64| {
            let c = found
                .iter()
                .find(|c| c["router"] == router && c["servers"] == servers)
                .unwrap();
            let run = &c["run"];
            assert!(number(run, "ntpotP90") <= 0.020, "{c}");
            number(c, "maxQps")
        };
        let (two, four) = (max(2), max(4));
        assert!(two > 20.0 && two < 400.0, "{router} ×2: {two}");
        assert!(
            four > 1.5 * two && four < 400.0,
            "{router}: ×4 {four} vs ×2 {two}"
        );
    }
    let table = run(&[
        "simulate",
        "--servers",
        "2",
        "--qps",
        "20..200/20",
        "--duration",
        "10s",
        "--target",
        "ntpot-p90=20ms",
    ]);
    assert!(table.status.success());
    assert!(
        text(&table.stdout).contains("NTPOTP90 THERE"),
        "{}",
        text(&table.stdout)
    );
}

#[test]
fn simulate_draws_the_figure_as_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
    let out = run(&[
        "simulate",
        "--qps",
        "50,100",
        "--duration",
        "5s",
        "--servers",
        "2",
        "--plot",
        svg.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    if !out.status.success() && text(&out.stderr).contains("TrueType font") {
        // Straight to stderr: a skip must be seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no font for --plot on this machine"
        );
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(svg).unwrap();
    for want in ["p90 NTPOT", "Throughput", "random", "epp", "offered QPS"] {
        assert!(svg.contains(want), "no {want:?} in the SVG");
    }
    let png = std::fs::read(png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: 1500 × 480.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1500);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 480);
}

#[test]
fn simulate_refuses_bad_input_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad_trace = write(
        dir.path(),
        "bad.jsonl",
        "{\"input\": 1, \"output\": 2}\n{\"input\": 1}\n",
    );
    let bad_profile = write(dir.path(), "p.yaml", "base: blog\nkvCapacity: 5\n");
    let untimed = write(dir.path(), "u.csv", "input,output\n1,2\n");
    for (args, code, says) in [
        (
            vec!["--trace", bad_trace.as_str()],
            1,
            "bad.jsonl: line 2: no output",
        ),
        (vec!["--profile", bad_profile.as_str()], 2, "kvCapacity"),
        (vec!["--profile", "a100"], 2, "not a built-in profile"),
        (vec!["--plot", "f.pdf"], 2, "f.pdf"),
        (vec!["--arrivals", "trace"], 2, "--trace"),
        (
            vec!["--trace", untimed.as_str(), "--arrivals", "trace"],
            2,
            "timestamp",
        ),
        (vec!["--target", "ntpot=5ms"], 2, "METRIC-pNN"),
        (vec!["--servers", "0"], 2, "at least 1"),
        (vec!["--routers", "fastest"], 2, "fastest"),
    ] {
        let mut all = vec!["simulate", "--duration", "1s", "--qps", "10"];
        all.extend(&args);
        let out = run(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn simulate_sheds_sheddable_traffic_only_behind_the_picker() {
    // 2 servers far past saturation, every request sheddable (priority -1).
    let v = simulate_json(&[
        "--servers",
        "2",
        "--qps",
        "300",
        "--duration",
        "10s",
        "--priority",
        "-1",
        "--routers",
        "random,connections,epp",
        "--connections",
        "4",
    ]);
    let runs = v["runs"].as_array().unwrap();
    let shed = |router: &str| number(runs.iter().find(|r| r["router"] == router).unwrap(), "shed");
    assert_eq!(shed("random"), 0.0, "a Service sheds nothing");
    assert_eq!(shed("connections"), 0.0);
    let epp = runs.iter().find(|r| r["router"] == "epp").unwrap();
    assert!(shed("epp") > 0.0, "the saturation detector sheds: {epp}");
    assert_eq!(
        number(epp, "shed") + number(epp, "completed"),
        number(epp, "requests"),
        "every request shed or served"
    );
}
