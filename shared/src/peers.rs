//! The peer cache `make peers` fills (`tests/e2e/peers.sh`): upstream tools
//! at pinned versions, found by the tests and the benchmarks through
//! `peers.env` (`NAME=path` lines) in `$KPLUG_E2E_CACHE`, else
//! `$XDG_CACHE_HOME/kplug-e2e`, else `~/.cache/kplug-e2e`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The peer cache directory, as peers.sh computes it.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KPLUG_E2E_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("kplug-e2e")
}

/// `peers.env`, read once.
fn table() -> &'static BTreeMap<String, String> {
    static TABLE: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::fs::read_to_string(cache_dir().join("peers.env"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    })
}

/// The path of a peer (`NFD`, `KUBE_SCORE`, …) when peers.sh recorded it and
/// it is still there.
pub fn find(key: &str) -> Option<PathBuf> {
    table()
        .get(key)
        .map(PathBuf::from)
        .filter(|p| Path::new(p).exists())
}
