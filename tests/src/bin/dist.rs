//! `make dist`: release archives and rendered krew manifests for every plugin
//! whose crate exists, validated with krew's rules before they are written.
//!
//!   kplug-dist [--out dist] [--version v0.1.0] [--base-url URL] [--no-build]
//!   kplug-dist validate MANIFEST... [--archives DIR]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kplug_tests::archive::{self, archive_name, host_platform};
use kplug_tests::krew::{self, RenderedPlatform, binary_name};

#[derive(Debug, Parser)]
#[command(
    name = "kplug-dist",
    about = "Build release archives and krew manifests"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Where archives and manifests go
    #[arg(long, default_value = "dist")]
    out: PathBuf,
    /// Release version with a leading v (default: the workspace version)
    #[arg(long)]
    version: Option<String>,
    /// Where the archives will be downloaded from (the manifests' uri prefix)
    #[arg(
        long,
        default_value = "https://github.com/kplug/kplug/releases/download"
    )]
    base_url: String,
    /// Directory of manifest templates
    #[arg(long, default_value = "krew")]
    krew_dir: PathBuf,
    /// Directory holding release binaries (default: target/release)
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Package binaries already in --bin-dir instead of building them
    #[arg(long)]
    no_build: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print the plugin binaries whose crates exist, one per line
    Plugins,
    /// Validate rendered manifests (and their archives, when found)
    Validate {
        manifests: Vec<PathBuf>,
        /// Directory holding the archives the manifests name
        #[arg(long)]
        archives: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    kplug::exit::finish(run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<kplug::Code> {
    match &cli.command {
        Some(Cmd::Validate {
            manifests,
            archives,
        }) => return validate(manifests, archives.as_deref()),
        Some(Cmd::Plugins) => {
            let defined = defined_bins()?;
            for (name, _) in templates(&cli.krew_dir)? {
                let binary = binary_name(&name);
                if defined.contains(&binary) {
                    println!("{binary}");
                }
            }
            return Ok(kplug::Code::Success);
        }
        None => {}
    }
    let version = cli
        .version
        .clone()
        .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
    if !krew::is_krew_version(&version) {
        bail!("version {version:?} must look like v1.2.3");
    }
    let templates = templates(&cli.krew_dir)?;
    let binaries: Vec<String> = templates
        .iter()
        .map(|(name, _)| binary_name(name))
        .collect();
    if !cli.no_build {
        build(&binaries)?;
    }
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
    let license = Path::new("LICENSE");
    let (os, arch) = host_platform();
    let mut written = 0;
    for ((name, template), binary) in templates.iter().zip(&binaries) {
        let built = cli.bin_dir.join(binary);
        if !built.is_file() {
            eprintln!(
                "skip {name}: no {binary} in {} (its plugin crate does not exist yet)",
                cli.bin_dir.display()
            );
            continue;
        }
        let file = archive_name(binary, &version, os, arch);
        let archive_path = cli.out.join(&file);
        // kubectl's completion executable for the plugin, beside it.
        let completer_name = binary.replacen("kubectl-", "kubectl_complete-", 1);
        let completer = cli.out.join(format!(".{completer_name}"));
        std::fs::write(&completer, kplug::complete::script(binary))?;
        archive::write_tar_gz(
            &archive_path,
            &[
                (binary, &built, 0o755),
                (&completer_name, &completer, 0o755),
                ("LICENSE", license, 0o644),
            ],
        )
        .with_context(|| format!("writing {}", archive_path.display()))?;
        std::fs::remove_file(&completer)?;
        let sha256 = archive::sha256_file(&archive_path)?;
        let rendered = krew::render(
            template,
            &version,
            &[RenderedPlatform {
                os: os.into(),
                arch: arch.into(),
                uri: format!("{}/{version}/{file}", cli.base_url.trim_end_matches('/')),
                sha256,
                bin: binary.clone(),
            }],
        );
        let manifest_path = cli.out.join(format!("{name}.yaml"));
        std::fs::write(&manifest_path, rendered)?;
        let plugin = krew::validate_file(&manifest_path)?;
        let problems = archive::check_archive(&archive_path, &plugin.spec.platforms[0]);
        if !problems.is_empty() {
            bail!("{}: {}", manifest_path.display(), problems.join("; "));
        }
        println!("{}  {}", archive_path.display(), manifest_path.display());
        let index_plugins = cli.out.join("krew-index/plugins");
        std::fs::create_dir_all(&index_plugins)?;
        std::fs::copy(&manifest_path, index_plugins.join(format!("{name}.yaml")))?;
        written += 1;
    }
    eprintln!(
        "{written} of {} plugins packaged for {os}/{arch} in {}",
        templates.len(),
        cli.out.display()
    );
    if written > 0 {
        commit_index(&cli.out.join("krew-index"), &version)?;
    }
    Ok(kplug::Code::Success)
}

/// Make the index a git repository (krew reads indexes with git) and
/// commit this release to it: `kubectl krew index add kplug file://…/krew-index`
/// installs from it, and each later release is one more commit that
/// `kubectl krew update` then `upgrade` pick up.
fn commit_index(index: &Path, version: &str) -> anyhow::Result<()> {
    let has_git = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_git {
        eprintln!(
            "krew index: {} has the manifests but is no git repository (git is not installed); krew needs one",
            index.display()
        );
        return Ok(());
    }
    let git = |args: &[&str]| -> anyhow::Result<()> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(index)
            .args([
                "-c",
                "user.name=kplug",
                "-c",
                "user.email=kplug@localhost",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .context("running git (needed for the krew index)")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    if !index.join(".git").exists() {
        git(&["init", "--quiet", "--initial-branch=master"])?;
    }
    git(&["add", "--all"])?;
    git(&[
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        &format!("kplug {version}"),
    ])?;
    eprintln!(
        "krew index: {} (kubectl krew index add kplug file://{})",
        index.display(),
        std::fs::canonicalize(index)?.display()
    );
    Ok(())
}

/// `(plugin name, template text)` for every `krew/*.yaml`, sorted.
fn templates(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            out.push((name, std::fs::read_to_string(&path)?));
        }
    }
    out.sort();
    Ok(out)
}

/// Names of every binary target in the workspace.
fn defined_bins() -> anyhow::Result<Vec<String>> {
    let meta = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    let meta: serde_json::Value =
        serde_json::from_slice(&meta.stdout).context("reading cargo metadata")?;
    let defined: Vec<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    Ok(defined)
}

/// Build the release binaries that some workspace crate defines.
fn build(binaries: &[String]) -> anyhow::Result<()> {
    let defined = defined_bins()?;
    let wanted: Vec<&String> = binaries.iter().filter(|b| defined.contains(b)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--release", "--locked"]);
    for b in wanted {
        cmd.args(["--bin", b]);
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(())
}

fn validate(manifests: &[PathBuf], archives: Option<&Path>) -> anyhow::Result<kplug::Code> {
    let mut failed = 0;
    for path in manifests {
        let result = krew::validate_file(path)
            .map_err(|e| e.problems)
            .and_then(|plugin| {
                let mut problems = Vec::new();
                if let Some(dir) = archives {
                    for p in &plugin.spec.platforms {
                        let file = p.uri.rsplit('/').next().unwrap_or("");
                        problems.extend(archive::check_archive(&dir.join(file), p));
                    }
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems)
                }
            });
        match result {
            Ok(()) => println!("ok       {}", path.display()),
            Err(problems) => {
                failed += 1;
                println!("invalid  {}", path.display());
                for p in problems {
                    println!("  - {p}");
                }
            }
        }
    }
    Ok(if failed == 0 {
        kplug::Code::Success
    } else {
        kplug::Code::Problems
    })
}
