//! Deleting an artifact: oci-client has no manifest DELETE, so this is a
//! plain HTTP call with the same TLS settings and credentials.

use super::artifact::{self, Artifact};
use super::auth::authorization;
use super::client::Registry;
use super::errors::RegistryError;
use super::reference::Reference;

impl Registry {
    /// Delete an artifact manifest and drop it from the referrers tag-schema
    /// index of its subject, where that index exists.
    pub async fn remove(&self, r: &Reference, artifact: &Artifact) -> Result<(), RegistryError> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme(),
            r.api_host(),
            r.repository,
            artifact.digest
        );
        let http = self.http()?;
        let what = format!("deleting {}", r.with_digest(&artifact.digest));
        let send = |auth: Option<String>| {
            let mut req = http.delete(&url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            tokio::time::timeout(self.timeout, req.send())
        };
        let request = |source| RegistryError::Request {
            what: what.clone(),
            source,
        };
        let mut res = send(authorization(&self.options.auth))
            .await
            .map_err(|_| self.timed_out(&what))?
            .map_err(request)?;
        if res.status() == 401 {
            // Token registries: trade the credentials for a token with delete scope.
            if let Some(token) = self.token(http, &res, r, "delete,pull").await? {
                res = send(Some(format!("Bearer {token}")))
                    .await
                    .map_err(|_| self.timed_out(&what))?
                    .map_err(request)?;
            }
        }
        if !res.status().is_success() {
            return Err(RegistryError::DeleteRefused {
                what,
                status: res.status().as_u16(),
                repository: r.repository.clone(),
            });
        }
        // Keep the tag schema honest where it is in use.
        let tag = artifact::tag_schema_tag(&artifact.subject);
        let tag_ref =
            oci_client::Reference::with_tag(r.api_host().into(), r.repository.clone(), tag.clone());
        if let Some(mut index) = self.tag_schema_index(r, &artifact.subject).await
            && let Some(list) = index["manifests"].as_array_mut()
        {
            let before = list.len();
            list.retain(|m| m["digest"] != artifact.digest.as_str());
            if list.len() != before {
                let body = serde_json::to_vec(&index).expect("JSON values serialise");
                let content_type = http::HeaderValue::from_static(artifact::INDEX_TYPE);
                self.call(
                    &format!("updating the referrers tag {tag}"),
                    self.client()
                        .push_manifest_raw(&tag_ref, body, content_type),
                )
                .await?;
            }
        }
        Ok(())
    }
}
