//! The collector's incident tracker and alert delivery, on a thread of
//! their own with their own store connection, so that correlating a
//! window of Events never holds up the watch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kplug_eventlog::alerts::notify::{self, Silence};
use kplug_eventlog::alerts::{Book, Notice, Secret, SinkKind};
use kplug_eventlog::health::Health;
use kplug_eventlog::store::kept::OutboxRow;
use kplug_eventlog::store::{Access, Store, StoreError};
use kplug_eventlog::track::Tracker;

/// How the tracker and the deliverer pace themselves.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Find incidents and move alerts this often (more seldom when a step
    /// takes long: never more than a quarter of the time).
    pub every: Duration,
    /// Post the firing alerts to Alertmanager again this often; each
    /// ends four times this after the post unless posted again.
    pub resend: Duration,
}

/// Run the tracker until `stop` says so; returns when it stopped.
pub fn spawn(
    store_url: String,
    mut tracker: Tracker,
    pace: Pace,
    health: Arc<Health>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let secrets = secrets(&tracker)?;
    let handle = std::thread::Builder::new()
        .name("eventlog-tracker".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("eventlog: the incident tracker cannot start: {e}"),
            };
            rt.block_on(async move {
                let mut store = loop {
                    match Store::open(&store_url, Access::Write).await {
                        Ok(s) => break s,
                        Err(e) => {
                            eprintln!("eventlog: tracker: {e}; trying again in 5 s");
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                                _ = stop.changed() => return,
                            }
                        }
                    }
                };
                // Its reads are a window of recent rows: a small cache does.
                if let Err(e) = store.limit_cache(4 * 1024) {
                    eprintln!("eventlog: tracker: {e}");
                }
                if let Err(e) = tracker.load(&mut store).await {
                    eprintln!("eventlog: tracker: reading the alerts' states: {e}");
                }
                let mut deliverer = Deliverer::new(secrets, pace.resend, health.clone());
                let mut next_step = Instant::now();
                loop {
                    // Not before the first list is stored: a relist's Events
                    // arrive at once, and incidents of half of them would be
                    // found again a moment later (and the two peaks of
                    // memory would add up).
                    let settled = health.ready().is_ok() && health.pending.get() == 0;
                    if settled && Instant::now() >= next_step {
                        let started = Instant::now();
                        let now_ms = jiff::Timestamp::now().as_millisecond();
                        match tracker.step(&mut store, now_ms).await {
                            Ok(step) => {
                                health.incidents.set(step.incidents as i64);
                                if step.notices > 0 {
                                    deliverer.wake();
                                }
                            }
                            Err(e) => eprintln!("eventlog: tracker: {e}; trying again"),
                        }
                        health
                            .alerts_firing
                            .set(tracker.book().firing().count() as i64);
                        next_step = Instant::now() + pace.every.max(started.elapsed() * 3);
                    }
                    let now_ms = jiff::Timestamp::now().as_millisecond();
                    if let Err(e) = deliverer.round(&mut store, &tracker, now_ms).await {
                        eprintln!("eventlog: delivering alerts: {e}; trying again");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.changed() => break,
                    }
                }
            });
        })?;
    Ok(handle)
}

/// Each sink's signing key, read once at start (from the environment or
/// a file, never the rules file).
fn secrets(tracker: &Tracker) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for sink in &tracker.alerts().sinks {
        let SinkKind::Webhook {
            secret: Some(secret),
            ..
        } = &sink.kind
        else {
            continue;
        };
        let key = match secret {
            Secret::Env(name) => std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "sink {}: the environment variable {name} (its secretEnv) is not set",
                    sink.name
                )
            })?,
            Secret::File(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("sink {}: secretFile {path}: {e}", sink.name))?
                .trim_end()
                .to_string(),
        };
        out.push((sink.name.clone(), key.into_bytes()));
    }
    Ok(out)
}

/// Sends the outbox's due notifications; keeps Alertmanager's firing
/// alerts alive.
struct Deliverer {
    http: Option<reqwest::Client>,
    secrets: Vec<(String, Vec<u8>)>,
    resend: Duration,
    refreshed: Option<Instant>,
    /// When the outbox next holds something due: after a step that queued
    /// notifications, at the earliest retry, and once at start (what an
    /// earlier run left); otherwise it is not read at all.
    next_due_ms: Option<i64>,
    health: Arc<Health>,
}

