//! The parts of a container that decide start order, read leniently from
//! JSON: a manifest may hold values the API server would reject (a string
//! gRPC port, two probe handlers), and those must be reported, not fail the
//! whole read.

use serde_json::Value;

/// Which list of the PodSpec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Init,
    Regular,
}

impl List {
    /// The PodSpec field name.
    pub fn field(self) -> &'static str {
        match self {
            List::Init => "initContainers",
            List::Regular => "containers",
        }
    }
}

/// A probe or hook port: a number, or the name of a declared container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    Number(i64),
    Name(String),
}

impl Port {
    fn read(v: &Value) -> Option<Port> {
        match v {
            Value::Number(n) => n.as_i64().map(Port::Number),
            Value::String(s) => Some(match s.parse::<i64>() {
                Ok(n) => Port::Number(n),
                Err(_) => Port::Name(s.clone()),
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Name(s) => f.write_str(s),
        }
    }
}

/// What a probe or lifecycle hook does.
#[derive(Debug, Clone, PartialEq)]
pub enum Handler {
    Exec(Vec<String>),
    HttpGet {
        path: String,
        port: Option<Port>,
        host: Option<String>,
    },
    TcpSocket {
        port: Option<Port>,
    },
    /// `port` as written: the API wants an integer.
    Grpc {
        port: Value,
    },
    Sleep(i64),
}

impl Handler {
    /// The JSON field name of this handler kind.
    pub fn field(&self) -> &'static str {
        match self {
            Handler::Exec(_) => "exec",
            Handler::HttpGet { .. } => "httpGet",
            Handler::TcpSocket { .. } => "tcpSocket",
            Handler::Grpc { .. } => "grpc",
            Handler::Sleep(_) => "sleep",
        }
    }

    /// The port probed, when the handler talks to one.
    pub fn port(&self) -> Option<&Port> {
        match self {
            Handler::HttpGet { port, .. } | Handler::TcpSocket { port } => port.as_ref(),
            _ => None,
        }
    }

    /// The exec command as one line (for messages and pattern checks).
    pub fn command_line(&self) -> Option<String> {
        match self {
            Handler::Exec(c) => Some(c.join(" ")),
            _ => None,
        }
    }

    /// Every handler present in `v`, in the order the API server checks
    /// them (exec, httpGet, tcpSocket, grpc, then sleep for hooks).
    fn read_all(v: &Value) -> Vec<Handler> {
        let mut out = Vec::new();
        if let Some(e) = v.get("exec").filter(|e| e.is_object()) {
            out.push(Handler::Exec(strings(e.get("command"))));
        }
        if let Some(h) = v.get("httpGet").filter(|e| e.is_object()) {
            out.push(Handler::HttpGet {
                path: h
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or("/")
                    .to_string(),
                port: h.get("port").and_then(Port::read),
                host: h.get("host").and_then(Value::as_str).map(str::to_string),
            });
        }
        if let Some(t) = v.get("tcpSocket").filter(|e| e.is_object()) {
            out.push(Handler::TcpSocket {
                port: t.get("port").and_then(Port::read),
            });
        }
        if let Some(g) = v.get("grpc").filter(|e| e.is_object()) {
            out.push(Handler::Grpc {
                port: g.get("port").cloned().unwrap_or(Value::Null),
            });
        }
        if let Some(s) = v.get("sleep").filter(|e| e.is_object()) {
            out.push(Handler::Sleep(
                s.get("seconds").and_then(Value::as_i64).unwrap_or(0),
            ));
        }
        out
    }
}

/// A probe with the API server's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Every handler written; the API allows exactly one.
    pub handlers: Vec<Handler>,
    pub initial_delay: i64,
    pub period: i64,
    pub timeout: i64,
    pub success: i64,
    pub failure: i64,
    pub termination_grace: Option<i64>,
    /// The probe as written, for fixes that copy it.
    pub raw: Value,
}

impl Probe {
    fn read(v: &Value) -> Probe {
        let int = |k: &str, default: i64| {
            v.get(k)
                .and_then(Value::as_i64)
                .filter(|n| *n != 0)
                .unwrap_or(default)
        };
        Probe {
            handlers: Handler::read_all(v),
            initial_delay: v
                .get("initialDelaySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            period: int("periodSeconds", 10),
            timeout: int("timeoutSeconds", 1),
            success: int("successThreshold", 1),
            failure: int("failureThreshold", 3),
            termination_grace: v
                .get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64),
            raw: v.clone(),
        }
    }

    /// The one handler, when exactly one is set.
    pub fn handler(&self) -> Option<&Handler> {
        match self.handlers.as_slice() {
            [h] => Some(h),
            _ => None,
        }
    }

    /// Seconds until the kubelet gives up: the initial delay plus one period
    /// per allowed failure (each attempt may also run up to its timeout).
    pub fn budget(&self) -> i64 {
        // Saturating: hostile values must not wrap into negative waits.
        self.initial_delay
            .saturating_add(self.period.saturating_mul(self.failure))
    }
}

