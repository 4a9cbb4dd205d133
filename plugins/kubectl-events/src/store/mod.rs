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
pub const SCHEMA_VERSION: i64 = 3;

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

/// Version 3: the ledger is keyed by its key alone (`{WITHOUT_ROWID}` is
/// SQLite's `WITHOUT ROWID`: one B-tree instead of a table and an index),
/// and `--for` looks rows up by owner root: one index serves every kind.
pub const SCHEMA_V3: &[&str] = &[
    "CREATE TABLE ledger_v3 (
        key TEXT PRIMARY KEY,
        resource_version TEXT NOT NULL,
        count BIGINT NOT NULL,
        last_ms BIGINT){WITHOUT_ROWID}",
    "INSERT INTO ledger_v3 (key, resource_version, count, last_ms) SELECT key, resource_version, count, last_ms FROM ledger",
    "DROP TABLE ledger",
    "ALTER TABLE ledger_v3 RENAME TO ledger",
    "DROP INDEX IF EXISTS occurrences_object",
    "DROP INDEX IF EXISTS occurrences_root",
    "CREATE INDEX IF NOT EXISTS occurrences_owner ON occurrences (owner_root, namespace, last_ms)",
    // What the collector learnt of the objects events are about, for `-l`.
    "CREATE TABLE IF NOT EXISTS objects (
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        labels TEXT NOT NULL,
        owner TEXT NOT NULL,
        seen_ms BIGINT NOT NULL,
        PRIMARY KEY (cluster, namespace, kind, name))",
    // Occurrences per hour (in millionths: a row's occurrences are spread
    // over the hours of its span) by the low-cardinality columns, kept up
    // to date at ingest so aggregates over days read hours, not rows.
    "CREATE TABLE IF NOT EXISTS hourly (
        hour_ms BIGINT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        severity TEXT NOT NULL,
        node TEXT NOT NULL,
        micro BIGINT NOT NULL,
        PRIMARY KEY (hour_ms, cluster, namespace, kind, reason, type, category, severity, node))",
];

/// The columns the hourly rollup is kept by (and may be grouped by).
pub const HOURLY_KEY: &[&str] = &[
    "cluster",
    "namespace",
    "kind",
    "reason",
    "type",
    "category",
    "severity",
    "node",
];

pub const HOURLY_COLUMNS: &str =
    "hour_ms, cluster, namespace, kind, reason, type, category, severity, node, micro";

/// More of the same hour adds to it.
pub const HOURLY_UPSERT: &str = "ON CONFLICT (hour_ms, cluster, namespace, kind, reason, type, category, severity, node) DO UPDATE SET micro = hourly.micro + excluded.micro";

/// The occurrence columns the rollup is computed from, for rebuilding it.
pub const HOURLY_SOURCE: &str = "SELECT cluster, namespace, kind, reason, type, category, severity, node, first_ms, last_ms, occurrences FROM occurrences";

/// Adds occurrences to hours, by the [`HOURLY_KEY`] columns. A row of an
/// import may span days, so it adds to many hours: each key is stored once
/// and hours are counted by its number.
#[derive(Debug, Default)]
pub struct Hourly {
    ids: std::collections::HashMap<String, usize>,
    keys: Vec<[String; 8]>,
    micro: std::collections::HashMap<(i64, usize), i64>,
}

impl Hourly {
    pub fn add(&mut self, key: [&str; 8], first: Option<i64>, last: Option<i64>, occurrences: i64) {
        let joined = key.join("\u{1f}");
        let id = match self.ids.get(&joined) {
            Some(id) => *id,
            None => {
                self.keys.push(key.map(str::to_string));
                self.ids.insert(joined, self.keys.len() - 1);
                self.keys.len() - 1
            }
        };
        for (hour, micro) in crate::aggregate::hourly_shares(first, last, occurrences) {
            *self.micro.entry((hour, id)).or_default() += micro;
        }
    }

