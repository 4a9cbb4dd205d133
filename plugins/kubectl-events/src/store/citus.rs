//! Citus, PostgreSQL sharded across workers: when the database a store
//! opens has the extension, the store's tables are laid out for it. Every
//! table with a cluster is distributed by it and all are co-located, so
//! everything about one cluster — its occurrences, ledger, rollups and
//! objects — lives on one worker and a query with `--cluster-name` is
//! answered there; `meta` is a reference table (a copy on every node).
//! The SQL of the store does not change: the coordinator routes or fans
//! out each statement. Day partitions made later are distributed by Citus
//! itself, as partitions of a distributed table.

use super::StoreError;
use super::core::Conn;
use super::rows::Param;

/// The tables sharded by cluster, the first one anchoring the co-location
/// group the others join.
pub const BY_CLUSTER: [&str; 8] = [
    "occurrences",
    "ledger",
    "hourly",
    "hourly_objects",
    "objects",
    "incidents",
    "alerts",
    "outbox",
];

/// The small tables copied to every node.
pub const REFERENCE: [&str; 1] = ["meta"];

/// The column every distributed table is sharded by.
pub const COLUMN: &str = "cluster";

/// Serialises layouts between writers opening the store at once.
const LAYOUT_LOCK: &str = "SELECT pg_advisory_xact_lock(7734003)";

/// Whether the database has the Citus extension.
pub async fn installed<C: Conn>(c: &mut C) -> Result<bool, StoreError> {
    let mut found = false;
    c.each(
        "SELECT 1 AS one FROM pg_extension WHERE extname = 'citus'",
        &[],
        &mut |_| {
            found = true;
            Ok(())
        },
    )
    .await?;
    Ok(found)
}

/// The first column, `name`, of every row of `sql`.
async fn names<C: Conn>(c: &mut C, sql: &str) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    c.each(sql, &[], &mut |r| {
        names.push(r.text("name")?);
        Ok(())
    })
    .await?;
    Ok(names)
}

/// The store's tables Citus already manages.
async fn managed<C: Conn>(c: &mut C) -> Result<Vec<String>, StoreError> {
    names(
        c,
        "SELECT CAST(logicalrelid AS TEXT) AS name FROM pg_dist_partition",
    )
    .await
}

/// What [`lay_out`] changed: the tables it handed to Citus now (none when
/// the store was laid out before).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Laid {
    pub distributed: Vec<&'static str>,
    pub reference: Vec<&'static str>,
}

/// Distribute the store's tables that are not yet (a new store, or a
/// plain PostgreSQL store whose database gained Citus: its rows move to
/// the workers). Idempotent and safe against a writer doing the same.
pub async fn lay_out<C: Conn>(c: &mut C) -> Result<Laid, StoreError> {
    c.batch("BEGIN").await?;
    let laid = async {
        c.batch(LAYOUT_LOCK).await?;
        let done = managed(c).await?;
        let mut laid = Laid::default();
        for table in BY_CLUSTER {
            if done.iter().any(|d| d == table) {
                continue;
            }
            let anchor = BY_CLUSTER[0];
            let sql = if table == anchor {
                format!("SELECT create_distributed_table('{table}', '{COLUMN}')")
            } else {
                format!(
                    "SELECT create_distributed_table('{table}', '{COLUMN}', colocate_with => '{anchor}')"
                )
            };
            c.batch(&sql).await?;
            laid.distributed.push(table);
        }
        for table in REFERENCE {
            if !done.iter().any(|d| d == table) {
                c.batch(&format!("SELECT create_reference_table('{table}')"))
                    .await?;
                laid.reference.push(table);
            }
        }
        Ok::<_, StoreError>(laid)
    }
    .await;
    match laid {
        Ok(laid) => {
            c.batch("COMMIT").await?;
            if !laid.distributed.is_empty() {
                drop_local_copies(c).await?;
            }
            Ok(laid)
        }
        Err(e) => {
            let _ = c.batch("ROLLBACK").await;
            Err(e)
        }
    }
}

/// Distributing a table with rows copies them to the workers and leaves
/// the coordinator's own copy behind, unread; free its space.
async fn drop_local_copies<C: Conn>(c: &mut C) -> Result<(), StoreError> {
    let tables = names(
        c,
        "SELECT CAST(p.logicalrelid AS TEXT) AS name FROM pg_dist_partition p JOIN pg_class k ON k.oid = p.logicalrelid WHERE k.relkind = 'r' AND p.partmethod = 'h'",
    )
    .await?;
    for table in tables {
        c.run(
            "SELECT truncate_local_data_after_distributing_table(CAST(CAST($1 AS TEXT) AS regclass))",
            &[Param::Text(table)],
        )
        .await?;
    }
    Ok(())
}

/// Bytes the store takes on every node (what `--max-size` limits): each
/// shard's table, indexes and TOAST.
pub const USED_BYTES: &str =
    "SELECT CAST(COALESCE(SUM(shard_size), 0) AS BIGINT) AS bytes FROM citus_shards";
