//! Release archives: `kubectl-<name>-<version>-<os>-<arch>.tar.gz` holding the
//! binary and LICENSE at the root, and the checks krew makes on them.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::krew::Platform;

/// Go's GOOS/GOARCH for this machine, the names krew selectors use.
pub fn host_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    (os, arch)
}

/// The archive file name for a plugin build.
pub fn archive_name(binary: &str, version: &str, os: &str, arch: &str) -> String {
    format!("{binary}-{version}-{os}-{arch}.tar.gz")
}

/// Write a reproducible tar.gz (fixed times and owners) with each file at the
/// root under the given name.
pub fn write_tar_gz(out: &Path, files: &[(&str, &Path, u32)]) -> io::Result<()> {
    let gz = GzEncoder::new(File::create(out)?, Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, path, mode) in files {
        let data = std::fs::read(path)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data.as_slice())?;
    }
    tar.into_inner()?.finish()?.sync_all()
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Bytes as lowercase hex (how digests are written).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Regular files in a tar.gz, as relative paths.
pub fn list_tar_gz(path: &Path) -> io::Result<Vec<String>> {
    let mut archive = tar::Archive::new(GzDecoder::new(File::open(path)?));
    let mut names = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.header().entry_type().is_file() {
            let p: PathBuf = entry.path()?.into_owned();
            names.push(p.to_string_lossy().trim_start_matches("./").to_string());
        }
    }
    Ok(names)
}

/// `*` within one path segment, `?` one character: krew's `filepath.Match`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                go(&p[1..], n) || (n.first().is_some_and(|c| *c != '/') && go(p, &n[1..]))
            }
            (Some('?'), Some(c)) if *c != '/' => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.trim_start_matches("./").chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// What krew would install from this archive for this platform: each `files`
/// entry (default: everything) moved under its `to` directory.
pub fn installed_files(entries: &[String], platform: &Platform) -> Vec<String> {
    let Some(ops) = &platform.files else {
        return entries.to_vec();
    };
    let mut out = Vec::new();
    for op in ops {
        for e in entries.iter().filter(|e| glob_match(&op.from, e)) {
            let base = e.rsplit('/').next().unwrap_or(e);
            let to = op.to.trim_start_matches("./").trim_end_matches('/');
            out.push(if to.is_empty() || to == "." {
                base.to_string()
            } else {
                format!("{to}/{base}")
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Check an archive against a platform entry: sha256, the binary, and a
/// LICENSE file that krew extracts (krew's install-time checks).
pub fn check_archive(archive: &Path, platform: &Platform) -> Vec<String> {
    let mut problems = Vec::new();
    match sha256_file(archive) {
        Ok(sum) if sum == platform.sha256 => {}
        Ok(sum) => problems.push(format!(
            "sha256 {} does not match the archive {} ({sum})",
            platform.sha256,
            archive.display()
        )),
        Err(e) => {
            problems.push(format!("cannot read {}: {e}", archive.display()));
            return problems;
        }
    }
    let entries = match list_tar_gz(archive) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!(
                "{} is not a readable tar.gz: {e}",
                archive.display()
            ));
            return problems;
        }
    };
    let installed = installed_files(&entries, platform);
    let bin = platform.bin.trim_start_matches("./");
    if !installed.iter().any(|f| f == bin) {
        problems.push(format!(
            "bin {bin:?} is not among the installed files {installed:?}"
        ));
    }
    let is_license = |f: &String| {
        let upper = f.to_uppercase();
        !f.contains('/')
            && (matches!(upper.as_str(), "LICENSE" | "LICENSE.TXT" | "LICENSE.MD")
                || upper.starts_with("LICENSES")
                || upper.starts_with("COPYING"))
    };
    if !installed.iter().any(is_license) {
        problems.push("no LICENSE file is extracted on install".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::krew::FileOperation;

    fn platform(sha: &str, bin: &str, files: Option<Vec<(&str, &str)>>) -> Platform {
        Platform {
            selector: None,
            uri: "https://x".into(),
            sha256: sha.into(),
            bin: bin.into(),
            files: files.map(|f| {
                f.into_iter()
                    .map(|(from, to)| FileOperation {
                        from: from.into(),
                        to: to.into(),
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn archive_round_trip_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("b");
        let lic = dir.path().join("l");
        std::fs::write(&bin, b"#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(&lic, b"Apache").unwrap();
        let out = dir.path().join("a.tar.gz");
        write_tar_gz(
            &out,
            &[("kubectl-demo", &bin, 0o755), ("LICENSE", &lic, 0o644)],
        )
        .unwrap();
        assert_eq!(list_tar_gz(&out).unwrap(), ["kubectl-demo", "LICENSE"]);
        let sum = sha256_file(&out).unwrap();
        assert_eq!(sum.len(), 64);

        // Reproducible: the same inputs give the same bytes.
        let again = dir.path().join("b.tar.gz");
        write_tar_gz(
            &again,
            &[("kubectl-demo", &bin, 0o755), ("LICENSE", &lic, 0o644)],
        )
        .unwrap();
        assert_eq!(sha256_file(&again).unwrap(), sum);

        let ok = platform(
            &sum,
            "kubectl-demo",
            Some(vec![("kubectl-demo", "."), ("LICENSE", ".")]),
        );
        assert_eq!(check_archive(&out, &ok), Vec::<String>::new());
        assert_eq!(
            check_archive(&out, &platform(&sum, "./kubectl-demo", None)),
            Vec::<String>::new()
        );

        let no_license = platform(&sum, "kubectl-demo", Some(vec![("kubectl-*", ".")]));
        assert!(
            check_archive(&out, &no_license)
                .iter()
                .any(|p| p.contains("LICENSE"))
        );
        let wrong_sha = platform(&"0".repeat(64), "kubectl-demo", None);
        assert!(check_archive(&out, &wrong_sha)[0].contains("does not match"));
        let wrong_bin = platform(&sum, "kubectl-other", None);
        assert!(
            check_archive(&out, &wrong_bin)
                .iter()
                .any(|p| p.contains("bin"))
        );
    }

    #[test]
    fn globbing() {
        assert!(glob_match("*", "LICENSE"));
        assert!(glob_match("kubectl-*", "kubectl-compat"));
        assert!(!glob_match("*", "dir/file"));
        assert!(glob_match("dir/*", "dir/file"));
        assert!(glob_match("./LICENSE", "LICENSE"));
        assert!(glob_match("LICENSE?txt", "LICENSE.txt"));
    }

    #[test]
    fn names() {
        assert_eq!(
            archive_name("kubectl-compat", "v0.1.0", "linux", "amd64"),
            "kubectl-compat-v0.1.0-linux-amd64.tar.gz"
        );
        let (os, arch) = host_platform();
        assert!(!os.is_empty() && !arch.is_empty());
    }
}
