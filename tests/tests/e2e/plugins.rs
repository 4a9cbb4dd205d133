//! Every plugin the workspace builds is found and run by real kubectl, listed
//! by `kubectl plugin list` without warnings, and installed by real krew from
//! `make dist` output. Plugins are discovered from krew/*.yaml, so a plugin that
//! lands later is covered without new code. `kplug-selftest` always runs
//! through the same steps as a stand-in, so the machinery itself is proven.

use std::path::{Path, PathBuf};
use std::process::Command;

use kplug_tests::archive::{self, host_platform};
use kplug_tests::e2e::{peers, workspace_bin, workspace_root};
use kplug_tests::krew::{self, RenderedPlatform, binary_name};

use crate::{ok, text};

const STAND_IN: &str = "kplug-selftest";

/// `(krew name, built binary)` for every plugin whose binary exists.
fn built_plugins() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(workspace_root().join("krew")).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "yaml")
            && let Some(bin) = workspace_bin(&binary_name(name))
        {
            found.push((name.to_string(), bin));
        }
    }
    if found.is_empty() {
        kplug_tests::e2e::skip(
            "plugin checks for real plugins: no plugin crate has landed yet; running them on the kplug-selftest stand-in only",
        );
    }
    found.sort();
    found
}

fn stand_in() -> (String, PathBuf) {
    let bin = workspace_bin(STAND_IN).expect("kplug-selftest is built by cargo test --workspace");
    (STAND_IN.to_string(), bin)
}

/// A PATH holding exactly these plugins, kubectl's own directory, and the basics.
fn plugin_path(dir: &Path, plugins: &[(String, PathBuf)]) -> String {
    for (name, bin) in plugins {
        std::fs::copy(bin, dir.join(binary_name(name))).unwrap();
    }
    let kubectl_dir = peers::path("KUBECTL").parent().unwrap().to_path_buf();
    format!("{}:{}:/usr/bin:/bin", dir.display(), kubectl_dir.display())
}

#[test]
fn kubectl_finds_lists_and_runs_every_plugin() {
    let mut plugins = built_plugins();
    plugins.push(stand_in());
    let dir = tempfile::tempdir().unwrap();
    let path = plugin_path(dir.path(), &plugins);
    let kubectl = peers::path("KUBECTL");

    for (name, _) in &plugins {
        let out = Command::new(&kubectl)
            .args([name.as_str(), "--help"])
            .env("PATH", &path)
            .output()
            .unwrap();
        let help = ok(&out, &format!("kubectl {name} --help"));
        assert!(help.contains(&format!("Usage: kubectl {name}")), "{help}");
    }

    // Completion through kubectl: `make install` links kubectl_complete-NAME
    // to the plugin, and kubectl (1.26+) runs it for `kubectl NAME <TAB>`.
    for (name, _) in plugins.iter().filter(|(n, _)| n != STAND_IN) {
        let binary = binary_name(name);
        std::os::unix::fs::symlink(
            &binary,
            dir.path()
                .join(binary.replacen("kubectl-", "kubectl_complete-", 1)),
        )
        .unwrap();
        let out = Command::new(&kubectl)
            .args(["__complete", name.as_str(), "compl"])
            .env("PATH", &path)
            .output()
            .unwrap();
        let said = ok(&out, &format!("kubectl __complete {name}"));
        assert!(
            said.lines().any(|l| l.starts_with("completion\t")),
            "{name}: {said}"
        );
        assert!(said.lines().any(|l| l == ":4"), "{name}: {said}");
    }

    let out = Command::new(&kubectl)
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    for (name, _) in &plugins {
        let file = dir.path().join(binary_name(name));
        assert!(
            stdout.contains(&file.display().to_string()),
            "{name} not listed:\n{stdout}"
        );
        assert!(
            !stderr
                .lines()
                .any(|l| l.contains("warning") && l.contains(&binary_name(name))),
            "kubectl plugin list warns about {name}:\n{stderr}"
        );
    }
}

/// Archive + manifest for a plugin, as `make dist` makes them.
fn dist(out: &Path, plugins: &[(String, PathBuf)]) -> Vec<(String, PathBuf, PathBuf)> {
    let (os, arch) = host_platform();
    let mut made = Vec::new();
    let real: Vec<&(String, PathBuf)> = plugins.iter().filter(|(n, _)| n != STAND_IN).collect();
    if !real.is_empty() {
        // The real packaging tool over the built binaries.
        let bin_dir = real[0].1.parent().unwrap();
        let tool = workspace_bin("kplug-dist").expect("kplug-dist is built");
        let o = Command::new(tool)
            .current_dir(workspace_root())
            .args(["--no-build", "--version", "v0.0.0-e2e", "--bin-dir"])
            .arg(bin_dir)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        ok(&o, "kplug-dist");
    }
    for (name, bin) in plugins {
        let binary = binary_name(name);
        let file = archive::archive_name(&binary, "v0.0.0-e2e", os, arch);
        let manifest = out.join(format!("{name}.yaml"));
        if name == STAND_IN {
            let tgz = out.join(&file);
            archive::write_tar_gz(
                &tgz,
                &[
                    (&binary, bin, 0o755),
                    ("LICENSE", &workspace_root().join("LICENSE"), 0o644),
                ],
            )
            .unwrap();
            let template = format!(
                "apiVersion: {}\nkind: Plugin\nmetadata:\n  name: {name}\nspec:\n  version: {{{{version}}}}\n  homepage: https://github.com/kplug/kplug\n  shortDescription: Stand-in plugin for end-to-end tests\n  description: |\n    Exercises the kplug library end to end.\n  platforms:\n  {{{{platforms}}}}\n",
                krew::API_VERSION
            );
            let rendered = krew::render(
                &template,
                "v0.0.0-e2e",
                &[RenderedPlatform {
                    os: os.into(),
                    arch: arch.into(),
                    uri: format!("https://example.invalid/{file}"),
                    sha256: archive::sha256_file(&tgz).unwrap(),
                    bin: binary.clone(),
                }],
            );
            std::fs::write(&manifest, rendered).unwrap();
        }
        krew::validate_file(&manifest).unwrap_or_else(|e| panic!("{e}"));
        made.push((name.clone(), manifest, out.join(file)));
    }
    made
}

