//! `kubectl eventlog alerts`: the alerts the collector keeps, and with
//! `--notifications` what it sent (or is still trying to send) where.

use std::io::Write;

use kplug::cli::{KubectlArgs, TableFormat};
use kplug::output::table::{Cell, Table, TableOptions};
use kplug_eventlog::alerts::{AlertState, Notice};
use kplug_eventlog::store::Access;

use super::store::StoreArgs;

const EXAMPLES: &str = "\
Examples:
  # What is firing, pending and recently resolved
  kubectl eventlog alerts

  # Every notification, where it went and when (or why not yet)
  kubectl eventlog alerts --notifications -o wide";

/// The alerts the collector raised from incidents (rules under `alerts:`
/// in the --rules file of `collect`): firing, pending or resolved, each
/// with its group, occurrences and incidents
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// List the notifications instead: each sink's delivery, its attempts
    /// and the last failure (or the silence that held it back)
    #[arg(long)]
    pub notifications: bool,

    /// Only this cluster's
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Output format (default: a table); json and yaml print
    /// {"alerts": [...]} or {"notifications": [...]}
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<TableFormat>,
}

fn time(ms: Option<i64>) -> Option<jiff::Timestamp> {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
}

pub async fn run(kube: &KubectlArgs, args: Args) -> anyhow::Result<kplug::Code> {
    let mut store = args.store.open(Access::Read).await?;
    let cluster = args.cluster_name.as_deref();
    let mut out = std::io::stdout().lock();
    let structured = matches!(args.output, Some(TableFormat::Json | TableFormat::Yaml));
    let wide = args.output == Some(TableFormat::Wide);
    let options = TableOptions {
        no_headers: kube.no_headers,
        ..Default::default()
    };
    if args.notifications {
        let rows = store.outbox(cluster, None).await?;
        let mut docs = Vec::new();
        let mut t = Table::new(&if wide {
            vec![
                "ALERT", "GROUP", "STATUS", "SINK", "CREATED", "SENT", "ATTEMPTS", "NOTE",
            ]
        } else {
            vec![
                "ALERT", "GROUP", "STATUS", "SINK", "CREATED", "SENT", "ATTEMPTS",
            ]
        });
        for r in &rows {
            let notice: Option<Notice> = serde_json::from_str(&r.notice).ok();
            let (rule, group, status) = notice.as_ref().map_or(("?", "?", "?"), |n| {
                (
                    n.alert.rule.as_str(),
                    n.alert.group.as_str(),
                    n.status.as_str(),
                )
            });
            docs.push(serde_json::json!({
                "id": r.id,
                "cluster": r.cluster,
                "sink": r.sink,
                "alert": rule,
                "group": group,
                "status": status,
                "created": time(Some(r.created_ms)),
                "sent": time(r.sent_ms),
                "attempts": r.attempts,
                "note": r.note,
            }));
            let mut cells = vec![
                Cell::from(rule),
                Cell::from(group),
                Cell::from(status),
                Cell::from(r.sink.as_str()),
                Cell::from(kplug::output::age::age(time(Some(r.created_ms)))),
                Cell::from(match r.sent_ms {
                    Some(_) => kplug::output::age::age(time(r.sent_ms)),
                    None => "<pending>".to_string(),
                }),
                Cell::from(r.attempts.to_string()),
            ];
            if wide {
                cells.push(Cell::from(r.note.as_str()));
            }
            t.push(cells);
        }
        if structured {
            let doc = serde_json::json!({ "notifications": docs });
            kplug::output::format::write_document(
                args.output == Some(TableFormat::Json),
                &doc,
                &mut out,
            )?;
        } else if rows.is_empty() {
            eprintln!("No notifications found.");
        } else {
            t.render(options, &mut out)?;
        }
        return Ok(kplug::Code::Success);
    }
    let rows = store.alerts(cluster).await?;
    let mut alerts: Vec<AlertState> = Vec::new();
    for r in rows {
        match serde_json::from_str(&r.state) {
            Ok(a) => alerts.push(a),
            Err(e) => eprintln!("warning: alert {} {}: unreadable state: {e}", r.rule, r.grp),
        }
    }
    if structured {
        let doc = serde_json::json!({ "alerts": alerts });
        kplug::output::format::write_document(
            args.output == Some(TableFormat::Json),
            &doc,
            &mut out,
        )?;
        return Ok(kplug::Code::Success);
    }
    if alerts.is_empty() {
        eprintln!("No alerts found.");
        return Ok(kplug::Code::Success);
    }
    let mut headers = vec![
        "ALERT",
        "GROUP",
        "STATUS",
        "FIRST",
        "LAST",
        "OCCURRENCES",
        "ROUND",
    ];
    if wide {
        headers.push("SUMMARY");
    }
    let mut t = Table::new(&headers);
    for a in &alerts {
        let mut cells = vec![
            Cell::from(a.rule.as_str()),
            Cell::from(a.group.as_str()),
            Cell::from(a.status.as_str()),
            Cell::from(kplug::output::age::age(time(Some(a.first_ms)))),
            Cell::from(kplug::output::age::age(time(Some(a.last_ms)))),
            Cell::from(a.count.to_string()),
            Cell::from(a.round.to_string()),
        ];
        if wide {
            cells.push(Cell::from(
                a.annotations.get("summary").map_or("", String::as_str),
            ));
        }
        t.push(cells);
    }
    t.render(options, &mut out)?;
    let _ = out.flush();
    Ok(kplug::Code::Success)
}
