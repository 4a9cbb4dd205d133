//! `kplug`: the library every kplug kubectl plugin stands on. It holds what is
//! not domain logic: the kubectl flags, the client, output, errors and exit
//! codes, manifest loading, workload templates, label selectors and findings.
//! It knows no plugin.

pub mod cli;
pub mod client;
pub mod complete;
pub mod errors;
pub mod event;
pub mod exit;
pub mod finding;
pub mod limits;
pub mod manifest;
pub mod output;
pub mod peers;
pub mod selector;
pub mod workload;
pub mod yaml;

pub use errors::{Error, Result};
pub use exit::Code;

/// Install ring as the process-wide TLS provider. Call first in `main`: kube
/// and oci-client both use rustls, and with more than one provider compiled in
/// rustls cannot pick one and fails at the first TLS connection.
pub fn init_tls() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
