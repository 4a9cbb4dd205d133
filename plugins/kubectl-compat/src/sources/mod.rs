//! Host feature discovery for Linux: NFD's feature sources, reading the same
//! files. Every path is taken under `--host-root` (default `/`), `/proc` and
//! `/etc` included, so a captured tree replays anywhere; only CPUID comes
//! from the CPU running the command. A source that cannot be read gives a
//! warning, never a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::{Arc, Mutex};

use crate::features::Features;

pub mod cpu;
pub mod cpuid;
pub mod hostfs;
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

/// Where the host's files are. Every read stays inside the root
/// ([`hostfs`]); files skipped for their type or size are remembered and
/// reported as warnings by [`discover`].
#[derive(Debug, Clone)]
pub struct Host {
    fs: Arc<hostfs::HostFs>,
    /// [`hostfs::HOST_FILE_BYTES`], read from the environment once.
    file_limit: u64,
    skipped: Arc<Mutex<Vec<String>>>,
    /// `NODE_NAME`, NFD's `system.name.nodename`.
    pub node_name: String,
    /// Where an inflated `/proc/config.gz` is kept between runs (this
    /// machine's only: see [`Host::local`]).
    pub kconfig_cache: Option<PathBuf>,
}

impl Host {
    pub fn new(root: impl Into<PathBuf>, node_name: impl Into<String>) -> Self {
        Host {
            fs: Arc::new(hostfs::HostFs::new(&root.into())),
            file_limit: hostfs::HOST_FILE_BYTES.get(),
            skipped: Arc::default(),
            node_name: node_name.into(),
            kconfig_cache: None,
        }
    }

    /// This machine: root `/` and `NODE_NAME` from the environment; its
    /// inflated kernel config is kept in kubectl compat's cache directory.
    pub fn local() -> Self {
        let mut host = Host::new("/", std::env::var("NODE_NAME").unwrap_or_default());
        host.kconfig_cache = crate::registry::cache::dir_from_env().map(|d| d.join("kconfig"));
        host
    }

    /// `/sys/...` as a path under the root, for messages.
    pub fn path(&self, absolute: &str) -> PathBuf {
        self.fs.display(absolute)
    }

    /// A file's bytes, at most `limit`.
    pub fn read_bytes(&self, absolute: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        self.fs.read(absolute, limit).inspect_err(|e| {
            if let Some(why) = hostfs::HostFileError::of(e) {
                self.skip(format!("{absolute}: {why}"));
            }
        })
    }

    /// [`Host::read_bytes`] for a caller that words its own warnings.
    pub fn read_unrecorded(&self, absolute: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        self.fs.read(absolute, limit)
    }

    /// The most one file may hold ([`hostfs::HOST_FILE_BYTES`]).
    pub fn file_limit(&self) -> u64 {
        self.file_limit
    }

    /// Remember a file skipped for its type or size, to warn about it.
    pub fn skip(&self, message: String) {
        self.skipped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
    }

