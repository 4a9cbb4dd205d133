//! The registry calls `kubectl compat` needs: resolve an image, list its
//! referrers (the referrers API, falling back to the tag schema), and fetch a
//! compatibility spec, with manifests and blobs capped at 4 MiB. Every failure
//! is one sentence that says what to do. Credentials never reach messages.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use serde_json::Value;

use super::artifact::{Artifact, CREATED, Platform};
use super::reference::Reference;
use crate::spec::ARTIFACT_TYPE;

pub const MAX_BYTES: i64 = 4 * 1024 * 1024;

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// How to reach and authenticate to the registry.
#[derive(Clone, Default)]
pub struct Options {
    pub plain_http: bool,
    pub insecure: bool,
    pub ca_file: Option<std::path::PathBuf>,
    pub timeout: Option<Duration>,
    pub auth: Auth,
}

/// Credentials; `Debug` never shows secrets.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RegistryError(pub String);

pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
    timeout: Duration,
    host: String,
}

/// An image's root manifest: its digest and, for an index, its platforms.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub digest: String,
    pub is_index: bool,
    /// (digest, platform) of each index entry.
    pub manifests: Vec<(String, String, String, Option<String>)>,
}

impl Registry {
    pub fn new(reference: &Reference, options: &Options) -> Result<Registry, RegistryError> {
        let mut config = ClientConfig {
            protocol: if options.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: options.insecure,
            ..Default::default()
        };
        if let Some(ca) = &options.ca_file {
            let data = std::fs::read(ca).map_err(|e| {
                RegistryError(format!("cannot read --ca-file {}: {e}", ca.display()))
            })?;
            config
                .extra_root_certificates
                .push(oci_client::client::Certificate {
                    encoding: oci_client::client::CertificateEncoding::Pem,
                    data,
                });
        }
        let auth = match &options.auth {
            Auth::Anonymous => RegistryAuth::Anonymous,
            Auth::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Auth::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        };
        Ok(Registry {
            client: oci_client::Client::new(config),
            auth,
            timeout: options.timeout.unwrap_or(Duration::from_secs(60)),
            host: reference.registry.clone(),
        })
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(RegistryError(format!(
                "{what}: registry {} did not answer within {:?}; raise --registry-timeout or check the network",
                self.host, self.timeout
            ))),
            Ok(Err(e)) => Err(explain(&self.host, what, e)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn oci(r: &Reference, digest: Option<&str>) -> oci_client::Reference {
        match (digest.or(r.digest.as_deref()), &r.tag) {
            (Some(d), _) => oci_client::Reference::with_digest(
                r.api_host().into(),
                r.repository.clone(),
                d.into(),
            ),
            (None, t) => oci_client::Reference::with_tag(
                r.api_host().into(),
                r.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }

    /// The manifest or index the reference names.
    pub async fn resolve(&self, r: &Reference) -> Result<Resolved, RegistryError> {
        let (bytes, digest) = self
            .call(
                &format!("resolving {r}"),
                self.client
                    .pull_manifest_raw(&Self::oci(r, None), &self.auth, &ACCEPT),
            )
            .await?;
        if bytes.len() as i64 > MAX_BYTES {
            return Err(RegistryError(format!(
                "the manifest of {r} is larger than 4 MiB; refusing to read it"
            )));
        }
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError(format!("the manifest of {r} is not valid JSON: {e}")))?;
        let media_type = doc["mediaType"].as_str().unwrap_or_default();
        let is_index = INDEX_TYPES.contains(&media_type) || doc.get("manifests").is_some();
        let manifests = doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let p = &m["platform"];
                Some((
                    m["digest"].as_str()?.to_string(),
                    p["os"].as_str().unwrap_or_default().to_string(),
                    p["architecture"].as_str().unwrap_or_default().to_string(),
                    p["variant"].as_str().map(str::to_string),
                ))
            })
            .collect();
        Ok(Resolved {
            digest,
            is_index,
            manifests,
        })
    }

    /// Compatibility artifacts referring to `subject` (a digest in the repository).
    pub async fn artifacts(
        &self,
        r: &Reference,
        subject: &str,
        attached_to: &str,
    ) -> Result<Vec<Artifact>, RegistryError> {
        let index = self
            .call(
                &format!("listing the referrers of {}", r.with_digest(subject)),
                self.client
                    .pull_referrers(&Self::oci(r, Some(subject)), Some(ARTIFACT_TYPE)),
            )
            .await?;
        Ok(index
            .manifests
            .into_iter()
            .map(|m| Artifact {
                created: m.annotations.as_ref().and_then(|a| a.get(CREATED).cloned()),
                digest: m.digest,
                media_type: m.media_type,
                artifact_type: m.artifact_type,
                size: m.size,
                subject: subject.to_string(),
                attached_to: attached_to.to_string(),
            })
            .filter(Artifact::is_compatibility)
            .collect())
    }

    /// Artifacts on the index and on the manifest of `platform` (or, for a
    /// single-platform image, on its manifest), index first.
    pub async fn find(
        &self,
        r: &Reference,
        platform: &Platform,
    ) -> Result<(Resolved, Vec<Artifact>), RegistryError> {
        let root = self.resolve(r).await?;
        let mut out = Vec::new();
        if root.is_index {
            out.extend(self.artifacts(r, &root.digest, "index").await?);
            if let Some((d, ..)) = root
                .manifests
                .iter()
                .find(|(_, os, arch, v)| platform.matches(os, arch, v.as_deref()))
            {
                out.extend(self.artifacts(r, d, &platform.to_string()).await?);
            }
        } else {
            out.extend(self.artifacts(r, &root.digest, "manifest").await?);
        }
        Ok((root, out))
    }

    /// The spec inside an artifact: the first layer of its manifest.
    pub async fn spec_text(&self, r: &Reference, artifact: &str) -> Result<String, RegistryError> {
        let (bytes, _) = self
            .call(
                &format!("fetching artifact {artifact}"),
                self.client.pull_manifest_raw(
                    &Self::oci(r, Some(artifact)),
                    &self.auth,
                    &["application/vnd.oci.image.manifest.v1+json"],
                ),
            )
            .await?;
        if bytes.len() as i64 > MAX_BYTES {
            return Err(RegistryError(format!(
                "artifact {artifact} has a manifest larger than 4 MiB; refusing to read it"
            )));
        }
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
            RegistryError(format!("artifact {artifact} has an invalid manifest: {e}"))
        })?;
        let layer = &doc["layers"][0];
        let (Some(digest), Some(size)) = (layer["digest"].as_str(), layer["size"].as_i64()) else {
            return Err(RegistryError(format!(
                "artifact {artifact} has no layer: it holds no compatibility spec"
            )));
        };
        if size > MAX_BYTES {
            return Err(RegistryError(format!(
                "the spec in artifact {artifact} is {size} bytes, over the 4 MiB limit"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        self.call(
            &format!("fetching the spec of {artifact}"),
            self.client
                .pull_blob(&Self::oci(r, Some(artifact)), digest, &mut data),
        )
        .await?;
        String::from_utf8(data).map_err(|_| {
            RegistryError(format!("the spec in artifact {artifact} is not UTF-8 text"))
        })
    }
}

/// One sentence per failure, with what to do.
fn explain(host: &str, what: &str, e: OciDistributionError) -> RegistryError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    let advice = if matches!(e, OciDistributionError::AuthenticationFailure(_))
        || lower.contains("401")
        || lower.contains("unauthorized")
    {
        format!(
            "the registry refused the credentials; log in (docker login {host}) or pass --registry-username with --registry-password-stdin"
        )
    } else if lower.contains("403") || lower.contains("denied") {
        "access denied; check the credentials have pull (or push) rights on this repository"
            .to_string()
    } else if matches!(e, OciDistributionError::ImageManifestNotFoundError(_))
        || lower.contains("manifest unknown")
        || lower.contains("not found")
        || lower.contains("404")
    {
        "not found; check the repository, tag or digest".to_string()
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
        "TLS failed; use --ca-file for a private CA, --insecure to skip verification, or --plain-http for an HTTP registry".to_string()
    } else if lower.contains("connect")
        || lower.contains("dns")
        || lower.contains("resolve")
        || lower.contains("refused")
    {
        format!(
            "cannot reach {host}; check the address and port (and --plain-http for an HTTP registry)"
        )
    } else if lower.contains("429") || lower.contains("toomanyrequests") {
        "the registry is rate-limiting; wait and retry, or authenticate for a higher limit"
            .to_string()
    } else {
        "the registry answered with an error".to_string()
    };
    RegistryError(format!("{what}: {advice} ({})", one_line(&text)))
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.len() > 300 {
        format!(
            "{}…",
            &flat[..flat.char_indices().nth(299).map_or(flat.len(), |(i, _)| i)]
        )
    } else {
        flat
    }
}
