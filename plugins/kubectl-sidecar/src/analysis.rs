//! The heart of `kubectl sidecar analyze`: for each container of a Pod
//! template, its role, whether (and how long) the next container waits for
//! it, and what is wrong, following the kubelet's real rules
//! (../shared/specs/sidecar.md §1): only a startupProbe or a blocking
//! postStart hook holds the next container; readiness never does.

use kplug::finding::{Finding, ObjectRef, Severity};
use serde::Serialize;
use std::collections::HashMap;

use crate::container::{Container, Handler, List, Port};
use crate::known::{self, Family};
use crate::template::PodTemplate;
use crate::validation::{self, ApiError, KubeVersion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Init,
    Sidecar,
    App,
    LegacySidecar,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Init => "init",
            Role::Sidecar => "sidecar",
            Role::App => "app",
            Role::LegacySidecar => "legacy-sidecar",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Verdict {
    /// The next container waits until the sidecar is really ready.
    Gated,
    /// The next container waits only until the sidecar's process runs.
    StartedOnly,
    /// A legacy sidecar in `containers`: no ordering at all.
    Unordered,
    /// A legacy sidecar held by a postStart hook (not fail-closed).
    LegacyGated,
    /// The API server would reject the Pod.
    Invalid,
    /// The Pod can never get past this container.
    Stuck,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Gated => "GATED",
            Verdict::StartedOnly => "STARTED-ONLY",
            Verdict::Unordered => "UNORDERED",
            Verdict::LegacyGated => "LEGACY-GATED",
            Verdict::Invalid => "INVALID",
            Verdict::Stuck => "STUCK",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Gate {
    StartupProbe,
    PostStart,
    /// A plain init container: the next one starts after it exits 0.
    Exit,
}

impl Gate {
    pub fn label(self) -> &'static str {
        match self {
            Gate::StartupProbe => "startupProbe",
            Gate::PostStart => "postStart",
            Gate::Exit => "exit 0",
        }
    }
}

/// One container in start order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    pub name: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Worst case, in seconds: for a sidecar how long it can hold the next
    /// container; for an app container how long it can wait for all
    /// sidecars before it. `None` when no bound can be known.
    pub max_wait_seconds: Option<i64>,
    /// The known family of a sidecar (mesh proxy, log shipper …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    pub findings: Vec<Finding>,
}

/// The analysis of one Pod template.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateReport {
    pub object: ObjectRef,
    pub containers: Vec<ContainerReport>,
    /// Findings about the template as a whole.
    pub findings: Vec<Finding>,
}

impl TemplateReport {
    /// Every finding, container ones first.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.containers
            .iter()
            .flat_map(|c| &c.findings)
            .chain(&self.findings)
    }
}

/// Analyse every template. A Pod is compared with its controller's
/// template (admission drift), found among `templates` or `context` (owners
/// fetched only for that comparison, not reported).
pub fn analyze_all(
    templates: &[PodTemplate],
    context: &[PodTemplate],
    version: KubeVersion,
) -> Vec<TemplateReport> {
    let mut owners = Owners::default();
    context.iter().for_each(|t| owners.remember(t));
    analyze_with(templates, &owners, version)
}

/// What the drift check needs of Pod-owning templates (ReplicaSets,
/// StatefulSets, DaemonSets, Jobs): the names of their native sidecars, by
/// kind, namespace and name. A few bytes each, so a stream of any length
/// can keep them.
#[derive(Debug, Default)]
pub struct Owners(HashMap<(String, Option<String>, String), Vec<String>>);

impl Owners {
    /// Keep `t` if a Pod could be made from it and it declares sidecars.
    pub fn remember(&mut self, t: &PodTemplate) {
        let owns_pods = matches!(
            t.kind.as_str(),
            "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job"
        );
        let sidecars: Vec<String> = t.sidecars().map(|c| c.name.clone()).collect();
        if owns_pods && !sidecars.is_empty() {
            let key = (
                t.kind.clone(),
                t.object.namespace.clone(),
                t.object.name.clone(),
            );
            self.0.insert(key, sidecars);
        }
    }

