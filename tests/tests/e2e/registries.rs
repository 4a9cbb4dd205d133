//! Both registries: the referrers API on one and its absence on the other, and
//! `oras attach` / `oras discover` against each (the behaviour kubectl compat
//! must match).

use kplug_tests::e2e::oci;
use kplug_tests::e2e::peers;
use kplug_tests::e2e::registry::{Kind, Registry};
use serde_json::Value;

use crate::{ok, run};

pub const ARTIFACT_TYPE: &str = "application/vnd.nfd.image-compatibility.v1alpha1";
pub const SPEC_MEDIA_TYPE: &str = "application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml";

#[test]
fn referrers_api_answers_on_one_registry_and_404s_on_the_other() {
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
        let image = oci::push_image(&registry.host, "e2e/app", "v1", "linux", "amd64");
        let r = registry.referrers("e2e/app", &image.digest);
        match kind {
            Kind::Referrers => {
                assert_eq!(r.status, 200, "{}", registry.log_tail());
                let index = r.json();
                assert_eq!(index["mediaType"], oci::INDEX);
                assert_eq!(index["manifests"].as_array().map(Vec::len), Some(0));
            }
            Kind::TagSchema | Kind::Htpasswd => {
                assert_eq!(r.status, 404, "distribution 2.8 must not serve referrers")
            }
        }
    }
}

/// `oras attach` a spec to an image; returns the artifact's digest.
pub fn oras_attach(registry: &Registry, reference: &str, spec: &std::path::Path) -> String {
    let dir = spec.parent().unwrap();
    let file = spec.file_name().unwrap().to_str().unwrap();
    let out = std::process::Command::new(peers::path("ORAS"))
        .current_dir(dir)
        .args([
            "attach",
            "--plain-http",
            "--artifact-type",
            ARTIFACT_TYPE,
            "--format",
            "json",
        ])
        .arg(format!("{}/{reference}", registry.host))
        .arg(format!("{file}:{SPEC_MEDIA_TYPE}"))
        .output()
        .unwrap();
    let stdout = ok(&out, "oras attach");
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("oras attach JSON: {e}: {stdout}"));
    v["digest"].as_str().expect("artifact digest").to_string()
}

/// `oras discover` as JSON: the referrers of `reference`.
pub fn oras_discover(registry: &Registry, reference: &str) -> Value {
    let out = run(
        &peers::path("ORAS"),
        &[
            "discover",
            "--plain-http",
            "--format",
            "json",
            &format!("{}/{reference}", registry.host),
        ],
    );
    let stdout = ok(&out, "oras discover");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("oras discover JSON: {e}: {stdout}"))
}

pub fn write_spec(dir: &std::path::Path) -> std::path::PathBuf {
    let spec = dir.join("compat.yaml");
    std::fs::write(
        &spec,
        "version: v1alpha1\ncompatibilities:\n- description: e2e\n  rules:\n  - name: kernel present\n    matchFeatures:\n    - feature: kernel.version\n      matchExpressions:\n        major: {op: Exists}\n",
    )
    .unwrap();
    spec
}

#[test]
fn oras_attach_and_discover_on_both_registries() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    for kind in [Kind::Referrers, Kind::TagSchema] {
        let registry = Registry::start(kind);
        let image = oci::push_image(&registry.host, "e2e/app", "v1", "linux", "amd64");
        let artifact = oras_attach(&registry, "e2e/app:v1", &spec);
        assert!(artifact.starts_with("sha256:"));

        let found = oras_discover(&registry, "e2e/app:v1");
        let text = found.to_string();
        assert!(text.contains(&artifact), "{kind:?}: {text}");
        assert!(text.contains(ARTIFACT_TYPE), "{kind:?}: {text}");

        match kind {
            Kind::Referrers => {
                let r = registry.referrers("e2e/app", &image.digest);
                assert!(r.json().to_string().contains(&artifact));
            }
            Kind::TagSchema | Kind::Htpasswd => {
                // oras fell back to the referrers tag schema: an index under sha256-<hex>.
                let tag = image.digest.replace(':', "-");
                let r = kplug_tests::e2e::http::get(
                    &registry.host,
                    &format!("/v2/e2e/app/manifests/{tag}"),
                    &[("Accept", oci::INDEX)],
                )
                .unwrap();
                assert_eq!(r.status, 200, "no {tag} index");
                assert!(r.json().to_string().contains(&artifact));
            }
        }
    }
}

#[test]
fn multi_arch_index_is_pushed() {
    let registry = Registry::start(Kind::Referrers);
    let (index, images) = oci::push_index(
        &registry.host,
        "e2e/multi",
        "v1",
        &[("linux", "amd64"), ("linux", "arm64")],
    );
    assert_eq!(images.len(), 2);
    let r = kplug_tests::e2e::http::get(
        &registry.host,
        "/v2/e2e/multi/manifests/v1",
        &[("Accept", oci::INDEX)],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(oci::sha256_digest(&r.body), index.digest);
    assert_eq!(
        r.json()["manifests"][1]["platform"]["architecture"],
        "arm64"
    );
}
