//! Where occurrences are kept. SQLite and PostgreSQL share the schema and
//! the SQL built here, so the same query gives the same answer on both.
//!
//! - [`schema`]: the tables and their migrations;
//! - [`rows`]: the rows written and read, as types;
//! - [`plan`]: what a batch does to a store, decided without it;
//! - [`filter`] and [`query`]: the reading SQL, values always bound;
//! - [`core`]: what a store does, written once over a connection;
//! - [`sqlite`] and [`postgres`]: the drivers (connection, dialect, opening);
//! - [`citus`]: PostgreSQL's tables sharded by cluster, when it is Citus;
//! - [`info`]: what a store is made of.

pub mod citus;
pub mod core;
mod error;
pub mod filter;
pub mod info;
pub mod kept;
pub mod partitions;
pub mod plan;
pub mod postgres;
pub mod query;
pub mod rows;
pub mod schema;
pub mod sqlite;
pub mod tls;

use jiff::Timestamp;

pub use error::StoreError;
pub use filter::Filter;
pub use plan::{IngestStats, Plan, Pruned};
pub use query::{Buckets, EventRow, GroupBy, Source, Span};
pub use rows::{ObjectInfo, ObjectKey};
pub use schema::SCHEMA_VERSION;

/// Times are stored as Unix milliseconds in both databases.
fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.as_millisecond())
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|m| Timestamp::from_millisecond(m).ok())
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

/// `$body` with `$c` bound to the store's connection, whichever it is: the
/// work itself is written once, in [`core`].
macro_rules! on_conn {
    ($store:expr, $c:ident => $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                let $c = s.conn();
                $body.await
            }
            Store::Postgres(p) => {
                let mut pooled = p.conn().await?;
                let $c = &mut *pooled;
                $body.await
            }
        }
    };
}

/// Either store, chosen by URL.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(Box<postgres::PostgresStore>),
}

impl Store {
    /// `postgres://…` / `postgresql://…`, `sqlite:PATH` or a path (see
    /// [`Location::parse`]), for reading or for writing.
    pub async fn open(url: &str, access: Access) -> Result<Store, StoreError> {
        Ok(match Location::parse(url)? {
            Location::Postgres(url) => {
                Store::Postgres(Box::new(postgres::PostgresStore::open(&url, access).await?))
            }
            Location::Sqlite(path) => {
                Store::Sqlite(sqlite::SqliteStore::open(&path, access).await?)
            }
        })
    }

    /// Keep at most about `kib` KiB of the database's pages in this
    /// connection's memory (SQLite; PostgreSQL caches in the server). A
    /// second connection beside a collector's, as the incident tracker's,
    /// would otherwise hold another 64 MB.
    pub fn limit_cache(&mut self, kib: u32) -> Result<(), StoreError> {
        if let Store::Sqlite(s) = self {
            s.conn()
                .pragma_update(None, "cache_size", -i64::from(kib))?;
        }
        Ok(())
    }