    /// The owner of `pod` as a template holding only its sidecars.
    pub fn sketch(&self, pod: &PodTemplate) -> Option<PodTemplate> {
        let (kind, name) = pod.owner.as_ref()?;
        let key = (kind.clone(), pod.object.namespace.clone(), name.clone());
        let sidecars = self.0.get(&key)?;
        let mut t = PodTemplate::sketch(kind, pod.object.namespace.clone(), name);
        t.init = sidecars
            .iter()
            .enumerate()
            .map(|(i, n)| Container::native_sidecar(i, n))
            .collect();
        Some(t)
    }
}

/// [`analyze_all`] with the owners already gathered.
pub fn analyze_with(
    templates: &[PodTemplate],
    owners: &Owners,
    version: KubeVersion,
) -> Vec<TemplateReport> {
    analyze_document(templates, version)
        .into_iter()
        .zip(templates)
        .map(|(done, t)| done.unwrap_or_else(|| analyze(t, owners.sketch(t).as_ref(), version)))
        .collect()
}

/// The templates of one document, each analysed unless it is a Pod whose
/// controller is not in the document (`None`: the caller, who knows the
/// earlier documents' [`Owners`], finishes it).
pub fn analyze_document(
    templates: &[PodTemplate],
    version: KubeVersion,
) -> Vec<Option<TemplateReport>> {
    templates
        .iter()
        .map(|t| match &t.owner {
            None => Some(analyze(t, None, version)),
            Some((kind, name)) => templates
                .iter()
                .find(|o| {
                    &o.kind == kind
                        && &o.object.name == name
                        && o.object.namespace == t.object.namespace
                })
                .map(|o| analyze(t, Some(o), version)),
        })
        .collect()
}

/// Analyse one template. `owner` is the template a live Pod was made from.
pub fn analyze(
    t: &PodTemplate,
    owner: Option<&PodTemplate>,
    version: KubeVersion,
) -> TemplateReport {
    let errors = validation::validate(t, version);
    let apps: Vec<&Container> = t
        .regular
        .iter()
        .filter(|c| known::family(c).is_none())
        .collect();
    let mut containers: Vec<ContainerReport> = t
        .containers()
        .map(|c| {
            let mut r = judge(t, c, &errors, version, apps.len());
            if let Some(o) = owner
                && stripped(t, o, c, &mut r)
            {
                // The drift is the cause; "daemon as init" is its symptom.
                r.findings.retain(|f| f.code != "daemon-as-init-container");
            }
            r
        })
        .collect();
    // An app waits for every sidecar gate before it (plain init containers
    // run as long as their work takes, which no probe bounds).
    let mut waited = Some(0i64);
    for r in containers.iter_mut() {
        match r.role {
            Role::App => r.max_wait_seconds = waited,
            Role::Sidecar => {
                waited = waited
                    .zip(r.max_wait_seconds)
                    .map(|(a, b)| a.saturating_add(b));
            }
            Role::Init if r.verdict == Some(Verdict::Stuck) => waited = None,
            Role::Init | Role::LegacySidecar => {}
        }
    }
    let mut findings = Vec::new();
    template_findings(t, &mut containers, &mut findings);
    TemplateReport {
        object: t.object.clone(),
        containers,
        findings,
    }
}

fn finding(
    t: &PodTemplate,
    c: Option<&Container>,
    severity: Severity,
    code: &str,
    message: String,
) -> Finding {
    let object = match c {
        Some(c) => t
            .object
            .clone()
            .with_field(format!("{}{{{}}}", c.list.field(), c.name)),
        None => t.object.clone(),
    };
    Finding::new(severity, code, object, message)
}

