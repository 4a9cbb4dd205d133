//! The timeline report: one self-contained HTML page (inline CSS, SVG and
//! a little script; nothing fetched) with a lane per object down the owner
//! chain, each Event a bar over its span with its occurrence density, the
//! incidents' cause→effect arrows, and the same as tables. Readable without
//! JavaScript; with it, hovering a bar names it and a click on a reason
//! hides or shows it. Built without I/O from the rows a query returns.

use std::fmt::Write;

use jiff::Timestamp;

use crate::incidents::Incident;
use crate::store::EventRow;

/// What the page is about, for its title.
#[derive(Debug, Clone)]
pub struct Subject {
    pub title: String,
    pub since: Timestamp,
    pub until: Timestamp,
}

/// A lane: the object's kind, namespace and name, and the reason.
pub type Lane = (String, String, String, String);

/// Occurrences per time bucket of each lane, a count per bucket of
/// [`Density::bucket_ms`] from `since`.
#[derive(Debug, Clone, Default)]
pub struct Density {
    pub bucket_ms: i64,
    pub lanes: Vec<(Lane, Vec<i64>)>,
}

/// `text` safe inside HTML text and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `max` characters with an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{kept}…")
}

/// Lanes top to bottom: workloads first, then ReplicaSets and Jobs, then
/// Pods, then the rest (Nodes, volumes), each by name.
fn lane_order(kind: &str) -> u8 {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" => 0,
        "ReplicaSet" | "Job" => 1,
        "Pod" => 2,
        _ => 3,
    }
}

/// A stable colour per reason, red for Warnings' and blue for the rest.
fn colour(reason: &str, warning: bool) -> String {
    let h = reason
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    if warning {
        format!("hsl({}, 70%, 50%)", h % 50)
    } else {
        format!("hsl({}, 55%, 50%)", 190 + h % 60)
    }
}

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 330.0;
const LANE: f64 = 26.0;
const TOP: f64 = 40.0;