    /// Rows for [`HOURLY_COLUMNS`], each key once, in primary key order.
    pub fn rows(&self) -> Vec<Vec<Param>> {
        let mut cells: Vec<_> = self.micro.iter().collect();
        cells.sort_by(|((h1, k1), _), ((h2, k2), _)| {
            h1.cmp(h2).then_with(|| self.keys[*k1].cmp(&self.keys[*k2]))
        });
        cells
            .into_iter()
            .map(|((hour, id), micro)| {
                let mut row = vec![Param::Int(*hour)];
                row.extend(self.keys[*id].iter().map(|k| Param::Text(k.clone())));
                row.push(Param::Int(*micro));
                row
            })
            .collect()
    }
}

/// The statements that bring a store from version `found` to the newest.
pub fn migrations(found: i64) -> impl Iterator<Item = &'static str> {
    [(1, SCHEMA_V1), (2, SCHEMA_V2), (3, SCHEMA_V3)]
        .into_iter()
        .filter(move |(v, _)| *v > found)
        .flat_map(|(_, stmts)| stmts.iter().copied())
}

/// What one step of retention deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Stored rows deleted.
    pub rows: u64,
    /// Occurrences they stood for.
    pub occurrences: u64,
    /// The Events they belonged to.
    pub events: std::collections::BTreeSet<String>,
}

impl Pruned {
    fn add(&mut self, event_key: String, occurrences: i64) {
        self.rows += 1;
        self.occurrences = self
            .occurrences
            .saturating_add(u64::try_from(occurrences).unwrap_or(0));
        self.events.insert(event_key);
    }

    /// `7 occurrences of 2 Events (2 stored rows)`: each count says what it counts.
    pub fn counts(&self) -> String {
        format!(
            "{} occurrences of {} Events ({} stored rows)",
            self.occurrences,
            self.events.len(),
            self.rows
        )
    }