fn judge(
    t: &PodTemplate,
    c: &Container,
    errors: &[ApiError],
    version: KubeVersion,
    apps: usize,
) -> ContainerReport {
    let family = known::family(c);
    let role = match c.list {
        List::Init if c.is_sidecar() => Role::Sidecar,
        List::Init => Role::Init,
        // A known sidecar image next to a real app is a legacy sidecar; alone
        // it is the app.
        List::Regular if family.is_some() && apps > 0 => Role::LegacySidecar,
        List::Regular => Role::App,
    };
    let mut r = ContainerReport {
        name: c.name.clone(),
        role,
        verdict: None,
        gate: None,
        max_wait_seconds: None,
        family,
        findings: Vec::new(),
    };
    let mine: Vec<&ApiError> = errors.iter().filter(|e| e.container == c.name).collect();
    if !mine.is_empty() {
        r.verdict = Some(Verdict::Invalid);
        for e in mine {
            let mut f = finding(
                t,
                Some(c),
                Severity::Error,
                e.rule.code(),
                format!("the API server rejects this: {}", e.message),
            );
            if e.message.contains("without restartPolicy=Always") {
                f = f.with_fix("add `restartPolicy: Always` if this container keeps running beside the app (a native sidecar); otherwise remove the probe or hook");
            }
            r.findings.push(f);
        }
        return r;
    }
    match role {
        Role::Sidecar => sidecar(t, c, &mut r),
        Role::Init => plain_init(t, c, version, &mut r),
        Role::LegacySidecar => legacy(t, c, &mut r),
        Role::App => {
            if c.restart_policy.is_some() {
                r.findings.push(finding(
                    t,
                    Some(c),
                    Severity::Warning,
                    "restartpolicy-on-regular-container",
                    format!(
                        "restartPolicy {} on a regular container does not make it a sidecar: nothing waits for it and it is not started first (the API server accepts it from 1.35 with ContainerRestartRules; older servers reject it)",
                        c.restart_policy.as_deref().unwrap_or_default()
                    ),
                ).with_fix("move it to initContainers with restartPolicy: Always to make it a native sidecar"));
            }
        }
    }
    r
}

/// Which container of the template serves `port` (a number), other than `me`.
fn server_of<'a>(t: &'a PodTemplate, me: &Container, port: i64) -> Option<&'a Container> {
    t.containers()
        .filter(|o| o.name != me.name)
        .find(|o| o.ports.iter().any(|p| p.number == port))
}

