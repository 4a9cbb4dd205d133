//! `kubectl sidecar fix`: startupProbes for sidecars that do not gate, as a
//! patch, a rewritten manifest or kustomize patches.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kplug::cli::KubectlArgs;
use kplug::manifest::Object;
use kplug::output::Escaped;
use kplug_sidecar::analysis;
use kplug_sidecar::fix::{self, Change, TemplateFix};
use kplug_sidecar::template::PodTemplate;

use super::analyze::{KubeVersionArg, load_objects};

/// What `-o` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FixOutput {
    /// Strategic merge patches with the `kubectl patch` command to run
    #[default]
    Patch,
    /// The whole input, every document in order, with the fixes applied
    Manifest,
    /// Patch files plus the `patches:` entries for kustomization.yaml
    Kustomize,
}

/// Give every sidecar that does not gate a startupProbe (derived from its
/// image, readinessProbe, livenessProbe or only port), so the app waits
/// until the sidecar is ready
///
/// Output (-o): patch (default; strategic merge patches and the `kubectl
/// patch` command to run), manifest (the whole input with the fixes, every
/// document in order, comments kept where possible) or kustomize (patch
/// files in --dir plus the `patches:` entries). The side effects of each
/// change are printed with it. Sidecars kplug cannot derive a probe for are
/// listed with the reason (exit 3).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest file, directory (recursive) or - for stdin; repeatable
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        required_unless_present = "targets"
    )]
    pub files: Vec<PathBuf>,

    /// Live objects instead of files: TYPE, TYPE/NAME or all (with -n, -A, -l)
    #[arg(value_name = "TYPE[/NAME]", conflicts_with = "files")]
    pub targets: Vec<String>,

    /// Patch the live objects: a server-side dry run first, then the change
    #[arg(long, requires = "targets")]
    pub apply: bool,

    /// Also turn legacy sidecars (in containers) into native ones
    #[arg(long)]
    pub migrate_legacy: bool,

    /// Total time the startupProbe allows, e.g. 2m (default: from the source
    /// probe, at least 60s, at most 600s)
    #[arg(long, value_name = "DURATION", value_parser = kplug::cli::parse_duration)]
    pub budget: Option<std::time::Duration>,

    /// With -o kustomize: where to write the patch files
    #[arg(long, value_name = "DIR", default_value = "sidecar-fixes")]
    pub dir: PathBuf,

    /// With -o kustomize: overwrite patch files that already exist
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub version: KubeVersionArg,

    /// Output format
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "patch")]
    pub output: FixOutput,
}

pub fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let format = args.output;
    let live = !args.targets.is_empty();
    let (objects, version) = if live {
        let targets = super::live::parse_targets(&args.targets)?;
        let fetched = kplug::cli::runtime()?.block_on(super::live::fetch(kube, &targets))?;
        let objects = fetched
            .objects
            .into_iter()
            .map(|value| Object {
                value,
                source: Default::default(),
            })
            .collect();
        (
            objects,
            args.version
                .kube_version
                .or(fetched.version)
                .unwrap_or_default(),
        )
    } else {
        (load_objects(&args.files)?, args.version.get())
    };
    let budget = match args.budget {
        None => None,
        Some(d) => Some(fix::check_budget(d.as_secs()).map_err(kplug::Error::Usage)?),
    };
    let mut refused = false;
    let templates: Vec<(usize, PodTemplate)> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| match unsafe_name(o) {
            // Names become file names and shell commands: refuse what the API
            // server would never have accepted.
            Some(why) => {
                eprintln!("cannot fix {}: {why}", kplug::output::Escaped(&heading(o)));
                refused = true;
                false
            }
            None => true,
        })
        .filter_map(|(i, o)| PodTemplate::from_object(o).map(|t| (i, t)))
        .collect();
    let only: Vec<PodTemplate> = templates.iter().map(|(_, t)| t.clone()).collect();
    let reports = analysis::analyze_all(&only, &[], version);
    let fixes: Vec<(usize, TemplateFix)> = templates
        .iter()
        .zip(&reports)
        .map(|((i, t), r)| (*i, fix::plan(t, r, args.migrate_legacy, budget)))
        .collect();
    let mut out = std::io::stdout().lock();
    for (_, f) in &fixes {
        for (container, why) in &f.refused {
            eprintln!(
                "cannot fix {}/{} {}: {}",
                f.kind.to_lowercase(),
                Escaped(&f.object.name),
                Escaped(container),
                Escaped(why)
            );
            refused = true;
        }
    }
    if args.apply {
        if fixes.iter().all(|(_, f)| f.is_empty()) && !refused {
            eprintln!(
                "nothing to fix: every sidecar of {} already has a start gate; nothing was changed",
                Escaped(&args.targets.join(", "))
            );
            return Ok(kplug::Code::Success);
        }
        let failed = kplug::cli::runtime()?.block_on(apply(kube, &objects, &fixes, &mut out))?;
        return Ok(if failed || refused {
            kplug::Code::Problems
        } else {
            kplug::Code::Success
        });
    }
    match format {
        FixOutput::Patch => patches(&objects, &fixes, &mut out)?,
        FixOutput::Manifest => manifest(&objects, &fixes, &mut out)?,
        FixOutput::Kustomize => kustomize(&objects, &fixes, &args.dir, args.force, &mut out)?,
    }
    if fixes.iter().all(|(_, f)| f.is_empty()) && !refused {
        eprintln!("nothing to fix: no sidecar lacks a start gate that kplug can derive");
    }
    Ok(if refused {
        kplug::Code::Problems
    } else {
        kplug::Code::Success
    })
}

