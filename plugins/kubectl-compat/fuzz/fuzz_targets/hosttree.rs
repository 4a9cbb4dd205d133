//! Any host tree: files, directories, symlinks (absolute, relative, looping,
//! pointing out of the tree), FIFOs and large files. Discovery returns,
//! never blocks, never panics, and never shows a byte of a file outside the
//! root (a secret planted beside the tree, named by every escaping link).
#![no_main]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;

const SECRET: &str = "OUTSIDE-SECRET-7f3a";

/// Paths discovery reads, so generated entries land where it looks.
const PLACES: [&str; 16] = [
    "/etc/os-release",
    "/etc/kubernetes/node-feature-discovery/features.d/a",
    "/etc/kubernetes/node-feature-discovery/features.d/b",
    "/proc/sys/kernel/osrelease",
    "/proc/config.gz",
    "/proc/modules",
    "/proc/swaps",
    "/sys/bus/pci/devices/0000:00:01.0",
    "/sys/bus/pci/devices/0000:00:01.0/vendor",
    "/sys/class/net/eth0",
    "/sys/block/vda/queue/rotational",
    "/sys/devices/system/node/node0",
    "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
    "/usr/lib/os-release",
    "/sys/bus/usb/devices/1-1/idProduct",
    "/lib/modules",
];

const TARGETS: [&str; 8] = [
    "/secret",
    "../../../../../../secret",
    "..",
    ".",
    "/",
    "/dev/zero",
    "loop",
    "/usr/lib/os-release",
];

fn fresh_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kplug-fuzz-hosttree-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    dir
}

fn at(root: &Path, place: &str) -> PathBuf {
    let p = root.join(place.trim_start_matches('/'));
    if let Some(parent) = p.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    p
}

fuzz_target!(|data: &[u8]| {
    let dir = fresh_dir();
    let root = dir.join("root");
    for op in data.chunks(3).take(64) {
        let [kind, place, arg] = [op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&0)];
        let path = at(&root, PLACES[place as usize % PLACES.len()]);
        // Only new entries: writing through an earlier link or into a FIFO
        // would change the secret or block the harness itself.
        if path.symlink_metadata().is_ok() {
            continue;
        }
        let create = |bytes: &[u8]| {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| f.write_all(bytes))
        };
        let _ = match kind % 5 {
            0 => create(format!("k{arg}=v{arg}\n5.{arg}.0-1\n").as_bytes()),
            1 => std::fs::create_dir_all(&path),
            2 => symlink(TARGETS[arg as usize % TARGETS.len()], &path),
            3 => std::process::Command::new("mkfifo").arg(&path).status().map(|_| ()),
            _ => create(&vec![b'x'; 1usize << (arg % 24)]),
        };
    }
    let host = kplug_compat::sources::Host::new(&root, "fuzz");
    let found = kplug_compat::sources::discover(&host, &[]);
    let shown = serde_json::to_string(&found.features).unwrap();
    assert!(!shown.contains(SECRET), "a file outside the root was read");
    let _ = std::fs::remove_dir_all(&dir);
});
