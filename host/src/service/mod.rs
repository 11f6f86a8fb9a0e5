//! `ferry serve`: runs each sync on its schedule, never two runs of one sync at once, and
//! answers an HTTP API, a status page and `/metrics` meanwhile ([`api`]). What a run does
//! is the library's ([`crate::sync`]); the service decides when runs start and stop, and
//! tells people how they went (metrics, alerts).

mod alerts;
mod api;
mod auth;
mod live;
mod metrics;
pub mod page;
pub mod schedule;
mod view;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ConfigError, SyncConfig};
use crate::session::{Session, SessionError, Threads};
use crate::state::{RunStatus, StateError, Store};
use crate::sync::report::RunReport;
use crate::sync::{Hooks, RunOptions, Stop, SyncError};
use crate::text::inert;
use alerts::{Alert, Alerts, Event};
use auth::Token;
use live::Live;
use metrics::Metrics;

/// The longest the scheduler sleeps before looking at the clock again (a suspended
/// machine or a clock set forward is noticed this soon).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How long `POST /api/syncs/NAME/run` waits for the run's id.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long it waits when the sync is running: long enough for a run whose report is
/// already out to make way, short enough not to hold a client for a long run.
const QUEUED_WAIT: Duration = Duration::from_millis(500);
/// How often those waits look.
const POLL: Duration = Duration::from_millis(20);

/// Why the service could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    State(#[from] StateError),
    /// The token cannot be read, or is needed and missing.
    #[error("{0}")]
    Token(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Alerts(String),
    #[error("cannot handle signals (SIGTERM, SIGINT, SIGHUP): {0}")]
    Signals(#[source] std::io::Error),
}

/// What the service knows of one sync besides its config.
#[derive(Default)]
struct SyncSlot {
    paused: bool,
    /// The next slot it runs at (`None`: not scheduled).
    next: Option<DateTime<Utc>>,
    running: Option<Running>,
    /// Asked to run while running: runs once more when this run ends.
    queued: bool,
    /// Failed or partly failed runs in a row (for `retry_sooner`'s back-off).
    failures_in_row: u32,
    /// How its last run ended, for the recovery alert.
    last_status: Option<RunStatus>,
    /// Why its last run could not start, if it could not.
    last_error: Option<String>,
}

struct Running {
    live: Arc<Live>,
    stop: Stop,
}

/// How a run came to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Schedule,
    /// Asked for (API, page, or a queued request).
    Request,
}

pub struct Service {
    session: Arc<Session>,
    /// Where the config is read from again on reload.
    config_file: PathBuf,
    config: RwLock<Arc<Config>>,
    token: RwLock<Option<Token>>,
    syncs: Mutex<BTreeMap<String, SyncSlot>>,
    metrics: Metrics,
    alerts: Alerts,
    /// Wakes the scheduler (a slot changed).
    wake: Notify,
    /// Cancelled when the service stops.
    shutdown: CancellationToken,
    runs: TaskTracker,
    /// The service's connection to the state store, for the API, the page and the skips.
    store: Mutex<Option<Store>>,
    /// One permit per run going on (`max_runs`); a due run waits for one.
    permits: Arc<tokio::sync::Semaphore>,
    /// Where it listens, for its whole life.
    listen: SocketAddr,
    /// Whether `--listen` chose that (then `[service] listen` is not read).
    listen_given: bool,
}

/// Start the service on `config` and serve until SIGTERM or Ctrl-C; then stop the runs
/// (each gets `stop_grace` to stop cleanly) and return.
/// It says where it listens on stdout once it does (`--json`: `{"listening": ADDRESS}`).
/// `listen` (`--listen`) takes the place of `[service] listen`, reloads included.
pub fn serve(config: Config, listen: Option<SocketAddr>, json: bool) -> Result<(), ServiceError> {
    let session = Arc::new(Session::new(Threads::Pool)?);
    let service = Arc::new(Service::new(Arc::clone(&session), config, listen)?);
    session.runtime().block_on(Arc::clone(&service).main(json))
}

