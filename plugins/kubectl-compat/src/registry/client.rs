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
    options: Options,
    auth: RegistryAuth,
    timeout: Duration,
    host: String,
    /// Where the API is served (`registry-1.docker.io` for `docker.io`).
    api_host: String,
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
            options: options.clone(),
            client: oci_client::Client::new(config),
            auth,
            timeout: options.timeout.unwrap_or(Duration::from_secs(60)),
            host: reference.registry.clone(),
            api_host: reference.api_host().to_string(),
        })
    }

    /// [`explain`], plus for authentication failures the realm of the
    /// registry's challenge and advice that depends on whether credentials
    /// were sent. The secret itself is never part of the message.
    async fn fail(&self, what: &str, e: OciDistributionError) -> RegistryError {
        let text = e.to_string().to_lowercase();
        let status = if matches!(e, OciDistributionError::AuthenticationFailure(_))
            || text.contains("401")
            || text.contains("unauthorized")
            || text.contains("not authorized")
        {
            401
        } else if text.contains("403") || text.contains("denied") || text.contains("forbidden") {
            403
        } else {
            return explain(&self.host, what, e);
        };
        let realm = match self.realm().await {
            Some(r) => format!(" (realm \"{r}\")"),
            None => String::new(),
        };
        let host = &self.host;
        let advice = match (status, &self.options.auth) {
            (401, Auth::Anonymous) => format!(
                "{host} requires authentication{realm}; log in with `docker login {host}` or pass --registry-username with --registry-password-stdin (or --registry-token-stdin)"
            ),
            (401, _) => format!(
                "{host} rejected the credentials{realm}; check the username and password or token, or log in again with `docker login {host}`"
            ),
            _ => format!(
                "{host} denied access{realm}; the credentials lack pull (or push) rights on this repository"
            ),
        };
        RegistryError(format!("{what}: {advice}"))
    }

    /// The `realm` of the registry's anonymous `GET /v2/` challenge.
    async fn realm(&self) -> Option<String> {
        let http = self.http().ok()?;
        let url = format!("{}://{}/v2/", self.scheme(), self.api_host);
        let res = tokio::time::timeout(self.timeout, http.get(url).send())
            .await
            .ok()?
            .ok()?;
        let challenge = res.headers().get("www-authenticate")?.to_str().ok()?;
        challenge_field(challenge, "realm")
    }

    fn scheme(&self) -> &'static str {
        if self.options.plain_http {
            "http"
        } else {
            "https"
        }
    }

    /// A plain HTTP client with the same TLS settings as the OCI client, for
    /// what oci-client does not do.
    fn http(&self) -> Result<reqwest::Client, RegistryError> {
        let mut builder =
            reqwest::Client::builder().danger_accept_invalid_certs(self.options.insecure);
        if let Some(ca) = &self.options.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                RegistryError(format!("cannot read --ca-file {}: {e}", ca.display()))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| RegistryError(format!("--ca-file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build()
            .map_err(|e| RegistryError(format!("cannot set up HTTP: {e}")))
    }

    fn timed_out(&self, what: &str) -> RegistryError {
        RegistryError(format!(
            "{what}: registry {} did not answer within {:?}; raise --registry-timeout or check the network",
            self.host, self.timeout
        ))
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(self.timed_out(what)),
            Ok(Err(e)) => Err(self.fail(what, e).await),
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
                Ok(Err(e)) => return Err(self.fail(what, e).await),
                Err(_) => return Err(self.timed_out(what)),
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
        // A registry may send more than the manifest declared: stop at the limit.
        let mut data = CappedWriter::new(MAX_BYTES as usize);
        self.call(
            &format!("fetching the spec of {artifact}"),
            self.client
                .pull_blob(&Self::oci(r, Some(artifact)), digest, &mut data),
        )
        .await?;
        String::from_utf8(data.buf).map_err(|_| {
            RegistryError(format!("the spec in artifact {artifact} is not UTF-8 text"))
        })
    }
}

impl Registry {
    /// The platform of a single-manifest image, from its config blob.
    async fn single_platform(
        &self,
        r: &Reference,
    ) -> Result<(String, String, Option<String>), RegistryError> {
        let target = Self::oci(r, None);
        let (bytes, _) = self
            .read(&format!("reading the manifest of {r}"), || {
                self.client.pull_manifest_raw(&target, &self.auth, &ACCEPT)
            })
            .await?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError(format!("the manifest of {r} is not valid JSON: {e}")))?;
        let config = doc["config"]["digest"].as_str().ok_or_else(|| {
            RegistryError(format!(
                "the manifest of {r} names no config, so no platform"
            ))
        })?;
        let mut data = CappedWriter::new(1 << 20);
        self.call(
            &format!("reading the config of {r}"),
            self.client.pull_blob(&target, config, &mut data),
        )
        .await?;
        let cfg: Value = serde_json::from_slice(&data.buf)
            .map_err(|e| RegistryError(format!("the config of {r} is not valid JSON: {e}")))?;
        let text = |k: &str| cfg[k].as_str().unwrap_or_default().to_string();
        Ok((
            text("os"),
            text("architecture"),
            cfg["variant"].as_str().map(str::to_string),
        ))
    }

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
            Some(p) => {
                // One manifest: --platform must be its platform, not silently ignored.
                let (os, arch, variant) = self.single_platform(r).await?;
                if !p.matches(&os, &arch, variant.as_deref()) {
                    let found = [Some(os), Some(arch), variant]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                    return Err(RegistryError(format!(
                        "image {r} is a single {found} manifest, not {p}; drop --platform to attach to it"
                    )));
                }
                root.descriptor.clone()
            }
            None => root.descriptor.clone(),
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

impl Registry {
    /// Delete an artifact manifest and drop it from the referrers tag-schema
    /// index of its subject, where that index exists.
    pub async fn remove(&self, r: &Reference, artifact: &Artifact) -> Result<(), RegistryError> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme(),
            r.api_host(),
            r.repository,
            artifact.digest
        );
        let http = self.http()?;
        let what = format!("deleting {}", r.with_digest(&artifact.digest));
        let send = |auth: Option<String>| {
            let mut req = http.delete(&url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            tokio::time::timeout(self.timeout, req.send())
        };
        let first_auth = match &self.options.auth {
            Auth::Anonymous => None,
            Auth::Basic { username, password } => {
                Some(format!("Basic {}", basic(username, password)))
            }
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
        };
        let timeout = || RegistryError(format!("{what}: {} did not answer in time", self.host));
        let mut res = send(first_auth)
            .await
            .map_err(|_| timeout())?
            .map_err(|e| RegistryError(format!("{what}: {e}")))?;
        if res.status() == 401 {
            // Token registries: trade the credentials for a token with delete scope.
            if let Some(token) = self.token(&http, &res, r).await? {
                res = send(Some(format!("Bearer {token}")))
                    .await
                    .map_err(|_| timeout())?
                    .map_err(|e| RegistryError(format!("{what}: {e}")))?;
            }
        }
        match res.status().as_u16() {
            200..=299 => {}
            401 => {
                return Err(RegistryError(format!(
                    "{what}: the registry wants credentials with delete rights; pass --registry-username and --registry-password-stdin"
                )));
            }
            403 => {
                return Err(RegistryError(format!(
                    "{what}: access denied; the credentials lack delete rights on {}",
                    r.repository
                )));
            }
            404 => return Err(RegistryError(format!("{what}: not found"))),
            405 => {
                return Err(RegistryError(format!(
                    "{what}: this registry does not allow deleting manifests (docker-registry needs storage.delete.enabled)"
                )));
            }
            code => {
                return Err(RegistryError(format!(
                    "{what}: the registry answered {code}"
                )));
            }
        }
        // Keep the tag schema honest where it is in use.
        let tag = artifact::tag_schema_tag(&artifact.subject);
        let tag_ref =
            oci_client::Reference::with_tag(r.api_host().into(), r.repository.clone(), tag.clone());
        if let Ok((bytes, _)) = self
            .client
            .pull_manifest_raw(&tag_ref, &self.auth, &[artifact::INDEX_TYPE])
            .await
            && let Ok(mut index) = serde_json::from_slice::<Value>(&bytes)
            && let Some(list) = index["manifests"].as_array_mut()
        {
            let before = list.len();
            list.retain(|m| m["digest"] != artifact.digest.as_str());
            if list.len() != before {
                let body = serde_json::to_vec(&index).expect("JSON values serialise");
                let content_type = http::HeaderValue::from_static(artifact::INDEX_TYPE);
                self.call(
                    &format!("updating the referrers tag {tag}"),
                    self.client.push_manifest_raw(&tag_ref, body, content_type),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A bearer token from the `WWW-Authenticate` challenge of `res`.
    async fn token(
        &self,
        http: &reqwest::Client,
        res: &reqwest::Response,
        r: &Reference,
    ) -> Result<Option<String>, RegistryError> {
        let Some(challenge) = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            return Ok(None);
        };
        let field = |name: &str| challenge_field(params, name);
        let Some(realm) = field("realm") else {
            return Ok(None);
        };
        let mut req = http
            .get(&realm)
            .query(&[("scope", format!("repository:{}:delete,pull", r.repository))]);
        if let Some(service) = field("service") {
            req = req.query(&[("service", service)]);
        }
        if let Auth::Basic { username, password } = &self.options.auth {
            req = req.header(
                "Authorization",
                format!("Basic {}", basic(username, password)),
            );
        }
        let body: Value = match tokio::time::timeout(self.timeout, req.send()).await {
            Ok(Ok(resp)) if resp.status().is_success() => resp.json().await.unwrap_or(Value::Null),
            _ => return Ok(None),
        };
        Ok(body["token"]
            .as_str()
            .or(body["access_token"].as_str())
            .map(str::to_string))
    }
}

/// One `name="value"` parameter of a `WWW-Authenticate` challenge
/// (`Basic realm="x"`, `Bearer realm="https://…",service="…"`).
fn challenge_field(challenge: &str, name: &str) -> Option<String> {
    let params = challenge
        .split_once(' ')
        .map_or(challenge, |(scheme, rest)| {
            if scheme.contains('=') {
                challenge
            } else {
                rest
            }
        });
    params.split(',').find_map(|p| {
        p.trim()
            .strip_prefix(&format!("{name}="))
            .map(|v| v.trim_matches('"').to_string())
    })
}

/// `user:password` in base64, for Basic authentication.
fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

/// A blob sink that refuses to grow past its limit, whatever the server sends.
struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
}

impl CappedWriter {
    fn new(limit: usize) -> Self {
        CappedWriter {
            buf: Vec::new(),
            limit,
        }
    }
}

impl tokio::io::AsyncWrite for CappedWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.buf.len() + data.len() > self.limit {
            return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than {} bytes",
                self.limit
            ))));
        }
        self.buf.extend_from_slice(data);
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::challenge_field;

    #[test]
    fn challenge_fields() {
        assert_eq!(
            challenge_field(r#"Basic realm="kplug""#, "realm").as_deref(),
            Some("kplug")
        );
        let bearer = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#;
        assert_eq!(
            challenge_field(bearer, "realm").as_deref(),
            Some("https://auth.example/token")
        );
        assert_eq!(
            challenge_field(bearer, "service").as_deref(),
            Some("registry.example")
        );
        assert_eq!(challenge_field(bearer, "error"), None);
    }

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(super::basic("kplug", "s3cret"), "a3BsdWc6czNjcmV0");
        assert_eq!(super::basic("a", ""), "YTo=");
        assert_eq!(super::basic("ab", "c"), "YWI6Yw==");
    }
}
