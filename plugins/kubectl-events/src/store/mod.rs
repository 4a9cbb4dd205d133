//! Where occurrences are kept. SQLite and PostgreSQL share the schema and
//! the SQL built here, so the same query gives the same answer on both.

pub mod postgres;
pub mod sqlite;

use jiff::Timestamp;
use serde::Serialize;

use crate::classify::{Category, Severity};
use crate::ledger::{Decision, Seen};
use crate::record::Record;

/// Times are stored as Unix milliseconds in both databases.
fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.as_millisecond())
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|m| Timestamp::from_millisecond(m).ok())
}

/// Schema version written by this build; older stores are migrated on open.
pub const SCHEMA_VERSION: i64 = 2;

/// The tables (portable SQL: SQLite and PostgreSQL; `{ID}` is each one's
/// auto-increment key).
pub const SCHEMA_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger (
        key TEXT PRIMARY KEY,
        resource_version TEXT NOT NULL,
        count BIGINT NOT NULL,
        last_ms BIGINT)",
    "CREATE TABLE IF NOT EXISTS occurrences (
        id {ID},
        event_key TEXT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        object_uid TEXT NOT NULL,
        field_path TEXT NOT NULL,
        owner_root TEXT NOT NULL,
        reason TEXT NOT NULL,
        type TEXT NOT NULL,
        message TEXT NOT NULL,
        reporting_controller TEXT NOT NULL,
        node TEXT NOT NULL,
        first_ms BIGINT,
        last_ms BIGINT,
        occurrences BIGINT NOT NULL,
        category TEXT NOT NULL,
        severity TEXT NOT NULL,
        template TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        raw TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS occurrences_last ON occurrences (last_ms)",
    "CREATE INDEX IF NOT EXISTS occurrences_object ON occurrences (namespace, kind, name)",
    "CREATE INDEX IF NOT EXISTS occurrences_root ON occurrences (namespace, owner_root)",
    "CREATE INDEX IF NOT EXISTS occurrences_fingerprint ON occurrences (fingerprint)",
    "CREATE INDEX IF NOT EXISTS occurrences_event ON occurrences (event_key)",
];

/// Version 2: two indexes every insert paid for and no query used (grouping
/// by event or fingerprint scans the filtered rows anyway).
pub const SCHEMA_V2: &[&str] = &[
    "DROP INDEX IF EXISTS occurrences_fingerprint",
    "DROP INDEX IF EXISTS occurrences_event",
];

/// The statements that bring a store from version `found` to the newest.
pub fn migrations(found: i64) -> impl Iterator<Item = &'static str> {
    [(1, SCHEMA_V1), (2, SCHEMA_V2)]
        .into_iter()
        .filter(move |(v, _)| *v > found)
        .flat_map(|(_, stmts)| stmts.iter().copied())
}

/// What `ingest` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestStats {
    /// Events looked at.
    pub events: u64,
    /// Rows written (events with new occurrences).
    pub written: u64,
    /// Occurrences added.
    pub occurrences: u64,
    /// Events that added nothing (already recorded).
    pub duplicates: u64,
}

impl std::ops::AddAssign for IngestStats {
    fn add_assign(&mut self, o: Self) {
        self.events += o.events;
        self.written += o.written;
        self.occurrences += o.occurrences;
        self.duplicates += o.duplicates;
    }
}

/// The ledger columns, in `INSERT INTO ledger` order.
pub const LEDGER_INSERT: &str = "INSERT INTO ledger (key, resource_version, count, last_ms) VALUES ({1}, {2}, {3}, {4})
     ON CONFLICT (key) DO UPDATE SET resource_version = excluded.resource_version, count = excluded.count, last_ms = excluded.last_ms";

/// The occurrence columns, in the order [`Step::row`] gives the values.
pub const OCCURRENCE_INSERT: &str = "INSERT INTO occurrences (event_key, cluster, namespace, kind, name, object_uid, field_path, owner_root, reason, type,
     message, reporting_controller, node, first_ms, last_ms, occurrences, category, severity, template, fingerprint, raw)
     VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}, {16}, {17}, {18}, {19}, {20}, {21})";

