//! What can go wrong with a store, and whether waiting can mend it.

/// A store could not do what was asked. Driver failures keep the driver's
/// error as their source; [`StoreError::is_transient`] tells a passing
/// failure (a lock held elsewhere, a connection lost, a server restarting)
/// from one that retrying cannot mend (a full disk, no permission, a schema
/// from a newer kplug).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Open { path: String, message: String },
    #[error(
        "the store was written by a newer kplug (schema {found}, this build knows {known}); upgrade kplug"
    )]
    TooNew { found: i64, known: i64 },
    #[error("SQLite: {source}")]
    Sqlite {
        #[source]
        source: rusqlite::Error,
    },
    #[error("PostgreSQL: {}", postgres_detail(.source))]
    Postgres {
        #[source]
        source: tokio_postgres::Error,
    },
    /// The connection pool could not hand out a connection in time.
    #[error("PostgreSQL: {source}")]
    Pool {
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// Something this store cannot do (a usage error).
    #[error("{0}")]
    Unsupported(String),
    /// kplug got its own rows wrong (a bug, never the database's doing).
    #[error("internal error: {0}")]
    Internal(String),
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

impl StoreError {
    /// Whether the same call may succeed later without anyone doing
    /// anything: another process's lock, a lost or refused connection, a
    /// server shutting down or starting, a serialisation conflict.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite { source } => sqlite_transient(source),
            StoreError::Postgres { source } => postgres_transient(source),
            // A pool that timed out waiting may have a connection later.
            StoreError::Pool { source } => {
                matches!(source, deadpool_postgres::PoolError::Timeout(_))
            }
            StoreError::Open { .. }
            | StoreError::TooNew { .. }
            | StoreError::Internal(_)
            | StoreError::Unsupported(_)
            | StoreError::Url(_)
            | StoreError::Missing { .. }
            | StoreError::NotAStore { .. }
            | StoreError::Outdated { .. } => false,
        }
    }
}

fn sqlite_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// SQLSTATEs that pass: connection exceptions (class 08), serialisation
/// failures and deadlocks (40001, 40P01), too many connections (53300),
/// and a server shutting down, crashed or still starting (57P01–57P03).
fn postgres_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08")
            || matches!(
                code,
                "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
            );
    }
    // No server error: the connection itself failed (refused, reset).
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// The server's own message where there is one (the outer text is
/// generic); otherwise the error with its causes, which say what failed
/// ("error performing TLS handshake: invalid peer certificate: …").
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(source: tokio_postgres::Error) -> Self {
        StoreError::Postgres { source }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    /// A failure to connect is the database's own error, classified as such.
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(source) => StoreError::Postgres { source },
            source => StoreError::Pool { source },
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        StoreError::Sqlite { source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite {
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        }
    }

    #[test]
    fn a_lock_passes_a_full_disk_does_not() {
        assert!(sqlite(rusqlite::ffi::SQLITE_BUSY).is_transient());
        assert!(sqlite(rusqlite::ffi::SQLITE_LOCKED).is_transient());
        assert!(!sqlite(rusqlite::ffi::SQLITE_FULL).is_transient());
        assert!(!sqlite(rusqlite::ffi::SQLITE_READONLY).is_transient());
        assert!(!sqlite(rusqlite::ffi::SQLITE_CORRUPT).is_transient());
        assert!(!StoreError::TooNew { found: 9, known: 3 }.is_transient());
    }

    #[test]
    fn the_driver_error_is_the_source() {
        let e = sqlite(rusqlite::ffi::SQLITE_FULL);
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.is::<rusqlite::Error>());
        assert!(e.to_string().starts_with("SQLite: "), "{e}");
    }
}
