//! PostgreSQL from Debian with a throwaway data directory on a free port.
//! The server refuses to run as root, so as root it runs as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Process;
use super::{free_port, peers};

pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    process: Process,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = peers::path("POSTGRES_BIN");
        // Under the system temp dir: the server's user must reach it, and
        // the peer cache may sit in a home directory only its owner can enter.
        let dir = std::env::temp_dir().join(format!("kplug-pg-{}", super::unique_name("run")));
        std::fs::create_dir_all(&dir).expect("create postgres dir");
        let data = dir.join("data");
        let root = is_root();
        if root {
            // The data directory must belong to the user that runs the server.
            let _ = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&dir)
                .status();
            let _ = Command::new("chmod").arg("755").arg(&dir).status();
        }
        let (program, args) = as_user(
            bin.join("initdb"),
            vec![
                "-D".into(),
                data.display().to_string(),
                "-U".into(),
                "postgres".into(),
                "--auth=trust".into(),
                "-E".into(),
                "UTF8".into(),
            ],
        );
        let out = Command::new(&program)
            .args(&args)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let process = serve(&dir, port);
        Postgres { port, dir, process }
    }

    /// Stop the server the way an outage looks to clients (the data
    /// stays): a fast shutdown ends every session at once. (SIGTERM would
    /// wait for sessions to end, and SIGKILL leaves them running.)
    pub fn stop(&mut self) {
        let (program, args) = as_user(
            peers::path("POSTGRES_BIN").join("pg_ctl"),
            vec![
                "stop".into(),
                "-D".into(),
                self.dir.join("data").display().to_string(),
                "-m".into(),
                "fast".into(),
                "-w".into(),
            ],
        );
        let out = Command::new(&program)
            .args(&args)
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.process.stop();
    }

    /// Start the stopped server again, on the same port with the same data.
    pub fn restart(&mut self) {
        self.process = serve(&self.dir, self.port);
    }

    /// A libpq URL for the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Run SQL through psql; stdout.
    pub fn psql(&self, sql: &str) -> String {
        let psql = peers::path("POSTGRES_BIN").join("psql");
        let out = Command::new(psql)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-At",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Run the server of `dir/data` on `port` until it accepts connections.
fn serve(dir: &Path, port: u16) -> Process {
    let data = dir.join("data");
    let (program, args) = as_user(
        peers::path("POSTGRES_BIN").join("postgres"),
        vec![
            "-D".into(),
            data.display().to_string(),
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "fsync=off".into(),
        ],
    );
    let mut process = Process::start("postgres", &program, &args, dir, &[]);
    process.wait_until(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    process
}

/// `program args` as the `postgres` user when running as root (the server
/// refuses to run as root).
fn as_user(program: PathBuf, args: Vec<String>) -> (PathBuf, Vec<String>) {
    if is_root() {
        let mut all = vec![
            "-u".to_string(),
            "postgres".into(),
            "--".into(),
            program.display().to_string(),
        ];
        all.extend(args);
        (PathBuf::from("runuser"), all)
    } else {
        (program, args)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