/// `{n}` placeholders in the statements above, written for one driver.
pub fn with_placeholders(sql: &str, placeholder: &dyn Fn(usize) -> String) -> String {
    (1..=21).rev().fold(sql.to_string(), |s, n| {
        s.replace(&format!("{{{n}}}"), &placeholder(n))
    })
}

/// The ledger key of a record.
pub fn ledger_key(r: &Record) -> String {
    format!("{}/{}", r.cluster, crate::ledger::key(&r.event))
}

/// What one record does to the store, whichever it is: the new ledger
/// entry, and the occurrence row to insert when it adds occurrences.
pub struct Step {
    pub ledger: [Param; 4],
    pub row: Option<Vec<Param>>,
}

/// Decide `r` against its ledger entry `prev` and count it in `stats`.
pub fn step(r: &Record, key: &str, prev: Option<&Seen>, stats: &mut IngestStats) -> Step {
    let e = &r.event;
    stats.events += 1;
    let next = crate::ledger::seen(prev, e);
    let ledger = [
        Param::Text(key.to_string()),
        Param::Text(next.resource_version),
        Param::Int(next.count as i64),
        Param::OptInt(ms(next.last_observed)),
    ];
    let row = match crate::ledger::decide(prev, e) {
        Decision::Skip => {
            stats.duplicates += 1;
            None
        }
        Decision::Record {
            occurrences,
            from,
            to,
        } => {
            stats.written += 1;
            stats.occurrences += occurrences;
            // Events about cluster-scoped objects live in `default` but
            // belong to no namespace: the regarding object's namespace is kept.
            let text = |s: &str| Param::Text(s.to_string());
            Some(vec![
                text(key),
                text(&r.cluster),
                text(&e.regarding.namespace),
                text(&e.regarding.kind),
                text(&e.regarding.name),
                text(&e.regarding.uid),
                text(&e.regarding.field_path),
                text(&r.owner_root),
                text(&e.reason),
                text(&e.event_type),
                text(&e.note),
                text(&e.reporting_controller),
                text(&r.node),
                Param::OptInt(ms(from)),
                Param::OptInt(ms(to)),
                Param::Int(occurrences as i64),
                text(r.category.as_str()),
                text(r.severity.as_str()),
                text(&r.template),
                text(&r.fingerprint),
                Param::Text(e.raw.to_string()),
            ])
        }
    };
    Step { ledger, row }
}

/// Which occurrences a query or aggregate looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// `KIND/NAME`, including what it owns (by owner root).
    pub for_object: Option<(String, String)>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub reasons: Vec<String>,
    pub event_type: Option<String>,
    pub categories: Vec<Category>,
    /// At least this severe.
    pub severity: Option<Severity>,
    pub node: Option<String>,
    pub cluster: Option<String>,
    /// Substring of the message, case-insensitive.
    pub grep: Option<String>,
    /// Only rows stored after this one (for following new events).
    pub after_id: Option<i64>,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    /// An integer that may be NULL (times not known).
    OptInt(Option<i64>),
}

/// The kinds whose Pods (and ReplicaSets/Jobs) carry their name as owner root.
const OWNING_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