    pub fn absorb(&mut self, other: Pruned) {
        self.rows += other.rows;
        self.occurrences = self.occurrences.saturating_add(other.occurrences);
        self.events.extend(other.events);
    }
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

/// The ledger's columns, in the order [`Plan::ledger`] gives the values.
pub const LEDGER_COLUMNS: &str = "key, resource_version, count, last_ms";

/// Writing a ledger entry replaces the one before.
pub const LEDGER_UPSERT: &str = "ON CONFLICT (key) DO UPDATE SET resource_version = excluded.resource_version, count = excluded.count, last_ms = excluded.last_ms";

/// The occurrence columns, in the order [`Plan::rows`] gives the values.
pub const OCCURRENCE_COLUMNS: &str = "event_key, cluster, namespace, kind, name, object_uid, field_path, owner_root, reason, type, \
     message, reporting_controller, node, first_ms, last_ms, occurrences, category, severity, template, fingerprint, raw";

/// `INSERT INTO table (columns) VALUES (…), (…) tail` for `rows` rows,
/// with `placeholder(n)` for the n-th value.
pub fn insert_sql(
    table: &str,
    columns: &str,
    tail: &str,
    rows: usize,
    placeholder: &dyn Fn(usize) -> String,
) -> String {
    let width = columns.split(',').count();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| placeholder(r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {table} ({columns}) VALUES {} {tail}",
        values.join(", ")
    )
}

/// The ledger key of a record.
pub fn ledger_key(r: &Record) -> String {
    format!("{}/{}", r.cluster, crate::ledger::key(&r.event))
}

/// What a batch does to the store, whichever it is: the ledger entries to
/// write (one per Event, its state after the batch) and the occurrence rows
/// to insert, in order.
#[derive(Debug, Default)]
pub struct Plan {
    pub ledger: Vec<[Param; 4]>,
    pub rows: Vec<Vec<Param>>,
    /// What the rows add to the hourly rollup.
    pub hourly: Vec<Vec<Param>>,
}

/// The distinct ledger keys of `batch`, in first-seen order.
pub fn batch_keys(batch: &[Record]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    batch
        .iter()
        .map(ledger_key)
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// Decide every record of `batch` against the ledger entries `found` (the
/// stored ones for [`batch_keys`]), in order — an Event may come several
/// times in one batch — and count the outcome in `stats`.
pub fn plan(
    batch: &[Record],
    mut found: std::collections::HashMap<String, Seen>,
    stats: &mut IngestStats,
) -> Plan {
    let before = found.clone();
    let mut plan = Plan::default();
    let mut order = Vec::new();
    let mut listed = std::collections::HashSet::new();
    let mut hourly = Hourly::default();
    for r in batch {
        let key = ledger_key(r);
        let prev = found.get(&key);
        if let Some(row) = occurrence_row(r, &key, prev, stats) {
            let (first, last, occurrences) = match (&row[13], &row[14], &row[15]) {
                (Param::OptInt(f), Param::OptInt(l), Param::Int(n)) => (*f, *l, *n),
                _ => unreachable!("occurrence_row writes times and a count there"),
            };
            let e = &r.event;
            hourly.add(
                [
                    &r.cluster,
                    &e.regarding.namespace,
                    &e.regarding.kind,
                    &e.reason,
                    &e.event_type,
                    r.category.as_str(),
                    r.severity.as_str(),
                    &r.node,
                ],
                first,
                last,
                occurrences,
            );
            plan.rows.push(row);
        }
        let next = crate::ledger::seen(prev, &r.event);
        found.insert(key.clone(), next);
        // Each key once: a statement may not upsert the same row twice.
        if listed.insert(key.clone()) {
            order.push(key);
        }
    }
    // In key order: neighbouring keys share B-tree pages.
    order.sort_unstable();
    plan.hourly = hourly.rows();
    for key in order {
        let next = &found[&key];
        // A relist repeats what the ledger holds: nothing to write.
        if before.get(&key) == Some(next) {
            continue;
        }
        plan.ledger.push([
            Param::Text(key.clone()),
            Param::Text(next.resource_version.clone()),
            Param::Int(i64::try_from(next.count).unwrap_or(i64::MAX)),
            Param::OptInt(ms(next.last_observed)),
        ]);
    }
    plan
}

/// The occurrence row `r` adds after its ledger entry `prev`, if any.
fn occurrence_row(
    r: &Record,
    key: &str,
    prev: Option<&Seen>,
    stats: &mut IngestStats,
) -> Option<Vec<Param>> {
    let e = &r.event;
    stats.events += 1;
    match crate::ledger::decide(prev, e) {
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
                // The whole object once per Event: a later row repeats it
                // but for what the other columns already hold.
                Param::Text(if prev.is_none() {
                    r.raw.clone()
                } else {
                    String::new()
                }),
            ])
        }
    }
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
    /// Only events about these objects (`-l`, resolved through the
    /// objects table); empty matches nothing.
    pub objects: Option<Vec<ObjectKey>>,
}

/// An object by namespace, kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

/// What is known of an object events are about: its labels and its
/// controller, as the collector last read them.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub cluster: String,
    pub key: ObjectKey,
    pub uid: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `Kind/name` of the controlling owner, or empty.
    pub owner: String,
    pub seen_ms: i64,
}

pub const OBJECT_COLUMNS: &str = "cluster, namespace, kind, name, uid, labels, owner, seen_ms";

/// An object read again replaces what was known.
pub const OBJECT_UPSERT: &str = "ON CONFLICT (cluster, namespace, kind, name) DO UPDATE SET uid = excluded.uid, labels = excluded.labels, owner = excluded.owner, seen_ms = excluded.seen_ms";

/// The rows to upsert for `objects`: each object once (the last wins), in
/// key order.
pub fn object_rows(objects: &[ObjectInfo]) -> Vec<Vec<Param>> {
    let mut last = std::collections::BTreeMap::new();
    for o in objects {
        last.insert((o.cluster.clone(), o.key.clone()), o);
    }
    last.into_values()
        .map(|o| {
            vec![
                Param::Text(o.cluster.clone()),
                Param::Text(o.key.namespace.clone()),
                Param::Text(o.key.kind.clone()),
                Param::Text(o.key.name.clone()),
                Param::Text(o.uid.clone()),
                Param::Text(serde_json::to_string(&o.labels).unwrap_or_default()),
                Param::Text(o.owner.clone()),
                Param::Int(o.seen_ms),
            ]
        })
        .collect()
}

