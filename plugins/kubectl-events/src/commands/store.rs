//! `--store`, `--rules` and time flags shared by the commands.

use std::path::PathBuf;

use anyhow::Context;
use jiff::Timestamp;
use kplug_eventlog::classify::Classifier;
use kplug_eventlog::store::{Access, Store, StoreError};

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Store")]
pub struct StoreArgs {
    /// Where events are kept: sqlite:PATH (default under the user's data
    /// directory) or postgres://…
    #[arg(long, value_name = "URL", env = "KPLUG_EVENTLOG_STORE")]
    pub store: Option<String>,
}

/// The default SQLite file: `$XDG_DATA_HOME/kplug/eventlog.db` or
/// `~/.local/share/kplug/eventlog.db`.
fn default_path() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .context("no HOME or XDG_DATA_HOME to put the store in; pass --store sqlite:PATH")?;
    Ok(base.join("kplug").join("eventlog.db"))
}

impl StoreArgs {
    /// The store's URL (the default SQLite file when none was given).
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(match self.store.as_deref() {
            None => format!("sqlite:{}", default_path()?.display()),
            Some(url) => url.to_string(),
        })
    }

    /// The store, for a command that only reads or one that writes.
    pub async fn open(&self, access: Access) -> anyhow::Result<Store> {
        let url = self.url()?;
        let shown = kplug_eventlog::store::postgres::redact(&url);
        match Store::open(&url, access).await {
            Ok(store) => Ok(store),
            Err(StoreError::Url(message)) => Err(kplug::Error::Usage(message).into()),
            // These name the store themselves.
            Err(
                e @ (StoreError::Missing { .. }
                | StoreError::NotAStore { .. }
                | StoreError::Outdated { .. }),
            ) => Err(e.into()),
            Err(StoreError::Open { message, .. }) => {
                Err(anyhow::anyhow!("opening the store {shown}: {message}"))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("opening the store {shown}"))),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Extra rules (YAML), tried before the built-in ones: classification
    /// `rules: [{reason, type, component, kind, message, category,
    /// severity}]` and incident `incidents: [{name, cause, causeMessage,
    /// effect, link, within}]`; alerts `alerts: [{name, match, for,
    /// minCount, cooldown, groupBy, resolveAfter, labels, annotations,
    /// sinks}]` and `sinks: [{name, alertmanager|webhook|slack|stdout}]`
    /// (read by `collect`)
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

impl RulesArgs {
    /// What `parse` reads from the rules file, or `default` without one;
    /// a mistake in the file is a usage error naming it.
    fn read<T, E: std::fmt::Display>(
        &self,
        default: impl FnOnce() -> T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> anyhow::Result<T> {
        let Some(path) = &self.rules else {
            return Ok(default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        parse(&text)
            .map_err(|e| anyhow::anyhow!(kplug::Error::Usage(format!("{}: {e}", path.display()))))
    }

    /// The incident rules: the file's `incidents:` first, then the built-in ones.
    pub fn incident_rules(&self) -> anyhow::Result<Vec<kplug_eventlog::incidents::Rule>> {
        self.read(
            kplug_eventlog::incidents::builtin_rules,
            kplug_eventlog::incidents::rules_from_yaml,
        )
    }

    pub fn classifier(&self) -> anyhow::Result<Classifier> {
        self.read(Classifier::default, Classifier::with_rules)
    }

    /// The file's `alerts:` and `sinks:` (none without a file).
    pub fn alerts(&self) -> anyhow::Result<kplug_eventlog::alerts::Config> {
        self.read(
            kplug_eventlog::alerts::Config::default,
            kplug_eventlog::alerts::config::from_yaml,
        )
    }
}

/// `3d` (that long ago) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    // A date that parses but is out of range deserves its own sentence.
    if text.len() >= 10 && text.as_bytes()[4] == b'-' && text.contains('T') {
        return Err(format!(
            "\"{text}\" is out of range: times run from {} to {}",
            Timestamp::MIN,
            Timestamp::MAX
        ));
    }
    let d = kplug::cli::parse_duration(text).map_err(|e| {
        if e.contains("out of range") {
            e
        } else {
            format!("\"{text}\" is neither a duration like 3d nor a time like 2026-11-20T10:00:00Z")
        }
    })?;
    let too_long = || {
        format!(
            "\"{text}\" reaches back before the earliest time kplug can hold ({})",
            Timestamp::MIN
        )
    };
    let ago = jiff::SignedDuration::try_from(d).map_err(|_| too_long())?;
    Timestamp::now().checked_sub(ago).map_err(|_| too_long())
}

/// `--limit`: a positive number of rows.
pub fn parse_limit(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err(
            "--limit 0 would show nothing: give at least 1, or leave --limit out for every event"
                .into(),
        ),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("\"{text}\" is not a number of events")),
    }
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Retention")]
pub struct RetentionArgs {
    /// Delete occurrences last seen longer ago than this, e.g. 30d
    #[arg(long, value_name = "DURATION", value_parser = kplug::cli::parse_duration)]
    pub retain: Option<std::time::Duration>,

    /// Delete the oldest occurrences while the store is bigger than this,
    /// e.g. 2GB (on PostgreSQL whole days, never the newest: deleted rows
    /// give no space back there, dropped days do)
    #[arg(long, value_name = "SIZE", value_parser = kplug_eventlog::store::parse_size)]
    pub max_size: Option<u64>,
}

impl RetentionArgs {
    pub fn policy(&self) -> kplug_eventlog::store::Retention {
        kplug_eventlog::store::Retention {
            max_age_ms: self.retain.map(|d| d.as_millis() as i64),
            max_bytes: self.max_size,
        }
    }
}
