//! etcd + kube-apiserver on free loopback ports, RBAC on, with an admin and a
//! deliberately unprivileged user; or an existing cluster from
//! `KPLUG_E2E_KUBECONFIG`, where the unprivileged user is an impersonated one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use kplug::cli::KubectlArgs;

use super::process::Process;
use super::{free_port, peers};

/// The kubeconfig context of the admin user (system:masters).
pub const ADMIN: &str = "kplug-admin";
/// The kubeconfig context of a user with no RBAC grants at all.
pub const UNPRIVILEGED: &str = "kplug-unprivileged";
/// The unprivileged user's name, as the API server sees it.
pub const UNPRIVILEGED_USER: &str = "kplug-e2e-unprivileged";

pub struct Cluster {
    /// Kubeconfig with the contexts [`ADMIN`] and [`UNPRIVILEGED`].
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>` (or the external cluster's server).
    pub server: String,
    /// Running on an existing cluster (`KPLUG_E2E_KUBECONFIG`)?
    pub external: bool,
    dir: PathBuf,
    etcd: Option<Process>,
    apiserver: Mutex<Option<Process>>,
    secure_port: u16,
    etcd_url: String,
}

impl Cluster {
    /// The cluster shared by every test of this process (each test uses its own
    /// namespace). Started on first use; stopped when the process ends.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var_os("KPLUG_E2E_KUBECONFIG") {
            Some(path) => Cluster::existing(Path::new(&path)),
            None => Cluster::start(),
        })
    }

    /// A private cluster that the test may stop and restart; dropped with the test.
    pub fn private() -> Cluster {
        Cluster::start()
    }

    fn start() -> Cluster {
        let dir = run_dir();
        let etcd_port = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let mut etcd = Process::start(
            "etcd",
            &peers::path("ETCD"),
            &[
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--listen-peer-urls=http://127.0.0.1:{}", free_port()),
            ],
            &dir,
            &[],
        );
        etcd.wait_until(Duration::from_secs(30), || {
            std::fs::read_to_string(dir.join("etcd.log")).is_ok_and(|l| l.contains("etcd ready"))
        });

        write_credentials(&dir);
        let secure_port = free_port();
        let server = format!("https://127.0.0.1:{secure_port}");
        let cluster = Cluster {
            kubeconfig: dir.join("kubeconfig"),
            server,
            external: false,
            dir,
            etcd: Some(etcd),
            apiserver: Mutex::new(None),
            secure_port,
            etcd_url,
        };
        cluster.start_apiserver();
        cluster
    }

    /// An existing cluster from a kubeconfig (its current context): the admin
    /// is that context, the unprivileged user is the same credentials
    /// impersonating [`UNPRIVILEGED_USER`].
    pub fn existing(path: &Path) -> Cluster {
        let dir = run_dir();
        let kubeconfig = dir.join("kubeconfig");
        // Copy the user's kubeconfig and add our two contexts on top of its current one.
        let cluster = kubectl_out(
            path,
            &[
                "config",
                "view",
                "--minify",
                "-o",
                "jsonpath={.contexts[0].context.cluster}",
            ],
        );
        let user = kubectl_out(
            path,
            &[
                "config",
                "view",
                "--minify",
                "-o",
                "jsonpath={.contexts[0].context.user}",
            ],
        );
        let server = kubectl_out(
            path,
            &[
                "config",
                "view",
                "--minify",
                "-o",
                "jsonpath={.clusters[0].cluster.server}",
            ],
        );
        let flat = kubectl_out(path, &["config", "view", "--flatten", "--raw"]);
        std::fs::write(&kubeconfig, flat).expect("write kubeconfig copy");
        for (ctx, extra) in [(ADMIN, None), (UNPRIVILEGED, Some(UNPRIVILEGED_USER))] {
            let ctx_user = match extra {
                None => user.clone(),
                Some(as_user) => {
                    let name = format!("{user}-as-{as_user}");
                    // Same credentials, impersonating a user that has no grants.
                    add_impersonating_user(&kubeconfig, &user, &name, as_user);
                    name
                }
            };
            kubectl_out(
                &kubeconfig,
                &[
                    "config",
                    "set-context",
                    ctx,
                    &format!("--cluster={cluster}"),
                    &format!("--user={ctx_user}"),
                ],
            );
        }
        kubectl_out(&kubeconfig, &["config", "use-context", ADMIN]);
        Cluster {
            kubeconfig,
            server,
            external: true,
            dir,
            etcd: None,
            apiserver: Mutex::new(None),
            secure_port: 0,
            etcd_url: String::new(),
        }
    }

    /// Start (or restart) kube-apiserver on the same port and etcd.
    pub fn start_apiserver(&self) {
        assert!(
            !self.external,
            "cannot start the API server of an external cluster"
        );
        let dir = &self.dir;
        let args = vec![
            format!("--etcd-servers={}", self.etcd_url),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={}", self.secure_port),
            format!("--cert-dir={}", dir.join("certs").display()),
            format!("--token-auth-file={}", dir.join("tokens.csv").display()),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                dir.join("sa.key").display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                dir.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--profiling=false".into(),
        ];
        let mut process = Process::start(
            "kube-apiserver",
            &peers::path("KUBE_APISERVER"),
            &args,
            dir,
            &[],
        );
        let cert = dir.join("certs").join("apiserver.crt");
        let mut kubeconfig_written = false;
        process.wait_until_explained(Duration::from_secs(120), || {
            if !kubeconfig_written {
                if !cert.exists() {
                    return Err(format!("no {} yet", cert.display()));
                }
                self.write_kubeconfig(&cert);
                kubeconfig_written = true;
            }
            let out = Command::new(peers::path("KUBECTL"))
                .args(["--kubeconfig"])
                .arg(&self.kubeconfig)
                .args([
                    "--context",
                    ADMIN,
                    "--request-timeout=5s",
                    "get",
                    "--raw",
                    "/readyz?verbose",
                ])
                .output()
                .map_err(|e| format!("kubectl: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            // The checks that fail, or why kubectl got no answer.
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Err(text
                .lines()
                .filter(|l| !l.starts_with("[+]"))
                .collect::<Vec<_>>()
                .join("; "))
        });
        *self.apiserver.lock().unwrap() = Some(process);
    }

    /// Compact etcd's history up to its current revision, as the API
    /// server's periodic compaction does: a watch or list from an older
    /// resourceVersion then gets 410 Gone. Through etcd's JSON gateway, so
    /// no etcdctl is needed. Returns the revision.
    pub fn compact_etcd(&self) -> i64 {
        let host = self.etcd_url.trim_start_matches("http://");
        let json = [("Content-Type", "application/json")];
        let post = |path: &str, body: String| {
            let r = super::http::request("POST", host, path, &json, body.as_bytes())
                .unwrap_or_else(|e| panic!("etcd {path}: {e}"));
            assert_eq!(
                r.status,
                200,
                "etcd {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            r.json()
        };
        // Any key: the answer's header carries the store's revision.
        let range = post("/v3/kv/range", r#"{"key": "AA=="}"#.into());
        let revision: i64 = range["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .expect("etcd reports its revision");
        post(
            "/v3/kv/compaction",
            format!(r#"{{"revision": "{revision}", "physical": true}}"#),
        );
        revision
    }

    /// Stop kube-apiserver (etcd keeps the data), e.g. to test reconnects.
    pub fn stop_apiserver(&self) {
        if let Some(mut p) = self.apiserver.lock().unwrap().take() {
            p.stop();
        }
    }

    fn write_kubeconfig(&self, ca: &Path) {
        let ca = std::fs::read(ca).expect("read apiserver certificate");
        let ca = base64(&ca);
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {ADMIN}\nclusters:\n- name: kplug-e2e\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: {ADMIN}\n  context: {{cluster: kplug-e2e, user: admin, namespace: default}}\n- name: {UNPRIVILEGED}\n  context: {{cluster: kplug-e2e, user: unprivileged, namespace: default}}\nusers:\n- name: admin\n  user: {{token: {ADMIN_TOKEN}}}\n- name: unprivileged\n  user: {{token: {USER_TOKEN}}}\n",
            server = self.server
        );
        std::fs::write(&self.kubeconfig, text).expect("write kubeconfig");
    }

    /// Flags a plugin gets to talk to this cluster as `context`.
    pub fn args(&self, context: &str) -> Vec<String> {
        vec![
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
            "--context".into(),
            context.into(),
        ]
    }

    /// The same, as the library's flag struct.
    pub fn kubectl_args(&self, context: &str) -> KubectlArgs {
        KubectlArgs {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: Some(context.into()),
            ..Default::default()
        }
    }

    /// A client for `context`, built by the library under test.
    pub async fn client(&self, context: &str) -> kube::Client {
        kplug::init_tls();
        kplug::client::client(&self.kubectl_args(context))
            .await
            .unwrap_or_else(|e| panic!("client for {context}: {e}"))
    }

    /// Create a namespace of its own for a test.
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = super::unique_name(prefix);
        super::objects::create_namespace(&self.client(ADMIN).await, &name).await;
        name
    }

    /// The data directory (logs, certificates, kubeconfig).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_apiserver();
        if let Some(mut e) = self.etcd.take() {
            e.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const ADMIN_TOKEN: &str = "kplug-admin-token";
const USER_TOKEN: &str = "kplug-unprivileged-token";

fn write_credentials(dir: &Path) {
    std::fs::write(
        dir.join("tokens.csv"),
        format!(
            "{ADMIN_TOKEN},kplug-admin,1,\"system:masters\"\n{USER_TOKEN},{UNPRIVILEGED_USER},2,\n"
        ),
    )
    .expect("write tokens");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(dir.join("sa.key"))
        .arg("2048")
        .output()
        .expect("openssl is needed to make the service-account key");
    assert!(status.status.success(), "openssl genrsa failed");
}

/// A fresh directory for one cluster or registry, under the peer cache so that
/// a run that died is cleaned up by the next one.
pub fn run_dir() -> PathBuf {
    let root = peers::cache_dir().join("runs");
    let _ = std::fs::create_dir_all(&root);
    // Remove what earlier, dead test processes left behind.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = root.join(super::unique_name(&std::process::id().to_string()));
    std::fs::create_dir_all(&dir).expect("create run dir");
    dir
}

fn kubectl_out(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(peers::path("KUBECTL"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Add user `to`: the credentials of `from`, impersonating `as_user`.
fn add_impersonating_user(kubeconfig: &Path, from: &str, to: &str, as_user: &str) {
    let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
    let mut doc: serde_json::Value = serde_saphyr::from_str(&text).expect("parse kubeconfig");
    let users = doc["users"].as_array().cloned().unwrap_or_default();
    let mut user = users
        .iter()
        .find(|u| u["name"] == from)
        .map(|u| u["user"].clone())
        .unwrap_or_else(|| panic!("kubeconfig has no user {from}"));
    user["as"] = serde_json::json!(as_user);
    if let Some(list) = doc["users"].as_array_mut() {
        list.retain(|u| u["name"] != to);
        list.push(serde_json::json!({"name": to, "user": user}));
    }
    std::fs::write(
        kubeconfig,
        serde_saphyr::to_string(&doc).expect("write kubeconfig"),
    )
    .expect("write kubeconfig");
}

fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
