//! The rows kplug writes and reads, as types. A table's columns, their
//! types and the cells of a row are declared once, side by side ([`Table`]);
//! rows read back go by column name through [`Read`], which each driver
//! implements once. Nothing indexes a row by position.

use std::collections::BTreeMap;

use crate::ledger::Seen;

use super::StoreError;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    /// An integer that may be NULL (times not known).
    OptInt(Option<i64>),
    /// A list of texts, bound as one array (where the dialect has arrays).
    Texts(Vec<String>),
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    OptInt,
}

impl Param {
    /// The column type a cell of this value fills (a list fills none).
    pub fn column_type(&self) -> Option<ColumnType> {
        match self {
            Param::Text(_) => Some(ColumnType::Text),
            Param::Int(_) => Some(ColumnType::Int),
            Param::OptInt(_) => Some(ColumnType::OptInt),
            Param::Texts(_) => None,
        }
    }
}

/// A table rows are inserted into.
pub trait Table {
    const NAME: &'static str;
    /// Its columns and what they hold, in the order of [`Table::cells`].
    const COLUMNS: &'static [(&'static str, ColumnType)];
    /// What inserting a row whose key exists does (`ON CONFLICT …`), or "".
    const CONFLICT: &'static str;
    /// The row's values, one per column.
    fn cells(&self) -> Vec<Param>;

    /// The column names, comma-separated.
    fn column_list() -> String {
        Self::COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A result row read by column name; each driver implements it once.
pub trait Read {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
}

const T: ColumnType = ColumnType::Text;
const I: ColumnType = ColumnType::Int;
const O: ColumnType = ColumnType::OptInt;

/// One stored occurrence row: an Event's state when it was recorded and
/// how many occurrences it added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub event_key: String,
    pub cluster: String,
    /// The regarding object's namespace (Events about cluster-scoped
    /// objects live in `default` but belong to no namespace).
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub object_uid: String,
    pub field_path: String,
    pub owner_root: String,
    pub reason: String,
    pub event_type: String,
    pub message: String,
    pub reporting_controller: String,
    pub node: String,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub occurrences: i64,
    pub category: String,
    pub severity: String,
    pub template: String,
    pub fingerprint: String,
    /// The whole object, on an Event's first row only (later rows repeat
    /// it but for what the other columns hold).
    pub raw: String,
}

impl Occurrence {
    /// A text column by its name (what rollups are keyed by).
    pub fn column(&self, name: &str) -> Option<&str> {
        Some(match name {
            "cluster" => &self.cluster,
            "namespace" => &self.namespace,
            "kind" => &self.kind,
            "name" => &self.name,
            "owner_root" => &self.owner_root,
            "reason" => &self.reason,
            "type" => &self.event_type,
            "node" => &self.node,
            "category" => &self.category,
            "severity" => &self.severity,
            "fingerprint" => &self.fingerprint,
            _ => return None,
        })
    }
}

impl Table for Occurrence {
    const NAME: &'static str = "occurrences";
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("event_key", T),
        ("cluster", T),
        ("namespace", T),
        ("kind", T),
        ("name", T),
        ("object_uid", T),
        ("field_path", T),
        ("owner_root", T),
        ("reason", T),
        ("type", T),
        ("message", T),
        ("reporting_controller", T),
        ("node", T),
        ("first_ms", O),
        ("last_ms", O),
        ("occurrences", I),
        ("category", T),
        ("severity", T),
        ("template", T),
        ("fingerprint", T),
        ("raw", T),
    ];
    const CONFLICT: &'static str = "";

    fn cells(&self) -> Vec<Param> {
        let text = |s: &String| Param::Text(s.clone());
        vec![
            text(&self.event_key),
            text(&self.cluster),
            text(&self.namespace),
            text(&self.kind),
            text(&self.name),
            text(&self.object_uid),
            text(&self.field_path),
            text(&self.owner_root),
            text(&self.reason),
            text(&self.event_type),
            text(&self.message),
            text(&self.reporting_controller),
            text(&self.node),
            Param::OptInt(self.first_ms),
            Param::OptInt(self.last_ms),
            Param::Int(self.occurrences),
            text(&self.category),
            text(&self.severity),
            text(&self.template),
            text(&self.fingerprint),
            text(&self.raw),
        ]
    }
}

/// An Event's ledger entry: what was last recorded of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub cluster: String,
    pub key: String,
    pub seen: Seen,
}

impl Table for LedgerEntry {
    const NAME: &'static str = "ledger";
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("cluster", T),
        ("key", T),
        ("resource_version", T),
        ("count", I),
        ("last_ms", O),
    ];
    /// Writing an entry replaces the one before.
    const CONFLICT: &'static str = "ON CONFLICT (cluster, key) DO UPDATE SET resource_version = excluded.resource_version, count = excluded.count, last_ms = excluded.last_ms";

    fn cells(&self) -> Vec<Param> {
        vec![
            Param::Text(self.cluster.clone()),
            Param::Text(self.key.clone()),
            Param::Text(self.seen.resource_version.clone()),
            Param::Int(i64::try_from(self.seen.count).unwrap_or(i64::MAX)),
            Param::OptInt(super::ms(self.seen.last_observed)),
        ]
    }
}

