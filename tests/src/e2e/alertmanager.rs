//! Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on a free
//! loopback port, its notifications sent to a [`Receiver`]; and the
//! receiver itself, which records every POST (also what eventlog's webhook
//! and Slack sinks send) and can be told to refuse them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::http;
use super::peers;
use super::process::Process;

/// One request the receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An HTTP server on a free loopback port that records what is POSTed to
/// it and answers 200 (or 503 while [`Receiver::refuse`] is on).
pub struct Receiver {
    pub host: String,
    got: Arc<Mutex<Vec<Received>>>,
    refusing: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split_whitespace().nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = http::header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(Received {
        path,
        headers,
        body,
    })
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let host = listener.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, r, s) = (got.clone(), refusing.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                let status = if r.load(Ordering::Relaxed) {
                    "503 Service Unavailable"
                } else {
                    g.lock().unwrap().push(req);
                    "200 OK"
                };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver {
            host,
            got,
            refusing,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// Everything POSTed to `path` so far, in order.
    pub fn received(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Answer 503 (and record nothing) while on.
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::Relaxed);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.host);
    }
}

/// An Alertmanager that sends its notifications (resolved ones too) to
/// `webhook`, one group per alert name and incident, without waiting.
pub struct Alertmanager {
    pub host: String,
    process: Option<Process>,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Alertmanager {
    pub fn start(webhook: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: [alertname, incident]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: '{webhook}'\n    send_resolved: true\n"
            ),
        )
        .expect("write the Alertmanager configuration");
        let host = format!("127.0.0.1:{}", super::free_port());
        let mut am = Alertmanager {
            host,
            process: None,
            dir,
            config,
        };
        am.restart();
        am
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Start it (again, on the same port and data: its silences persist;
    /// the alerts it held do not, as in a real restart).
    pub fn restart(&mut self) {
        self.stop();
        let args = vec![
            format!("--config.file={}", self.config.display()),
            format!("--storage.path={}", self.dir.path().join("data").display()),
            format!("--web.listen-address={}", self.host),
            // No gossip with other Alertmanagers.
            "--cluster.listen-address=".to_string(),
        ];
        let mut p = Process::start(
            "alertmanager",
            &peers::path("ALERTMANAGER"),
            &args,
            self.dir.path(),
            &[],
        );
        let host = self.host.clone();
        p.wait_until(Duration::from_secs(30), || {
            http::get(&host, "/-/ready", &[]).is_ok_and(|r| r.status == 200)
        });
        self.process = Some(p);
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }

    /// `GET /api/v2/alerts`: the alerts it holds that have not ended.
    pub fn alerts(&self) -> Vec<Value> {
        http::get(&self.host, "/api/v2/alerts", &[])
            .map(|r| r.json().as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// A silence of an hour for alerts whose `label` is `value`; its ID.
    pub fn silence(&self, label: &str, value: &str) -> String {
        let now = jiff::Timestamp::now();
        let body = json!({
            "matchers": [{"name": label, "value": value, "isRegex": false, "isEqual": true}],
            "startsAt": now.to_string(),
            "endsAt": (now + jiff::SignedDuration::from_hours(1)).to_string(),
            "createdBy": "kplug e2e",
            "comment": "muted by the test",
        });
        let r = http::request(
            "POST",
            &self.host,
            "/api/v2/silences",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .expect("POST a silence");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["silenceID"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn log_tail(&self) -> String {
        self.process
            .as_ref()
            .map(Process::log_tail)
            .unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}
