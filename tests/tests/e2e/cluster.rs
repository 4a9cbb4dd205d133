//! kube-apiserver + etcd: both users, RBAC, the library's client and errors,
//! objects made the way a cluster would, and a restart of a private server.

use std::process::Command;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::events::v1::Event as EventV1;
use kplug_tests::e2e::cluster::{ADMIN, Cluster, UNPRIVILEGED, UNPRIVILEGED_USER};
use kplug_tests::e2e::{objects, workspace_bin};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::text;

#[tokio::test]
async fn both_users_work_and_rbac_forbids_the_unprivileged_one() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("rbac").await;

    let admin = cluster.client(ADMIN).await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let user = cluster.client(UNPRIVILEGED).await;
    // Discovery is open to every authenticated user.
    assert!(
        !user
            .apiserver_version()
            .await
            .unwrap()
            .git_version
            .is_empty()
    );
    let pods: Api<Pod> = Api::namespaced(user, &ns);
    let args = cluster.kubectl_args(UNPRIVILEGED);
    let err = kplug::client::request(&args, &cluster.server, pods.list(&ListParams::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, kplug::Error::Forbidden { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(
        message.starts_with("forbidden: pods is forbidden: User \""),
        "{message}"
    );
    assert!(message.contains(UNPRIVILEGED_USER), "{message}");
    assert!(message.contains("kubectl auth can-i"), "{message}");
}

/// The shared library, through a real binary and the generated kubeconfig.
#[test]
fn library_client_through_kubeconfig_contexts() {
    let cluster = Cluster::shared();
    let Some(selftest) = workspace_bin("kplug-selftest") else {
        panic!("kplug-selftest is not built; run `cargo test --workspace` (make test builds it)");
    };
    let run = |context: &str, cmd: &str| {
        Command::new(&selftest)
            .arg(cmd)
            .args(cluster.args(context))
            .args(["-n", "kube-system"])
            .output()
            .unwrap()
    };
    let out = run(ADMIN, "version");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Server Version: v"),
        "{}",
        text(&out.stdout)
    );

    let out = run(ADMIN, "pods");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = run(UNPRIVILEGED, "pods");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: listing pods: forbidden: pods is forbidden"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot list resource \"pods\""), "{stderr}");
}

