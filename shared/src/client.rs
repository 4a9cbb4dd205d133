//! A `kube::Client` from the kubectl flags, and API errors turned into one
//! clear sentence each.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use crate::cli::KubectlArgs;
use crate::errors::Error;

/// Where the configuration comes from, decided before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--kubeconfig FILE`: only that file.
    File(PathBuf),
    /// `$KUBECONFIG` or `~/.kube/config`: the existing files, merged in order.
    Files(Vec<PathBuf>),
    /// Running in a Pod with a service account.
    InCluster,
}

/// The environment facts that choose the source, so the choice can be tested.
#[derive(Debug, Clone, Default)]
pub struct ConfigEnv {
    pub kubeconfig: Option<OsString>,
    pub home: Option<PathBuf>,
    pub in_cluster: bool,
}

impl ConfigEnv {
    pub fn from_process() -> Self {
        ConfigEnv {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            home: std::env::var_os("HOME")
                .or_else(|| std::env::var_os("USERPROFILE"))
                .map(PathBuf::from),
            in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
                && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some(),
        }
    }
}

/// Choose the config source like kubectl: `--kubeconfig`, then the files in
/// `$KUBECONFIG` that exist (missing ones are skipped), then `~/.kube/config`,
/// then in-cluster.
pub fn config_source(explicit: Option<&Path>, env: &ConfigEnv) -> Result<ConfigSource, Error> {
    if let Some(path) = explicit {
        return Ok(ConfigSource::File(path.to_path_buf()));
    }
    let mut looked_at = Vec::new();
    if let Some(list) = env.kubeconfig.as_ref().filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        looked_at.push(format!("KUBECONFIG={}", list.to_string_lossy()));
        let existing: Vec<PathBuf> = paths.into_iter().filter(|p| p.exists()).collect();
        if !existing.is_empty() {
            return Ok(ConfigSource::Files(existing));
        }
    } else if let Some(home) = &env.home {
        let default = home.join(".kube").join("config");
        if default.exists() {
            return Ok(ConfigSource::Files(vec![default]));
        }
        looked_at.push(default.display().to_string());
    }
    if env.in_cluster {
        return Ok(ConfigSource::InCluster);
    }
    Err(Error::NoKubeconfig {
        looked_at: if looked_at.is_empty() {
            "no KUBECONFIG and no home directory".into()
        } else {
            looked_at.join(" and ")
        },
    })
}

fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, Error> {
    Kubeconfig::read_from(path).map_err(|e| match e {
        KubeconfigError::ReadConfig(io, _) => Error::KubeconfigUnreadable {
            path: path.to_path_buf(),
            message: io.to_string(),
        },
        other => Error::KubeconfigUnreadable {
            path: path.to_path_buf(),
            message: first_line(&other.to_string()),
        },
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Check the chosen context and cluster exist, so the error can list what does.
pub fn check_selection(kc: &Kubeconfig, opts: &KubeConfigOptions) -> Result<(), Error> {
    let available: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
    let context_name = match opts.context.as_ref().or(kc.current_context.as_ref()) {
        Some(name) if !name.is_empty() => name,
        _ => return Err(Error::NoCurrentContext { available }),
    };
    let context = kc
        .contexts
        .iter()
        .find(|c| &c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| Error::ContextNotFound {
            context: context_name.clone(),
            available: available.clone(),
        })?;
    let cluster = opts.cluster.as_ref().unwrap_or(&context.cluster);
    if !kc.clusters.iter().any(|c| &c.name == cluster) {
        return Err(Error::ClusterNotFound {
            cluster: cluster.clone(),
        });
    }
    Ok(())
}

/// Build the client configuration from the flags.
pub async fn config(args: &KubectlArgs) -> Result<Config, Error> {
    config_with_env(args, &ConfigEnv::from_process()).await
}

/// [`config`] with explicit environment facts.
pub async fn config_with_env(args: &KubectlArgs, env: &ConfigEnv) -> Result<Config, Error> {
    let opts = KubeConfigOptions {
        context: args.context.clone(),
        cluster: args.cluster.clone(),
        user: args.user.clone(),
    };
    let mut config = match config_source(args.kubeconfig.as_deref(), env)? {
        ConfigSource::File(path) => {
            let kc = read_kubeconfig(&path)?;
            from_kubeconfig(kc, &opts).await?
        }
        ConfigSource::Files(paths) => {
            let mut merged = Kubeconfig::default();
            for path in &paths {
                merged = merged
                    .merge(read_kubeconfig(path)?)
                    .map_err(|e| Error::KubeconfigInvalid(e.to_string()))?;
            }
            from_kubeconfig(merged, &opts).await?
        }
        ConfigSource::InCluster => {
            Config::incluster().map_err(|e| Error::InCluster(e.to_string()))?
        }
    };
    apply_flags(&mut config, args);
    Ok(config)
}

async fn from_kubeconfig(kc: Kubeconfig, opts: &KubeConfigOptions) -> Result<Config, Error> {
    check_selection(&kc, opts)?;
    Config::from_custom_kubeconfig(kc, opts)
        .await
        .map_err(|e| Error::KubeconfigInvalid(first_line(&e.to_string())))
}

/// Namespace, impersonation and timeouts from the flags.
pub fn apply_flags(config: &mut Config, args: &KubectlArgs) {
    if let Some(ns) = &args.namespace {
        config.default_namespace = ns.clone();
    }
    if let Some(user) = &args.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !args.as_group.is_empty() {
        config.auth_info.impersonate_groups = Some(args.as_group.clone());
    }
    if let Some(t) = args.timeout() {
        // kubectl's --request-timeout bounds each request; watches end when it passes too.
        config.connect_timeout = Some(config.connect_timeout.map_or(t, |c| c.min(t)));
        config.read_timeout = Some(t);
        config.write_timeout = Some(t);
    }
}

/// A client for the flags. Fails early only on configuration problems; the
/// first request shows whether the server answers.
pub async fn client(args: &KubectlArgs) -> Result<Client, Error> {
    let config = config(args).await?;
    client_from_config(config)
}

pub fn client_from_config(config: Config) -> Result<Client, Error> {
    let server = config.cluster_url.to_string();
    Client::try_from(config).map_err(|e| api_error(e, &server))
}

/// A URL as it may be shown: without a password or token in its userinfo.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// What is wrong with the server's certificate, when that is why a
/// connection failed (rustls' reasons, worded for people).
pub fn tls_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut text = String::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        text.push_str(&format!("{e:?} {e} "));
        cur = e.source();
    }
    // Only rustls' certificate errors: other failures share words ("Expired"
    // is also the reason of a 410 Gone).
    let tls = text.contains("InvalidCertificate")
        || text.contains("CaUsedAsEndEntity")
        || text.contains("invalid peer certificate");
    if !tls {
        return None;
    }
    let problem = if text.contains("CaUsedAsEndEntity") {
        "is self-signed (a CA certificate used as the server's own)"
    } else if text.contains("UnknownIssuer") {
        "is signed by a certificate authority this machine does not trust"
    } else if text.contains("NotValidForName") {
        "does not name this server's host"
    } else if text.contains("Expired") {
        "has expired"
    } else if text.contains("NotValidYet") {
        "is not valid yet (check this machine's clock)"
    } else {
        "is not valid"
    };
    Some(problem.to_string())
}

/// Turn a kube error into one sentence that says what to do.
pub fn api_error(err: kube::Error, server: &str) -> Error {
    let server = &redact_url(server);
    if let Some(problem) = tls_problem(&err) {
        return Error::Tls {
            server: server.clone(),
            problem,
        };
    }
    match err {
        kube::Error::Api(status) => match status.code {
            401 => Error::Unauthorized {
                server: server.to_string(),
            },
            403 => Error::Forbidden {
                message: status.message.clone(),
            },
            404 => Error::NotFound {
                message: status.message.clone(),
            },
            code => Error::Api {
                code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
        },
        kube::Error::SerdeError(source) => Error::NotKubernetes {
            server: server.clone(),
            reason: if source.is_eof() {
                "its reply was empty".into()
            } else {
                "its reply is not a Kubernetes object".into()
            },
            source,
        },
        other => {
            let root = root_cause(&other);
            let reason = if is_timeout(&root) {
                format!("timed out ({root})")
            } else {
                root
            };
            Error::Unreachable {
                server: server.to_string(),
                reason,
                source: Box::new(other),
            }
        }
    }
}

fn is_timeout(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("timed out") || r.contains("elapsed") || r.contains("timeout")
}

/// The innermost cause, worded for people ("connection refused", "dns error: …").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if let Some(io) = cur.downcast_ref::<std::io::Error>() {
        return match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::TimedOut => "connection timed out".into(),
            _ => io.to_string(),
        };
    }
    let text = cur.to_string();
    if text.to_ascii_lowercase().contains("connection refused") {
        "connection refused".into()
    } else {
        text
    }
}

