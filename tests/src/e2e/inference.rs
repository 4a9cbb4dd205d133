//! The Gateway API Inference Extension's side of the tier: its CRDs of
//! every generation, model-server metric endpoints, and the real endpoint
//! picker (GIE v1.5.0 `cmd/epp`) with the ext_proc client that plays Envoy.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::cluster::{ADMIN, Cluster, run_dir};
use super::process::Process;
use super::{free_port, peers};

/// `kubectl ARGS` against `cluster` as the admin.
pub fn kubectl(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new(peers::path("KUBECTL"))
        .args(cluster.args(ADMIN))
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// Panic with stderr unless `out` succeeded.
pub fn ok(out: Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Apply every CRD in `dirs` and wait until `names` are Established.
fn install(cluster: &Cluster, dirs: &[String], names: &[&str]) {
    for dir in dirs {
        ok(
            kubectl(cluster, &["apply", "--server-side", "-f", dir]),
            dir,
        );
    }
    let mut wait = vec!["wait", "--for=condition=Established", "--timeout=30s"];
    wait.extend(names);
    ok(kubectl(cluster, &wait), "CRDs Established");
}

/// The Gateway API's standard CRDs (HTTPRoute, ReferenceGrant, …).
pub fn install_gateway_crds(cluster: &Cluster) {
    install(
        cluster,
        &[peers::path("GATEWAY_API_CRDS").display().to_string()],
        &[
            "crd/httproutes.gateway.networking.k8s.io",
            "crd/referencegrants.gateway.networking.k8s.io",
        ],
    );
}

/// Every generation's CRDs, installed and Established: v1.5.0 and v0.5.1
/// from the extension's Go module, and the llm-d.ai group derived from the
/// x-k8s one (the same schema under another group, spec §10).
pub fn install_crds(cluster: &Cluster) {
    let llmd = run_dir().join(super::unique_name("llm-d-crds"));
    std::fs::create_dir_all(&llmd).unwrap();
    for plural in ["inferenceobjectives", "inferencemodelrewrites"] {
        let from = peers::path("GIE_CRDS_1_5_0")
            .join(format!("inference.networking.x-k8s.io_{plural}.yaml"));
        let crd = std::fs::read_to_string(&from)
            .unwrap()
            .replace("inference.networking.x-k8s.io", "llm-d.ai")
            .replace(
                "inference.networking.k8s.io/bundle-version:",
                "llm-d.ai/bundle-version:",
            );
        std::fs::write(llmd.join(format!("llm-d.ai_{plural}.yaml")), crd).unwrap();
    }
    let dirs = [
        peers::path("GIE_CRDS_1_5_0").display().to_string(),
        peers::path("GIE_CRDS_0_5_1").display().to_string(),
        llmd.display().to_string(),
    ];
    install(
        cluster,
        &dirs,
        &[
            "crd/inferencepools.inference.networking.k8s.io",
            "crd/inferencepools.inference.networking.x-k8s.io",
            "crd/inferencemodels.inference.networking.x-k8s.io",
            "crd/inferenceobjectives.inference.networking.x-k8s.io",
            "crd/inferenceobjectives.llm-d.ai",
            "crd/inferencemodelrewrites.llm-d.ai",
        ],
    );
}

/// A model server's /metrics: `body`, to every request on `listener`,
/// after `delay`. Runs on the current tokio runtime.
pub fn serve_metrics(listener: tokio::net::TcpListener, body: String, delay: Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body: std::sync::Arc<str> = body.into();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
}

/// The real EPP for `pool` in `namespace` (with `config` as its
/// --config-file when given): the process, its ext_proc gRPC port and its
/// own /metrics port.
pub fn start_epp(
    cluster: &Cluster,
    namespace: &str,
    pool: &str,
    config: Option<&str>,
) -> (Process, u16, u16) {
    let dir = run_dir();
    let (grpc, metrics) = (free_port(), free_port());
    let mut args: Vec<String> = [
        "--pool-name",
        pool,
        "--pool-namespace",
        namespace,
        "--grpc-port",
        &grpc.to_string(),
        "--grpc-health-port",
        &free_port().to_string(),
        "--metrics-port",
        &metrics.to_string(),
        "--secure-serving=false",
        "--metrics-endpoint-auth=false",
    ]
    .map(String::from)
    .to_vec();
    if let Some(text) = config {
        let file = dir.join(format!("{namespace}-{pool}-epp.yaml"));
        std::fs::write(&file, text).unwrap();
        args.extend(["--config-file".into(), file.display().to_string()]);
    }
    let kubeconfig = cluster.args(ADMIN)[1].clone();
    let mut process = Process::start(
        &format!("epp-{namespace}-{pool}"),
        &peers::path("EPP"),
        &args,
        &dir,
        &[("KUBECONFIG", &kubeconfig)],
    );
    // Ready once it routes a request (it needs the pool, its Pods and a
    // first scrape).
    process.wait_until(Duration::from_secs(60), || {
        let out = Command::new(peers::path("EXTPROC_CLIENT"))
            .args([
                "--addr",
                &format!("127.0.0.1:{grpc}"),
                "--model",
                "chat",
                "--timeout",
                "2s",
            ])
            .output()
            .unwrap();
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("\"endpoint\":")
    });
    (process, grpc, metrics)
}

/// What the real EPP decided for one chat request (one JSON line of
/// `extproc-client`; `repeat` > 1 sends that many over one connection).
pub fn ask_epp(grpc: u16, objective: Option<&str>, prompt: &str, repeat: usize) -> Vec<Value> {
    let mut cmd = Command::new(peers::path("EXTPROC_CLIENT"));
    cmd.args([
        "--addr",
        &format!("127.0.0.1:{grpc}"),
        "--model",
        "chat",
        "--prompt",
        prompt,
        "--repeat",
        &repeat.to_string(),
    ]);
    if let Some(o) = objective {
        cmd.args(["--objective", o]);
    }
    let out = cmd.output().expect("extproc-client runs");
    assert!(
        out.status.success(),
        "extproc-client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line"))
        .collect()
}