#[tokio::test]
async fn objects_are_made_the_way_a_cluster_would() {
    let cluster = Cluster::shared();
    let ns = cluster.namespace("objects").await;
    let client = cluster.client(ADMIN).await;

    let pod = objects::pod_with_status(
        &client,
        &ns,
        json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}),
        json!({"phase": "Running", "podIP": "127.0.0.1", "containerStatuses": [{
            "name": "app", "image": "nginx", "imageID": "", "ready": true, "restartCount": 2,
            "state": {"running": {"startedAt": "2026-11-27T10:00:00Z"}}}]}),
    )
    .await;
    let status = pod.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.container_statuses.unwrap()[0].restart_count, 2);

    objects::core_event(&client, &ns, json!({
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns},
        "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning",
        "source": {"component": "kubelet"}, "count": 3,
        "firstTimestamp": "2026-11-27T10:00:00Z", "lastTimestamp": "2026-11-27T10:05:00Z"
    }))
    .await;
    objects::events_v1_event(&client, &ns, json!({
        "metadata": {"name": "web.2"},
        "eventTime": "2026-11-27T10:06:00.000000Z", "reportingController": "kubelet",
        "reportingInstance": "node-a", "action": "Pulling", "reason": "Pulling", "type": "Normal",
        "regarding": {"kind": "Pod", "name": "web", "namespace": ns}, "note": "Pulling image nginx"
    }))
    .await;
    let core: Api<Event> = Api::namespaced(client.clone(), &ns);
    assert_eq!(
        core.list(&ListParams::default()).await.unwrap().items.len(),
        2,
        "both APIs show both events"
    );
    let v1: Api<EventV1> = Api::namespaced(client.clone(), &ns);
    assert!(v1.get("web.1").await.unwrap().deprecated_count == Some(3));

    let node_name = kplug_tests::e2e::unique_name("node");
    let node = objects::node(
        &client,
        &node_name,
        json!({"kubernetes.io/arch": "amd64"}),
        json!({"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "4", "memory": "8Gi"}}),
    )
    .await;
    assert_eq!(node.status.unwrap().capacity.unwrap()["cpu"].0, "4");
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.delete(&node_name, &Default::default()).await.unwrap();

    objects::crd(&client, json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.e2e.kplug.dev"},
        "spec": {"group": "e2e.kplug.dev", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .await;
    let widget = objects::custom_resource(
        &client,
        ("e2e.kplug.dev", "v1", "Widget"),
        "widgets",
        Some(&ns),
        json!({"metadata": {"name": "w"}, "spec": {"size": 3}}),
    )
    .await;
    assert_eq!(widget.data["spec"]["size"], 3);
}

/// A private API server can be stopped and started again; data survives in etcd.
#[tokio::test]
async fn private_apiserver_restarts_and_keeps_its_data() {
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        kplug_tests::e2e::skip(
            "private_apiserver_restarts: needs a local apiserver (KPLUG_E2E_KUBECONFIG is set)",
        );
        return;
    }
    let cluster = Cluster::private();
    let ns = cluster.namespace("restart").await;
    cluster.stop_apiserver();
    let args = cluster.kubectl_args(ADMIN);
    let client = kplug::client::client(&args).await.unwrap();
    let err = kplug::client::request(&args, &cluster.server, client.apiserver_version())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
    cluster.start_apiserver();
    let client = cluster.client(ADMIN).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert!(namespaces.get(&ns).await.is_ok());
}

/// `KPLUG_E2E_KUBECONFIG` mode, proven on a local server treated as someone
/// else's cluster: our contexts are added, the unprivileged one impersonates.
#[tokio::test]
async fn existing_cluster_mode_adds_both_contexts() {
    if std::env::var_os("KPLUG_E2E_KUBECONFIG").is_some() {
        kplug_tests::e2e::skip(
            "existing_cluster_mode: the whole run already uses an existing cluster",
        );
        return;
    }
    let local = Cluster::private();
    let existing = Cluster::existing(&local.kubeconfig);
    assert!(existing.external);
    assert_eq!(existing.server, local.server);
    let ns = existing.namespace("existing").await;
    let user = existing.client(UNPRIVILEGED).await;
    let pods: Api<Pod> = Api::namespaced(user, &ns);
    let args = existing.kubectl_args(UNPRIVILEGED);
    let err = kplug::client::request(&args, &existing.server, pods.list(&ListParams::default()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(UNPRIVILEGED_USER), "{err}");
}

/// A kubeconfig for the shared cluster without its CA (as for a server
/// with a self-signed certificate) and with a password in the server URL:
/// every plugin says what is wrong with the certificate and how to trust
/// it, shows no password, and the collector stops instead of retrying.
#[test]
fn an_untrusted_certificate_is_named_and_never_retried() {
    let cluster = Cluster::shared();
    if cluster.external {
        println!("skipped: an external cluster's kubeconfig is not rewritten");
        return;
    }
    let original = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let untrusted: String = original
        .lines()
        .filter(|l| !l.trim_start().starts_with("certificate-authority"))
        .map(|l| l.replace("server: https://", "server: https://admin:hunter2@"))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("untrusted");
    std::fs::write(&kubeconfig, untrusted).unwrap();
    let kc = kubeconfig.to_str().unwrap();
    let store = dir.path().join("events.db");
    let runs: [(&str, Vec<&str>); 2] = [
        (
            "kubectl-sidecar",
            vec!["analyze", "pods", "-A", "--kubeconfig", kc],
        ),
        (
            "kubectl-eventlog",
            vec![
                "collect",
                "--kubeconfig",
                kc,
                "--store",
                store.to_str().unwrap(),
            ],
        ),
    ];
    for (bin, args) in runs {
        let start = std::time::Instant::now();
        let out = Command::new(workspace_bin(bin).expect("built"))
            .args(&args)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin}: {err}");
        assert!(
            err.contains("certificate authority this machine does not trust")
                && err.contains("certificate-authority-data"),
            "{bin}: {err}"
        );
        assert!(!err.contains("hunter2"), "{bin} shows the password: {err}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{bin} kept retrying"
        );
    }
}

/// A user who may not list Events: the collector says which permission is
/// missing and what to apply, once, and exits 1 instead of retrying.
#[test]
fn collect_without_rights_names_the_rbac_and_stops() {
    let cluster = Cluster::shared();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.db");
    let mut args = cluster.args(UNPRIVILEGED);
    args.extend([
        "collect".into(),
        "-A".into(),
        "--store".into(),
        store.display().to_string(),
    ]);
    let start = std::time::Instant::now();
    let out = Command::new(workspace_bin("kubectl-eventlog").expect("built"))
        .args(&args)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("may not list and watch Events"), "{err}");
    assert!(err.contains("deploy/eventlog/10-rbac.yaml"), "{err}");
    assert!(!err.contains("Status {"), "no debug structs: {err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}
