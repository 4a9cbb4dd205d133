//! Host feature discovery for Linux: NFD's feature sources, reading the same
//! files. Every path is taken under `--host-root` (default `/`), `/proc` and
//! `/etc` included, so a captured tree replays anywhere; only CPUID comes
//! from the CPU running the command. A source that cannot be read gives a
//! warning, never a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::features::Features;

pub mod cpu;
pub mod cpuid;
pub mod kernel;
pub mod local;
pub mod memory;
pub mod network;
pub mod pci;
pub mod storage;
pub mod system;
pub mod usb;

/// The sources, in NFD's names.
pub const SOURCES: [&str; 9] = [
    "cpu", "kernel", "local", "memory", "network", "pci", "storage", "system", "usb",
];

/// Where the host's files are.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
    /// `NODE_NAME`, NFD's `system.name.nodename`.
    pub node_name: String,
}

impl Host {
    pub fn new(root: impl Into<PathBuf>, node_name: impl Into<String>) -> Self {
        Host {
            root: root.into(),
            node_name: node_name.into(),
        }
    }

    /// This machine: root `/` and `NODE_NAME` from the environment.
    pub fn local() -> Self {
        Host::new("/", std::env::var("NODE_NAME").unwrap_or_default())
    }

    /// `/sys/...` as a path under the root.
    pub fn path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    pub fn read(&self, absolute: &str) -> std::io::Result<String> {
        read_small(&self.path(absolute))
    }

    /// File contents with surrounding white space trimmed.
    pub fn read_trim(&self, absolute: &str) -> std::io::Result<String> {
        self.read(absolute).map(|s| s.trim().to_string())
    }

    pub fn exists(&self, absolute: &str) -> bool {
        self.path(absolute).exists()
    }

    /// Entry names of a directory, sorted as Go's `os.ReadDir` returns them.
    pub fn list(&self, absolute: &str) -> std::io::Result<Vec<String>> {
        list_dir(&self.path(absolute))
    }
}

/// Read a small file without the size query `fs::read_to_string` makes
/// first (sysfs reports 4096 for everything anyway): one syscall fewer per
/// file, which is most of the cost of discovery.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
}

pub fn list_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Something a source could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub source: &'static str,
    pub message: String,
}

/// What discovery found.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub features: Features,
    pub warnings: Vec<Warning>,
}

/// Collects features and warnings for one source.
pub struct Sink<'a> {
    source: &'static str,
    out: &'a mut Discovery,
}

impl Sink<'_> {
    pub fn attributes(&mut self, name: &str, values: BTreeMap<String, String>) {
        self.out
            .features
            .attributes
            .entry(name.to_string())
            .or_default()
            .elements
            .extend(values);
    }

    pub fn flags(&mut self, name: &str, keys: impl IntoIterator<Item = String>) {
        self.out.features.insert_flags(name, keys);
    }

    pub fn instances(&mut self, name: &str, instances: Vec<crate::features::Instance>) {
        self.out.features.insert_instances(name, instances);
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.out.warnings.push(Warning {
            source: self.source,
            message: message.into(),
        });
    }
}

/// Run the named sources (all when empty) against `host`, in order. (Running
/// them on threads was measured slower: thread start-up costs more than the
/// few hundred small file reads it would overlap.)
pub fn discover(host: &Host, only: &[String]) -> Discovery {
    let selected: Vec<&'static str> = SOURCES
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s))
        .collect();
    let parts = selected.iter().map(|&source| run_source(host, source));
    let mut out = Discovery::default();
    for part in parts {
        out.features.absorb(part.features);
        out.warnings.extend(part.warnings);
    }
    out
}

fn run_source(host: &Host, source: &'static str) -> Discovery {
    let mut out = Discovery::default();
    let mut sink = Sink {
        source,
        out: &mut out,
    };
    match source {
        "cpu" => cpu::discover(host, &mut sink),
        "kernel" => kernel::discover(host, &mut sink),
        "local" => local::discover(host, &mut sink),
        "memory" => memory::discover(host, &mut sink),
        "network" => network::discover(host, &mut sink),
        "pci" => pci::discover(host, &mut sink),
        "storage" => storage::discover(host, &mut sink),
        "system" => system::discover(host, &mut sink),
        "usb" => usb::discover(host, &mut sink),
        _ => unreachable!("every source is listed"),
    }
    out
}

/// Go's `strconv.FormatBool`.
pub fn go_bool(b: bool) -> String {
    b.to_string()
}

pub fn map<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Fixture trees of /sys, /proc and /etc files for source tests.

    use super::Host;

    pub struct Tree {
        pub dir: tempfile::TempDir,
    }

    impl Tree {
        pub fn new(files: &[(&str, &str)]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let tree = Tree { dir };
            for (path, content) in files {
                tree.write(path, content);
            }
            tree
        }

        pub fn write(&self, path: &str, content: &str) {
            let p = self.dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }

        pub fn mkdir(&self, path: &str) {
            std::fs::create_dir_all(self.dir.path().join(path.trim_start_matches('/'))).unwrap();
        }

        pub fn symlink(&self, target: &str, link: &str) {
            let l = self.dir.path().join(link.trim_start_matches('/'));
            std::fs::create_dir_all(l.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(self.dir.path().join(target.trim_start_matches('/')), l)
                .unwrap();
        }

        pub fn host(&self) -> Host {
            Host::new(self.dir.path(), "node-a")
        }
    }
}