/// The wait before the n-th retry: 1 s doubling, at most `cap_ms` (the
/// renewal period: a sink back from an outage hears within it).
fn retry_after_ms(attempts: i64, cap_ms: i64) -> i64 {
    1000i64
        .saturating_mul(1 << attempts.clamp(0, 16))
        .min(cap_ms.max(1000))
}

impl Deliverer {
    fn new(secrets: Vec<(String, Vec<u8>)>, resend: Duration, health: Arc<Health>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| eprintln!("eventlog: no HTTP client for alerts: {e}"))
            .ok();
        Deliverer {
            http,
            secrets,
            resend,
            refreshed: None,
            next_due_ms: Some(i64::MIN),
            health,
        }
    }

    async fn round(
        &mut self,
        store: &mut Store,
        tracker: &Tracker,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let config = tracker.alerts();
        if config.is_empty() {
            return Ok(());
        }
        if self.next_due_ms.is_some_and(|due| due <= now_ms)
            && let Err(e) = self.deliver_due(store, tracker, now_ms).await
        {
            // Read it all again next round.
            self.wake();
            return Err(e);
        }
        if self.refreshed.is_none_or(|t| t.elapsed() >= self.resend) {
            self.refreshed = Some(Instant::now());
            self.refresh(tracker.book(), tracker, now_ms).await;
        }
        Ok(())
    }

    /// Notifications were queued: read the outbox at the next round.
    fn wake(&mut self) {
        self.next_due_ms = Some(i64::MIN);
    }

    /// Send what the outbox holds due by `now_ms`.
    async fn deliver_due(
        &mut self,
        store: &mut Store,
        tracker: &Tracker,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let config = tracker.alerts();
        let cluster = tracker.cluster().to_string();
        // Every notification not yet sent: those due now are sent, the
        // earliest of the rest says when to look again.
        let unsent = store.outbox(Some(&cluster), Some(i64::MAX)).await?;
        let (due, later): (Vec<OutboxRow>, Vec<OutboxRow>) =
            unsent.into_iter().partition(|r| r.due_ms <= now_ms);
        self.next_due_ms = later.iter().map(|r| r.due_ms).min();
        let waiting = later.len() as i64;
        let mut silences: Option<Vec<Silence>> = None;
        let mut failed = 0;
        for mut row in due {
            let notice: Notice = match serde_json::from_str(&row.notice) {
                Ok(n) => n,
                Err(e) => {
                    row.sent_ms = Some(now_ms);
                    row.note = format!("unreadable notice, not sent: {e}");
                    store.outbox_attempted(&row).await?;
                    continue;
                }
            };
            let Some(sink) = config.sink(&row.sink) else {
                row.sent_ms = Some(now_ms);
                row.note = "the sink is no longer configured; not sent".into();
                store.outbox_attempted(&row).await?;
                continue;
            };
            // Alertmanager applies its silences itself; the other sinks
            // are held back by them here, so one silence mutes everywhere.
            if !matches!(sink.kind, SinkKind::Alertmanager { .. }) {
                if silences.is_none() {
                    silences = Some(self.silences(config).await);
                }
                if let Some(id) =
                    notify::silenced_by(silences.as_deref().unwrap_or(&[]), &notice.alert.labels)
                {
                    row.sent_ms = Some(now_ms);
                    row.note = format!("silenced in Alertmanager ({id}); not sent");
                    self.health.notifications_silenced.inc();
                    store.outbox_attempted(&row).await?;
                    continue;
                }
            }
            row.attempts += 1;
            match self.send(&sink.kind, &row, &notice, now_ms).await {
                Ok(()) => {
                    row.sent_ms = Some(jiff::Timestamp::now().as_millisecond());
                    row.note = String::new();
                    self.health.notifications_sent.inc();
                }
                Err(why) => {
                    row.due_ms =
                        now_ms + retry_after_ms(row.attempts - 1, self.resend.as_millis() as i64);
                    let next = self.next_due_ms.map_or(row.due_ms, |d| d.min(row.due_ms));
                    self.next_due_ms = Some(next);
                    if row.note != why {
                        eprintln!(
                            "eventlog: alert {} to {}: {why}; retrying",
                            notice.alert.rule, row.sink
                        );
                    }
                    row.note = why;
                    failed += 1;
                    self.health.notifications_failed.inc();
                }
            }
            store.outbox_attempted(&row).await?;
        }
        self.health.outbox_pending.set(failed + waiting);
        Ok(())
    }

    /// Post every firing alert to the Alertmanagers its rule names again,
    /// with a later end: Alertmanager resolves an alert nobody renews.
    async fn refresh(&self, book: &Book, tracker: &Tracker, now_ms: i64) {
        let config = tracker.alerts();
        let ends = now_ms + 4 * self.resend.as_millis() as i64;
        for sink in &config.sinks {
            let SinkKind::Alertmanager { url } = &sink.kind else {
                continue;
            };
            let alerts: Vec<serde_json::Value> = book
                .firing()
                .filter(|a| {
                    config
                        .rules
                        .iter()
                        .any(|r| r.name == a.rule && r.sinks.contains(&sink.name))
                })
                .map(|a| notify::alertmanager_alert(a, ends))
                .collect();
            if alerts.is_empty() {
                continue;
            }
            if let Err(why) = self
                .post(
                    &format!("{url}/api/v2/alerts"),
                    &serde_json::Value::Array(alerts),
                    &[],
                )
                .await
            {
                eprintln!(
                    "eventlog: renewing the firing alerts in {}: {why}",
                    sink.name
                );
            }
        }
    }

    /// The silences of the first Alertmanager configured (none without
    /// one, or when it cannot be asked: then nothing is held back).
    async fn silences(&self, config: &kplug_eventlog::alerts::Config) -> Vec<Silence> {
        let Some(url) = config.sinks.iter().find_map(|s| match &s.kind {
            SinkKind::Alertmanager { url } => Some(url.clone()),
            _ => None,
        }) else {
            return Vec::new();
        };
        let Some(http) = &self.http else {
            return Vec::new();
        };
        let got = async {
            let r = http
                .get(format!("{url}/api/v2/silences"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("answered {}", r.status()));
            }
            let text = r.text().await.map_err(|e| e.to_string())?;
            serde_json::from_str::<Vec<Silence>>(&text).map_err(|e| e.to_string())
        }
        .await;
        got.unwrap_or_else(|why| {
            eprintln!("eventlog: reading Alertmanager's silences: {why}; sending anyway");
            Vec::new()
        })
    }

    async fn send(
        &self,
        sink: &SinkKind,
        row: &OutboxRow,
        notice: &Notice,
        now_ms: i64,
    ) -> Result<(), String> {
        match sink {
            SinkKind::Alertmanager { url } => {
                let ends = now_ms + 4 * self.resend.as_millis() as i64;
                let body =
                    serde_json::Value::Array(vec![notify::alertmanager_alert(&notice.alert, ends)]);
                self.post(&format!("{url}/api/v2/alerts"), &body, &[]).await
            }
            SinkKind::Webhook { url, .. } => {
                let body = notify::webhook_body(notice);
                let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
                let mut headers = vec![("X-Kplug-Delivery", row.id.clone())];
                if let Some((_, key)) = self.secrets.iter().find(|(n, _)| *n == row.sink) {
                    headers.push(("X-Kplug-Signature", notify::signature(key, &bytes)));
                }
                self.post_bytes(url, bytes, &headers).await
            }
            SinkKind::Slack { url } => self.post(url, &notify::slack_body(notice), &[]).await,
            SinkKind::Stdout => {
                use std::io::Write;
                let line = serde_json::to_string(&notify::webhook_body(notice))
                    .map_err(|e| e.to_string())?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")
                    .and_then(|_| out.flush())
                    .map_err(|e| e.to_string())
            }
        }
    }

    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: &[(&str, String)],
    ) -> Result<(), String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        self.post_bytes(url, bytes, headers).await
    }

    async fn post_bytes(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<(), String> {
        let http = self.http.as_ref().ok_or("no HTTP client")?;
        let mut req = http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let r = req.send().await.map_err(|e| {
            if e.is_connect() {
                format!("{url}: connection refused or unreachable")
            } else if e.is_timeout() {
                format!("{url}: no answer in 10 s")
            } else {
                format!("{url}: {e}")
            }
        })?;
        if r.status().is_success() {
            return Ok(());
        }
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        Err(format!("{url} answered {status}: {}", text.trim()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_to_the_renewal_period() {
        let waits: Vec<i64> = (0..8).map(|n| super::retry_after_ms(n, 60_000)).collect();
        assert_eq!(
            waits,
            [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(super::retry_after_ms(3, 2000), 2000);
    }
}
