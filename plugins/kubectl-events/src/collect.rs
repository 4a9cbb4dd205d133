//! The collector's core: a stream of watch events in, every occurrence
//! stored exactly once. It owns batching, backpressure, retries with
//! backoff, retention steps, the flush on shutdown and the health counters;
//! the binary only wires it to kube's watcher, signals and an HTTP server.
//!
//! Memory stays bounded: no cache of Events is kept, only the batch being
//! written (at most [`Settings::max_pending`]); the store's ledger remembers
//! what was recorded, so a relist after a restart or a 410 adds only what
//! is new.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, pin_mut};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kplug::event::Event;
use kube::runtime::watcher;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use crate::backoff::Backoff;
use crate::health::Health;
use crate::record::{Preparer, Record};
use crate::store::{IngestStats, ObjectInfo, Pruned, Retention, Store, StoreError};

/// Where the collector writes: a [`Store`], or in tests one that fails on
/// purpose.
#[allow(async_fn_in_trait)]
pub trait Sink {
    async fn ingest(&mut self, batch: &[Record]) -> Result<IngestStats, StoreError>;
    async fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError>;
    async fn prune_step(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        chunk: usize,
    ) -> Result<Pruned, StoreError>;
}

impl Sink for Store {
    async fn ingest(&mut self, batch: &[Record]) -> Result<IngestStats, StoreError> {
        Store::ingest(self, batch).await
    }
    async fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError> {
        Store::record_objects(self, objects).await
    }
    async fn prune_step(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        Store::prune_step(self, policy, now_ms, chunk).await
    }
}

/// How the collector paces itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Write a batch at least this often.
    pub flush_interval: Duration,
    /// Log the health line this often (`None`: never).
    pub log_interval: Option<Duration>,
    /// What retention keeps; empty for everything.
    pub retention: Retention,
    /// Events per transaction; a fuller batch is written at once.
    pub batch: usize,
    /// Events held at most while the store refuses writes: then reading
    /// stops (the watch backs up; a relist later catches up through the
    /// ledger) until the batch drains.
    pub max_pending: usize,
    /// How often a retention step runs (more at once while it finds rows).
    pub prune_every: Duration,
    /// Rows deleted per retention step, so writes are never held up long.
    pub prune_chunk: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            flush_interval: Duration::from_secs(1),
            log_interval: Some(Duration::from_secs(60)),
            retention: Retention::default(),
            batch: 1000,
            max_pending: 50_000,
            prune_every: Duration::from_secs(5),
            prune_chunk: 5000,
        }
    }
}

/// Why the collector stopped, when it stopped cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The shutdown future completed (a signal).
    Shutdown,
    /// The stream of watch events ended.
    StreamEnded,
}

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub stopped: Stopped,
    /// Events read but not written (the store refused them until the end).
    pub held: usize,
}

/// A failure that ends collecting.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The watch fails in a way retrying cannot mend (an untrusted server
    /// certificate, no credentials, no right to list Events).
    #[error("watching Events: {0}")]
    Watch(#[source] watcher::Error),
    /// The store refuses writes for good (a full disk, a schema from a
    /// newer kplug, no permission).
    #[error(
        "the store cannot take writes; stopping with {held} events unwritten (the API server keeps Events for about an hour: the next collect relists them, and the ledger keeps them from being counted twice)"
    )]
    Store {
        held: usize,
        #[source]
        source: StoreError,
    },
}

/// A watch failure that will fail the same way every time.
pub fn is_permanent(e: &watcher::Error) -> bool {
    if kplug::client::tls_problem(e).is_some() {
        return true;
    }
    matches!(
        e,
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            if s.code == 401 || s.code == 403
    )
}

/// A watch failure because the resourceVersion is too old (410 Gone):
/// the watcher relists.
pub fn is_gone(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(s) => s.code == 410,
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 410,
        _ => false,
    }
}

