//! The executor: carries out a plan with bounded concurrency. Every upload goes to the
//! plugin's temporary name and is renamed only when complete and verified; every outcome
//! is recorded as it happens.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{Receiver, Sender};

use super::listing::{Listing, unix_nanos};
use super::plan::{Deletion, Plan, Rejection, Transfer};
use super::policy::PolicyHandle;
use super::recorder::Recorder;
use super::throttle::Throttle;
use crate::plugin::{
    Operation, PluginError, Protocol, TempForm, category_name, describe, retry_name,
    violation_category,
};
use crate::remote::{Reader, Remote, RemoteError, Writer};
use crate::state::{FileOutcome, FileStatus, Partial};

/// Bytes read and written per step of a copy.
const CHUNK: usize = 256 * 1024;
/// Files at least this large are resumed after an interruption; smaller ones restart.
const RESUMABLE: u64 = 1 << 20;
/// The bytes compared at the end of a partial upload before it is continued.
const CHECK_BLOCK: u64 = 64 * 1024;

/// Transfers given their temporary names at once (one plugin call), and handed to the
/// workers at most this far ahead of them.
pub(super) const TEMP_BATCH: usize = 1024;

/// A transfer with what sending it needs from the source listing.
pub(super) struct Job {
    path: String,
    renamed_to: Option<Box<str>>,
    size: u64,
    mtime: Option<SystemTime>,
    temp_form: TempForm,
}

impl Job {
    fn new(transfer: &Transfer, source: &Listing) -> Self {
        let file = source.item(transfer.entry);
        Job {
            path: file.path(),
            renamed_to: transfer.renamed_to.clone(),
            size: file.size,
            mtime: file.mtime(),
            temp_form: transfer.temp_form,
        }
    }

    /// Where it goes at the destination.
    fn destination(&self) -> &str {
        self.renamed_to.as_deref().unwrap_or(&self.path)
    }
}

/// Each of `batch` ready to send, with the temporary name the destination's plugin gives it.
pub(super) async fn prepare(
    policy: &PolicyHandle,
    source: &Listing,
    batch: &[Transfer],
) -> Result<Vec<(Job, String)>, PluginError> {
    let jobs: Vec<Job> = batch.iter().map(|t| Job::new(t, source)).collect();
    let wanted = jobs
        .iter()
        .map(|job| (job.destination().to_string(), job.temp_form))
        .collect();
    let temps = policy.temp_names(wanted).await?;
    Ok(jobs.into_iter().zip(temps).collect())
}

/// What the executor works with.
pub struct Executor {
    pub source: Arc<dyn Remote>,
    pub destination: Arc<dyn Remote>,
    pub policy: PolicyHandle,
    pub recorder: Recorder,
    pub throttle: Option<Arc<Throttle>>,
    pub transfers: usize,
    /// In-run retries of errors to retry now, and the first pause between them.
    pub retries: u32,
    pub retry_delay: Duration,
}

/// A failed step, with the side it failed on.
struct StepError {
    protocol: Protocol,
    error: RemoteError,
}

type Step<T> = Result<T, StepError>;

fn on(protocol: Protocol) -> impl Fn(RemoteError) -> StepError {
    move |error| StepError { protocol, error }
}

impl Executor {
    /// Carry out `plan`, whose transfers are entries of `source`.
    pub async fn execute(self: Arc<Self>, plan: Plan, source: Arc<Listing>) {
        for rejection in &plan.rejections {
            self.recorder.record(rejected(rejection));
        }
        let created = Arc::new(Mutex::new(HashSet::new()));
        for (source, destination) in &plan.renamed_folders {
            self.recorder.remember_rename(source, destination);
        }
        for folder in &plan.mkdirs {
            self.make_folder(folder, &created).await;
        }
        self.transfer_all(plan.transfers, source, created).await;
        for deletion in &plan.deletions {
            self.delete(deletion).await;
        }
    }

    async fn make_folder(&self, folder: &str, created: &Mutex<HashSet<String>>) {
        match self.destination.mkdir_all(folder).await {
            Ok(()) => {
                created.lock().unwrap().insert(folder.to_string());
            }
            Err(error) => {
                let failure = self
                    .failure(folder, 0, None, on(self.destination.protocol())(error))
                    .await;
                self.recorder.record(failure);
            }
        }
    }

