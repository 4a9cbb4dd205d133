//! Minimal OCI images pushed over the distribution API, written independently
//! of the code under test: config + one layer + manifest, and multi-arch indexes.

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::http;

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A pushed blob or manifest, as a descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub digest: String,
    pub media_type: String,
    pub size: usize,
}

impl Pushed {
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Upload a blob (POST to open an upload, PUT to finish it).
pub fn push_blob(host: &str, repo: &str, data: &[u8], media_type: &str) -> Pushed {
    let digest = sha256_digest(data);
    let start = http::request(
        "POST",
        host,
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        &[],
    )
    .expect("open upload");
    assert_eq!(
        start.status,
        202,
        "open upload: {}",
        String::from_utf8_lossy(&start.body)
    );
    let location = start
        .header("Location")
        .expect("upload location")
        .to_string();
    let path = location
        .strip_prefix(&format!("http://{host}"))
        .unwrap_or(&location)
        .to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let done = http::request(
        "PUT",
        host,
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )
    .expect("finish upload");
    assert_eq!(
        done.status,
        201,
        "finish upload: {}",
        String::from_utf8_lossy(&done.body)
    );
    Pushed {
        digest,
        media_type: media_type.into(),
        size: data.len(),
    }
}

/// Put a manifest or index under a tag or digest reference.
pub fn push_manifest(
    host: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> Pushed {
    let r = http::request(
        "PUT",
        host,
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        body,
    )
    .expect("put manifest");
    assert_eq!(
        r.status,
        201,
        "put manifest: {}",
        String::from_utf8_lossy(&r.body)
    );
    Pushed {
        digest: sha256_digest(body),
        media_type: media_type.into(),
        size: body.len(),
    }
}

/// One small gzipped tar layer holding a file that names the platform.
fn layer(os: &str, arch: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let content = format!("kplug e2e image for {os}/{arch}\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "etc/kplug-e2e", content.as_bytes())
        .expect("tar layer");
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .expect("gzip layer")
}

/// Push a single-platform image; `tag` may be empty to push by digest only.
pub fn push_image(host: &str, repo: &str, tag: &str, os: &str, arch: &str) -> Pushed {
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": os,
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {}
    }))
    .expect("config json");
    let config = push_blob(host, repo, &config, CONFIG);
    let layer = push_blob(host, repo, &layer(os, arch), LAYER);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }))
    .expect("manifest json");
    let digest = sha256_digest(&manifest);
    let reference = if tag.is_empty() { digest.as_str() } else { tag };
    push_manifest(host, repo, reference, MANIFEST, &manifest)
}

/// Push one image per platform and an index over them under `tag`.
pub fn push_index(
    host: &str,
    repo: &str,
    tag: &str,
    platforms: &[(&str, &str)],
) -> (Pushed, Vec<Pushed>) {
    let images: Vec<Pushed> = platforms
        .iter()
        .map(|(os, arch)| push_image(host, repo, "", os, arch))
        .collect();
    let manifests: Vec<Value> = images
        .iter()
        .zip(platforms)
        .map(|(img, (os, arch))| {
            let mut d = img.descriptor();
            d["platform"] = json!({"os": os, "architecture": arch});
            d
        })
        .collect();
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}),
    )
    .expect("index json");
    (push_manifest(host, repo, tag, INDEX, &index), images)
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_of_empty_input() {
        assert_eq!(
            super::sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
