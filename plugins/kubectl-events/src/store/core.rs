//! What a store does — migrate, ingest, prune, rebuild the rollup, answer
//! queries — written once over [`Conn`]. The drivers supply a connection
//! and a [`Dialect`]: the few things SQLite and PostgreSQL truly do
//! differently (placeholders, DDL types, locking, bulk insert, size).

use std::collections::HashMap;

use crate::record::Record;

use super::StoreError;
use super::filter::Filter;
use super::partitions;
use super::plan::{self, Hourly, IngestStats, Pruned};
use super::query::{self, Buckets, EventRow, GroupBy, Source, Span};
use super::rows::{ByLabels, ByObject, Rollup};
use super::rows::{LedgerEntry, ObjectInfo, Param, Read, Table};
use super::schema::{self, SCHEMA_VERSION, Step};

/// What differs between the databases, as data.
#[derive(Debug)]
pub struct Dialect {
    /// The n-th (1-based) placeholder: `?n` or `$n`.
    pub placeholder: fn(usize) -> String,
    /// The auto-increment key column's type (`{ID}` in the schema).
    pub id_column: &'static str,
    /// `{WITHOUT_ROWID}` in the schema: SQLite's one-B-tree tables.
    pub without_rowid: &'static str,
    /// Starts a transaction that writes (SQLite takes the write lock at
    /// once, so a reader's lock cannot deadlock it halfway).
    pub begin_write: &'static str,
    /// Binds a list as one array parameter (`= ANY($1)`), so an ingest
    /// reads its ledger entries in one statement, not one per 500 keys.
    pub arrays: bool,
    /// Serialises migrators where a transaction alone does not.
    pub migration_lock: Option<&'static str>,
    /// Appended to the ledger read of an ingest: locks the entries against
    /// another writer until the batch commits.
    pub lock_rows: &'static str,
    /// Occurrences are kept in day partitions (see [`partitions`]).
    pub partitioned: bool,
    /// `{CLUSTER_OF_KEY}` in the schema: the cluster a ledger key begins
    /// with (`CLUSTER/uid`).
    pub cluster_of_key: &'static str,
}

