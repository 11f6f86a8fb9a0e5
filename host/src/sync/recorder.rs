//! Records each outcome as it happens: in the run's totals and failure list, and (unless
//! this is a dry run) in the state store.
//!
//! The state store is written by a thread of its own. Outcomes queue for it without
//! waiting; what queues within a few milliseconds is committed in one transaction, so
//! that ten thousand small files do not cost ten thousand commits. A killed ferry loses
//! at most the outcomes of those last milliseconds: the next run finds their files in
//! sync at the destination (or resumes them) all the same.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::report::Failure;
use crate::state::{
    DestinationVersion, FileOutcome, FileStatus, Partial, RunId, StateError, Store, Totals,
};

/// The most writes one transaction takes, so that a commit stays short.
const MAX_BATCH: usize = 4096;
/// How long the first write of a transaction waits for others to join it.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Recorder {
    /// None for a dry run: nothing is written.
    run: Option<RunId>,
    sync: Arc<str>,
    /// The source and destination remotes' names, which renames are kept under.
    remotes: Arc<(String, String)>,
    progress: Arc<Mutex<Progress>>,
    jobs: mpsc::Sender<Job>,
}

#[derive(Default)]
struct Progress {
    totals: Totals,
    failures: Vec<Failure>,
    store_errors: Vec<String>,
}

/// A read or write of the state store, run on its thread.
type Work = Box<dyn FnOnce(&Store) -> Result<(), StateError> + Send>;

/// Work for the state store's thread.
enum Job {
    Outcome(FileOutcome),
    Work(Work),
    /// Answered once everything queued before it is committed.
    Committed(oneshot::Sender<()>),
}

impl Recorder {
    pub fn new(
        store: Arc<Mutex<Store>>,
        run: Option<RunId>,
        sync: &str,
        remotes: (&str, &str),
    ) -> Self {
        let (jobs, queue) = mpsc::channel();
        let progress = Arc::<Mutex<Progress>>::default();
        let sync: Arc<str> = sync.into();
        let writer = StoreWriter {
            store,
            run,
            sync: Arc::clone(&sync),
            progress: Arc::clone(&progress),
        };
        std::thread::Builder::new()
            .name("ferry-state".into())
            .spawn(move || writer.write_batches(&queue))
            .expect("a thread can be started");
        Recorder {
            run,
            sync,
            remotes: Arc::new((remotes.0.to_string(), remotes.1.to_string())),
            progress,
            jobs,
        }
    }

    pub fn record(&self, outcome: FileOutcome) {
        self.count(&outcome);
        if self.run.is_some() {
            self.send(Job::Outcome(outcome));
        }
    }

    /// Remember that `source_path` was sent as `destination_path`.
    pub fn remember_rename(&self, source_path: &str, destination_path: &str) {
        if self.run.is_none() {
            return;
        }
        let remotes = Arc::clone(&self.remotes);
        let (from, to) = (source_path.to_string(), destination_path.to_string());
        self.on_store_thread(move |store| store.set_rename(&remotes.0, &remotes.1, &from, &to));
    }

    /// Remember how the destination holds `path` right after a delivery whose time it did
    /// not keep (recorded after the delivery's outcome, which forgets an older one).
    pub fn remember_delivered_as(&self, path: &str, version: DestinationVersion) {
        if self.run.is_none() {
            return;
        }
        let (sync, path) = (Arc::clone(&self.sync), path.to_string());
        self.on_store_thread(move |store| store.set_delivered_as(&sync, &path, version));
    }

    /// The upload in progress for `path`, as recorded by an earlier attempt.
    pub async fn partial(&self, path: &str) -> Option<Partial> {
        let (sync, path) = (Arc::clone(&self.sync), path.to_string());
        let (answer, found) = oneshot::channel();
        self.on_store_thread(move |store| {
            let _ = answer.send(store.partial(&sync, &path));
            Ok(())
        });
        match found.await {
            Ok(Ok(partial)) => partial,
            Ok(Err(error)) => {
                tracing::warn!("cannot read a partial upload: {error}");
                None
            }
            Err(_) => None,
        }
    }