    /// A text file, at most [`hostfs::HOST_FILE_BYTES`].
    pub fn read(&self, absolute: &str) -> std::io::Result<String> {
        let bytes = self.read_bytes(absolute, self.file_limit)?;
        String::from_utf8(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// File contents with surrounding white space trimmed.
    pub fn read_trim(&self, absolute: &str) -> std::io::Result<String> {
        self.read(absolute).map(|s| s.trim().to_string())
    }

    pub fn exists(&self, absolute: &str) -> bool {
        self.fs.kind(absolute).is_ok()
    }

    /// What a path is, links followed inside the root.
    pub fn fs_kind(&self, absolute: &str) -> std::io::Result<hostfs::Kind> {
        self.fs.kind(absolute)
    }

    pub fn is_dir(&self, absolute: &str) -> bool {
        self.fs.kind(absolute).is_ok_and(|k| k == hostfs::Kind::Dir)
    }

    /// Entry names of a directory, sorted as Go's `os.ReadDir` returns them.
    pub fn list(&self, absolute: &str) -> std::io::Result<Vec<String>> {
        self.fs.list(absolute)
    }

    /// The files skipped so far for their type or size, emptied.
    fn take_skipped(&self) -> Vec<String> {
        std::mem::take(&mut *self.skipped.lock().unwrap_or_else(|p| p.into_inner()))
    }
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
    /// What the spec matches on, once it is known.
    needed: &'a OnceLock<Needed>,
    /// Whether a spec is coming (and `needed` will be set).
    coming: bool,
}

impl Sink<'_> {
    /// Whether `feature` is worth its cost: always, until the spec is
    /// known; then only when a rule matches on it.
    pub fn wants(&self, feature: &str) -> bool {
        self.needed
            .get()
            .is_none_or(|n| n.features.contains(feature))
    }

    /// Whether `feature` is wanted, waiting for the spec when one is coming:
    /// for a read that costs more than the wait (the kernel config is half
    /// a millisecond of CPU; the registry's answer usually comes sooner).
    pub fn wants_when_known(&self, feature: &str) -> bool {
        if self.coming {
            self.needed.wait().features.contains(feature)
        } else {
            self.wants(feature)
        }
    }

    pub fn attributes(&mut self, name: &str, values: BTreeMap<String, String>) {
        let elements = &mut self
            .out
            .features
            .attributes
            .entry(name.to_string())
            .or_default()
            .elements;
        if elements.is_empty() {
            // Moved whole: inserting a kernel config's thousands of keys one
            // by one costs a tenth of `features`.
            *elements = values;
        } else {
            elements.extend(values);
        }
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
    discover_needed(host, only, &OnceLock::new())
}

/// What a spec matches on: its features (`kernel.loadedmodule`) and the
/// sources that make them (`kernel`); what no source makes (`rule.matched`)
/// needs none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needed {
    pub sources: BTreeSet<&'static str>,
    pub features: BTreeSet<String>,
}

pub fn needed_by(spec: &crate::spec::Spec) -> Needed {
    Needed::of_features(spec.feature_names().map(str::to_string))
}

impl Needed {
    /// What a spec reading `features` needs.
    pub fn of_features(features: impl IntoIterator<Item = String>) -> Needed {
        let features: BTreeSet<String> = features.into_iter().collect();
        let sources = features.iter().filter_map(|f| source_of(f)).collect();
        Needed { sources, features }
    }
}

/// The source that makes `feature` (`kernel` for `kernel.loadedmodule`);
/// `None` for what no source makes (`rule.matched`).
fn source_of(feature: &str) -> Option<&'static str> {
    let prefix = feature.split('.').next()?;
    SOURCES.into_iter().find(|s| *s == prefix)
}

/// Warnings in the order of their sources.
fn sort_warnings(warnings: &mut [Warning]) {
    warnings.sort_by_key(|w| SOURCES.iter().position(|s| *s == w.source));
}

/// [`discover`] for a check: once `needed` is set (the spec has arrived, on
/// another thread), the sources it does not name are skipped, and so is
/// the kernel config unless a rule reads it. The report is the same, since
/// no rule reads what is skipped; it only comes sooner. The kernel source
/// runs last (its config is the costliest read: a gzip to inflate and
/// thousands of lines), so the spec is most likely known by then;
/// warnings come out in the usual source order all the same.
pub fn discover_needed(host: &Host, only: &[String], needed: &OnceLock<Needed>) -> Discovery {
    discover_with(host, only, needed, false)
}

/// [`discover_needed`] while a spec is coming: `needed` will be set (the
/// caller guarantees it, on failure too), and the kernel config waits for
/// it rather than being read in case.
pub fn discover_awaiting(host: &Host, only: &[String], needed: &OnceLock<Needed>) -> Discovery {
    discover_with(host, only, needed, true)
}

