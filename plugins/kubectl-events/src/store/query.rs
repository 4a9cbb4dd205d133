//! The reading SQL: Events for `query`, spans for `aggregate` (from the
//! rows or from the hourly rollup), and how their rows are read back.

use jiff::Timestamp;
use serde::Serialize;

use super::StoreError;
use super::filter::Filter;
use super::rows::{ByLabels, ByObject, Param, Read, Rollup};

/// One Event as a query shows it: its latest state and every occurrence
/// recorded in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub field_path: String,
    pub reason: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub message: String,
    pub reporting_controller: String,
    pub node: String,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub count: i64,
    pub category: String,
    pub severity: String,
    pub fingerprint: String,
    /// The controller at the top of the object's owner chain, as the
    /// collector read it (for incidents; not part of the query's output).
    #[serde(skip)]
    pub owner_root: String,
}

impl EventRow {
    pub fn read(r: &dyn Read) -> Result<EventRow, StoreError> {
        Ok(EventRow {
            cluster: r.text("cluster")?,
            namespace: r.text("namespace")?,
            kind: r.text("kind")?,
            name: r.text("name")?,
            field_path: r.text("field_path")?,
            reason: r.text("reason")?,
            event_type: r.text("type")?,
            message: r.text("message")?,
            reporting_controller: r.text("reporting_controller")?,
            node: r.text("node")?,
            first_seen: super::ts(r.opt_int("first_ms")?),
            last_seen: super::ts(r.opt_int("last_ms")?),
            count: r.int("total")?,
            category: r.text("category")?,
            severity: r.text("severity")?,
            fingerprint: r.text("fingerprint")?,
            owner_root: r.text("owner_root")?,
        })
    }
}

/// The rows [`EventRow::read`] reads: the latest row `o` of each Event and
/// its group `g`. An Event is its key within its cluster; grouping and
/// joining on the cluster too lets a store sharded by cluster answer each
/// shard's part by itself. `outer_where` filters `o` too: with one cluster
/// named there, the whole statement touches that cluster's shard only.
pub fn query_sql(where_sql: &str, outer_where: &str, limit: Option<usize>) -> String {
    format!(
        "SELECT o.cluster AS cluster, o.namespace AS namespace, o.kind AS kind, o.name AS name,
                o.field_path AS field_path, o.reason AS reason, o.type AS type, o.message AS message,
                o.reporting_controller AS reporting_controller, o.node AS node, g.first_ms AS first_ms,
                g.last_ms AS last_ms, g.total AS total, o.category AS category, o.severity AS severity,
                o.fingerprint AS fingerprint, o.owner_root AS owner_root
         FROM occurrences o JOIN (
             SELECT cluster, event_key, MAX(id) AS id, CAST(SUM(occurrences) AS BIGINT) AS total, MIN(first_ms) AS first_ms, MAX(last_ms) AS last_ms
             FROM occurrences {where_sql} GROUP BY cluster, event_key) g ON o.cluster = g.cluster AND o.id = g.id
         {outer_where}
         ORDER BY g.last_ms DESC, o.id DESC{}",
        limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
    )
}

/// A slice of occurrences for aggregation: the group columns asked for,
/// the time span and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub key: Vec<String>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub occurrences: i64,
}

impl Span {
    /// A row of [`spans_query`] grouped by `columns`.
    pub fn read(r: &dyn Read, columns: &[GroupBy]) -> Result<Span, StoreError> {
        Ok(Span {
            key: columns
                .iter()
                .map(|c| r.text(c.column()))
                .collect::<Result<_, _>>()?,
            first_ms: r.opt_int("span_first")?,
            last_ms: r.opt_int("span_last")?,
            occurrences: r.int("span_occurrences")?,
        })
    }
}

/// What `--by` may group on; each is the column of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupBy {
    Reason,
    Kind,
    Namespace,
    Category,
    Severity,
    Node,
    Fingerprint,
    Type,
    Cluster,
    Name,
    /// The controller at the top of the object's owner chain.
    Owner,
}

