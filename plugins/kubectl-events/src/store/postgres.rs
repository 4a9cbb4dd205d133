//! The PostgreSQL store, for many clusters and long history: the same
//! schema and SQL as SQLite, so the same queries give the same results.

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use super::StoreError;
use super::core::{self, Conn, Dialect};
use super::rows::{ColumnType, Param, Read, Table};
use super::schema;

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
                Param::Texts(t) => Box::new(t.clone()),
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

/// Insert `rows` in one statement: each column goes as one array of its
/// declared type, and `UNNEST` turns the arrays back into rows.
fn insert_all<T: Table>(client: &mut Client, rows: &[T]) -> Result<(), StoreError> {
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
                        Param::Text(_) | Param::Texts(_) => Err(mismatch()),
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
    client.execute(&sql, &refs(&arrays))?;
    Ok(())
}

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
    // Every kplug table with its indexes and TOAST, as SQLite's file size counts them.
    used_bytes: "SELECT CAST(pg_total_relation_size('occurrences') + pg_total_relation_size('ledger') + pg_total_relation_size('hourly') + pg_total_relation_size('objects') + pg_total_relation_size('meta') AS BIGINT) AS bytes",
};

impl Conn for Client {
    fn dialect(&self) -> &'static Dialect {
        &POSTGRES
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.batch_execute(sql)?)
    }

    fn run(&mut self, sql: &str, p: &[Param]) -> Result<u64, StoreError> {
        let owned = params(p);
        Ok(self.execute(sql, &refs(&owned))?)
    }

    fn each(
        &mut self,
        sql: &str,
        p: &[Param],
        row: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let owned = params(p);
        for r in self.query(sql, &refs(&owned))? {
            row(&r)?;
        }
        Ok(())
    }

    fn insert<T: Table>(&mut self, rows: &[T]) -> Result<(), StoreError> {
        insert_all(self, rows)
    }
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
            core::migrate(store.conn()?)?;
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
        let found = if has_meta {
            core::schema_version(client)?
        } else {
            None
        };
        schema::check_readable(found, shown, |path| StoreError::Missing { path })
    }

    /// The connection, made again if the server closed it: the caller's
    /// statement then runs on the new one, or fails as before while the
    /// server is away.
    pub fn conn(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = Client::connect(&self.url, NoTls)?;
        }
        Ok(&mut self.client)
    }

    pub fn shown(&self) -> &str {
        &self.shown
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
