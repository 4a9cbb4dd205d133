//! `make dist` end to end: the real kplug-dist binary packages plugin binaries,
//! renders every krew template, and the results pass krew's rules.

use std::path::{Path, PathBuf};
use std::process::Command;

use kplug_tests::archive::{self, host_platform};
use kplug_tests::krew::{self, RenderedPlatform};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn templates() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(root().join("krew"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn one_template_per_plugin() {
    let names: Vec<String> = templates().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["compat", "eventlog", "inference", "sidecar"]);

    // `kplug-dist plugins` (used by make install) lists only binaries that have a template.
    let out = Command::new(dist_bin())
        .current_dir(root())
        .arg("plugins")
        .output()
        .unwrap();
    assert!(out.status.success());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let plugin = line.strip_prefix("kubectl-").expect("a kubectl- binary");
        assert!(names.contains(&plugin.replace('_', "-")), "{line}");
    }
}

/// Every template, rendered over a real archive, passes every krew rule.
#[test]
fn every_template_renders_to_a_valid_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (os, arch) = host_platform();
    for (name, template) in templates() {
        let binary = krew::binary_name(&name);
        let fake = dir.path().join(&binary);
        std::fs::write(&fake, b"#!/bin/sh\n").unwrap();
        let file = archive::archive_name(&binary, "v9.8.7", os, arch);
        let tgz = dir.path().join(&file);
        archive::write_tar_gz(
            &tgz,
            &[
                (&binary, &fake, 0o755),
                ("LICENSE", &root().join("LICENSE"), 0o644),
            ],
        )
        .unwrap();
        let rendered = krew::render(
            &template,
            "v9.8.7",
            &[RenderedPlatform {
                os: os.into(),
                arch: arch.into(),
                uri: format!("https://example.com/{file}"),
                sha256: archive::sha256_file(&tgz).unwrap(),
                bin: binary.clone(),
            }],
        );
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &rendered).unwrap();
        let plugin = krew::validate_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plugin.spec.version, "v9.8.7");
        assert_eq!(
            archive::check_archive(&tgz, &plugin.spec.platforms[0]),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

fn dist_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kplug-dist"))
}

#[test]
fn dist_packages_existing_plugins_and_skips_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let bins = work.path().join("bins");
    std::fs::create_dir(&bins).unwrap();
    // Stand-in plugin binaries: packaging does not care what they contain.
    for b in ["kubectl-compat", "kubectl-sidecar"] {
        std::fs::write(bins.join(b), b"#!/bin/sh\necho plugin\n").unwrap();
    }
    let out_dir = work.path().join("dist");
    let out = Command::new(dist_bin())
        .current_dir(root())
        .args(["--no-build", "--version", "v1.2.3", "--bin-dir"])
        .arg(&bins)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skip eventlog"), "{stderr}");
    assert!(stderr.contains("skip inference"), "{stderr}");
    assert!(stderr.contains("2 of 4 plugins packaged"), "{stderr}");

    let (os, arch) = host_platform();
    let tgz = out_dir.join(format!("kubectl-compat-v1.2.3-{os}-{arch}.tar.gz"));
    assert_eq!(
        archive::list_tar_gz(&tgz).unwrap(),
        ["kubectl-compat", "kubectl_complete-compat", "LICENSE"]
    );
    let manifest = std::fs::read_to_string(out_dir.join("compat.yaml")).unwrap();
    let plugin = krew::parse(&manifest).unwrap();
    assert_eq!(
        plugin.spec.platforms[0].sha256,
        archive::sha256_file(&tgz).unwrap()
    );
    assert!(
        plugin.spec.platforms[0]
            .uri
            .ends_with(&format!("/v1.2.3/kubectl-compat-v1.2.3-{os}-{arch}.tar.gz"))
    );

    // The validate subcommand agrees, and catches a tampered archive.
    let validate = |dir: &Path| {
        Command::new(dist_bin())
            .arg("validate")
            .arg(out_dir.join("compat.yaml"))
            .arg(out_dir.join("sidecar.yaml"))
            .arg("--archives")
            .arg(dir)
            .output()
            .unwrap()
    };
    let ok = validate(&out_dir);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    std::fs::write(&tgz, b"tampered").unwrap();
    let bad = validate(&out_dir);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("does not match"));
}

#[test]
fn dist_rejects_a_bad_version() {
    let out = Command::new(dist_bin())
        .current_dir(root())
        .args(["--no-build", "--version", "1.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must look like v1.2.3"));
}

/// `make install` needs a Rust toolchain and nothing else: the build setup
/// passes without Go, and without cargo it says what to install.
#[test]
fn the_build_setup_needs_only_rust() {
    let root = kplug_tests::e2e::workspace_root();
    let script = root.join("scripts/setup.sh");
    let tmp = tempfile::tempdir().unwrap();
    let cargo = std::process::Command::new("sh")
        .args(["-c", "command -v cargo"])
        .output()
        .unwrap();
    let cargo = String::from_utf8_lossy(&cargo.stdout).trim().to_string();
    std::os::unix::fs::symlink(&cargo, tmp.path().join("cargo")).unwrap();
    // /bin has bash and coreutils; Go lives elsewhere (/usr/local/go/bin).
    let path = format!("{}:/bin", tmp.path().display());
    let run = |path: &str| {
        std::process::Command::new("/bin/bash")
            .arg(&script)
            .arg("build")
            .env("PATH", path)
            // No ~/.cargo/bin to fall back on.
            .env("HOME", tmp.path())
            .env_remove("CARGO_HOME")
            .output()
            .unwrap()
    };
    let with_rust = run(&path);
    assert!(
        with_rust.status.success(),
        "{}",
        String::from_utf8_lossy(&with_rust.stderr)
    );
    let without = run("/nonexistent");
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stderr).contains("rustup"));
}
