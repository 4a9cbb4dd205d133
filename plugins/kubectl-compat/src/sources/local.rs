//! `local.feature` and `local.label` from feature files in
//! `/etc/kubernetes/node-feature-discovery/features.d/`: `key=value` lines,
//! bare `key` meaning "true", and the `# +expiry-time=`, `# +no-label`,
//! `# +no-feature` directives. (NFD also runs hooks; it stopped in v0.12.)

use std::collections::BTreeMap;

use super::hostfs::{HostFileError, Kind};
use super::{Host, Sink};

pub const FEATURES_DIR: &str = "/etc/kubernetes/node-feature-discovery/features.d";
const MAX_FILE: u64 = 65536;

pub fn discover(host: &Host, sink: &mut Sink) {
    let mut features = BTreeMap::new();
    let mut labels = BTreeMap::new();
    match host.list(FEATURES_DIR) {
        Ok(files) => {
            let now = crate::time::now();
            for name in files.iter().filter(|f| !f.starts_with('.')) {
                let path = format!("{FEATURES_DIR}/{name}");
                // Directories are skipped as NFD does; other non-files with a warning.
                match host.fs_kind(&path) {
                    Ok(Kind::File) => {}
                    Ok(Kind::Dir | Kind::Link) | Err(_) => continue,
                    Ok(Kind::Other(what)) => {
                        sink.warn(format!(
                            "feature file {name}: not a regular file ({what}); skipped"
                        ));
                        continue;
                    }
                }
                let read = host.read_unrecorded(&path, MAX_FILE).and_then(|b| {
                    String::from_utf8(b)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                });
                match read {
                    Err(e) if matches!(HostFileError::of(&e), Some(HostFileError::TooLarge(_))) => {
                        sink.warn(format!(
                            "feature file {name}: larger than {MAX_FILE} bytes, skipped"
                        ));
                    }
                    Ok(text) => {
                        let parsed = parse_feature_file(&text, now);
                        for w in parsed.warnings {
                            sink.warn(format!("feature file {name}: {w}"));
                        }
                        features.extend(parsed.features);
                        labels.extend(parsed.labels);
                    }
                    Err(e) => sink.warn(format!("feature file {name}: {e}")),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => sink.warn(format!("{FEATURES_DIR}: {e}")),
    }
    sink.attributes("local.label", labels);
    sink.attributes("local.feature", features);
}

#[derive(Debug, Default, PartialEq)]
pub struct FeatureFile {
    pub features: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Parse one feature file as of `now` (Unix seconds).
pub fn parse_feature_file(text: &str, now: i64) -> FeatureFile {
    let mut out = FeatureFile::default();
    let mut expiry = now;
    let (mut skip_feature, mut skip_label) = (false, false);
    for line in text.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            if let Some(directive) = line.strip_prefix("# +") {
                let (key, value) = match directive.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (directive, None),
                };
                match (key, value) {
                    ("expiry-time", Some(v)) => match crate::time::parse_rfc3339(v.trim()) {
                        Some(t) => expiry = t,
                        None => out
                            .warnings
                            .push(format!("failed to parse expiry-date directive {v:?}")),
                    },
                    ("expiry-time", None) => out.warnings.push(format!(
                        "invalid directive format in {line:?}, should be '# +expiry-time=value'"
                    )),
                    ("no-feature", _) => skip_feature = true,
                    ("no-label", _) => skip_label = true,
                    (other, _) => out
                        .warnings
                        .push(format!("unknown feature file directive {other:?}")),
                }
            }
            continue;
        }
        if expiry < now {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), "true".to_string()),
        };
        if skip_feature {
            out.features.remove(&key);
        } else {
            out.features.insert(key.clone(), value.clone());
        }
        if skip_label {
            out.labels.remove(&key);
        } else {
            out.labels.insert(key, value);
        }
        skip_feature = false;
        skip_label = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{fixture::Tree, map};

    #[test]
    fn feature_files() {
        let now = crate::time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let f = parse_feature_file(
            "a=1\nflag\n# +no-label\nonly-feature=x\n# +no-feature\nonly-label=y\n# comment\n# +bogus\n# +expiry-time=2025-01-01T00:00:00Z\nexpired=1\n",
            now,
        );
        assert_eq!(
            f.features,
            map([("a", "1"), ("flag", "true"), ("only-feature", "x")])
        );
        assert_eq!(
            f.labels,
            map([("a", "1"), ("flag", "true"), ("only-label", "y")])
        );
        assert_eq!(f.warnings, ["unknown feature file directive \"bogus\""]);
        let f = parse_feature_file("# +expiry-time=2030-01-01T00:00:00+02:00\nfuture=1\n", now);
        assert_eq!(f.features, map([("future", "1")]));
    }

    #[test]
    fn files_in_the_directory_merge_in_name_order() {
        let tree = Tree::new(&[
            (
                "/etc/kubernetes/node-feature-discovery/features.d/a",
                "k=1\nx=a\n",
            ),
            (
                "/etc/kubernetes/node-feature-discovery/features.d/b",
                "x=b\n",
            ),
            (
                "/etc/kubernetes/node-feature-discovery/features.d/.hidden",
                "h=1\n",
            ),
        ]);
        let d = crate::sources::discover(&tree.host(), &["local".to_string()]);
        assert_eq!(
            d.features.attributes["local.feature"].elements,
            map([("k", "1"), ("x", "b")])
        );
        assert_eq!(
            d.features.attributes["local.label"].elements,
            map([("k", "1"), ("x", "b")])
        );
        let empty = Tree::new(&[]);
        let d = crate::sources::discover(&empty.host(), &["local".to_string()]);
        assert!(d.features.attributes["local.feature"].elements.is_empty());
        assert!(d.warnings.is_empty());
    }
}