/// A connection the store's SQL runs on. Async, so that PostgreSQL's
/// client runs on the caller's runtime; SQLite's calls finish in their
/// first poll (a local file, waited on in place).
// The store's futures are awaited where they are made, never spawned, so
// no `Send` bound is promised.
#[allow(async_fn_in_trait)]
pub trait Conn {
    fn dialect(&self) -> &'static Dialect;
    /// Statements without parameters or results (DDL, transactions).
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// A statement with parameters; the rows it changed.
    async fn run(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError>;
    /// Each result row of a statement, in order, as they arrive.
    async fn each(
        &mut self,
        sql: &str,
        params: &[Param],
        row: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Insert rows of a table (the fastest way each database has).
    async fn insert<T: Table>(&mut self, rows: &[T]) -> Result<(), StoreError>;
}

/// Ledger keys looked up per statement.
const KEYS: usize = 500;

/// Every result row of `sql`, read by `read`.
pub(super) async fn rows<C: Conn, T>(
    c: &mut C,
    sql: &str,
    params: &[Param],
    read: impl Fn(&dyn Read) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    c.each(sql, params, &mut |r| {
        out.push(read(r)?);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// `f` in a write transaction: committed when it succeeds, rolled back
/// when it fails.
pub(super) async fn in_transaction<C: Conn, R>(
    c: &mut C,
    f: impl AsyncFnOnce(&mut C) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    c.batch(c.dialect().begin_write).await?;
    match f(c).await {
        Ok(r) => {
            c.batch("COMMIT").await?;
            Ok(r)
        }
        Err(e) => {
            // The connection may be gone; the database rolls back then too.
            let _ = c.batch("ROLLBACK").await;
            Err(e)
        }
    }
}

/// The schema version written in `meta`, if the table and the entry exist.
pub async fn schema_version<C: Conn>(c: &mut C) -> Result<Option<i64>, StoreError> {
    let found = rows(
        c,
        "SELECT value FROM meta WHERE key = 'schema_version'",
        &[],
        |r| r.text("value"),
    )
    .await?;
    Ok(found.first().and_then(|v| v.parse().ok()))
}

const META: &str = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

const SET_VERSION: &str = "INSERT INTO meta (key, value) VALUES ('schema_version', {1}) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Rows older than the newest day (what a size limit may delete).
const BEFORE_NEWEST_DAY: &str = "WHERE COALESCE(last_ms, 0) < \
     (SELECT CAST(MAX(last_ms) / 86400000 AS BIGINT) * 86400000 FROM occurrences)";

/// Bring the store to this build's schema (creating it when empty).
pub async fn migrate<C: Conn>(c: &mut C) -> Result<(), StoreError> {
    let d = c.dialect();
    in_transaction(c, async |c| {
        if let Some(lock) = d.migration_lock {
            c.batch(lock).await?;
        }
        c.batch(META).await?;
        let found = schema_version(c).await?.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        for step in schema::migrations(found, d.partitioned) {
            match step {
                Step::Sql(stmt) => {
                    c.batch(
                        &stmt
                            .replace("{ID}", d.id_column)
                            .replace("{WITHOUT_ROWID}", d.without_rowid)
                            .replace("{CLUSTER_OF_KEY}", d.cluster_of_key),
                    )
                    .await?
                }
                Step::FillHourly => fill::<ByLabels, C>(c).await?,
                Step::FillHourlyObjects => fill::<ByObject, C>(c).await?,
                Step::FillPartitions => partitions::fill_from_v3(c).await?,
            }
        }
        let version = SET_VERSION.replace("{1}", &(d.placeholder)(1));
        c.run(&version, &[Param::Text(SCHEMA_VERSION.to_string())])
            .await?;
        Ok(())
    })
    .await
}

/// Record a batch in one transaction: every Event is checked against the
/// ledger and only new occurrences are written.
pub async fn ingest<C: Conn>(c: &mut C, batch: &[Record]) -> Result<IngestStats, StoreError> {
    let d = c.dialect();
    in_transaction(c, async |c| {
        let mut found = HashMap::new();
        let mut lookups: Vec<(String, Vec<Param>)> = Vec::new();
        for (cluster, keys) in plan::batch_keys(batch) {
            let cluster = Param::Text(cluster);
            if d.arrays {
                lookups.push((
                    format!(
                        "cluster = {} AND key = ANY({})",
                        (d.placeholder)(1),
                        (d.placeholder)(2)
                    ),
                    vec![cluster, Param::Texts(keys)],
                ));
                continue;
            }
            for chunk in keys.chunks(KEYS) {
                let marks: Vec<String> = (2..=chunk.len() + 1).map(d.placeholder).collect();
                let mut params = vec![cluster.clone()];
                params.extend(chunk.iter().cloned().map(Param::Text));
                lookups.push((
                    format!(
                        "cluster = {} AND key IN ({})",
                        (d.placeholder)(1),
                        marks.join(", ")
                    ),
                    params,
                ));
            }
        }
        for (which, params) in lookups {
            let sql = format!(
                "{} WHERE {which} ORDER BY key{}",
                LedgerEntry::SELECT,
                d.lock_rows
            );
            c.each(&sql, &params, &mut |r| {
                let entry = LedgerEntry::read(r)?;
                found.insert(entry.key, entry.seen);
                Ok(())
            })
            .await?;
        }
        let mut stats = IngestStats::default();
        let plan = plan::plan(batch, found, &mut stats);
        if d.partitioned {
            partitions::ensure(c, &partitions::days(&plan.rows)).await?;
        }
        c.insert(&plan.ledger).await?;
        c.insert(&plan.rows).await?;
        c.insert(&plan.hourly).await?;
        c.insert(&plan.hourly_objects).await?;
        Ok(stats)
    })
    .await
}

/// The Events matching `filter`, newest first.
pub async fn query<C: Conn>(
    c: &mut C,
    filter: &Filter,
    limit: Option<usize>,
) -> Result<Vec<EventRow>, StoreError> {
    let placeholder = c.dialect().placeholder;
    let (where_sql, mut params) = filter.to_sql(&placeholder);
    let outer = match &filter.cluster {
        Some(cluster) => {
            params.push(Param::Text(cluster.clone()));
            format!("WHERE o.cluster = {}", placeholder(params.len()))
        }
        None => String::new(),
    };
    rows(
        c,
        &query::query_sql(&where_sql, &outer, limit),
        &params,
        EventRow::read,
    )
    .await
}

/// Remember what is known of these objects.
pub async fn record_objects<C: Conn>(c: &mut C, objects: &[ObjectInfo]) -> Result<(), StoreError> {
    in_transaction(c, async |c| {
        c.insert(&ObjectInfo::deduplicated(objects)).await
    })
    .await
}

/// The known objects (of one namespace).
pub async fn objects<C: Conn>(
    c: &mut C,
    namespace: Option<&str>,
) -> Result<Vec<ObjectInfo>, StoreError> {
    let sql = ObjectInfo::select(namespace.is_some(), &c.dialect().placeholder);
    let params: Vec<Param> = namespace
        .map(|n| Param::Text(n.into()))
        .into_iter()
        .collect();
    rows(c, &sql, &params, ObjectInfo::read).await
}

/// Whether the ledger holds Events of `cluster` (one key lookup: the
/// ledger's key leads with the cluster).
pub async fn holds_cluster<C: Conn>(c: &mut C, cluster: &str) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT 1 AS one FROM ledger WHERE cluster = {} LIMIT 1",
        (c.dialect().placeholder)(1)
    );
    let found = rows(c, &sql, &[Param::Text(cluster.to_string())], |r| {
        r.int("one")
    })
    .await?;
    Ok(!found.is_empty())
}

/// The newest row's id (0 when empty).
pub async fn last_id<C: Conn>(c: &mut C) -> Result<i64, StoreError> {
    let found = rows(
        c,
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM occurrences",
        &[],
        |r| r.int("last"),
    )
    .await?;
    Ok(found.first().copied().unwrap_or(0))
}

/// Bytes the store takes, measured by `sql` (one row, column `bytes`).
pub async fn used_bytes<C: Conn>(c: &mut C, sql: &str) -> Result<u64, StoreError> {
    let found = rows(c, sql, &[], |r| r.int("bytes")).await?;
    Ok(found.first().map_or(0, |b| u64::try_from(*b).unwrap_or(0)))
}

/// Delete up to `chunk` of the oldest occurrences last seen before
/// `cutoff_ms` (or simply the oldest but the newest day's, without a
/// cutoff), and the ledger
/// entries and whole rollup hours older than the cutoff. Where occurrences
/// are kept in day partitions, the oldest day wholly older than the cutoff
/// (without one: the oldest day but the newest) is dropped instead, and
/// rows are deleted only from a day the cutoff falls in.
pub async fn prune_chunk<C: Conn>(
    c: &mut C,
    cutoff_ms: Option<i64>,
    chunk: usize,
) -> Result<Pruned, StoreError> {
    let d = c.dialect();
    let p = d.placeholder;
    in_transaction(c, async |c| {
        let mut deleted = Pruned::default();
        if d.partitioned {
            let days = partitions::list(c).await?;
            let oldest = match cutoff_ms {
                Some(cut) => days.first().filter(|day| day.to_ms() <= cut),
                // Never the newest day: what is being written now stays.
                None => days.first().filter(|_| days.len() > 1),
            };
            if let Some(day) = oldest {
                partitions::drop(c, day, &mut deleted).await?;
            } else if cutoff_ms.is_none() {
                return Ok(deleted);
            }
        }
        if deleted.is_empty() {
            let (older, params) = match cutoff_ms {
                Some(cut) => (
                    format!("WHERE COALESCE(last_ms, 0) < {}", p(1)),
                    vec![Param::Int(cut)],
                ),
                // By size: never the newest day, as with partitions.
                None => (BEFORE_NEWEST_DAY.to_string(), Vec::new()),
            };
            let sql = format!(
                "DELETE FROM occurrences WHERE id IN \
                 (SELECT id FROM occurrences {older} ORDER BY last_ms LIMIT {chunk}) \
                 RETURNING event_key, occurrences"
            );
            c.each(&sql, &params, &mut |r| deleted.add_row(r)).await?;
        }
        if let Some(cut) = cutoff_ms {
            let ledger = format!("DELETE FROM ledger WHERE COALESCE(last_ms, 0) < {}", p(1));
            c.run(&ledger, &[Param::Int(cut)]).await?;
            // Whole hours only: the hour the cutoff falls in stays.
            let hour = crate::aggregate::hour_of(cut);
            for table in [ByLabels::NAME, ByObject::NAME] {
                let sql = format!("DELETE FROM {table} WHERE hour_ms < {}", p(1));
                c.run(&sql, &[Param::Int(hour)]).await?;
            }
            super::kept::prune(c, cut).await?;
        }
        Ok(deleted)
    })
    .await
}

/// Compute the rollups again from the stored rows.
pub async fn rebuild_hourly<C: Conn>(c: &mut C) -> Result<(), StoreError> {
    in_transaction(c, async |c| {
        c.batch(&format!("DELETE FROM {}", ByLabels::NAME)).await?;
        c.batch(&format!("DELETE FROM {}", ByObject::NAME)).await?;
        fill::<ByLabels, C>(c).await?;
        fill::<ByObject, C>(c).await
    })
    .await
}

/// Fill a rollup from the stored rows (a store older than it).
async fn fill<R: Rollup, C: Conn>(c: &mut C) -> Result<(), StoreError> {
    let mut hourly = Hourly::<R>::default();
    c.each(&Hourly::<R>::source(), &[], &mut |r| hourly.add_row(r))
        .await?;
    c.insert(&hourly.cells()).await
}

/// Occurrence spans for aggregation, grouped by `columns` (see
/// [`query::spans_query`]).
pub async fn spans<C: Conn>(
    c: &mut C,
    columns: &[GroupBy],
    filter: &Filter,
    buckets: Buckets,
    source: Source,
) -> Result<Vec<Span>, StoreError> {
    let (sql, params) =
        query::spans_query(columns, filter, buckets, source, &c.dialect().placeholder);
    rows(c, &sql, &params, |r| Span::read(r, columns)).await
}
