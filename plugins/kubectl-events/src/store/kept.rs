//! What the collector keeps beside the occurrences: the incidents it
//! correlated as Events arrived, its alerts' states and the outbox of
//! notifications (schema version 6). Every statement names the cluster,
//! so on Citus each is answered by the one shard group holding it.

use super::StoreError;
use super::core::{Conn, in_transaction, rows};
use super::rows::{ColumnType, Param, Read, Table};

const T: ColumnType = ColumnType::Text;
const I: ColumnType = ColumnType::Int;
const O: ColumnType = ColumnType::OptInt;

/// An incident as the tracker stored it: the columns filtered on, and the
/// incident itself as JSON (what `incidents -o json` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptIncident {
    pub cluster: String,
    pub id: String,
    pub namespace: String,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The earliest last sighting of its Events: a tracker finding it
    /// again must read the store from there.
    pub reach_ms: i64,
    pub doc: String,
}

impl Table for KeptIncident {
    const NAME: &'static str = "incidents";
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("cluster", T),
        ("id", T),
        ("namespace", T),
        ("first_ms", I),
        ("last_ms", I),
        ("reach_ms", I),
        ("doc", T),
    ];
    const CONFLICT: &'static str = "ON CONFLICT (cluster, id) DO UPDATE SET namespace = excluded.namespace, first_ms = excluded.first_ms, last_ms = excluded.last_ms, reach_ms = excluded.reach_ms, doc = excluded.doc";
    fn cells(&self) -> Vec<Param> {
        vec![
            Param::Text(self.cluster.clone()),
            Param::Text(self.id.clone()),
            Param::Text(self.namespace.clone()),
            Param::Int(self.first_ms),
            Param::Int(self.last_ms),
            Param::Int(self.reach_ms),
            Param::Text(self.doc.clone()),
        ]
    }
}

impl KeptIncident {
    fn read(r: &dyn Read) -> Result<KeptIncident, StoreError> {
        Ok(KeptIncident {
            cluster: r.text("cluster")?,
            id: r.text("id")?,
            namespace: r.text("namespace")?,
            first_ms: r.int("first_ms")?,
            last_ms: r.int("last_ms")?,
            reach_ms: r.int("reach_ms")?,
            doc: r.text("doc")?,
        })
    }
}

/// One alert's state, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub cluster: String,
    pub rule: String,
    pub grp: String,
    pub state: String,
}

impl Table for AlertRow {
    const NAME: &'static str = "alerts";
    const COLUMNS: &'static [(&'static str, ColumnType)] =
        &[("cluster", T), ("rule", T), ("grp", T), ("state", T)];
    const CONFLICT: &'static str =
        "ON CONFLICT (cluster, rule, grp) DO UPDATE SET state = excluded.state";
    fn cells(&self) -> Vec<Param> {
        vec![
            Param::Text(self.cluster.clone()),
            Param::Text(self.rule.clone()),
            Param::Text(self.grp.clone()),
            Param::Text(self.state.clone()),
        ]
    }
}

/// A notification for one sink: due at `due_ms`, delivered at `sent_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub cluster: String,
    pub id: String,
    pub sink: String,
    pub created_ms: i64,
    pub due_ms: i64,
    pub attempts: i64,
    pub sent_ms: Option<i64>,
    /// The last failure, or why it was not sent (a silence).
    pub note: String,
    /// The notice, as JSON.
    pub notice: String,
}

impl Table for OutboxRow {
    const NAME: &'static str = "outbox";
    const COLUMNS: &'static [(&'static str, ColumnType)] = &[
        ("cluster", T),
        ("id", T),
        ("sink", T),
        ("created_ms", I),
        ("due_ms", I),
        ("attempts", I),
        ("sent_ms", O),
        ("note", T),
        ("notice", T),
    ];
    /// A notice written again (an evaluation repeated after a crash) is
    /// the same notice: the first one stands.
    const CONFLICT: &'static str = "ON CONFLICT (cluster, id) DO NOTHING";
    fn cells(&self) -> Vec<Param> {
        vec![
            Param::Text(self.cluster.clone()),
            Param::Text(self.id.clone()),
            Param::Text(self.sink.clone()),
            Param::Int(self.created_ms),
            Param::Int(self.due_ms),
            Param::Int(self.attempts),
            Param::OptInt(self.sent_ms),
            Param::Text(self.note.clone()),
            Param::Text(self.notice.clone()),
        ]
    }
}

