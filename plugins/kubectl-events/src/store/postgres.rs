//! The PostgreSQL store, for many clusters and long history: the same
//! schema and SQL as SQLite, so the same queries give the same results.

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use super::plan::{Hourly, Pruned};
use super::rows::{ColumnType, LedgerEntry, ObjectInfo, Param, Read, Table};
use super::schema::{self, SCHEMA_VERSION};
use super::{Buckets, EventRow, Filter, GroupBy, IngestStats, Span, StoreError};
use crate::record::Record;

pub struct PostgresStore {
    client: Client,
    /// To connect again when the server went away (restarts, failovers).
    url: String,
    /// The URL without its password, for messages.
    shown: String,
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn refs(values: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|b| b.as_ref()).collect()
}

fn params(p: &[Param]) -> Vec<Box<dyn ToSql + Sync>> {
    p.iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Text(s) => Box::new(s.clone()),
                Param::Int(i) => Box::new(*i),
                Param::OptInt(i) => Box::new(*i),
            }
        })
        .collect()
}

impl Read for postgres::Row {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// Fill the hourly rollup from the stored rows.
fn fill_hourly(tx: &mut postgres::Transaction) -> Result<(), StoreError> {
    let mut hourly = Hourly::default();
    for r in tx.query(Hourly::SOURCE, &[])? {
        hourly.add_row(&r)?;
    }
    insert_all(tx, &hourly.cells())
}

/// Insert `rows` in one statement: each column goes as one array of its
/// declared type, and `UNNEST` turns the arrays back into rows.
fn insert_all<T: Table>(tx: &mut postgres::Transaction, rows: &[T]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let cells: Vec<Vec<Param>> = rows.iter().map(Table::cells).collect();
    let mut arrays: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut casts = Vec::new();
    for (j, (column, kind)) in T::COLUMNS.iter().enumerate() {
        let mismatch = || {
            StoreError::Internal(format!(
                "a {} row has a cell of another type in column {column}",
                T::NAME
            ))
        };
        let n = j + 1;
        match kind {
            ColumnType::Text => {
                casts.push(format!("${n}::text[]"));
                let column = cells
                    .iter()
                    .map(|r| match &r[j] {
                        Param::Text(s) => Ok(s.clone()),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Vec<String>, _>>()?;
                arrays.push(Box::new(column));
            }
            ColumnType::Int | ColumnType::OptInt => {
                casts.push(format!("${n}::bigint[]"));
                let column = cells
                    .iter()
                    .map(|r| match &r[j] {
                        Param::Int(i) => Ok(Some(*i)),
                        Param::OptInt(i) => Ok(*i),
                        Param::Text(_) => Err(mismatch()),
                    })
                    .collect::<Result<Vec<Option<i64>>, _>>()?;
                arrays.push(Box::new(column));
            }
        }
    }
    let sql = format!(
        "INSERT INTO {} ({}) SELECT * FROM UNNEST({}) {}",
        T::NAME,
        T::column_list(),
        casts.join(", "),
        T::CONFLICT
    );
    tx.execute(&sql, &refs(&arrays))?;
    Ok(())
}

impl PostgresStore {
    /// Connect and migrate. TLS is used when the URL asks for it
    /// (`sslmode=require`) — not yet supported, refused clearly.
    pub fn open(url: &str, access: super::Access) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        if url.contains("sslmode=require") || url.contains("sslmode=verify") {
            return Err(StoreError::Open { path: shown, message: "TLS connections to PostgreSQL are not supported yet; use sslmode=disable on a trusted network".into() });
        }
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut store = PostgresStore {
            client,
            url: url.to_string(),
            shown,
        };
        if access == super::Access::Read {
            store.check_schema()?;
        } else {
            store.migrate()?;
        }
        Ok(store)
    }

    /// For readers: the database must hold a current kplug store, and is not changed.
    fn check_schema(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let client = self.conn()?;
        let has_meta: bool = client
            .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])?
            .get(0);
        let found: Option<i64> = if has_meta {
            client
                .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
                .and_then(|r| r.get::<_, String>(0).parse().ok())
        } else {
            None
        };
        schema::check_readable(found, shown, |path| StoreError::Missing { path })
    }

