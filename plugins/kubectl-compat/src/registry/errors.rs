//! What can go wrong talking to a registry, as types: each variant keeps
//! the error it came from (`#[source]`) and prints one sentence that says
//! what to do. Classification goes by oci-client's error variants and HTTP
//! status codes; only transport failures (DNS, TLS), which reqwest does not
//! type, are recognised by the words of their cause chain.

use std::path::PathBuf;
use std::time::Duration;

use oci_client::errors::{OciDistributionError, OciErrorCode};

type Oci = OciDistributionError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{what}: {host} requires authentication{}; log in with `docker login {host}` or pass --registry-username with --registry-password-stdin (or --registry-token-stdin)", realm_note(.realm))]
    AuthRequired {
        what: String,
        host: String,
        realm: Option<String>,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: {host} rejected the credentials{}; check the username and password or token, or log in again with `docker login {host}`", realm_note(.realm))]
    CredentialsRejected {
        what: String,
        host: String,
        realm: Option<String>,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: {host} denied access{}; the credentials lack pull (or push) rights on this repository", realm_note(.realm))]
    Denied {
        what: String,
        host: String,
        realm: Option<String>,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: not found; check the repository, tag or digest ({})", root(.source))]
    NotFound {
        what: String,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: the registry is rate-limiting; wait and retry, or authenticate for a higher limit ({})", root(.source))]
    RateLimited {
        what: String,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: cannot resolve {host}; check the registry name ({})", root(.source))]
    UnknownHost {
        what: String,
        host: String,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: TLS failed; use --ca-file for a private CA, --insecure to skip verification, or --plain-http for an HTTP registry ({})", root(.source))]
    Tls {
        what: String,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what}: cannot reach {host}; check the address and port (and --plain-http for an HTTP registry) ({})", root(.source))]
    Unreachable {
        what: String,
        host: String,
        #[source]
        source: Box<Oci>,
    },

    #[error(
        "{what}: registry {host} did not answer within {after:?}; raise --registry-timeout or check the network"
    )]
    TimedOut {
        what: String,
        host: String,
        after: Duration,
    },

    #[error("{what}: the registry answered with an error ({})", root(.source))]
    Failed {
        what: String,
        #[source]
        source: Box<Oci>,
    },

    #[error("{what} is larger than 4 MiB; refusing to read it")]
    TooLarge { what: String },

    #[error("{what} is {size} bytes, over the 4 MiB limit")]
    OverLimit { what: String, size: i64 },

    #[error("{what} is not valid JSON: {source}")]
    NotJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// What the registry holds is not what it should be.
    #[error("{what} {why}")]
    Malformed { what: String, why: &'static str },

    #[error("image {image} has no {platform} manifest")]
    NoPlatform { image: String, platform: String },

    #[error(
        "image {image} is a single {found} manifest, not {platform}; drop --platform to attach to it"
    )]
    OtherPlatform {
        image: String,
        found: String,
        platform: String,
    },

    #[error("cannot read --ca-file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("--ca-file {}: {source}", path.display())]
    CaInvalid {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },

    #[error("cannot set up HTTP: {source}")]
    Http {
        #[source]
        source: reqwest::Error,
    },

    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{what}: {}", delete_refusal(*.status, .repository))]
    DeleteRefused {
        what: String,
        status: u16,
        repository: String,
    },

    #[error("{0}")]
    Roots(String),

    #[error("writing {}: {source}", path.display())]
    Placeholder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn realm_note(realm: &Option<String>) -> String {
    realm
        .as_ref()
        .map(|r| format!(" (realm \"{r}\")"))
        .unwrap_or_default()
}

fn delete_refusal(status: u16, repository: &str) -> String {
    match status {
        401 => "the registry wants credentials with delete rights; pass --registry-username and --registry-password-stdin".into(),
        403 => format!("access denied; the credentials lack delete rights on {repository}"),
        404 => "not found".into(),
        405 => "this registry does not allow deleting manifests (docker-registry needs storage.delete.enabled)".into(),
        code => format!("the registry answered {code}"),
    }
}

/// The innermost cause of `e`, on one line and at most 300 characters:
/// the detail a sentence quotes (the error printer stops there).
pub fn root(e: &Oci) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    one_line(&cur.to_string())
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

/// How a failed call is explained, decided from the error's variant and
/// status; the authentication kinds get their advice from the caller, who
/// knows the credentials sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Unauthorized,
    Denied,
    NotFound,
    RateLimited,
    UnknownHost,
    Tls,
    Unreachable,
    TimedOut,
    Other,
}

pub fn kind(e: &Oci) -> Kind {
    match e {
        Oci::UnauthorizedError { .. } | Oci::AuthenticationFailure(_) => Kind::Unauthorized,
        Oci::ImageManifestNotFoundError(_) => Kind::NotFound,
        Oci::ServerError { code, .. } => status_kind(*code),
        Oci::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .map(|e| match &e.code {
                OciErrorCode::Unauthorized => Kind::Unauthorized,
                OciErrorCode::Denied => Kind::Denied,
                OciErrorCode::Toomanyrequests => Kind::RateLimited,
                OciErrorCode::NameUnknown
                | OciErrorCode::ManifestUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NotFound => Kind::NotFound,
                _ => Kind::Other,
            })
            .find(|k| *k != Kind::Other)
            .unwrap_or(Kind::Other),
        Oci::RequestError(re) => transport_kind(re),
        _ => Kind::Other,
    }
}

fn status_kind(code: u16) -> Kind {
    match code {
        401 => Kind::Unauthorized,
        403 => Kind::Denied,
        404 => Kind::NotFound,
        429 => Kind::RateLimited,
        _ => Kind::Other,
    }
}

/// reqwest types timeouts and connection failures; DNS and certificate
/// problems only show in the words of the cause chain (rustls' own error
/// type is checked first).
fn transport_kind(re: &reqwest::Error) -> Kind {
    let mut chain = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(re);
    while let Some(c) = cause {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return Kind::Tls;
        }
        chain.push(c.to_string().to_lowercase());
        cause = c.source();
    }
    let words = chain.join(": ");
    if ["dns", "lookup", "resolve", "name or service"]
        .iter()
        .any(|w| words.contains(w))
    {
        Kind::UnknownHost
    } else if ["certificate", "tls", "handshake"]
        .iter()
        .any(|w| words.contains(w))
    {
        Kind::Tls
    } else if re.is_timeout() {
        Kind::TimedOut
    } else if re.is_connect() {
        Kind::Unreachable
    } else if let Some(status) = re.status() {
        status_kind(status.as_u16())
    } else {
        Kind::Other
    }
}

/// Whether a read is worth retrying: rate limiting, a failing server, a
/// timed-out connection.
pub fn transient(e: &Oci) -> bool {
    match e {
        Oci::ServerError { code, .. } => *code == 429 || *code >= 500,
        Oci::RequestError(e) => e.is_timeout(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(code: &str) -> Oci {
        Oci::RegistryError {
            envelope: serde_json::from_str(&format!(
                r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#
            ))
            .unwrap(),
            url: "https://r.example/v2/x/manifests/y".into(),
        }
    }

    fn server(code: u16) -> Oci {
        Oci::ServerError {
            code,
            url: "https://r.example/v2/".into(),
            // Words that once fooled a text search: the status decides.
            message: "401 unauthorized denied not found".into(),
        }
    }

    #[test]
    fn kinds_come_from_variants_and_status_codes() {
        assert_eq!(kind(&envelope("UNAUTHORIZED")), Kind::Unauthorized);
        assert_eq!(kind(&envelope("DENIED")), Kind::Denied);
        assert_eq!(kind(&envelope("MANIFEST_UNKNOWN")), Kind::NotFound);
        assert_eq!(kind(&envelope("NAME_UNKNOWN")), Kind::NotFound);
        assert_eq!(kind(&envelope("TOOMANYREQUESTS")), Kind::RateLimited);
        assert_eq!(kind(&envelope("ARTIFACT_LOCKED")), Kind::Other);
        assert_eq!(kind(&server(403)), Kind::Denied);
        assert_eq!(kind(&server(500)), Kind::Other);
        assert_eq!(kind(&server(429)), Kind::RateLimited);
        assert_eq!(
            kind(&Oci::UnauthorizedError { url: "u".into() }),
            Kind::Unauthorized
        );
        assert_eq!(
            kind(&Oci::ImageManifestNotFoundError("x".into())),
            Kind::NotFound
        );
        assert!(transient(&server(503)) && transient(&server(429)) && !transient(&server(404)));
    }

    #[test]
    fn sentences_keep_their_source_and_quote_its_root() {
        let e = RegistryError::NotFound {
            what: "resolving r/x:1".into(),
            source: Box::new(server(404)),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("resolving r/x:1: not found; check the repository"),
            "{text}"
        );
        assert!(text.contains("code: 404"), "{text}");
        let source = std::error::Error::source(&e).unwrap();
        assert!(
            source.to_string().starts_with("Server error: url"),
            "{source}"
        );
        let refused = RegistryError::DeleteRefused {
            what: "deleting x".into(),
            status: 405,
            repository: "x".into(),
        };
        assert!(refused.to_string().contains("storage.delete.enabled"));
        assert_eq!(one_line(&"a \n b".repeat(200)).chars().count(), 301);
    }
}
