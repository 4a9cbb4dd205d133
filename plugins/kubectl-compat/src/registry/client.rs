//! The registry client: how to reach and authenticate to a registry, and
//! the timeouts and retries every call goes through. What it does is in
//! [`super::read`] (over [`super::wire`]), [`super::push`] and
//! [`super::delete`]; how failures are
//! worded is in [`super::errors`] and [`super::auth`]. Manifests and blobs
//! are capped at 4 MiB; credentials never reach messages.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;

use super::errors::{self, RegistryError};
use super::reference::Reference;

pub const MAX_BYTES: i64 = 4 * 1024 * 1024;

/// How to reach and authenticate to the registry.
#[derive(Clone, Default)]
pub struct Options {
    pub plain_http: bool,
    pub insecure: bool,
    pub ca_file: Option<std::path::PathBuf>,
    pub timeout: Option<Duration>,
    pub auth: Auth,
    /// Where artifacts already read are kept (off by default).
    pub cache: super::cache::Cache,
}

/// Credentials; `Debug` never shows secrets.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

pub struct Registry {
    /// oci-client, for writes; built on first use (reads never need it).
    client: std::sync::OnceLock<oci_client::Client>,
    /// Its configuration until then.
    config: std::sync::Mutex<Option<ClientConfig>>,
    /// The HTTP client reads (and deletes) go through, built on first use.
    http: std::sync::OnceLock<reqwest::Client>,
    /// The `Authorization` a token registry gave reads, once it did.
    pub(super) token_header: std::sync::Mutex<Option<String>>,
    pub(super) options: Options,
    pub(super) auth: RegistryAuth,
    pub(super) timeout: Duration,
    /// `--ca-file`'s certificates, read once for both HTTP clients.
    ca_pem: Option<Vec<u8>>,
    pub(super) host: String,
    pub(super) cache: super::cache::Cache,
    /// Where the API is served (`registry-1.docker.io` for `docker.io`).
    pub(super) api_host: String,
}

impl Registry {
    pub fn new(reference: &Reference, options: &Options) -> Result<Registry, RegistryError> {
        let mut config = ClientConfig {
            protocol: if options.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: options.insecure,
            // One request per blob: specs are small, and some registries answer
            // chunked-upload starts without the Location oci-client needs.
            use_monolithic_push: true,
            ..Default::default()
        };
        super::roots::configure(&mut config, options.plain_http)?;
        let ca_pem = match &options.ca_file {
            Some(ca) => Some(std::fs::read(ca).map_err(|source| RegistryError::CaFile {
                path: ca.clone(),
                source,
            })?),
            None => None,
        };
        if let Some(data) = &ca_pem {
            config
                .extra_root_certificates
                .push(oci_client::client::Certificate {
                    encoding: oci_client::client::CertificateEncoding::Pem,
                    data: data.clone(),
                });
        }
        let auth = match &options.auth {
            Auth::Anonymous => RegistryAuth::Anonymous,
            Auth::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Auth::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        };
        Ok(Registry {
            options: options.clone(),
            client: std::sync::OnceLock::new(),
            config: std::sync::Mutex::new(Some(config)),
            http: std::sync::OnceLock::new(),
            token_header: std::sync::Mutex::new(None),
            auth,
            timeout: options.timeout.unwrap_or(Duration::from_secs(60)),
            ca_pem,
            host: reference.registry.clone(),
            cache: options.cache.clone(),
            api_host: reference.api_host().to_string(),
        })
    }

    pub(super) fn scheme(&self) -> &'static str {
        if self.options.plain_http {
            "http"
        } else {
            "https"
        }
    }

    /// oci-client, built on first use: building it costs two HTTP clients,
    /// which a read-only command never needs.
    pub(super) fn client(&self) -> &oci_client::Client {
        assert!(
            super::roots::oci_client_ready(),
            "a command that pushes or deletes must not call roots::prepare as read-only"
        );
        self.client.get_or_init(|| {
            let config = self
                .config
                .lock()
                .ok()
                .and_then(|mut c| c.take())
                .expect("the configuration is kept until the client is built");
            oci_client::Client::new(config)
        })
    }

    /// A plain HTTP client with the same TLS settings as the OCI client, for
    /// reads and for what oci-client does not do; one per registry, so its
    /// requests share a kept-alive connection.
    pub(super) fn http(&self) -> Result<&reqwest::Client, RegistryError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let built = self.build_http()?;
        Ok(self.http.get_or_init(|| built))
    }

    fn build_http(&self) -> Result<reqwest::Client, RegistryError> {
        let mut builder = super::roots::http_roots(
            reqwest::Client::builder().danger_accept_invalid_certs(self.options.insecure),
            self.options.plain_http,
        );
        if let (Some(ca), Some(pem)) = (&self.options.ca_file, &self.ca_pem) {
            let cert =
                reqwest::Certificate::from_pem(pem).map_err(|source| RegistryError::CaInvalid {
                    path: ca.clone(),
                    source,
                })?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build()
            .map_err(|source| RegistryError::Http { source })
    }

    pub(super) fn timed_out(&self, what: &str) -> RegistryError {
        RegistryError::TimedOut {
            what: what.to_string(),
            host: self.host.clone(),
            after: self.timeout,
        }
    }

    pub(super) async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(self.timed_out(what)),
            Ok(Err(e)) => Err(self.fail(what, e).await),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// [`Registry::call`] for reads, retried twice with backoff (0.25 s, 0.5 s,
    /// plus jitter) when the registry is rate-limiting (429) or failing (5xx)
    /// or the connection timed out.
    pub(super) async fn read<T, Fut>(
        &self,
        what: &str,
        mut make: impl FnMut() -> Fut,
    ) -> Result<T, RegistryError>
    where
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = Duration::from_millis(250);
        for _ in 0..2 {
            match tokio::time::timeout(self.timeout, make()).await {
                Ok(Err(e)) if errors::transient(&e) => {
                    let jitter = Duration::from_millis(u64::from(std::process::id() % 100));
                    tokio::time::sleep(delay + jitter).await;
                    delay *= 2;
                }
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => return Err(self.fail(what, e).await),
                Err(_) => return Err(self.timed_out(what)),
            }
        }
        self.call(what, make()).await
    }

    pub(super) fn oci(r: &Reference, digest: Option<&str>) -> oci_client::Reference {
        match (digest.or(r.digest.as_deref()), &r.tag) {
            (Some(d), _) => oci_client::Reference::with_digest(
                r.api_host().into(),
                r.repository.clone(),
                d.into(),
            ),
            (None, t) => oci_client::Reference::with_tag(
                r.api_host().into(),
                r.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}