    async fn transfer_all(
        self: &Arc<Self>,
        transfers: Vec<Transfer>,
        source: Arc<Listing>,
        created: Arc<Mutex<HashSet<String>>>,
    ) {
        let total_bytes = transfers.iter().map(|t| source.item(t.entry).size).sum();
        let (count, progress) = (transfers.len(), progress_bar(total_bytes, transfers.len()));
        let (sender, receiver) = tokio::sync::mpsc::channel::<(Job, String)>(TEMP_BATCH);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let done = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..self.transfers.max(1))
            .map(|_| {
                let (executor, receiver) = (Arc::clone(self), Arc::clone(&receiver));
                let (created, progress, done) =
                    (Arc::clone(&created), progress.clone(), Arc::clone(&done));
                tokio::spawn(async move {
                    // The lock is let go before the transfer (a `while let` would keep it).
                    while let Some((job, temp)) = next_job(&receiver).await {
                        executor
                            .transfer_and_record(&job, &temp, &created, &progress)
                            .await;
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        progress.set_message(format!("{finished}/{count} files"));
                    }
                })
            })
            .collect();
        self.feed(&transfers, &source, sender).await;
        for worker in workers {
            worker.await.expect("transfer workers do not panic");
        }
        progress.finish_and_clear();
    }

    /// Hand every transfer to the workers, named a batch at a time (a plan of a million
    /// files holds no million temporary names). A plugin that cannot name them ends the
    /// transfers with one run failure.
    async fn feed(&self, transfers: &[Transfer], source: &Listing, sender: Sender<(Job, String)>) {
        for batch in transfers.chunks(TEMP_BATCH) {
            let named = match prepare(&self.policy, source, batch).await {
                Ok(named) => named,
                Err(error) => {
                    self.recorder.record(super::run_failure(
                        "temp-name",
                        "plugin-failure",
                        error.to_string(),
                        "The policy plugin failed while naming temporary files; the files left are not sent. Report it to its authors with this message.",
                    ));
                    return;
                }
            };
            for job in named {
                if sender.send(job).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Send one file and record how it went.
    async fn transfer_and_record(
        &self,
        job: &Job,
        temp: &str,
        created: &Mutex<HashSet<String>>,
        progress: &ProgressBar,
    ) {
        let outcome = self.transfer(job, temp, created, progress).await;
        let sent = outcome.status == FileStatus::Transferred;
        self.recorder.record(outcome);
        if let (true, Some(renamed_to)) = (sent, &job.renamed_to) {
            self.recorder.remember_rename(&job.path, renamed_to);
        }
    }

    /// Send one file, retrying what the plugin says to retry now, and say how it went.
    async fn transfer(
        &self,
        job: &Job,
        temp: &str,
        created: &Mutex<HashSet<String>>,
        progress: &ProgressBar,
    ) -> FileOutcome {
        let mtime_ns = job.mtime.map(unix_nanos);
        let mut attempt = 0;
        loop {
            let step = match self.send(job, temp, created, progress).await {
                Ok(bytes) => return sent(job, bytes, mtime_ns),
                Err(step) => step,
            };
            let failure = self.failure(&job.path, job.size, mtime_ns, step).await;
            if failure.retry.as_deref() != Some("now") || attempt >= self.retries {
                return failure;
            }
            tokio::time::sleep(backoff(self.retry_delay, attempt)).await;
            attempt += 1;
        }
    }

    /// One attempt: the bytes sent by it (a resumed upload sends only the rest).
    async fn send(
        &self,
        job: &Job,
        temp: &str,
        created: &Mutex<HashSet<String>>,
        progress: &ProgressBar,
    ) -> Step<u64> {
        let dst = self.destination.protocol();
        self.ensure_parent(job.destination(), created)
            .await
            .map_err(on(dst))?;
        let sent = if job.size < RESUMABLE {
            self.send_whole(job, temp, progress).await?
        } else {
            self.send_streamed(job, temp, progress).await?
        };
        self.destination
            .rename(temp, job.destination())
            .await
            .map_err(on(dst))?;
        if job.size >= RESUMABLE {
            self.recorder.clear_partial(&job.path);
        }
        Ok(sent)
    }

    /// A small file in one piece: read whole, then written with its mtime at once (a few
    /// round trips per file, where a stream takes twice as many).
    async fn send_whole(&self, job: &Job, temp: &str, progress: &ProgressBar) -> Step<u64> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let data = self
            .source
            .get(&job.path, job.size)
            .await
            .map_err(on(src))?;
        let read = data.len() as u64;
        unchanged_while_sent(job, read).map_err(on(src))?;
        if let Some(throttle) = &self.throttle {
            throttle.acquire(data.len()).await;
        }
        self.destination
            .put(temp, data, job.mtime)
            .await
            .map_err(on(dst))?;
        progress.inc(read);
        Ok(read)
    }

    /// A large file as a stream, continued where an interrupted attempt stopped.
    async fn send_streamed(&self, job: &Job, temp: &str, progress: &ProgressBar) -> Step<u64> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let start = self.resume_point(job, temp).await;
        progress.inc(start);
        let reader = self.source.read(&job.path, start).await.map_err(on(src))?;
        let writer = self.destination.write(temp, start).await.map_err(on(dst))?;
        let sent = self.copy(reader, writer, job, temp, progress).await?;
        unchanged_while_sent(job, start + sent).map_err(on(src))?;
        let stored = self.destination.stat(temp).await.map_err(on(dst))?;
        holds_every_byte(temp, stored.map(|entry| entry.size), job.size).map_err(on(dst))?;
        if let Some(mtime) = job.mtime {
            self.destination
                .set_mtime(temp, mtime)
                .await
                .map_err(on(dst))?;
        }
        Ok(sent)
    }

    /// Copy everything `reader` gives to `writer`; the number of bytes.
    async fn copy(
        &self,
        mut reader: Reader,
        mut writer: Writer,
        job: &Job,
        temp: &str,
        progress: &ProgressBar,
    ) -> Step<u64> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let read_error =
            |e: std::io::Error| on(src)(RemoteError::io(Operation::Read, Some(&job.path), &e));
        let write_error =
            |e: std::io::Error| on(dst)(RemoteError::io(Operation::Write, Some(temp), &e));
        let mut buffer = vec![0u8; CHUNK];
        let mut copied = 0u64;
        loop {
            let read = reader.read(&mut buffer).await.map_err(read_error)?;
            if read == 0 {
                break;
            }
            if let Some(throttle) = &self.throttle {
                throttle.acquire(read).await;
            }
            writer
                .write_all(&buffer[..read])
                .await
                .map_err(write_error)?;
            copied += read as u64;
            progress.inc(read as u64);
        }
        writer.shutdown().await.map_err(write_error)?;
        Ok(copied)
    }

    /// Where this attempt starts: the length of a temporary file an interrupted attempt
    /// left, when it holds this very version of the source (same size and mtime on
    /// record, and its last block equal to the source's); otherwise 0, after recording
    /// which version the new temporary file is for.
    async fn resume_point(&self, job: &Job, temp: &str) -> u64 {
        if job.size < RESUMABLE {
            return 0;
        }
        let this_version = Partial {
            temp_path: temp.to_string(),
            size: job.size,
            mtime_ns: job.mtime.map(unix_nanos),
        };
        if self.recorder.partial(&job.path).await.as_ref() == Some(&this_version)
            && let Some(length) = self.verified_prefix(job, temp).await
        {
            tracing::info!("resuming {} at byte {length} of {}", job.path, job.size);
            return length;
        }
        self.recorder.set_partial(&job.path, this_version).await;
        0
    }

    /// The temporary file's length, if its last block matches the source's bytes there.
    async fn verified_prefix(&self, job: &Job, temp: &str) -> Option<u64> {
        let length = self.destination.stat(temp).await.ok()??.size;
        if length == 0 || length > job.size {
            return None;
        }
        let block = length.min(CHECK_BLOCK);
        let at = length - block;
        let (theirs, ours) = tokio::join!(
            read_exactly(&*self.destination, temp, at, block),
            read_exactly(&*self.source, &job.path, at, block)
        );
        (theirs? == ours?).then_some(length)
    }

    async fn ensure_parent(
        &self,
        path: &str,
        created: &Mutex<HashSet<String>>,
    ) -> Result<(), RemoteError> {
        let Some((parent, _)) = path.rsplit_once('/') else {
            return Ok(());
        };
        if created.lock().unwrap().contains(parent) {
            return Ok(());
        }
        self.destination.mkdir_all(parent).await?;
        created.lock().unwrap().insert(parent.to_string());
        Ok(())
    }

    async fn delete(&self, deletion: &Deletion) {
        let outcome = match self.destination.delete(&deletion.path, deletion.kind).await {
            Ok(()) => FileOutcome {
                path: deletion.path.clone(),
                status: FileStatus::Deleted,
                operation: "delete".into(),
                bytes: 0,
                size: 0,
                mtime_ns: None,
                category: None,
                retry: None,
                message: None,
                advice: None,
                at: SystemTime::now(),
            },
            Err(error) => {
                self.failure(
                    &deletion.path,
                    0,
                    None,
                    on(self.destination.protocol())(error),
                )
                .await
            }
        };
        self.recorder.record(outcome);
    }

    async fn failure(
        &self,
        path: &str,
        size: u64,
        mtime_ns: Option<i64>,
        step: StepError,
    ) -> FileOutcome {
        classified(
            &self.policy,
            path,
            size,
            mtime_ns,
            step.protocol,
            step.error,
        )
        .await
    }
}