/// `SELECT` of the known objects, optionally of one namespace (`{1}`).
pub fn objects_sql(namespace: bool, placeholder: &dyn Fn(usize) -> String) -> String {
    format!(
        "SELECT cluster, namespace, kind, name, uid, labels, owner, seen_ms FROM objects{} ORDER BY cluster, namespace, kind, name",
        if namespace {
            format!(" WHERE namespace = {}", placeholder(1))
        } else {
            String::new()
        }
    )
}

/// An objects row read back.
#[allow(clippy::too_many_arguments)]
pub fn object_info(
    cluster: String,
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    labels: &str,
    owner: String,
    seen_ms: i64,
) -> ObjectInfo {
    ObjectInfo {
        cluster,
        key: ObjectKey {
            namespace,
            kind,
            name,
        },
        uid,
        labels: serde_json::from_str(labels).unwrap_or_default(),
        owner,
        seen_ms,
    }
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
            // Every row of the object and of what it owns shares its owner
            // root, which leads the index; what it owns is named after it.
            let root = crate::template::owner_root(kind, name);
            let mut c = format!(
                "owner_root = {} AND ((kind = {} AND name = {})",
                bind(Param::Text(root)),
                bind(Param::Text(kind.clone())),
                bind(Param::Text(name.clone()))
            );
            if OWNING_KINDS.contains(&kind.as_str()) {
                c += &format!(
                    " OR (kind IN ('Pod', 'ReplicaSet', 'Job') AND name LIKE {} ESCAPE '\\')",
                    bind(Param::Text(format!("{}-%", like_escape(name))))
                );
            }
            clauses.push(format!("({c}))"));
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
            clauses.push(format!(
                "LOWER(message) LIKE {} ESCAPE '\\'",
                bind(Param::Text(format!("%{}%", like_escape(&g.to_lowercase()))))
            ));
        }
        if let Some(objects) = &self.objects {
            if objects.is_empty() {
                clauses.push("1 = 0".into());
            } else {
                let list: Vec<String> = objects
                    .iter()
                    .map(|o| {
                        format!(
                            "({}, {}, {})",
                            bind(Param::Text(o.namespace.clone())),
                            bind(Param::Text(o.kind.clone())),
                            bind(Param::Text(o.name.clone()))
                        )
                    })
                    .collect();
                clauses.push(format!("(namespace, kind, name) IN ({})", list.join(", ")));
            }
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

/// `text` matched literally inside a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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

/// The time buckets an aggregate counts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub start_ms: i64,
    pub end_ms: i64,
    pub window_ms: i64,
}

/// Spans to aggregate. Rows whose whole span lies in one bucket — nearly
/// all of them — are summed by the database per group and bucket (as one
/// span at the bucket's first such time); only rows spanning buckets come
/// back one by one to be spread. `where_sql`'s numbered placeholders are
/// used twice.
pub fn span_sql(columns: &[&str], where_sql: &str, b: Buckets) -> String {
    let cols = if columns.is_empty() {
        "''".to_string()
    } else {
        columns.join(", ")
    };
    let Buckets {
        start_ms: s,
        end_ms: e,
        window_ms: w,
    } = b;
    let w = w.max(1);
    let first = "COALESCE(first_ms, last_ms)";
    let one = format!(
        "last_ms IS NOT NULL AND {first} >= {s} AND last_ms < {e} AND ({first} - {s}) / {w} = (last_ms - {s}) / {w}"
    );
    let and = if where_sql.is_empty() { "WHERE" } else { "AND" };
    let group = if columns.is_empty() {
        String::new()
    } else {
        format!("{cols}, ")
    };
    format!(
        "SELECT {cols}, first_ms, last_ms, occurrences FROM occurrences {where_sql} {and} NOT ({one})
         UNION ALL
         SELECT {cols}, MIN(last_ms), MIN(last_ms), CAST(SUM(occurrences) AS BIGINT) FROM occurrences {where_sql} {and} {one}
         GROUP BY {group}(last_ms - {s}) / {w}"
    )
}