/// Now, on tokio's clock (which tests can pause and advance).
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// A timer that ticks every `every`, or never.
fn ticker(every: Option<Duration>) -> tokio::time::Interval {
    // "Never" is a tick far in the future, so select! needs no special case.
    let every = every.unwrap_or(Duration::from_secs(u64::MAX / 4));
    // The first tick after one period, not at once: nothing is due at start.
    let mut t = interval_at(Instant::now() + every, every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

type Observer<'a> = Box<dyn FnMut(&Event) + 'a>;

pub struct Collector<'a, S> {
    store: S,
    prepare: Preparer<'a>,
    settings: Settings,
    health: Arc<Health>,
    batch: Vec<Record>,
    objects: Vec<ObjectInfo>,
    backoff: Backoff,
    /// Objects in the list being read.
    listed: u64,
    observe: Option<Observer<'a>>,
}

impl<'a, S: Sink> Collector<'a, S> {
    pub fn new(store: S, prepare: Preparer<'a>, settings: Settings) -> Self {
        Collector {
            store,
            prepare,
            batch: Vec::with_capacity(settings.batch),
            settings,
            health: Arc::new(Health::default()),
            objects: Vec::new(),
            backoff: Backoff::default(),
            listed: 0,
            observe: None,
        }
    }

    /// Call `f` with every Event accepted (e.g. to look up its object).
    pub fn observe(mut self, f: impl FnMut(&Event) + 'a) -> Self {
        self.observe = Some(Box::new(f));
        self
    }

    /// The counters, shared with whoever serves them.
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    /// Collect until `events` ends, `shutdown` completes, or a failure that
    /// retrying cannot mend; what was read is written before returning,
    /// unless it is the store that failed for good.
    pub async fn run<E, O>(
        &mut self,
        events: E,
        objects: O,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Report, CollectError>
    where
        E: Stream<Item = Result<watcher::Event<CoreEvent>, watcher::Error>>,
        O: Stream<Item = ObjectInfo>,
    {
        let events = events.fuse();
        let objects = objects.fuse();
        pin_mut!(events, objects, shutdown);
        let mut flush = ticker(Some(
            self.settings.flush_interval.max(Duration::from_millis(10)),
        ));
        let mut log = ticker(self.settings.log_interval.filter(|d| !d.is_zero()));
        let pruning = !self.settings.retention.is_empty();
        let mut prune = ticker(pruning.then_some(self.settings.prune_every));
        let mut stopped = Stopped::StreamEnded;
        let mut watch_error = None;
        let ended: Result<(), StoreError> = loop {
            let max = self.settings.max_pending;
            tokio::select! {
                item = events.next(), if self.batch.len() < max => match item {
                    None => break Ok(()),
                    Some(Ok(e)) => self.watched(e),
                    Some(Err(e)) if is_permanent(&e) => {
                        watch_error = Some(e);
                        break Ok(());
                    }
                    Some(Err(e)) => self.restarted(&e),
                },
                Some(o) = objects.next(), if self.objects.len() < max => self.objects.push(o),
                _ = flush.tick() => if let Err(e) = self.flush().await {
                    break Err(e);
                },
                _ = log.tick() => eprintln!("eventlog: {}", self.health.line()),
                _ = prune.tick(), if pruning => match self.prune().await {
                    Ok(true) => prune.reset_immediately(),
                    Ok(false) => {}
                    Err(e) => break Err(e),
                },
                _ = &mut shutdown => {
                    stopped = Stopped::Shutdown;
                    break Ok(());
                }
            }
            if self.batch.len() >= self.settings.batch
                && let Err(e) = self.write().await
            {
                break Err(e);
            }
        };
        let ended = match ended {
            Ok(()) => {
                // One last try, whatever the backoff says.
                self.backoff.reset();
                self.flush().await
            }
            Err(e) => Err(e),
        };
        eprintln!("eventlog: stopped; {}", self.health.line());
        if let Err(source) = ended {
            return Err(CollectError::Store {
                held: self.batch.len(),
                source,
            });
        }
        if let Some(e) = watch_error {
            return Err(CollectError::Watch(e));
        }
        Ok(Report {
            stopped,
            held: self.batch.len(),
        })
    }

    fn watched(&mut self, e: watcher::Event<CoreEvent>) {
        match e {
            watcher::Event::Init => self.listed = 0,
            watcher::Event::InitDone => {
                self.health.relist_size.set(self.listed as i64);
                self.health.set_listed();
            }
            watcher::Event::InitApply(e) => {
                self.listed += 1;
                self.accept(e);
            }
            watcher::Event::Apply(e) => self.accept(e),
            // DELETED means the TTL expired, not that something happened.
            watcher::Event::Delete(_) => {}
        }
    }

    /// The watcher restarts itself (with its own backoff) after this.
    fn restarted(&mut self, e: &watcher::Error) {
        self.health.watch_restarts.inc();
        if is_gone(e) {
            self.health.gone.inc();
        }
        eprintln!(
            "watch: {}; retrying with backoff",
            kplug::output::escape(&e.to_string())
        );
    }

    fn accept(&mut self, e: CoreEvent) {
        self.health.events_received.inc();
        let value = match serde_json::to_value(e) {
            Ok(v) => v,
            Err(err) => return eprintln!("skipping an event that does not serialise: {err}"),
        };
        match Event::from_owned(value) {
            Ok(event) => {
                for w in &event.warnings {
                    eprintln!(
                        "warning: Event {}/{}: {}",
                        kplug::output::Escaped(&event.namespace),
                        kplug::output::Escaped(&event.name),
                        w
                    );
                }
                if let Some(observe) = &mut self.observe {
                    observe(&event);
                }
                self.batch.push(self.prepare.record(event));
                self.health.pending.set(self.batch.len() as i64);
            }
            Err(err) => eprintln!("skipping: {}", kplug::output::escape(&err.to_string())),
        }
    }

    /// Write the batch, then the objects learnt.
    async fn flush(&mut self) -> Result<(), StoreError> {
        self.write().await?;
        if self.objects.is_empty() || !self.backoff.ready(now()) {
            return Ok(());
        }
        match self.store.record_objects(&self.objects).await {
            Ok(()) => self.objects.clear(),
            Err(e) if e.is_transient() => {
                let wait = self.backoff.failed(now());
                eprintln!(
                    "store: {e}; keeping {} objects and retrying in {wait:?}",
                    self.objects.len()
                );
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Write the batch. A transient failure keeps it for another try once
    /// the backoff allows; one that retrying cannot mend is returned, the
    /// batch still held.
    async fn write(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() || !self.backoff.ready(now()) {
            return Ok(());
        }
        match self.store.ingest(&self.batch).await {
            Ok(stats) => {
                self.backoff.reset();
                self.health.set_store_ok(true);
                self.health.occurrences_written.inc_by(stats.occurrences);
                self.health.dedup_hits.inc_by(stats.duplicates);
                if let Some(last) = self
                    .batch
                    .iter()
                    .filter_map(|r| r.event.last_observed)
                    .max()
                {
                    self.health
                        .lag_seconds
                        .set(jiff::Timestamp::now().as_second() - last.as_second());
                }
                self.batch.clear();
                self.health.pending.set(0);
                Ok(())
            }
            Err(e) => {
                self.health.store_errors.inc();
                self.health.set_store_ok(false);
                if !e.is_transient() {
                    return Err(e);
                }
                let wait = self.backoff.failed(now());
                eprintln!(
                    "store: {e}; keeping {} events and retrying in {wait:?}",
                    self.batch.len()
                );
                Ok(())
            }
        }
    }

    /// One retention step; whether it deleted anything (then another
    /// follows at once). A transient failure waits for the next tick.
    async fn prune(&mut self) -> Result<bool, StoreError> {
        let now_ms = jiff::Timestamp::now().as_millisecond();
        match self
            .store
            .prune_step(&self.settings.retention, now_ms, self.settings.prune_chunk)
            .await
        {
            Ok(n) if n.is_empty() => Ok(false),
            Ok(n) => {
                eprintln!("eventlog: retention deleted old {}", n.counts());
                Ok(true)
            }
            Err(e) if e.is_transient() => {
                eprintln!("eventlog: retention: {e}; trying again later");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::stream;

    use super::*;
    use crate::classify::Classifier;
    use crate::store::{Access, Filter};

    type Item = Result<watcher::Event<CoreEvent>, watcher::Error>;

    /// An Event of `count` occurrences, as the API server sends it.
    fn event(uid: &str, count: u32) -> CoreEvent {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("web.{uid}"), "namespace": "shop", "uid": uid,
                         "resourceVersion": format!("{count}")},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "shop"},
            "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container",
            "count": count,
            "firstTimestamp": "2026-11-30T10:00:00Z",
            "lastTimestamp": format!("2026-11-30T10:{count:02}:00Z"),
        }))
        .expect("an Event")
    }

    fn apply(uid: &str, count: u32) -> Item {
        Ok(watcher::Event::Apply(event(uid, count)))
    }

    /// A first list (or relist) of these Events.
    fn list(events: &[(&str, u32)]) -> Vec<Item> {
        let mut items = vec![Ok(watcher::Event::Init)];
        items.extend(
            events
                .iter()
                .map(|(uid, count)| Ok(watcher::Event::InitApply(event(uid, *count)))),
        );
        items.push(Ok(watcher::Event::InitDone));
        items
    }

    fn gone() -> Item {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 410, "reason": "Expired",
            "message": "too old resource version: 5 (9)"
        }))
        .expect("a Status");
        Err(watcher::Error::WatchError(Box::new(status)))
    }

    fn sqlite_error(code: i32) -> StoreError {
        StoreError::Sqlite {
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        }
    }

    /// A real SQLite store that first fails the writes it is told to.
    struct Flaky {
        store: Store,
        failures: VecDeque<i32>,
    }

    impl Sink for Flaky {
        async fn ingest(&mut self, batch: &[Record]) -> Result<IngestStats, StoreError> {
            match self.failures.pop_front() {
                Some(code) => Err(sqlite_error(code)),
                None => self.store.ingest(batch).await,
            }
        }
        async fn record_objects(&mut self, objects: &[ObjectInfo]) -> Result<(), StoreError> {
            self.store.record_objects(objects).await
        }
        async fn prune_step(
            &mut self,
            policy: &Retention,
            now_ms: i64,
            chunk: usize,
        ) -> Result<Pruned, StoreError> {
            self.store.prune_step(policy, now_ms, chunk).await
        }
    }

    async fn flaky(dir: &tempfile::TempDir, failures: &[i32]) -> Flaky {
        Flaky {
            store: store(dir).await,
            failures: failures.iter().copied().collect(),
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        let path = dir.path().join("events.db");
        Store::open(path.to_str().expect("utf-8"), Access::Write)
            .await
            .expect("the store opens")
    }

    fn fast() -> Settings {
        Settings {
            flush_interval: Duration::from_millis(10),
            log_interval: None,
            ..Settings::default()
        }
    }

    /// Occurrences stored, summed over every row.
    async fn stored(store: &mut Store) -> i64 {
        let rows = store.query(&Filter::default(), None).await.expect("query");
        rows.iter().map(|r| r.count).sum()
    }

    /// Events that stay open after `items`: the run ends by `shutdown`.
    fn open_ended(items: Vec<Item>) -> impl Stream<Item = Item> {
        stream::iter(items).chain(stream::pending())
    }

    fn no_objects() -> impl Stream<Item = ObjectInfo> {
        stream::empty()
    }

    #[tokio::test(start_paused = true)]
    async fn relists_duplicates_410_and_a_restart_store_each_occurrence_once() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = Classifier::default();
        let mut first = Collector::new(store(&dir).await, Preparer::new("c1", &classifier), fast());
        let mut items = list(&[("a", 1), ("b", 2)]);
        // The same Event again (a resync), then one more occurrence of it.
        items.extend([apply("a", 1), apply("a", 3)]);
        let report = first
            .run(stream::iter(items), no_objects(), std::future::pending())
            .await
            .expect("collects");
        assert_eq!(report.stopped, Stopped::StreamEnded);
        assert_eq!(report.held, 0);
        let h = first.health();
        assert_eq!(h.occurrences_written.get(), 5);
        assert_eq!(h.dedup_hits.get(), 1);
        assert_eq!(h.relist_size.get(), 2);
        assert!(h.ready().is_ok());
        assert_eq!(stored(first.store()).await, 5);
        drop(first);

        // A restart: the watch fails with 410, the relist holds what was
        // recorded, occurrences that happened meanwhile, and a new Event.
        let mut second =
            Collector::new(store(&dir).await, Preparer::new("c1", &classifier), fast());
        let mut items = vec![gone()];
        items.extend(list(&[("a", 3), ("b", 4), ("c", 1)]));
        second
            .run(stream::iter(items), no_objects(), std::future::pending())
            .await
            .expect("collects");
        let h = second.health();
        assert_eq!((h.watch_restarts.get(), h.gone.get()), (1, 1));
        assert_eq!(h.occurrences_written.get(), 3, "b's 2 more and c's 1");
        assert_eq!(h.dedup_hits.get(), 1);
        assert_eq!(stored(second.store()).await, 8);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_outage_is_waited_out_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = Classifier::default();
        let busy = rusqlite::ffi::SQLITE_BUSY;
        let flaky = flaky(&dir, &[busy, busy, busy]).await;
        let mut c = Collector::new(flaky, Preparer::new("c1", &classifier), fast());
        let health = c.health();
        let items = list(&[("a", 1), ("b", 2), ("c", 3)]);
        // Backoffs of 0.5, 1 and 2 s pass on the paused clock.
        let report = c
            .run(
                open_ended(items),
                no_objects(),
                tokio::time::sleep(Duration::from_secs(10)),
            )
            .await
            .expect("collects");
        assert_eq!(report.stopped, Stopped::Shutdown);
        assert_eq!(report.held, 0);
        assert_eq!(health.store_errors.get(), 3);
        assert!(health.ready().is_ok(), "ready again once a write succeeds");
        assert_eq!(stored(&mut c.store().store).await, 6);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_writes_what_was_read_even_during_a_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = Classifier::default();
        let flaky = flaky(&dir, &[rusqlite::ffi::SQLITE_BUSY]).await;
        let settings = Settings {
            flush_interval: Duration::from_secs(3600),
            batch: 2,
            ..fast()
        };
        let mut c = Collector::new(flaky, Preparer::new("c1", &classifier), settings);
        // The full batch fails once; the shutdown comes inside the backoff.
        let report = c
            .run(
                open_ended(list(&[("a", 1), ("b", 1)])),
                no_objects(),
                tokio::time::sleep(Duration::from_millis(100)),
            )
            .await
            .expect("collects");
        assert_eq!(
            report,
            Report {
                stopped: Stopped::Shutdown,
                held: 0
            }
        );
        assert_eq!(stored(&mut c.store().store).await, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_disk_stops_with_the_batch_held_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = Classifier::default();
        let flaky = flaky(&dir, &[rusqlite::ffi::SQLITE_FULL]).await;
        let mut c = Collector::new(flaky, Preparer::new("c1", &classifier), fast());
        let err = c
            .run(
                open_ended(list(&[("a", 1), ("b", 2)])),
                no_objects(),
                std::future::pending(),
            )
            .await
            .expect_err("a full disk is permanent");
        assert!(matches!(err, CollectError::Store { held: 2, .. }), "{err}");
        assert!(err.to_string().contains("2 events unwritten"), "{err}");
        assert!(c.health().ready().is_err());
        assert_eq!(stored(&mut c.store().store).await, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn reading_stops_while_the_store_refuses_and_resumes_when_it_drains() {
        let dir = tempfile::tempdir().unwrap();
        let classifier = Classifier::default();
        let busy = rusqlite::ffi::SQLITE_BUSY;
        let flaky = flaky(&dir, &[busy; 4]).await;
        let settings = Settings {
            max_pending: 3,
            ..fast()
        };
        let mut c = Collector::new(flaky, Preparer::new("c1", &classifier), settings);
        let pulled = Arc::new(AtomicUsize::new(0));
        let counted = pulled.clone();
        let events: Vec<(String, u32)> = (0..10).map(|i| (format!("e{i}"), 1)).collect();
        let events: Vec<(&str, u32)> = events.iter().map(|(u, n)| (u.as_str(), *n)).collect();
        let items = open_ended(list(&events)).inspect(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        // While the first four writes fail (0.5 + 1 + 2 + 4 s), at most
        // three Events are held: the Init and three InitApply are pulled.
        let run = c.run(
            items,
            no_objects(),
            tokio::time::sleep(Duration::from_secs(60)),
        );
        let watch = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            pulled.load(Ordering::Relaxed)
        };
        let (report, during) = tokio::join!(run, watch);
        assert_eq!(during, 4, "the stream is not read past the limit");
        assert_eq!(report.expect("collects").held, 0);
        assert_eq!(stored(&mut c.store().store).await, 10);
    }

    #[test]
    fn gone_and_permanent_failures_are_told_by_type() {
        let Err(e) = gone() else { unreachable!() };
        assert!(is_gone(&e) && !is_permanent(&e));
        let forbidden: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 403, "reason": "Forbidden", "message": "no"
        }))
        .unwrap();
        let e = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(forbidden)));
        assert!(is_permanent(&e) && !is_gone(&e));
    }
}