/// The next transfer for a worker, `None` when all are handed out.
async fn next_job(receiver: &tokio::sync::Mutex<Receiver<(Job, String)>>) -> Option<(Job, String)> {
    receiver.lock().await.recv().await
}

/// A failed outcome, classified by the destination's plugin.
pub(super) async fn classified(
    policy: &PolicyHandle,
    path: &str,
    size: u64,
    mtime_ns: Option<i64>,
    protocol: Protocol,
    error: RemoteError,
) -> FileOutcome {
    let classification = policy.classify(error.to_raw(protocol)).await;
    FileOutcome {
        path: path.to_string(),
        status: FileStatus::Failed,
        operation: operation_name(error.operation).into(),
        bytes: 0,
        size,
        mtime_ns,
        category: Some(category_name(classification.category).into()),
        retry: Some(retry_name(classification.retry).into()),
        message: Some(error.message),
        advice: Some(classification.advice),
        at: SystemTime::now(),
    }
}

/// A source that yields another length than it was listed with changed meanwhile.
fn unchanged_while_sent(job: &Job, read: u64) -> Result<(), RemoteError> {
    if read == job.size {
        return Ok(());
    }
    let message = format!(
        "the source file changed while it was sent: {} bytes were listed, {read} were read",
        job.size
    );
    Err(RemoteError::new(Operation::Read, Some(&job.path), message))
}

