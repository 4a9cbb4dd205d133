//! The tables and how a store gets from any older version to this one.
//! The SQL is portable (SQLite and PostgreSQL); `{ID}`, `{WITHOUT_ROWID}`
//! and `{CLUSTER_OF_KEY}` are filled in by each driver.

use super::StoreError;

/// Schema version written by this build; older stores are migrated on open.
pub const SCHEMA_VERSION: i64 = 6;

/// The columns of an occurrence after its id, as every version has them.
macro_rules! occurrence_columns {
    () => {
        "event_key TEXT NOT NULL,
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
        raw TEXT NOT NULL"
    };
}

/// The tables (portable SQL: SQLite and PostgreSQL; `{ID}` is each one's
/// auto-increment key).
pub const SCHEMA_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger (
        key TEXT PRIMARY KEY,
        resource_version TEXT NOT NULL,
        count BIGINT NOT NULL,
        last_ms BIGINT)",
    concat!(
        "CREATE TABLE IF NOT EXISTS occurrences (id {ID}, ",
        occurrence_columns!(),
        ")"
    ),
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

/// Version 4: hours by object and fingerprint, for `--by name` and
/// `--by fingerprint` (filled from the rows). A fingerprint is a hash of
/// cluster, namespace, owner, reason and template, so the key leaves the
/// first two out: shorter to compare, and `--by fingerprint` reads it in
/// key order without sorting.
pub const SCHEMA_V4: &[&str] = &["CREATE TABLE IF NOT EXISTS hourly_objects (
        hour_ms BIGINT NOT NULL,
        fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        micro BIGINT NOT NULL,
        PRIMARY KEY (hour_ms, fingerprint, kind, name))"];

/// Version 4, where tables can be partitioned (PostgreSQL): occurrences
/// go into day partitions (see [`super::partitions`]). A partitioned table
/// has no primary key without the partition column, so the id is indexed
/// instead; identity still numbers the rows.
pub const SCHEMA_V4_PARTITIONED: &[Step] = &[
    Step::Sql("ALTER TABLE occurrences RENAME TO occurrences_v3"),
    Step::Sql(concat!(
        "CREATE TABLE occurrences (id BIGINT GENERATED ALWAYS AS IDENTITY, ",
        occurrence_columns!(),
        ") PARTITION BY RANGE (last_ms)"
    )),
    // Rows without a last time.
    Step::Sql("CREATE TABLE occurrences_default PARTITION OF occurrences DEFAULT"),
    Step::FillPartitions,
    Step::Sql("CREATE INDEX occurrences_last ON occurrences (last_ms)"),
    Step::Sql("CREATE INDEX occurrences_owner ON occurrences (owner_root, namespace, last_ms)"),
    Step::Sql("CREATE INDEX occurrences_id ON occurrences (id)"),
];

/// Version 5: every table that has a cluster has it in its key, so that a
/// distributed database (Citus) can shard each of them by cluster and keep
/// one cluster's rows of every table together; a key that holds the
/// cluster is also what lets a ledger lookup of one cluster be answered by
/// one shard. The ledger gains the column (its keys already begin with the
/// cluster: `{CLUSTER_OF_KEY}` takes it from there); the object rollup's
/// key gains it last, so `--by fingerprint` still reads in key order.
pub const SCHEMA_V5: &[&str] = &[
    "CREATE TABLE ledger_v5 (
        cluster TEXT NOT NULL,
        key TEXT NOT NULL,
        resource_version TEXT NOT NULL,
        count BIGINT NOT NULL,
        last_ms BIGINT,
        PRIMARY KEY (cluster, key)){WITHOUT_ROWID}",
    "INSERT INTO ledger_v5 (cluster, key, resource_version, count, last_ms) SELECT {CLUSTER_OF_KEY}, key, resource_version, count, last_ms FROM ledger",
    "DROP TABLE ledger",
    "ALTER TABLE ledger_v5 RENAME TO ledger",
    "CREATE TABLE hourly_objects_v5 (
        hour_ms BIGINT NOT NULL,
        fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        cluster TEXT NOT NULL,
        namespace TEXT NOT NULL,
        micro BIGINT NOT NULL,
        PRIMARY KEY (hour_ms, fingerprint, kind, name, cluster))",
    "INSERT INTO hourly_objects_v5 SELECT hour_ms, fingerprint, kind, name, cluster, namespace, micro FROM hourly_objects",
    "DROP TABLE hourly_objects",
    "ALTER TABLE hourly_objects_v5 RENAME TO hourly_objects",
];

/// Version 6: what the collector keeps beside the occurrences — the
/// incidents it correlated, its alerts' states and the outbox of
/// notifications not yet delivered — each keyed by cluster first, like
/// every table (see version 5). An incident and an alert are stored as
/// their JSON document: only the columns filtered on are columns.
pub const SCHEMA_V6: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS incidents (
        cluster TEXT NOT NULL,
        id TEXT NOT NULL,
        namespace TEXT NOT NULL,
        first_ms BIGINT NOT NULL,
        last_ms BIGINT NOT NULL,
        reach_ms BIGINT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (cluster, id))",
    "CREATE INDEX IF NOT EXISTS incidents_last ON incidents (cluster, last_ms)",
    "CREATE TABLE IF NOT EXISTS alerts (
        cluster TEXT NOT NULL,
        rule TEXT NOT NULL,
        grp TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (cluster, rule, grp))",
    "CREATE TABLE IF NOT EXISTS outbox (
        cluster TEXT NOT NULL,
        id TEXT NOT NULL,
        sink TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        due_ms BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        sent_ms BIGINT,
        note TEXT NOT NULL,
        notice TEXT NOT NULL,
        PRIMARY KEY (cluster, id))",
];

/// One step of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A statement (`{ID}`, `{WITHOUT_ROWID}`, `{CLUSTER_OF_KEY}` filled in
    /// by the dialect).
    Sql(&'static str),
    /// Compute the hourly rollup from the rows (it came with version 3).
    FillHourly,
    /// Compute the rollup by object from the rows (version 4).
    FillHourlyObjects,
    /// Move the rows of `occurrences_v3` into day partitions.
    FillPartitions,
}

/// The steps that bring a store from version `found` to the newest, for a
/// database that partitions tables or not.
pub fn migrations(found: i64, partitioned: bool) -> Vec<Step> {
    let sql = |stmts: &'static [&'static str]| stmts.iter().map(|s| Step::Sql(s));
    let mut steps = Vec::new();
    if found < 1 {
        steps.extend(sql(SCHEMA_V1));
    }
    if found < 2 {
        steps.extend(sql(SCHEMA_V2));
    }
    if found < 3 {
        steps.extend(sql(SCHEMA_V3));
        // A new store has no rows to roll up.
        if found >= 1 {
            steps.push(Step::FillHourly);
        }
    }
    if found < 4 {
        steps.extend(sql(SCHEMA_V4));
        if partitioned {
            steps.extend(SCHEMA_V4_PARTITIONED.iter().copied());
        }
    }
    if found < 5 {
        steps.extend(sql(SCHEMA_V5));
    }
    if found < 6 {
        steps.extend(sql(SCHEMA_V6));
    }
    // The rollup by object came with version 4; it is filled in its
    // newest shape (its upserts name the newest key).
    if (1..4).contains(&found) {
        steps.push(Step::FillHourlyObjects);
    }
    steps
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
