//! The kubectl flags every plugin accepts, as one clap struct to flatten, and
//! the plugin-aware parser that makes usage text read `kubectl <name> …`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, ValueEnum};

/// `-o` of a command that prints objects (or rows named like them): the
/// table by default. Each command declares its own `-o` with this enum or a
/// narrower one, so `--help` lists exactly what it prints and clap refuses
/// the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The table with extra columns
    Wide,
    /// JSON (a v1 List for lists)
    Json,
    /// YAML (a v1 List for lists)
    Yaml,
    /// `kind.group/name`, one per line
    Name,
}

/// `-o` of a command whose rows are not objects (findings, groups): the
/// table by default, `name` means nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// The table with extra columns
    Wide,
    /// JSON
    Json,
    /// YAML
    Yaml,
}

/// `-o` of a command that prints one report: the human form by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// JSON
    Json,
    /// YAML
    Yaml,
}

impl From<TableFormat> for OutputFormat {
    fn from(f: TableFormat) -> Self {
        match f {
            TableFormat::Wide => OutputFormat::Wide,
            TableFormat::Json => OutputFormat::Json,
            TableFormat::Yaml => OutputFormat::Yaml,
        }
    }
}

impl From<ReportFormat> for OutputFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Json => OutputFormat::Json,
            ReportFormat::Yaml => OutputFormat::Yaml,
        }
    }
}

/// When to colour stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal, and never with NO_COLOR or TERM=dumb.
    #[default]
    Auto,
    Always,
    Never,
}

/// The flags kubectl users expect, global so they work before or after a subcommand.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Kubernetes flags")]
pub struct KubectlArgs {
    /// Path to the kubeconfig file (only this file is read; default: $KUBECONFIG or ~/.kube/config)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace scope of this request
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Act on every namespace (overrides --namespace)
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,

    /// Label selector, e.g. -l 'app=web,tier in (front,back),!canary'
    #[arg(short = 'l', long, global = true, value_name = "SELECTOR", value_parser = parse_selector)]
    pub selector: Option<String>,

    /// Don't print table headers
    #[arg(long, global = true)]
    pub no_headers: bool,

    /// Colour the output: auto (only on a terminal), always or never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// How long to wait for one API request before giving up, e.g. 30s, 1m, 5 (seconds); 0 waits forever
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_request_timeout)]
    pub request_timeout: Option<RequestTimeout>,

    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
}

/// `--request-timeout`: `None` inside means "wait forever" (kubectl's `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

impl KubectlArgs {
    /// The per-request timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.request_timeout.and_then(|t| t.0)
    }

    /// Whether the table should have a NAMESPACE column.
    pub fn namespace_column(&self) -> bool {
        self.all_namespaces
    }
}

/// The longest duration accepted anywhere: Go's `time.Duration` (what kubectl
/// parses into) ends at 2^63 - 1 nanoseconds.
pub const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parse a kubectl duration: a bare integer is seconds, otherwise a sequence of
/// `<number><unit>` with units h, m, s, ms (Go's `time.ParseDuration` subset kubectl users write).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "invalid duration \"{text}\": use a number of seconds or a value like 30s, 1m, 1h30m, 3d"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let too_long = || {
        format!(
            "duration \"{text}\" is out of range: the longest accepted is {}h (about 292 years, Go's limit)",
            MAX_DURATION.as_secs() / 3600
        )
    };
    if let Ok(secs) = text.parse::<u64>() {
        let d = Duration::from_secs(secs);
        return if d > MAX_DURATION {
            Err(too_long())
        } else {
            Ok(d)
        };
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "w" => 604_800.0,
            "d" => 86_400.0,
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return Err(invalid()),
        };
        let part = Duration::try_from_secs_f64(number * scale).map_err(|_| too_long())?;
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

fn parse_request_timeout(text: &str) -> Result<RequestTimeout, String> {
    let d = parse_duration(text)?;
    Ok(RequestTimeout((!d.is_zero()).then_some(d)))
}

