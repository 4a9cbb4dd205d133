//! `kubectl compat attach`.

use std::path::PathBuf;

use anyhow::Context;
use kplug::finding::Severity;
use kplug_compat::registry::artifact::Platform;
use kplug_compat::registry::client::Registry;

use super::image::{self, RegistryArgs};
use super::input;

/// Attach a compatibility spec to an image in its registry, as `oras attach` does
///
/// The spec is linted first; errors stop the attach (exit 3) unless --force.
/// On registries without the referrers API the referrers tag
/// (`sha256-<digest>`) is created or updated, keeping its other entries.
/// Prints the artifact's digest.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to attach to
    #[arg(long, value_name = "IMAGE")]
    image: String,

    /// The spec file
    #[arg(value_name = "SPEC")]
    spec: PathBuf,

    /// Attach even when lint finds errors
    #[arg(long)]
    force: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args) -> anyhow::Result<kplug::Code> {
    let reference = image::parse_reference(&args.image)?;
    let text = input::read_text(&args.spec)?;
    let name = input::display(&args.spec);
    let findings = kplug_compat::lint::lint(&text, &name);
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    for f in &errors {
        eprintln!(
            "{}:{}: {}: {}",
            name,
            f.object.line.unwrap_or(0),
            f.code,
            f.message
        );
    }
    if !errors.is_empty() && !args.force {
        anyhow::bail!(kplug::Error::Problems(format!(
            "{name} has {} lint error(s); fix them (kubectl compat lint {name}) or pass --force",
            errors.len()
        )));
    }
    // --platform attaches to that platform's manifest; without it, to what the reference names.
    let platform = args
        .registry
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(kplug::Error::Usage)?;
    let registry = Registry::new(&reference, &args.registry.options(&reference)?)?;
    let title = args
        .spec
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("spec.yaml")
        .to_string();
    let created = kplug_compat::time::format_rfc3339(kplug_compat::time::now());
    let digest = image::runtime()?
        .block_on(registry.attach(
            &reference,
            platform.as_ref(),
            text.as_bytes(),
            &title,
            &created,
        ))
        .with_context(|| format!("attaching {name} to {reference}"))?;
    println!("{digest}");
    Ok(kplug::Code::Success)
}

/// Delete a compatibility artifact from the registry (and from the referrers tag-schema index)
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The image the artifact is attached to
    #[arg(long, value_name = "IMAGE")]
    image: String,

    /// The artifact's digest (see `kubectl compat discover`)
    #[arg(long, value_name = "DIGEST")]
    digest: String,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn remove(args: RemoveArgs) -> anyhow::Result<kplug::Code> {
    let reference = image::parse_reference(&args.image)?;
    let platform = args.registry.platform()?;
    let registry = Registry::new(&reference, &args.registry.options(&reference)?)?;
    image::runtime()?.block_on(async {
        let (_, found) = registry.find(&reference, &platform).await?;
        let artifact = found.iter().find(|a| a.digest == args.digest).with_context(|| {
            format!("image {reference} has no compatibility artifact {} (see kubectl compat discover)", args.digest)
        })?;
        registry.remove(&reference, artifact).await?;
        println!("removed {}", artifact.digest);
        anyhow::Ok(kplug::Code::Success)
    })
}