impl LedgerEntry {
    /// `SELECT` of the entries, for a `WHERE` to follow.
    pub const SELECT: &'static str =
        "SELECT cluster, key, resource_version, count, last_ms FROM ledger";

    pub fn read(r: &dyn Read) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            cluster: r.text("cluster")?,
            key: r.text("key")?,
            seen: Seen {
                resource_version: r.text("resource_version")?,
                count: u64::try_from(r.int("count")?).unwrap_or(0),
                last_observed: super::ts(r.opt_int("last_ms")?),
            },
        })
    }
}

/// A table of occurrences per hour (in millionths: a row's occurrences
/// are spread over the hours of its span) by some columns of the rows, kept
/// up to date at ingest so aggregates over days read hours, not rows.
pub trait Rollup: std::fmt::Debug + 'static {
    const NAME: &'static str;
    /// The occurrence columns it is kept by (and may be grouped by).
    const KEY: &'static [&'static str];
    /// `hour_ms`, the key, `micro`.
    const COLUMNS: &'static [(&'static str, ColumnType)];
    /// More of the same hour and key adds to it.
    const CONFLICT: &'static str;
}

/// By the low-cardinality columns: reason, type, node and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByLabels;

impl Rollup for ByLabels {
    const NAME: &'static str = "hourly";
    const KEY: &'static [&'static str] = &[
        "cluster",
        "namespace",
        "kind",
        "reason",
        "type",
        "category",
        "severity",
        "node",
    ];
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("hour_ms", I),
        ("cluster", T),
        ("namespace", T),
        ("kind", T),
        ("reason", T),
        ("type", T),
        ("category", T),
        ("severity", T),
        ("node", T),
        ("micro", I),
    ];
    const CONFLICT: &'static str = "ON CONFLICT (hour_ms, cluster, namespace, kind, reason, type, category, severity, node) DO UPDATE SET micro = hourly.micro + excluded.micro";
}

/// By object and fingerprint: what `--by name` and `--by fingerprint`
/// count. Repeats of an Event within an hour become one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByObject;

impl Rollup for ByObject {
    const NAME: &'static str = "hourly_objects";
    const KEY: &'static [&'static str] = &["fingerprint", "kind", "name", "cluster", "namespace"];
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("hour_ms", I),
        ("fingerprint", T),
        ("kind", T),
        ("name", T),
        ("cluster", T),
        ("namespace", T),
        ("micro", I),
    ];
    const CONFLICT: &'static str = "ON CONFLICT (hour_ms, fingerprint, kind, name, cluster) DO UPDATE SET micro = hourly_objects.micro + excluded.micro";
}

/// Occurrences of one hour and rollup key, in millionths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCell<R> {
    pub hour_ms: i64,
    /// Values of the rollup's [`Rollup::KEY`] columns, in that order.
    pub key: Vec<String>,
    pub micro: i64,
    pub rollup: std::marker::PhantomData<R>,
}

impl<R: Rollup> Table for HourlyCell<R> {
    const NAME: &'static str = R::NAME;
    const COLUMNS: &'static [(&'static str, ColumnType)] = R::COLUMNS;
    const CONFLICT: &'static str = R::CONFLICT;

    fn cells(&self) -> Vec<Param> {
        let mut cells = vec![Param::Int(self.hour_ms)];
        cells.extend(self.key.iter().cloned().map(Param::Text));
        cells.push(Param::Int(self.micro));
        cells
    }
}

/// An object by namespace, kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

/// What is known of an object events are about: its labels and its
/// controller, as the collector last read them.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub cluster: String,
    pub key: ObjectKey,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    /// `Kind/name` of the controlling owner, or empty.
    pub owner: String,
    pub seen_ms: i64,
}

impl Table for ObjectInfo {
    const NAME: &'static str = "objects";
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("cluster", T),
        ("namespace", T),
        ("kind", T),
        ("name", T),
        ("uid", T),
        ("labels", T),
        ("owner", T),
        ("seen_ms", I),
    ];
    /// An object read again replaces what was known.
    const CONFLICT: &'static str = "ON CONFLICT (cluster, namespace, kind, name) DO UPDATE SET uid = excluded.uid, labels = excluded.labels, owner = excluded.owner, seen_ms = excluded.seen_ms";

    fn cells(&self) -> Vec<Param> {
        vec![
            Param::Text(self.cluster.clone()),
            Param::Text(self.key.namespace.clone()),
            Param::Text(self.key.kind.clone()),
            Param::Text(self.key.name.clone()),
            Param::Text(self.uid.clone()),
            Param::Text(serde_json::to_string(&self.labels).unwrap_or_default()),
            Param::Text(self.owner.clone()),
            Param::Int(self.seen_ms),
        ]
    }
}