#[test]
fn krew_installs_every_plugin_from_dist_output() {
    let mut plugins = built_plugins();
    plugins.push(stand_in());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dist");
    std::fs::create_dir(&out).unwrap();
    let made = dist(&out, &plugins);

    let (krew_root, krew) = krew_home(work.path());

    for (name, manifest, tgz) in &made {
        let o = krew(&[
            "krew",
            "install",
            &format!("--manifest={}", manifest.display()),
            &format!("--archive={}", tgz.display()),
        ]);
        ok(&o, &format!("kubectl krew install {name}"));
        let installed = krew_root.join("bin").join(binary_name(name));
        assert!(
            installed.exists(),
            "krew did not link {}",
            installed.display()
        );
        let store = krew_root.join("store").join(name).join("v0.0.0-e2e");
        assert!(
            store.join("LICENSE").exists(),
            "LICENSE not extracted into {}",
            store.display()
        );

        let o = krew(&[name, "--help"]);
        let help = ok(&o, &format!("kubectl {name} --help after krew install"));
        assert!(help.contains(&format!("Usage: kubectl {name}")), "{help}");

        // krew's receipt records the installed version (`krew list` needs an index we don't have).
        let receipt =
            std::fs::read_to_string(krew_root.join("receipts").join(format!("{name}.yaml")))
                .unwrap();
        assert!(receipt.contains("version: v0.0.0-e2e"), "{receipt}");
    }
}

/// As users install: `make dist` output served over HTTP, its krew index
/// added with `kubectl krew index add`, every plugin installed from it, a
/// next release published into the index and picked up by `krew upgrade`,
/// then `krew uninstall` leaves nothing behind.
#[test]
fn krew_installs_from_the_index_upgrades_and_uninstalls() {
    let plugins = built_plugins();
    if plugins.is_empty() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dist");
    std::fs::create_dir(&out).unwrap();
    let server = kplug_tests::e2e::http::FileServer::start(&out);
    let bin_dir = plugins[0].1.parent().unwrap().to_path_buf();
    let release = |version: &str| {
        let o = Command::new(workspace_bin("kplug-dist").expect("kplug-dist is built"))
            .current_dir(workspace_root())
            .args(["--no-build", "--version", version, "--bin-dir"])
            .arg(&bin_dir)
            .arg("--out")
            .arg(&out)
            .args(["--base-url", &format!("http://{}/releases", server.host)])
            .output()
            .unwrap();
        ok(&o, &format!("kplug-dist {version}"));
    };
    release("v0.0.1");

    let (krew_root, kubectl) = krew_home(work.path());
    let index = format!("file://{}", out.join("krew-index").display());
    ok(
        &kubectl(&["krew", "index", "add", "kplug", &index]),
        "krew index add",
    );
    for (name, _) in &plugins {
        ok(
            &kubectl(&["krew", "install", &format!("kplug/{name}")]),
            &format!("krew install kplug/{name}"),
        );
        let help = ok(
            &kubectl(&[name.as_str(), "--help"]),
            &format!("kubectl {name}"),
        );
        assert!(help.contains(&format!("Usage: kubectl {name}")), "{help}");
    }
    let receipt = |name: &str| {
        std::fs::read_to_string(krew_root.join("receipts").join(format!("{name}.yaml")))
            .unwrap_or_default()
    };
    let (first, _) = &plugins[0];
    assert!(
        receipt(first).contains("version: v0.0.1"),
        "{}",
        receipt(first)
    );

    // The next release, one more commit in the same index.
    release("v0.0.2");
    ok(&kubectl(&["krew", "update"]), "krew update");
    ok(&kubectl(&["krew", "upgrade", first]), "krew upgrade");
    assert!(
        receipt(first).contains("version: v0.0.2"),
        "{}",
        receipt(first)
    );
    assert!(krew_root.join("store").join(first).join("v0.0.2").exists());

    for (name, _) in &plugins {
        ok(
            &kubectl(&["krew", "uninstall", name]),
            &format!("krew uninstall {name}"),
        );
        assert!(!krew_root.join("bin").join(binary_name(name)).exists());
        assert!(
            !krew_root.join("store").join(name).exists(),
            "{name} left files"
        );
        assert!(receipt(name).is_empty(), "{name}: receipt left");
    }
}

/// A home of its own for krew under `work`: its root, and kubectl run with
/// krew as its `krew` plugin and krew's bin directory on PATH.
fn krew_home(work: &Path) -> (PathBuf, impl Fn(&[&str]) -> std::process::Output) {
    let bin_dir = work.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(peers::path("KREW"), bin_dir.join("kubectl-krew")).unwrap();
    let krew_root = work.join("krew-root");
    let kubectl_dir = peers::path("KUBECTL").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}:{}:/usr/bin:/bin",
        krew_root.join("bin").display(),
        bin_dir.display(),
        kubectl_dir.display()
    );
    let (root, home) = (krew_root.clone(), work.to_path_buf());
    let run = move |args: &[&str]| {
        Command::new(peers::path("KUBECTL"))
            .args(args)
            .env("PATH", &path)
            .env("KREW_ROOT", &root)
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    (krew_root, run)
}
