//! What the API and the status page show of the service: built from the syncs' slots and
//! the state store, shared by both.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Service;
use super::live::LiveState;
use super::page::{FailureGroup, PageView, RunView, SignIn, SyncState, SyncView};
use crate::state::{FileOutcome, RunId, RunRecord, RunStatus, StateError, Store};
use crate::sync::report::RunReport;

/// Runs shown per sync on the page.
const PAGE_RUNS: usize = 20;
/// Failures read to group a run's failures for the page (the counts are exact).
const PAGE_FAILURES: usize = 500;

/// One sync in `GET /api/syncs`.
#[derive(Serialize)]
pub struct SyncSummary {
    pub name: String,
    pub source: String,
    pub destination: String,
    /// "every 15m", "0 2 * * 1-5 (Europe/Berlin)"; none when the sync has no schedule.
    pub schedule: Option<String>,
    /// When it runs next (RFC 3339), if it is scheduled and not paused.
    pub next_run: Option<String>,
    pub paused: bool,
    /// Its run going on now, with its progress.
    pub running: Option<LiveState>,
    /// Its latest run (without the list of failures: see `/api/runs/{id}`).
    pub last_run: Option<serde_json::Value>,
    /// Why its last run could not start.
    pub last_error: Option<String>,
}

/// A sync's state at one moment, copied out of its slot.
struct Snapshot {
    paused: bool,
    next: Option<DateTime<Utc>>,
    running: Option<LiveState>,
    last_error: Option<String>,
}

impl Service {
    fn snapshots(&self) -> BTreeMap<String, Snapshot> {
        let syncs = self.syncs.lock().unwrap();
        syncs
            .iter()
            .map(|(name, slot)| {
                let snapshot = Snapshot {
                    paused: slot.paused,
                    next: slot.next.filter(|_| !slot.paused),
                    running: slot.running.as_ref().map(|running| running.live.state()),
                    last_error: slot.last_error.clone(),
                };
                (name.clone(), snapshot)
            })
            .collect()
    }

    pub(super) fn summaries(&self) -> Result<Vec<SyncSummary>, StateError> {
        let config = self.config();
        let snapshots = self.snapshots();
        let mut latest: HashMap<String, RunRecord> = self
            .with_store(|store| store.latest_runs())?
            .into_iter()
            .map(|run| (run.sync.clone(), run))
            .collect();
        let summaries = config
            .syncs
            .values()
            .map(|sync| {
                let snapshot = snapshots.get(&sync.name);
                let last = latest.remove(&sync.name);
                SyncSummary {
                    name: sync.name.clone(),
                    source: sync.source.clone(),
                    destination: sync.destination.clone(),
                    schedule: sync.schedule.as_ref().map(|timing| timing.describe()),
                    next_run: snapshot.and_then(|s| s.next).map(|at| at.to_rfc3339()),
                    paused: snapshot.is_some_and(|s| s.paused),
                    running: snapshot.and_then(|s| s.running),
                    last_run: last.map(|run| run_json(&run, &[])),
                    last_error: snapshot.and_then(|s| s.last_error.clone()),
                }
            })
            .collect();
        Ok(summaries)
    }

    pub(super) fn page(
        &self,
        sign_in: SignIn,
        notice: Option<String>,
    ) -> Result<PageView, StateError> {
        let config = self.config();
        let snapshots = self.snapshots();
        let now = Utc::now();
        let syncs = self.with_store(|store| {
            config
                .syncs
                .values()
                .map(|sync| {
                    let snapshot = snapshots.get(&sync.name);
                    let runs = store.runs_before(Some(&sync.name), None, PAGE_RUNS)?;
                    Ok(SyncView {
                        name: sync.name.clone(),
                        state: state(snapshot),
                        schedule: sync
                            .schedule
                            .as_ref()
                            .map_or("not scheduled".into(), |timing| timing.describe()),
                        next_run: snapshot.and_then(|s| s.next).map(|at| when(at, now)),
                        failure_groups: failure_groups(store, &runs)?,
                        runs: runs.iter().map(run_view).collect(),
                        last_error: snapshot.and_then(|s| s.last_error.clone()),
                    })
                })
                .collect::<Result<_, StateError>>()
        })?;
        Ok(PageView {
            generated_at: page_time(now),
            sign_in,
            syncs,
            notice,
        })
    }
}

