//! Node Feature Discovery's own client, the reference `kubectl compat` is
//! compared against: it validates this host against an oras-attached artifact
//! and exports this host's features.

use kplug_tests::e2e::oci;
use kplug_tests::e2e::peers;
use kplug_tests::e2e::registry::{Kind, Registry};

use crate::registries::{oras_attach, write_spec};
use crate::{ok, run, text};

/// `nfd compat validate-node` over plain HTTP for linux/amd64, with extra flags.
fn validate_node(image: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "compat",
        "validate-node",
        "--plain-http",
        "--platform",
        "linux/amd64",
    ];
    args.extend_from_slice(extra);
    args.extend(["--image", image]);
    run(&peers::path("NFD"), &args)
}

#[test]
fn nfd_validates_this_host_against_an_oras_attached_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
        oci::push_image(&registry.host, "e2e/app", "v1", "linux", "amd64");
        oras_attach(&registry, "e2e/app:v1", &spec);
        let image = format!("{}/e2e/app:v1", registry.host);
        let out = validate_node(&image, &[]);
        let report = ok(&out, "nfd compat validate-node");
        assert!(
            report.contains("COMPATIBILITY SET #1"),
            "{kind:?}: {report}"
        );
        assert!(
            report.contains("RULE: KERNEL PRESENT"),
            "{kind:?}: {report}"
        );
        assert!(
            report.contains("kernel.version.major"),
            "{kind:?}: {report}"
        );

        let out = validate_node(&image, &["--output-json"]);
        let json: serde_json::Value = serde_json::from_str(&ok(&out, "nfd --output-json")).unwrap();
        assert_eq!(json[0]["rules"][0]["name"], "kernel present");
        assert_eq!(
            json[0]["rules"][0]["isMatch"], true,
            "every Linux host has a kernel version"
        );
    }
}

#[test]
fn nfd_exports_this_hosts_features() {
    let out = run(&peers::path("NFD"), &["export", "features"]);
    let stdout = ok(&out, "nfd export features");
    let features: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "nfd export features is not JSON ({e}): {}",
            text(&out.stderr)
        )
    });
    assert!(
        features["attributes"]["kernel.version"]["elements"]["major"].is_string(),
        "{stdout}"
    );
    assert!(features["flags"].is_object(), "{stdout}");
}

pub use kplug_tests::e2e::nfd::{install_crds, run_worker};

/// nfd-worker discovers this host and publishes a real NodeFeature object into
/// the test API server (what `kubectl compat` reads in cluster mode).
#[tokio::test]
async fn nfd_worker_publishes_a_node_feature() {
    use kplug_tests::e2e::cluster::{ADMIN, Cluster};
    use kube::api::{Api, DynamicObject, ListParams};
    use kube::core::{ApiResource, GroupVersionKind};

    let cluster = Cluster::shared();
    let ns = cluster.namespace("nfd").await;
    install_crds(cluster);
    let client = cluster.client(ADMIN).await;
    let node = kplug_tests::e2e::unique_name("nfd-node");
    kplug_tests::e2e::objects::node(&client, &node, serde_json::json!({}), serde_json::json!({}))
        .await;

    run_worker(cluster, &node, &ns);

    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("nfd.k8s-sigs.io", "v1alpha1", "NodeFeature"),
        "nodefeatures",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &ar);
    let list = api.list(&ListParams::default()).await.unwrap();
    let published = list
        .items
        .iter()
        .find(|o| {
            o.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("nfd.node.kubernetes.io/node-name"))
                == Some(&node)
        })
        .unwrap_or_else(|| {
            panic!(
                "no NodeFeature for {node} in {ns}: {:?}",
                list.items
                    .iter()
                    .map(|o| &o.metadata.name)
                    .collect::<Vec<_>>()
            )
        });
    let features = &published.data["spec"]["features"];
    assert!(
        features["attributes"]["kernel.version"]["elements"]["major"].is_string(),
        "{features}"
    );
}
