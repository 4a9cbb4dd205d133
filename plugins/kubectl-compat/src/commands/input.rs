//! Reading specs and features for the commands, with the file in every error.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kplug_compat::features::{self, Features};
use kplug_compat::sources::{self, Discovery, Host};
use kplug_compat::spec::{self, Spec};

/// Read a file, or stdin for `-`.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub fn display(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

pub fn load_spec(path: &Path) -> anyhow::Result<Spec> {
    let text = read_text(path)?;
    spec::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}: {}: {}", display(path), e.line, e.path, e.message))
}

/// Where features come from: this host (default), a host root, or a file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FeatureSource {
    /// Features to use instead of this host's: `nfd export features` JSON, a NodeFeature or a list of them
    #[arg(long = "features", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The node to pick from a list of NodeFeatures (its objects are merged as nfd-master does)
    #[arg(long, value_name = "NAME", requires = "file")]
    pub node: Option<String>,

    /// Read host files under this directory (a container with the host mounted), /proc and /etc included
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub host_root: Option<PathBuf>,
}

/// The features to validate against, the node they belong to, and the
/// discovery warnings when they come from a host.
/// Features from a file or this host. With `spec_coming`, `needed` will be
/// set by the caller (on failure too) and host discovery may wait for it.
pub fn load_features(
    src: &FeatureSource,
    needed: &std::sync::OnceLock<sources::Needed>,
    spec_coming: bool,
) -> anyhow::Result<(Option<String>, Features, Vec<sources::Warning>)> {
    // clap keeps --node with --features and --host-root without it.
    match (&src.file, &src.host_root) {
        (Some(file), _) => {
            let text = read_text(file)?;
            let loaded =
                features::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", display(file)))?;
            let (node, f) = features::select(loaded, src.node.as_deref())
                .map_err(|e| anyhow::anyhow!("{}: {e}", display(file)))?;
            Ok((node, f, Vec::new()))
        }
        (None, root) => {
            let host = host(root.as_deref())?;
            let Discovery { features, warnings } = if spec_coming {
                sources::discover_awaiting(&host, &[], needed)
            } else {
                sources::discover_needed(&host, &[], needed)
            };
            Ok((Some(hostname(&host)), features, warnings))
        }
    }
}

/// This host, or the one mounted at `--host-root`.
fn host(root: Option<&Path>) -> anyhow::Result<Host> {
    match root {
        Some(r) => {
            if !r.is_dir() {
                bail!(kplug::Error::Usage(format!(
                    "--host-root {} is not a directory",
                    r.display()
                )));
            }
            Ok(Host::new(r, std::env::var("NODE_NAME").unwrap_or_default()))
        }
        None => Ok(Host::local()),
    }
}

/// Complete features discovered for a guess of the spec (see
/// [`sources::short_of`]) to what the spec that came needs: its short
/// sources run again. Features from a file are complete already.
pub fn complete(
    src: &FeatureSource,
    features: Features,
    warnings: Vec<sources::Warning>,
    guessed: &sources::Needed,
    needed: &sources::Needed,
) -> anyhow::Result<(Features, Vec<sources::Warning>)> {
    let short = sources::short_of(guessed, needed);
    if src.file.is_some() || short.is_empty() {
        return Ok((features, warnings));
    }
    let mut discovery = Discovery { features, warnings };
    sources::rediscover(
        &host(src.host_root.as_deref())?,
        &mut discovery,
        &short,
        needed,
    );
    Ok((discovery.features, discovery.warnings))
}

fn hostname(host: &Host) -> String {
    if !host.node_name.is_empty() {
        return host.node_name.clone();
    }
    host.read_trim("/proc/sys/kernel/hostname")
        .unwrap_or_else(|_| "localhost".into())
}