/// The sources a guess of what a spec needs left short: those with a
/// feature `needed` names that `guessed` did not (so discovery skipped the
/// source, or the part of it that makes the feature).
pub fn short_of(guessed: &Needed, needed: &Needed) -> Vec<&'static str> {
    let short: BTreeSet<&'static str> = needed
        .features
        .difference(&guessed.features)
        .filter_map(|f| source_of(f))
        .collect();
    short.into_iter().collect()
}

/// Run `sources` again for `needed` and put what they find in place of
/// what `discovery` holds from them: completes a discovery that ran on a
/// guess of the spec (see [`short_of`]).
pub fn rediscover(host: &Host, discovery: &mut Discovery, sources: &[&str], needed: &Needed) {
    if sources.is_empty() {
        return;
    }
    let owned = |name: &str| source_of(name).is_some_and(|s| sources.contains(&s));
    let features = &mut discovery.features;
    features.flags.retain(|k, _| !owned(k));
    features.attributes.retain(|k, _| !owned(k));
    features.instances.retain(|k, _| !owned(k));
    discovery.warnings.retain(|w| !sources.contains(&w.source));
    let only: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    let part = discover_with(host, &only, &OnceLock::from(needed.clone()), false);
    discovery.features.absorb(part.features);
    discovery.warnings.extend(part.warnings);
    sort_warnings(&mut discovery.warnings);
}

fn discover_with(
    host: &Host,
    only: &[String],
    needed: &OnceLock<Needed>,
    coming: bool,
) -> Discovery {
    let selected: Vec<&'static str> = SOURCES
        .into_iter()
        .filter(|s| *s != "kernel")
        .chain(["kernel"])
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s))
        .collect();
    let mut out = Discovery::default();
    for source in selected {
        if needed.get().is_some_and(|n| !n.sources.contains(source)) {
            continue;
        }
        let part = run_source(host, source, needed, coming);
        out.features.absorb(part.features);
        out.warnings.extend(part.warnings);
        out.warnings.extend(
            host.take_skipped()
                .into_iter()
                .map(|message| Warning { source, message }),
        );
    }
    sort_warnings(&mut out.warnings);
    out
}

