//! What can go wrong with a store.

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