/// `# proxy: startupProbe from its readinessProbe (budget 150s)` lines.
fn describe(f: &TemplateFix) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &f.fixes {
        let what = match c.change {
            Change::AddStartupProbe => "add a startupProbe",
            Change::Migrate => "move to initContainers (restartPolicy: Always) with a startupProbe",
        };
        lines.push(format!(
            "{}: {what} from {} (up to {}s)",
            c.container,
            c.derived.source.label(),
            c.derived.budget
        ));
        lines.extend(c.derived.warnings.iter().map(|w| format!("  note: {w}")));
    }
    lines.extend(
        f.side_effects()
            .into_iter()
            .map(|s| format!("side effect: {s}")),
    );
    lines
}

/// Why an object's kind, name or namespace is no valid Kubernetes name, if it is not.
fn unsafe_name(o: &Object) -> Option<String> {
    use kplug::selector::{is_namespace_name, is_object_name};
    if !o.kind().chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(format!("kind {:?} is not a Kubernetes kind", o.kind()));
    }
    if !is_object_name(o.name()) {
        return Some(format!(
            "metadata.name {:?} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')",
            o.name()
        ));
    }
    match o.namespace() {
        Some(ns) if !is_namespace_name(ns) => Some(format!(
            "metadata.namespace {ns:?} is not a valid namespace name"
        )),
        _ => None,
    }
}

fn heading(o: &Object) -> String {
    match (o.source.file.is_empty(), o.namespace()) {
        (true, Some(ns)) => format!("{}/{} -n {ns}", o.kind(), o.name()),
        (true, None) => format!("{}/{}", o.kind(), o.name()),
        (false, _) => format!("{}/{} ({})", o.kind(), o.name(), o.source),
    }
}

/// Patch each live object: dry run, then for real. Returns whether any failed.
async fn apply(
    kube: &KubectlArgs,
    objects: &[Object],
    fixes: &[(usize, TemplateFix)],
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    let config = kplug::client::config(kube).await?;
    let server = config.cluster_url.to_string();
    let client = kplug::client::client_from_config(config)?;
    let mut failed = false;
    for (i, f) in fixes.iter().filter(|(_, f)| !f.is_empty()) {
        let o = &objects[*i];
        let kind = kplug::workload::type_of_kind(o.kind()).context("a workload kind")?;
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            o.namespace().unwrap_or("default"),
            &super::live::resource(&kind),
        );
        let patch = Patch::Strategic(f.strategic_patch(&o.value));
        let name = format!("{}/{}", kind.plural, o.name());
        let dry = PatchParams {
            dry_run: true,
            ..Default::default()
        };
        if let Err(e) =
            kplug::client::request(kube, &server, api.patch(o.name(), &dry, &patch)).await
        {
            failed = true;
            eprintln!(
                "{name}: the server refused the change in a dry run, nothing was changed: {e}"
            );
            for s in f.side_effects() {
                eprintln!("  {s}");
            }
            continue;
        }
        kplug::client::request(
            kube,
            &server,
            api.patch(o.name(), &PatchParams::default(), &patch),
        )
        .await
        .with_context(|| format!("patching {name}"))?;
        writeln!(out, "{} patched", Escaped(&name))?;
        for line in describe(f) {
            writeln!(out, "  {}", Escaped(&line))?;
        }
    }
    Ok(failed)
}