/// The page with the sign-in form alone.
pub fn sign_in_page(notice: Option<String>) -> PageView {
    PageView {
        generated_at: page_time(Utc::now()),
        sign_in: SignIn::Needed,
        syncs: Vec::new(),
        notice,
    }
}

fn page_time(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A run as the API shows it: what `run --json` prints, with its `id` and when it
/// `started` and `finished` (RFC 3339; `finished` is null while it runs or if it was
/// interrupted).
pub fn run_json(run: &RunRecord, outcomes: &[FileOutcome]) -> serde_json::Value {
    let mut json = RunReport::from_record(run, outcomes).to_json();
    let time = |at: std::time::SystemTime| DateTime::<Utc>::from(at).to_rfc3339();
    json["id"] = run.id.0.into();
    json["started"] = time(run.started).into();
    json["finished"] = run.finished.map(time).into();
    json
}

fn state(snapshot: Option<&Snapshot>) -> SyncState {
    match snapshot {
        Some(Snapshot {
            running: Some(live),
            ..
        }) => SyncState::Running {
            run: live.run.unwrap_or(0),
            files_done: live.files_done,
            files_total: live.files_total,
            bytes_done: live.bytes_done,
            bytes_total: live.bytes_total,
        },
        Some(snapshot) if snapshot.paused => SyncState::Paused,
        _ => SyncState::Idle,
    }
}

/// "2026-12-05 02:00 UTC (in 57m)".
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (at - now).num_minutes().max(0);
    let wait = match minutes {
        0 => "now".to_string(),
        m if m < 120 => format!("in {m}m"),
        m if m < 48 * 60 => format!("in {}h", m / 60),
        m => format!("in {}d", m / (24 * 60)),
    };
    format!("{} ({wait})", at.format("%Y-%m-%d %H:%M UTC"))
}

fn run_view(run: &RunRecord) -> RunView {
    let seconds = run
        .finished
        .and_then(|end| end.duration_since(run.started).ok())
        .map_or(0.0, |took| took.as_secs_f64());
    RunView {
        id: run.id.0,
        status: run.status.as_str().to_string(),
        started: DateTime::<Utc>::from(run.started)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        seconds,
        transferred: run.totals.transferred,
        failed: run.totals.failed,
        rejected: run.totals.rejected,
        skipped: run.totals.skipped,
        bytes: run.totals.bytes,
        note: run.note.clone(),
    }
}

/// The failures of the latest run that ended (not one running or skipped), by category,
/// largest group first, with a few paths and the plugin's distinct advice.
fn failure_groups(store: &Store, runs: &[RunRecord]) -> Result<Vec<FailureGroup>, StateError> {
    let ended = runs
        .iter()
        .find(|run| !matches!(run.status, RunStatus::Running | RunStatus::Skipped));
    let Some(run) = ended else {
        return Ok(Vec::new());
    };
    let counts = store.failure_counts(RunId(run.id.0))?;
    let failures = store.failures(run.id, PAGE_FAILURES)?;
    Ok(counts
        .into_iter()
        .map(|(category, count)| {
            let category = category.unwrap_or_else(|| "unknown".into());
            let mut group = FailureGroup {
                category: category.clone(),
                count: usize::try_from(count).unwrap_or(usize::MAX),
                retry: String::new(),
                advice: Vec::new(),
                paths: Vec::new(),
            };
            let members = failures.iter().filter(|failure| {
                failure
                    .category
                    .map_or("unknown", crate::plugin::category_name)
                    == category
            });
            for failure in members {
                if group.retry.is_empty() {
                    group.retry = failure.retry.map_or("", crate::plugin::retry_name).into();
                }
                if let Some(advice) = &failure.advice
                    && group.advice.len() < 3
                    && !group.advice.contains(advice)
                {
                    group.advice.push(advice.clone());
                }
                if group.paths.len() < 10 {
                    let path = match failure.path.as_str() {
                        "" => "(the whole run)".to_string(),
                        path => path.to_string(),
                    };
                    group
                        .paths
                        .push((path, failure.message.clone().unwrap_or_default()));
                }
            }
            group
        })
        .collect())
}
