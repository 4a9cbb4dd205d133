//! Krew plugin manifests: rendering our templates and checking them against
//! krew's validation rules (krew `internal/index/validation`) and the
//! krew-index review conventions.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kplug::selector::Selector;
use serde::Deserialize;

pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";

/// The os/arch pairs krew knows; every platform must match at least one.
pub const KNOWN_PLATFORMS: &[(&str, &str)] = &[
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugin {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub version: String,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub caveats: Option<String>,
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub bin: String,
    #[serde(default)]
    pub files: Option<Vec<FileOperation>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOperation {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// Everything wrong with one manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{manifest}: {}", problems.join("; "))]
pub struct Invalid {
    pub manifest: String,
    pub problems: Vec<String>,
}

/// Parse a manifest's text.
pub fn parse(text: &str) -> Result<Plugin, String> {
    serde_saphyr::from_str(text).map_err(|e| {
        e.without_snippet()
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .to_string()
    })
}

const WINDOWS_DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `vMAJOR.MINOR.PATCH` with optional `-pre` and `+build`, as krew parses it.
pub fn is_krew_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let number = |p: &&str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    let tail_ok = rest[core.len()..]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'));
    parts.len() == 3 && parts.iter().all(number) && tail_ok
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

fn platform_labels(os: &str, arch: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("os".into(), os.into()), ("arch".into(), arch.into())])
}

/// The known os/arch pairs a platform's selector matches.
fn matched_platforms(selector: &Selector) -> Vec<(&'static str, &'static str)> {
    KNOWN_PLATFORMS
        .iter()
        .copied()
        .filter(|(os, arch)| selector.matches(&platform_labels(os, arch)))
        .collect()
}

/// Check a parsed manifest against krew's rules. `file_stem` is the manifest's
/// file name without `.yaml`, which must equal the plugin name.
pub fn validate(plugin: &Plugin, file_stem: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let name = &plugin.metadata.name;
    if plugin.api_version != API_VERSION {
        problems.push(format!(
            "apiVersion must be {API_VERSION}, not {:?}",
            plugin.api_version
        ));
    }
    if plugin.kind != "Plugin" {
        problems.push(format!("kind must be Plugin, not {:?}", plugin.kind));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        problems.push(format!("plugin name {name:?} must match ^[\\w-]+$"));
    }
    if WINDOWS_DEVICE_NAMES.contains(&name.to_uppercase().as_str()) {
        problems.push(format!("plugin name {name:?} is a Windows device name"));
    }
    if name != file_stem {
        problems.push(format!(
            "plugin name {name:?} does not match the file name {file_stem:?}.yaml"
        ));
    }
    let spec = &plugin.spec;
    if !is_krew_version(&spec.version) {
        problems.push(format!(
            "version {:?} must look like v1.2.3 (a leading v and semver)",
            spec.version
        ));
    }
    let short = &spec.short_description;
    if short.trim().is_empty() {
        problems.push("shortDescription is required".into());
    }
    if short.contains(['\r', '\n']) {
        problems.push("shortDescription must be one line".into());
    }
    if short.chars().count() > 50 {
        problems.push(format!(
            "shortDescription has {} characters; keep it to 50",
            short.chars().count()
        ));
    }
    match spec.description.as_deref().map(str::trim) {
        None | Some("") => problems.push("description is required".into()),
        Some(d) => {
            if let Some(line) = d.lines().find(|l| l.chars().count() > 80) {
                problems.push(format!(
                    "description lines must wrap at 80 columns: {line:?}"
                ));
            }
        }
    }
    if spec.platforms.is_empty() {
        problems.push("spec.platforms must not be empty".into());
    }
    let mut claimed: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, p) in spec.platforms.iter().enumerate() {
        let at = format!("platforms[{i}]");
        if !is_sha256(&p.sha256) {
            problems.push(format!("{at}.sha256 must be 64 lowercase hex characters"));
        }
        if p.uri.is_empty() {
            problems.push(format!("{at}.uri is required"));
        }
        if p.bin.is_empty() {
            problems.push(format!("{at}.bin is required"));
        }
        if let Some(files) = &p.files {
            if files.is_empty() {
                problems.push(format!("{at}.files, when given, must not be empty"));
            }
            for (j, f) in files.iter().enumerate() {
                if f.from.is_empty() || f.to.is_empty() {
                    problems.push(format!("{at}.files[{j}] needs both from and to"));
                }
            }
        }
        let Some(ls) = &p.selector else {
            problems.push(format!("{at}.selector is required"));
            continue;
        };
        let keys = ls
            .match_labels
            .iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .chain(
                ls.match_expressions
                    .iter()
                    .flatten()
                    .map(|e| e.key.as_str()),
            );
        let mut any_key = false;
        for key in keys {
            any_key = true;
            if key != "os" && key != "arch" {
                problems.push(format!(
                    "{at}.selector may only use os and arch, not {key:?}"
                ));
            }
        }
        if !any_key {
            problems.push(format!("{at}.selector must not be empty"));
            continue;
        }
        let selector = match Selector::from_label_selector(Some(ls)) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{at}.selector is invalid: {e}"));
                continue;
            }
        };
        let matched = matched_platforms(&selector);
        if matched.is_empty() {
            problems.push(format!("{at}.selector matches no os/arch krew supports"));
        }
        for pair in matched {
            if let Some(other) = claimed.insert(pair, i) {
                problems.push(format!(
                    "platforms[{other}] and {at} overlap on {}/{}",
                    pair.0, pair.1
                ));
            }
        }
    }
    problems
}

