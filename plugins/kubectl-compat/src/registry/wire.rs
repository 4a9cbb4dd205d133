//! Reads as plain `GET`s of the distribution API on one kept-alive HTTP
//! client. oci-client 0.18 sends `GET /v2/` before every request of a client
//! that has no token yet — on a registry that asks for no credentials that
//! is every request, so a read took twice its round trips. Here credentials
//! are sent as configured, and only a 401 with a challenge trades them for a
//! token, which later requests reuse. Failures come back as oci-client's
//! error values, built the way it builds them, so [`super::errors`]
//! classifies reads and writes alike.

use oci_client::errors::{OciDistributionError as Oci, OciEnvelope};
use reqwest::StatusCode;

use super::auth::authorization;
use super::client::Registry;
use super::reference::Reference;

/// A response read whole: its status, where it came from, and at most the
/// cap it was read with plus one byte (more means "over the cap").
pub(super) struct Got {
    pub status: StatusCode,
    pub url: String,
    pub body: Vec<u8>,
}

impl Got {
    /// The body of a 200, or the error oci-client gives for the status.
    pub fn ok(self) -> Result<Vec<u8>, Oci> {
        let Got { status, url, body } = self;
        match status {
            StatusCode::OK => Ok(body),
            StatusCode::UNAUTHORIZED => Err(Oci::UnauthorizedError { url }),
            s if s.is_success() => Err(Oci::SpecViolationError(format!(
                "Expected HTTP Status 200 OK, got {s} instead"
            ))),
            s if s.is_client_error() => Err(match serde_json::from_slice::<OciEnvelope>(&body) {
                Ok(envelope) => Oci::RegistryError { envelope, url },
                Err(_) => Oci::ServerError {
                    code: s.as_u16(),
                    url,
                    message: String::from_utf8_lossy(&body).into_owned(),
                },
            }),
            s => Err(Oci::ServerError {
                code: s.as_u16(),
                url,
                message: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }
}

impl Registry {
    /// `GET /v2/<repository>/<path>` of `r`'s repository with `accept`,
    /// reading at most `cap` bytes (plus one, to tell "more").
    pub(super) async fn get(
        &self,
        r: &Reference,
        path: &str,
        accept: &[&str],
        cap: usize,
    ) -> Result<Got, Oci> {
        let url = format!(
            "{}://{}/v2/{}/{path}",
            self.scheme(),
            r.api_host(),
            r.repository
        );
        let http = self.http().map_err(|e| match e {
            super::errors::RegistryError::Http { source } => Oci::RequestError(source),
            other => Oci::GenericError(Some(other.to_string())),
        })?;
        let send = |auth: Option<String>| {
            let mut req = http.get(&url);
            if !accept.is_empty() {
                req = req.header(reqwest::header::ACCEPT, accept.join(", "));
            }
            if let Some(a) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            req.send()
        };
        let header = self.authorization();
        let mut res = send(header.clone()).await?;
        if res.status() == StatusCode::UNAUTHORIZED {
            // A token registry: trade the credentials for a pull token once,
            // and keep it for the requests that follow.
            if let Ok(Some(token)) = self.token(http, &res, r, "pull").await {
                let bearer = format!("Bearer {token}");
                res = send(Some(bearer.clone())).await?;
                if res.status().is_success() {
                    self.remember_authorization(bearer);
                }
            }
        }
        let status = res.status();
        let url = res.url().to_string();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > cap {
                body.truncate(cap + 1);
                break;
            }
        }
        Ok(Got { status, url, body })
    }

    /// The `Authorization` header reads start with: a token got earlier,
    /// else the configured credentials.
    fn authorization(&self) -> Option<String> {
        let kept = self.token_header.lock().ok().and_then(|t| t.clone());
        kept.or_else(|| authorization(&self.options.auth))
    }

    fn remember_authorization(&self, header: String) {
        if let Ok(mut t) = self.token_header.lock() {
            *t = Some(header);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(status: u16, body: &str) -> Got {
        Got {
            status: StatusCode::from_u16(status).unwrap(),
            url: "http://r/v2/a/manifests/1".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_become_the_errors_oci_client_gives() {
        assert_eq!(got(200, "x").ok().unwrap(), b"x");
        assert!(matches!(
            got(401, "").ok(),
            Err(Oci::UnauthorizedError { .. })
        ));
        assert!(matches!(got(204, "").ok(), Err(Oci::SpecViolationError(_))));
        let envelope = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}"#;
        assert!(matches!(
            got(404, envelope).ok(),
            Err(Oci::RegistryError { .. })
        ));
        assert!(matches!(
            got(404, "plain").ok(),
            Err(Oci::ServerError { code: 404, .. })
        ));
        assert!(matches!(
            got(503, "busy").ok(),
            Err(Oci::ServerError { code: 503, .. })
        ));
    }
}
