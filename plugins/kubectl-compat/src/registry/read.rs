//! Reading from a registry: resolve an image, list its compatibility
//! artifacts (the referrers API, which oci-client falls back from to the tag
//! schema), and fetch a spec.

use serde_json::Value;

use super::artifact::{self, Artifact, CREATED, Descriptor, Platform};
use oci_client::errors::OciDistributionError;

use super::cache::Subject;
use super::client::{MAX_BYTES, Registry};
use super::errors::{self, RegistryError};
use super::reference::Reference;
use super::wire::Got;
use crate::spec::ARTIFACT_TYPE;

pub(super) const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
pub(super) const ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// An image's root manifest and, for an index, its entries.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub descriptor: Descriptor,
    pub is_index: bool,
    pub manifests: Vec<IndexEntry>,
    /// The config blob of a single manifest, where its platform is written.
    pub config: Option<String>,
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
    /// The manifest or index the reference names.
    pub async fn resolve(&self, r: &Reference) -> Result<Resolved, RegistryError> {
        let path = manifest_path(r, None);
        let bytes = self
            .read(&format!("resolving {r}"), || async {
                self.get(r, &path, &ACCEPT, CAP).await?.ok()
            })
            .await?;
        let doc = manifest_json(&bytes, || format!("the manifest of {r}"))?;
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
        let digest = artifact::digest(&bytes);
        if let Some(asked) = r.digest.as_deref().filter(|d| d.starts_with("sha256:"))
            && asked != digest
        {
            return Err(RegistryError::Malformed {
                what: format!("the manifest of {r}"),
                why: "does not match the digest it was asked for",
            });
        }
        let descriptor = Descriptor {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len(),
        };
        Ok(Resolved {
            descriptor,
            is_index,
            manifests,
            config: doc["config"]["digest"].as_str().map(str::to_string),
        })
    }

    /// Compatibility artifacts referring to `subject` (a digest in the repository).
    pub async fn artifacts(
        &self,
        r: &Reference,
        subject: &str,
        attached_to: &str,
    ) -> Result<Vec<Artifact>, RegistryError> {
        let what = format!("listing the referrers of {}", r.with_digest(subject));
        let bytes = self.read(&what, || self.referrers(r, subject)).await?;
        let index: oci_client::manifest::OciImageIndex = match bytes {
            None => return Ok(Vec::new()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| RegistryError::NotJson {
                    what: format!("the referrers of {}", r.with_digest(subject)),
                    source,
                })?
            }
        };
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
    ///
    /// The referrers of each subject are asked for at once, and, when the
    /// [cache](super::cache) remembers which subjects this reference and
    /// platform led to last time, while the reference resolves: a check of
    /// an image seen before then takes one round trip instead of two or
    /// three. The guess is only used when the resolved image confirms it.
    pub async fn find(
        &self,
        r: &Reference,
        platform: &Platform,
    ) -> Result<(Resolved, Vec<Artifact>), RegistryError> {
        let key = format!("{r} {platform}");
        let root = match self.cache.subjects(&key) {
            None => self.resolve(r).await?,
            Some(guess) => {
                let resolve = self.resolve(r);
                let early = self.listed(r, &guess);
                tokio::pin!(resolve, early);
                let mut done = None;
                let root = loop {
                    tokio::select! {
                        root = &mut resolve => break root?,
                        listed = &mut early, if done.is_none() => done = Some(listed),
                    }
                };
                if subjects(&root, platform) == guess {
                    let listed = match done {
                        Some(listed) => listed,
                        None => early.await,
                    };
                    return Ok((root, listed?));
                }
                // The reference moved on: what was asked early is dropped.
                root
            }
        };
        let subjects = subjects(&root, platform);
        let listed = self.listed(r, &subjects).await?;
        self.cache.put_subjects(&key, &subjects);
        Ok((root, listed))
    }

    /// The compatibility artifacts of every subject, asked for at once, in
    /// the subjects' order.
    async fn listed(
        &self,
        r: &Reference,
        subjects: &[Subject],
    ) -> Result<Vec<Artifact>, RegistryError> {
        let lists = futures::future::try_join_all(
            subjects
                .iter()
                .map(|s| self.artifacts(r, &s.digest, &s.attached_to)),
        )
        .await?;
        Ok(lists.into_iter().flatten().collect())
    }

    /// The referrers index of `subject`: from the referrers API, or where a
    /// registry has none (404), from the tag schema (`sha256-<hex>`); `None`
    /// when neither holds one.
    async fn referrers(
        &self,
        r: &Reference,
        subject: &str,
    ) -> Result<Option<Vec<u8>>, OciDistributionError> {
        let api = format!("referrers/{subject}?artifactType={ARTIFACT_TYPE}");
        let got = self.get(r, &api, &[artifact::INDEX_TYPE], CAP).await?;
        if got.status != reqwest::StatusCode::NOT_FOUND {
            return got.ok().map(Some);
        }
        match self.tag_schema(r, subject).await?.ok() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if errors::kind(&e) == errors::Kind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tag-schema referrers index of `subject` as JSON, where one exists
    /// and reads (for updating it).
    pub(super) async fn tag_schema_index(&self, r: &Reference, subject: &str) -> Option<Value> {
        let got = self.tag_schema(r, subject).await.ok()?;
        serde_json::from_slice(&got.ok().ok()?).ok()
    }

    /// `GET` of the tag-schema referrers index of `subject` (`sha256-<hex>`).
    async fn tag_schema(&self, r: &Reference, subject: &str) -> Result<Got, OciDistributionError> {
        let path = manifest_path(r, Some(&artifact::tag_schema_tag(subject)));
        self.get(r, &path, &[artifact::INDEX_TYPE], CAP).await
    }

    /// The spec inside an artifact: the first layer of its manifest.
    /// Both come from the [`cache`](super::cache) when it has them.
    pub async fn spec_text(&self, r: &Reference, artifact: &str) -> Result<String, RegistryError> {
        let cache = &self.cache;
        let bytes = match cache.get(artifact) {
            Some(bytes) => bytes,
            None => {
                let path = manifest_path(r, Some(artifact));
                let bytes = self
                    .call(&format!("fetching artifact {artifact}"), async {
                        self.get(r, &path, &[artifact::MANIFEST_TYPE], CAP)
                            .await?
                            .ok()
                    })
                    .await?;
                if artifact.starts_with("sha256:") && artifact::digest(&bytes) != artifact {
                    return Err(RegistryError::Malformed {
                        what: format!("the manifest of artifact {artifact}"),
                        why: "does not match its digest",
                    });
                }
                cache.put(artifact, &bytes);
                bytes
            }
        };
        let doc = manifest_json(&bytes, || format!("the manifest of artifact {artifact}"))?;
        let Some((digest, size)) = spec_layer(&doc) else {
            return Err(RegistryError::Malformed {
                what: format!("artifact {artifact}"),
                why: "has no layer: it holds no compatibility spec",
            });
        };
        if size > MAX_BYTES {
            return Err(RegistryError::OverLimit {
                what: format!("the spec in artifact {artifact}"),
                size,
            });
        }
        let what = format!("the spec in artifact {artifact}");
        let data = match cache.get(digest) {
            Some(data) => data,
            None => {
                let data = self
                    .blob(
                        r,
                        digest,
                        CAP,
                        &format!("fetching the spec of {artifact}"),
                        &what,
                    )
                    .await?;
                cache.put(digest, &data);
                data
            }
        };
        String::from_utf8(data).map_err(|_| RegistryError::Malformed {
            what,
            why: "is not UTF-8 text",
        })
    }

    /// A blob, refused past `cap` bytes or when it is not what its digest says.
    async fn blob(
        &self,
        r: &Reference,
        digest: &str,
        cap: usize,
        doing: &str,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let path = format!("blobs/{digest}");
        // A registry may send more than the manifest declared: stop at the cap.
        let data = self
            .call(doing, async { self.get(r, &path, &[], cap).await?.ok() })
            .await?;
        if data.len() > cap {
            return Err(RegistryError::TooLarge {
                what: what.to_string(),
            });
        }
        if digest.starts_with("sha256:") && artifact::digest(&data) != digest {
            return Err(RegistryError::Malformed {
                what: what.to_string(),
                why: "does not match its digest",
            });
        }
        Ok(data)
    }

    /// The platform of a single-manifest image, from the config blob its
    /// resolved manifest names.
    pub(super) async fn single_platform(
        &self,
        r: &Reference,
        root: &Resolved,
    ) -> Result<(String, String, Option<String>), RegistryError> {
        let config = root
            .config
            .as_deref()
            .ok_or_else(|| RegistryError::Malformed {
                what: format!("the manifest of {r}"),
                why: "names no config, so no platform",
            })?;
        let data = self
            .blob(
                r,
                config,
                1 << 20,
                &format!("reading the config of {r}"),
                &format!("the config of {r}"),
            )
            .await?;
        let cfg: Value =
            serde_json::from_slice(&data).map_err(|source| RegistryError::NotJson {
                what: format!("the config of {r}"),
                source,
            })?;
        let text = |k: &str| cfg[k].as_str().unwrap_or_default().to_string();
        Ok((
            text("os"),
            text("architecture"),
            cfg["variant"].as_str().map(str::to_string),
        ))
    }
}