impl GroupBy {
    pub const ALL: [GroupBy; 11] = [
        GroupBy::Reason,
        GroupBy::Kind,
        GroupBy::Namespace,
        GroupBy::Category,
        GroupBy::Severity,
        GroupBy::Node,
        GroupBy::Fingerprint,
        GroupBy::Type,
        GroupBy::Cluster,
        GroupBy::Name,
        GroupBy::Owner,
    ];

    /// The column, which is also the name `--by` takes and output shows.
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Reason => "reason",
            GroupBy::Kind => "kind",
            GroupBy::Namespace => "namespace",
            GroupBy::Category => "category",
            GroupBy::Severity => "severity",
            GroupBy::Node => "node",
            GroupBy::Fingerprint => "fingerprint",
            GroupBy::Type => "type",
            GroupBy::Cluster => "cluster",
            GroupBy::Name => "name",
            GroupBy::Owner => "owner_root",
        }
    }

    pub fn parse(name: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.column() == name)
    }

    /// Whether the rollup `R` is kept by this column.
    fn in_rollup<R: Rollup>(self) -> bool {
        R::KEY.contains(&self.column())
    }
}

/// `a, b` of the group columns, or `'' AS nothing` for no grouping.
fn select_list(columns: &[GroupBy]) -> String {
    if columns.is_empty() {
        "'' AS nothing".to_string()
    } else {
        columns
            .iter()
            .map(|c| c.column())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `a, b, ` to lead a `GROUP BY`, or nothing.
fn group_list(columns: &[GroupBy]) -> String {
    columns
        .iter()
        .map(|c| format!("{}, ", c.column()))
        .collect()
}

/// The time buckets an aggregate counts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub start_ms: i64,
    pub end_ms: i64,
    pub window_ms: i64,
}

/// Spans to aggregate. Rows whose whole span lies in one bucket — nearly
/// all of them — are summed by the database per group and bucket (as one
/// span at the bucket's first such time); only rows spanning buckets come
/// back one by one to be spread. `where_sql`'s numbered placeholders are
/// used twice.
fn span_sql(columns: &[GroupBy], where_sql: &str, b: Buckets) -> String {
    let cols = select_list(columns);
    let group = group_list(columns);
    let Buckets {
        start_ms: s,
        end_ms: e,
        window_ms: w,
    } = b;
    let w = w.max(1);
    let first = "COALESCE(first_ms, last_ms)";
    let one = format!(
        "last_ms IS NOT NULL AND {first} >= {s} AND last_ms < {e} AND ({first} - {s}) / {w} = (last_ms - {s}) / {w}"
    );
    let and = if where_sql.is_empty() { "WHERE" } else { "AND" };
    format!(
        "SELECT {cols}, first_ms AS span_first, last_ms AS span_last, occurrences AS span_occurrences FROM occurrences {where_sql} {and} NOT ({one})
         UNION ALL
         SELECT {cols}, MIN(last_ms), MIN(last_ms), CAST(SUM(occurrences) AS BIGINT) FROM occurrences {where_sql} {and} {one}
         GROUP BY {group}(last_ms - {s}) / {w}"
    )
}

impl Buckets {
    /// The buckets of `window_ms` covering `since_ms..until_ms`. Windows of
    /// whole hours are aligned to the hour (the last bucket ends at the
    /// next full hour), which lets aggregates read the hourly rollup.
    pub fn covering(since_ms: i64, until_ms: i64, window_ms: i64) -> Buckets {
        let window_ms = window_ms.max(1);
        // `--since 7d` is read a moment before `until`: round the span to
        // whole seconds so 7d in 1d windows is 7 buckets, not 8.
        let span_ms = (until_ms - since_ms + 500) / 1000 * 1000;
        if window_ms % crate::aggregate::HOUR == 0 {
            // As many buckets, moved forward to end on the next full hour.
            let end = crate::aggregate::hour_of(until_ms - 1) + crate::aggregate::HOUR;
            let n = (span_ms.max(1) + window_ms - 1) / window_ms;
            return Buckets {
                start_ms: end - n * window_ms,
                end_ms: end,
                window_ms,
            };
        }
        Buckets {
            start_ms: until_ms - span_ms,
            end_ms: until_ms,
            window_ms,
        }
    }

    /// Whether these buckets are whole hours of the hourly rollup.
    fn hourly(&self) -> bool {
        let h = crate::aggregate::HOUR;
        self.window_ms % h == 0 && self.start_ms.rem_euclid(h) == 0
    }
}

/// Where an aggregate is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The stored rows (what any filter and grouping can use).
    Rows,
    /// A rollup table: hours by its key columns.
    Rollup { table: &'static str },
}

impl Source {
    fn rollup<R: Rollup>() -> Source {
        Source::Rollup { table: R::NAME }
    }
}

/// Where an aggregate can be counted from: a rollup when the buckets are
/// whole hours and it keeps every column grouped by and filtered on, else
/// the rows.
pub fn source(columns: &[GroupBy], filter: &Filter, buckets: Buckets) -> Source {
    let hours = buckets.hourly()
        && filter.for_object.is_none()
        && filter.grep.is_none()
        && filter.after_id.is_none()
        && filter.objects.is_none();
    if !hours {
        return Source::Rows;
    }
    if columns.iter().all(|c| c.in_rollup::<ByLabels>()) {
        return Source::rollup::<ByLabels>();
    }
    // The object rollup has no labels to filter on.
    let by_labels = filter.reasons.is_empty()
        && filter.event_type.is_none()
        && filter.categories.is_empty()
        && filter.severity.is_none()
        && filter.node.is_none();
    if by_labels && columns.iter().all(|c| c.in_rollup::<ByObject>()) {
        return Source::rollup::<ByObject>();
    }
    Source::Rows
}

/// The query for spans to aggregate, `(SQL, parameters)`: rows are the
/// group columns, the first and last time and the occurrences — from the
/// rows, or from a rollup (an hour as a span of one instant, in
/// micro-occurrences).
pub fn spans_query(
    columns: &[GroupBy],
    filter: &Filter,
    buckets: Buckets,
    source: Source,
    placeholder: &dyn Fn(usize) -> String,
) -> (String, Vec<Param>) {
    match source {
        Source::Rollup { table } => hourly_sql(table, columns, filter, buckets, placeholder),
        Source::Rows => {
            let (where_sql, params) = filter.to_sql(placeholder);
            (span_sql(columns, &where_sql, buckets), params)
        }
    }
}

/// The rollup's hours of `buckets` grouped by `columns`, with the filter's
/// rollup clauses: `(SQL, parameters)`.
fn hourly_sql(
    table: &str,
    columns: &[GroupBy],
    filter: &Filter,
    buckets: Buckets,
    placeholder: &dyn Fn(usize) -> String,
) -> (String, Vec<Param>) {
    let only = Filter {
        namespace: filter.namespace.clone(),
        reasons: filter.reasons.clone(),
        event_type: filter.event_type.clone(),
        categories: filter.categories.clone(),
        severity: filter.severity,
        cluster: filter.cluster.clone(),
        node: filter.node.clone(),
        ..Default::default()
    };
    let (where_sql, mut params) = only.to_sql(placeholder);
    let n = params.len();
    params.push(Param::Int(buckets.start_ms));
    params.push(Param::Int(buckets.end_ms));
    let time = format!(
        "hour_ms >= {} AND hour_ms < {}",
        placeholder(n + 1),
        placeholder(n + 2)
    );
    let where_sql = if where_sql.is_empty() {
        format!("WHERE {time}")
    } else {
        format!("{where_sql} AND {time}")
    };
    let cols = select_list(columns);
    // The hour first: a rollup's key starts with it, so a grouping that
    // follows its key needs no sort.
    let by: String = columns
        .iter()
        .map(|c| format!(", {}", c.column()))
        .collect();
    (
        format!(
            "SELECT {cols}, hour_ms AS span_first, hour_ms AS span_last, CAST(SUM(micro) AS BIGINT) AS span_occurrences FROM {table} {where_sql} GROUP BY hour_ms{by}"
        ),
        params,
    )
}
