//! The PostgreSQL store, for many clusters and long history: the same
//! schema and SQL as SQLite, so the same queries give the same results.

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures::{TryStreamExt, pin_mut};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::StoreError;
use super::core::{self, Conn, Dialect};
use super::rows::{ColumnType, Param, Read, Table};
use super::{citus, schema, tls};

pub struct PostgresStore {
    /// Connections made again when the server closed them (restarts,
    /// failovers): a caller's statement then runs on a new one, or fails as
    /// before while the server is away.
    pool: Pool,
    /// The URL without its password, for messages.
    shown: String,
    /// The database is a Citus coordinator (the tables are distributed).
    citus: bool,
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

/// A cell as PostgreSQL binary: each variant checks the column's type
/// itself, so a text cell in a bigint column is an error, never garbage.
impl Param {
    /// The value inside, as the driver binds it.
    fn value(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Int(i) => i,
            Param::OptInt(i) => i,
            Param::Texts(t) => t,
        }
    }
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // The inner value's own `to_sql` is not callable through the trait
        // object; its checked form writes the same bytes.
        self.value().to_sql_checked(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty)
            || <i64 as ToSql>::accepts(ty)
            || <Vec<String> as ToSql>::accepts(ty)
    }

    /// Each variant checks the column's type itself.
    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.value().to_sql_checked(ty, out)
    }
}

/// The statement's parameters as the driver takes them.
fn refs(p: &[Param]) -> impl ExactSizeIterator<Item = &(dyn ToSql + Sync)> {
    p.iter().map(|p| p as &(dyn ToSql + Sync))
}

