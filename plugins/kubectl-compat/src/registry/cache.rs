//! A content-addressed cache of what a check reads from a registry that
//! never changes: a compatibility artifact's manifest and its spec blob,
//! each filed under its sha256 digest. Checking the same image again (every
//! node of a fleet, a CI job per commit) then costs the referrers lookup
//! only — a new artifact attached later has a new digest and is fetched.
//! The referrers list and tags are never cached: they change. What is kept
//! of them are guesses: the digests a tag led to last time, whose referrers
//! the next lookup asks for while the tag resolves, and uses only when the
//! tag still leads there (see [`Registry::find`]); and the artifact a check
//! used last time with the features its spec reads, which tell host
//! discovery early what it may skip (completed when the spec that comes
//! reads more).
//!
//! [`Registry::find`]: super::client::Registry::find
//!
//! Entries are checked against their digest on every read (a damaged or
//! altered file is dropped and fetched again) and written atomically; a
//! cache that cannot be read or written is skipped, never an error.
//! `KPLUG_COMPAT_CACHE=DIR` moves it (default
//! `$XDG_CACHE_HOME/kplug/compat`, else `~/.cache/kplug/compat`);
//! `KPLUG_COMPAT_CACHE=off` turns it off. The same directory keeps the
//! inflated kernel config (see `sources::kernel`).

use std::path::{Path, PathBuf};

use super::artifact;

/// The directory of kubectl compat's caches (see the module), or `None`
/// when they are off.
pub fn dir_from_env() -> Option<PathBuf> {
    match std::env::var_os("KPLUG_COMPAT_CACHE") {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .map(|base| base.join("kplug").join("compat")),
    }
}

/// Write `data` to `path` atomically (another process may write the same
/// file: each writes its own and renames it into place); failures are
/// ignored, as a cache's are.
pub fn put_file(path: &Path, data: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dir.join(format!(".{name}.{}", std::process::id()));
    if std::fs::write(&partial, data).is_ok() && std::fs::rename(&partial, path).is_err() {
        let _ = std::fs::remove_file(&partial);
    }
}

#[derive(Debug, Clone, Default)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// The cache the environment names (see the module).
    pub fn from_env() -> Cache {
        Cache {
            dir: dir_from_env(),
        }
    }

    /// No cache (the default of a library caller).
    pub fn off() -> Cache {
        Cache { dir: None }
    }

    /// `DIR/sha256/<hex>` for a sha256 digest; other algorithms are not kept.
    fn path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(self.dir.as_ref()?.join("sha256").join(hex))
    }

    /// The bytes filed under `digest`, if they are there and still hash to it.
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.path(digest)?;
        let data = std::fs::read(&path).ok()?;
        if artifact::digest(&data) == digest {
            Some(data)
        } else {
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    /// File `data` under `digest` when it hashes to it.
    pub fn put(&self, digest: &str, data: &[u8]) {
        let Some(path) = self.path(digest) else {
            return;
        };
        if artifact::digest(data) != digest {
            return;
        }
        put_file(&path, data);
    }

    /// `DIR/<kind>/<hex>`, named by the sha256 of `key` (any text).
    fn guess_path(&self, kind: &str, key: &str) -> Option<PathBuf> {
        let digest = artifact::digest(key.as_bytes());
        let hex = digest.strip_prefix("sha256:")?;
        Some(self.dir.as_ref()?.join(kind).join(hex))
    }

    fn subjects_path(&self, key: &str) -> Option<PathBuf> {
        self.guess_path("subjects", key)
    }

    /// The artifact a check of `key` used last time and the features its
    /// spec reads, if they were kept.
    pub fn choice(&self, key: &str) -> Option<Choice> {
        let text = std::fs::read_to_string(self.guess_path("chosen", key)?).ok()?;
        let mut lines = text.lines();
        let artifact = lines.next()?;
        self.path(artifact)?;
        let features: Vec<String> = lines.take(MAX_FEATURES + 1).map(str::to_string).collect();
        let sane = features.len() <= MAX_FEATURES
            && features.iter().all(|f| !f.is_empty() && f.len() <= 256);
        sane.then(|| Choice {
            artifact: artifact.to_string(),
            features,
        })
    }

    /// Keep `choice` for the next check of `key` (a write only when it
    /// changed: most checks use the artifact the last one did).
    pub fn put_choice(&self, key: &str, choice: &Choice) {
        if self.path(&choice.artifact).is_none() || self.choice(key).as_ref() == Some(choice) {
            return;
        }
        if let Some(path) = self.guess_path("chosen", key) {
            let mut text = format!("{}\n", choice.artifact);
            for f in &choice.features {
                text.push_str(f);
                text.push('\n');
            }
            put_file(&path, text.as_bytes());
        }
    }

    /// The subjects a lookup of `key` listed last time, when they were kept
    /// and still read as subjects (a line each: the digest, a space, what it
    /// is); anything else in the file makes it no guess at all.
    pub fn subjects(&self, key: &str) -> Option<Vec<Subject>> {
        let text = std::fs::read_to_string(self.subjects_path(key)?).ok()?;
        let subjects: Option<Vec<Subject>> = text
            .lines()
            .take(MAX_SUBJECTS + 1)
            .map(|line| {
                let (digest, attached_to) = line.split_once(' ')?;
                let valid = self.path(digest).is_some();
                (valid && !attached_to.is_empty()).then(|| Subject {
                    digest: digest.to_string(),
                    attached_to: attached_to.to_string(),
                })
            })
            .collect();
        subjects.filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECTS)
    }

    /// Keep `subjects` as the guess for the next lookup of `key`.
    pub fn put_subjects(&self, key: &str, subjects: &[Subject]) {
        let Some(path) = self.subjects_path(key) else {
            return;
        };
        let text: String = subjects
            .iter()
            .map(|s| format!("{} {}\n", s.digest, s.attached_to))
            .collect();
        put_file(&path, text.as_bytes());
    }
}

