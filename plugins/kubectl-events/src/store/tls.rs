//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` mean it, on
//! rustls. tokio-postgres knows only `disable|prefer|require` and nothing of
//! certificates, so both parameters are read here and taken out of the URL
//! before it parses the rest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;

/// libpq's `sslmode`: how much TLS is asked for and what is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain otherwise; nothing is verified
    /// (libpq's default).
    Prefer,
    /// TLS, the certificate not verified — unless a CA is given, which makes
    /// it `verify-ca` (as libpq does).
    Require,
    /// TLS, the certificate signed by the CA; its name not checked.
    VerifyCa,
    /// TLS, the certificate signed by the CA and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, StoreError> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(StoreError::Url(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }
}

/// Where the CA certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// A PEM file of one or more certificates.
    File(PathBuf),
    /// The system's trust store (`sslrootcert=system`, as libpq 16).
    System,
}

/// What a `postgres://` URL asks of the connection, split for tokio-postgres.
#[derive(Debug)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub mode: SslMode,
    pub roots: Option<Roots>,
}

/// `%2F` → `/` in a URL's query value.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read `url`: `sslmode` and `sslrootcert` are taken out, the rest goes to
/// tokio-postgres. Without `sslrootcert`, `~/.postgresql/root.crt` is used
/// when it exists, as libpq does.
pub fn target(url: &str, shown: &str) -> Result<Target, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = SslMode::Prefer;
    let mut roots = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = SslMode::parse(&percent_decode(value))?,
            "sslrootcert" => {
                let value = percent_decode(value);
                roots = Some(if value == "system" {
                    Roots::System
                } else {
                    Roots::File(value.into())
                });
            }
            _ => kept.push(pair),
        }
    }
    if roots.is_none()
        && let Some(home) = std::env::var_os("HOME")
    {
        let default = Path::new(&home).join(".postgresql/root.crt");
        if default.is_file() {
            roots = Some(Roots::File(default));
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| StoreError::Url(format!("--store {shown}: {e}")))?;
    config.ssl_mode(match mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Prefer => WireMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
    });
    if config.get_connect_timeout().is_none() {
        // A server that does not answer is an error, not a hang.
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    Ok(Target {
        config,
        mode,
        roots,
    })
}

/// The CA certificates `roots` names.
fn load_roots(roots: &Roots) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let bad = |e: &dyn std::fmt::Display| {
                StoreError::Url(format!("sslrootcert={}: {e}", path.display()))
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
                store.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            if store.is_empty() {
                return Err(bad(&"no PEM certificate in the file"));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(StoreError::Url(
                    "sslrootcert=system: the system has no trusted certificates".into(),
                ));
            }
        }
    }
    Ok(store)
}

/// The TLS connector for `target`.
pub fn connector(target: &Target) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verify_chain = match target.mode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Require => target.roots.is_some(),
        SslMode::Disable | SslMode::Prefer => false,
    };
    let chain = if verify_chain {
        let roots = target.roots.as_ref().ok_or_else(|| {
            StoreError::Url(
                "sslmode=verify-ca and verify-full need the server's CA: add sslrootcert=FILE (PEM) or sslrootcert=system to the URL, or put it in ~/.postgresql/root.crt".into(),
            )
        })?;
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(load_roots(roots)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| StoreError::Url(format!("sslrootcert: {e}")))?;
        Some(webpki)
    } else {
        None
    };
    let verifier = Verifier {
        chain,
        check_name: target.mode == SslMode::VerifyFull,
        provider: provider.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Internal(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// What a mode checks of the server's certificate: nothing (`prefer`,
/// `require`: encrypted, not authenticated), the chain to the CA
/// (`verify-ca`), or the chain and the name (`verify-full`). The
/// handshake's signatures are checked against the certificate in every mode.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    /// Where nothing about the certificate is verified (`prefer`,
    /// `require`), an X.509 v1 certificate — what Citus generates for its
    /// nodes, and what libpq accepts in these modes — is let through: webpki
    /// cannot read one to check the handshake's signature, and that check
    /// proves nothing when the certificate itself is not trusted.
    fn unverified_may_pass(
        &self,
        checked: Result<HandshakeSignatureValid, rustls::Error>,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match checked {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(e)))
                if self.chain.is_none() && format!("{e:?}").contains("UnsupportedCertVersion") =>
            {
                Ok(HandshakeSignatureValid::assertion())
            }
            other => other,
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // The name is checked after the chain: a wrong name means a good chain.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.unverified_may_pass(rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        ))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.unverified_may_pass(rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        ))
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_read_and_the_rest_is_kept() {
        let t = target(
            "postgresql://kplug@db:5433/ev?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
            "shown",
        )
        .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.roots, Some(Roots::File("/etc/ca.pem".into())));
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(t.config.get_ssl_mode(), WireMode::Require);
        assert_eq!(t.config.get_dbname(), Some("ev"));
    }

    #[test]
    fn the_default_is_prefer_and_unknown_modes_are_refused() {
        let t = target("postgres://db/ev", "s").unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert_eq!(t.config.get_ssl_mode(), WireMode::Prefer);
        let e = target("postgres://db/ev?sslmode=paranoid", "s").unwrap_err();
        assert!(e.to_string().contains("sslmode=paranoid"), "{e}");
    }

    #[test]
    fn verifying_needs_a_ca_and_a_readable_one() {
        let mut t = target("postgres://db/ev?sslmode=verify-full", "s").unwrap();
        t.roots = None;
        let e = connector(&t).err().unwrap();
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        t.roots = Some(Roots::File("/nonexistent/ca.pem".into()));
        let e = connector(&t).err().unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        // Without verification no CA is needed.
        t.mode = SslMode::Require;
        t.roots = None;
        assert!(connector(&t).is_ok());
    }
}
