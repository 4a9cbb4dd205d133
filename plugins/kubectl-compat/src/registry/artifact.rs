//! Choosing compatibility artifacts among an image's referrers, and the
//! image's platforms: pure decisions, no I/O.

use serde::Serialize;
use serde_json::{Value, json};

use crate::spec::{ARTIFACT_TYPE, SPEC_MEDIA_TYPE};

pub const CREATED: &str = "org.opencontainers.image.created";

/// One referrer of a manifest, as listed by the referrers API or tag schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: i64,
    pub created: Option<String>,
    /// The manifest (index or platform manifest) it refers to.
    pub subject: String,
    /// `index` or the platform (`linux/amd64`) of the subject.
    pub attached_to: String,
}

impl Artifact {
    pub fn is_compatibility(&self) -> bool {
        self.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
    }

    fn created_seconds(&self) -> i64 {
        self.created
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
            .unwrap_or(i64::MIN)
    }
}

/// NFD's choice: the newest by `org.opencontainers.image.created` (missing or
/// unparseable counts as oldest); ties go to the later one in the list.
pub fn newest(artifacts: &[Artifact]) -> Option<&Artifact> {
    artifacts
        .iter()
        .enumerate()
        .max_by_key(|(i, a)| (a.created_seconds(), *i))
        .map(|(_, a)| a)
}

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty JSON object `{}` every artifact without a config points at.
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// `sha256:<hex>` of some bytes.
pub fn digest(data: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A descriptor of content in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: usize,
}

impl Descriptor {
    pub fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// The artifact manifest `oras attach` writes for a spec: empty config, the
/// spec as the one layer (titled with its file name), `subject`,
/// `artifactType` and the `created` annotation.
pub fn attach_manifest(
    subject: &Descriptor,
    spec: &Descriptor,
    title: &str,
    created: &str,
) -> Vec<u8> {
    let mut layer = spec.json();
    layer["annotations"] = json!({"org.opencontainers.image.title": title});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": EMPTY_DIGEST, "size": EMPTY_CONFIG.len(), "data": "e30="},
        "layers": [layer],
        "subject": subject.json(),
        "annotations": {CREATED: created},
    });
    serde_json::to_vec(&manifest).expect("JSON values serialise")
}

/// The referrers tag-schema index with `entry` added (an existing entry
/// with the same digest is replaced; the others are kept in order).
pub fn tag_schema_index(existing: Option<&Value>, entry: Value) -> Vec<u8> {
    let mut manifests: Vec<Value> = existing
        .and_then(|v| v["manifests"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["digest"] != entry["digest"])
        .collect();
    manifests.push(entry);
    serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}),
    )
    .expect("JSON values serialise")
}

/// The index entry of an artifact manifest, as referrers lists show it.
pub fn referrer_entry(manifest: &[u8], created: &str) -> Value {
    json!({
        "mediaType": MANIFEST_TYPE,
        "digest": digest(manifest),
        "size": manifest.len(),
        "artifactType": ARTIFACT_TYPE,
        "annotations": {CREATED: created},
    })
}

/// The tag that holds the referrers of `subject` without the referrers API.
pub fn tag_schema_tag(subject: &str) -> String {
    subject.replacen(':', "-", 1)
}

/// The spec layer's media type, for the layer descriptor.
pub const LAYER_TYPE: &str = SPEC_MEDIA_TYPE;

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad =
            || format!("invalid platform {text:?}: expected os/arch[/variant], e.g. linux/amd64");
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(bad()),
        }
    }

    /// The platform of this process, in OCI's names.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: arch.to_string(),
            variant: None,
        }
    }

    /// Whether an index entry's platform is this one (variant compared only when given).
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.arch == arch
            && (self.variant.is_none() || self.variant.as_deref() == variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(digest: &str, created: Option<&str>) -> Artifact {
        Artifact {
            digest: digest.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            artifact_type: Some(ARTIFACT_TYPE.into()),
            size: 1,
            created: created.map(str::to_string),
            subject: "sha256:x".into(),
            attached_to: "index".into(),
        }
    }

    #[test]
    fn newest_by_created_like_nfd() {
        let list = [
            a("1", Some("2025-01-01T00:00:00Z")),
            a("2", Some("2026-01-01T00:00:00Z")),
            a("3", None),
            a("4", Some("garbage")),
        ];
        assert_eq!(newest(&list).unwrap().digest, "2");
        assert_eq!(newest(&[a("1", None), a("2", None)]).unwrap().digest, "2");
        assert!(newest(&[]).is_none());
    }

    #[test]
    fn artifact_manifest_like_oras() {
        assert_eq!(digest(EMPTY_CONFIG), EMPTY_DIGEST);
        let subject = Descriptor {
            media_type: MANIFEST_TYPE.into(),
            digest: "sha256:aa".into(),
            size: 10,
        };
        let spec = Descriptor {
            media_type: LAYER_TYPE.into(),
            digest: digest(b"x"),
            size: 1,
        };
        let m: Value = serde_json::from_slice(&attach_manifest(
            &subject,
            &spec,
            "spec.yaml",
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(m["artifactType"], ARTIFACT_TYPE);
        assert_eq!(m["config"]["digest"], EMPTY_DIGEST);
        assert_eq!(
            m["layers"][0]["annotations"]["org.opencontainers.image.title"],
            "spec.yaml"
        );
        assert_eq!(m["subject"]["digest"], "sha256:aa");
        assert_eq!(m["annotations"][CREATED], "2026-01-01T00:00:00Z");
        let old = json!({"manifests": [{"digest": "sha256:1"}, {"digest": "sha256:2"}]});
        let idx: Value = serde_json::from_slice(&tag_schema_index(
            Some(&old),
            json!({"digest": "sha256:2", "x": 1}),
        ))
        .unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(idx["manifests"][1]["x"], 1);
        assert_eq!(tag_schema_tag("sha256:abc"), "sha256-abc");
    }

    #[test]
    fn platforms() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(!p.matches("linux", "arm64", None));
        let p = Platform::parse("linux/amd64").unwrap();
        assert!(p.matches("linux", "amd64", Some("v3")));
        assert_eq!(p.to_string(), "linux/amd64");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("/amd64").is_err());
        assert_eq!(Platform::host().os, std::env::consts::OS);
    }
}
