//! Deriving a startupProbe for a sidecar that does not gate
//! (../shared/specs/sidecar.md §6): the check comes from a known image, the
//! readinessProbe, the livenessProbe or the single TCP port, in that order;
//! the timing polls every second and allows at least a minute.

use serde_json::{Value, json};

use crate::container::{Container, Handler, Port, Probe};
use crate::known;

/// Where the derived check came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    KnownImage,
    Readiness,
    Liveness,
    SinglePort,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::KnownImage => "the known readiness endpoint of its image",
            Source::Readiness => "its readinessProbe",
            Source::Liveness => "its livenessProbe",
            Source::SinglePort => "its only TCP port",
        }
    }
}

/// A derived startupProbe.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub probe: Value,
    pub source: Source,
    /// Seconds the probe allows before the kubelet restarts the sidecar.
    pub budget: i64,
    /// Caveats the user must know.
    pub warnings: Vec<String>,
}

/// Why no probe could be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

const MIN_BUDGET: i64 = 60;
const MAX_BUDGET: i64 = 600;

/// A startupProbe for `c`. `budget` overrides the derived total time.
pub fn startup_probe(c: &Container, budget: Option<i64>) -> Result<Derived, Refusal> {
    let mut warnings = Vec::new();
    let (handler, source, timing): (Value, Source, Option<&Probe>) = if let Some(hint) =
        known::ready_hint(c)
    {
        warnings.push(format!("uses {} ({})", hint.path, hint.note));
        (
            json!({"httpGet": {"path": hint.path, "port": port_value(&hint.port)}}),
            Source::KnownImage,
            None,
        )
    } else if let Some(p) = &c.readiness {
        (copy_handler(c, p)?, Source::Readiness, Some(p))
    } else if let Some(p) = &c.liveness {
        warnings.push("derived from the livenessProbe: \"alive\" may come before \"able to serve\" (Linkerd /live vs /ready, Cloud SQL /liveness vs /startup); check the endpoint".into());
        (copy_handler(c, p)?, Source::Liveness, Some(p))
    } else {
        let tcp: Vec<_> = c.ports.iter().filter(|p| p.protocol == "TCP").collect();
        match tcp.as_slice() {
            [one] => (
                json!({"tcpSocket": {"port": one.number}}),
                Source::SinglePort,
                None,
            ),
            [] => {
                return Err(Refusal(format!(
                    "{} has no probe and no TCP port to check; give the endpoint, or use a postStart hook that waits for it",
                    c.name
                )));
            }
            _ => {
                return Err(Refusal(format!(
                    "{} has several TCP ports and no probe; kplug cannot tell which one means ready",
                    c.name
                )));
            }
        }
    };
    if handler.get("httpGet").and_then(|h| h.get("host")).is_some() {
        warnings.push("httpGet.host is set: the kubelet probes that host, not the Pod".into());
    }
    if matches!(
        source,
        Source::Readiness | Source::Liveness | Source::SinglePort
    ) && handler.get("exec").is_none()
    {
        warnings.push("the sidecar must listen on the Pod IP (not only 127.0.0.1) for the kubelet to reach it".into());
    }
    let exec = handler.get("exec").is_some();
    let period = if exec { 2 } else { 1 };
    let derived_budget = timing.map_or(MIN_BUDGET, Probe::budget);
    let budget = budget.unwrap_or_else(|| {
        let vendor = known::family(c).and_then(|_| vendor_budget(c));
        vendor.unwrap_or(derived_budget.clamp(MIN_BUDGET, MAX_BUDGET))
    });
    let timeout = timing
        .map_or(1, |p| p.timeout.max(1))
        .max(if exec { 2 } else { 1 });
    let mut probe = handler;
    let fields = probe.as_object_mut().expect("handler is an object");
    fields.insert("initialDelaySeconds".into(), json!(0));
    fields.insert("periodSeconds".into(), json!(period));
    fields.insert("timeoutSeconds".into(), json!(timeout));
    fields.insert("successThreshold".into(), json!(1));
    fields.insert(
        "failureThreshold".into(),
        json!((budget + period - 1) / period),
    );
    Ok(Derived {
        probe,
        source,
        budget,
        warnings,
    })
}

