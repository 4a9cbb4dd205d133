//! The registry calls `kubectl compat` needs: resolve an image, list its
//! referrers (the referrers API, falling back to the tag schema), and fetch a
//! compatibility spec, with manifests and blobs capped at 4 MiB. Every failure
//! is one sentence that says what to do. Credentials never reach messages.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use serde_json::Value;

use super::artifact::{self, Artifact, CREATED, Descriptor, Platform};
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

/// An image's root manifest and, for an index, its entries.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub descriptor: Descriptor,
    pub is_index: bool,
    pub manifests: Vec<IndexEntry>,
}

#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub descriptor: Descriptor,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Resolved {
    /// The entry of `platform` in an index.
    pub fn platform(&self, platform: &Platform) -> Option<&IndexEntry> {
        self.manifests
            .iter()
            .find(|m| platform.matches(&m.os, &m.arch, m.variant.as_deref()))
    }
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
            // One request per blob: specs are small, and some registries answer
            // chunked-upload starts without the Location oci-client needs.
            use_monolithic_push: true,
            ..Default::default()
        };
        if options.plain_http {
            // No TLS is spoken, but the HTTP client still loads every system
            // root certificate (10+ ms). Trusting only a placeholder skips that.
            config.tls_certs_only.push(oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data: include_bytes!("plain-http-placeholder.pem").to_vec(),
            });
        }
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

    /// [`Registry::call`] for reads, retried twice with backoff (0.25 s, 0.5 s,
    /// plus jitter) when the registry is rate-limiting (429) or failing (5xx)
    /// or the connection timed out.
    async fn read<T, Fut>(
        &self,
        what: &str,
        mut make: impl FnMut() -> Fut,
    ) -> Result<T, RegistryError>
    where
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = Duration::from_millis(250);
        for _ in 0..2 {
            match tokio::time::timeout(self.timeout, make()).await {
                Ok(Err(e)) if transient(&e) => {
                    let jitter = Duration::from_millis(u64::from(std::process::id() % 100));
                    tokio::time::sleep(delay + jitter).await;
                    delay *= 2;
                }
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => return Err(explain(&self.host, what, e)),
                Err(_) => {
                    return self
                        .call(
                            what,
                            std::future::pending::<Result<T, OciDistributionError>>(),
                        )
                        .await;
                }
            }
        }
        self.call(what, make()).await
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
        let target = Self::oci(r, None);
        let (bytes, digest) = self
            .read(&format!("resolving {r}"), || {
                self.client.pull_manifest_raw(&target, &self.auth, &ACCEPT)
            })
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
                Some(IndexEntry {
                    descriptor: Descriptor {
                        media_type: m["mediaType"]
                            .as_str()
                            .unwrap_or(artifact::MANIFEST_TYPE)
                            .to_string(),
                        digest: m["digest"].as_str()?.to_string(),
                        size: m["size"].as_u64().unwrap_or(0) as usize,
                    },
                    os: p["os"].as_str().unwrap_or_default().to_string(),
                    arch: p["architecture"].as_str().unwrap_or_default().to_string(),
                    variant: p["variant"].as_str().map(str::to_string),
                })
            })
            .collect();
        let media_type = match media_type {
            "" if is_index => artifact::INDEX_TYPE,
            "" => artifact::MANIFEST_TYPE,
            other => other,
        };
        let descriptor = Descriptor {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len(),
        };
        Ok(Resolved {
            descriptor,
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
        let target = Self::oci(r, Some(subject));
        let index = self
            .read(
                &format!("listing the referrers of {}", r.with_digest(subject)),
                || self.client.pull_referrers(&target, Some(ARTIFACT_TYPE)),
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
            out.extend(self.artifacts(r, &root.descriptor.digest, "index").await?);
            if let Some(entry) = root.platform(platform) {
                out.extend(
                    self.artifacts(r, &entry.descriptor.digest, &platform.to_string())
                        .await?,
                );
            }
        } else {
            out.extend(
                self.artifacts(r, &root.descriptor.digest, "manifest")
                    .await?,
            );
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

impl Registry {
    /// Upload a blob. A registry that stores it but omits the `Location`
    /// header oci-client wants (go-containerregistry's does) still counts:
    /// the blob is checked for instead.
    async fn put_blob(
        &self,
        target: &oci_client::Reference,
        data: &[u8],
        digest: &str,
        what: &str,
    ) -> Result<(), RegistryError> {
        if self
            .client
            .blob_exists(target, digest)
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        match self
            .call(what, self.client.push_blob(target, data.to_vec(), digest))
            .await
        {
            Ok(_) => Ok(()),
            Err(_)
                if self
                    .client
                    .blob_exists(target, digest)
                    .await
                    .unwrap_or(false) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Attach `spec` to the image (or, with `platform`, to that platform's
    /// manifest of an index) as `oras attach` does; keep the referrers
    /// tag-schema index up to date where the registry has no referrers API.
    /// Returns the artifact's digest.
    pub async fn attach(
        &self,
        r: &Reference,
        platform: Option<&Platform>,
        spec: &[u8],
        title: &str,
        created: &str,
    ) -> Result<String, RegistryError> {
        let root = self.resolve(r).await?;
        let subject = match platform {
            Some(p) if root.is_index => root
                .platform(p)
                .map(|e| e.descriptor.clone())
                .ok_or_else(|| RegistryError(format!("image {r} has no {p} manifest")))?,
            _ => root.descriptor.clone(),
        };
        let target = Self::oci(r, Some(&subject.digest));
        self.client
            .store_auth_if_needed(target.resolve_registry(), &self.auth)
            .await;
        self.put_blob(
            &target,
            artifact::EMPTY_CONFIG,
            artifact::EMPTY_DIGEST,
            "uploading the empty config",
        )
        .await?;
        let layer = Descriptor {
            media_type: artifact::LAYER_TYPE.into(),
            digest: artifact::digest(spec),
            size: spec.len(),
        };
        self.put_blob(&target, spec, &layer.digest, "uploading the spec")
            .await?;
        let manifest = artifact::attach_manifest(&subject, &layer, title, created);
        let digest = artifact::digest(&manifest);
        let content_type = http::HeaderValue::from_static(artifact::MANIFEST_TYPE);
        // Pushed by digest. oci-client panics when a registry omits Location on a
        // digest push unless the reference's tag is the URL's last segment, so
        // the digest doubles as the tag here (it is never used as one).
        let by_digest = oci_client::Reference::with_tag_and_digest(
            r.api_host().into(),
            r.repository.clone(),
            digest.clone(),
            digest.clone(),
        );
        self.call(
            "uploading the artifact manifest",
            self.client
                .push_manifest_raw(&by_digest, manifest.clone(), content_type),
        )
        .await?;
        // A registry with the referrers API lists the artifact now; else keep the tag schema.
        let listed = self
            .artifacts(r, &subject.digest, "")
            .await?
            .iter()
            .any(|a| a.digest == digest);
        if !listed {
            let tag = artifact::tag_schema_tag(&subject.digest);
            let tag_ref = oci_client::Reference::with_tag(
                r.api_host().into(),
                r.repository.clone(),
                tag.clone(),
            );
            let existing = match self
                .client
                .pull_manifest_raw(&tag_ref, &self.auth, &[artifact::INDEX_TYPE])
                .await
            {
                Ok((bytes, _)) => serde_json::from_slice::<Value>(&bytes).ok(),
                Err(_) => None,
            };
            let index = artifact::tag_schema_index(
                existing.as_ref(),
                artifact::referrer_entry(&manifest, created),
            );
            let content_type = http::HeaderValue::from_static(artifact::INDEX_TYPE);
            self.call(
                &format!("updating the referrers tag {tag}"),
                self.client.push_manifest_raw(&tag_ref, index, content_type),
            )
            .await?;
        }
        Ok(digest)
    }
}

fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RequestError(e) => e.is_timeout(),
        _ => false,
    }
}

/// One sentence per failure, with what to do.
fn explain(host: &str, what: &str, e: OciDistributionError) -> RegistryError {
    if let OciDistributionError::RequestError(re) = &e {
        // The useful words (DNS, refused, certificate) are in the source chain.
        let mut chain = Vec::new();
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(re);
        while let Some(c) = cause {
            chain.push(c.to_string());
            cause = c.source();
        }
        let root = chain.last().cloned().unwrap_or_else(|| re.to_string());
        let all = chain.join(": ").to_lowercase();
        let advice = if all.contains("dns")
            || all.contains("lookup")
            || all.contains("resolve")
            || all.contains("name or service")
        {
            format!("cannot resolve {host}; check the registry name")
        } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
            "TLS failed; use --ca-file for a private CA, --insecure to skip verification, or --plain-http for an HTTP registry".to_string()
        } else if re.is_timeout() {
            format!("{host} did not answer in time; raise --registry-timeout or check the network")
        } else if re.is_connect() {
            format!(
                "cannot reach {host}; check the address and port (and --plain-http for an HTTP registry)"
            )
        } else {
            format!("the request to {host} failed")
        };
        return RegistryError(format!("{what}: {advice} ({})", one_line(&root)));
    }
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
        || lower.contains("unknown")
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
