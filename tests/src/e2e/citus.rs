//! A Citus cluster on loopback: a coordinator and two workers, each a
//! PostgreSQL server with the extension preloaded, the workers registered
//! with the coordinator. Citus comes from the peer cache (built by
//! tests/e2e/peers.sh from the upstream archive) or from the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::postgres::{Postgres, is_root};

pub struct Citus {
    pub coordinator: Postgres,
    pub workers: Vec<Postgres>,
}

/// Where the Citus-enabled server's bin directory is, or why there is none
/// (the source archive was not beside the project when peers were built).
pub fn bin() -> Result<PathBuf, String> {
    let Some(bin) = kplug::peers::find("CITUS_BIN") else {
        return Err(
            "Citus is not among the built peers: `make peers` says why (without an installed Citus it builds one from the upstream source archive; KPLUG_CITUS_SOURCE names it)".into(),
        );
    };
    Ok(reachable(&bin))
}

/// As root, the server runs as `postgres`, which cannot enter a peer cache
/// under root's home: the built tree (a private copy of the server with
/// Citus beside it) is copied once under the system temp dir.
fn reachable(bin: &Path) -> PathBuf {
    // …/citus-V/usr/lib/postgresql/15/bin: the tree is five levels up.
    let Some(tree) = bin.ancestors().nth(5) else {
        return bin.to_path_buf();
    };
    if !is_root() || !tree.starts_with(kplug::peers::cache_dir()) {
        return bin.to_path_buf();
    }
    let name = tree.file_name().map(|n| n.to_string_lossy().into_owned());
    let copy = std::env::temp_dir().join(format!("kplug-{}", name.unwrap_or_default()));
    let copied_bin = copy.join(bin.strip_prefix(tree).expect("bin is inside its tree"));
    if !copied_bin.join("postgres").exists() {
        let partial = std::env::temp_dir().join(super::unique_name("kplug-citus-copy"));
        let ok = Command::new("cp")
            .arg("-a")
            .arg(tree)
            .arg(&partial)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "copy {} to {}", tree.display(), partial.display());
        // Another test process may have won the race: its copy is as good.
        if std::fs::rename(&partial, &copy).is_err() {
            let _ = std::fs::remove_dir_all(&partial);
        }
    }
    copied_bin
}

impl Citus {
    /// A coordinator and two workers, ready for `CREATE TABLE … ;
    /// create_distributed_table`. `Err` says why Citus is not available.
    pub fn start() -> Result<Citus, String> {
        let bin = bin()?;
        let settings = || {
            vec![
                "shared_preload_libraries=citus".to_string(),
                // Quick to notice a stopped worker, as tests stop one.
                "citus.node_connection_timeout=5000".to_string(),
                "max_connections=200".to_string(),
            ]
        };
        let coordinator = Postgres::start_with(bin.clone(), settings());
        let workers: Vec<Postgres> = (0..2)
            .map(|_| Postgres::start_with(bin.clone(), settings()))
            .collect();
        for node in std::iter::once(&coordinator).chain(&workers) {
            node.psql("CREATE EXTENSION citus");
        }
        coordinator.psql(&format!(
            "SELECT citus_set_coordinator_host('127.0.0.1', {})",
            coordinator.port
        ));
        for w in &workers {
            coordinator.psql(&format!("SELECT citus_add_node('127.0.0.1', {})", w.port));
        }
        Ok(Citus {
            coordinator,
            workers,
        })
    }

    /// The store URL: the coordinator's `postgres` database (Citus is
    /// installed per database; this one has it on every node).
    pub fn url(&self) -> String {
        self.coordinator.url("postgres")
    }
}