    /// Recorded (committed) before it returns: the upload it describes may start then.
    pub async fn set_partial(&self, path: &str, partial: Partial) {
        self.note_partial(path, partial);
        self.committed().await;
    }

    /// Queue a partial upload's record; [`committed`](Self::committed) waits for it.
    pub fn note_partial(&self, path: &str, partial: Partial) {
        let (sync, path) = (Arc::clone(&self.sync), path.to_string());
        self.on_store_thread(move |store| store.set_partial(&sync, &path, &partial));
    }

    pub fn clear_partial(&self, path: &str) {
        let (sync, path) = (Arc::clone(&self.sync), path.to_string());
        self.on_store_thread(move |store| store.clear_partial(&sync, &path));
    }

    /// Waits until every write queued so far is committed.
    pub async fn committed(&self) {
        let (done, waiting) = oneshot::channel();
        if self.jobs.send(Job::Committed(done)).is_ok() {
            let _ = waiting.await;
        }
    }

    /// Queues `work` for the state store's thread, after the work queued before it (so a
    /// read there sees the partial uploads set or cleared earlier).
    fn on_store_thread(
        &self,
        work: impl FnOnce(&Store) -> Result<(), StateError> + Send + 'static,
    ) {
        self.send(Job::Work(Box::new(work)));
    }

    fn send(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            self.lock()
                .store_errors
                .push("the state store's writer has stopped".into());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        lock(&self.progress)
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

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the state store's thread holds.
struct StoreWriter {
    store: Arc<Mutex<Store>>,
    run: Option<RunId>,
    sync: Arc<str>,
    progress: Arc<Mutex<Progress>>,
}

impl StoreWriter {
    /// Until every recorder is gone: takes what has queued (waiting [`GATHER`] for more)
    /// and writes it in one transaction. A failed write is kept for the report.
    fn write_batches(&self, queue: &mpsc::Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let jobs = gather(first, queue);
            let mut outcomes = Vec::new();
            let mut waiting = Vec::new();
            let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            let written = store.batch(|store| {
                let mut failed = Vec::new();
                for job in jobs {
                    match job {
                        Job::Outcome(outcome) => outcomes.push(outcome),
                        Job::Work(work) => {
                            // In the order queued: work may refine an outcome queued
                            // before it (a delivery's state after its record).
                            failed.extend(self.record(store, &mut outcomes));
                            failed.extend(work(store).err());
                        }
                        Job::Committed(done) => waiting.push(done),
                    }
                }
                failed.extend(self.record(store, &mut outcomes));
                failed
            });
            drop(store);
            self.keep_errors(written);
            for done in waiting {
                let _ = done.send(());
            }
        }
    }

    /// Record the outcomes gathered so far, if any, and forget them.
    fn record(&self, store: &Store, outcomes: &mut Vec<FileOutcome>) -> Option<StateError> {
        let run = self.run.filter(|_| !outcomes.is_empty())?;
        let recorded = store.record_all(run, &self.sync, outcomes).err();
        outcomes.clear();
        recorded
    }

    fn keep_errors(&self, written: Result<Vec<StateError>, StateError>) {
        let errors: Vec<String> = match written {
            Ok(failed) => failed.iter().map(ToString::to_string).collect(),
            Err(error) => vec![error.to_string()],
        };
        for error in &errors {
            tracing::error!("cannot write to the state store: {error}");
        }
        lock(&self.progress).store_errors.extend(errors);
    }
}

/// `first` and what joins it within [`GATHER`]; a waiting caller ends the wait.
fn gather(first: Job, queue: &mpsc::Receiver<Job>) -> Vec<Job> {
    let deadline = Instant::now() + GATHER;
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH && !matches!(jobs.last(), Some(Job::Committed(_))) {
        match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    jobs
}