fn sidecar(t: &PodTemplate, c: &Container, r: &mut ContainerReport) {
    if let Some(p) = &c.startup {
        r.gate = Some(Gate::StartupProbe);
        r.verdict = Some(Verdict::Gated);
        r.max_wait_seconds = Some(p.budget());
        // Validation rejects other handler counts, but a body that does not
        // decode stops validation before it reaches this container.
        let Some(handler) = p.handler() else {
            r.verdict = Some(Verdict::Invalid);
            r.max_wait_seconds = None;
            return;
        };
        if let Handler::Exec(cmd) = handler
            && let Some(secs) = sleep_seconds(cmd)
        {
            if secs >= p.timeout {
                r.verdict = Some(Verdict::Stuck);
                r.max_wait_seconds = None;
                r.findings.push(
                    finding(t, Some(c), Severity::Error, "exec-sleep-exceeds-timeout", format!(
                        "the startupProbe runs `sleep {secs}` but times out after {}s, so every attempt fails and the sidecar is restarted forever; the app never starts", p.timeout))
                    .with_fix("probe what the sidecar serves (httpGet or tcpSocket on its port) instead of sleeping"),
                );
            } else {
                r.findings.push(
                    finding(t, Some(c), Severity::Warning, "fixed-delay-gate", format!(
                        "the startupProbe waits a fixed {secs}s instead of checking that the sidecar is ready"))
                    .with_fix("probe what the sidecar serves (httpGet or tcpSocket on its port)"),
                );
            }
        }
        if let Some(port) = handler.port() {
            match c.resolve(port) {
                None => {
                    r.verdict = Some(Verdict::Stuck);
                    r.max_wait_seconds = None;
                    let owner = t
                        .containers()
                        .find(|o| o.declares(port))
                        .map(|o| format!(" (only {} declares it)", o.name))
                        .unwrap_or_default();
                    r.findings.push(finding(t, Some(c), Severity::Error, "unresolvable-named-port", format!(
                        "the startupProbe uses port name \"{port}\", which this container does not declare{owner}: the kubelet resolves names against the probed container only, the probe errors without counting as a failure, and the Pod waits in Init forever"))
                        .with_fix(format!("declare the port \"{port}\" in this container's ports, or use the port number")));
                }
                Some(n) if !c.declares(&Port::Number(n)) => {
                    if let Some(server) = server_of(t, c, n) {
                        later_dependency(t, c, server, n, r);
                    }
                }
                Some(_) => {}
            }
        }
        if r.verdict == Some(Verdict::Gated) {
            let budget = p.budget();
            if budget < 60 && r.family == Some(Family::MeshProxy) {
                r.findings.push(finding(t, Some(c), Severity::Warning, "short-startup-budget", format!(
                    "the startupProbe allows {budget}s ({}s delay + {} × {}s) for a mesh proxy; when the control plane is slow the proxy is killed and restarted in a loop", p.initial_delay, p.failure, p.period))
                    .with_fix("poll fast and allow long: periodSeconds: 1 with failureThreshold: 600 (Istio) or 120 (Linkerd)"));
            }
            if p.period > 5 {
                r.findings.push(finding(t, Some(c), Severity::Info, "slow-startup-poll", format!(
                    "the startupProbe polls every {}s, so the app may start up to {}s after the sidecar is ready", p.period, p.period))
                    .with_fix("use periodSeconds: 1 and raise failureThreshold to keep the budget"));
            }
        }
    } else if let Some(hooks) = &c.post_start {
        r.gate = Some(Gate::PostStart);
        r.verdict = Some(Verdict::Gated);
        let line = hooks
            .first()
            .and_then(Handler::command_line)
            .unwrap_or_default();
        r.max_wait_seconds = timeout_seconds(&line);
        r.findings.push(finding(t, Some(c), Severity::Info, "prefer-startup-probe",
            "a postStart hook holds the app until it returns; a startupProbe does the same and is visible in status and events".into()));
        if (line.contains("until ") || line.contains("while ")) && r.max_wait_seconds.is_none() {
            r.findings.push(finding(t, Some(c), Severity::Warning, "poststart-without-timeout",
                "the postStart hook loops without a timeout: if the sidecar never becomes ready the app waits forever and no restart happens".into())
                .with_fix("wrap the loop in `timeout N`, or use a startupProbe with a failureThreshold"));
        }
    } else {
        r.verdict = Some(Verdict::StartedOnly);
        r.max_wait_seconds = Some(0);
        if let Some(p) = &c.readiness {
            r.findings.push(finding(t, Some(c), Severity::Warning, "readiness-does-not-gate",
                format!("the sidecar has a readinessProbe ({}) but no startupProbe: the app starts as soon as the sidecar's process runs, not when it is ready", describe(p.handler())))
                .with_fix("add a startupProbe with the same check (`kubectl sidecar fix`)"));
        } else if let Some(p) = &c.liveness {
            r.findings.push(finding(t, Some(c), Severity::Warning, "liveness-does-not-gate",
                format!("the sidecar has a livenessProbe ({}) but no startupProbe: liveness restarts the sidecar but never holds the app", describe(p.handler())))
                .with_fix("add a startupProbe (`kubectl sidecar fix`)"));
        } else {
            let serves = !c.ports.is_empty();
            r.findings.push(finding(t, Some(c), if serves { Severity::Warning } else { Severity::Info }, "no-start-gate",
                if serves {
                    "the sidecar serves ports but has no startupProbe or postStart hook: the app may use it before it listens".into()
                } else {
                    "the sidecar has no start gate; fine for a sidecar the app does not call (a log shipper)".into()
                }));
        }
    }
    termination(t, c, r);
}

/// A startupProbe that needs a container that only starts after this one.
fn later_dependency(
    t: &PodTemplate,
    c: &Container,
    server: &Container,
    port: i64,
    r: &mut ContainerReport,
) {
    let later = match (server.list, c.list) {
        (List::Regular, _) => true,
        (List::Init, List::Init) => server.index > c.index,
        (List::Init, List::Regular) => false,
    };
    if !later {
        return;
    }
    r.verdict = Some(Verdict::Stuck);
    r.max_wait_seconds = None;
    if server.is_sidecar() {
        r.findings.push(finding(t, Some(c), Severity::Error, "sidecar-order-inversion", format!(
            "the startupProbe checks port {port}, served by sidecar {}, which is declared after {} and cannot start until {} is started: deadlock", server.name, c.name, c.name))
            .with_fix(format!("move {} before {} in initContainers", server.name, c.name)));
    } else {
        r.findings.push(finding(t, Some(c), Severity::Error, "startup-depends-on-later-container", format!(
            "the startupProbe checks port {port}, served by {}, which only starts after this sidecar is started: deadlock", server.name))
            .with_fix("probe an endpoint of the sidecar itself"));
    }
}

