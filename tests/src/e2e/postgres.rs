//! PostgreSQL from Debian with a throwaway data directory on a free port.
//! The server refuses to run as root, so as root it runs as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Process;
use super::{free_port, peers};

pub struct Postgres {
    pub port: u16,
    /// The server's bin directory (Debian's, or one with Citus).
    bin: PathBuf,
    dir: PathBuf,
    process: Process,
    /// Extra server settings (`-c name=value`), kept for restarts.
    settings: Vec<String>,
}

/// A server that accepts TLS connections only, with certificates made for
/// the test: a CA, a server certificate it signed for `SERVER_NAME` only
/// (not for 127.0.0.1, so verify-ca and verify-full part ways), and a CA
/// that signed nothing here.
pub struct Certificates {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
}

/// The one name the server certificate is for.
pub const SERVER_NAME: &str = "db.kplug.test";

/// `dir` and all in it to the `postgres` user (as root).
fn give_to_server(dir: &Path) {
    let _ = Command::new("chown")
        .arg("-R")
        .arg("postgres:postgres")
        .arg(dir)
        .status();
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Postgres {
    pub fn start() -> Postgres {
        Self::init(peers::path("POSTGRES_BIN"), |_| Vec::new())
    }

    /// The server of `bin` with extra settings (`name=value`).
    pub fn start_with(bin: PathBuf, settings: Vec<String>) -> Postgres {
        Self::init(bin, |_| settings)
    }

    /// A server that refuses plain connections, with its certificates.
    pub fn start_tls() -> (Postgres, Certificates) {
        let mut certs = None;
        let pg = Self::init(peers::path("POSTGRES_BIN"), |dir| {
            let made = make_certificates(dir);
            let data = dir.join("data");
            // TLS from 127.0.0.1 or nothing; the socket stays for psql.
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("write pg_hba.conf");
            certs = Some(Certificates {
                ca: made.ca,
                other_ca: made.other_ca,
            });
            vec![
                "ssl=on".into(),
                format!("ssl_cert_file={}", made.cert.display()),
                format!("ssl_key_file={}", made.key.display()),
            ]
        });
        (pg, certs.expect("certificates made"))
    }

    /// initdb, then `configure` (which returns `-c` settings) in the
    /// directory, then the server.
    fn init(bin: PathBuf, configure: impl FnOnce(&Path) -> Vec<String>) -> Postgres {
        // Under the system temp dir: the server's user must reach it, and
        // the peer cache may sit in a home directory only its owner can enter.
        let dir = std::env::temp_dir().join(format!("kplug-pg-{}", super::unique_name("run")));
        std::fs::create_dir_all(&dir).expect("create postgres dir");
        let data = dir.join("data");
        let root = is_root();
        if root {
            // The data directory must belong to the user that runs the server.
            give_to_server(&dir);
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
        let settings = configure(&dir);
        if root {
            // What `configure` wrote must be the server user's too.
            give_to_server(&dir);
        }
        let port = free_port();
        let process = serve(&bin, &dir, port, &settings);
        Postgres {
            port,
            bin,
            dir,
            process,
            settings,
        }
    }

    /// Stop the server the way an outage looks to clients (the data
    /// stays): a fast shutdown ends every session at once. (SIGTERM would
    /// wait for sessions to end, and SIGKILL leaves them running.)
    pub fn stop(&mut self) {
        let (program, args) = as_user(
            self.bin.join("pg_ctl"),
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
        self.process = serve(&self.bin, &self.dir, self.port, &self.settings);
    }

    /// A server with database `name` already holding kplug's eventlog schema
    /// (made by `eventlog`, the plugin binary, with a command that writes
    /// nothing), so that writers started together do not race to create
    /// it; and the store's URL.
    pub fn with_eventlog_store(eventlog: &Path, name: &str) -> (Postgres, String) {
        let pg = Postgres::start();
        pg.psql(&format!("CREATE DATABASE {name}"));
        let store = pg.url(name);
        lay_out_eventlog(eventlog, &store);
        (pg, store)
    }

    /// A libpq URL for the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Run SQL through psql; stdout.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// Run SQL through psql in `database`; stdout.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let psql = self.bin.join("psql");
        let out = Command::new(psql)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
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
fn serve(bin: &Path, dir: &Path, port: u16, settings: &[String]) -> Process {
    let data = dir.join("data");
    let mut extra = Vec::new();
    for s in settings {
        extra.push("-c".to_string());
        extra.push(s.clone());
    }
    let (program, args) = as_user(
        bin.join("postgres"),
        [
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
        ]
        .into_iter()
        .chain(extra)
        .collect(),
    );
    let mut process = Process::start("postgres", &program, &args, dir, &[]);
    process.wait_until(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    process
}

struct Made {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA and a server certificate it signs (P-256 keys), with openssl.
fn make_certificates(dir: &Path) -> Made {
    let openssl = peers::path("OPENSSL");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ca = |name: &str| {
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    };
    ca("kplug-test-ca");
    ca("kplug-other-ca");
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        &format!("/CN={SERVER_NAME}"),
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName=DNS:{SERVER_NAME}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"),
    )
    .expect("write server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "kplug-test-ca.crt",
        "-CAkey",
        "kplug-test-ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    // The server refuses a key others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod server.key");
    Made {
        ca: dir.join("kplug-test-ca.crt"),
        other_ca: dir.join("kplug-other-ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
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

/// Create or migrate the eventlog store at `store` once, with a command of
/// `eventlog` (the plugin binary) that writes nothing.
pub fn lay_out_eventlog(eventlog: &Path, store: &str) {
    let made = Command::new(eventlog)
        .args(["prune", "--retain", "36500d", "--store", store])
        .output()
        .expect("run kubectl-eventlog prune");
    assert!(
        made.status.success(),
        "laying out {store}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}
