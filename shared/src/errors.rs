//! Typed errors of the library. Each variant is one clear sentence that says
//! what failed and what to do, and maps to a stable exit code ([`crate::exit`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::exit::Code;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad flags or arguments that clap could not catch.
    #[error("{0}")]
    Usage(String),

    #[error(
        "no kubeconfig found (looked at {looked_at}) and not running inside a cluster; \
         pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config"
    )]
    NoKubeconfig { looked_at: String },

    #[error("cannot read kubeconfig {}: {message}; check the file exists and is valid YAML", path.display())]
    KubeconfigUnreadable { path: PathBuf, message: String },

    #[error("kubeconfig is invalid: {0}")]
    KubeconfigInvalid(String),

    #[error("kubeconfig has no current context; pass --context NAME{}", available_hint(.available))]
    NoCurrentContext { available: Vec<String> },

    #[error("context \"{context}\" not found in kubeconfig{}", available_hint(.available))]
    ContextNotFound {
        context: String,
        available: Vec<String>,
    },

    #[error(
        "cluster \"{cluster}\" not found in kubeconfig; check --cluster or the context's cluster"
    )]
    ClusterNotFound { cluster: String },

    #[error("cannot load in-cluster configuration: {0}")]
    InCluster(String),

    #[error(
        "cannot connect to the API server at {server}: {reason}; \
         check that the cluster is running and that the kubeconfig points at it"
    )]
    Unreachable {
        server: String,
        reason: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error(
        "the API server at {server} presented a TLS certificate that {problem}; \
         trust the CA that signed it with certificate-authority-data (or certificate-authority) \
         in the kubeconfig's cluster entry"
    )]
    Tls { server: String, problem: String },

    #[error(
        "the server at {server} did not answer as a Kubernetes API server ({reason}); \
         check the kubeconfig's server URL (a redirect, a proxy or a login page answers like this)"
    )]
    NotKubernetes {
        server: String,
        reason: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "the API server at {server} rejected the credentials (401 Unauthorized); log in again or refresh the kubeconfig's token"
    )]
    Unauthorized { server: String },

    #[error(
        "forbidden: {message}; ask a cluster administrator for RBAC access (see `kubectl auth can-i`)"
    )]
    Forbidden { message: String },

    #[error("not found: {message}")]
    NotFound { message: String },

    #[error("the API server did not answer within {} (--request-timeout); try a longer timeout", crate::output::age::human_duration(*after))]
    Timeout { after: Duration },

    #[error("the API server answered {code} {reason}: {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },

    #[error("{0}")]
    Manifest(#[from] crate::manifest::ManifestError),

    #[error("invalid label selector: {0}")]
    Selector(#[from] crate::selector::SelectorError),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The check ran to the end and found problems (exit code 3).
    #[error("{0}")]
    Problems(String),
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        "; the kubeconfig defines no contexts".to_string()
    } else {
        format!("; available contexts: {}", available.join(", "))
    }
}

impl Error {
    /// The stable exit code of this error.
    pub fn exit_code(&self) -> Code {
        match self {
            Error::Usage(_) | Error::Selector(_) => Code::Usage,
            Error::Problems(_) => Code::Problems,
            _ => Code::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_kind() {
        assert_eq!(Error::Usage("x".into()).exit_code(), Code::Usage);
        assert_eq!(Error::Problems("x".into()).exit_code(), Code::Problems);
        let e = Error::Forbidden {
            message: "pods is forbidden".into(),
        };
        assert_eq!(e.exit_code(), Code::Error);
    }

    #[test]
    fn context_not_found_lists_contexts() {
        let e = Error::ContextNotFound {
            context: "prod".into(),
            available: vec!["dev".into(), "staging".into()],
        };
        assert_eq!(
            e.to_string(),
            "context \"prod\" not found in kubeconfig; available contexts: dev, staging"
        );
    }

    #[test]
    fn messages_are_single_sentences_with_advice() {
        let e = Error::Unreachable {
            server: "https://127.0.0.1:6443".into(),
            reason: "connection refused".into(),
            source: Box::new(kube::Error::LinesCodecMaxLineLengthExceeded),
        };
        let s = e.to_string();
        assert!(s.contains("127.0.0.1:6443") && s.contains("connection refused"));
        assert!(s.contains("check that the cluster is running"));
        assert!(!s.contains('\n'));
    }
}
