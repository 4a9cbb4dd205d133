//! The SQLite store: one file, WAL, batched writes in one transaction.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params_from_iter};

use super::core::{self, Conn, Dialect};
use super::rows::{Param, Read, Table, insert_sql};
use super::schema;
use super::{Access, StoreError};

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
            Param::OptInt(i) => i.to_sql(),
            // The dialect says SQLite has no arrays; the store never binds one.
            Param::Texts(_) => Err(rusqlite::Error::ToSqlConversionFailure(
                "SQLite binds no arrays".into(),
            )),
        }
    }
}

/// A result row with its statement's column names, read once per statement:
/// rusqlite's own lookup by name asks SQLite for every column's name on
/// every call, which costs a fifth of a large aggregate.
struct Named<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [String],
}

impl Named<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T, StoreError> {
        let index =
            self.names
                .iter()
                .position(|n| n == column)
                .ok_or_else(|| StoreError::Sqlite {
                    source: rusqlite::Error::InvalidColumnName(column.to_string()),
                })?;
        Ok(self.row.get(index)?)
    }
}

impl Read for Named<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.get(column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.get(column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }
}

/// The schema version of a kplug store; `None` when the file has no kplug meta table.
async fn schema(conn: &mut Connection) -> Result<Option<i64>, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    core::schema_version(conn).await
}

impl SqliteStore {
    /// Open (creating it and its directory if needed) and migrate.
    pub async fn open(path: &Path, access: Access) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let open_err = |message: String| StoreError::Open {
            path: shown.clone(),
            message,
        };
        if access == Access::Read {
            return Self::open_for_reading(path).await;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        // First: every statement after this may meet a reader's or writer's lock.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name <> 'meta'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| open_err(e.to_string()))?;
        // Someone else's database is never changed (no tables, no WAL).
        if tables > 0 && schema(&mut conn).await.ok().flatten().is_none() {
            return Err(StoreError::NotAStore {
                path: shown,
                what: format!("a SQLite database with {tables} other table(s)"),
            });
        }
        // Bigger pages for a new store: rows are wide and written in bulk.
        conn.pragma_update(None, "page_size", 16_384)
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Index pages of a large store do not fit SQLite's default 2 MB cache.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint the WAL less often than every 1,000 pages: batches are big.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        core::migrate(&mut store.conn).await?;
        Ok(store)
    }

    /// A store opened read-only: never created, migrated or switched to WAL.
    async fn open_for_reading(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::Missing { path: shown });
        }
        let open_err = |message: String| StoreError::Open {
            path: shown.clone(),
            message,
        };
        let mut conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_err(e.to_string()))?;
        // Before anything else: a writer may hold the lock right now.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        let found = schema(&mut conn)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        schema::check_readable(found, shown, |path| StoreError::NotAStore {
            path,
            what: "a file without kplug's tables".into(),
        })?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Pages in use (not on the free list): the whole file, every table and index.
pub const USED_BYTES: &str = "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size()) AS bytes";

/// SQLite's share of the store's SQL.
static SQLITE: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    id_column: "INTEGER PRIMARY KEY",
    without_rowid: " WITHOUT ROWID",
    begin_write: "BEGIN IMMEDIATE",
    arrays: false,
    migration_lock: None,
    lock_rows: "",
    partitioned: false,
    cluster_of_key: "substr(key, 1, instr(key, '/') - 1)",
};

