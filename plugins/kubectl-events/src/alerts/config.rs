//! The `alerts:` and `sinks:` of a rules file, read and checked.

use std::collections::BTreeMap;

use kplug::selector::Selector;

use crate::classify::{Category, Severity};

/// Where notifications go.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// Alertmanager's v2 API (`/api/v2/alerts`), at its base URL.
    Alertmanager { url: String },
    /// A JSON POST, signed with HMAC-SHA256 when a secret is given.
    Webhook { url: String, secret: Option<Secret> },
    /// A Slack-compatible incoming webhook (`{"text": …}`).
    Slack { url: String },
    /// One JSON line per notification on standard output.
    Stdout,
}

/// Where a webhook's signing key is read from (never the rules file).
#[derive(Debug, Clone, PartialEq)]
pub enum Secret {
    Env(String),
    File(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sink {
    pub name: String,
    pub kind: SinkKind,
}

/// Which Events an alert rule is about; every condition given must hold
/// for some Event of the incident.
#[derive(Debug, Clone, Default)]
pub struct Match {
    pub reasons: Vec<String>,
    pub categories: Vec<Category>,
    /// At least this severe.
    pub severity: Option<Severity>,
    pub namespaces: Vec<String>,
    /// Labels of the object the Event is about (as the collector read them).
    pub selector: Option<Selector>,
    /// The incident's root cause is one of these reasons.
    pub root: Vec<String>,
}

/// What alerts are grouped by: one alert per distinct value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKey {
    /// One alert per incident (an Event in none is its own).
    Incident,
    Cluster,
    Namespace,
    /// The root cause's reason.
    Reason,
    /// The root object's owner (its controller at the top).
    Owner,
    Node,
    /// The root object.
    Object,
}

impl GroupKey {
    pub fn label(self) -> &'static str {
        match self {
            GroupKey::Incident => "incident",
            GroupKey::Cluster => "cluster",
            GroupKey::Namespace => "namespace",
            GroupKey::Reason => "reason",
            GroupKey::Owner => "owner",
            GroupKey::Node => "node",
            GroupKey::Object => "object",
        }
    }

    const ALL: [GroupKey; 7] = [
        GroupKey::Incident,
        GroupKey::Cluster,
        GroupKey::Namespace,
        GroupKey::Reason,
        GroupKey::Owner,
        GroupKey::Node,
        GroupKey::Object,
    ];
}

#[derive(Debug, Clone)]
pub struct AlertRule {
    pub name: String,
    pub matches: Match,
    /// The group must have been active this long before it fires (ms).
    pub sustain_ms: i64,
    /// … and hold at least this many occurrences.
    pub min_count: i64,
    /// After it resolves, the same group does not fire again for this long.
    pub cooldown_ms: i64,
    pub group_by: Vec<GroupKey>,
    /// Resolved once no occurrence came for this long.
    pub resolve_after_ms: i64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The sinks it notifies (names checked against `sinks:`).
    pub sinks: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub sinks: Vec<Sink>,
    pub rules: Vec<AlertRule>,
}

