//! Where the peers are: `peers.env` written by `tests/e2e/peers.sh` in the
//! peer cache (`$KPLUG_E2E_CACHE`, default `~/.cache/kplug-e2e`).

use std::collections::BTreeMap;
use std::path::PathBuf;
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

fn table() -> &'static BTreeMap<String, String> {
    static TABLE: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let file = cache_dir().join("peers.env");
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    })
}

/// The path of a peer binary (`KUBE_APISERVER`, `ETCD`, `ORAS`, …). Panics with
/// what to run when peers.sh has not provided it: a missing peer is a failure.
pub fn path(key: &str) -> PathBuf {
    match table().get(key) {
        Some(p) if std::path::Path::new(p).exists() => PathBuf::from(p),
        _ => panic!(
            "peer {key} is not available: run `make peers` (tests/e2e/peers.sh) first; it records peers in {}",
            cache_dir().join("peers.env").display()
        ),
    }
}
