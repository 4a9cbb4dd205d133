//! `kubectl compat discover` and `kubectl compat get`.

use std::io::Write;

use kplug::cli::{KubectlArgs, OutputFormat};
use kplug::output::format::Printer;
use kplug::output::table::Table;
use kplug_compat::registry::client::Registry;

use super::image::{self, RegistryArgs};

/// List the compatibility artifacts of an image (on its index and its platform manifest)
#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// The image, e.g. ghcr.io/org/app:v1 (short names like nginx mean docker.io/library/nginx:latest)
    #[arg(long, value_name = "IMAGE")]
    image: String,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Output format (default: a table); name prints the artifacts' digests
    #[arg(short = 'o', long, value_name = "FORMAT")]
    output: Option<OutputFormat>,
}

pub fn discover(kube: &KubectlArgs, args: DiscoverArgs) -> anyhow::Result<kplug::Code> {
    let reference = image::parse_reference(&args.image)?;
    let platform = args.registry.platform()?;
    let registry = Registry::new(&reference, &args.registry.options(&reference)?)?;
    let (_, found) = image::runtime()?.block_on(registry.find(&reference, &platform))?;
    let mut out = std::io::stdout().lock();
    let printer = Printer::new(kube, args.output);
    match args.output {
        Some(OutputFormat::Json | OutputFormat::Yaml) => {
            let doc = serde_json::json!({
                "apiVersion": "kplug.dev/v1alpha1",
                "kind": "CompatibilityArtifactList",
                "image": reference.to_string(),
                "items": found,
            });
            printer.print_value(&doc, &mut out)?;
        }
        Some(OutputFormat::Name) => {
            for a in &found {
                writeln!(out, "{}", a.digest)?;
            }
        }
        _ if found.is_empty() => eprintln!("image {reference} has no compatibility artifact"),
        _ => {
            let mut t = Table::new(&["DIGEST", "CREATED", "ATTACHED TO", "SIZE", "MEDIA TYPE"])
                .wide_column("SUBJECT");
            for a in &found {
                t.push([
                    a.digest.clone(),
                    a.created.clone().unwrap_or_else(|| "<unknown>".into()),
                    a.attached_to.clone(),
                    a.size.to_string(),
                    a.media_type.clone(),
                    a.subject.clone(),
                ]);
            }
            printer.print_table(&t, &mut out)?;
        }
    }
    Ok(kplug::Code::Success)
}

/// Print the compatibility spec attached to an image
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The image
    #[arg(long, value_name = "IMAGE")]
    image: String,

    /// The artifact to print (default: the newest, as validate-node picks)
    #[arg(long, value_name = "DIGEST")]
    digest: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn get(args: GetArgs) -> anyhow::Result<kplug::Code> {
    let reference = image::parse_reference(&args.image)?;
    let (_, text) = image::runtime()?.block_on(image::fetch_spec(
        &reference,
        &args.registry,
        args.digest.as_deref(),
    ))?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(kplug::Code::Success)
}
