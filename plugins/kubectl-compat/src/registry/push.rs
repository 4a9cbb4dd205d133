//! Writing to a registry: attach a spec to an image as `oras attach` does.

use super::artifact::{self, Descriptor, Platform};
use super::client::Registry;
use super::errors::RegistryError;
use super::reference::Reference;

impl Registry {
    /// Upload a blob. A registry that stores it but omits the `Location`
    /// header oci-client wants (go-containerregistry's does) still counts:
    /// the blob is checked for instead.
    async fn put_blob(
        &self,
        target: &oci_client::Reference,
        data: &[u8],
        digest: &str,
        what: &str,
    ) -> Result<(), RegistryError> {
        if self
            .client()
            .blob_exists(target, digest)
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        match self
            .call(what, self.client().push_blob(target, data.to_vec(), digest))
            .await
        {
            Ok(_) => Ok(()),
            Err(_)
                if self
                    .client()
                    .blob_exists(target, digest)
                    .await
                    .unwrap_or(false) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Attach `spec` to the image (or, with `platform`, to that platform's
    /// manifest of an index) as `oras attach` does; keep the referrers
    /// tag-schema index up to date where the registry has no referrers API.
    /// Returns the artifact's digest.
    pub async fn attach(
        &self,
        r: &Reference,
        platform: Option<&Platform>,
        spec: &[u8],
        title: &str,
        created: &str,
    ) -> Result<String, RegistryError> {
        let root = self.resolve(r).await?;
        let subject = match platform {
            Some(p) if root.is_index => {
                root.platform(p)
                    .map(|e| e.descriptor.clone())
                    .ok_or_else(|| RegistryError::NoPlatform {
                        image: r.to_string(),
                        platform: p.to_string(),
                    })?
            }
            Some(p) => {
                // One manifest: --platform must be its platform, not silently ignored.
                let (os, arch, variant) = self.single_platform(r, &root).await?;
                if !p.matches(&os, &arch, variant.as_deref()) {
                    let found = [Some(os), Some(arch), variant]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                    return Err(RegistryError::OtherPlatform {
                        image: r.to_string(),
                        found,
                        platform: p.to_string(),
                    });
                }
                root.descriptor.clone()
            }
            None => root.descriptor.clone(),
        };
        let target = Self::oci(r, Some(&subject.digest));
        self.client()
            .store_auth_if_needed(target.resolve_registry(), &self.auth)
            .await;
        self.put_blob(
            &target,
            artifact::EMPTY_CONFIG,
            artifact::EMPTY_DIGEST,
            "uploading the empty config",
        )
        .await?;
        let layer = Descriptor {
            media_type: artifact::LAYER_TYPE.into(),
            digest: artifact::digest(spec),
            size: spec.len(),
        };
        self.put_blob(&target, spec, &layer.digest, "uploading the spec")
            .await?;
        let manifest = artifact::attach_manifest(&subject, &layer, title, created);
        let digest = artifact::digest(&manifest);
        let content_type = http::HeaderValue::from_static(artifact::MANIFEST_TYPE);
        // Pushed by digest. oci-client panics when a registry omits Location on a
        // digest push unless the reference's tag is the URL's last segment, so
        // the digest doubles as the tag here (it is never used as one).
        let by_digest = oci_client::Reference::with_tag_and_digest(
            r.api_host().into(),
            r.repository.clone(),
            digest.clone(),
            digest.clone(),
        );
        self.call(
            "uploading the artifact manifest",
            self.client()
                .push_manifest_raw(&by_digest, manifest.clone(), content_type),
        )
        .await?;
        // A registry with the referrers API lists the artifact now; else keep the tag schema.
        let listed = self
            .artifacts(r, &subject.digest, "")
            .await?
            .iter()
            .any(|a| a.digest == digest);
        if !listed {
            let tag = artifact::tag_schema_tag(&subject.digest);
            let tag_ref = oci_client::Reference::with_tag(
                r.api_host().into(),
                r.repository.clone(),
                tag.clone(),
            );
            let existing = self.tag_schema_index(r, &subject.digest).await;
            let index = artifact::tag_schema_index(
                existing.as_ref(),
                artifact::referrer_entry(&manifest, created),
            );
            let content_type = http::HeaderValue::from_static(artifact::INDEX_TYPE);
            self.call(
                &format!("updating the referrers tag {tag}"),
                self.client()
                    .push_manifest_raw(&tag_ref, index, content_type),
            )
            .await?;
        }
        Ok(digest)
    }
}