/// The page.
pub fn render(
    subject: &Subject,
    rows: &[EventRow],
    incidents: &[Incident],
    density: &Density,
) -> String {
    let (t0, t1) = (
        subject.since.as_millisecond(),
        subject
            .until
            .as_millisecond()
            .max(subject.since.as_millisecond() + 1),
    );
    let x = |t: Option<Timestamp>| {
        let ms = t.map_or(t0, |t| t.as_millisecond()).clamp(t0, t1);
        LABEL + (ms - t0) as f64 / (t1 - t0) as f64 * (WIDTH - LABEL - 10.0)
    };
    // Lanes: each object's reasons, objects in owner-chain order.
    let mut lanes: Vec<(u8, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                lane_order(&r.kind),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.reason.clone(),
            )
        })
        .collect();
    lanes.sort();
    lanes.dedup();
    let lane_of = |r: &EventRow| {
        lanes
            .iter()
            .position(|(_, k, ns, n, reason)| {
                *k == r.kind && *ns == r.namespace && *n == r.name && *reason == r.reason
            })
            .unwrap_or(0)
    };
    let height = TOP + LANE * lanes.len() as f64 + 30.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img" aria-label="timeline">"#
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>"##);
    // Time axis: five ticks.
    for i in 0..=4 {
        let ms = t0 + (t1 - t0) * i / 4;
        let tx = x(Timestamp::from_millisecond(ms).ok());
        let label = Timestamp::from_millisecond(ms)
            .map(|t| t.strftime("%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{tx:.1}" y="20" font-size="11" text-anchor="{anchor}" fill="#555">{label}</text>"##,
            TOP - 10.0,
            height - 20.0
        );
    }
    let mut shade = false;
    for (i, (_, kind, ns, name, reason)) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        // An object's first lane names it; its other lanes only their reason.
        let first = i == 0 || {
            let p = &lanes[i - 1];
            (&p.1, &p.2, &p.3) != (kind, ns, name)
        };
        if first {
            shade = !shade;
        }
        let object = if first {
            let object = format!(
                "{}/{}{}",
                kind.to_lowercase(),
                name,
                if ns.is_empty() {
                    String::new()
                } else {
                    format!(" ({ns})")
                }
            );
            format!("{} · ", truncate(&object, 30))
        } else {
            "    ↳ ".to_string()
        };
        let _ = write!(
            svg,
            r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{LANE}" fill="{}"/><text x="6" y="{:.1}" font-size="12" fill="#222" xml:space="preserve">{}<tspan font-weight="bold">{}</tspan></text>"##,
            if shade { "#fafafa" } else { "#f0f0f0" },
            y + 17.0,
            html(&object),
            html(&truncate(reason, 18))
        );
    }
    // Occurrence density: each bucket of a lane shaded by its count.
    let peak = density
        .lanes
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    for ((kind, ns, name, reason), counts) in &density.lanes {
        let Some(lane) = lanes
            .iter()
            .position(|l| (&l.1, &l.2, &l.3, &l.4) == (kind, ns, name, reason))
        else {
            continue;
        };
        let y = TOP + LANE * lane as f64 + 21.0;
        for (b, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let from = t0 + b as i64 * density.bucket_ms;
            let (a, z) = (
                x(Timestamp::from_millisecond(from).ok()),
                x(Timestamp::from_millisecond(from + density.bucket_ms).ok()),
            );
            let _ = write!(
                svg,
                r##"<rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="3" fill="#222" fill-opacity="{:.2}"><title>{count} in this bucket</title></rect>"##,
                (z - a).max(1.0),
                0.15 + 0.85 * (*count as f64).ln_1p() / peak.ln_1p()
            );
        }
    }
    // Each Event: a bar over its span, darker the more it occurred.
    let max = rows.iter().map(|r| r.count).max().unwrap_or(1).max(1) as f64;
    let mut centre = Vec::with_capacity(rows.len());
    for r in rows {
        let lane = lane_of(r);
        let y = TOP + LANE * lane as f64 + 3.0;
        let (a, b) = (x(r.first_seen.or(r.last_seen)), x(r.last_seen));
        let w = (b - a).max(3.0);
        let opacity = 0.35 + 0.65 * (r.count as f64).ln_1p() / max.ln_1p();
        let tip = format!(
            "{} ×{} — {} — {} … {}",
            r.reason,
            r.count,
            r.message,
            r.first_seen.map(|t| t.to_string()).unwrap_or_default(),
            r.last_seen.map(|t| t.to_string()).unwrap_or_default()
        );
        let _ = write!(
            svg,
            r#"<rect class="ev" data-reason="{}" x="{a:.1}" y="{y:.1}" width="{w:.1}" height="16" rx="3" fill="{}" fill-opacity="{opacity:.2}"><title>{}</title></rect>"#,
            html(&r.reason),
            colour(&r.reason, r.event_type == "Warning"),
            html(&tip)
        );
        centre.push((a + w / 2.0, y + 8.0));
    }
    // Cause → effect arrows.
    for inc in incidents {
        let Some(&root) = inc.members.first() else {
            continue;
        };
        for &e in inc.members.iter().skip(1) {
            let ((x1, y1), (x2, y2)) = (centre[root], centre[e]);
            let _ = write!(
                svg,
                r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#333" stroke-width="1.2" marker-end="url(#arrow)"><title>incident {}</title></line>"##,
                html(&inc.id)
            );
        }
    }
    svg.push_str("</svg>");

    let mut reasons: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r.reason.as_str(), r.event_type == "Warning"))
        .collect();
    reasons.sort_unstable();
    reasons.dedup_by_key(|r| r.0);
    let mut legend = String::new();
    for (reason, warning) in &reasons {
        let _ = write!(
            legend,
            r#"<button class="reason" data-reason="{0}" style="border-color:{1}"><span style="background:{1}"></span>{0}</button>"#,
            html(reason),
            colour(reason, *warning)
        );
    }
    let mut incident_rows = String::new();
    for inc in incidents {
        let effects: Vec<String> = inc
            .effects
            .iter()
            .map(|e| {
                format!(
                    "{} ×{} ({}/{})",
                    e.reason,
                    e.count,
                    e.object.kind.to_lowercase(),
                    e.object.name
                )
            })
            .collect();
        let _ = write!(
            incident_rows,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            html(&inc.id),
            html(&inc.root.reason),
            html(&inc.root.object.kind.to_lowercase()),
            html(&inc.root.object.name),
            html(&effects.join(", ")),
            inc.first.map(|t| t.to_string()).unwrap_or_default(),
            inc.last.map(|t| t.to_string()).unwrap_or_default(),
            inc.confidence
        );
    }
    let mut event_rows = String::new();
    for r in rows {
        let _ = write!(
            event_rows,
            r#"<tr data-reason="{}"><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            html(&r.reason),
            html(&r.reason),
            html(&r.kind.to_lowercase()),
            html(&r.name),
            r.count,
            r.first_seen.map(|t| t.to_string()).unwrap_or_default(),
            r.last_seen.map(|t| t.to_string()).unwrap_or_default(),
            html(&r.message)
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 16px; margin: 24px 0 8px; }}
.meta {{ color: #666; margin-bottom: 12px; }}
.legend {{ margin: 8px 0; }}
button.reason {{ font: inherit; font-size: 12px; margin: 0 6px 6px 0; padding: 2px 8px; border: 1px solid; border-radius: 10px; background: #fff; cursor: pointer; }}
button.reason span {{ display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 5px; }}
button.reason.off {{ opacity: .35; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.scroll {{ overflow-x: auto; }}
</style></head>
<body>
<h1>{title}</h1>
<div class="meta">{since} … {until} · {events} Events, {occurrences} occurrences, {incidents_n} incidents · kubectl eventlog report</div>
<div class="legend">{legend}</div>
<div class="scroll">{svg}</div>
<h2>Incidents</h2>
<table><thead><tr><th>ID</th><th>Root cause</th><th>Object</th><th>Effects</th><th>First</th><th>Last</th><th>Confidence</th></tr></thead><tbody>{incident_rows}</tbody></table>
<h2>Events</h2>
<table><thead><tr><th>Reason</th><th>Object</th><th>Count</th><th>First</th><th>Last</th><th>Message</th></tr></thead><tbody>{event_rows}</tbody></table>
<script>
document.querySelectorAll('button.reason').forEach(function (b) {{
  b.addEventListener('click', function () {{
    var off = b.classList.toggle('off');
    document.querySelectorAll('[data-reason]').forEach(function (e) {{
      if (e !== b && e.getAttribute('data-reason') === b.getAttribute('data-reason')) {{
        e.style.display = off ? 'none' : '';
      }}
    }});
  }});
}});
document.body.setAttribute('data-ready', 'yes');
</script>
</body></html>
"#,
        title = html(&subject.title),
        since = subject.since,
        until = subject.until,
        events = rows.len(),
        occurrences = rows.iter().map(|r| r.count).sum::<i64>(),
        incidents_n = incidents.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_out_of_the_page() {
        assert_eq!(html("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }

    #[test]
    fn the_page_fetches_nothing_and_names_what_it_shows() {
        let t = Timestamp::from_second(1_764_000_000).unwrap();
        let row = EventRow {
            cluster: "c".into(),
            namespace: "shop".into(),
            kind: "Pod".into(),
            name: "web-1".into(),
            field_path: String::new(),
            reason: "BackOff".into(),
            event_type: "Warning".into(),
            message: "<b>back-off</b>".into(),
            reporting_controller: String::new(),
            node: String::new(),
            first_seen: Some(t),
            last_seen: Some(t + jiff::SignedDuration::from_secs(60)),
            count: 4,
            category: String::new(),
            severity: String::new(),
            fingerprint: String::new(),
            owner_root: "web".into(),
        };
        let page = render(
            &Subject {
                title: "deploy/web".into(),
                since: t - jiff::SignedDuration::from_secs(3600),
                until: t + jiff::SignedDuration::from_secs(3600),
            },
            &[row],
            &[],
            &Density::default(),
        );
        assert!(page.contains("pod/web-1 (shop) · ") && page.contains("BackOff"));
        assert!(page.contains("&lt;b&gt;back-off&lt;/b&gt;") && !page.contains("<b>back-off"));
        // No address but the SVG namespace, which names and fetches nothing.
        let addresses = page.matches("http://").count() + page.matches("https://").count();
        assert_eq!(
            addresses,
            page.matches("http://www.w3.org/2000/svg").count()
        );
        assert!(page.contains("default-src 'none'"));
    }
}
