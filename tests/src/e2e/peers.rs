//! Where the peers are: [`kplug::peers`], with a missing peer a failure.

use std::path::PathBuf;

pub use kplug::peers::cache_dir;

/// The path of a peer binary (`KUBE_APISERVER`, `ETCD`, `ORAS`, …). Panics with
/// what to run when peers.sh has not provided it: a missing peer is a failure.
pub fn path(key: &str) -> PathBuf {
    kplug::peers::find(key).unwrap_or_else(|| {
        panic!(
            "peer {key} is not available: run `make peers` (tests/e2e/peers.sh) first; it records peers in {}",
            cache_dir().join("peers.env").display()
        )
    })
}