    /// The connection, made again if the server closed it: the caller's
    /// statement then runs on the new one, or fails as before while the
    /// server is away.
    fn conn(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = Client::connect(&self.url, NoTls)?;
        }
        Ok(&mut self.client)
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.conn()?.transaction()?;
        // One migrator at a time.
        tx.batch_execute("SELECT pg_advisory_xact_lock(7734001)")?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )?;
        let found: i64 = tx
            .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
            .and_then(|r| r.get::<_, String>(0).parse().ok())
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        for stmt in schema::migrations(found) {
            tx.batch_execute(
                &stmt
                    .replace("{ID}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                    .replace("{WITHOUT_ROWID}", ""),
            )?;
        }
        if (1..3).contains(&found) {
            fill_hourly(&mut tx)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&SCHEMA_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Record a batch in one transaction, through the ledger: one
    /// statement reads (and locks) the batch's ledger entries, one writes
    /// them and one inserts the occurrences, whatever the batch's size.
    pub fn ingest(&mut self, batch: &[Record]) -> Result<IngestStats, StoreError> {
        let mut tx = self.conn()?.transaction()?;
        let keys = super::plan::batch_keys(batch);
        let found = tx
            .query(
                &format!(
                    "{} WHERE key = ANY($1) ORDER BY key FOR UPDATE",
                    LedgerEntry::SELECT
                ),
                &[&keys],
            )?
            .iter()
            .map(|r| LedgerEntry::read(r).map(|e| (e.key, e.seen)))
            .collect::<Result<_, _>>()?;
        let mut stats = IngestStats::default();
        let plan = super::plan::plan(batch, found, &mut stats);
        insert_all(&mut tx, &plan.ledger)?;
        insert_all(&mut tx, &plan.rows)?;
        insert_all(&mut tx, &plan.hourly)?;
        tx.commit()?;
        Ok(stats)
    }

    pub fn query(
        &mut self,
        filter: &Filter,
        limit: Option<usize>,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (where_sql, p) = filter.to_sql(&|n| format!("${n}"));
        let sql = super::query::query_sql(&where_sql, limit);
        let owned = params(&p);
        let refs = refs(&owned);
        self.conn()?
            .query(&sql, &refs)?
            .iter()
            .map(EventRow::read)
            .collect()
    }

    pub fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError> {
        let mut tx = self.conn()?.transaction()?;
        insert_all(&mut tx, &ObjectInfo::deduplicated(objects))?;
        tx.commit()?;
        Ok(())
    }

    pub fn objects(&mut self, namespace: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        let sql = ObjectInfo::select(namespace.is_some(), &|n| format!("${n}"));
        let rows = match namespace {
            Some(ns) => self.conn()?.query(&sql, &[&ns])?,
            None => self.conn()?.query(&sql, &[])?,
        };
        rows.iter().map(ObjectInfo::read).collect()
    }

    pub fn last_id(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn()?
            .query_one("SELECT COALESCE(MAX(id), 0)::bigint FROM occurrences", &[])?
            .get(0))
    }

    /// Bytes the tables take.
    pub fn used_bytes(&mut self) -> Result<u64, StoreError> {
        let row = self.conn()?.query_one(
            "SELECT (pg_total_relation_size('occurrences') + pg_total_relation_size('ledger'))::bigint",
            &[],
        )?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// See [`super::sqlite::SqliteStore::prune_chunk`].
    pub fn prune_chunk(
        &mut self,
        cutoff_ms: Option<i64>,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        let mut tx = self.conn()?.transaction()?;
        let chunk = chunk as i64;
        let rows = match cutoff_ms {
            Some(c) => tx.query(
                "DELETE FROM occurrences WHERE id IN (SELECT id FROM occurrences WHERE COALESCE(last_ms, 0) < $1 ORDER BY last_ms LIMIT $2) RETURNING event_key, occurrences",
                &[&c, &chunk],
            )?,
            None => tx.query("DELETE FROM occurrences WHERE id IN (SELECT id FROM occurrences ORDER BY last_ms LIMIT $1) RETURNING event_key, occurrences", &[&chunk])?,
        };
        let mut deleted = Pruned::default();
        for r in &rows {
            deleted.add_row(r)?;
        }
        if let Some(c) = cutoff_ms {
            tx.execute("DELETE FROM ledger WHERE COALESCE(last_ms, 0) < $1", &[&c])?;
            tx.execute(
                "DELETE FROM hourly WHERE hour_ms < $1",
                &[&crate::aggregate::hour_of(c)],
            )?;
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Compute the hourly rollup again from the stored rows.
    pub fn rebuild_hourly(&mut self) -> Result<(), StoreError> {
        let mut tx = self.conn()?.transaction()?;
        tx.execute("DELETE FROM hourly", &[])?;
        fill_hourly(&mut tx)?;
        tx.commit()?;
        Ok(())
    }

    pub fn spans(
        &mut self,
        columns: &[GroupBy],
        filter: &Filter,
        buckets: Buckets,
        hourly: bool,
    ) -> Result<Vec<Span>, StoreError> {
        let (sql, p) =
            super::query::spans_query(columns, filter, buckets, hourly, &|n| format!("${n}"));
        let owned = params(&p);
        let refs = refs(&owned);
        self.conn()?
            .query(&sql, &refs)?
            .iter()
            .map(|r| Span::read(r, columns))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_show() {
        assert_eq!(
            super::redact("postgres://kplug:s3cret@db:5432/events"),
            "postgres://kplug@db:5432/events"
        );
        assert_eq!(
            super::redact("postgresql://db/events"),
            "postgresql://db/events"
        );
    }
}
