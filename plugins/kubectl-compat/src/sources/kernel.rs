//! `kernel.version`, `kernel.config`, `kernel.loadedmodule`,
//! `kernel.enabledmodule`, `kernel.selinux`, `kernel.kvm`.

use std::collections::BTreeMap;

use super::{Host, Sink, go_bool, map};

pub fn discover(host: &Host, sink: &mut Sink) {
    let release = host.read_trim("/proc/sys/kernel/osrelease");
    match &release {
        Ok(raw) => sink.attributes("kernel.version", parse_version(raw)),
        Err(e) => sink.warn(format!("kernel version: /proc/sys/kernel/osrelease: {e}")),
    }
    let release = release.ok();
    let mut enabled = Vec::new();
    match host.read("/proc/modules") {
        Ok(text) => {
            let loaded = loaded_modules(&text);
            enabled.extend(loaded.iter().cloned());
            sink.flags("kernel.loadedmodule", loaded);
        }
        Err(e) => sink.warn(format!("loaded modules: /proc/modules: {e}")),
    }
    match release
        .as_deref()
        .map(|v| (v, host.read(&format!("/lib/modules/{v}/modules.builtin"))))
    {
        Some((_, Ok(text))) => {
            enabled.extend(builtin_modules(&text));
            sink.flags("kernel.enabledmodule", enabled);
        }
        Some((v, Err(e))) => sink.warn(format!(
            "built-in modules: /lib/modules/{v}/modules.builtin: {e}"
        )),
        None => sink.warn("built-in modules: unknown kernel version"),
    }
    match selinux(host) {
        Ok(on) => sink.attributes("kernel.selinux", map([("enabled", go_bool(on))])),
        Err(e) => sink.warn(format!("selinux: {e}")),
    }
    sink.attributes(
        "kernel.kvm",
        map([(
            "enabled",
            go_bool(host.exists("/sys/devices/virtual/misc/kvm")),
        )]),
    );
    // Last, and only when wanted: the costliest read of all discovery.
    if sink.wants_when_known("kernel.config") {
        match read_kconfig(host, release.as_deref()) {
            Some(text) => sink.attributes("kernel.config", parse_kconfig(&text)),
            None => sink.warn(
                "kernel config: no readable /proc/config.gz, /boot/config-<version> or similar",
            ),
        }
    }
}