impl OutboxRow {
    fn read(r: &dyn Read) -> Result<OutboxRow, StoreError> {
        Ok(OutboxRow {
            cluster: r.text("cluster")?,
            id: r.text("id")?,
            sink: r.text("sink")?,
            created_ms: r.int("created_ms")?,
            due_ms: r.int("due_ms")?,
            attempts: r.int("attempts")?,
            sent_ms: r.opt_int("sent_ms")?,
            note: r.text("note")?,
            notice: r.text("notice")?,
        })
    }
}

/// Where the tracker must start reading so that no incident it keeps is
/// cut: `from_ms`, or earlier, back to the reach of every kept incident
/// still going on then (and of those going on at theirs).
pub async fn incident_horizon<C: Conn>(
    c: &mut C,
    cluster: &str,
    from_ms: i64,
) -> Result<i64, StoreError> {
    let p = c.dialect().placeholder;
    let sql = format!(
        "SELECT CAST(COALESCE(MIN(reach_ms), {}) AS BIGINT) AS first FROM incidents WHERE cluster = {} AND last_ms >= {}",
        p(2),
        p(1),
        p(2)
    );
    let mut horizon = from_ms;
    // Incidents overlap in chains; a few steps reach the chain's start.
    for _ in 0..16 {
        let found = rows(
            c,
            &sql,
            &[Param::Text(cluster.to_string()), Param::Int(horizon)],
            |r| r.int("first"),
        )
        .await?;
        let next = found.first().copied().unwrap_or(horizon).min(horizon);
        if next == horizon {
            break;
        }
        horizon = next;
    }
    Ok(horizon)
}

/// Replace the cluster's incidents that reach back no further than
/// `horizon_ms` by `incidents` (found again over the Events since then),
/// in one transaction.
pub async fn keep_incidents<C: Conn>(
    c: &mut C,
    cluster: &str,
    horizon_ms: i64,
    incidents: &[KeptIncident],
) -> Result<(), StoreError> {
    let p = c.dialect().placeholder;
    in_transaction(c, async |c| {
        let sql = format!(
            "DELETE FROM incidents WHERE cluster = {} AND reach_ms >= {}",
            p(1),
            p(2)
        );
        c.run(
            &sql,
            &[Param::Text(cluster.to_string()), Param::Int(horizon_ms)],
        )
        .await?;
        c.insert(incidents).await
    })
    .await
}