    /// Where it is, for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(p) => p.shown().to_string(),
        }
    }

    pub async fn ingest(
        &mut self,
        batch: &[crate::record::Record],
    ) -> Result<IngestStats, StoreError> {
        on_conn!(self, c => core::ingest(c, batch))
    }

    pub async fn query(
        &mut self,
        filter: &Filter,
        limit: Option<usize>,
    ) -> Result<Vec<EventRow>, StoreError> {
        on_conn!(self, c => core::query(c, filter, limit))
    }

    /// Events per batch that suit a bulk load into this store. SQLite's
    /// writes cost the same in any batch size, so batches stay small and
    /// memory low; on PostgreSQL each batch also upserts every rollup cell
    /// its rows touch (an import of Events seen again a day later touches
    /// each key's 24 hours), so fewer, larger batches do the same work once.
    pub fn bulk_batch(&self) -> usize {
        match self {
            Store::Sqlite(_) => 10_000,
            Store::Postgres(_) => 50_000,
        }
    }

    /// Remember what is known of these objects.
    pub async fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError> {
        on_conn!(self, c => core::record_objects(c, objects))
    }

    /// The known objects (of one namespace).
    pub async fn objects(
        &mut self,
        namespace: Option<&str>,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        on_conn!(self, c => core::objects(c, namespace))
    }

    /// Whether the store holds Events of `cluster`.
    pub async fn holds_cluster(&mut self, cluster: &str) -> Result<bool, StoreError> {
        on_conn!(self, c => core::holds_cluster(c, cluster))
    }

    /// The newest row's id (0 when empty).
    pub async fn last_id(&mut self) -> Result<i64, StoreError> {
        on_conn!(self, c => core::last_id(c))
    }

    /// What the store takes on disk, all of it (what `--max-size` limits).
    pub async fn used_bytes(&mut self) -> Result<u64, StoreError> {
        let sql = self.used_bytes_sql();
        on_conn!(self, c => core::used_bytes(c, sql))
    }

    /// The statement measuring the store: the dialect's, or on Citus the
    /// shards' on every node (the coordinator's tables hold nothing).
    fn used_bytes_sql(&self) -> &'static str {
        match self {
            Store::Postgres(p) if p.is_citus() => citus::USED_BYTES,
            Store::Postgres(_) => postgres::USED_BYTES,
            Store::Sqlite(_) => sqlite::USED_BYTES,
        }
    }

    /// The database, tables, partitions and workers of the store.
    pub async fn info(&mut self) -> Result<info::StoreInfo, StoreError> {
        let store = self.describe();
        let bytes = self.used_bytes().await?;
        let (kind, citus) = match self {
            Store::Sqlite(_) => (info::Kind::Sqlite, false),
            Store::Postgres(p) if p.is_citus() => (info::Kind::Citus, true),
            Store::Postgres(_) => (info::Kind::Postgresql, false),
        };
        let schema_version = on_conn!(self, c => core::schema_version(c))?.unwrap_or(0);
        let (tables, partitions, workers) = match self {
            Store::Sqlite(_) => (
                info::TABLES
                    .iter()
                    .map(|name| info::TableInfo {
                        name: name.to_string(),
                        placement: info::Placement::Local,
                        distribution_column: None,
                        shards: None,
                        bytes: None,
                    })
                    .collect(),
                Vec::new(),
                Vec::new(),
            ),
            Store::Postgres(_) => on_conn!(self, c => info::postgres(c, citus))?,
        };
        Ok(info::StoreInfo {
            store,
            kind,
            schema_version,
            bytes,
            tables,
            partitions,
            workers,
        })
    }

    pub async fn prune_chunk(
        &mut self,
        cutoff_ms: Option<i64>,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        on_conn!(self, c => core::prune_chunk(c, cutoff_ms, chunk))
    }

    /// One step of retention: at most `chunk` rows, so a caller that also
    /// writes is never held up long. Returns what it deleted (no rows: done).
    pub async fn prune_step(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        if let Some(age) = policy.max_age_ms {
            let n = self
                .prune_chunk(Some(now_ms.saturating_sub(age)), chunk)
                .await?;
            if !n.is_empty() {
                return Ok(n);
            }
        }
        if let Some(max) = policy.max_bytes
            && self.used_bytes().await? > max
        {
            return self.prune_chunk(None, chunk).await;
        }
        Ok(Pruned::default())
    }

    /// See [`kept::incident_horizon`].
    pub async fn incident_horizon(
        &mut self,
        cluster: &str,
        from_ms: i64,
    ) -> Result<i64, StoreError> {
        on_conn!(self, c => kept::incident_horizon(c, cluster, from_ms))
    }

    /// See [`kept::keep_incidents`].
    pub async fn keep_incidents(
        &mut self,
        cluster: &str,
        horizon_ms: i64,
        incidents: &[kept::KeptIncident],
    ) -> Result<(), StoreError> {
        on_conn!(self, c => kept::keep_incidents(c, cluster, horizon_ms, incidents))
    }

    /// See [`kept::kept_incidents`].
    pub async fn kept_incidents(
        &mut self,
        cluster: Option<&str>,
        namespace: Option<&str>,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<Vec<kept::KeptIncident>, StoreError> {
        on_conn!(self, c => kept::kept_incidents(c, cluster, namespace, since_ms, until_ms))
    }

    /// See [`kept::alerts`].
    pub async fn alerts(
        &mut self,
        cluster: Option<&str>,
    ) -> Result<Vec<kept::AlertRow>, StoreError> {
        on_conn!(self, c => kept::alerts(c, cluster))
    }

    /// See [`kept::save_alerts`].
    pub async fn save_alerts(
        &mut self,
        cluster: &str,
        changed: &[kept::AlertRow],
        forgotten: &[(String, String)],
        outbox: &[kept::OutboxRow],
    ) -> Result<(), StoreError> {
        on_conn!(self, c => kept::save_alerts(c, cluster, changed, forgotten, outbox))
    }

    /// See [`kept::outbox`].
    pub async fn outbox(
        &mut self,
        cluster: Option<&str>,
        due_by_ms: Option<i64>,
    ) -> Result<Vec<kept::OutboxRow>, StoreError> {
        on_conn!(self, c => kept::outbox(c, cluster, due_by_ms))
    }

    /// See [`kept::outbox_attempted`].
    pub async fn outbox_attempted(&mut self, row: &kept::OutboxRow) -> Result<(), StoreError> {
        on_conn!(self, c => kept::outbox_attempted(c, row))
    }

    /// Compute the rollups again from the stored rows (after rows were
    /// written around the store, as the benchmark does).
    pub async fn rebuild_hourly(&mut self) -> Result<(), StoreError> {
        on_conn!(self, c => core::rebuild_hourly(c))
    }

    /// Occurrences per group and bucket: from a rollup when one can
    /// answer, else from the rows.
    pub async fn aggregate(
        &mut self,
        columns: &[GroupBy],
        filter: &Filter,
        buckets: Buckets,
    ) -> Result<Vec<crate::aggregate::Group>, StoreError> {
        let source = query::source(columns, filter, buckets);
        let spans = self.spans(columns, filter, buckets, source).await?;
        Ok(if source != Source::Rows {
            crate::aggregate::aggregate_micro(columns, &spans, buckets)
        } else {
            crate::aggregate::aggregate(columns, &spans, buckets)
        })
    }

    /// See [`query::spans_query`].
    pub async fn spans(
        &mut self,
        columns: &[GroupBy],
        filter: &Filter,
        buckets: Buckets,
        source: Source,
    ) -> Result<Vec<Span>, StoreError> {
        on_conn!(self, c => core::spans(c, columns, filter, buckets, source))
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
    use crate::classify::Severity;
    use rows::Param;

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