impl ObjectInfo {
    pub fn read(r: &dyn Read) -> Result<ObjectInfo, StoreError> {
        Ok(ObjectInfo {
            cluster: r.text("cluster")?,
            key: ObjectKey {
                namespace: r.text("namespace")?,
                kind: r.text("kind")?,
                name: r.text("name")?,
            },
            uid: r.text("uid")?,
            labels: serde_json::from_str(&r.text("labels")?).unwrap_or_default(),
            owner: r.text("owner")?,
            seen_ms: r.int("seen_ms")?,
        })
    }

    /// The rows to upsert for `objects`: each object once (the last wins),
    /// in key order.
    pub fn deduplicated(objects: &[ObjectInfo]) -> Vec<ObjectInfo> {
        let mut last = BTreeMap::new();
        for o in objects {
            last.insert((o.cluster.clone(), o.key.clone()), o);
        }
        last.into_values().cloned().collect()
    }

    /// `SELECT` of the known objects, optionally of one namespace (`{1}`).
    pub fn select(namespace: bool, placeholder: &dyn Fn(usize) -> String) -> String {
        format!(
            "SELECT {} FROM objects{} ORDER BY cluster, namespace, kind, name",
            Self::column_list(),
            if namespace {
                format!(" WHERE namespace = {}", placeholder(1))
            } else {
                String::new()
            }
        )
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…) conflict` for `rows` rows of
/// `T`, with `placeholder(n)` for the n-th value.
pub fn insert_sql<T: Table>(rows: usize, placeholder: &dyn Fn(usize) -> String) -> String {
    let width = T::COLUMNS.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| placeholder(r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {} {}",
        T::NAME,
        T::column_list(),
        values.join(", "),
        T::CONFLICT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table's cells match its declared columns, in number and type.
    fn agrees<T: Table>(row: &T) {
        let cells = row.cells();
        assert_eq!(cells.len(), T::COLUMNS.len(), "{}", T::NAME);
        for (cell, (name, kind)) in cells.iter().zip(T::COLUMNS) {
            assert_eq!(cell.column_type(), Some(*kind), "{}.{name}", T::NAME);
        }
    }

    #[test]
    fn cells_follow_the_declared_columns() {
        agrees(&Occurrence {
            event_key: "k".into(),
            cluster: "c".into(),
            namespace: "n".into(),
            kind: "Pod".into(),
            name: "p".into(),
            object_uid: "u".into(),
            field_path: String::new(),
            owner_root: "r".into(),
            reason: "BackOff".into(),
            event_type: "Warning".into(),
            message: "m".into(),
            reporting_controller: "kubelet".into(),
            node: "n1".into(),
            first_ms: Some(1),
            last_ms: None,
            occurrences: 2,
            category: "c".into(),
            severity: "s".into(),
            template: "t".into(),
            fingerprint: "f".into(),
            raw: "{}".into(),
        });
        agrees(&LedgerEntry {
            cluster: "c".into(),
            key: "c/k".into(),
            seen: Seen {
                resource_version: "1".into(),
                count: 3,
                last_observed: None,
            },
        });
        agrees(&HourlyCell::<ByLabels> {
            hour_ms: 0,
            key: vec![String::new(); ByLabels::KEY.len()],
            micro: 1,
            rollup: Default::default(),
        });
        agrees(&HourlyCell::<ByObject> {
            hour_ms: 0,
            key: vec![String::new(); ByObject::KEY.len()],
            micro: 1,
            rollup: Default::default(),
        });
        agrees(&ObjectInfo {
            cluster: "c".into(),
            key: ObjectKey {
                namespace: "n".into(),
                kind: "Pod".into(),
                name: "p".into(),
            },
            uid: "u".into(),
            labels: BTreeMap::new(),
            owner: String::new(),
            seen_ms: 1,
        });
    }

    #[test]
    fn every_rollup_key_is_an_occurrence_column() {
        let row = Occurrence {
            event_key: String::new(),
            cluster: "c".into(),
            namespace: String::new(),
            kind: String::new(),
            name: String::new(),
            object_uid: String::new(),
            field_path: String::new(),
            owner_root: String::new(),
            reason: String::new(),
            event_type: String::new(),
            message: String::new(),
            reporting_controller: String::new(),
            node: String::new(),
            first_ms: None,
            last_ms: None,
            occurrences: 1,
            category: String::new(),
            severity: String::new(),
            template: String::new(),
            fingerprint: String::new(),
            raw: String::new(),
        };
        for column in ByLabels::KEY.iter().chain(ByObject::KEY) {
            assert!(row.column(column).is_some(), "{column}");
            assert!(
                Occurrence::COLUMNS.iter().any(|(c, _)| c == column),
                "{column}"
            );
        }
        assert_eq!(row.column("cluster"), Some("c"));
    }

    #[test]
    fn inserts_name_every_column_once_per_row() {
        assert_eq!(
            insert_sql::<LedgerEntry>(2, &|n| format!("${n}")),
            format!(
                "INSERT INTO ledger (cluster, key, resource_version, count, last_ms) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) {}",
                LedgerEntry::CONFLICT
            )
        );
    }
}