/// Read, parse and validate a manifest file.
pub fn validate_file(path: &Path) -> Result<Plugin, Invalid> {
    let manifest = path.display().to_string();
    let fail = |problems: Vec<String>| Invalid {
        manifest: manifest.clone(),
        problems,
    };
    if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
        return Err(fail(vec![
            "a krew manifest must have the .yaml extension".into(),
        ]));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(vec![e.to_string()]))?;
    let plugin = parse(&text).map_err(|e| fail(vec![e]))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let problems = validate(&plugin, stem);
    if problems.is_empty() {
        Ok(plugin)
    } else {
        Err(fail(problems))
    }
}

/// The executable krew links for a plugin: `image-compat` → `kubectl-image_compat`.
pub fn binary_name(plugin: &str) -> String {
    format!("kubectl-{}", plugin.replace('-', "_"))
}

/// One platform entry to render into a template.
#[derive(Debug, Clone)]
pub struct RenderedPlatform {
    pub os: String,
    pub arch: String,
    pub uri: String,
    pub sha256: String,
    pub bin: String,
}

/// Fill a template: `{{version}}` and `{{platforms}}` (an indented YAML list).
pub fn render(template: &str, version: &str, platforms: &[RenderedPlatform]) -> String {
    let mut block = String::new();
    for p in platforms {
        block.push_str(&format!(
            "  - selector:\n      matchLabels:\n        os: {}\n        arch: {}\n    uri: {}\n    sha256: {}\n    bin: {}\n    files:\n    - from: {}\n      to: .\n    - from: LICENSE\n      to: .\n",
            p.os, p.arch, p.uri, p.sha256, p.bin, p.bin
        ));
    }
    template
        .replace("{{version}}", version)
        .replace("  {{platforms}}\n", &block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(platforms: &str) -> String {
        format!(
            "apiVersion: {API_VERSION}\nkind: Plugin\nmetadata:\n  name: demo\nspec:\n  version: v1.2.3\n  homepage: https://example.com\n  shortDescription: Demo plugin\n  description: |\n    Does demo things.\n  platforms:\n{platforms}"
        )
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn linux_amd64() -> String {
        format!(
            "  - selector:\n      matchLabels: {{os: linux, arch: amd64}}\n    uri: https://x/a.tar.gz\n    sha256: {SHA}\n    bin: kubectl-demo\n"
        )
    }

    fn problems(text: &str) -> Vec<String> {
        validate(&parse(text).unwrap(), "demo")
    }

    #[test]
    fn a_good_manifest_passes() {
        assert_eq!(problems(&manifest(&linux_amd64())), Vec::<String>::new());
    }

    #[test]
    fn each_rule_is_enforced() {
        let good = manifest(&linux_amd64());
        let cases = [
            (good.replace("v1.2.3", "1.2.3"), "version"),
            (good.replace("v1.2.3", "v1.2"), "version"),
            (good.replace(SHA, &SHA.to_uppercase()), "sha256"),
            (good.replace(SHA, "abc"), "sha256"),
            (
                good.replace("Demo plugin", &"x".repeat(51)),
                "keep it to 50",
            ),
            (
                good.replace("arch: amd64", "arch: amd64, distro: debian"),
                "only use os and arch",
            ),
            (
                good.replace("kind: Plugin", "kind: Plugins"),
                "kind must be Plugin",
            ),
            (
                good.replace("name: demo", "name: other"),
                "does not match the file name",
            ),
            (
                good.replace("arch: amd64", "arch: sparc"),
                "matches no os/arch",
            ),
            (
                good.replace("bin: kubectl-demo", "bin: ''"),
                "bin is required",
            ),
            (
                good.replace("Does demo things.", &"word ".repeat(20)),
                "wrap at 80",
            ),
            (
                manifest("").replace("platforms:\n", "platforms: []\n"),
                "platforms must not be empty",
            ),
        ];
        for (text, want) in cases {
            let p = problems(&text);
            assert!(p.iter().any(|m| m.contains(want)), "want {want:?} in {p:?}");
        }
    }

    #[test]
    fn overlapping_platforms_are_rejected() {
        let both = format!(
            "{}  - selector:\n      matchLabels: {{os: linux}}\n    uri: https://x/b.tar.gz\n    sha256: {SHA}\n    bin: kubectl-demo\n",
            linux_amd64()
        );
        let p = problems(&manifest(&both));
        assert!(
            p.iter().any(|m| m.contains("overlap on linux/amd64")),
            "{p:?}"
        );
        let disjoint = format!(
            "{}  - selector:\n      matchExpressions:\n      - {{key: os, operator: In, values: [darwin]}}\n    uri: https://x/c.tar.gz\n    sha256: {SHA}\n    bin: kubectl-demo\n",
            linux_amd64()
        );
        assert_eq!(problems(&manifest(&disjoint)), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let text = manifest(&linux_amd64()).replace("homepage:", "homepag:");
        assert!(parse(&text).is_err());
    }

    #[test]
    fn versions() {
        for ok in ["v0.1.0", "v1.2.3-rc.1", "v10.0.0+build.5"] {
            assert!(is_krew_version(ok), "{ok}");
        }
        for bad in [
            "0.1.0", "v1", "v1.2", "v01.2.3", "v1.2.3.4", "vx.y.z", "v1.2.3 ",
        ] {
            assert!(!is_krew_version(bad), "{bad}");
        }
    }

    #[test]
    fn render_fills_version_and_platforms() {
        let template = format!(
            "apiVersion: {API_VERSION}\nkind: Plugin\nmetadata:\n  name: demo\nspec:\n  version: {{{{version}}}}\n  shortDescription: Demo plugin\n  description: |\n    Demo.\n  platforms:\n  {{{{platforms}}}}\n"
        );
        let out = render(
            &template,
            "v0.1.0",
            &[RenderedPlatform {
                os: "linux".into(),
                arch: "amd64".into(),
                uri: "https://x/demo.tar.gz".into(),
                sha256: SHA.into(),
                bin: "kubectl-demo".into(),
            }],
        );
        let plugin = parse(&out).unwrap();
        assert_eq!(validate(&plugin, "demo"), Vec::<String>::new());
        assert_eq!(plugin.spec.version, "v0.1.0");
        let files = plugin.spec.platforms[0].files.as_ref().unwrap();
        assert_eq!(files[1].from, "LICENSE");
    }
}
