//! The registry flags shared by commands that read an image, and finding the
//! compatibility artifact to use.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use kplug_compat::registry::artifact::{self, Artifact, Platform};
use kplug_compat::registry::client::{Auth, Options, Registry};
use kplug_compat::registry::reference::Reference;
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

/// Where OpenSSL-style probing finds a system CA bundle on Linux.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/etc/pki/tls/cacert.pem",
];

impl RegistryArgs {
    /// oci-client 0.18 builds a throwaway default HTTP client beside the one
    /// we configure, and that one loads the system root store: about 10 ms
    /// per run, and a panic on systems without CA certificates (a scratch
    /// container). Point it (through `SSL_CERT_FILE`, which the root loader
    /// honours) at a one-certificate file when no TLS is spoken, and at the
    /// `--ca-file` when the system has no bundle. `cluster_too`: the command
    /// also talks TLS to the API server, whose client may need the real
    /// roots. Must run before any thread starts: it changes the environment.
    #[allow(unsafe_code)]
    pub fn prepare_roots(&self, cluster_too: bool) -> anyhow::Result<()> {
        let no_tls = self.plain_http && !cluster_too;
        let user_file = std::env::var_os("SSL_CERT_FILE");
        if let Some(f) = &user_file
            && !no_tls
            && !std::path::Path::new(f).is_file()
        {
            bail!(
                "SSL_CERT_FILE={} is not a readable file; point it at a PEM bundle or unset it",
                std::path::Path::new(f).display()
            );
        }
        let has_system_roots = user_file.is_some()
            || std::env::var_os("SSL_CERT_DIR").is_some()
            || SYSTEM_BUNDLES
                .iter()
                .any(|p| std::path::Path::new(p).is_file());
        let file = if no_tls || (self.insecure && !has_system_roots) {
            let path =
                std::env::temp_dir().join(format!("kplug-compat-roots-{}.pem", std::process::id()));
            std::fs::write(
                &path,
                include_bytes!("../registry/plain-http-placeholder.pem"),
            )
            .with_context(|| format!("writing {}", path.display()))?;
            PLACEHOLDER.with(|p| *p.borrow_mut() = Some(path.clone()));
            path
        } else if has_system_roots {
            return Ok(());
        } else if let Some(ca) = &self.ca_file {
            ca.clone()
        } else {
            bail!(
                "this system has no CA certificates (none of {}); install them (ca-certificates), set SSL_CERT_FILE, or pass --ca-file",
                SYSTEM_BUNDLES.join(", ")
            );
        };
        // SAFETY: called from main before any other thread exists, so no
        // thread can read the environment concurrently.
        unsafe { std::env::set_var("SSL_CERT_FILE", &file) };
        if no_tls {
            // Otherwise the default certificate directory is read as well;
            // a directory that does not exist is skipped.
            let none = file.with_extension("none");
            // SAFETY: as above.
            unsafe { std::env::set_var("SSL_CERT_DIR", none) };
        }
        Ok(())
    }
}

thread_local! {
    /// The placeholder file written by [`RegistryArgs::prepare_roots`].
    static PLACEHOLDER: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Remove the placeholder file, if one was written (call at exit).
pub fn cleanup_roots() {
    PLACEHOLDER.with(|p| {
        if let Some(path) = p.borrow_mut().take() {
            let _ = std::fs::remove_file(path);
        }
    });
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
    eprintln!(
        "using compatibility artifact {} attached to the {} of {image}{}",
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
    let text = registry.spec_text(image, &chosen.digest).await?;
    Ok((chosen, text))
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
                kplug_compat::spec::parse(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "{reference}@{}: line {}: {}: {}",
                        artifact.digest,
                        e.line,
                        e.path,
                        e.message
                    )
                })
            }
            (None, None) => unreachable!("clap requires --spec or --image"),
        }
    }
}