/// How long one request waits without `--request-timeout`: a server that
/// accepts the connection and never answers must not hang a command.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The time one request may take: `--request-timeout`, else
/// [`DEFAULT_REQUEST_TIMEOUT`]; `None` when the user asked to wait forever (`0`).
pub fn effective_timeout(args: &KubectlArgs) -> Option<std::time::Duration> {
    match args.request_timeout {
        None => Some(DEFAULT_REQUEST_TIMEOUT),
        Some(crate::cli::RequestTimeout(t)) => t,
    }
}

/// Run one API call with `--request-timeout` (default
/// [`DEFAULT_REQUEST_TIMEOUT`]; `0` waits forever), mapping errors to [`Error`].
pub async fn request<T, F>(args: &KubectlArgs, server: &str, call: F) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, kube::Error>>,
{
    match effective_timeout(args) {
        Some(after) => match tokio::time::timeout(after, call).await {
            Ok(result) => result.map_err(|e| api_error(e, server)),
            Err(_) => Err(Error::Timeout { after }),
        },
        None => call.await.map_err(|e| api_error(e, server)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::time::Duration;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c-dev
  cluster: {server: "https://127.0.0.1:6443"}
- name: c-prod
  cluster: {server: "https://10.0.0.1:443"}
contexts:
- name: dev
  context: {cluster: c-dev, user: u-dev, namespace: team-a}
- name: prod
  context: {cluster: c-prod, user: u-prod}
users:
- name: u-dev
  user: {token: abc}
- name: u-prod
  user: {token: def}
"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn args(path: &Path) -> KubectlArgs {
        KubectlArgs {
            kubeconfig: Some(path.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn requests_time_out_by_default() {
        let mut a = KubectlArgs::default();
        assert_eq!(effective_timeout(&a), Some(DEFAULT_REQUEST_TIMEOUT));
        a.request_timeout = Some(crate::cli::RequestTimeout(None));
        assert_eq!(effective_timeout(&a), None, "0 waits forever");
        a.request_timeout = Some(crate::cli::RequestTimeout(Some(Duration::from_secs(5))));
        assert_eq!(effective_timeout(&a), Some(Duration::from_secs(5)));
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact_url("https://user:pass@host:6443/x"),
            "https://***@host:6443/x"
        );
        assert_eq!(redact_url("https://host:6443"), "https://host:6443");
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        let e = api_error(
            kube::Error::Service("connection refused".into()),
            "https://admin:hunter2@127.0.0.1:1",
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn source_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        let default = write(&home.join(".kube"), "config", KUBECONFIG);
        let other = write(home, "other", KUBECONFIG);
        let env = ConfigEnv {
            home: Some(home.to_path_buf()),
            ..Default::default()
        };
        assert_eq!(
            config_source(None, &env).unwrap(),
            ConfigSource::Files(vec![default])
        );
        assert_eq!(
            config_source(Some(&other), &env).unwrap(),
            ConfigSource::File(other.clone())
        );
        let list = std::env::join_paths([home.join("missing"), other.clone()]).unwrap();
        let env = ConfigEnv {
            kubeconfig: Some(list),
            ..env
        };
        assert_eq!(
            config_source(None, &env).unwrap(),
            ConfigSource::Files(vec![other])
        );
    }

    #[test]
    fn no_kubeconfig_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let env = ConfigEnv {
            home: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let err = config_source(None, &env).unwrap_err().to_string();
        assert!(err.starts_with("no kubeconfig found (looked at "), "{err}");
        assert!(err.contains("pass --kubeconfig FILE"), "{err}");
        let in_cluster = ConfigEnv {
            in_cluster: true,
            ..env
        };
        assert_eq!(
            config_source(None, &in_cluster).unwrap(),
            ConfigSource::InCluster
        );
    }

    #[tokio::test]
    async fn context_selection_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "kc", KUBECONFIG);
        let env = ConfigEnv::default();

        let c = config_with_env(&args(&path), &env).await.unwrap();
        assert_eq!(c.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(c.default_namespace, "team-a");

        let mut a = args(&path);
        a.context = Some("prod".into());
        a.namespace = Some("ops".into());
        a.as_user = Some("alice".into());
        a.as_group = vec!["dev".into(), "qa".into()];
        a.request_timeout = Some(crate::cli::RequestTimeout(Some(Duration::from_secs(7))));
        let c = config_with_env(&a, &env).await.unwrap();
        assert_eq!(c.cluster_url.host(), Some("10.0.0.1"));
        assert_eq!(c.default_namespace, "ops");
        assert_eq!(c.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(
            c.auth_info.impersonate_groups,
            Some(vec!["dev".into(), "qa".into()])
        );
        assert_eq!(c.read_timeout, Some(Duration::from_secs(7)));
        assert!(c.connect_timeout.unwrap() <= Duration::from_secs(7));
    }

    #[tokio::test]
    async fn clear_errors_for_bad_selection() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "kc", KUBECONFIG);
        let env = ConfigEnv::default();

        let mut a = args(&path);
        a.context = Some("staging".into());
        let err = config_with_env(&a, &env).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "context \"staging\" not found in kubeconfig; available contexts: dev, prod"
        );

        let mut a = args(&path);
        a.cluster = Some("nope".into());
        let err = config_with_env(&a, &env).await.unwrap_err().to_string();
        assert!(err.starts_with("cluster \"nope\" not found"), "{err}");

        let no_current = write(
            dir.path(),
            "nc",
            &KUBECONFIG.replace("current-context: dev", ""),
        );
        let err = config_with_env(&args(&no_current), &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("kubeconfig has no current context; pass --context NAME"),
            "{err}"
        );

        let err = config_with_env(&args(&dir.path().join("absent")), &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read kubeconfig "), "{err}");
        assert!(err.contains("absent"), "{err}");

        let garbage = write(dir.path(), "garbage", "clusters: [unclosed\n");
        let err = config_with_env(&args(&garbage), &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read kubeconfig "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[tokio::test]
    async fn merges_kubeconfig_list_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(
            dir.path(),
            "a",
            "apiVersion: v1\nkind: Config\ncurrent-context: only\ncontexts:\n- name: only\n  context: {cluster: c1}\nclusters:\n- name: c1\n  cluster: {server: \"https://127.0.0.2:1\"}\n",
        );
        let second = write(dir.path(), "b", KUBECONFIG);
        let env = ConfigEnv {
            kubeconfig: Some(std::env::join_paths([&first, &second]).unwrap()),
            ..Default::default()
        };
        let c = config_with_env(&KubectlArgs::default(), &env)
            .await
            .unwrap();
        assert_eq!(c.cluster_url.host(), Some("127.0.0.2"));
        let a = KubectlArgs {
            context: Some("prod".into()),
            ..Default::default()
        };
        let c = config_with_env(&a, &env).await.unwrap();
        assert_eq!(c.cluster_url.host(), Some("10.0.0.1"));
    }

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn api_status_mapping() {
        let e = api_error(
            status(
                403,
                "Forbidden",
                "pods is forbidden: User \"bob\" cannot list resource \"pods\"",
            ),
            "https://x",
        );
        assert!(matches!(e, Error::Forbidden { .. }));
        let s = e.to_string();
        assert!(
            s.starts_with("forbidden: pods is forbidden: User \"bob\""),
            "{s}"
        );
        assert!(s.contains("kubectl auth can-i"), "{s}");
        assert!(matches!(
            api_error(status(401, "Unauthorized", ""), "https://x"),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            api_error(status(404, "NotFound", "pods \"x\" not found"), "s"),
            Error::NotFound { .. }
        ));
        let e = api_error(status(500, "InternalError", "boom"), "s");
        assert_eq!(
            e.to_string(),
            "the API server answered 500 InternalError: boom"
        );
    }

    /// Ask a plain-HTTP server on this loopback port for its version; the error text.
    async fn version_error_against(port: u16, timeout: Option<Duration>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let kc = KUBECONFIG.replace(
            "https://127.0.0.1:6443",
            &format!("http://127.0.0.1:{port}"),
        );
        let mut a = args(&write(dir.path(), "kc", &kc));
        a.request_timeout = timeout.map(|t| crate::cli::RequestTimeout(Some(t)));
        let cfg = config_with_env(&a, &ConfigEnv::default()).await.unwrap();
        let server = cfg.cluster_url.to_string();
        let client = client_from_config(cfg).unwrap();
        request(&a, &server, client.apiserver_version())
            .await
            .unwrap_err()
            .to_string()
    }

    #[tokio::test]
    async fn connection_refused_is_one_sentence() {
        // A port nobody listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = version_error_against(port, None).await;
        assert!(s.contains(&format!("127.0.0.1:{port}")), "{s}");
        assert!(s.contains("connection refused"), "{s}");
        assert!(s.contains("check that the cluster is running"), "{s}");
    }

    #[tokio::test]
    async fn request_timeout_is_reported() {
        // A listener that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let s = version_error_against(port, Some(Duration::from_millis(300))).await;
        assert!(
            s.contains("did not answer within") || s.contains("timed out"),
            "{s}"
        );
        hold.abort();
    }

    #[tokio::test]
    async fn a_redirect_is_not_taken_for_an_api_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serve = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 302 Found\r\nLocation: https://login.example/\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let s = version_error_against(port, Some(Duration::from_secs(5))).await;
        assert!(
            s.contains("did not answer as a Kubernetes API server"),
            "{s}"
        );
        assert!(!s.contains("EOF while parsing"), "{s}");
        serve.abort();
    }

    #[test]
    fn certificate_failures_are_named() {
        use rustls::{CertificateError, Error as TlsError};
        let wrap = |e: CertificateError| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                TlsError::InvalidCertificate(e),
            )
        };
        assert_eq!(
            tls_problem(&wrap(CertificateError::UnknownIssuer)).unwrap(),
            "is signed by a certificate authority this machine does not trust"
        );
        assert!(
            tls_problem(&wrap(CertificateError::Expired))
                .unwrap()
                .contains("expired")
        );
        assert!(tls_problem(&std::io::Error::other("connection refused")).is_none());
        // A 410 Gone's reason is "Expired": not a certificate.
        assert!(
            tls_problem(&std::io::Error::other(
                "WatchError(ErrorResponse { reason: \"Expired\", code: 410 })"
            ))
            .is_none()
        );
        let e = Error::Tls {
            server: "https://h".into(),
            problem: "is self-signed".into(),
        };
        assert!(e.to_string().contains("certificate-authority-data"), "{e}");
    }

    #[test]
    fn api_errors_keep_what_they_came_from() {
        let decode = serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        let e = api_error(kube::Error::SerdeError(decode), "https://u:p@h:6443");
        assert!(matches!(e, Error::NotKubernetes { .. }), "{e}");
        assert!(!e.to_string().contains("u:p"), "{e}");
        let source = std::error::Error::source(&e).expect("the decode error is kept");
        assert!(source.downcast_ref::<serde_json::Error>().is_some());
        let e = api_error(kube::Error::LinesCodecMaxLineLengthExceeded, "https://h");
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
