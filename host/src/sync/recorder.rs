//! Records each outcome as it happens: in the run's totals and failure list, and (unless
//! this is a dry run) in the state store, one committed transaction per file.

use std::sync::{Arc, Mutex};

use super::report::Failure;
use crate::state::{FileOutcome, FileStatus, RunId, Store, Totals};

#[derive(Clone)]
pub struct Recorder {
    store: Arc<Mutex<Store>>,
    /// None for a dry run: nothing is written.
    run: Option<RunId>,
    sync: String,
    progress: Arc<Mutex<Progress>>,
}

#[derive(Default)]
struct Progress {
    totals: Totals,
    failures: Vec<Failure>,
    store_errors: Vec<String>,
}

impl Recorder {
    pub fn new(store: Arc<Mutex<Store>>, run: Option<RunId>, sync: &str) -> Self {
        Recorder {
            store,
            run,
            sync: sync.to_string(),
            progress: Arc::default(),
        }
    }

    pub async fn record(&self, outcome: FileOutcome) {
        self.count(&outcome);
        let Some(run) = self.run else { return };
        let (store, sync) = (Arc::clone(&self.store), self.sync.clone());
        let written =
            tokio::task::spawn_blocking(move || store.lock().unwrap().record(run, &sync, &outcome))
                .await
                .expect("recording does not panic");
        if let Err(error) = written {
            tracing::error!("cannot record an outcome: {error}");
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
            FileStatus::Failed => totals.failed += 1,
            FileStatus::Rejected => totals.rejected += 1,
            FileStatus::Skipped => totals.skipped += 1,
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