/// The digest and size of the layer of an artifact's manifest that holds
/// the spec (the first).
fn spec_layer(manifest: &Value) -> Option<(&str, i64)> {
    let layer = &manifest["layers"][0];
    Some((layer["digest"].as_str()?, layer["size"].as_i64()?))
}

/// What a lookup lists the referrers of: the index and the manifest of
/// `platform` in it, or a single manifest.
fn subjects(root: &Resolved, platform: &Platform) -> Vec<Subject> {
    let subject = |digest: &str, attached_to: String| Subject {
        digest: digest.to_string(),
        attached_to,
    };
    if !root.is_index {
        return vec![subject(&root.descriptor.digest, "manifest".into())];
    }
    let mut out = vec![subject(&root.descriptor.digest, "index".into())];
    out.extend(
        root.platform(platform)
            .map(|entry| subject(&entry.descriptor.digest, platform.to_string())),
    );
    out
}

/// How much of a manifest or index is read: one byte past the limit tells
/// [`manifest_json`] it is too large.
const CAP: usize = MAX_BYTES as usize;

/// `manifests/<reference>`: by `digest`, else by the reference's digest or tag.
fn manifest_path(r: &Reference, digest: Option<&str>) -> String {
    let reference = digest
        .or(r.digest.as_deref())
        .or(r.tag.as_deref())
        .unwrap_or("latest");
    format!("manifests/{reference}")
}

/// A manifest's JSON, refused past [`MAX_BYTES`]; `what` names it in errors.
fn manifest_json(bytes: &[u8], what: impl Fn() -> String) -> Result<Value, RegistryError> {
    if bytes.len() as i64 > MAX_BYTES {
        return Err(RegistryError::TooLarge { what: what() });
    }
    serde_json::from_slice(bytes).map_err(|source| RegistryError::NotJson {
        what: what(),
        source,
    })
}