/// A lookup lists the referrers of an index and of one platform's manifest
/// at most.
const MAX_SUBJECTS: usize = 2;

/// More features than a kept choice names make it no guess.
const MAX_FEATURES: usize = 1024;

/// The artifact a check used and the features its spec reads (each once,
/// sorted): what the next check of the same image may start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub artifact: String,
    pub features: Vec<String>,
}

/// A manifest or index whose referrers a lookup lists, and what it is to
/// the image (`index`, `manifest` or the platform of an index entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub digest: String,
    pub attached_to: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_only_while_they_match_their_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            dir: Some(dir.path().to_path_buf()),
        };
        let spec = b"version: v1alpha1\n";
        let digest = artifact::digest(spec);
        assert_eq!(cache.get(&digest), None);
        cache.put(&digest, spec);
        assert_eq!(cache.get(&digest).as_deref(), Some(&spec[..]));
        // Bytes that are not what the digest says are never filed…
        let other = artifact::digest(b"other");
        cache.put(&other, spec);
        assert_eq!(cache.get(&other), None);
        // …and an altered entry is dropped on read.
        let path = cache.path(&digest).unwrap();
        std::fs::write(&path, b"tampered").unwrap();
        assert_eq!(cache.get(&digest), None);
        assert!(!path.exists());
        // Names that are not sha256 digests never reach the file system.
        assert_eq!(cache.path("sha256:../../etc/passwd"), None);
        assert_eq!(cache.path("sha512:abcd"), None);
        assert_eq!(Cache::off().get(&digest), None);
    }

    #[test]
    fn a_subjects_guess_comes_back_only_as_it_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            dir: Some(dir.path().to_path_buf()),
        };
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let subjects = vec![
            Subject {
                digest: digest('a'),
                attached_to: "index".into(),
            },
            Subject {
                digest: digest('b'),
                attached_to: "linux/arm64/v8".into(),
            },
        ];
        let key = "r.example/app:v1 linux/arm64/v8";
        assert_eq!(cache.subjects(key), None);
        cache.put_subjects(key, &subjects);
        assert_eq!(cache.subjects(key), Some(subjects.clone()));
        assert_eq!(cache.subjects("r.example/app:v2 linux/arm64/v8"), None);
        // A file that is not a list of digests is no guess: nothing in it
        // may reach a URL.
        let path = cache.subjects_path(key).unwrap();
        for hostile in [
            String::new(),
            "sha256:../../v2/other index\n".to_string(),
            format!("{} \n", digest('a')),
            format!("{}\n", digest('a')),
            format!("sha512:{} index\n", "a".repeat(128)),
            format!("{0} index\n{0} index\n{0} index\n", digest('a')),
        ] {
            std::fs::write(&path, &hostile).unwrap();
            assert_eq!(cache.subjects(key), None, "{hostile:?}");
        }
        assert_eq!(Cache::off().subjects(key), None);

        let choice = Choice {
            artifact: digest('c'),
            features: vec!["cpu.model".into(), "kernel.loadedmodule".into()],
        };
        assert_eq!(cache.choice(key), None);
        cache.put_choice(key, &choice);
        assert_eq!(cache.choice(key), Some(choice.clone()));
        cache.put_choice(
            key,
            &Choice {
                artifact: "sha256:../../etc/passwd".into(),
                features: vec![],
            },
        );
        assert_eq!(cache.choice(key), Some(choice));
        let path = cache.guess_path("chosen", key).unwrap();
        for hostile in [
            "sha256:../x\ncpu.model\n".to_string(),
            format!("{}\n\n", digest('c')),
            format!("{}\n{}\n", digest('c'), "x".repeat(300)),
            format!("{}\n{}", digest('c'), "f\n".repeat(MAX_FEATURES + 1)),
        ] {
            std::fs::write(&path, &hostile).unwrap();
            assert_eq!(cache.choice(key), None, "{hostile:?}");
        }
    }
}