impl Filter {
    /// `WHERE …` (or empty) and its parameters; `placeholder(n)` writes the
    /// n-th (1-based) placeholder: `?` for SQLite, `$n` for PostgreSQL.
    pub fn to_sql(&self, placeholder: &dyn Fn(usize) -> String) -> (String, Vec<Param>) {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let mut bind = |p: Param| {
            params.push(p);
            placeholder(params.len())
        };
        if let Some(ns) = &self.namespace {
            clauses.push(format!("namespace = {}", bind(Param::Text(ns.clone()))));
        }
        if let Some((kind, name)) = &self.for_object {
            let mut c = format!(
                "(kind = {} AND name = {})",
                bind(Param::Text(kind.clone())),
                bind(Param::Text(name.clone()))
            );
            if OWNING_KINDS.contains(&kind.as_str()) {
                c = format!(
                    "({c} OR (owner_root = {} AND kind IN ('Pod', 'ReplicaSet', 'Job')))",
                    bind(Param::Text(name.clone()))
                );
            }
            clauses.push(c);
        }
        if let Some(t) = self.since {
            clauses.push(format!(
                "last_ms >= {}",
                bind(Param::Int(t.as_millisecond()))
            ));
        }
        if let Some(t) = self.until {
            clauses.push(format!(
                "first_ms <= {}",
                bind(Param::Int(t.as_millisecond()))
            ));
        }
        if !self.reasons.is_empty() {
            let list: Vec<String> = self
                .reasons
                .iter()
                .map(|r| bind(Param::Text(r.clone())))
                .collect();
            clauses.push(format!("reason IN ({})", list.join(", ")));
        }
        if let Some(t) = &self.event_type {
            clauses.push(format!("type = {}", bind(Param::Text(t.clone()))));
        }
        if !self.categories.is_empty() {
            let list: Vec<String> = self
                .categories
                .iter()
                .map(|c| bind(Param::Text(c.as_str().into())))
                .collect();
            clauses.push(format!("category IN ({})", list.join(", ")));
        }
        if let Some(min) = self.severity {
            let list: Vec<String> = [
                Severity::Info,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
            ]
            .into_iter()
            .filter(|s| *s >= min)
            .map(|s| bind(Param::Text(s.as_str().into())))
            .collect();
            clauses.push(format!("severity IN ({})", list.join(", ")));
        }
        if let Some(n) = &self.node {
            clauses.push(format!("node = {}", bind(Param::Text(n.clone()))));
        }
        if let Some(c) = &self.cluster {
            clauses.push(format!("cluster = {}", bind(Param::Text(c.clone()))));
        }
        if let Some(g) = &self.grep {
            let escaped = g
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            clauses.push(format!(
                "LOWER(message) LIKE {} ESCAPE '\\'",
                bind(Param::Text(format!("%{escaped}%")))
            ));
        }
        if let Some(id) = self.after_id {
            clauses.push(format!("id > {}", bind(Param::Int(id))));
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, params)
    }
}

/// One Event as a query shows it: its latest state and every occurrence
/// recorded in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub field_path: String,
    pub reason: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub message: String,
    pub reporting_controller: String,
    pub node: String,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub count: i64,
    pub category: String,
    pub severity: String,
    pub fingerprint: String,
}

/// The columns [`EventRow`] is read from, over the latest row `o` of each
/// Event and its group `g`.
pub fn query_sql(where_sql: &str, limit: Option<usize>) -> String {
    format!(
        "SELECT o.cluster, o.namespace, o.kind, o.name, o.field_path, o.reason, o.type, o.message,
                o.reporting_controller, o.node, g.first_ms, g.last_ms, g.total, o.category, o.severity, o.fingerprint
         FROM occurrences o JOIN (
             SELECT event_key, MAX(id) AS id, CAST(SUM(occurrences) AS BIGINT) AS total, MIN(first_ms) AS first_ms, MAX(last_ms) AS last_ms
             FROM occurrences {where_sql} GROUP BY event_key) g ON o.id = g.id
         ORDER BY g.last_ms DESC, o.id DESC{}",
        limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
    )
}

/// A slice of occurrences for aggregation: the group columns asked for,
/// the time span and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub key: Vec<String>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub occurrences: i64,
}

/// The columns `--by` may group on.
pub const GROUP_COLUMNS: &[(&str, &str)] = &[
    ("reason", "reason"),
    ("kind", "kind"),
    ("namespace", "namespace"),
    ("category", "category"),
    ("severity", "severity"),
    ("node", "node"),
    ("fingerprint", "fingerprint"),
    ("type", "type"),
    ("cluster", "cluster"),
    ("name", "name"),
];

pub fn span_sql(columns: &[&str], where_sql: &str) -> String {
    format!(
        "SELECT {}, first_ms, last_ms, occurrences FROM occurrences {where_sql}",
        if columns.is_empty() {
            "''".to_string()
        } else {
            columns.join(", ")
        }
    )
}