/// A declared container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDecl {
    pub name: Option<String>,
    pub number: i64,
    pub protocol: String,
}

/// One container of a Pod template.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub list: List,
    /// Index within its list.
    pub index: usize,
    pub name: String,
    pub image: String,
    /// `command` then `args`.
    pub command: Vec<String>,
    pub ports: Vec<PortDecl>,
    pub restart_policy: Option<String>,
    pub startup: Option<Probe>,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    /// Hooks: every handler written (the API allows one).
    pub post_start: Option<Vec<Handler>>,
    pub pre_stop: Option<Vec<Handler>>,
    pub has_lifecycle: bool,
    pub env: Vec<(String, String)>,
    pub raw: Value,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Container {
    /// A native sidecar known by name only (an owner's, for the drift check).
    pub fn native_sidecar(index: usize, name: &str) -> Container {
        Container {
            list: List::Init,
            index,
            name: name.to_string(),
            image: String::new(),
            command: Vec::new(),
            ports: Vec::new(),
            restart_policy: Some("Always".into()),
            startup: None,
            readiness: None,
            liveness: None,
            post_start: None,
            pre_stop: None,
            has_lifecycle: false,
            env: Vec::new(),
            raw: Value::Null,
        }
    }

    pub fn read(list: List, index: usize, v: &Value) -> Container {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut command = strings(v.get("command"));
        command.extend(strings(v.get("args")));
        let ports = v
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some(PortDecl {
                            name: p.get("name").and_then(Value::as_str).map(str::to_string),
                            number: p.get("containerPort")?.as_i64()?,
                            protocol: p
                                .get("protocol")
                                .and_then(Value::as_str)
                                .unwrap_or("TCP")
                                .to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let lifecycle = v.get("lifecycle").filter(|l| !l.is_null());
        let hook = |k: &str| {
            lifecycle
                .and_then(|l| l.get(k))
                .filter(|h| h.is_object())
                .map(Handler::read_all)
        };
        let env = v
            .get("env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        Some((
                            e.get("name")?.as_str()?.to_string(),
                            e.get("value")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let probe = |k: &str| v.get(k).filter(|p| p.is_object()).map(Probe::read);
        Container {
            list,
            index,
            name: s("name"),
            image: s("image"),
            command,
            ports,
            restart_policy: v
                .get("restartPolicy")
                .and_then(Value::as_str)
                .map(str::to_string),
            startup: probe("startupProbe"),
            readiness: probe("readinessProbe"),
            liveness: probe("livenessProbe"),
            post_start: hook("postStart"),
            pre_stop: hook("preStop"),
            has_lifecycle: lifecycle.is_some(),
            env,
            raw: v.clone(),
        }
    }

    /// A native sidecar: an init container with `restartPolicy: Always`.
    pub fn is_sidecar(&self) -> bool {
        self.list == List::Init && self.restart_policy.as_deref() == Some("Always")
    }

    /// `initContainers[2]`, relative to the PodSpec.
    pub fn path(&self) -> String {
        format!("{}[{}]", self.list.field(), self.index)
    }

    /// The declared port a probe port refers to, if any: by name, or by
    /// number.
    pub fn declares(&self, port: &Port) -> bool {
        match port {
            Port::Number(n) => self.ports.iter().any(|p| p.number == *n),
            Port::Name(name) => self.ports.iter().any(|p| p.name.as_deref() == Some(name)),
        }
    }

    /// The number a probe port resolves to within this container.
    pub fn resolve(&self, port: &Port) -> Option<i64> {
        match port {
            Port::Number(n) => Some(*n),
            Port::Name(name) => self
                .ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.number),
        }
    }

    /// `command` + `args` as one line.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_defaults_are_the_api_servers() {
        let p = Probe::read(&json!({"tcpSocket": {"port": 80}}));
        assert_eq!(
            (p.initial_delay, p.period, p.timeout, p.success, p.failure),
            (0, 10, 1, 1, 3)
        );
        assert_eq!(p.budget(), 30);
        assert_eq!(
            p.handler(),
            Some(&Handler::TcpSocket {
                port: Some(Port::Number(80))
            })
        );
    }

    #[test]
    fn ports_resolve_by_name_or_number() {
        let c = Container::read(
            List::Init,
            0,
            &json!({"name": "p", "restartPolicy": "Always", "ports": [{"name": "admin", "containerPort": 9901}],
                    "startupProbe": {"httpGet": {"port": "admin"}, "tcpSocket": {"port": "9901"}}}),
        );
        assert!(c.is_sidecar());
        let probe = c.startup.as_ref().unwrap();
        assert_eq!(
            probe.handlers.len(),
            2,
            "both handlers are kept for validation"
        );
        assert_eq!(c.resolve(&Port::Name("admin".into())), Some(9901));
        assert_eq!(c.resolve(&Port::Name("http".into())), None);
        assert_eq!(
            probe.handlers[1].port(),
            Some(&Port::Number(9901)),
            "a numeric string is a number"
        );
    }
}
