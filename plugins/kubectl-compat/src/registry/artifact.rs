//! Choosing compatibility artifacts among an image's referrers, and the
//! image's platforms: pure decisions, no I/O.

use serde::Serialize;

use crate::spec::ARTIFACT_TYPE;

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
