//! The registry flags shared by commands that read an image, and finding the
//! compatibility artifact to use.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use kplug_compat::registry::artifact::{self, Artifact, Platform};
use kplug_compat::registry::cache::{Cache, Choice};
use kplug_compat::registry::client::{Auth, Options, Registry};
use kplug_compat::registry::reference::Reference;
use kplug_compat::registry::roots;
use kplug_compat::sources::{Needed, needed_by};
use kplug_compat::spec::{ARTIFACT_TYPE, SPEC_MEDIA_TYPE, Spec};

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Registry flags")]
pub struct RegistryArgs {
    /// Use HTTP instead of HTTPS for the registry
    #[arg(long)]
    pub plain_http: bool,

    /// Skip TLS certificate verification
    #[arg(long)]
    pub insecure: bool,

    /// Trust this CA certificate (PEM) for the registry
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Give up on a registry call after this long, e.g. 30s, 2m
    #[arg(long, value_name = "DURATION", value_parser = kplug::cli::parse_duration, default_value = "60s")]
    pub registry_timeout: Duration,

    /// Registry user name (the password comes from --registry-password-stdin)
    #[arg(long, value_name = "NAME", requires = "registry_password_stdin")]
    pub registry_username: Option<String>,

    /// Read the registry password from standard input
    #[arg(
        long,
        requires = "registry_username",
        conflicts_with = "registry_token_stdin"
    )]
    pub registry_password_stdin: bool,

    /// Read a registry bearer token from standard input
    #[arg(long)]
    pub registry_token_stdin: bool,

    /// The platform whose manifest to look at besides the index (default: this host's), e.g. linux/arm64
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
}

impl RegistryArgs {
    /// What the process will speak, for [`roots::prepare`]. `other_tls`:
    /// the command also talks TLS to the API server.
    pub fn roots_plan(&self, other_tls: bool, reads_only: bool) -> roots::Plan {
        roots::Plan {
            plain_http: self.plain_http,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            other_tls,
            reads_only,
        }
    }
}

fn stdin_secret() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the secret from standard input")?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

impl RegistryArgs {
    /// Connection options for `image`'s registry. Credentials: the stdin
    /// flags, else the user's docker or podman login, else anonymous.
    pub fn options(&self, image: &Reference) -> anyhow::Result<Options> {
        let auth = if self.registry_password_stdin {
            let username = self.registry_username.clone().unwrap_or_default();
            Auth::Basic {
                username,
                password: stdin_secret()?,
            }
        } else if self.registry_token_stdin {
            Auth::Bearer(stdin_secret()?)
        } else {
            kplug_compat::registry::credentials::from_user_files(&image.registry)
                .unwrap_or(Auth::Anonymous)
        };
        Ok(Options {
            plain_http: self.plain_http,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            timeout: Some(self.registry_timeout),
            auth,
            cache: kplug_compat::registry::cache::Cache::from_env(),
        })
    }

    pub fn platform(&self) -> anyhow::Result<Platform> {
        match &self.platform {
            Some(p) => Ok(Platform::parse(p).map_err(kplug::Error::Usage)?),
            None => Ok(Platform::host()),
        }
    }
}

pub fn parse_reference(text: &str) -> anyhow::Result<Reference> {
    Ok(Reference::parse(text).map_err(|e| kplug::Error::Usage(e.to_string()))?)
}

pub use kplug::cli::runtime;

/// The spec of `image`: from the artifact `digest`, or the newest one found
/// on the index and this platform's manifest. Says on stderr which it used.
pub async fn fetch_spec(
    image: &Reference,
    args: &RegistryArgs,
    digest: Option<&str>,
) -> anyhow::Result<(Artifact, String)> {
    let registry = Registry::new(image, &args.options(image)?)?;
    let platform = args.platform()?;
    let (_, found) = registry.find(image, &platform).await?;
    let chosen = match digest {
        Some(d) => found
            .iter()
            .find(|a| a.digest == d)
            .cloned()
            .with_context(|| {
                format!(
                    "image {image} has no compatibility artifact {d} (found: {})",
                    list(&found)
                )
            })?,
        None => match artifact::newest(&found) {
            Some(a) => a.clone(),
            None => bail!(
                "image {image} has no compatibility artifact (looked on the index and the manifest of {platform}); attach one with `kubectl compat attach` or `oras attach --artifact-type {ARTIFACT_TYPE} {image} spec.yaml:{SPEC_MEDIA_TYPE}`"
            ),
        },
    };
    // One write: stderr is unbuffered, and the pieces would each be one.
    let line = format!(
        "using compatibility artifact {} attached to the {} of {image}{}\n",
        chosen.digest,
        if chosen.attached_to == "index" || chosen.attached_to == "manifest" {
            chosen.attached_to.clone()
        } else {
            format!("{} manifest", chosen.attached_to)
        },
        chosen
            .created
            .as_deref()
            .map(|c| format!(" (created {c})"))
            .unwrap_or_default()
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    let text = registry.spec_text(image, &chosen.digest).await?;
    Ok((chosen, text))
}

/// What a choice of artifact is remembered under: the image, the platform
/// and the artifact asked for.
fn choice_key(image: &Reference, platform: &Platform, digest: Option<&str>) -> String {
    format!("{image} {platform} {}", digest.unwrap_or("newest"))
}

fn list(found: &[Artifact]) -> String {
    if found.is_empty() {
        "none".into()
    } else {
        found
            .iter()
            .map(|a| a.digest.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where the spec comes from: a file, or an image's compatibility artifact.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecSource {
    /// The compatibility spec (YAML or JSON); - reads standard input
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "image",
        conflicts_with = "image"
    )]
    pub spec: Option<PathBuf>,

    /// Read the spec from the image's compatibility artifact in its registry
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// With --image: use this artifact instead of the newest
    #[arg(long, value_name = "DIGEST", requires = "image")]
    pub digest: Option<String>,
}

impl SpecSource {
    pub async fn load(&self, registry: &RegistryArgs) -> anyhow::Result<Spec> {
        match (&self.spec, &self.image) {
            (Some(path), _) => super::input::load_spec(path),
            (None, Some(reference)) => {
                let reference = parse_reference(reference)?;
                let (artifact, text) =
                    fetch_spec(&reference, registry, self.digest.as_deref()).await?;
                let spec = kplug_compat::spec::parse(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "{reference}@{}: line {}: {}: {}",
                        artifact.digest,
                        e.line,
                        e.path,
                        e.message
                    )
                })?;
                Cache::from_env().put_choice(
                    &choice_key(&reference, &registry.platform()?, self.digest.as_deref()),
                    &Choice {
                        artifact: artifact.digest,
                        features: needed_by(&spec).features.into_iter().collect(),
                    },
                );
                Ok(spec)
            }
            (None, None) => unreachable!("clap requires --spec or --image"),
        }
    }

    /// For `--image`: what the spec of the artifact the last check of the
    /// same image used needs, as the cache kept it (no registry is asked).
    /// Only a guess, for starting work early: the registry may have a newer
    /// artifact now.
    pub fn guess(&self, registry: &RegistryArgs) -> Option<Needed> {
        let reference = parse_reference(self.image.as_ref()?).ok()?;
        let platform = registry.platform().ok()?;
        let key = choice_key(&reference, &platform, self.digest.as_deref());
        let choice = Cache::from_env().choice(&key)?;
        Some(Needed::of_features(choice.features))
    }
}