impl Buckets {
    /// The buckets of `window_ms` covering `since_ms..until_ms`. Windows of
    /// whole hours are aligned to the hour (the last bucket ends at the
    /// next full hour), which lets aggregates read the hourly rollup.
    pub fn covering(since_ms: i64, until_ms: i64, window_ms: i64) -> Buckets {
        let window_ms = window_ms.max(1);
        // `--since 7d` is read a moment before `until`: round the span to
        // whole seconds so 7d in 1d windows is 7 buckets, not 8.
        let span_ms = (until_ms - since_ms + 500) / 1000 * 1000;
        if window_ms % crate::aggregate::HOUR == 0 {
            // As many buckets, moved forward to end on the next full hour.
            let end = crate::aggregate::hour_of(until_ms - 1) + crate::aggregate::HOUR;
            let n = (span_ms.max(1) + window_ms - 1) / window_ms;
            return Buckets {
                start_ms: end - n * window_ms,
                end_ms: end,
                window_ms,
            };
        }
        Buckets {
            start_ms: until_ms - span_ms,
            end_ms: until_ms,
            window_ms,
        }
    }

    /// Whether these buckets are whole hours of the hourly rollup.
    fn hourly(&self) -> bool {
        let h = crate::aggregate::HOUR;
        self.window_ms % h == 0 && self.start_ms.rem_euclid(h) == 0
    }
}

/// Whether an aggregate can be counted from the hourly rollup: hour
/// buckets, and only the rollup's columns grouped by and filtered on.
pub fn hourly_applies(columns: &[&str], filter: &Filter, buckets: Buckets) -> bool {
    buckets.hourly()
        && columns.iter().all(|c| HOURLY_KEY.contains(c))
        && filter.for_object.is_none()
        && filter.grep.is_none()
        && filter.after_id.is_none()
        && filter.objects.is_none()
}

/// The query for spans to aggregate, `(SQL, parameters)`: rows are the
/// group columns, the first and last time and the occurrences — from the
/// rows, or from the hourly rollup (an hour as a span of one instant, in
/// micro-occurrences) when `hourly`.
pub fn spans_query(
    columns: &[&str],
    filter: &Filter,
    buckets: Buckets,
    hourly: bool,
    placeholder: &dyn Fn(usize) -> String,
) -> (String, Vec<Param>) {
    if hourly {
        return hourly_sql(columns, filter, buckets, placeholder);
    }
    let (where_sql, params) = filter.to_sql(placeholder);
    (span_sql(columns, &where_sql, buckets), params)
}

/// The rollup's hours of `buckets` grouped by `columns`, with the filter's
/// rollup clauses: `(SQL, parameters)`.
fn hourly_sql(
    columns: &[&str],
    filter: &Filter,
    buckets: Buckets,
    placeholder: &dyn Fn(usize) -> String,
) -> (String, Vec<Param>) {
    let only = Filter {
        namespace: filter.namespace.clone(),
        reasons: filter.reasons.clone(),
        event_type: filter.event_type.clone(),
        categories: filter.categories.clone(),
        severity: filter.severity,
        cluster: filter.cluster.clone(),
        node: filter.node.clone(),
        ..Default::default()
    };
    let (where_sql, mut params) = only.to_sql(placeholder);
    let n = params.len();
    params.push(Param::Int(buckets.start_ms));
    params.push(Param::Int(buckets.end_ms));
    let time = format!(
        "hour_ms >= {} AND hour_ms < {}",
        placeholder(n + 1),
        placeholder(n + 2)
    );
    let where_sql = if where_sql.is_empty() {
        format!("WHERE {time}")
    } else {
        format!("{where_sql} AND {time}")
    };
    let (cols, group) = if columns.is_empty() {
        ("''".to_string(), String::new())
    } else {
        (columns.join(", "), format!("{}, ", columns.join(", ")))
    };
    (
        format!(
            "SELECT {cols}, hour_ms, hour_ms, CAST(SUM(micro) AS BIGINT) FROM hourly {where_sql} GROUP BY {group}hour_ms"
        ),
        params,
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
    /// The `--store` value itself is wrong (a usage error).
    #[error("{0}")]
    Url(String),
    #[error(
        "{path}: no store there yet (nothing was collected or imported into it); check --store or KPLUG_EVENTLOG_STORE"
    )]
    Missing { path: String },
    #[error("{path}: {what}, not a kplug eventlog store; kplug leaves it untouched")]
    NotAStore { path: String, what: String },
    #[error(
        "{path}: the store has schema {found} and this kplug reads {known}; run a command that writes (import, prune or collect) once to migrate it"
    )]
    Outdated {
        path: String,
        found: i64,
        known: i64,
    },
}