/// The temporary file must hold every byte before it gets the final name.
fn holds_every_byte(temp: &str, found: Option<u64>, expected: u64) -> Result<(), RemoteError> {
    if found == Some(expected) {
        return Ok(());
    }
    let message = format!(
        "the uploaded file holds {found:?} bytes instead of {expected}; it keeps its temporary name"
    );
    Err(RemoteError::new(Operation::Write, Some(temp), message))
}

/// `len` bytes of `path` from `offset`, or `None` if they cannot all be read.
async fn read_exactly(remote: &dyn Remote, path: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
    let mut reader = remote.read(path, offset).await.ok()?;
    let mut bytes = vec![0u8; len as usize];
    reader.read_exact(&mut bytes).await.ok()?;
    Some(bytes)
}

/// The pause before in-run retry number `attempt` (from 0): doubling, capped, with
/// ±25 % jitter so that parallel transfers do not retry in step.
fn backoff(first: Duration, attempt: u32) -> Duration {
    let doubled = first.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF);
    let random = RandomState::new().build_hasher().finish();
    let jitter = 0.75 + (random % 1000) as f64 / 2000.0;
    doubled.mul_f64(jitter)
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn sent(job: &Job, bytes: u64, mtime_ns: Option<i64>) -> FileOutcome {
    FileOutcome {
        path: job.path.clone(),
        status: FileStatus::Transferred,
        operation: "write".into(),
        bytes,
        size: job.size,
        mtime_ns,
        category: None,
        retry: None,
        message: job
            .renamed_to
            .as_ref()
            .map(|renamed_to| format!("sent as {renamed_to}")),
        advice: None,
        at: SystemTime::now(),
    }
}

/// A policy rejection as an outcome: permanent until the file is renamed or changed.
pub(super) fn rejected(rejection: &Rejection) -> FileOutcome {
    let message = rejection
        .violations
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join("; ");
    let advice = match &rejection.suggestion {
        Some(name) => {
            format!("Rename it before the next run, e.g. to {name:?}; it is not sent until then.")
        }
        None => {
            "The remote cannot take this file as it is; it is not sent until it changes.".into()
        }
    };
    let category = rejection
        .violations
        .first()
        .map(violation_category)
        .map(category_name)
        .unwrap_or("invalid-name");
    FileOutcome {
        path: rejection.path.clone(),
        status: FileStatus::Rejected,
        operation: "check".into(),
        bytes: 0,
        size: rejection.size,
        mtime_ns: rejection.mtime.map(unix_nanos),
        category: Some(category.into()),
        retry: Some("never".into()),
        message: Some(message),
        advice: Some(advice),
        at: SystemTime::now(),
    }
}

fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Connect => "connect",
        Operation::Authenticate => "authenticate",
        Operation::List => "list",
        Operation::Stat => "stat",
        Operation::Read => "read",
        Operation::Write => "write",
        Operation::Rename => "rename",
        Operation::Mkdir => "mkdir",
        Operation::Delete => "delete",
        Operation::SetMtime => "set-mtime",
    }
}

/// Files, bytes, rate and ETA on a terminal; nothing when stderr is not one.
fn progress_bar(total_bytes: u64, files: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg:>12} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .expect("a valid template");
    bar.set_style(style);
    bar.set_message(format!("0/{files} files"));
    bar
}