impl Config {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn sink(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.name == name)
    }

    /// The longest a group can stay open: a tracker must look this far back.
    pub fn longest_resolve_ms(&self) -> i64 {
        self.rules
            .iter()
            .map(|r| r.resolve_after_ms.max(r.sustain_ms))
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SinkSpec {
    name: String,
    alertmanager: Option<String>,
    webhook: Option<String>,
    slack: Option<String>,
    #[serde(default)]
    stdout: bool,
    secret_env: Option<String>,
    secret_file: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MatchSpec {
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    severity: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    selector: Option<String>,
    #[serde(default)]
    root: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleSpec {
    name: String,
    #[serde(default, rename = "match")]
    matches: MatchSpec,
    #[serde(default, rename = "for")]
    sustain: Option<String>,
    #[serde(default)]
    min_count: Option<i64>,
    cooldown: Option<String>,
    #[serde(default)]
    group_by: Vec<String>,
    resolve_after: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    sinks: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct RulesFile {
    #[serde(default)]
    alerts: Vec<RuleSpec>,
    #[serde(default)]
    sinks: Vec<SinkSpec>,
}

fn millis(rule: &str, field: &str, text: Option<&str>, default: &str) -> Result<i64, String> {
    let text = text.unwrap_or(default);
    kplug::cli::parse_duration(text)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| format!("alert {rule}: {field}: {e}"))
}

fn sink(spec: SinkSpec) -> Result<Sink, String> {
    let name = spec.name;
    let secret = match (spec.secret_env, spec.secret_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "sink {name}: give secretEnv or secretFile, not both"
            ));
        }
        (Some(v), None) => Some(Secret::Env(v)),
        (None, Some(f)) => Some(Secret::File(f)),
        (None, None) => None,
    };
    let url = |u: String| http_url(&u).map_err(|why| format!("sink {name}: {u}: {why}"));
    let kind = match (spec.alertmanager, spec.webhook, spec.slack, spec.stdout) {
        (Some(u), None, None, false) => SinkKind::Alertmanager { url: url(u)? },
        (None, Some(u), None, false) => SinkKind::Webhook {
            url: url(u)?,
            secret: secret.clone(),
        },
        (None, None, Some(u), false) => SinkKind::Slack { url: url(u)? },
        (None, None, None, true) => SinkKind::Stdout,
        _ => {
            return Err(format!(
                "sink {name}: give exactly one of alertmanager, webhook, slack, stdout"
            ));
        }
    };
    if secret.is_some() && !matches!(kind, SinkKind::Webhook { .. }) {
        return Err(format!("sink {name}: only a webhook is signed"));
    }
    Ok(Sink { name, kind })
}

/// An http(s) URL, without its trailing slash.
fn http_url(u: &str) -> Result<String, &'static str> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or("not an http:// or https:// URL")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("no host");
    }
    Ok(u.trim_end_matches('/').to_string())
}

