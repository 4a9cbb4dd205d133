//! The end-to-end harness: starts real peers (etcd + kube-apiserver, OCI
//! registries, PostgreSQL) on free loopback ports with throwaway data, and
//! always stops them — on drop, on panic, and when the test process dies.

pub mod alertmanager;
pub mod citus;
pub mod cluster;
pub mod http;
pub mod inference;
pub mod nfd;
pub mod objects;
pub mod oci;
pub mod peers;
pub mod postgres;
pub mod process;
pub mod registry;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Report a skipped check straight to stderr: libtest captures `eprintln!`.
pub fn skip(reason: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// A binary built by this workspace (`target/<profile>/<name>`), next to the
/// running test executable.
pub fn workspace_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/debug/deps/e2e-xxxx -> target/debug
    let dir = exe.parent()?.parent()?;
    let path = dir.join(name);
    path.is_file().then_some(path)
}

/// A unique, DNS-1123-safe name for a test's namespace or repository.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// For a bench of the e2e tier: the plugin binary `bin` when the peers and
/// it are there; otherwise `None`, with the reason printed as a skip.
pub fn bench_binary(bench: &str, bin: &str) -> Option<PathBuf> {
    if !peers::cache_dir().join("peers.env").exists() {
        println!("skipped: {bench}: no e2e peers (run `make peers`)");
        return None;
    }
    let found = workspace_bin(bin);
    if found.is_none() {
        println!(
            "skipped: {bench}: {bin} is not built in this profile (cargo bench --workspace builds it)"
        );
    }
    found
}