impl Read for tokio_postgres::Row {
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

/// Every cell of `rows` against its declared column type: a mismatch is
/// kplug's own bug, reported as such before anything is written.
fn checked<T: Table>(rows: &[T]) -> Result<Vec<Vec<Param>>, StoreError> {
    let cells: Vec<Vec<Param>> = rows.iter().map(Table::cells).collect();
    for row in &cells {
        for (cell, (column, kind)) in row.iter().zip(T::COLUMNS) {
            let fits = matches!(
                (cell.column_type(), kind),
                (Some(ColumnType::Text), ColumnType::Text)
                    | (
                        Some(ColumnType::Int | ColumnType::OptInt),
                        ColumnType::Int | ColumnType::OptInt
                    )
            );
            if !fits {
                return Err(StoreError::Internal(format!(
                    "a {} row has a cell of another type in column {column}",
                    T::NAME
                )));
            }
        }
    }
    Ok(cells)
}

fn wire_type(kind: ColumnType) -> Type {
    match kind {
        ColumnType::Text => Type::TEXT,
        ColumnType::Int | ColumnType::OptInt => Type::INT8,
    }
}

/// Append rows with binary `COPY`: the fastest way in, for a table whose
/// rows never meet an existing key.
async fn copy_in<T: Table>(client: &ClientWrapper, cells: &[Vec<Param>]) -> Result<(), StoreError> {
    let sink = client
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            T::NAME,
            T::column_list()
        ))
        .await?;
    let types: Vec<Type> = T::COLUMNS.iter().map(|(_, k)| wire_type(*k)).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for row in cells {
        writer
            .as_mut()
            .write(&refs(row).collect::<Vec<_>>())
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Upsert rows in one statement: each column goes as one array of its
/// declared type and `UNNEST` turns the arrays back into rows, which then
/// meet the table's `ON CONFLICT` (which `COPY` has not).
async fn upsert<T: Table>(client: &ClientWrapper, cells: &[Vec<Param>]) -> Result<(), StoreError> {
    let mut arrays: Vec<Box<dyn ToSql + Sync + '_>> = Vec::new();
    let mut casts = Vec::new();
    for (j, (_, kind)) in T::COLUMNS.iter().enumerate() {
        let n = j + 1;
        match kind {
            ColumnType::Text => {
                casts.push(format!("${n}::text[]"));
                // `checked` made every cell of a text column text.
                let column: Vec<Option<&str>> = cells
                    .iter()
                    .map(|r| match &r[j] {
                        Param::Text(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                arrays.push(Box::new(column));
            }
            ColumnType::Int | ColumnType::OptInt => {
                casts.push(format!("${n}::bigint[]"));
                let column: Vec<Option<i64>> = cells
                    .iter()
                    .map(|r| match &r[j] {
                        Param::Int(i) => Some(*i),
                        Param::OptInt(i) => *i,
                        Param::Text(_) | Param::Texts(_) => None,
                    })
                    .collect();
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
    let statement = client.prepare_cached(&sql).await?;
    let params: Vec<&(dyn ToSql + Sync)> = arrays
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    client.execute(&statement, &params).await?;
    Ok(())
}

/// Every kplug table with its indexes and TOAST, as SQLite's file size counts them.
/// The partitioned table itself holds nothing: its partitions are summed.
pub const USED_BYTES: &str = "SELECT CAST((SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = CAST('occurrences' AS regclass)) + pg_total_relation_size('ledger') + pg_total_relation_size('hourly') + pg_total_relation_size('hourly_objects') + pg_total_relation_size('objects') + pg_total_relation_size('incidents') + pg_total_relation_size('alerts') + pg_total_relation_size('outbox') + pg_total_relation_size('meta') AS BIGINT) AS bytes";

/// PostgreSQL's share of the store's SQL.
static POSTGRES: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    id_column: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    without_rowid: "",
    begin_write: "BEGIN",
    arrays: true,
    // One migrator at a time.
    migration_lock: Some("SELECT pg_advisory_xact_lock(7734001)"),
    lock_rows: " FOR UPDATE",
    partitioned: true,
    cluster_of_key: "split_part(key, '/', 1)",
};

impl Conn for ClientWrapper {
    fn dialect(&self) -> &'static Dialect {
        &POSTGRES
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.batch_execute(sql).await?)
    }

    async fn run(&mut self, sql: &str, p: &[Param]) -> Result<u64, StoreError> {
        let statement = self.prepare_cached(sql).await?;
        Ok(self.execute_raw(&statement, refs(p)).await?)
    }

    async fn each(
        &mut self,
        sql: &str,
        p: &[Param],
        row: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let statement = self.prepare_cached(sql).await?;
        let rows = self.query_raw(&statement, refs(p)).await?;
        pin_mut!(rows);
        while let Some(r) = rows.try_next().await? {
            row(&r)?;
        }
        Ok(())
    }

    async fn insert<T: Table>(&mut self, rows: &[T]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let cells = checked(rows)?;
        if T::CONFLICT.is_empty() {
            copy_in::<T>(self, &cells).await
        } else {
            upsert::<T>(self, &cells).await
        }
    }
}

/// Connections at most: one writer and a few readers.
const POOL_SIZE: usize = 4;

impl PostgresStore {
    /// Connect (with TLS as the URL's `sslmode` asks) and migrate, or for a
    /// reader check the schema.
    pub async fn open(url: &str, access: super::Access) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        let target = tls::target(url, &shown)?;
        let connector = tls::connector(&target)?;
        let manager = Manager::from_config(
            target.config,
            connector,
            ManagerConfig {
                // A closed connection is replaced; an open one is trusted.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Internal(format!("the connection pool: {e}")))?;
        let mut store = PostgresStore {
            pool,
            shown,
            citus: false,
        };
        let mut client = store.pool.get().await.map_err(|e| StoreError::Open {
            path: store.shown.clone(),
            message: StoreError::from(e).to_string(),
        })?;
        if access == super::Access::Read {
            store.check_schema(&mut client).await?;
        } else {
            core::migrate(&mut *client).await?;
        }
        store.citus = citus::installed(&mut *client).await?;
        if store.citus && access == super::Access::Write {
            citus::lay_out(&mut *client).await?;
        }
        drop(client);
        Ok(store)
    }

    /// For readers: the database must hold a current kplug store, and is not changed.
    async fn check_schema(&self, client: &mut Object) -> Result<(), StoreError> {
        let has_meta: bool = client
            .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
            .await?
            .get(0);
        let found = if has_meta {
            core::schema_version(&mut **client).await?
        } else {
            None
        };
        schema::check_readable(found, self.shown.clone(), |path| StoreError::Missing {
            path,
        })
    }

    /// A connection from the pool (made again if the server closed it).
    pub async fn conn(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether the database is a Citus coordinator.
    pub fn is_citus(&self) -> bool {
        self.citus
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
