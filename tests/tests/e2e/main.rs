//! The end-to-end tier: real peers on loopback (see tests/e2e/peers.sh and
//! the README's Test section). One test binary, one module per subject.
//!
//! Run one test: `cargo test -p kplug-tests --test e2e -- cluster::`.
//! Against an existing cluster: `KPLUG_E2E_KUBECONFIG=~/.kube/config make test`.

mod alerts;
mod citus;
mod cluster;
mod compat;
mod doctor;
mod eventlog;
mod image;
mod inference;
mod nfd;
mod picker;
mod plugins;
mod postgres;
mod readme;
mod registries;
mod sidecar;

use std::path::Path;
use std::process::{Command, Output};

/// Run a command; panic with its output if it cannot start.
pub fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Assert success, showing stdout and stderr otherwise.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