impl Service {
    fn new(
        session: Arc<Session>,
        config: Config,
        listen: Option<SocketAddr>,
    ) -> Result<Service, ServiceError> {
        let listen_given = listen.is_some();
        let listen = listen.unwrap_or(config.service.listen);
        let token = read_token(&config, listen)?;
        let service = Service {
            session,
            config_file: config.file.clone(),
            token: RwLock::new(token),
            syncs: Mutex::new(BTreeMap::new()),
            metrics: Metrics::new(),
            alerts: Alerts::new().map_err(ServiceError::Alerts)?,
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
            runs: TaskTracker::new(),
            store: Mutex::new(None),
            permits: Arc::new(tokio::sync::Semaphore::new(config.service.max_runs)),
            listen,
            listen_given,
            config: RwLock::new(Arc::new(config)),
        };
        service.restore(Utc::now())?;
        Ok(service)
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap())
    }

    fn token(&self) -> Option<Token> {
        self.token.read().unwrap().clone()
    }

    /// `work` on the service's own connection to the state store (opened again when a
    /// reload moves the state directory). Never called with `syncs` locked inside `work`:
    /// the locks are taken `syncs` first, then the store.
    fn with_store<T>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let dir = self.config().state_dir.clone();
        let mut store = self.store.lock().unwrap();
        let store = match &mut *store {
            Some(open) if open.dir() == dir => open,
            slot => slot.insert(Store::open(&dir)?),
        };
        work(store)
    }

    /// Each sync's slot from what the state store remembers: paused or not, how its last
    /// run ended, and whether a slot passed while the service was down (it runs once, now).
    fn restore(&self, now: DateTime<Utc>) -> Result<(), StateError> {
        let config = self.config();
        let store = Store::open(&config.state_dir)?;
        let paused = store.paused_syncs()?;
        let mut syncs = self.syncs.lock().unwrap();
        for sync in config.syncs.values() {
            store.settle(&sync.name)?;
            let last = store.latest_run(Some(&sync.name))?;
            let slot = syncs.entry(sync.name.clone()).or_default();
            slot.paused = paused.contains(&sync.name);
            slot.last_status = last.as_ref().map(|run| run.status);
            let last_start = last.as_ref().map(|run| DateTime::<Utc>::from(run.started));
            slot.next = first_slot(sync, last_start, now);
            if let Some(success) = store.latest_success(&sync.name)? {
                self.metrics.succeeded(&sync.name, success);
            }
        }
        Ok(())
    }

    async fn main(self: Arc<Self>, json: bool) -> Result<(), ServiceError> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| ServiceError::Listen {
                address: self.listen,
                source,
            })?;
        let address = listener.local_addr().unwrap_or(self.listen);
        // Handled from before it says it listens: a signal sent on that word is not lost.
        let handlers = Signals::install().map_err(ServiceError::Signals)?;
        match json {
            true => println!(
                "{}",
                serde_json::json!({ "listening": address.to_string() })
            ),
            false => println!("ferry serve: listening on http://{address}"),
        }
        let scheduler = tokio::spawn(Arc::clone(&self).schedule());
        let signals = tokio::spawn(Arc::clone(&self).signals(handlers));
        let shutdown = self.shutdown.clone();
        let app = api::router(Arc::clone(&self));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        self.stop_runs().await;
        scheduler.abort();
        signals.abort();
        served.map_err(|source| ServiceError::Listen {
            address: self.listen,
            source,
        })
    }

    /// SIGTERM and Ctrl-C stop the service; SIGHUP reloads the config.
    async fn signals(self: Arc<Self>, mut signals: Signals) {
        loop {
            tokio::select! {
                _ = signals.terminate.recv() => break,
                _ = signals.interrupt.recv() => break,
                _ = signals.hangup.recv() => match self.reload() {
                    Ok(()) => eprintln!("ferry serve: config reloaded"),
                    Err(why) => eprintln!("ferry serve: the config was not reloaded, the old one keeps running: {}", inert(&why)),
                },
            }
        }
        eprintln!("ferry serve: stopping");
        self.shutdown.cancel();
    }

    /// Ask every run to stop, and give them `stop_grace` to do so. A run still going
    /// then is left to the process's exit: its temporary uploads stay, and the next start
    /// finds it interrupted.
    async fn stop_runs(&self) {
        for slot in self.syncs.lock().unwrap().values() {
            if let Some(running) = &slot.running {
                running.stop.stop("the service was stopped");
            }
        }
        self.runs.close();
        let grace = self.config().service.stop_grace;
        if tokio::time::timeout(grace, self.runs.wait()).await.is_err() {
            tracing::warn!("runs still going after {grace:?}; leaving them interrupted");
        }
    }

    /// Start every run that is due, until the service stops.
    async fn schedule(self: Arc<Self>) {
        loop {
            let now = Utc::now();
            self.start_due(now);
            let sleep = self
                .next_due()
                .map_or(MAX_SLEEP, |due| (due - now).to_std().unwrap_or_default())
                .min(MAX_SLEEP);
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    fn next_due(&self) -> Option<DateTime<Utc>> {
        let syncs = self.syncs.lock().unwrap();
        syncs
            .values()
            .filter(|slot| !slot.paused)
            .filter_map(|slot| slot.next)
            .min()
    }

    /// Start each sync whose slot has come; one still running at its slot skips it (and
    /// the skip is recorded, with why).
    fn start_due(self: &Arc<Self>, now: DateTime<Utc>) {
        let config = self.config();
        let mut syncs = self.syncs.lock().unwrap();
        for (name, slot) in syncs.iter_mut() {
            let (Some(due), Some(sync)) = (slot.next, config.syncs.get(name)) else {
                continue;
            };
            if slot.paused || due > now || self.shutdown.is_cancelled() {
                continue;
            }
            // From now, not from the slot: slots missed meanwhile collapse into this one.
            slot.next = sync
                .schedule
                .as_ref()
                .and_then(|timing| timing.next_after(now));
            match &slot.running {
                Some(running) => self.skip(name, &running.live, due),
                None => self.start(&config, sync, slot, Trigger::Schedule),
            }
        }
    }

    /// Record that the slot at `due` was skipped: `name` was still running.
    fn skip(&self, name: &str, live: &Live, due: DateTime<Utc>) {
        let run = live
            .run()
            .map_or(String::new(), |id| format!(" (run {id})"));
        let why = format!(
            "the slot at {} was skipped: the previous run{run} was still going; never two runs \
             of one sync at once",
            due.format("%Y-%m-%d %H:%M:%S UTC")
        );
        self.record_skip(name, &why);
    }

    fn record_skip(&self, name: &str, why: &str) {
        tracing::info!("{}: {}", inert(name), inert(why));
        self.metrics.not_run(name, RunStatus::Skipped.as_str());
        if let Err(error) = self.with_store(|store| store.record_skipped(name, why)) {
            tracing::error!(
                "{}: cannot record a skipped run: {}",
                inert(name),
                inert(&error.to_string())
            );
        }
    }

    /// Start a run of `sync` in the background.
    fn start(
        self: &Arc<Self>,
        config: &Arc<Config>,
        sync: &SyncConfig,
        slot: &mut SyncSlot,
        trigger: Trigger,
    ) {
        let (live, stop) = (Arc::new(Live::default()), Stop::new());
        slot.running = Some(Running {
            live: Arc::clone(&live),
            stop: stop.clone(),
        });
        tracing::info!("{}: starting a run ({trigger:?})", inert(&sync.name));
        let hooks = Hooks {
            progress: live,
            stop: stop.clone(),
        };
        let (service, config, name) = (Arc::clone(self), Arc::clone(config), sync.name.clone());
        let max_duration = sync.max_duration;
        let permits = Arc::clone(&self.permits);
        self.runs.spawn(async move {
            let _permit = tokio::select! {
                permit = permits.acquire_owned() => permit.expect("the permits are never closed"),
                () = stop.stopped() => return service.never_started(&name),
            };
            service.metrics.running(&name, 1);
            let deadline = max_duration.map(|limit| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(limit).await;
                    stop.stop(format!(
                        "it ran for max_duration, {}",
                        schedule::format_interval(limit)
                    ));
                })
            });
            let run = service
                .session
                .run_async(config, name.clone(), RunOptions::default(), hooks);
            let ended = run.await;
            if let Some(deadline) = deadline {
                deadline.abort();
            }
            service.ended(&name, ended);
        });
    }

    /// A run of `name` ended (or could not start): metrics, alerts, the next slot, and a
    /// queued run.
    fn ended(self: &Arc<Self>, name: &str, ended: Result<RunReport, SyncError>) {
        self.metrics.running(name, -1);
        let config = self.config();
        let mut syncs = self.syncs.lock().unwrap();
        let Some(slot) = syncs.get_mut(name) else {
            return;
        };
        slot.running = None;
        let sync = config.syncs.get(name);
        let hooks = sync.map_or_else(Vec::new, |sync| self.webhooks(sync));
        match ended {
            Ok(report) => {
                self.metrics.ended(&report);
                if let Some(event) = Event::of(slot.last_status, report.status) {
                    let alert = Alert {
                        event,
                        sync: name,
                        run: Some(&report),
                        error: None,
                    };
                    self.alerts.send(&alert, hooks);
                }
                slot.last_error = None;
                slot.last_status = Some(report.status);
                if let Some(sync) = sync {
                    self.after(sync, slot, report.status);
                }
            }
            Err(SyncError::State(error @ StateError::RunInProgress { .. })) => {
                let why = format!(
                    "another ferry runs this sync ({error}); never two runs of one sync at once"
                );
                self.record_skip(name, &why);
                slot.last_error = Some(why);
            }
            Err(error) => {
                let message = error.to_string();
                // The message may quote a plugin or a server: inert before stderr.
                tracing::error!(
                    "{}: the run could not start: {}",
                    inert(name),
                    inert(&message)
                );
                self.metrics.not_run(name, "error");
                let alert = Alert {
                    event: Event::Error,
                    sync: name,
                    run: None,
                    error: Some(&message),
                };
                self.alerts.send(&alert, hooks);
                slot.last_error = Some(message);
            }
        }
        if std::mem::take(&mut slot.queued)
            && let Some(sync) = sync
            && !self.shutdown.is_cancelled()
        {
            self.start(&config, sync, slot, Trigger::Request);
        }
        self.wake.notify_one();
    }

    /// A run stopped while it waited for its turn: nothing to record.
    fn never_started(&self, name: &str) {
        if let Some(slot) = self.syncs.lock().unwrap().get_mut(name) {
            slot.running = None;
        }
    }

    /// After a run that ended `status`: with `retry_sooner`, a failing sync is tried again
    /// before its next slot, the wait doubling with each failure in a row.
    fn after(&self, sync: &SyncConfig, slot: &mut SyncSlot, status: RunStatus) {
        if !matches!(status, RunStatus::Failure | RunStatus::PartialFailure) {
            slot.failures_in_row = 0;
            return;
        }
        slot.failures_in_row += 1;
        if let Some(first) = sync.retry_sooner {
            slot.next = sooner(first, slot.failures_in_row, slot.next, Utc::now());
        }
    }

    /// The webhooks a sync's alerts go to: its own and the service's.
    fn webhooks(&self, sync: &SyncConfig) -> Vec<crate::config::Webhook> {
        let config = self.config();
        let mut hooks: Vec<_> = sync.webhook.iter().cloned().collect();
        if let Some(global) = &config.service.webhook
            && !hooks.contains(global)
        {
            hooks.push(global.clone());
        }
        hooks
    }

    /// Run `name` now: its run's id once it has one, or `Queued` when it is running.
    async fn trigger(self: &Arc<Self>, name: &str) -> Result<Triggered, NotStarted> {
        let config = self.config();
        let sync = config
            .sync(name)
            .map_err(|e| NotStarted::Unknown(e.to_string()))?;
        // (The live state of the run going on, or of the one started now.)
        let (live, queued) = {
            let mut syncs = self.syncs.lock().unwrap();
            let slot = syncs.entry(name.to_string()).or_default();
            let queued = slot.running.is_some();
            match queued {
                true => slot.queued = true,
                false => self.start(&config, sync, slot, Trigger::Request),
            }
            let running = slot.running.as_ref().expect("running or just started");
            (Arc::clone(&running.live), queued)
        };
        if queued {
            return Ok(self.queued_start(name, &live).await);
        }
        let waited = tokio::time::Instant::now();
        while waited.elapsed() < START_WAIT {
            if let Some(run) = live.run() {
                return Ok(Triggered::Started(run));
            }
            if !self.is_running(name, &live) {
                let slot = self.syncs.lock().unwrap();
                let why = slot.get(name).and_then(|slot| slot.last_error.clone());
                let why = why.unwrap_or_else(|| "the run ended before it started".into());
                return Err(NotStarted::Refused(why));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(Triggered::Queued)
    }

    /// A run asked for while `going` runs: queued, unless `going` is just ending (its
    /// report may already be out), when the queued run's id comes within [`QUEUED_WAIT`].
    async fn queued_start(&self, name: &str, going: &Arc<Live>) -> Triggered {
        let waited = tokio::time::Instant::now();
        while waited.elapsed() < QUEUED_WAIT {
            tokio::time::sleep(POLL).await;
            let syncs = self.syncs.lock().unwrap();
            let next = syncs.get(name).and_then(|slot| slot.running.as_ref());
            let started = next
                .filter(|running| !Arc::ptr_eq(&running.live, going))
                .and_then(|running| running.live.run());
            if let Some(run) = started {
                return Triggered::Started(run);
            }
        }
        Triggered::Queued
    }

    fn is_running(&self, name: &str, live: &Arc<Live>) -> bool {
        let syncs = self.syncs.lock().unwrap();
        let running = syncs.get(name).and_then(|slot| slot.running.as_ref());
        running.is_some_and(|running| Arc::ptr_eq(&running.live, live))
    }

    /// Pause or resume `name`'s schedule (remembered across restarts).
    fn set_paused(&self, name: &str, paused: bool) -> Result<(), String> {
        let config = self.config();
        config.sync(name).map_err(|e| e.to_string())?;
        self.with_store(|store| store.set_paused(name, paused))
            .map_err(|e| e.to_string())?;
        self.syncs
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default()
            .paused = paused;
        self.wake.notify_one();
        Ok(())
    }

    /// Read the config again; a config (or token) that does not load leaves the running
    /// one as it was, and says why.
    fn reload(&self) -> Result<(), String> {
        let fresh =
            Config::load(Some(&self.config_file), Path::new("/")).map_err(|e| e.to_string())?;
        if !self.listen_given && fresh.service.listen != self.listen {
            tracing::warn!(
                "listen = {} takes effect when the service restarts; it listens on {}",
                fresh.service.listen,
                self.listen
            );
        }
        // Checked against where it listens: a reload never leaves a service beyond
        // loopback without a token.
        let token = read_token(&fresh, self.listen).map_err(|e| e.to_string())?;
        let paused = Store::open(&fresh.state_dir)
            .and_then(|store| store.paused_syncs())
            .map_err(|e| e.to_string())?;
        let now = Utc::now();
        {
            let mut syncs = self.syncs.lock().unwrap();
            syncs.retain(|name, slot| fresh.syncs.contains_key(name) || slot.running.is_some());
            for sync in fresh.syncs.values() {
                let slot = syncs.entry(sync.name.clone()).or_default();
                slot.next = sync
                    .schedule
                    .as_ref()
                    .and_then(|timing| timing.next_after(now));
                slot.paused = paused.contains(&sync.name);
            }
        }
        *self.token.write().unwrap() = token;
        *self.config.write().unwrap() = Arc::new(fresh);
        self.wake.notify_one();
        Ok(())
    }
}

/// The signals the service handles, installed once.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

/// What asking for a run did.
enum Triggered {
    Started(i64),
    Queued,
}

/// Why an asked-for run did not start.
enum NotStarted {
    /// The config names no such sync.
    Unknown(String),
    /// It could not start (its plugin, its state store, another ferry running it).
    Refused(String),
}

/// The token from `[service]`; an error when it is set but unusable, or when the service
/// listens beyond loopback without one.
fn read_token(config: &Config, listen: SocketAddr) -> Result<Option<Token>, ServiceError> {
    let secret = config
        .service
        .token
        .read(&config.file)
        .map_err(ServiceError::Token)?;
    if secret.is_none() && !listen.ip().is_loopback() {
        let why = format!(
            "listen = \"{listen}\" is reachable from other machines, so a token is required: \
             set token_env or token_file in [service] (or the {} variable)",
            crate::config::DEFAULT_TOKEN_ENV
        );
        let message = match &config.service.listen_place {
            Some(place) if listen == config.service.listen => place.locate(&config.file, &why),
            _ => why,
        };
        return Err(ServiceError::Token(message));
    }
    Ok(secret.as_ref().map(Token::new))
}

/// The first slot of `sync` after a start at `now`: now, when a slot passed since its last
/// run began (the service was down: it runs once, not once per missed slot); else the
/// next one.
fn first_slot(
    sync: &SyncConfig,
    last_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let timing = sync.schedule.as_ref()?;
    match last_start.and_then(|last| timing.missed(last, now)) {
        Some(_) => Some(now),
        None => timing.next_after(now),
    }
}

/// The next run of a sync that failed `failures_in_row` times in a row (at least once),
/// with `retry_sooner = first`: `first` after `now`, doubling with each failure, and never
/// later than its next slot.
fn sooner(
    first: Duration,
    failures_in_row: u32,
    next_slot: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let doubled = first.saturating_mul(1 << failures_in_row.saturating_sub(1).min(16));
    let retry = chrono::Duration::from_std(doubled)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait));
    match (retry, next_slot) {
        (Some(retry), Some(slot)) => Some(retry.min(slot)),
        (retry, slot) => retry.or(slot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::schedule::{Timing, parse};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn sync_every(interval: &str) -> SyncConfig {
        let text = format!(
            "[remotes.a]\ntype = \"local\"\npath = \"a\"\n[remotes.b]\ntype = \"local\"\npath = \"b\"\n\
             [syncs.s]\nsource = \"a\"\ndestination = \"b\"\nschedule = \"every {interval}\"\n"
        );
        let config = Config::parse(&text, Path::new("/x/ferry.toml")).unwrap();
        config.syncs["s"].clone()
    }

    #[test]
    fn a_service_down_over_many_slots_runs_once_at_start() {
        let sync = sync_every("15m");
        let now = at("2026-12-05T13:52:00Z");
        // Last run at 10:07: slots 10:15 ... 13:45 were missed; one run, now.
        assert_eq!(
            first_slot(&sync, Some(at("2026-12-05T10:07:00Z")), now),
            Some(now)
        );
        // Last run at 13:46: nothing missed; the next slot.
        let next = first_slot(&sync, Some(at("2026-12-05T13:46:00Z")), now);
        assert_eq!(next, Some(at("2026-12-05T14:00:00Z")));
        // Never run: the next slot, not at once.
        assert_eq!(
            first_slot(&sync, None, now),
            Some(at("2026-12-05T14:00:00Z"))
        );
    }

    #[test]
    fn a_stop_note_writes_max_duration_as_a_schedule_would() {
        let written = |seconds| schedule::format_interval(Duration::from_secs(seconds));
        assert_eq!(written(24 * 3600), "1d");
        assert_eq!(written(5400), "1h30m");
        let short = schedule::format_interval(Duration::from_millis(500));
        assert_eq!(short, "500ms");
    }

    #[test]
    fn a_sync_without_a_schedule_has_no_slot() {
        let mut sync = sync_every("15m");
        sync.schedule = None;
        assert_eq!(first_slot(&sync, None, Utc::now()), None);
    }

    #[test]
    fn retries_come_sooner_doubling_but_never_after_the_slot() {
        let now = at("2026-12-05T10:00:00Z");
        let slot = Some(at("2026-12-05T11:00:00Z"));
        let five = Duration::from_secs(300);
        assert_eq!(sooner(five, 1, slot, now), Some(at("2026-12-05T10:05:00Z")));
        assert_eq!(sooner(five, 2, slot, now), Some(at("2026-12-05T10:10:00Z")));
        assert_eq!(sooner(five, 4, slot, now), Some(at("2026-12-05T10:40:00Z")));
        assert_eq!(sooner(five, 5, slot, now), slot, "capped by the slot");
        assert_eq!(sooner(five, 200, slot, now), slot, "no overflow");
        assert_eq!(sooner(five, 1, None, now), Some(at("2026-12-05T10:05:00Z")));
    }

    #[test]
    fn a_cron_slot_in_berlin_follows_daylight_saving_time() {
        let timing = Timing {
            schedule: parse("0 2 * * *", Some("Europe/Berlin")).unwrap(),
            skip_dates: Vec::new(),
        };
        // 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
        let winter = timing.next_after(at("2026-03-28T12:00:00Z"));
        assert_eq!(
            winter,
            Some(at("2026-03-29T01:00:00Z")),
            "02:00 does not exist: at 03:00 CEST"
        );
        let summer = timing.next_after(at("2026-03-29T12:00:00Z"));
        assert_eq!(summer, Some(at("2026-03-30T00:00:00Z")));
    }
}