/// For a reader: a store's schema version must be this build's. `missing`
/// is the error when the place holds no kplug store at all.
pub(crate) fn check_readable(
    found: Option<i64>,
    path: String,
    missing: impl FnOnce(String) -> StoreError,
) -> Result<(), StoreError> {
    match found {
        None => Err(missing(path)),
        Some(found) if found > SCHEMA_VERSION => Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        }),
        Some(found) if found < SCHEMA_VERSION => Err(StoreError::Outdated {
            path,
            found,
            known: SCHEMA_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

/// Whether a command only reads (query, aggregate) or also writes (collect,
/// import, prune). Readers never create, migrate or reconfigure a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Where `--store` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    /// `postgres://…`, `postgresql://…`, `sqlite:PATH` or a plain path.
    /// Empty values and other schemes are refused: they used to become
    /// surprising file names (`mysql://x` → `./mysql:/x`, `` → in memory).
    pub fn parse(url: &str) -> Result<Location, StoreError> {
        if url.trim().is_empty() {
            return Err(StoreError::Url(
                "the store is empty: pass --store sqlite:PATH or postgres://… (or unset KPLUG_EVENTLOG_STORE for the default file)".into(),
            ));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::Url(format!(
                    "--store {url} names no file: use sqlite:PATH"
                )));
            }
            return Ok(Location::Sqlite(path.into()));
        }
        let scheme = url.split(':').next().unwrap_or("");
        if url.contains(':')
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && !scheme.contains('/')
        {
            let shown = postgres::redact(url);
            return Err(StoreError::Url(format!(
                "--store {shown}: unknown store kind {scheme:?}; use sqlite:PATH or postgres://… (write ./{shown} for a file whose name has a colon)"
            )));
        }
        Ok(Location::Sqlite(url.into()))
    }
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
    Postgres(Box<postgres::PostgresStore>),
}