fn describe(h: Option<&Handler>) -> String {
    match h {
        Some(Handler::HttpGet { path, port, .. }) => format!(
            "httpGet {path} on port {}",
            port.as_ref().map(ToString::to_string).unwrap_or_default()
        ),
        Some(Handler::TcpSocket { port }) => format!(
            "tcpSocket on port {}",
            port.as_ref().map(ToString::to_string).unwrap_or_default()
        ),
        Some(Handler::Grpc { port }) => format!("grpc on port {port}"),
        Some(Handler::Exec(c)) => format!("exec `{}`", c.join(" ")),
        Some(Handler::Sleep(s)) => format!("sleep {s}s"),
        None => "no single handler".into(),
    }
}

/// `N` of an exec `sleep N` (also inside `sh -c "sleep N"`).
fn sleep_seconds(cmd: &[String]) -> Option<i64> {
    let line = cmd.join(" ");
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w.trim_start_matches(['"', '\'']) == "sleep" {
            return words
                .next()?
                .trim_end_matches(['"', '\'', ';', 's'])
                .parse()
                .ok();
        }
    }
    None
}

/// `N` of `timeout N …` in a hook command.
fn timeout_seconds(line: &str) -> Option<i64> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "timeout" || w.ends_with("/timeout") {
            return words.next()?.trim_end_matches('s').parse().ok();
        }
    }
    None
}

fn plain_init(t: &PodTemplate, c: &Container, version: KubeVersion, r: &mut ContainerReport) {
    r.gate = Some(Gate::Exit);
    if let Some(p) = c.restart_policy.as_deref() {
        r.findings.push(finding(t, Some(c), Severity::Info, "init-restartpolicy-not-always", format!(
            "restartPolicy {p} on an init container (accepted with ContainerRestartRules, 1.35+) only changes how it is retried; only Always makes a sidecar")));
    }
    let daemon = known::family(c).filter(|f| *f != Family::SecretAgent || !c.name.contains("init"));
    if daemon.is_some() || known::runs_forever(c) {
        r.verdict = Some(Verdict::Stuck);
        let what = daemon.map_or("a command that never exits".to_string(), |f| {
            format!("a {}", f.label())
        });
        let fix = if version.sidecars() {
            "add `restartPolicy: Always` to make it a native sidecar"
        } else {
            "upgrade to Kubernetes 1.29+ and make it a native sidecar, or move it to containers"
        };
        r.findings.push(finding(t, Some(c), Severity::Error, "daemon-as-init-container", format!(
            "{} runs {what} as a plain init container: it never exits, so the next container never starts (Pod stuck in Init)", c.name)).with_fix(fix));
    }
}

fn legacy(t: &PodTemplate, c: &Container, r: &mut ContainerReport) {
    let family = r.family.map_or("sidecar", Family::label);
    let first = t.regular.iter().position(|o| o.name == c.name) == Some(0);
    let waits = c
        .post_start
        .as_ref()
        .and_then(|h| h.first())
        .and_then(Handler::command_line)
        .is_some_and(|l| known::is_wait_hook(&l));
    if first && waits {
        r.verdict = Some(Verdict::LegacyGated);
        r.gate = Some(Gate::PostStart);
        r.findings.push(finding(t, Some(c), Severity::Info, "legacy-gate-not-fail-closed", format!(
            "legacy {family} held first by a postStart wait: if the wait fails or times out the kubelet still starts the app"))
            .with_fix("migrate to a native sidecar with a startupProbe (`kubectl sidecar fix --migrate-legacy`)"));
    } else {
        r.verdict = Some(Verdict::Unordered);
        r.findings.push(finding(t, Some(c), Severity::Warning, "legacy-sidecar", format!(
            "{} is a {family} in containers: it starts alongside the app with no ordering, and stops in any order", c.name))
            .with_fix("move it to initContainers with restartPolicy: Always and a startupProbe (`kubectl sidecar fix --migrate-legacy`)"));
    }
    if t.is_job() {
        let quits = t
            .regular
            .iter()
            .any(|o| o.name != c.name && known::quits_sidecar(&o.command_line()))
            || t.containers().any(known::uses_kubexit);
        if quits {
            r.findings.push(finding(t, Some(c), Severity::Warning, "job-legacy-quit", format!(
                "the Job stops its legacy {family} from the app (quitquitquit, await --shutdown or kubexit): when the app fails before that call the Pod never completes"))
                .with_fix("make it a native sidecar: the kubelet stops it when the app exits"));
        } else {
            r.findings.push(finding(t, Some(c), Severity::Error, "job-legacy-sidecar", format!(
                "{} keeps running after the Job's work is done, so the Pod never completes and the Job never finishes", c.name))
                .with_fix("make it a native sidecar (initContainers, restartPolicy: Always): the kubelet stops it when the app exits"));
        }
    }
}

