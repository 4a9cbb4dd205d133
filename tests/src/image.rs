//! A minimal OCI image of the eventlog collector, assembled without a
//! container engine: one layer holding the statically linked binary, the CA
//! certificates and a non-root user (no shell, no package manager), written
//! as an OCI image layout that `oras cp --from-oci-layout` pushes.

use std::io::{self, Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The user the collector runs as (distroless' `nonroot`).
pub const USER: u64 = 65532;
/// Where the binary lives in the image.
pub const ENTRYPOINT: &str = "/kubectl-eventlog";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::archive::hex(&Sha256::digest(bytes)))
}

/// What [`build`] wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The manifest's digest: what the Deployment names the image by.
    pub digest: String,
    pub layer_size: usize,
}

/// The layer's tar: files with fixed times and owners, so the same binary
/// always gives the same digest.
fn layer_tar(binary: &[u8], ca_certificates: &[u8]) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut entry = |path: &str, data: &[u8], mode: u32, uid: u64, dir: bool| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(0);
        tar.append_data(&mut h, path, data)
    };
    for dir in ["etc/", "etc/ssl/", "etc/ssl/certs/"] {
        entry(dir, &[], 0o755, 0, true)?;
    }
    entry("tmp/", &[], 0o1777, 0, true)?;
    // The store's default place for SQLite, writable by the collector.
    entry("data/", &[], 0o755, USER, true)?;
    entry("home/", &[], 0o755, 0, true)?;
    entry("home/nonroot/", &[], 0o700, USER, true)?;
    entry(
        "etc/passwd",
        format!("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{USER}:{USER}:nonroot:/home/nonroot:/sbin/nologin\n").as_bytes(),
        0o644,
        0,
        false,
    )?;
    entry(
        "etc/group",
        format!("root:x:0:\nnonroot:x:{USER}:\n").as_bytes(),
        0o644,
        0,
        false,
    )?;
    entry(
        "etc/ssl/certs/ca-certificates.crt",
        ca_certificates,
        0o644,
        0,
        false,
    )?;
    entry(ENTRYPOINT.trim_start_matches('/'), binary, 0o755, 0, false)?;
    tar.into_inner()
}

/// Write the image of `binary` as an OCI layout in `out`, tagged `tag`.
pub fn build(binary: &Path, ca_certificates: &Path, out: &Path, tag: &str) -> io::Result<Built> {
    let binary = std::fs::read(binary)?;
    let certs = std::fs::read(ca_certificates)?;
    let tar = layer_tar(&binary, &certs)?;
    let diff_id = sha256(&tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    let layer = gz.finish()?;
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": format!("{USER}:{USER}"),
            "Entrypoint": [ENTRYPOINT],
            "Cmd": ["collect", "--all-namespaces"],
            "Env": ["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"],
            "WorkingDir": "/data",
            "Labels": {"org.opencontainers.image.title": "kubectl-eventlog"}
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(&layer), "size": layer.len()}],
    }))?;
    let digest = sha256(&manifest);
    let blobs = out.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    for blob in [&config, &layer, &manifest] {
        let name = sha256(blob);
        std::fs::write(blobs.join(name.trim_start_matches("sha256:")), blob)?;
    }
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST_TYPE,
            "digest": digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }],
    });
    std::fs::write(out.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(Built {
        digest,
        layer_size: layer.len(),
    })
}

/// A blob of an OCI layout by digest.
pub fn blob(layout: &Path, digest: &str) -> io::Result<Vec<u8>> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex))?;
    if sha256(&bytes) != digest {
        return Err(io::Error::other(format!(
            "blob {digest} does not match its digest"
        )));
    }
    Ok(bytes)
}

/// The manifest and config of the image tagged `tag` in an OCI layout.
pub fn read(layout: &Path, tag: &str) -> io::Result<(Value, Value)> {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    let entry = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .ok_or_else(|| io::Error::other(format!("no image tagged {tag} in the layout")))?;
    let manifest: Value =
        serde_json::from_slice(&blob(layout, entry["digest"].as_str().unwrap_or(""))?)?;
    let config: Value = serde_json::from_slice(&blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap_or(""),
    )?)?;
    Ok((manifest, config))
}

/// Unpack the image's layers into `root`.
pub fn unpack(layout: &Path, manifest: &Value, root: &Path) -> io::Result<()> {
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let gz = blob(layout, layer["digest"].as_str().unwrap_or(""))?;
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut tar)?;
        tar::Archive::new(tar.as_slice()).unpack(root)?;
    }
    Ok(())
}

/// Whether an ELF executable is statically linked: it has no program
/// interpreter (`PT_INTERP`) to load shared libraries.
pub fn is_static_elf(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
    };
    // 64-bit little-endian ELF only (what we build).
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum as usize).all(|i| u32_at(phoff as usize + i * phentsize as usize) != Some(3))
}