fn run_source(
    host: &Host,
    source: &'static str,
    needed: &OnceLock<Needed>,
    coming: bool,
) -> Discovery {
    let mut out = Discovery::default();
    let mut sink = Sink {
        source,
        out: &mut out,
        needed,
        coming,
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
            // Absolute targets mean the tree's own root, as on the host.
            std::os::unix::fs::symlink(target, l).unwrap();
        }

        pub fn host(&self) -> Host {
            Host::new(self.dir.path(), "node-a")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_needs_the_sources_it_matches_on() {
        let spec = crate::spec::parse(
            "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: a\n    matchFeatures:\n    - feature: kernel.loadedmodule\n      matchExpressions: {vfio: {op: Exists}}\n    matchAny:\n    - matchFeatures:\n      - feature: pci.device\n        matchExpressions: {vendor: {op: In, value: [\"10de\"]}}\n  - name: b\n    matchFeatures:\n    - feature: rule.matched\n      matchExpressions: {a: {op: IsTrue}}\n",
        )
        .unwrap();
        let n = needed_by(&spec);
        assert_eq!(n.sources.into_iter().collect::<Vec<_>>(), ["kernel", "pci"]);
        assert_eq!(
            n.features.into_iter().collect::<Vec<_>>(),
            ["kernel.loadedmodule", "pci.device", "rule.matched"]
        );
        // Once the spec is known, the other sources are not run at all.
        let tree = fixture::Tree::new(&[]);
        let needed = OnceLock::new();
        let _ = needed.set(needed_by(&spec));
        let d = discover_needed(&tree.host(), &[], &needed);
        assert!(
            d.warnings
                .iter()
                .all(|w| ["kernel", "pci"].contains(&w.source)),
            "{:?}",
            d.warnings
        );
        assert!(!d.features.attributes.contains_key("system.osrelease"));
    }

    #[test]
    fn the_kernel_config_is_read_only_when_a_rule_matches_on_it() {
        let tree = fixture::Tree::new(&[
            ("/proc/sys/kernel/osrelease", "6.1.0\n"),
            ("/boot/config-6.1.0", "CONFIG_KVM=y\n"),
            ("/proc/modules", "vfio 1 0 - Live 0x0\n"),
        ]);
        let spec_on = |feature: &str| {
            crate::spec::parse(&format!(
                "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: a\n    matchFeatures:\n    - feature: {feature}\n      matchExpressions: {{x: {{op: Exists}}}}\n"
            ))
            .unwrap()
        };
        let run = |needed: Option<Needed>| {
            let lock = OnceLock::new();
            if let Some(n) = needed {
                let _ = lock.set(n);
            }
            discover_needed(&tree.host(), &["kernel".to_string()], &lock).features
        };
        let config = |f: &Features| f.attributes.get("kernel.config").map(|a| a.elements.len());
        // Spec not known yet (or `features`): everything is read.
        assert_eq!(config(&run(None)), Some(1));
        assert_eq!(
            config(&run(Some(needed_by(&spec_on("kernel.config"))))),
            Some(1)
        );
        let modules_only = run(Some(needed_by(&spec_on("kernel.loadedmodule"))));
        assert_eq!(config(&modules_only), None);
        assert!(modules_only.flags.contains_key("kernel.loadedmodule"));

        // A spec on its way: the config waits for it, then is read only if
        // a rule wants it.
        let awaiting = |feature: &'static str| {
            let lock = OnceLock::new();
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    let _ = lock.set(needed_by(&spec_on(feature)));
                });
                discover_awaiting(&tree.host(), &["kernel".to_string()], &lock).features
            })
        };
        assert_eq!(config(&awaiting("kernel.loadedmodule")), None);
        assert_eq!(config(&awaiting("kernel.config")), Some(1));
    }

    #[test]
    fn a_discovery_run_on_a_wrong_guess_is_completed_to_what_the_spec_needs() {
        let tree = fixture::Tree::new(&[
            ("/proc/sys/kernel/osrelease", "6.1.0\n"),
            ("/boot/config-6.1.0", "CONFIG_KVM=y\n"),
            ("/proc/modules", "vfio 1 0 - Live 0x0\n"),
            ("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ]);
        let spec_on = |features: &[&str]| {
            let rules: String = features
                .iter()
                .map(|f| {
                    format!("    - feature: {f}\n      matchExpressions: {{x: {{op: Exists}}}}\n")
                })
                .collect();
            needed_by(
                &crate::spec::parse(&format!(
                    "version: v1alpha1\ncompatibilities:\n- rules:\n  - name: a\n    matchFeatures:\n{rules}"
                ))
                .unwrap(),
            )
        };
        // The guess (last time's spec) reads loaded modules; the spec that
        // came reads the kernel config and the OS release as well.
        let guessed = spec_on(&["kernel.loadedmodule"]);
        let needed = spec_on(&["kernel.loadedmodule", "kernel.config", "system.osrelease"]);
        assert_eq!(short_of(&guessed, &needed), ["kernel", "system"]);
        assert!(short_of(&needed, &guessed).is_empty());

        let mut d = discover_needed(&tree.host(), &[], &OnceLock::from(guessed.clone()));
        assert!(!d.features.attributes.contains_key("kernel.config"));
        assert!(!d.features.attributes.contains_key("system.osrelease"));
        rediscover(&tree.host(), &mut d, &short_of(&guessed, &needed), &needed);
        let full = discover_needed(&tree.host(), &[], &OnceLock::from(needed));
        assert_eq!(d.features, full.features);
        assert_eq!(d.features.attributes["kernel.config"].elements.len(), 1);
        assert_eq!(
            d.features.attributes["system.osrelease"].elements["ID"],
            "debian"
        );
        let sources = |d: &Discovery| {
            d.warnings
                .iter()
                .map(|w| (w.source, w.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(sources(&d), sources(&full));
    }
}
