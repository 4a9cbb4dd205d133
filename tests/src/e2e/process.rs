//! Child processes that cannot outlive the test: each runs under a small shell
//! watchdog that kills it when the test process is gone, and the guard kills it
//! on drop (also during a panic).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

// The watchdog: run the command in the background, stop it when the test
// process ($1) disappears or when this shell is told to stop.
const WATCHDOG: &str = r#"
parent=$1; shift
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; sleep 0.5; kill -KILL $child 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.3; done
kill -TERM $child 2>/dev/null; sleep 0.5; kill -KILL $child 2>/dev/null
wait $child
"#;

impl Process {
    /// Start `program args` with output to `log_dir/<name>.log`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        log_dir: &Path,
        envs: &[(&str, &str)],
    ) -> Process {
        let log = log_dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create peer log");
        let err = out.try_clone().expect("clone log handle");
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        Process {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait until `ready()` holds, or panic with the log after `timeout`.
    pub fn wait_until(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
        self.wait_until_explained(timeout, || ready().then_some(()).ok_or_else(String::new));
    }

    /// [`Process::wait_until`] with a reason for "not yet": the last one
    /// is in the panic message.
    pub fn wait_until_explained(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> Result<(), String>,
    ) {
        let deadline = Instant::now() + timeout;
        let mut why = String::new();
        while Instant::now() < deadline {
            match ready() {
                Ok(()) => return,
                Err(e) => why = e,
            }
            if !self.is_running() {
                panic!("{} exited during start-up:\n{}", self.name, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        panic!(
            "{} not ready after {timeout:?} (last check: {why}):\n{}",
            self.name,
            self.log_tail()
        );
    }

    /// Stop: SIGTERM to the watchdog, which stops the peer; then reap.
    pub fn stop(&mut self) {
        if self.is_running() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}