/// A sidecar's preStop during termination.
fn termination(t: &PodTemplate, c: &Container, r: &mut ContainerReport) {
    let Some(hooks) = &c.pre_stop else { return };
    let Some(h) = hooks.first() else { return };
    let line = match h {
        Handler::Exec(cmd) => cmd.join(" "),
        Handler::HttpGet { path, .. } => path.clone(),
        _ => String::new(),
    };
    if known::quits_sidecar(&line) || line.contains("kill ") || line.contains("pkill") {
        r.findings.push(finding(t, Some(c), Severity::Error, "prestop-kills-sidecar", format!(
            "the preStop hook stops the sidecar itself ({}) while the app is still draining: preStop runs at deletion for every container at once", line.trim()))
            .with_fix("remove the preStop: native sidecars are stopped after the app, in reverse order"));
    } else if let Some(secs) = match h {
        Handler::Sleep(s) => Some(*s),
        Handler::Exec(cmd) => sleep_seconds(cmd),
        _ => None,
    } {
        r.findings.push(finding(t, Some(c), Severity::Warning, "legacy-prestop-on-native", format!(
            "the preStop sleeps {secs}s, a legacy trick to outlive the app; a native sidecar already stops after the app, and the sleep spends {secs}s of the {}s grace period", t.grace_seconds))
            .with_fix("remove the preStop sleep"));
    }
}

/// Admission drift: the owner's template makes `c` a sidecar, the live Pod
/// does not (a webhook or old client dropped `restartPolicy`).
fn stripped(t: &PodTemplate, owner: &PodTemplate, c: &Container, r: &mut ContainerReport) -> bool {
    let was_sidecar = owner
        .init
        .iter()
        .any(|o| o.name == c.name && o.is_sidecar());
    if was_sidecar && c.list == List::Init && !c.is_sidecar() {
        r.verdict = Some(Verdict::Stuck);
        r.findings.push(finding(t, Some(c), Severity::Error, "field-stripped-by-admission", format!(
            "{}/{} declares {} with restartPolicy: Always but this Pod has none: something on the way (a mutating webhook or a client built before 1.28) dropped the field, so the sidecar runs as a plain init container and the Pod stays in Init", owner.kind, owner.object.name, c.name))
            .with_fix("upgrade the webhook or client that rewrites Pods; kubectl sidecar analyze on the webhook's output shows the loss"));
        return true;
    }
    false
}

