//! `make image` end to end: the collector's static binary becomes an OCI
//! image without a container engine, is pushed to a real registry with
//! oras, pulled back, unpacked, and the binary in it runs.

use std::process::Command;

use kplug_tests::e2e::registry::{Kind, Registry};
use kplug_tests::e2e::{peers, workspace_bin, workspace_root};
use kplug_tests::image;

use crate::{ok, text};

/// The collector built as `make image` builds it (a debug build here, to
/// keep the tier fast): statically linked against glibc.
fn static_collector() -> std::path::PathBuf {
    let root = workspace_root();
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--quiet",
            "--locked",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "kubectl-events",
            "--bin",
            "kubectl-eventlog",
        ])
        .output()
        .unwrap();
    ok(&out, "cargo build of the static collector");
    root.join("target/x86_64-unknown-linux-gnu/debug/kubectl-eventlog")
}

#[test]
fn the_collector_image_is_built_pushed_pulled_and_runs() {
    let binary = static_collector();
    assert!(
        image::is_static_elf(&std::fs::read(&binary).unwrap()),
        "not static"
    );
    let registry = Registry::start(Kind::Referrers);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let deployment = dir.path().join("collector.yaml");
    std::fs::copy(
        workspace_root().join("deploy/eventlog/20-collector.yaml"),
        &deployment,
    )
    .unwrap();
    let repo = format!("{}/kplug/kubectl-eventlog", registry.host);
    let out = Command::new(workspace_bin("kplug-image").expect("kplug-image is built"))
        .arg("--binary")
        .arg(&binary)
        .arg("--out")
        .arg(&layout)
        .args([
            "--tag",
            "e2e",
            "--plain-http",
            "--push",
            &repo,
            "--deployment",
        ])
        .arg(&deployment)
        .env("ORAS", peers::path("ORAS"))
        .output()
        .unwrap();
    let said = ok(&out, "kplug-image");
    let digest = said
        .lines()
        .find_map(|l| l.strip_prefix(&format!("pushed {repo}@")))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    // The Deployment now names the image by digest.
    let manifest_text = std::fs::read_to_string(&deployment).unwrap();
    assert!(
        manifest_text.contains(&format!("image: {repo}@{digest}")),
        "{manifest_text}"
    );

    // Pull it back into a fresh layout, as a node would.
    let pulled = dir.path().join("pulled");
    let cp = Command::new(peers::path("ORAS"))
        .args([
            "cp",
            "--from-plain-http",
            &format!("{repo}@{digest}"),
            "--to-oci-layout",
        ])
        .arg(format!("{}:pulled", pulled.display()))
        .output()
        .unwrap();
    ok(&cp, "oras cp from the registry");
    let (manifest, config) = image::read(&pulled, "pulled").unwrap();
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );
    assert_eq!(config["config"]["User"], "65532:65532", "non-root");
    assert_eq!(config["config"]["Entrypoint"][0], image::ENTRYPOINT);
    let root = dir.path().join("rootfs");
    image::unpack(&pulled, &manifest, &root).unwrap();
    assert!(
        root.join("etc/ssl/certs/ca-certificates.crt")
            .metadata()
            .unwrap()
            .len()
            > 1000
    );
    assert!(
        std::fs::read_to_string(root.join("etc/passwd"))
            .unwrap()
            .contains(":65532:")
    );
    for shell in ["bin/sh", "bin/bash", "bin/busybox"] {
        assert!(!root.join(shell).exists(), "{shell} in the image");
    }
    let run = Command::new(root.join("kubectl-eventlog"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        text(&run.stdout).contains("collect"),
        "the binary from the image runs: {}",
        text(&run.stderr)
    );
}
