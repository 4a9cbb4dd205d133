//! `make image`: the collector's OCI image as an OCI layout, pushed with
//! `oras cp` when a reference is given, and the in-cluster Deployment
//! pointed at it by digest.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "kplug-image",
    about = "Build the kubectl-eventlog OCI image without a container engine"
)]
struct Cli {
    /// The statically linked kubectl-eventlog binary
    #[arg(long)]
    binary: PathBuf,
    /// Where to write the OCI image layout
    #[arg(long, default_value = "dist/image")]
    out: PathBuf,
    /// The tag inside the layout (and, with --push, in the registry)
    #[arg(long, default_value = "latest")]
    tag: String,
    /// CA certificates to put in the image
    #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
    ca_certificates: PathBuf,
    /// Push to this repository (REGISTRY/REPO) with oras
    #[arg(long)]
    push: Option<String>,
    /// Talk plain HTTP to the registry (a local one)
    #[arg(long)]
    plain_http: bool,
    /// Point this manifest's `image:` at the pushed image by digest (repeat
    /// for several)
    #[arg(long)]
    deployment: Vec<PathBuf>,
    /// The oras executable
    #[arg(long, env = "ORAS", default_value = "oras")]
    oras: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !kplug_tests::image::is_static_elf(
        &std::fs::read(&cli.binary).with_context(|| format!("reading {}", cli.binary.display()))?,
    ) {
        bail!(
            "{} is not a statically linked executable: build it with RUSTFLAGS='-C target-feature=+crt-static' --target x86_64-unknown-linux-gnu",
            cli.binary.display()
        );
    }
    let _ = std::fs::remove_dir_all(&cli.out);
    let built = kplug_tests::image::build(&cli.binary, &cli.ca_certificates, &cli.out, &cli.tag)
        .with_context(|| format!("writing the image layout to {}", cli.out.display()))?;
    println!(
        "{}:{} {} ({} bytes compressed)",
        cli.out.display(),
        cli.tag,
        built.digest,
        built.layer_size
    );
    let Some(repo) = &cli.push else { return Ok(()) };
    let mut oras = Command::new(&cli.oras);
    oras.args(["cp", "--from-oci-layout"])
        .arg(format!("{}:{}", cli.out.display(), cli.tag))
        .arg(format!("{repo}:{}", cli.tag));
    if cli.plain_http {
        oras.arg("--to-plain-http");
    }
    let out = oras
        .output()
        .with_context(|| format!("running {}", cli.oras.display()))?;
    if !out.status.success() {
        bail!(
            "oras cp failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let reference = format!("{repo}@{}", built.digest);
    println!("pushed {reference}");
    for path in &cli.deployment {
        let text = std::fs::read_to_string(path)?;
        let mut changed = 0;
        let rewritten: Vec<String> = text
            .lines()
            .map(|l| match l.split_once("image: ") {
                Some((indent, _)) if indent.trim().is_empty() || indent.trim() == "-" => {
                    changed += 1;
                    format!("{indent}image: {reference}")
                }
                _ => l.to_string(),
            })
            .collect();
        if changed != 1 {
            bail!(
                "{}: expected one image: line, found {changed}",
                path.display()
            );
        }
        std::fs::write(path, rewritten.join("\n") + "\n")?;
        println!("{} now runs {reference}", path.display());
    }
    Ok(())
}