fn patches(
    objects: &[Object],
    fixes: &[(usize, TemplateFix)],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for (i, f) in fixes.iter().filter(|(_, f)| !f.is_empty()) {
        writeln!(out, "# {}", Escaped(&heading(&objects[*i])))?;
        for line in describe(f) {
            writeln!(out, "#   {}", Escaped(&line))?;
        }
        writeln!(out, "{}\n", f.kubectl_patch(&objects[*i].value))?;
    }
    Ok(())
}

fn manifest(
    objects: &[Object],
    fixes: &[(usize, TemplateFix)],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for (i, o) in objects.iter().enumerate() {
        let fix = fixes
            .iter()
            .find(|(j, f)| *j == i && !f.is_empty())
            .map(|(_, f)| f);
        writeln!(out, "---")?;
        let text = match fix {
            None => o
                .source
                .text
                .as_deref()
                .map(str::to_string)
                .map_or_else(|| yaml(&o.value), Ok)?,
            Some(f) => rewrite(o, f)?,
        };
        out.write_all(text.trim_start_matches('\n').as_bytes())?;
        if !text.ends_with('\n') {
            writeln!(out)?;
        }
    }
    Ok(())
}

fn yaml(v: &serde_json::Value) -> anyhow::Result<String> {
    Ok(kplug::output::format::to_yaml(v)?)
}

/// The fixed document: the original text with the probes inserted where that
/// reproduces exactly the fixed object, else the fixed object re-serialised.
fn rewrite(o: &Object, f: &TemplateFix) -> anyhow::Result<String> {
    let mut fixed = o.value.clone();
    f.apply(&mut fixed);
    if let Some(text) = &o.source.text
        && f.fixes.iter().all(|c| c.change == Change::AddStartupProbe)
    {
        let mut edited = Some(text.to_string());
        for c in &f.fixes {
            let probe = yaml(&c.derived.probe)?;
            edited = edited.and_then(|t| fix::insert_probe_text(&t, &c.container, &probe));
        }
        if let Some(edited) = edited
            && kplug::manifest::parse_str(&edited, &o.source.file)
                .ok()
                .is_some_and(|objs| objs.len() == 1 && objs[0].value == fixed)
        {
            return Ok(edited);
        }
    }
    yaml(&fixed)
}

/// The patch file of one object: unique per namespace, kind and name (a
/// namespace holds no '.', a kind neither, so the parts cannot run together).
fn patch_file_name(o: &Object) -> String {
    let kind = o.kind().to_lowercase();
    match o.namespace() {
        Some(ns) => format!("{ns}.{kind}.{}.sidecar-startup.yaml", o.name()),
        None => format!("{kind}.{}.sidecar-startup.yaml", o.name()),
    }
}

fn kustomize(
    objects: &[Object],
    fixes: &[(usize, TemplateFix)],
    dir: &std::path::Path,
    force: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let todo: Vec<&(usize, TemplateFix)> = fixes.iter().filter(|(_, f)| !f.is_empty()).collect();
    if todo.is_empty() {
        return Ok(());
    }
    // Every file is checked before any is written: a refusal leaves the directory as it was.
    let mut names = std::collections::BTreeSet::new();
    for (i, _) in &todo {
        let o = &objects[*i];
        let name = patch_file_name(o);
        if !names.insert(name.clone()) {
            anyhow::bail!(kplug::Error::Usage(format!(
                "{} appears twice in the input; kustomize patches one object once",
                heading(o)
            )));
        }
        let path = dir.join(&name);
        if !force && path.symlink_metadata().is_ok() {
            anyhow::bail!(kplug::Error::Usage(format!(
                "{} exists; pass --force to overwrite it",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    writeln!(out, "# add to kustomization.yaml:")?;
    writeln!(out, "patches:")?;
    for (i, f) in todo {
        let o = &objects[*i];
        let path = dir.join(patch_file_name(o));
        let mut patch = f.strategic_patch(&o.value);
        patch["apiVersion"] = o.api_version().into();
        patch["kind"] = o.kind().into();
        patch["metadata"] = serde_json::json!({"name": o.name()});
        if let Some(ns) = o.namespace() {
            patch["metadata"]["namespace"] = ns.into();
        }
        let mut text = describe(f)
            .into_iter()
            .map(|l| format!("# {}\n", Escaped(&l)))
            .collect::<String>();
        text.push_str(&yaml(&patch)?);
        // Replace, never write through a link planted where the file goes.
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "- path: {}", path.display())?;
        writeln!(out, "  target:")?;
        writeln!(out, "    kind: {}", o.kind())?;
        writeln!(out, "    name: {}", o.name())?;
        if let Some(ns) = o.namespace() {
            writeln!(out, "    namespace: {ns}")?;
        }
    }
    Ok(())
}
