//! A content-addressed cache of what a check reads from a registry that
//! never changes: a compatibility artifact's manifest and its spec blob,
//! each filed under its sha256 digest. Checking the same image again (every
//! node of a fleet, a CI job per commit) then costs the referrers lookup
//! only — a new artifact attached later has a new digest and is fetched.
//! The referrers list and tags are never cached: they change.
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
}
