//! OCI registries on loopback: one that serves the referrers API (our build of
//! go-containerregistry's registry) and Debian's docker-registry (distribution
//! 2.8), which does not.

use std::path::PathBuf;
use std::time::Duration;

use super::process::Process;
use super::{cluster::run_dir, free_port, http, peers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answers `GET /v2/<name>/referrers/<digest>`.
    Referrers,
    /// distribution 2.8: clients must use the `sha256-<hex>` tag schema.
    TagSchema,
    /// distribution 2.8 behind htpasswd (Basic) auth: [`USER`] / [`PASSWORD`],
    /// realm [`REALM`].
    Htpasswd,
}

/// The one account of a [`Kind::Htpasswd`] registry.
pub const USER: &str = "kplug";
pub const PASSWORD: &str = "s3cret-Pa55";
pub const REALM: &str = "kplug-e2e-realm";

pub struct Registry {
    pub kind: Kind,
    /// `127.0.0.1:<port>`, as image references use it.
    pub host: String,
    dir: PathBuf,
    process: Process,
}

impl Registry {
    pub fn start(kind: Kind) -> Registry {
        let dir = run_dir();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let process = match kind {
            Kind::Referrers => {
                std::fs::create_dir_all(dir.join("blobs")).expect("create blob dir");
                Process::start(
                    "oci-registry",
                    &peers::path("REGISTRY_REFERRERS"),
                    &[
                        format!("--addr={host}"),
                        format!("--blobs={}", dir.join("blobs").display()),
                    ],
                    &dir,
                    &[],
                )
            }
            Kind::TagSchema | Kind::Htpasswd => {
                let config = dir.join("config.yml");
                let mut text = format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
                    dir.join("data").display()
                );
                if kind == Kind::Htpasswd {
                    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hash");
                    let htpasswd = dir.join("htpasswd");
                    std::fs::write(&htpasswd, format!("{USER}:{hash}\n")).expect("write htpasswd");
                    text.push_str(&format!(
                        "auth:\n  htpasswd:\n    realm: {REALM}\n    path: {}\n",
                        htpasswd.display()
                    ));
                }
                std::fs::write(&config, text).expect("write registry config");
                Process::start(
                    "docker-registry",
                    &peers::path("REGISTRY_PLAIN"),
                    &["serve".into(), config.display().to_string()],
                    &dir,
                    &[],
                )
            }
        };
        let mut registry = Registry {
            kind,
            host,
            dir,
            process,
        };
        let host = registry.host.clone();
        registry.process.wait_until(Duration::from_secs(30), || {
            // An auth registry answers 401 to the anonymous probe once it is up.
            http::get(&host, "/v2/", &[]).is_ok_and(|r| r.status == 200 || r.status == 401)
        });
        registry
    }

    /// `GET /v2/<repo>/referrers/<digest>`.
    pub fn referrers(&self, repo: &str, digest: &str) -> http::Response {
        http::get(&self.host, &format!("/v2/{repo}/referrers/{digest}"), &[])
            .expect("registry answers")
    }

    /// Where a [`Kind::Referrers`] registry keeps blobs: `sha256/<hex>`.
    pub fn blob_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// The registry's log so far.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
