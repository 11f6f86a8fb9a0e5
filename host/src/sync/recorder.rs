//! Records each outcome as it happens: in the run's totals and failure list, and (unless
//! this is a dry run) in the state store, one committed transaction per file.

use std::sync::{Arc, Mutex};

use super::report::Failure;
use crate::state::{FileOutcome, FileStatus, Partial, RunId, StateError, Store, Totals};

#[derive(Clone)]
pub struct Recorder {
    store: Arc<Mutex<Store>>,
    /// None for a dry run: nothing is written.
    run: Option<RunId>,
    sync: String,
    /// The source and destination remotes' names, which renames are kept under.
    remotes: Arc<(String, String)>,
    progress: Arc<Mutex<Progress>>,
}

#[derive(Default)]
struct Progress {
    totals: Totals,
    failures: Vec<Failure>,
    store_errors: Vec<String>,
}

impl Recorder {
    pub fn new(
        store: Arc<Mutex<Store>>,
        run: Option<RunId>,
        sync: &str,
        remotes: (&str, &str),
    ) -> Self {
        Recorder {
            store,
            run,
            sync: sync.to_string(),
            remotes: Arc::new((remotes.0.to_string(), remotes.1.to_string())),
            progress: Arc::default(),
        }
    }

    pub async fn record(&self, outcome: FileOutcome) {
        self.count(&outcome);
        let Some(run) = self.run else { return };
        let sync = self.sync.clone();
        self.write(move |store| store.record(run, &sync, &outcome))
            .await;
    }

    /// Remember that `source_path` was sent as `destination_path`.
    pub async fn remember_rename(&self, source_path: &str, destination_path: &str) {
        if self.run.is_none() {
            return;
        }
        let remotes = Arc::clone(&self.remotes);
        let (from, to) = (source_path.to_string(), destination_path.to_string());
        self.write(move |store| store.set_rename(&remotes.0, &remotes.1, &from, &to))
            .await;
    }

    /// The upload in progress for `path`, as recorded by an earlier attempt.
    pub async fn partial(&self, path: &str) -> Option<Partial> {
        let (store, sync, path) = (Arc::clone(&self.store), self.sync.clone(), path.to_string());
        let found =
            tokio::task::spawn_blocking(move || store.lock().unwrap().partial(&sync, &path))
                .await
                .expect("reading does not panic");
        found.unwrap_or_else(|error| {
            tracing::warn!("cannot read a partial upload: {error}");
            None
        })
    }

    pub async fn set_partial(&self, path: &str, partial: Partial) {
        let (sync, path) = (self.sync.clone(), path.to_string());
        self.write(move |store| store.set_partial(&sync, &path, &partial))
            .await;
    }

    pub async fn clear_partial(&self, path: &str) {
        let (sync, path) = (self.sync.clone(), path.to_string());
        self.write(move |store| store.clear_partial(&sync, &path))
            .await;
    }

    /// A write to the state store, off the async threads; a failure is kept for the report.
    async fn write(&self, work: impl FnOnce(&Store) -> Result<(), StateError> + Send + 'static) {
        let store = Arc::clone(&self.store);
        let written = tokio::task::spawn_blocking(move || work(&store.lock().unwrap()))
            .await
            .expect("recording does not panic");
        if let Err(error) = written {
            tracing::error!("cannot write to the state store: {error}");
            self.lock().store_errors.push(error.to_string());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, outcome: &FileOutcome) {
        let mut progress = self.lock();
        let totals = &mut progress.totals;
        match outcome.status {
            FileStatus::Transferred => {
                totals.transferred += 1;
                totals.bytes += outcome.bytes;
            }
            FileStatus::Deleted => totals.deleted += 1,
            FileStatus::Rejected => totals.rejected += 1,
            _ if outcome.is_failure() => totals.failed += 1,
            _ => totals.skipped += 1,
        }
        progress.failures.extend(Failure::from_outcome(outcome));
    }

    /// Files found unchanged: counted, not logged one by one.
    pub fn add_unchanged(&self, count: usize) {
        self.lock().totals.skipped += count as u64;
    }

    pub fn totals(&self) -> Totals {
        self.lock().totals
    }

    pub fn failures(&self) -> Vec<Failure> {
        self.lock().failures.clone()
    }

    /// Writes to the state store that failed (the run's memory is then incomplete).
    pub fn store_errors(&self) -> Vec<String> {
        self.lock().store_errors.clone()
    }
}