/// `full` (characters outside `[-A-Za-z0-9_.]` replaced by `_`, trimmed of
/// `-_.`), and `major`/`minor`/`revision` when it looks like a version; the
/// latter three are present but empty for missing parts.
pub fn parse_version(raw: &str) -> BTreeMap<String, String> {
    let full: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = full.trim_matches(['-', '_', '.']).to_string();
    let mut out = map([("full", full.clone())]);
    // ^(\d+)(\.(\d+))?(\.(\d+))?(-.*)?$
    let (numbers, _suffix) = match full.find('-') {
        Some(i) => (&full[..i], Some(&full[i..])),
        None => (full.as_str(), None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if (1..=3).contains(&parts.len()) && parts.iter().all(|p| numeric(p)) {
        out.insert("major".into(), parts[0].into());
        out.insert(
            "minor".into(),
            parts.get(1).copied().unwrap_or_default().into(),
        );
        out.insert(
            "revision".into(),
            parts.get(2).copied().unwrap_or_default().into(),
        );
    }
    out
}

fn read_kconfig(host: &Host, version: Option<&str>) -> Option<String> {
    let mut paths = vec!["/proc/config.gz".to_string()];
    match version {
        Some(v) => paths.extend([
            format!("/usr/src/linux-{v}/.config"),
            format!("/usr/src/linux-rt-{v}/.config"),
            "/usr/src/linux/.config".to_string(),
            format!("/usr/lib/modules/{v}/config"),
            format!("/usr/lib/ostree-boot/config-{v}"),
            format!("/usr/lib/kernel/config-{v}"),
            format!("/usr/src/linux-headers-{v}/.config"),
            format!("/lib/modules/{v}/build/.config"),
            format!("/usr/src/linux-rt-headers-{v}/.config"),
            format!("/boot/config-{v}"),
        ]),
        None => paths.push("/usr/src/linux/.config".to_string()),
    }
    let limit = host.file_limit();
    paths.iter().find_map(|p| {
        let bytes = host.read_bytes(p, limit).ok()?;
        if p.ends_with(".gz") {
            let cached = host.kconfig_cache.as_deref().and_then(|dir| {
                let (crc, size) = gzip_trailer(&bytes)?;
                Some((dir.join(format!("{crc:08x}-{size}")), crc, size))
            });
            if let Some((path, crc, size)) = &cached
                && let Some(text) = cached_inflation(path, *crc, *size)
            {
                return Some(text);
            }
            // Inflated under the same cap: a small file can hold gigabytes.
            let inflated = flate2::read::GzDecoder::new(bytes.as_slice());
            // A config inflates about fourfold; sized up front, the buffer
            // is not copied on every doubling.
            let hint = (bytes.len() * 5).min(limit as usize);
            match super::hostfs::read_capped_sized(inflated, limit, hint, p) {
                Ok(text) => {
                    if let Some((path, _, _)) = &cached {
                        crate::registry::cache::put_file(path, &text);
                    }
                    String::from_utf8(text).ok()
                }
                Err(e) => {
                    host.skip(format!("{p} inflated: {e}"));
                    None
                }
            }
        } else {
            String::from_utf8(bytes).ok()
        }
    })
}

/// A gzip file's last eight bytes: the CRC-32 of what it inflates to and
/// that length (mod 2^32).
fn gzip_trailer(gz: &[u8]) -> Option<(u32, u32)> {
    let tail: [u8; 8] = gz.get(gz.len().checked_sub(8)?..)?.try_into().ok()?;
    let crc = u32::from_le_bytes(tail[..4].try_into().ok()?);
    let size = u32::from_le_bytes(tail[4..].try_into().ok()?);
    Some((crc, size))
}

/// The kernel config inflated by an earlier run, if the file under `path`
/// has the length and CRC-32 the gzip trailer promises. The kernel's
/// config cannot change while it runs, but a reboot into another kernel
/// brings another trailer: a new entry. Inflating takes about 0.2 ms of a
/// `kubectl compat features` that takes 3; checking the copy, 0.01.
fn cached_inflation(path: &std::path::Path, crc: u32, size: u32) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    if text.len() as u64 % (1 << 32) != u64::from(size) || crc32fast::hash(&text) != crc {
        let _ = std::fs::remove_file(path);
        return None;
    }
    String::from_utf8(text).ok()
}

/// `CONFIG_X=value` lines → `X` → value without surrounding quotes. A
/// kernel has thousands: they are sorted once, unstably (the line number
/// breaks ties, so a repeated key keeps its last value, as Go's map does),
/// and the map is built from the sorted run.
///
/// Measured on a 100 KB config (1,745 keys), splitting it into lines with
/// `str::split` took 90 µs of 300 and filtering another 140: the lines are
/// found with SIMD `memchr` instead, and only those starting `CONFIG_` are
/// looked at. The sort compares the keys' first eight bytes as one integer
/// before it compares strings.
pub fn parse_kconfig(text: &str) -> BTreeMap<String, String> {
    let bytes = text.as_bytes();
    let mut pairs: Vec<(u64, &str, usize, &str)> = Vec::with_capacity(bytes.len() / 48);
    let mut start = 0;
    for (n, end) in memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .enumerate()
    {
        let line = &text[start..end];
        start = end + 1;
        let Some(rest) = line.strip_prefix("CONFIG_") else {
            continue;
        };
        let Some(eq) = memchr::memchr(b'=', rest.as_bytes()) else {
            continue;
        };
        let key = &rest[..eq];
        pairs.push((prefix(key), key, n, rest[eq + 1..].trim_matches('"')));
    }
    pairs.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    pairs
        .into_iter()
        .map(|(_, k, _, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The first eight bytes of `key`, big-endian, zero-padded: integers that
/// order as the strings do (a zero byte sorts before any byte of a key).
fn prefix(key: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key.as_bytes()[..n]);
    u64::from_be_bytes(bytes)
}

pub fn loaded_modules(text: &str) -> Vec<String> {
    text.split('\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

pub fn builtin_modules(text: &str) -> Vec<String> {
    text.split('\n')
        .map(str::trim)
        .filter_map(|l| l.strip_suffix(".ko"))
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
        .collect()
}

fn selinux(host: &Host) -> Result<bool, String> {
    if !host.exists("/sys/fs") {
        return Err(format!("{} does not exist", host.path("/sys/fs").display()));
    }
    match host.read_bytes("/sys/fs/selinux/enforce", 64) {
        Ok(bytes) => Ok(bytes.first() == Some(&b'1')),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::sources::{Discovery, fixture::Tree};

    fn run(tree: &Tree) -> Discovery {
        crate::sources::discover(&tree.host(), &["kernel".to_string()])
    }

    #[test]
    fn kconfig_keys_sort_as_strings() {
        let keys = [
            "A",
            "AB",
            "ABCDEFGH",
            "ABCDEFGHA",
            "ABCDEFGG_LONGER",
            "B",
            "A_",
            "A0",
        ];
        let text: String = keys.iter().map(|k| format!("CONFIG_{k}=y\n")).collect();
        let mut want: Vec<&str> = keys.to_vec();
        want.sort();
        let got: Vec<String> = parse_kconfig(&text).into_keys().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn kconfig_keeps_the_last_of_a_repeated_key() {
        let parsed = parse_kconfig("# x\nCONFIG_B=m\nCONFIG_A=\"q=1\"\nCONFIG_B=y\nCONFIG_C\n");
        assert_eq!(
            parsed.into_iter().collect::<Vec<_>>(),
            [("A".into(), "q=1".into()), ("B".into(), "y".into())]
        );
    }

    #[test]
    fn versions() {
        let v = parse_version("5.15.0-91-generic");
        assert_eq!(
            v,
            map([
                ("full", "5.15.0-91-generic"),
                ("major", "5"),
                ("minor", "15"),
                ("revision", "0")
            ])
        );
        let v = parse_version("6.1");
        assert_eq!(v["minor"], "1");
        assert_eq!(v["revision"], "");
        assert_eq!(parse_version("4.18.0+ #1 SMP")["full"], "4.18.0___1_SMP");
        assert!(!parse_version("weird").contains_key("major"));
        assert_eq!(parse_version("-6.2.0-")["full"], "6.2.0");
    }

    #[test]
    fn config_modules_selinux_kvm_from_a_tree() {
        let tree = Tree::new(&[
            ("/proc/sys/kernel/osrelease", "6.8.0-40-generic\n"),
            (
                "/boot/config-6.8.0-40-generic",
                "# comment\nCONFIG_X86_64=y\nCONFIG_NR_CPUS=8192\nCONFIG_LOCALVERSION=\"-gen\"\n# CONFIG_FOO is not set\nCONFIG_BAD\n",
            ),
            (
                "/proc/modules",
                "vfio_pci 16384 0 - Live 0x0\nip_tables 32768 0 - Live 0x0\n",
            ),
            (
                "/lib/modules/6.8.0-40-generic/modules.builtin",
                "kernel/drivers/block/loop.ko\nkernel/fs/ext4/ext4.ko\nnot-a-module\n",
            ),
            ("/sys/fs/selinux/enforce", "1"),
        ]);
        tree.mkdir("/sys/devices/virtual/misc/kvm");
        let d = run(&tree);
        let attrs = &d.features.attributes;
        assert_eq!(
            attrs["kernel.config"].elements,
            map([
                ("X86_64", "y"),
                ("NR_CPUS", "8192"),
                ("LOCALVERSION", "-gen")
            ])
        );
        assert_eq!(attrs["kernel.version"].elements["major"], "6");
        assert_eq!(attrs["kernel.selinux"].elements["enabled"], "true");
        assert_eq!(attrs["kernel.kvm"].elements["enabled"], "true");
        let loaded: Vec<&String> = d.features.flags["kernel.loadedmodule"]
            .elements
            .keys()
            .collect();
        assert_eq!(loaded, ["ip_tables", "vfio_pci"]);
        let enabled: Vec<&String> = d.features.flags["kernel.enabledmodule"]
            .elements
            .keys()
            .collect();
        assert_eq!(enabled, ["ext4", "ip_tables", "loop", "vfio_pci"]);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn an_inflated_config_is_kept_and_checked_against_the_gzip_trailer() {
        let tree = Tree::new(&[("/proc/sys/kernel/osrelease", "6.1.0\n")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"CONFIG_SMP=y\nCONFIG_KVM=m\n").unwrap();
        let mut gz = gz.finish().unwrap();
        let file = tree.dir.path().join("proc/config.gz");
        std::fs::write(&file, &gz).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let host = || {
            let mut h = tree.host();
            h.kconfig_cache = Some(cache.path().join("kconfig"));
            h
        };
        let config = |h: &Host| {
            crate::sources::discover(h, &["kernel".to_string()])
                .features
                .attributes
                .get("kernel.config")
                .map(|a| a.elements.clone())
        };
        assert_eq!(config(&host()).unwrap()["KVM"], "m");
        let kept: Vec<_> = std::fs::read_dir(cache.path().join("kconfig"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(kept.len(), 1);
        // The kept copy is what is read: a gzip whose body no longer
        // inflates, with the same trailer, still gives the config.
        let n = gz.len();
        gz[12..n - 8].fill(0xff);
        std::fs::write(&file, &gz).unwrap();
        assert_eq!(config(&host()).unwrap()["SMP"], "y");
        // A copy that does not match the trailer is dropped, not believed.
        std::fs::write(&kept[0], "CONFIG_SMP=n\nCONFIG_KVM=m\n").unwrap();
        assert_eq!(config(&host()), None);
        assert!(!kept[0].exists());
        // Without a cache directory nothing is kept.
        assert_eq!(config(&tree.host()), None);
    }

    #[test]
    fn gzip_config_and_missing_files_warn() {
        let tree = Tree::new(&[("/proc/sys/kernel/osrelease", "6.1.0\n")]);
        tree.mkdir("/sys/fs");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"CONFIG_SMP=y\n").unwrap();
        std::fs::create_dir_all(tree.dir.path().join("proc")).unwrap();
        std::fs::write(tree.dir.path().join("proc/config.gz"), gz.finish().unwrap()).unwrap();
        let d = run(&tree);
        assert_eq!(d.features.attributes["kernel.config"].elements["SMP"], "y");
        assert_eq!(
            d.features.attributes["kernel.selinux"].elements["enabled"],
            "false"
        );
        assert_eq!(
            d.features.attributes["kernel.kvm"].elements["enabled"],
            "false"
        );
        assert!(!d.features.flags.contains_key("kernel.loadedmodule"));
        assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
        assert!(d.warnings.iter().all(|w| w.source == "kernel"));
    }
}