/// Findings about the template as a whole.
fn template_findings(t: &PodTemplate, containers: &mut [ContainerReport], out: &mut Vec<Finding>) {
    let sidecars: Vec<&Container> = t.sidecars().collect();
    // Port clashes: containers share the Pod's network namespace.
    let all: Vec<&Container> = t.containers().collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if !(a.is_sidecar() || b.is_sidecar()) {
                continue;
            }
            for p in &a.ports {
                if b.ports
                    .iter()
                    .any(|q| q.number == p.number && q.protocol == p.protocol)
                {
                    out.push(finding(t, None, Severity::Warning, "port-clash", format!(
                        "{} and {} both declare port {}/{}: they share the Pod's network, so one of them cannot bind it", a.name, b.name, p.number, p.protocol)));
                }
            }
        }
    }
    // Plain init containers that need the network before the mesh proxy.
    if let Some(mesh) = sidecars
        .iter()
        .find(|s| known::family(s) == Some(Family::MeshProxy))
    {
        for c in t
            .init
            .iter()
            .filter(|c| !c.is_sidecar() && c.index < mesh.index && known::family(c).is_none())
        {
            let line = c.command_line();
            let networked = [
                "http://", "https://", "curl", "wget", "git ", "psql", "mysql",
            ]
            .iter()
            .any(|p| line.contains(p));
            if networked && !c.name.contains("istio") && !c.name.contains("linkerd") {
                let f = finding(t, Some(c), Severity::Warning, "init-before-mesh-sidecar", format!(
                    "{} uses the network but starts before the mesh proxy {}: it runs outside the mesh (no mTLS; blocked where the mesh redirects all traffic)", c.name, mesh.name))
                    .with_fix(format!("move {} after {} in initContainers", c.name, mesh.name));
                if let Some(r) = containers.iter_mut().find(|r| r.name == c.name) {
                    r.findings.push(f);
                }
            }
        }
    }
    // Jobs: podFailurePolicy exit-code rules also match sidecars' 137/143.
    if !sidecars.is_empty() {
        for (i, rule) in t.pod_failure_rules.iter().enumerate() {
            if let Some(codes) = rule.get("onExitCodes")
                && codes.get("containerName").is_none()
            {
                out.push(finding(t, None, Severity::Warning, "pfp-missing-containername", format!(
                    "podFailurePolicy rule {i} matches exit codes of every container, sidecars included: a sidecar stopped with 137/143 at the end of the Pod can trigger it"))
                    .with_fix("set onExitCodes.containerName to the app container"));
            }
        }
    }
    // Termination: the app's preStop eats the shared grace period.
    if !sidecars.is_empty() {
        for c in &t.regular {
            let pre = c
                .pre_stop
                .as_ref()
                .and_then(|h| h.first())
                .and_then(|h| match h {
                    Handler::Sleep(s) => Some(*s),
                    Handler::Exec(cmd) => sleep_seconds(cmd),
                    _ => None,
                });
            if let Some(secs) = pre
                && secs + 5 >= t.grace_seconds
            {
                let left = (t.grace_seconds - secs).max(2);
                out.push(finding(t, Some(c), Severity::Warning, "termination-budget", format!(
                    "{}'s preStop takes {secs}s of the {}s grace period; the sidecars, which stop after the app, get about {left}s to flush and exit", c.name, t.grace_seconds))
                    .with_fix(format!("raise terminationGracePeriodSeconds to at least {}", secs + 15)));
            }
        }
    }
    // Injection: the sidecar is added at admission, not in the manifest.
    let a = &t.annotations;
    let injected = a
        .get("sidecar.istio.io/inject")
        .is_some_and(|v| v == "true")
        || a.get("linkerd.io/inject").is_some_and(|v| v == "enabled");
    let has_mesh = t
        .containers()
        .any(|c| known::family(c) == Some(Family::MeshProxy));
    if injected && !has_mesh {
        out.push(finding(t, None, Severity::Info, "injected-sidecar-expected",
            "the mesh proxy is injected at admission and is not in this manifest; analyse a live Pod (`kubectl sidecar analyze pod/NAME`) to see it".into()));
    }
    let native = [
        "config.beta.linkerd.io/proxy-enable-native-sidecar",
        "config.alpha.linkerd.io/proxy-enable-native-sidecar",
    ]
    .iter()
    .any(|k| a.get(*k).is_some_and(|v| v == "true"));
    if native && a.contains_key("config.alpha.linkerd.io/proxy-wait-before-exit-seconds") {
        out.push(finding(t, None, Severity::Warning, "linkerd-native-wait-before-exit",
            "Linkerd refuses proxy-wait-before-exit-seconds together with the native sidecar proxy; the native proxy already outlives the app".into())
            .with_fix("remove config.alpha.linkerd.io/proxy-wait-before-exit-seconds"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_and_timeout_are_read_from_commands() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(sleep_seconds(&v(&["sleep", "15"])), Some(15));
        assert_eq!(sleep_seconds(&v(&["sh", "-c", "sleep 5; echo"])), Some(5));
        assert_eq!(sleep_seconds(&v(&["cat", "/tmp/ready"])), None);
        assert_eq!(
            timeout_seconds("timeout 30 sh -c 'until curl x; do sleep 1; done'"),
            Some(30)
        );
        assert_eq!(timeout_seconds("until curl x; do sleep 1; done"), None);
    }
}
