//! Which occurrences a query or aggregate looks at, rendered as a `WHERE`
//! clause whose every value is a bound parameter.

use jiff::Timestamp;

use crate::classify::{Category, Severity};

use super::rows::{ObjectKey, Param};

/// Which occurrences a query or aggregate looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// `KIND/NAME`, including what it owns (by owner root).
    pub for_object: Option<(String, String)>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub reasons: Vec<String>,
    pub event_type: Option<String>,
    pub categories: Vec<Category>,
    /// At least this severe.
    pub severity: Option<Severity>,
    pub node: Option<String>,
    pub cluster: Option<String>,
    /// Substring of the message, case-insensitive.
    pub grep: Option<String>,
    /// Only rows stored after this one (for following new events).
    pub after_id: Option<i64>,
    /// Only events about these objects (`-l`, resolved through the
    /// objects table); empty matches nothing.
    pub objects: Option<Vec<ObjectKey>>,
}

/// The kinds whose Pods (and ReplicaSets/Jobs) carry their name as owner root.
const OWNING_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// Whether what `kind` owns carries its name (`web` → `web-6d4f…`).
pub fn owns_by_name(kind: &str) -> bool {
    OWNING_KINDS.contains(&kind)
}

impl Filter {
    /// `WHERE …` (or empty) and its parameters; `placeholder(n)` writes the
    /// n-th (1-based) placeholder: `?` for SQLite, `$n` for PostgreSQL.
    pub fn to_sql(&self, placeholder: &dyn Fn(usize) -> String) -> (String, Vec<Param>) {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let mut bind = |p: Param| {
            params.push(p);
            placeholder(params.len())
        };
        if let Some(ns) = &self.namespace {
            clauses.push(format!("namespace = {}", bind(Param::Text(ns.clone()))));
        }
        if let Some((kind, name)) = &self.for_object {
            // Every row of the object and of what it owns shares its owner
            // root, which leads the index; what it owns is named after it.
            let root = crate::template::owner_root(kind, name);
            let mut c = format!(
                "owner_root = {} AND ((kind = {} AND name = {})",
                bind(Param::Text(root)),
                bind(Param::Text(kind.clone())),
                bind(Param::Text(name.clone()))
            );
            if owns_by_name(kind) {
                c += &format!(
                    " OR (kind IN ('Pod', 'ReplicaSet', 'Job') AND name LIKE {} ESCAPE '\\')",
                    bind(Param::Text(format!("{}-%", like_escape(name))))
                );
            }
            clauses.push(format!("({c}))"));
        }
        if let Some(t) = self.since {
            clauses.push(format!(
                "last_ms >= {}",
                bind(Param::Int(t.as_millisecond()))
            ));
        }
        if let Some(t) = self.until {
            clauses.push(format!(
                "first_ms <= {}",
                bind(Param::Int(t.as_millisecond()))
            ));
        }
        if !self.reasons.is_empty() {
            let list: Vec<String> = self
                .reasons
                .iter()
                .map(|r| bind(Param::Text(r.clone())))
                .collect();
            clauses.push(format!("reason IN ({})", list.join(", ")));
        }
        if let Some(t) = &self.event_type {
            clauses.push(format!("type = {}", bind(Param::Text(t.clone()))));
        }
        if !self.categories.is_empty() {
            let list: Vec<String> = self
                .categories
                .iter()
                .map(|c| bind(Param::Text(c.as_str().into())))
                .collect();
            clauses.push(format!("category IN ({})", list.join(", ")));
        }
        if let Some(min) = self.severity {
            let list: Vec<String> = Severity::ALL
                .into_iter()
                .filter(|s| *s >= min)
                .map(|s| bind(Param::Text(s.as_str().into())))
                .collect();
            clauses.push(format!("severity IN ({})", list.join(", ")));
        }
        if let Some(n) = &self.node {
            clauses.push(format!("node = {}", bind(Param::Text(n.clone()))));
        }
        if let Some(c) = &self.cluster {
            clauses.push(format!("cluster = {}", bind(Param::Text(c.clone()))));
        }
        if let Some(g) = &self.grep {
            clauses.push(format!(
                "LOWER(message) LIKE {} ESCAPE '\\'",
                bind(Param::Text(format!("%{}%", like_escape(&g.to_lowercase()))))
            ));
        }
        if let Some(objects) = &self.objects {
            if objects.is_empty() {
                clauses.push("1 = 0".into());
            } else {
                let list: Vec<String> = objects
                    .iter()
                    .map(|o| {
                        format!(
                            "({}, {}, {})",
                            bind(Param::Text(o.namespace.clone())),
                            bind(Param::Text(o.kind.clone())),
                            bind(Param::Text(o.name.clone()))
                        )
                    })
                    .collect();
                clauses.push(format!("(namespace, kind, name) IN ({})", list.join(", ")));
            }
        }
        if let Some(id) = self.after_id {
            clauses.push(format!("id > {}", bind(Param::Int(id))));
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, params)
    }
}

/// `text` matched literally inside a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