/// Istio waits up to 10 minutes and Linkerd 2 for their proxies.
fn vendor_budget(c: &Container) -> Option<i64> {
    let image = c.image.to_ascii_lowercase();
    if image.contains("istio/proxyv2") || c.name == "istio-proxy" {
        Some(600)
    } else if image.contains("linkerd/proxy") || c.name == "linkerd-proxy" {
        Some(120)
    } else {
        None
    }
}

fn port_value(p: &Port) -> Value {
    match p {
        Port::Number(n) => json!(n),
        Port::Name(s) => json!(s),
    }
}

/// The handler of `p`, copied as written, with named ports the sidecar
/// cannot resolve turned into numbers or refused.
fn copy_handler(c: &Container, p: &Probe) -> Result<Value, Refusal> {
    let handler = p.handler().ok_or_else(|| {
        Refusal(format!(
            "{}'s probe does not have exactly one handler",
            c.name
        ))
    })?;
    if let Handler::Exec(cmd) = handler
        && cmd.iter().any(|w| w == "sleep" || w.starts_with("sleep "))
    {
        return Err(Refusal(format!(
            "{}'s probe runs `{}`: a sleep is a fixed delay, not a readiness check, and with the default 1 s timeout it always fails; probe what the sidecar serves instead",
            c.name,
            cmd.join(" ")
        )));
    }
    let field = handler.field();
    let mut value = p.raw.get(field).cloned().unwrap_or(Value::Null);
    if let Some(port) = handler.port()
        && let Port::Name(name) = port
    {
        match c.resolve(port) {
            Some(_) => {}
            None => {
                return Err(Refusal(format!(
                    "{}'s probe uses port name \"{name}\", which {} does not declare",
                    c.name, c.name
                )));
            }
        }
    }
    if let Handler::Grpc { port } = handler {
        if !port.is_i64() {
            return Err(Refusal(format!(
                "{}'s gRPC probe port must be a number",
                c.name
            )));
        }
        value["port"] = port.clone();
    }
    Ok(json!({ field: value }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::List;

    fn sidecar(v: Value) -> Container {
        Container::read(List::Init, 0, &v)
    }

    #[test]
    fn readiness_is_copied_with_fast_timing() {
        let c = sidecar(
            json!({"name": "auth", "image": "registry.example/auth:1", "restartPolicy": "Always",
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8081}, "periodSeconds": 5, "failureThreshold": 30}}),
        );
        let d = startup_probe(&c, None).unwrap();
        assert_eq!(d.source, Source::Readiness);
        assert_eq!(d.budget, 150);
        assert_eq!(
            d.probe,
            json!({"httpGet": {"path": "/ready", "port": 8081}, "initialDelaySeconds": 0, "periodSeconds": 1,
                   "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 150})
        );
    }

    #[test]
    fn known_images_single_ports_and_refusals() {
        let istio =
            sidecar(json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0"}));
        let d = startup_probe(&istio, None).unwrap();
        assert_eq!(
            d.probe["httpGet"],
            json!({"path": "/healthz/ready", "port": 15021})
        );
        assert_eq!(d.probe["failureThreshold"], 600);

        let one = sidecar(json!({"name": "x", "image": "i", "ports": [{"containerPort": 7000}]}));
        let d = startup_probe(&one, Some(90)).unwrap();
        assert_eq!(d.probe["tcpSocket"]["port"], 7000);
        assert_eq!(d.probe["failureThreshold"], 90);

        let sleepy = sidecar(
            json!({"name": "s", "image": "i", "readinessProbe": {"exec": {"command": ["sleep", "5"]}}}),
        );
        assert!(
            startup_probe(&sleepy, None)
                .unwrap_err()
                .0
                .contains("fixed delay")
        );
        let none = sidecar(json!({"name": "n", "image": "i"}));
        assert!(startup_probe(&none, None).is_err());

        let exec = sidecar(
            json!({"name": "v", "image": "i", "livenessProbe": {"exec": {"command": ["test", "-f", "/vault/token"]}}}),
        );
        let d = startup_probe(&exec, None).unwrap();
        assert_eq!(
            (
                d.probe["periodSeconds"].as_i64(),
                d.probe["timeoutSeconds"].as_i64(),
                d.probe["failureThreshold"].as_i64()
            ),
            (Some(2), Some(2), Some(30))
        );
        assert!(d.warnings.iter().any(|w| w.contains("livenessProbe")));
    }
}
