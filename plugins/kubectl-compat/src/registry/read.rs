//! Reading from a registry: resolve an image, list its compatibility
//! artifacts (the referrers API, which oci-client falls back from to the tag
//! schema), and fetch a spec.

use serde_json::Value;

use super::artifact::{self, Artifact, CREATED, Descriptor, Platform};
use super::client::{CappedWriter, MAX_BYTES, Registry};
use super::errors::RegistryError;
use super::reference::Reference;
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
        let target = Self::oci(r, None);
        let (bytes, digest) = self
            .read(&format!("resolving {r}"), || {
                self.client.pull_manifest_raw(&target, &self.auth, &ACCEPT)
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
        let doc = manifest_json(&bytes, || format!("the manifest of artifact {artifact}"))?;
        let layer = &doc["layers"][0];
        let (Some(digest), Some(size)) = (layer["digest"].as_str(), layer["size"].as_i64()) else {
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
        // A registry may send more than the manifest declared: stop at the limit.
        let mut data = CappedWriter::new(MAX_BYTES as usize);
        self.call(
            &format!("fetching the spec of {artifact}"),
            self.client
                .pull_blob(&Self::oci(r, Some(artifact)), digest, &mut data),
        )
        .await?;
        String::from_utf8(data.buf).map_err(|_| RegistryError::Malformed {
            what: format!("the spec in artifact {artifact}"),
            why: "is not UTF-8 text",
        })
    }

    /// The platform of a single-manifest image, from the config blob its
    /// resolved manifest names.
    pub(super) async fn single_platform(
        &self,
        r: &Reference,
        root: &Resolved,
    ) -> Result<(String, String, Option<String>), RegistryError> {
        let target = Self::oci(r, None);
        let config = root
            .config
            .as_deref()
            .ok_or_else(|| RegistryError::Malformed {
                what: format!("the manifest of {r}"),
                why: "names no config, so no platform",
            })?;
        let mut data = CappedWriter::new(1 << 20);
        self.call(
            &format!("reading the config of {r}"),
            self.client.pull_blob(&target, config, &mut data),
        )
        .await?;
        let cfg: Value =
            serde_json::from_slice(&data.buf).map_err(|source| RegistryError::NotJson {
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