impl Conn for Connection {
    fn dialect(&self) -> &'static Dialect {
        &SQLITE
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.execute_batch(sql)?)
    }

    async fn run(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        let changed = self
            .prepare_cached(sql)?
            .execute(params_from_iter(params))?;
        Ok(changed as u64)
    }

    async fn each(
        &mut self,
        sql: &str,
        params: &[Param],
        row: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        let names: Vec<String> = stmt.column_names().map(String::from).collect();
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            row(&Named {
                row: r,
                names: &names,
            })?;
        }
        Ok(())
    }

    /// One prepared statement per row. (A statement of many rows is slower
    /// here: SQLite then keeps a statement journal to undo a half-done
    /// statement.)
    async fn insert<T: Table>(&mut self, rows: &[T]) -> Result<(), StoreError> {
        let mut insert = self.prepare_cached(&insert_sql::<T>(1, &SQLITE.placeholder))?;
        for row in rows {
            insert.execute(params_from_iter(row.cells()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::store::{Buckets, Filter, GroupBy, SCHEMA_VERSION, Span, Store};

    /// A store as version 1 of kplug wrote it.
    fn version_one(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for stmt in super::super::schema::SCHEMA_V1 {
            conn.execute_batch(&stmt.replace("{ID}", "INTEGER PRIMARY KEY"))
                .unwrap();
        }
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO ledger (key, resource_version, count, last_ms) VALUES ('c/u1', '9', 7, 2)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO occurrences (event_key, cluster, namespace, kind, name, object_uid, field_path, owner_root, reason, type, message,
                 reporting_controller, node, first_ms, last_ms, occurrences, category, severity, template, fingerprint, raw)
             VALUES ('c/u1', 'c', 'shop', 'Pod', 'web-0', '', '', 'web', 'BackOff', 'Warning', 'm', 'kubelet', 'n', 1, 2, 7, 'crash', 'high', 'm', 'f', '{}')",
            [],
        )
        .unwrap();
    }

    #[tokio::test]
    async fn summing_in_sql_counts_what_spreading_every_row_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("a.db"), Access::Write)
            .await
            .unwrap();
        let classifier = crate::classify::Classifier::default();
        let h = 3_600_000i64;
        let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_string();
        // Spans inside one hour, across hours, before the window, without a
        // first time, and at the window's very end.
        let spans = [
            (10, 20, 3),
            (h + 5, h + 9, 1),
            (h / 2, 3 * h + 7, 9),
            (-h, h / 3, 4),
            (2 * h, 2 * h, 2),
            (4 * h - 1, 4 * h - 1, 5),
            (30, 40, 6),
        ];
        let batch: Vec<Record> = spans
            .iter()
            .enumerate()
            .map(|(i, (first, last, count))| {
                let mut v = serde_json::json!({
                    "metadata": {"name": format!("e{i}"), "namespace": "a", "uid": format!("u{i}"), "resourceVersion": "1"},
                    "involvedObject": {"kind": "Pod", "name": "web"},
                    "reason": if i % 2 == 0 { "BackOff" } else { "Pulled" }, "message": "m",
                    "lastTimestamp": at(*last), "count": count,
                });
                if i != 4 {
                    v["firstTimestamp"] = at(*first).into();
                }
                Record::new(kplug::event::Event::from_owned(v).unwrap(), "c", &classifier)
            })
            .collect();
        core::ingest(&mut store.conn, &batch).await.unwrap();
        let buckets = Buckets {
            start_ms: 0,
            end_ms: 4 * h,
            window_ms: h,
        };
        let filter = Filter {
            since: jiff::Timestamp::from_millisecond(0).ok(),
            ..Default::default()
        };
        let summed = core::spans(
            &mut store.conn,
            &[GroupBy::Reason],
            &filter,
            buckets,
            crate::store::Source::Rows,
        )
        .await
        .unwrap();
        assert!(summed.len() < spans.len(), "some rows were summed");
        let mut every = store
            .conn
            .prepare(
                "SELECT reason, first_ms, last_ms, occurrences FROM occurrences WHERE last_ms >= 0",
            )
            .unwrap();
        let every: Vec<Span> = every
            .query_map([], |r| {
                Ok(Span {
                    key: vec![r.get(0)?],
                    first_ms: r.get(1)?,
                    last_ms: r.get(2)?,
                    occurrences: r.get(3)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let agg = |s: &[Span]| crate::aggregate::aggregate(&[GroupBy::Reason], s, buckets);
        assert_eq!(agg(&summed), agg(&every));
    }

    #[tokio::test]
    async fn the_hourly_rollup_counts_what_the_rows_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::Sqlite(
            SqliteStore::open(&dir.path().join("h.db"), Access::Write)
                .await
                .unwrap(),
        );
        let classifier = crate::classify::Classifier::default();
        let h = crate::aggregate::HOUR;
        let base = 1_700_000_000_000 / h * h;
        let at = |ms: i64| {
            jiff::Timestamp::from_millisecond(base + ms)
                .unwrap()
                .to_string()
        };
        // Within an hour, across hours and days, and partly before the window.
        let spans = [
            (10, 20, 3, "BackOff"),
            (h + 5, h + 9, 1, "Pulled"),
            (h / 2, 30 * h + 7, 97, "BackOff"),
            (-3 * h, 2 * h, 10, "Pulled"),
            (5 * h, 5 * h, 2, "Failed"),
            (40 * h, 47 * h, 1000, "BackOff"),
        ];
        let batch: Vec<Record> = spans
            .iter()
            .enumerate()
            .map(|(i, (first, last, count, reason))| {
                let v = serde_json::json!({
                    "metadata": {"name": format!("e{i}"), "namespace": "a", "uid": format!("u{i}"), "resourceVersion": "1"},
                    "involvedObject": {"kind": "Pod", "name": if i % 3 == 0 { "web" } else { "db" }},
                    "reason": reason, "message": "m", "count": count,
                    "firstTimestamp": at(*first), "lastTimestamp": at(*last),
                });
                Record::new(kplug::event::Event::from_owned(v).unwrap(), "c", &classifier)
            })
            .collect();
        store.ingest(&batch).await.unwrap();
        let buckets = Buckets::covering(base, base + 48 * h, 6 * h);
        assert_eq!((buckets.start_ms, buckets.end_ms), (base, base + 48 * h));
        let filter = Filter {
            since: jiff::Timestamp::from_millisecond(buckets.start_ms).ok(),
            until: jiff::Timestamp::from_millisecond(buckets.end_ms).ok(),
            ..Default::default()
        };
        assert_eq!(
            crate::store::query::source(&[GroupBy::Reason], &filter, buckets),
            crate::store::Source::Rollup { table: "hourly" }
        );
        // Both rollups count what the rows count.
        for by in [
            &[GroupBy::Reason][..],
            &[GroupBy::Name],
            &[GroupBy::Fingerprint],
            &[GroupBy::Namespace, GroupBy::Kind, GroupBy::Name],
        ] {
            assert_ne!(
                crate::store::query::source(by, &filter, buckets),
                crate::store::Source::Rows
            );
            let rolled = store.aggregate(by, &filter, buckets).await.unwrap();
            let spans = store
                .spans(by, &filter, buckets, crate::store::Source::Rows)
                .await
                .unwrap();
            let rows = crate::aggregate::aggregate(by, &spans, buckets);
            assert!(rolled.len() > 1, "{by:?}: several groups");
            assert_eq!(rolled.len(), rows.len(), "{by:?}");
            for (a, b) in rolled.iter().zip(&rows) {
                assert_eq!((&a.key, a.count), (&b.key, b.count), "totals agree");
                for (x, y) in a.buckets.iter().zip(&b.buckets) {
                    assert!((x.count - y.count).abs() <= 1, "{a:?} vs {b:?}");
                }
            }
        }
        let rolled = store
            .aggregate(&[GroupBy::Reason], &filter, buckets)
            .await
            .unwrap();
        // Everything inside the window is counted whole: 3 + 97 + 1000.
        assert_eq!(rolled[0].count, 1100);

        // A filter the rollup does not have falls back to the rows.
        let by_text = Filter {
            grep: Some("m".into()),
            ..filter.clone()
        };
        assert_eq!(
            crate::store::query::source(&[GroupBy::Reason], &by_text, buckets),
            crate::store::Source::Rows
        );
        assert_eq!(
            crate::store::query::source(&[GroupBy::Fingerprint], &filter, buckets),
            crate::store::Source::Rollup {
                table: "hourly_objects"
            }
        );
        let by_reason = Filter {
            reasons: vec!["BackOff".into()],
            ..filter.clone()
        };
        assert_eq!(
            crate::store::query::source(&[GroupBy::Fingerprint], &by_reason, buckets),
            crate::store::Source::Rows,
            "the object rollup has no reasons"
        );
        // Retention trims the rollup by whole hours.
        store
            .prune_chunk(Some(base + 46 * h + 1), 1000)
            .await
            .unwrap();
        let later = store
            .aggregate(&[GroupBy::Reason], &filter, buckets)
            .await
            .unwrap();
        assert!(
            later
                .iter()
                .all(|g| g.buckets[..7].iter().all(|b| b.count == 0))
        );
    }

    #[tokio::test]
    async fn an_older_store_is_migrated_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        version_one(&path);
        let mut store = SqliteStore::open(&path, Access::Write).await.unwrap();
        let version: String = store
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        let indexes: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('occurrences_event', 'occurrences_fingerprint')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexes, 0);
        let ledger: (String, i64) = store
            .conn
            .query_row(
                "SELECT resource_version, count FROM ledger WHERE key = 'c/u1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(ledger, ("9".to_string(), 7), "the ledger survives its move");
        let micro: i64 = store
            .conn
            .query_row("SELECT SUM(micro) FROM hourly", [], |r| r.get(0))
            .unwrap();
        assert_eq!(micro, 7_000_000, "the rollup is built from the old rows");
        let by_object: i64 = store
            .conn
            .query_row("SELECT SUM(micro) FROM hourly_objects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(by_object, 7_000_000, "and the rollup by object");
        let rows = core::query(&mut store.conn, &Filter::default(), None)
            .await
            .unwrap();
        assert_eq!(
            (rows.len(), rows[0].count),
            (1, 7),
            "the old data is still there"
        );
        drop(store);

        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path, Access::Write).await.err().unwrap();
        assert!(err.to_string().contains("schema 99"), "{err}");
    }
}