/// The kept incidents active in `since..until` (of one cluster and one
/// namespace, when given), the latest first.
pub async fn kept_incidents<C: Conn>(
    c: &mut C,
    cluster: Option<&str>,
    namespace: Option<&str>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Vec<KeptIncident>, StoreError> {
    let p = c.dialect().placeholder;
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut bind = |column: &str, op: &str, v: Param| {
        params.push(v);
        clauses.push(format!("{column} {op} {}", p(params.len())));
    };
    if let Some(cl) = cluster {
        bind("cluster", "=", Param::Text(cl.to_string()));
    }
    if let Some(ns) = namespace {
        bind("namespace", "=", Param::Text(ns.to_string()));
    }
    if let Some(s) = since_ms {
        bind("last_ms", ">=", Param::Int(s));
    }
    if let Some(u) = until_ms {
        bind("first_ms", "<=", Param::Int(u));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {} FROM incidents{filter} ORDER BY last_ms DESC, id",
        KeptIncident::column_list()
    );
    rows(c, &sql, &params, KeptIncident::read).await
}

/// The alerts of a cluster, as stored.
pub async fn alerts<C: Conn>(
    c: &mut C,
    cluster: Option<&str>,
) -> Result<Vec<AlertRow>, StoreError> {
    let p = c.dialect().placeholder;
    let (filter, params) = match cluster {
        Some(cl) => (
            format!(" WHERE cluster = {}", p(1)),
            vec![Param::Text(cl.to_string())],
        ),
        None => (String::new(), Vec::new()),
    };
    let sql =
        format!("SELECT cluster, rule, grp, state FROM alerts{filter} ORDER BY cluster, rule, grp");
    rows(c, &sql, &params, |r| {
        Ok(AlertRow {
            cluster: r.text("cluster")?,
            rule: r.text("rule")?,
            grp: r.text("grp")?,
            state: r.text("state")?,
        })
    })
    .await
}

/// Save what an evaluation changed — alerts updated and forgotten, and
/// the notifications it caused — in one transaction, so that a collector
/// stopping in between neither loses a notification nor sends one twice.
pub async fn save_alerts<C: Conn>(
    c: &mut C,
    cluster: &str,
    changed: &[AlertRow],
    forgotten: &[(String, String)],
    outbox: &[OutboxRow],
) -> Result<(), StoreError> {
    let p = c.dialect().placeholder;
    in_transaction(c, async |c| {
        let sql = format!(
            "DELETE FROM alerts WHERE cluster = {} AND rule = {} AND grp = {}",
            p(1),
            p(2),
            p(3)
        );
        for (rule, grp) in forgotten {
            c.run(
                &sql,
                &[
                    Param::Text(cluster.to_string()),
                    Param::Text(rule.clone()),
                    Param::Text(grp.clone()),
                ],
            )
            .await?;
        }
        if !changed.is_empty() {
            c.insert(changed).await?;
        }
        if !outbox.is_empty() {
            c.insert(outbox).await?;
        }
        Ok(())
    })
    .await
}

/// The cluster's notifications: those not yet sent and due by `now_ms`
/// (oldest first), or with `now_ms` `None` every one (newest first).
pub async fn outbox<C: Conn>(
    c: &mut C,
    cluster: Option<&str>,
    due_by_ms: Option<i64>,
) -> Result<Vec<OutboxRow>, StoreError> {
    let p = c.dialect().placeholder;
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(cl) = cluster {
        params.push(Param::Text(cl.to_string()));
        clauses.push(format!("cluster = {}", p(params.len())));
    }
    let order = match due_by_ms {
        Some(now) => {
            params.push(Param::Int(now));
            clauses.push(format!("sent_ms IS NULL AND due_ms <= {}", p(params.len())));
            "created_ms, id"
        }
        None => "created_ms DESC, id",
    };
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {} FROM outbox{filter} ORDER BY {order}",
        OutboxRow::column_list()
    );
    rows(c, &sql, &params, OutboxRow::read).await
}

/// Record a delivery attempt's outcome.
pub async fn outbox_attempted<C: Conn>(c: &mut C, row: &OutboxRow) -> Result<(), StoreError> {
    let p = c.dialect().placeholder;
    let sql = format!(
        "UPDATE outbox SET due_ms = {}, attempts = {}, sent_ms = {}, note = {} WHERE cluster = {} AND id = {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    );
    c.run(
        &sql,
        &[
            Param::Int(row.due_ms),
            Param::Int(row.attempts),
            Param::OptInt(row.sent_ms),
            Param::Text(row.note.clone()),
            Param::Text(row.cluster.clone()),
            Param::Text(row.id.clone()),
        ],
    )
    .await?;
    Ok(())
}

/// Retention: incidents over before the cutoff, and notifications
/// delivered before it.
pub async fn prune<C: Conn>(c: &mut C, cutoff_ms: i64) -> Result<(), StoreError> {
    let p = c.dialect().placeholder;
    c.run(
        &format!("DELETE FROM incidents WHERE last_ms < {}", p(1)),
        &[Param::Int(cutoff_ms)],
    )
    .await?;
    c.run(
        &format!(
            "DELETE FROM outbox WHERE sent_ms IS NOT NULL AND sent_ms < {}",
            p(1)
        ),
        &[Param::Int(cutoff_ms)],
    )
    .await?;
    Ok(())
}