impl Store {
    /// `postgres://…` / `postgresql://…`, `sqlite:PATH` or a path (see
    /// [`Location::parse`]), for reading or for writing.
    pub fn open(url: &str, access: Access) -> Result<Store, StoreError> {
        Ok(match Location::parse(url)? {
            Location::Postgres(url) => {
                Store::Postgres(Box::new(postgres::PostgresStore::open(&url, access)?))
            }
            Location::Sqlite(path) => Store::Sqlite(sqlite::SqliteStore::open(&path, access)?),
        })
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

    /// Get ready to write much at once (SQLite: a 256 MB page cache).
    pub fn bulk(&mut self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.bulk(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Remember what is known of these objects.
    pub fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.record_objects(objects),
            Store::Postgres(p) => p.record_objects(objects),
        }
    }

    /// The known objects (of one namespace).
    pub fn objects(&mut self, namespace: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        match self {
            Store::Sqlite(s) => s.objects(namespace),
            Store::Postgres(p) => p.objects(namespace),
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

    pub fn prune_chunk(
        &mut self,
        cutoff_ms: Option<i64>,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        match self {
            Store::Sqlite(s) => s.prune_chunk(cutoff_ms, chunk),
            Store::Postgres(p) => p.prune_chunk(cutoff_ms, chunk),
        }
    }

    /// One step of retention: at most `chunk` rows, so a caller that also
    /// writes is never held up long. Returns what it deleted (no rows: done).
    pub fn prune_step(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        if let Some(age) = policy.max_age_ms {
            let n = self.prune_chunk(Some(now_ms.saturating_sub(age)), chunk)?;
            if n.rows > 0 {
                return Ok(n);
            }
        }
        if let Some(max) = policy.max_bytes
            && self.used_bytes()? > max
        {
            return self.prune_chunk(None, chunk);
        }
        Ok(Pruned::default())
    }

    /// Compute the hourly rollup again from the stored rows (after rows
    /// were written around the store, as the benchmark does).
    pub fn rebuild_hourly(&mut self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.rebuild_hourly(),
            Store::Postgres(p) => p.rebuild_hourly(),
        }
    }

    /// Occurrences per group and bucket: from the hourly rollup when it
    /// can answer, else from the rows.
    pub fn aggregate(
        &mut self,
        columns: &[&str],
        filter: &Filter,
        buckets: Buckets,
    ) -> Result<Vec<crate::aggregate::Group>, StoreError> {
        let hourly = hourly_applies(columns, filter, buckets);
        let spans = self.spans(columns, filter, buckets, hourly)?;
        Ok(if hourly {
            crate::aggregate::aggregate_micro(columns, &spans, buckets)
        } else {
            crate::aggregate::aggregate(columns, &spans, buckets)
        })
    }

    /// See [`spans_query`].
    pub fn spans(
        &mut self,
        columns: &[&str],
        filter: &Filter,
        buckets: Buckets,
        hourly: bool,
    ) -> Result<Vec<Span>, StoreError> {
        match self {
            Store::Sqlite(s) => s.spans(columns, filter, buckets, hourly),
            Store::Postgres(p) => p.spans(columns, filter, buckets, hourly),
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

    fn record(rv: &str, count: u64) -> Record {
        let e = kplug::event::Event::from_value(&serde_json::json!({
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "u1", "resourceVersion": rv},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "BackOff", "message": "m", "count": count,
            "lastTimestamp": "2026-11-27T10:00:00Z"
        }))
        .unwrap();
        Record::new(e, "c", &crate::classify::Classifier::default())
    }

    #[test]
    fn a_batch_with_an_event_twice_writes_its_ledger_entry_once() {
        let batch = [record("1", 1), record("2", 3), record("2", 3)];
        let mut stats = IngestStats::default();
        let plan = plan(&batch, Default::default(), &mut stats);
        assert_eq!(
            (stats.occurrences, stats.duplicates, plan.rows.len()),
            (3, 1, 2)
        );
        assert_eq!(plan.ledger.len(), 1);
        assert_eq!(plan.ledger[0][2], Param::Int(3));
        assert_ne!(plan.rows[0][20], Param::Text(String::new()), "raw kept");
        assert_eq!(plan.rows[1][20], Param::Text(String::new()), "once");

        // The same batch again (a relist): nothing to write at all.
        let key = ledger_key(&batch[0]);
        let seen = crate::ledger::seen(None, &batch[2].event);
        let mut again = IngestStats::default();
        let plan = super::plan(&batch, [(key, seen)].into(), &mut again);
        assert_eq!(
            (again.duplicates, plan.rows.len(), plan.ledger.len()),
            (3, 0, 0)
        );
    }

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
            "WHERE namespace = $1 AND (owner_root = $2 AND ((kind = $3 AND name = $4) OR (kind IN ('Pod', 'ReplicaSet', 'Job') AND name LIKE $5 ESCAPE '\\'))) AND severity IN ($6, $7) AND LOWER(message) LIKE $8 ESCAPE '\\'"
        );
        assert_eq!(params[4], Param::Text("web-%".into()));
        assert_eq!(params[7], Param::Text("%50\\%\\_off%".into()));
    }
}
