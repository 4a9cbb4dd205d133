//! The TLS roots oci-client 0.18 needs, in one place.
//!
//! `Client::try_from(ClientConfig)` fills its remaining fields from
//! `Client::default()`, which builds a second, throwaway HTTP client with the
//! system root store: about 10 ms per run, and a panic on a system without
//! CA certificates (a scratch container). The root loader honours
//! `SSL_CERT_FILE`, so the process points it at a one-certificate file when
//! no TLS is spoken and at `--ca-file` when the system has no bundle.
//! Changing the environment is only sound before other threads exist, so
//! [`prepare`] runs first thing in `main`, and [`Registry::new`] refuses to
//! build a client in a process that did not call it: a command that forgets
//! fails its first test instead of panicking on a user's machine.
//! 0.18.0 is the newest release; the fix upstream would be to fill the
//! fields without `Client::default()`.
//!
//! [`Registry::new`]: super::client::Registry::new

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig};

use super::errors::RegistryError;

/// A certificate nobody signs with: trusting only it skips loading the
/// system store where no TLS is spoken.
const PLACEHOLDER: &[u8] = include_bytes!("plain-http-placeholder.pem");

/// Where OpenSSL-style probing finds a system CA bundle on Linux.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/etc/pki/tls/cacert.pem",
];

/// What [`prepare`] did: whether roots are in place for oci-client (a
/// read-only process skips them).
#[derive(Debug)]
struct Prepared {
    placeholder: bool,
}

static PREPARED: OnceLock<Prepared> = OnceLock::new();

/// What the process is about to speak.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub plain_http: bool,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    /// Other TLS in the same process (the API server), which needs the real roots.
    pub other_tls: bool,
    /// The command only reads (validate, discover, get): it never builds
    /// oci-client, and the plain reads load no roots where no TLS is spoken
    /// ([`http_roots`]), so no placeholder is written.
    pub reads_only: bool,
}

/// Removes the placeholder file, if one was written, when dropped.
#[derive(Debug)]
pub struct Guard(Option<PathBuf>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Set up the roots for `plan`. Call from `main` before any thread starts
/// (it may change the environment); keep the guard until exit.
#[allow(unsafe_code)]
pub fn prepare(plan: &Plan) -> Result<Guard, RegistryError> {
    let no_tls = plan.plain_http && !plan.other_tls;
    let user_file = std::env::var_os("SSL_CERT_FILE");
    if let Some(f) = &user_file
        && !no_tls
        && !Path::new(f).is_file()
    {
        return Err(RegistryError::Roots(format!(
            "SSL_CERT_FILE={} is not a readable file; point it at a PEM bundle or unset it",
            Path::new(f).display()
        )));
    }
    let has_system_roots = user_file.is_some()
        || std::env::var_os("SSL_CERT_DIR").is_some()
        || SYSTEM_BUNDLES.iter().any(|p| Path::new(p).is_file());
    let mut guard = Guard(None);
    let placeholder = no_tls || (plan.insecure && !has_system_roots);
    let file = if placeholder && plan.reads_only {
        // Nothing will load roots: a read over plain HTTP trusts none, and an
        // insecure read verifies nothing. Writing and removing the file cost
        // a tenth of a millisecond per run.
        None
    } else if placeholder {
        let path =
            std::env::temp_dir().join(format!("kplug-compat-roots-{}.pem", std::process::id()));
        std::fs::write(&path, PLACEHOLDER).map_err(|source| RegistryError::Placeholder {
            path: path.clone(),
            source,
        })?;
        guard.0 = Some(path.clone());
        Some(path)
    } else if has_system_roots {
        None
    } else if let Some(ca) = &plan.ca_file {
        Some(ca.clone())
    } else {
        return Err(RegistryError::Roots(format!(
            "this system has no CA certificates (none of {}); install them (ca-certificates), set SSL_CERT_FILE, or pass --ca-file",
            SYSTEM_BUNDLES.join(", ")
        )));
    };
    if let Some(file) = file {
        // SAFETY: `prepare` is documented to run before any other thread
        // exists, so nothing reads the environment concurrently.
        unsafe { std::env::set_var("SSL_CERT_FILE", &file) };
        if no_tls {
            // Otherwise the default certificate directory is read as well; a
            // directory that does not exist is skipped.
            // SAFETY: as above.
            unsafe { std::env::set_var("SSL_CERT_DIR", file.with_extension("none")) };
        }
    }
    let _ = PREPARED.set(Prepared {
        placeholder: guard.0.is_some() || !placeholder,
    });
    Ok(guard)
}

/// The roots of the plain HTTP client for reads: none where no TLS is
/// spoken, so building it loads nothing; otherwise the system's (and
/// `--ca-file`, added by the caller).
pub fn http_roots(builder: reqwest::ClientBuilder, plain_http: bool) -> reqwest::ClientBuilder {
    if plain_http {
        builder.tls_certs_only(std::iter::empty())
    } else {
        builder
    }
}

/// Whether oci-client may be built in this process: its roots were
/// prepared (a process that said it only reads has none in place).
pub fn oci_client_ready() -> bool {
    PREPARED.get().is_some_and(|p| p.placeholder)
}

/// The client configuration's share of the workaround; refuses when
/// [`prepare`] did not run.
pub fn configure(config: &mut ClientConfig, plain_http: bool) -> Result<(), RegistryError> {
    if PREPARED.get().is_none() {
        return Err(RegistryError::Roots(
            "internal error: registry::roots::prepare must run in main before a registry client is built".into(),
        ));
    }
    if plain_http {
        // No TLS is spoken, but the HTTP client still loads every system
        // root certificate (10+ ms). Trusting only a placeholder skips that.
        config.tls_certs_only.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data: PLACEHOLDER.to_vec(),
        });
    }
    Ok(())
}