/// A store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Open { path: String, message: String },
    #[error(
        "the store was written by a newer kplug (schema {found}, this build knows {known}); upgrade kplug"
    )]
    TooNew { found: i64, known: i64 },
    #[error("store: {0}")]
    Sql(String),
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        // The server's message is in the source; the outer text is generic.
        let detail = e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string());
        StoreError::Sql(detail)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e.to_string())
    }
}

/// Either store, chosen by URL.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// `postgres://…` / `postgresql://…`, else `sqlite:PATH` or a path.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::PostgresStore::open(url)?))
        } else {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            Ok(Store::Sqlite(sqlite::SqliteStore::open(
                std::path::Path::new(path),
            )?))
        }
    }

    /// Where it is, for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(p) => p.shown().to_string(),
        }
    }

    pub fn ingest(&mut self, batch: &[crate::record::Record]) -> Result<IngestStats, StoreError> {
        match self {
            Store::Sqlite(s) => s.ingest(batch),
            Store::Postgres(p) => p.ingest(batch),
        }
    }

    pub fn query(
        &mut self,
        filter: &Filter,
        limit: Option<usize>,
    ) -> Result<Vec<EventRow>, StoreError> {
        match self {
            Store::Sqlite(s) => s.query(filter, limit),
            Store::Postgres(p) => p.query(filter, limit),
        }
    }

    /// The newest row's id (0 when empty).
    pub fn last_id(&mut self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.last_id(),
            Store::Postgres(p) => p.last_id(),
        }
    }

    pub fn used_bytes(&mut self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.used_bytes(),
            Store::Postgres(p) => p.used_bytes(),
        }
    }

    pub fn prune_chunk(&mut self, cutoff_ms: Option<i64>, chunk: usize) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.prune_chunk(cutoff_ms, chunk),
            Store::Postgres(p) => p.prune_chunk(cutoff_ms, chunk),
        }
    }

    /// One step of retention: at most `chunk` rows, so a caller that also
    /// writes is never held up long. Returns rows deleted (0: done).
    pub fn prune_step(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        chunk: usize,
    ) -> Result<u64, StoreError> {
        if let Some(age) = policy.max_age_ms {
            let n = self.prune_chunk(Some(now_ms - age), chunk)?;
            if n > 0 {
                return Ok(n);
            }
        }
        if let Some(max) = policy.max_bytes
            && self.used_bytes()? > max
        {
            return self.prune_chunk(None, chunk);
        }
        Ok(0)
    }

    pub fn spans(&mut self, columns: &[&str], filter: &Filter) -> Result<Vec<Span>, StoreError> {
        match self {
            Store::Sqlite(s) => s.spans(columns, filter),
            Store::Postgres(p) => p.spans(columns, filter),
        }
    }
}

/// `--retain` and `--max-size`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: Option<i64>,
    pub max_bytes: Option<u64>,
}

impl Retention {
    pub fn is_empty(&self) -> bool {
        self.max_age_ms.is_none() && self.max_bytes.is_none()
    }
}

/// `2GB`, `500MiB`, `1.5G`, `1000000` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size like 2GB or 500MiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "\"{text}\" has an unknown unit; use B, KB, MB, GB, TB, KiB, MiB or GiB"
            ));
        }
    };
    Ok((n * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("500MiB"), Ok(500 * 1024 * 1024));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("2 parsecs").is_err());
    }

    #[test]
    fn filters_bind_every_value() {
        let f = Filter {
            namespace: Some("shop".into()),
            for_object: Some(("Deployment".into(), "web".into())),
            grep: Some("50%_off".into()),
            severity: Some(Severity::High),
            ..Default::default()
        };
        let (sql, params) = f.to_sql(&|n| format!("${n}"));
        assert_eq!(
            sql,
            "WHERE namespace = $1 AND ((kind = $2 AND name = $3) OR (owner_root = $4 AND kind IN ('Pod', 'ReplicaSet', 'Job'))) AND severity IN ($5, $6) AND LOWER(message) LIKE $7 ESCAPE '\\'"
        );
        assert_eq!(params[6], Param::Text("%50\\%\\_off%".into()));
    }
}