fn parse_selector(text: &str) -> Result<String, String> {
    crate::selector::Selector::parse(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// The name to show in usage text: `kubectl compat` when the binary is
/// `kubectl-compat` (krew and kubectl dispatch map `-` in names to `_`).
pub fn display_name(argv0: &Path) -> Option<String> {
    let file = argv0.file_name()?.to_str()?;
    let file = file.strip_suffix(".exe").unwrap_or(file);
    let plugin = file.strip_prefix("kubectl-")?;
    if plugin.is_empty() {
        return None;
    }
    Some(format!("kubectl {}", plugin.replace('_', "-")))
}

/// Parse `T` from these arguments, with usage text naming the command as the
/// user typed it. Exits with code 2 on a usage error and 0 on `--help`/`--version`.
pub fn parse_from<T, I, A>(args: I) -> T
where
    T: Parser,
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = T::command();
    if let Some(name) = args.first().and_then(|a| display_name(Path::new(a))) {
        cmd = cmd.bin_name(name.clone()).display_name(name);
    }
    let matches = cmd.get_matches_from(args);
    T::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// [`parse_from`] over the process arguments.
pub fn parse<T: Parser>() -> T {
    parse_from(std::env::args_os())
}

/// Write a shell completion script for this command to `out`.
pub fn write_completions<T: CommandFactory>(
    shell: clap_complete::Shell,
    bin_name: &str,
    out: &mut dyn std::io::Write,
) {
    let mut cmd = T::command();
    clap_complete::generate(shell, &mut cmd, bin_name, out);
}

/// The whole `main` of a plugin: the TLS provider, the flags, and `run`'s
/// result as the exit code (errors printed as one sentence).
pub fn plugin_main<T: Parser>(
    run: impl FnOnce(T) -> anyhow::Result<crate::Code>,
) -> std::process::ExitCode {
    // Started as `kubectl_complete-<plugin>` (a link) or with `__complete`
    // first (the script in release archives): answer kubectl's completion request.
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let mut words: Vec<String> = args.collect();
    let linked = crate::complete::completion_name(Path::new(&argv0)).is_some();
    if linked || words.first().is_some_and(|w| w == crate::complete::REQUEST) {
        if !linked {
            words.remove(0);
        }
        let result = crate::complete::print(&T::command(), &words, &mut std::io::stdout().lock());
        return crate::exit::finish(result.map(|()| crate::Code::Success).map_err(Into::into));
    }
    crate::init_tls();
    crate::exit::finish(run(parse()))
}

/// The `completion SHELL` subcommand every plugin has: the script on stdout.
pub fn completion<T: CommandFactory>(
    shell: clap_complete::Shell,
    bin_name: &str,
) -> anyhow::Result<crate::Code> {
    write_completions::<T>(shell, bin_name, &mut std::io::stdout());
    Ok(crate::Code::Success)
}

/// The single-threaded runtime a command's few API calls run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(name = "kplug-test")]
    struct Cli {
        #[command(flatten)]
        kube: KubectlArgs,
        #[command(subcommand)]
        cmd: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Check {
            #[arg(short = 'o', long)]
            output: Option<OutputFormat>,
        },
    }

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-x").chain(args.iter().copied()))
    }

    #[test]
    fn every_kubectl_flag_parses() {
        let c = cli(&[
            "--kubeconfig",
            "/tmp/kc",
            "--context",
            "prod",
            "--cluster",
            "c1",
            "--user",
            "u1",
            "-n",
            "web",
            "-A",
            "-l",
            "app=web",
            "--request-timeout",
            "1m30s",
            "--as",
            "alice",
            "--as-group",
            "dev",
            "--as-group",
            "ops",
            "--no-headers",
            "--color=never",
        ])
        .unwrap();
        let k = c.kube;
        assert_eq!(k.kubeconfig.as_deref(), Some(Path::new("/tmp/kc")));
        assert_eq!(k.context.as_deref(), Some("prod"));
        assert_eq!(k.cluster.as_deref(), Some("c1"));
        assert_eq!(k.user.as_deref(), Some("u1"));
        assert_eq!(k.namespace.as_deref(), Some("web"));
        assert!(k.all_namespaces && k.no_headers);
        assert_eq!(k.selector.as_deref(), Some("app=web"));
        assert_eq!(k.timeout(), Some(Duration::from_secs(90)));
        assert_eq!(k.as_user.as_deref(), Some("alice"));
        assert_eq!(k.as_group, vec!["dev", "ops"]);
        assert_eq!(k.color, ColorChoice::Never);
    }

    #[test]
    fn flags_are_global_after_a_subcommand() {
        let c = cli(&["check", "-n", "kube-system", "-o", "json"]).unwrap();
        assert!(matches!(
            c.cmd,
            Some(Sub::Check {
                output: Some(OutputFormat::Json)
            })
        ));
        assert_eq!(c.kube.namespace.as_deref(), Some("kube-system"));
    }

    #[test]
    fn defaults() {
        let k = cli(&[]).unwrap().kube;
        assert_eq!(k.color, ColorChoice::Auto);
        assert_eq!(k.timeout(), None);
        assert!(!k.all_namespaces);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["check", "-o", "xml"][..],
            &["-o", "json", "check"],
            &["--color", "sometimes"],
            &["--request-timeout", "soon"],
            &["-l", "app in (a"],
            &["--bogus"],
        ] {
            let err = cli(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        // The command's own formats are listed when one is refused.
        let err = cli(&["check", "-o", "xml"]).unwrap_err().to_string();
        assert!(err.contains("wide, json, yaml, name"), "{err}");
        let err = cli(&["--selector=-bad-key=x"]).unwrap_err().to_string();
        assert!(
            err.contains("name part must consist of alphanumeric"),
            "{err}"
        );
    }

    #[test]
    fn request_timeout_zero_means_none() {
        assert_eq!(
            cli(&["--request-timeout", "0"]).unwrap().kube.timeout(),
            None
        );
        assert_eq!(
            cli(&["--request-timeout", "5"]).unwrap().kube.timeout(),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h2m3s"), Ok(Duration::from_secs(3723)));
        // Hostile values are range errors, never a panic or a wrap-around.
        for huge in [
            "99999999999999999999s",
            "9223372036854775807s",
            "18446744073709551615",
            "1e400s",
            "2562048h",
            "106752d106752d",
            "9999999999999999999w",
        ] {
            let err = parse_duration(huge).unwrap_err();
            assert!(
                err.contains("out of range") || err.contains("invalid duration"),
                "{huge}: {err}"
            );
        }
        assert!(
            parse_duration("99999999999999999999s")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(
            parse_duration("2540400h"),
            Ok(Duration::from_secs(2540400 * 3600))
        );
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "5x", "-1s", "1h 2m", "m5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_name_from_argv0() {
        let f = |s: &str| display_name(Path::new(s));
        assert_eq!(
            f("/usr/local/bin/kubectl-compat").as_deref(),
            Some("kubectl compat")
        );
        assert_eq!(
            f("kubectl-image_compat").as_deref(),
            Some("kubectl image-compat")
        );
        assert_eq!(
            f("kubectl-eventlog.exe").as_deref(),
            Some("kubectl eventlog")
        );
        assert_eq!(f("kplug-selftest"), None);
        assert_eq!(f("kubectl-"), None);
    }

    #[test]
    fn usage_reads_kubectl_name() {
        let mut cmd = Cli::command()
            .bin_name("kubectl sidecar")
            .display_name("kubectl sidecar");
        let help = cmd.render_help().to_string();
        assert!(help.contains("Usage: kubectl sidecar"), "{help}");
        assert!(help.contains("Kubernetes flags"), "{help}");
    }
}