fn rule(spec: RuleSpec, sinks: &[Sink]) -> Result<AlertRule, String> {
    let name = spec.name;
    let m = spec.matches;
    let categories = m
        .categories
        .iter()
        .map(|c| {
            Category::parse(c).ok_or_else(|| format!("alert {name}: unknown category \"{c}\""))
        })
        .collect::<Result<_, _>>()?;
    let severity = m
        .severity
        .as_deref()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                format!(
                    "alert {name}: severity \"{s}\" is not one of info, low, medium, high, critical"
                )
            })
        })
        .transpose()?;
    let selector = m
        .selector
        .as_deref()
        .map(|s| Selector::parse(s).map_err(|e| format!("alert {name}: selector: {e}")))
        .transpose()?;
    let group_by = if spec.group_by.is_empty() {
        vec![GroupKey::Incident]
    } else {
        spec.group_by
            .iter()
            .map(|g| {
                GroupKey::ALL
                    .into_iter()
                    .find(|k| k.label() == g)
                    .ok_or_else(|| {
                        format!(
                            "alert {name}: groupBy \"{g}\" is not one of incident, cluster, namespace, reason, owner, node, object"
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let min_count = spec.min_count.unwrap_or(1);
    if min_count < 1 {
        return Err(format!("alert {name}: minCount must be at least 1"));
    }
    let targets = if spec.sinks.is_empty() {
        sinks.iter().map(|s| s.name.clone()).collect()
    } else {
        for s in &spec.sinks {
            if !sinks.iter().any(|k| &k.name == s) {
                return Err(format!("alert {name}: no sink named \"{s}\""));
            }
        }
        spec.sinks
    };
    Ok(AlertRule {
        sustain_ms: millis(&name, "for", spec.sustain.as_deref(), "0s")?,
        cooldown_ms: millis(&name, "cooldown", spec.cooldown.as_deref(), "0s")?,
        resolve_after_ms: millis(&name, "resolveAfter", spec.resolve_after.as_deref(), "5m")?
            .max(1),
        matches: Match {
            reasons: m.reasons,
            categories,
            severity,
            namespaces: m.namespaces,
            selector,
            root: m.root,
        },
        min_count,
        group_by,
        labels: spec.labels,
        annotations: spec.annotations,
        sinks: targets,
        name,
    })
}

/// The alerts and sinks of a rules file (empty when it has none). Errors
/// name the line, the alert or the sink.
pub fn from_yaml(text: &str) -> Result<Config, String> {
    let file: RulesFile = kplug::yaml::from_str(text).map_err(|e| kplug::yaml::line_message(&e))?;
    let mut sinks: Vec<Sink> = Vec::new();
    for spec in file.sinks {
        let s = sink(spec)?;
        if sinks.iter().any(|k| k.name == s.name) {
            return Err(format!("sink {}: named twice", s.name));
        }
        sinks.push(s);
    }
    let mut rules: Vec<AlertRule> = Vec::new();
    for spec in file.alerts {
        let r = rule(spec, &sinks)?;
        if rules.iter().any(|k| k.name == r.name) {
            return Err(format!("alert {}: named twice", r.name));
        }
        rules.push(r);
    }
    if !rules.is_empty() && sinks.is_empty() {
        return Err("alerts need at least one sink under sinks:".to_string());
    }
    Ok(Config { sinks, rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
sinks:
- {name: am, alertmanager: 'http://127.0.0.1:9093/'}
- {name: hook, webhook: 'https://hooks.example/x', secretEnv: HOOK_KEY}
- {name: log, stdout: true}
alerts:
- name: CrashLooping
  match: {reasons: [BackOff], severity: medium, namespaces: [shop], selector: 'app=web'}
  for: 1m
  minCount: 3
  cooldown: 10m
  resolveAfter: 2m
  labels: {team: shop}
  sinks: [am]
- name: Anything
";

    #[test]
    fn a_rules_file_reads_into_rules_and_sinks() {
        let c = from_yaml(FILE).unwrap();
        assert_eq!(c.sinks.len(), 3);
        assert_eq!(
            c.sinks[0].kind,
            SinkKind::Alertmanager {
                url: "http://127.0.0.1:9093".into()
            }
        );
        assert_eq!(
            c.sinks[1].kind,
            SinkKind::Webhook {
                url: "https://hooks.example/x".into(),
                secret: Some(Secret::Env("HOOK_KEY".into()))
            }
        );
        let r = &c.rules[0];
        assert_eq!(
            (r.sustain_ms, r.min_count, r.cooldown_ms, r.resolve_after_ms),
            (60_000, 3, 600_000, 120_000)
        );
        assert_eq!(r.group_by, vec![GroupKey::Incident]);
        assert_eq!(r.matches.severity, Some(Severity::Medium));
        assert!(r.matches.selector.is_some());
        assert_eq!(r.sinks, vec!["am".to_string()]);
        // No sinks named: all of them; defaults for the rest.
        let any = &c.rules[1];
        assert_eq!(any.sinks, vec!["am", "hook", "log"]);
        assert_eq!((any.resolve_after_ms, any.min_count), (300_000, 1));
        assert_eq!(c.longest_resolve_ms(), 300_000);
    }

    #[test]
    fn the_deployed_rules_read() {
        let doc = include_str!("../../../../deploy/eventlog/ha/10-rules.yaml");
        let map: serde_json::Value = kplug::yaml::from_str(doc).unwrap();
        let rules = map["data"]["rules.yaml"].as_str().unwrap();
        let c = from_yaml(rules).unwrap();
        assert_eq!(c.rules.len(), 3);
        assert!(crate::classify::Classifier::with_rules(rules).is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |text: &str| from_yaml(text).unwrap_err();
        assert!(bad("alerts:\n- name: a\n").contains("at least one sink"));
        assert!(
            bad("sinks:\n- {name: s, stdout: true}\nalerts:\n- {name: a, sinks: [t]}\n")
                .contains("alert a: no sink named \"t\"")
        );
        assert!(
            bad("sinks:\n- {name: s, stdout: true}\nalerts:\n- {name: a, groupBy: [pod]}\n")
                .contains("groupBy \"pod\"")
        );
        assert!(
            bad("sinks:\n- {name: s, stdout: true}\nalerts:\n- {name: a, for: soon}\n")
                .contains("alert a: for")
        );
        assert!(bad("sinks:\n- {name: s, webhook: 'ftp://x'}\n").contains("sink s: ftp://x"));
        assert!(
            bad("sinks:\n- {name: s, stdout: true, slack: 'http://x'}\n").contains("exactly one")
        );
        assert!(
            bad("sinks:\n- {name: s, stdout: true, secretEnv: K}\n").contains("only a webhook")
        );
        assert!(
            bad("sinks:\n- {name: s, stdout: true}\nalerts:\n- {name: a, match: {severity: urgent}}\n")
                .contains("severity \"urgent\"")
        );
        assert!(bad("sinks:\n- {name: s, stdout: true}\n  bogus: 1\n").starts_with("line "));
    }
}
