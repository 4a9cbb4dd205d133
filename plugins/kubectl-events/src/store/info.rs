//! What a store is made of, for `kubectl eventlog store info`: its kind,
//! tables, day partitions and (on Citus) shards and workers, with sizes.

use serde::Serialize;

use super::StoreError;
use super::citus;
use super::core::Conn;
use super::partitions::Day;

/// The database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sqlite,
    Postgresql,
    Citus,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgresql => "postgresql",
            Kind::Citus => "citus",
        }
    }
}

/// How a table is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// In the one database (SQLite, PostgreSQL, or Citus's coordinator).
    Local,
    /// Sharded by cluster across the workers.
    Distributed,
    /// Copied to every node.
    Reference,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    pub name: String,
    pub placement: Placement,
    /// The column it is sharded by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution_column: Option<String>,
    /// Shards (a day partition of occurrences has as many again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u64>,
    /// Table, indexes and TOAST, where the database tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionInfo {
    pub name: String,
    /// The day's first instant (UTC).
    pub day: jiff::Timestamp,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    /// `host:port`.
    pub node: String,
    pub shards: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    /// Where it is (no password).
    pub store: String,
    pub kind: Kind,
    pub schema_version: i64,
    /// All of it (what `--max-size` limits).
    pub bytes: u64,
    pub tables: Vec<TableInfo>,
    pub partitions: Vec<PartitionInfo>,
    pub workers: Vec<WorkerInfo>,
}

/// The store's tables, for SQLite (which tells no sizes per table cheaply).
pub const TABLES: [&str; 9] = [
    "occurrences",
    "ledger",
    "hourly",
    "hourly_objects",
    "objects",
    "incidents",
    "alerts",
    "outbox",
    "meta",
];

/// The tables of a plain PostgreSQL store, with sizes (a partitioned
/// table's are its partitions').
const POSTGRES_TABLES: &str = "SELECT CAST(c.relname AS TEXT) AS name, CAST(CASE WHEN c.relkind = 'p' THEN (SELECT COALESCE(SUM(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i WHERE i.inhparent = c.oid) ELSE pg_total_relation_size(c.oid) END AS BIGINT) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = ANY($1) ORDER BY 1";

const POSTGRES_PARTITIONS: &str = "SELECT CAST(c.relname AS TEXT) AS name, CAST(pg_total_relation_size(c.oid) AS BIGINT) AS bytes FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST('occurrences' AS regclass) ORDER BY 1";

/// Citus's shards of every table, per table (partitions by name).
const CITUS_TABLES: &str = "SELECT CAST(s.table_name AS TEXT) AS name, CAST(s.citus_table_type AS TEXT) AS type, CAST(COALESCE(t.distribution_column, '') AS TEXT) AS column, CAST(COUNT(*) AS BIGINT) AS shards, CAST(SUM(s.shard_size) AS BIGINT) AS bytes FROM citus_shards s JOIN citus_tables t ON t.table_name = s.table_name GROUP BY 1, 2, 3 ORDER BY 1";

const CITUS_WORKERS: &str = "SELECT CAST(nodename || ':' || nodeport AS TEXT) AS node, CAST(COUNT(*) AS BIGINT) AS shards, CAST(SUM(shard_size) AS BIGINT) AS bytes FROM citus_shards GROUP BY 1 ORDER BY 1";

/// The day partition a table is, if it is one.
fn partition(name: &str, bytes: u64) -> Option<PartitionInfo> {
    let day = Day::parse(name)?;
    Some(PartitionInfo {
        name: name.to_string(),
        day: jiff::Timestamp::from_millisecond(day.from_ms).ok()?,
        bytes,
    })
}

/// A Citus table into `tables`: the partitions of occurrences are folded
/// into it (and listed in `partitions`).
fn sort_table(info: TableInfo, tables: &mut Vec<TableInfo>, partitions: &mut Vec<PartitionInfo>) {
    let bytes = info.bytes.unwrap_or(0);
    let day = partition(&info.name, bytes);
    let folded = day.is_some() || info.name == "occurrences_default";
    partitions.extend(day);
    let info = if folded {
        TableInfo {
            name: citus::BY_CLUSTER[0].to_string(),
            // A partition's shards mirror its table's: the table counts once.
            shards: None,
            ..info
        }
    } else {
        info
    };
    match tables.iter_mut().find(|t| t.name == info.name) {
        Some(t) => {
            t.shards = add(t.shards, info.shards);
            t.bytes = add(t.bytes, info.bytes);
        }
        None => tables.push(info),
    }
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Tables, partitions and workers of a PostgreSQL database, with or
/// without Citus.
pub async fn postgres<C: Conn>(
    c: &mut C,
    citus: bool,
) -> Result<(Vec<TableInfo>, Vec<PartitionInfo>, Vec<WorkerInfo>), StoreError> {
    let (mut tables, mut partitions, mut workers) = (Vec::new(), Vec::new(), Vec::new());
    if citus {
        c.each(CITUS_TABLES, &[], &mut |r| {
            let placement = match r.text("type")?.as_str() {
                "reference" => Placement::Reference,
                "distributed" => Placement::Distributed,
                _ => Placement::Local,
            };
            let column = r.text("column")?;
            let info = TableInfo {
                name: r.text("name")?,
                placement,
                distribution_column: (!column.is_empty() && column != "<none>").then_some(column),
                shards: Some(unsigned(r.int("shards")?)),
                bytes: Some(unsigned(r.int("bytes")?)),
            };
            sort_table(info, &mut tables, &mut partitions);
            Ok(())
        })
        .await?;
        c.each(CITUS_WORKERS, &[], &mut |r| {
            workers.push(WorkerInfo {
                node: r.text("node")?,
                shards: unsigned(r.int("shards")?),
                bytes: unsigned(r.int("bytes")?),
            });
            Ok(())
        })
        .await?;
    } else {
        let names: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        c.each(
            POSTGRES_TABLES,
            &[super::rows::Param::Texts(names)],
            &mut |r| {
                tables.push(TableInfo {
                    name: r.text("name")?,
                    placement: Placement::Local,
                    distribution_column: None,
                    shards: None,
                    bytes: Some(unsigned(r.int("bytes")?)),
                });
                Ok(())
            },
        )
        .await?;
        c.each(POSTGRES_PARTITIONS, &[], &mut |r| {
            partitions.extend(partition(&r.text("name")?, unsigned(r.int("bytes")?)));
            Ok(())
        })
        .await?;
    }
    partitions.sort_by_key(|p| p.day);
    Ok((tables, partitions, workers))
}
