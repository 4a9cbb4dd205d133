//! Credentials on the wire and failures worded by what was sent: an
//! anonymous 401 asks for a login, a 401 with credentials says they were
//! rejected, a 403 says they lack rights; the realm of the registry's
//! challenge is named. Secrets never reach a message.

use base64::Engine;
use oci_client::errors::OciDistributionError;
use serde_json::Value;

use super::client::{Auth, Registry};
use super::errors::{self, Kind, RegistryError};
use super::reference::Reference;

impl Registry {
    /// The error for a failed call, worded by its kind; authentication
    /// failures also name the realm of the registry's challenge.
    pub(super) async fn fail(&self, what: &str, source: OciDistributionError) -> RegistryError {
        let what = what.to_string();
        let host = self.host.clone();
        let kind = errors::kind(&source);
        let source = Box::new(source);
        match kind {
            Kind::Unauthorized => {
                let realm = self.realm().await;
                match self.options.auth {
                    Auth::Anonymous => RegistryError::AuthRequired {
                        what,
                        host,
                        realm,
                        source,
                    },
                    _ => RegistryError::CredentialsRejected {
                        what,
                        host,
                        realm,
                        source,
                    },
                }
            }
            Kind::Denied => RegistryError::Denied {
                what,
                host,
                realm: self.realm().await,
                source,
            },
            Kind::NotFound => RegistryError::NotFound { what, source },
            Kind::RateLimited => RegistryError::RateLimited { what, source },
            Kind::UnknownHost => RegistryError::UnknownHost { what, host, source },
            Kind::Tls => RegistryError::Tls { what, source },
            Kind::Unreachable => RegistryError::Unreachable { what, host, source },
            Kind::TimedOut => self.timed_out(&what),
            Kind::Other => RegistryError::Failed { what, source },
        }
    }

    /// The `realm` of the registry's anonymous `GET /v2/` challenge.
    pub(super) async fn realm(&self) -> Option<String> {
        let http = self.http().ok()?;
        let url = format!("{}://{}/v2/", self.scheme(), self.api_host);
        let res = tokio::time::timeout(self.timeout, http.get(url).send())
            .await
            .ok()?
            .ok()?;
        let challenge = res.headers().get("www-authenticate")?.to_str().ok()?;
        challenge_field(challenge, "realm")
    }

    /// A bearer token for `actions` (`pull`, `delete,pull`) on `r`'s
    /// repository, from the `WWW-Authenticate` challenge of `res`.
    pub(super) async fn token(
        &self,
        http: &reqwest::Client,
        res: &reqwest::Response,
        r: &Reference,
        actions: &str,
    ) -> Result<Option<String>, RegistryError> {
        let Some(challenge) = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            return Ok(None);
        };
        let field = |name: &str| challenge_field(params, name);
        let Some(realm) = field("realm") else {
            return Ok(None);
        };
        let mut req = http
            .get(&realm)
            .query(&[("scope", format!("repository:{}:{actions}", r.repository))]);
        if let Some(service) = field("service") {
            req = req.query(&[("service", service)]);
        }
        // Only a username and password are traded for a token.
        if let Auth::Basic { .. } = self.options.auth
            && let Some(header) = authorization(&self.options.auth)
        {
            req = req.header("Authorization", header);
        }
        let body: Value = match tokio::time::timeout(self.timeout, req.send()).await {
            Ok(Ok(resp)) if resp.status().is_success() => resp.json().await.unwrap_or(Value::Null),
            _ => return Ok(None),
        };
        Ok(body["token"]
            .as_str()
            .or(body["access_token"].as_str())
            .map(str::to_string))
    }
}

/// The `Authorization` header for the configured credentials.
pub(super) fn authorization(auth: &Auth) -> Option<String> {
    match auth {
        Auth::Anonymous => None,
        Auth::Basic { username, password } => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        )),
        Auth::Bearer(t) => Some(format!("Bearer {t}")),
    }
}

/// One `name="value"` parameter of a `WWW-Authenticate` challenge
/// (`Basic realm="x"`, `Bearer realm="https://…",service="…"`).
fn challenge_field(challenge: &str, name: &str) -> Option<String> {
    let params = challenge
        .split_once(' ')
        .map_or(challenge, |(scheme, rest)| {
            if scheme.contains('=') {
                challenge
            } else {
                rest
            }
        });
    params.split(',').find_map(|p| {
        p.trim()
            .strip_prefix(&format!("{name}="))
            .map(|v| v.trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::challenge_field;

    #[test]
    fn challenge_fields() {
        assert_eq!(
            challenge_field(r#"Basic realm="kplug""#, "realm").as_deref(),
            Some("kplug")
        );
        let bearer = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#;
        assert_eq!(
            challenge_field(bearer, "realm").as_deref(),
            Some("https://auth.example/token")
        );
        assert_eq!(
            challenge_field(bearer, "service").as_deref(),
            Some("registry.example")
        );
        assert_eq!(challenge_field(bearer, "error"), None);
    }

    #[test]
    fn basic_auth_header() {
        let basic = |u: &str, p: &str| {
            super::authorization(&super::Auth::Basic {
                username: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(basic("kplug", "s3cret").unwrap(), "Basic a3BsdWc6czNjcmV0");
        assert_eq!(basic("ab", "c").unwrap(), "Basic YWI6Yw==");
        assert_eq!(super::authorization(&super::Auth::Anonymous), None);
    }
}
