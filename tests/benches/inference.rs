//! `kubectl inference` against a 100-endpoint pool in a real kube-apiserver
//! (100 Pods on 127.0.1.1–100, one metrics server each): `status` (target:
//! under 1 s) and `explain POOL` wall time; `explain` over 1,000 saved
//! expositions as a command; and, in the same run, the real EPP (GIE
//! v1.5.0) routing requests over the same pool, with the scheduling
//! latency it reports itself (`inference_extension_scheduler_e2e_duration_seconds`)
//! and the time its ext_proc answers take.
//!
//! Needs the e2e peers (`make peers`); without them it prints a skip line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kplug_tests::e2e::cluster::{ADMIN, Cluster};
use kplug_tests::e2e::inference::{ask_epp, install_crds, kubectl, ok, serve_metrics, start_epp};
use kplug_tests::e2e::{free_port, http, objects};
use serde_json::json;

const ENDPOINTS: usize = 100;
const RUNS: usize = 7;
const REQUESTS: usize = 500;

/// A vLLM exposition with load that varies by `i`.
fn exposition(i: usize) -> String {
    format!(
        "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{{model_name=\"chat\"}} {}\n\
         # TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{model_name=\"chat\"}} {}\n\
         # TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{{model_name=\"chat\"}} {}\n\
         # TYPE vllm:lora_requests_info gauge\nvllm:lora_requests_info{{max_lora=\"2\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"}} 1.7e9\n\
         # TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{{block_size=\"16\",num_gpu_blocks=\"2048\"}} 1\n",
        i % 7,
        i % 11,
        (i % 19) as f64 / 20.0
    )
}

/// Wall times of `RUNS` runs after one warm-up, sorted; each must exit 0
/// (or 3: doctor's "found errors").
fn times(mut make: impl FnMut() -> Command) -> Vec<Duration> {
    let mut out = Vec::new();
    for run in 0..=RUNS {
        let start = Instant::now();
        let o = make()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("runs");
        let took = start.elapsed();
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        if run > 0 {
            out.push(took);
        }
    }
    out.sort();
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, t: &[Duration]) {
    println!(
        "{what:<58} median {:>8.1} ms   slowest {:>8.1} ms",
        ms(t[t.len() / 2]),
        ms(t[t.len() - 1])
    );
}

fn main() {
    let Some(bin) = kplug_tests::e2e::bench_binary("kubectl inference bench", "kubectl-inference")
    else {
        return;
    };
    let cluster = Cluster::private();
    install_crds(&cluster);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = free_port();
    let ns = "default";
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..ENDPOINTS {
            let ip = format!("127.0.1.{}", i + 1);
            let listener = tokio::net::TcpListener::bind((ip.as_str(), port)).await.expect("bind a loopback address");
            serve_metrics(listener, exposition(i), Duration::ZERO);
        }
        let client = cluster.client(ADMIN).await;
        for i in 0..ENDPOINTS {
            objects::pod_with_status(
                &client,
                ns,
                json!({"metadata": {"name": format!("vllm-{i}"), "labels": {"app": "vllm"}},
                       "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "ports": [{"containerPort": port}]}]}}),
                json!({"phase": "Running", "podIP": format!("127.0.1.{}", i + 1), "conditions": [{"type": "Ready", "status": "True"}]}),
            )
            .await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool.json");
    std::fs::write(
        &pool,
        json!({"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool", "metadata": {"name": "big"},
               "spec": {"selector": {"matchLabels": {"app": "vllm"}}, "targetPorts": [{"number": port}],
                        "endpointPickerRef": {"name": "big-epp", "port": {"number": 9002}}}})
        .to_string(),
    )
    .unwrap();
    ok(
        kubectl(
            &cluster,
            &["apply", "-n", ns, "-f", &pool.display().to_string()],
        ),
        "pool",
    );
    println!(
        "setup: {ENDPOINTS} Pods with a metrics server each, in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let run = |args: &'static [&'static str]| {
        let (bin, cluster) = (&bin, &cluster);
        move || {
            let mut c = Command::new(bin);
            c.args(cluster.args(ADMIN)).args(args);
            c
        }
    };
    report(
        "status big (100 endpoints scraped)",
        &times(run(&["status", "big", "-o", "json"])),
    );
    report(
        "explain big (100 endpoints scraped, then decided)",
        &times(run(&["explain", "big", "-o", "json"])),
    );
    // The pool has no picker Service: doctor finds that, and exits 3.
    report(
        "doctor big (100 endpoints scraped, RBAC and routes checked)",
        &times(run(&["doctor", "big", "-o", "json"])),
    );

    // explain offline over 1,000 saved expositions (read, parsed, decided).
    let mut args: Vec<String> = vec!["explain".into(), "-o".into(), "json".into()];
    for i in 0..1000 {
        let file = dir.path().join(format!("e{i}.prom"));
        std::fs::write(&file, exposition(i)).unwrap();
        args.extend(["--endpoint".into(), format!("e{i}={}", file.display())]);
    }
    report(
        "explain --endpoint ×1,000 (files read, parsed, decided)",
        &times(|| {
            let mut c = Command::new(&bin);
            c.args(&args);
            c
        }),
    );

    // The real EPP on the same pool.
    let (_epp, grpc, metrics_port) = start_epp(&cluster, ns, "big", None);
    let answers = ask_epp(grpc, None, "a benchmark request", REQUESTS);
    let mut client_ms: Vec<f64> = answers.iter().map(|a| a["ms"].as_f64().unwrap()).collect();
    client_ms.sort_by(f64::total_cmp);
    let picked = answers.iter().filter(|a| a["endpoint"].is_string()).count();
    let metrics = http::get(&format!("127.0.0.1:{metrics_port}"), "/metrics", &[])
        .expect("the EPP's /metrics");
    let text = String::from_utf8_lossy(&metrics.body);
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let sum = value("inference_extension_scheduler_e2e_duration_seconds_sum");
    let count = value("inference_extension_scheduler_e2e_duration_seconds_count");
    println!(
        "real EPP v1.5.0, {ENDPOINTS} endpoints: {picked}/{REQUESTS} requests routed; its scheduler_e2e_duration mean {:.3} ms over {count} schedulings",
        sum / count * 1000.0
    );
    let bucket = |le: &str| {
        value(&format!(
            "inference_extension_scheduler_e2e_duration_seconds_bucket{{le=\"{le}\"}}"
        ))
    };
    println!(
        "  of them ≤ 0.5 ms: {}, ≤ 1 ms: {}, ≤ 2 ms: {}, ≤ 5 ms: {}",
        bucket("0.0005"),
        bucket("0.001"),
        bucket("0.002"),
        bucket("0.005")
    );
    println!(
        "  ext_proc answer (request headers+body in, decision out) p50 {:.2} ms, p99 {:.2} ms",
        client_ms[client_ms.len() / 2],
        client_ms[client_ms.len() * 99 / 100]
    );
}
