//! The executor: carries out a plan with bounded concurrency. How an upload comes to stand
//! under its final name is the [`Strategy`] the destination's capabilities choose: under
//! the plugin's temporary name then renamed once complete and verified, or staged in parts
//! that the store shows only once committed; every outcome is recorded as it happens.

mod staged;

pub use staged::PART_BUFFERS;

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{Receiver, Sender};

use super::after::Delivered;
use super::answers::{BadTempName, TempNames, quoted};
use super::hooks::{Progress, Stop};
use super::listing::{Listing, unix_nanos};
use super::plan::{Deletion, Plan, Reason, Rejection, Transfer};
use super::policy::PolicyHandle;
use super::recorder::Recorder;
use super::throttle::Throttle;
use crate::config::UploadMode;
use crate::plugin::{
    Category, CustomViolation, LengthScope, Operation, PluginError, Protocol, Retry, TempForm,
    Violation, describe, violation_category,
};
use crate::remote::{Commit, Mtimes, Resume};
use crate::remote::{Kind, Reader, Remote, RemoteError, Version, Writer, aside_name};
use crate::state::{DestinationVersion, FileOutcome, FileStatus, Partial, Step};

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
#[derive(Clone)]
pub(super) struct Job {
    path: String,
    renamed_to: Option<Box<str>>,
    size: u64,
    mtime: Option<SystemTime>,
    temp_form: TempForm,
    /// A folder at the destination is where this file goes: it takes the folder's place
    /// only after mirror's deletions have removed it.
    replaces_folder: bool,
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
            replaces_folder: transfer.reason == Reason::ReplacesFolder,
        }
    }

    /// The record of an upload of this version under `temp`.
    fn partial(&self, temp: &str) -> Partial {
        Partial {
            temp_path: temp.to_string(),
            size: self.size,
            mtime_ns: self.mtime.map(unix_nanos),
            staged: None,
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

/// The transfers of `plan` (entries of `source`) whose temporary names a run would refuse
/// whatever the destination holds, as rejections: what `ferry check` reports.
pub(super) async fn refused_temp_names(
    policy: &PolicyHandle,
    source: Arc<Listing>,
    plan: &Plan,
) -> Result<Vec<Rejection>, PluginError> {
    let mut temps = TempNames::new(Arc::clone(&source), Arc::new(Listing::default()), plan);
    let mut refused = Vec::new();
    for batch in plan.transfers.chunks(TEMP_BATCH) {
        for (job, temp) in prepare(policy, &source, batch).await? {
            let Err(bad) = temps.admit(job.destination(), &temp) else {
                continue;
            };
            let message = temp_refusal(policy, &job, &temp, bad);
            refused.push(Rejection {
                path: job.path,
                kind: Kind::File,
                size: job.size,
                mtime: job.mtime,
                violations: vec![Violation::Custom(CustomViolation {
                    rule: "unusable-temp-name".into(),
                    message,
                })],
                suggestion: None,
                advice: Some(temp_advice(bad)),
            });
        }
    }
    Ok(refused)
}

/// What the host says of a temporary name it refused.
fn temp_refusal(policy: &PolicyHandle, job: &Job, temp: &str, bad: BadTempName) -> String {
    format!(
        "the policy plugin {} answered the temporary name {} for {:?}, {bad}",
        policy.label(),
        quoted(temp),
        job.destination()
    )
}

/// How an upload comes to stand under its final name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Under its temporary name, renamed over the final one once complete.
    TempRename,
    /// Straight under the final name (`upload = "direct"`, for servers refusing rename).
    Direct,
    /// In parts under the final name, shown by the store only once committed whole.
    Staged,
}

impl Strategy {
    /// The strategy for a destination that commits uploads as `commit` says, under the
    /// sync's `upload` key (a staged upload needs no temporary name either way).
    pub fn choose(upload: UploadMode, commit: Commit) -> Self {
        match (commit, upload) {
            (Commit::Staged, _) => Strategy::Staged,
            (Commit::Rename, UploadMode::Direct) => Strategy::Direct,
            (Commit::Rename, UploadMode::TempRename) => Strategy::TempRename,
        }
    }

    /// Whether the destination's policy is asked for temporary names (and the host checks
    /// them): not for staged uploads, which have none. `upload = "direct"` still asks, as
    /// it did before there were staged uploads.
    pub fn asks_temp_names(self) -> bool {
        self != Strategy::Staged
    }
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
    pub strategy: Strategy,
    /// Whether uploads get their source's modification time (`set_mtime` of the remote).
    pub set_mtime: bool,
    /// Files uploaded under their temporary name that replace a folder: put in place
    /// after the deletions (job, temporary name, what was sent).
    pub deferred: Mutex<Vec<(Job, String, Sent)>>,
    /// Uploads the destination refused to give their time, and its first answer.
    pub times_refused: Mutex<(usize, Option<String>)>,
    /// The parts of staged uploads a run may hold in memory at once (see
    /// [`staged::PART_BUFFERS`]).
    pub part_buffers: Arc<tokio::sync::Semaphore>,
    /// Files an earlier run left partly sent that started again from their first byte,
    /// the destination being unable to continue an upload.
    pub restarted: Mutex<Vec<String>>,
    /// Where the transfers' progress goes, and the run's stop switch.
    pub progress: Arc<dyn Progress>,
    pub stop: Stop,
    /// The files delivered and recorded, when something becomes of them afterwards
    /// (`after_delivery`); `None` when they are kept.
    pub delivered: Option<Mutex<Vec<Delivered>>>,
}

/// What one attempt delivered: the bytes it sent, and whether the file got its time.
#[derive(Clone, Copy)]
pub struct Sent {
    bytes: u64,
    timed: bool,
}

/// A failed step: a remote's error, with the side it failed on, or a source file that
/// changed while it was read.
enum StepError {
    Remote {
        protocol: Protocol,
        error: RemoteError,
    },
    Changed(String),
    /// The run was asked to stop; what was sent stays, to be continued by a later run.
    Stopped,
}

type Tried<T> = Result<T, StepError>;

fn on(protocol: Protocol) -> impl Fn(RemoteError) -> StepError {
    move |error| StepError::Remote { protocol, error }
}

impl Executor {
    /// Carry out `plan`, whose transfers are entries of `source`, at a destination
    /// listed as `destination`.
    pub async fn execute(self: Arc<Self>, plan: Plan, source: Arc<Listing>, destination: Listing) {
        let temps = TempNames::new(Arc::clone(&source), Arc::new(destination), &plan);
        for rejection in &plan.rejections {
            self.recorder.record(rejected(rejection));
        }
        let created = Arc::new(Mutex::new(HashSet::new()));
        for (source, destination) in &plan.renamed_folders {
            self.recorder.remember_rename(source, destination);
        }
        let moved_aside = self.move_aside(&plan.replaced_files).await;
        for folder in &plan.mkdirs {
            self.make_folder(folder, &created).await;
        }
        self.transfer_all(plan.transfers, source, temps, created)
            .await;
        // A stopped run deletes nothing: mirror's deletions wait for a run that finishes.
        for deletion in plan
            .deletions
            .iter()
            .take_while(|_| !self.stop.is_stopped())
        {
            self.delete(deletion).await;
        }
        self.put_deferred_in_place().await;
        for (path, aside) in moved_aside {
            self.remove_replaced(&path, &aside).await;
        }
    }

    /// Move each file a folder replaces out of the folder's way (mirror only); the ones
    /// moved, with where to. A file that cannot be moved stays, and its folder fails.
    async fn move_aside(&self, files: &[String]) -> Vec<(String, String)> {
        let mut moved = Vec::new();
        for path in files {
            let aside = aside_name(path);
            match self.destination.rename(path, &aside).await {
                Ok(()) => moved.push((path.clone(), aside)),
                Err(error) => {
                    let step = on(self.destination.protocol())(error);
                    let failure = self.failure(path, 0, None, step).await;
                    self.recorder.record(failure);
                }
            }
        }
        moved
    }

    /// Remove a file a folder replaced: put back if the folder could not be made.
    async fn remove_replaced(&self, path: &str, aside: &str) {
        let folder_made = matches!(
            self.destination.stat(path).await,
            Ok(Some(entry)) if entry.kind == Kind::Directory
        );
        let done = match folder_made {
            true => self.destination.delete(aside, Kind::File).await,
            false => self.destination.rename(aside, path).await,
        };
        match done {
            Ok(()) if folder_made => self.recorder.record(deleted(path)),
            Ok(()) => {}
            Err(error) => {
                let step = on(self.destination.protocol())(error);
                let failure = self.failure(aside, 0, None, step).await;
                self.recorder.record(failure);
            }
        }
    }

    /// Put each file that replaces a folder in the folder's place, now that mirror's
    /// deletions have run; one whose folder is still there fails, and its upload goes.
    async fn put_deferred_in_place(&self) {
        let deferred = std::mem::take(&mut *self.deferred.lock().unwrap());
        for (job, temp, delivered) in deferred {
            let mtime_ns = job.mtime.map(unix_nanos);
            match self.place(&job, &temp).await {
                Ok(()) => {
                    let outcome = sent(&job, delivered.bytes, mtime_ns);
                    self.record_delivery(&job, outcome, delivered).await;
                }
                Err(step) => {
                    self.discard(&job, &temp).await;
                    let failure = self.failure(&job.path, job.size, mtime_ns, step).await;
                    self.recorder.record(failure);
                }
            }
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
        temps: TempNames,
        created: Arc<Mutex<HashSet<String>>>,
    ) {
        let total_bytes = transfers.iter().map(|t| source.item(t.entry).size).sum();
        self.progress.begin(transfers.len() as u64, total_bytes);
        let (sender, receiver) = tokio::sync::mpsc::channel::<(Job, String)>(TEMP_BATCH);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let workers: Vec<_> = (0..self.transfers.max(1))
            .map(|_| {
                let (executor, receiver) = (Arc::clone(self), Arc::clone(&receiver));
                let created = Arc::clone(&created);
                tokio::spawn(async move {
                    // The lock is let go before the transfer (a `while let` would keep it).
                    while let Some((job, temp)) = executor.next_job(&receiver).await {
                        executor.transfer_and_record(&job, &temp, &created).await;
                        executor.progress.file_done();
                    }
                })
            })
            .collect();
        // Workers that stop drop the queue, which ends the feed.
        drop(receiver);
        self.feed(&transfers, &source, temps, sender).await;
        for worker in workers {
            worker.await.expect("transfer workers do not panic");
        }
        self.progress.end();
    }

    /// The next transfer to start: none once the run is asked to stop.
    async fn next_job(
        &self,
        receiver: &tokio::sync::Mutex<Receiver<(Job, String)>>,
    ) -> Option<(Job, String)> {
        tokio::select! {
            biased;
            () = self.stop.stopped() => None,
            job = async { receiver.lock().await.recv().await } => job,
        }
    }

    /// Hand every transfer to the workers, named a batch at a time (a plan of a million
    /// files holds no million temporary names). A temporary name the host refuses fails
    /// its file alone; a plugin that cannot name them ends the transfers with one run
    /// failure. A staged upload has none: it goes under its final name.
    async fn feed(
        &self,
        transfers: &[Transfer],
        source: &Listing,
        mut temps: TempNames,
        sender: Sender<(Job, String)>,
    ) {
        for batch in transfers.chunks(TEMP_BATCH) {
            if !self.strategy.asks_temp_names() {
                for job in batch.iter().map(|transfer| Job::new(transfer, source)) {
                    let path = job.destination().to_string();
                    if sender.send((job, path)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            let named = match prepare(&self.policy, source, batch).await {
                Ok(named) => named,
                Err(error) => {
                    self.recorder.record(super::run_failure(
                        Step::TempName,
                        Category::PluginFailure,
                        error.to_string(),
                        "The policy plugin failed while naming temporary files; the files left are not sent. Report it to its authors with this message.",
                    ));
                    return;
                }
            };
            for job in self.admitted(named, &mut temps).await {
                if sender.send(job).await.is_err() {
                    return;
                }
            }
        }
    }

    /// The jobs of a batch whose temporary names the host accepts; each other one fails
    /// alone. The temporary name of each small file is recorded before it is sent: a
    /// later run finds it there as its own, should this one be interrupted.
    async fn admitted(
        &self,
        named: Vec<(Job, String)>,
        temps: &mut TempNames,
    ) -> Vec<(Job, String)> {
        let mut admitted = Vec::with_capacity(named.len());
        for (job, temp) in named {
            match self.admit(&job, &temp, temps).await {
                Ok(()) => admitted.push((job, temp)),
                Err(bad) => self.recorder.record(self.refused_temp(&job, &temp, bad)),
            }
        }
        for (job, temp) in admitted.iter().filter(|(job, _)| job.size < RESUMABLE) {
            self.recorder.note_partial(&job.path, job.partial(temp));
        }
        self.recorder.committed().await;
        admitted
    }

    /// Whether `temp` may be `job`'s temporary name: a name the destination holds only
    /// if an earlier run recorded it as this file's upload.
    async fn admit(&self, job: &Job, temp: &str, temps: &mut TempNames) -> Result<(), BadTempName> {
        match temps.admit(job.destination(), temp) {
            Err(BadTempName::AtDestination) if self.is_own_upload(job, temp).await => {
                temps.take(temp);
                Ok(())
            }
            admitted => admitted,
        }
    }

    async fn is_own_upload(&self, job: &Job, temp: &str) -> bool {
        let recorded = self.recorder.partial(&job.path).await;
        recorded.is_some_and(|partial| partial.temp_path == temp)
    }

    /// A file whose temporary name the host refused: it is not sent, and nothing is
    /// touched for it.
    fn refused_temp(&self, job: &Job, temp: &str, bad: BadTempName) -> FileOutcome {
        FileOutcome {
            path: job.path.clone(),
            status: FileStatus::Failed,
            operation: Step::TempName,
            bytes: 0,
            size: job.size,
            mtime_ns: job.mtime.map(unix_nanos),
            category: Some(Category::PluginFailure),
            retry: Some(Retry::NextRun),
            message: Some(format!(
                "{}; the file was not sent and nothing was written for it",
                temp_refusal(&self.policy, job, temp, bad)
            )),
            advice: Some(temp_advice(bad)),
            at: SystemTime::now(),
        }
    }

    /// Send one file and record how it went.
    async fn transfer_and_record(&self, job: &Job, temp: &str, created: &Mutex<HashSet<String>>) {
        // A stopped transfer records nothing: its upload stays for a later run to continue.
        let Some((outcome, delivered)) = self.transfer(job, temp, created).await else {
            return;
        };
        match delivered {
            Some(delivered) if job.replaces_folder && self.strategy == Strategy::TempRename => {
                let entry = (job.clone(), temp.to_string(), delivered);
                self.deferred.lock().unwrap().push(entry);
            }
            Some(delivered) => self.record_delivery(job, outcome, delivered).await,
            None => self.recorder.record(outcome),
        }
    }

    /// Record a file delivered, with what later runs need to know of it: the name it was
    /// sent under, and how the destination holds it when its time was not kept.
    async fn record_delivery(&self, job: &Job, outcome: FileOutcome, delivered: Sent) {
        // Recording it forgets its upload in progress (it is in place).
        self.recorder.record(outcome);
        if let Some(files) = &self.delivered {
            files.lock().unwrap().push(Delivered {
                path: job.path.clone(),
                size: job.size,
                mtime: job.mtime,
            });
        }
        if let Some(renamed_to) = &job.renamed_to {
            self.recorder.remember_rename(&job.path, renamed_to);
        }
        if delivered.timed {
            return;
        }
        if let Ok(Some(entry)) = self.destination.stat(job.destination()).await {
            let version = DestinationVersion {
                size: entry.size,
                mtime_ns: entry.mtime.map(unix_nanos),
            };
            self.recorder.remember_delivered_as(&job.path, version);
        }
    }

    /// Send one file, retrying what the plugin says to retry now, and say how it went:
    /// nothing when the run was stopped in the middle of it.
    async fn transfer(
        &self,
        job: &Job,
        temp: &str,
        created: &Mutex<HashSet<String>>,
    ) -> Option<(FileOutcome, Option<Sent>)> {
        let mtime_ns = job.mtime.map(unix_nanos);
        let mut attempt = 0;
        loop {
            let step = match self.send(job, temp, created).await {
                Ok(delivered) => {
                    return Some((sent(job, delivered.bytes, mtime_ns), Some(delivered)));
                }
                Err(StepError::Stopped) => return None,
                Err(step) => step,
            };
            let changed = matches!(step, StepError::Changed(_));
            let failure = self.failure(&job.path, job.size, mtime_ns, step).await;
            if changed || nothing_resumes(job, &failure) {
                self.discard(job, temp).await;
            }
            if failure.retry != Some(Retry::Now) || attempt >= self.retries {
                return Some((failure, None));
            }
            tokio::select! {
                () = tokio::time::sleep(backoff(self.retry_delay, attempt)) => attempt += 1,
                () = self.stop.stopped() => return Some((failure, None)),
            }
        }
    }

    /// One attempt: the bytes sent by it (a resumed upload sends only the rest). The
    /// upload goes to `temp` and is renamed to its final name, unless it goes straight
    /// there (`upload = "direct"`) or waits for a folder to make way (put in place later).
    async fn send(&self, job: &Job, temp: &str, created: &Mutex<HashSet<String>>) -> Tried<Sent> {
        let dst = self.destination.protocol();
        self.ensure_parent(job.destination(), created)
            .await
            .map_err(on(dst))?;
        let target = match self.strategy {
            Strategy::TempRename => temp,
            Strategy::Direct | Strategy::Staged => job.destination(),
        };
        let sent = if job.size < RESUMABLE {
            self.send_whole(job, target).await?
        } else if self.strategy == Strategy::Staged {
            self.send_staged(job, target).await?
        } else {
            self.send_streamed(job, target).await?
        };
        if self.strategy == Strategy::TempRename && !job.replaces_folder {
            self.place(job, temp).await?;
        }
        Ok(sent)
    }

    /// Throw away an upload nothing will resume from (see [`nothing_resumes`]; a source
    /// that changed while it was read: it is neither version). Under
    /// `upload = "direct"` it is the final file, and stays (the next run replaces it).
    async fn discard(&self, job: &Job, temp: &str) {
        match self.strategy {
            Strategy::TempRename => {
                let _ = self.destination.delete(temp, Kind::File).await;
            }
            Strategy::Staged => self.abort_recorded(job).await,
            Strategy::Direct => {}
        }
        self.recorder.clear_partial(&job.path);
    }

    /// Rename the complete upload at `temp` to its final name. When that fails, the
    /// final name keeps what it held (the caller decides whether the upload stays).
    async fn place(&self, job: &Job, temp: &str) -> Tried<()> {
        let dst = self.destination.protocol();
        if let Err(mut error) = self.destination.rename(temp, job.destination()).await {
            error.message = format!(
                "{}; the upload {temp} could not be renamed to {}, which keeps what it held. \
                 A server that refuses every rename needs upload = \"direct\" on the sync",
                error.message,
                job.destination()
            );
            return Err(on(dst)(error));
        }
        Ok(())
    }

    /// A small file in one piece: read whole, then written with its mtime at once (a few
    /// round trips per file, where a stream takes twice as many).
    async fn send_whole(&self, job: &Job, temp: &str) -> Tried<Sent> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let data = self
            .source
            .get(&job.path, job.size)
            .await
            .map_err(on(src))?;
        let read = data.len() as u64;
        self.unchanged_since_listed(job, read, None).await?;
        if let Some(throttle) = &self.throttle {
            throttle.acquire(data.len()).await;
        }
        let mtime = self.mtime_to_set(job);
        let timed = match self.destination.put(temp, data, mtime).await {
            Ok(()) => mtime.is_some(),
            Err(error) if self.refused_time(&error) => false,
            Err(error) => return Err(on(dst)(error)),
        };
        self.progress.advance(read);
        Ok(Sent { bytes: read, timed })
    }

    /// The modification time an upload of `job` gets: none where the remote is told not
    /// to set one, or keeps each upload's own time (then the delivery is recorded with
    /// the time the destination shows, so that a rerun finds it unchanged).
    fn mtime_to_set(&self, job: &Job) -> Option<SystemTime> {
        let settable = matches!(self.destination.capabilities().mtimes, Mtimes::Settable(_));
        job.mtime.filter(|_| self.set_mtime && settable)
    }

    /// Whether `error` is the server's refusal to set a time (an answer, not a lost
    /// connection): the file is delivered without it, and the run says so once.
    fn refused_time(&self, error: &RemoteError) -> bool {
        if error.operation != Operation::SetMtime || error.code.is_none() {
            return false;
        }
        let mut refused = self.times_refused.lock().unwrap();
        refused.0 += 1;
        refused.1.get_or_insert_with(|| error.message.clone());
        true
    }

    /// A large file as a stream, continued where an interrupted attempt stopped.
    async fn send_streamed(&self, job: &Job, temp: &str) -> Tried<Sent> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        // One stat: the version listed is still there, and its ctime is kept for after.
        let before = self.source.version(&job.path).await.map_err(on(src))?;
        still_listed(job, job.size, before, None)?;
        let start = self.resume_point(job, temp).await;
        self.progress.advance(start);
        let reader = self.source.read(&job.path, start).await.map_err(on(src))?;
        let writer = self.destination.write(temp, start).await.map_err(on(dst))?;
        let sent = self.copy(reader, writer, job, temp).await?;
        self.unchanged_since_listed(job, start + sent, before)
            .await?;
        let stored = self.destination.stat(temp).await.map_err(on(dst))?;
        holds_every_byte(temp, stored.map(|entry| entry.size), job.size).map_err(on(dst))?;
        let timed = match self.mtime_to_set(job) {
            None => false,
            Some(mtime) => match self.destination.set_mtime(temp, mtime).await {
                Ok(kept) => kept,
                Err(error) if self.refused_time(&error) => false,
                Err(error) => return Err(on(dst)(error)),
            },
        };
        Ok(Sent { bytes: sent, timed })
    }

    /// Copy everything `reader` gives to `writer`; the number of bytes.
    async fn copy(
        &self,
        mut reader: Reader,
        mut writer: Writer,
        job: &Job,
        temp: &str,
    ) -> Tried<u64> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let read_error =
            |e: std::io::Error| on(src)(RemoteError::io(Operation::Read, Some(&job.path), &e));
        let write_error =
            |e: std::io::Error| on(dst)(RemoteError::io(Operation::Write, Some(temp), &e));
        let mut buffer = vec![0u8; CHUNK];
        let mut copied = 0u64;
        loop {
            if self.stops_mid_file() {
                return Err(StepError::Stopped);
            }
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
            self.progress.advance(read as u64);
        }
        writer.shutdown().await.map_err(write_error)?;
        Ok(copied)
    }

    /// Whether a file being sent stops where it is: once the run is asked to stop, unless
    /// it is written under its final name (that one is finished, never left half).
    fn stops_mid_file(&self) -> bool {
        self.stop.is_stopped() && self.strategy != Strategy::Direct
    }

    /// Where this attempt starts: the length of a temporary file an interrupted attempt
    /// left, when it holds this very version of the source (same size and mtime on
    /// record, and its last block equal to the source's); otherwise 0, after recording
    /// which version the new temporary file is for.
    async fn resume_point(&self, job: &Job, temp: &str) -> u64 {
        if job.size < RESUMABLE {
            return 0;
        }
        if self.destination.capabilities().resume != Resume::Append {
            if self.recorder.partial(&job.path).await.is_some() {
                self.restarted.lock().unwrap().push(job.path.clone());
            }
            self.recorder
                .set_partial(&job.path, job.partial(temp))
                .await;
            return 0;
        }
        let this_version = job.partial(temp);
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
            Ok(()) => deleted(&deletion.path),
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
        match step {
            StepError::Remote { protocol, error } => {
                classified(&self.policy, path, size, mtime_ns, protocol, error).await
            }
            StepError::Changed(message) => changed_while_sent(path, size, mtime_ns, message),
            // Only reached by a step outside a transfer (a transfer records nothing then).
            StepError::Stopped => FileOutcome {
                path: path.to_string(),
                size,
                mtime_ns,
                ..super::run_failure(
                    Step::Write,
                    Category::Unknown,
                    "the run was stopped while this file was being sent".into(),
                    "What was sent stays; the next run continues it.",
                )
            },
        }
    }

    /// The source still holds the version listed: `read` bytes were read of it, and its
    /// size and mtime (and its ctime, against `before` the read) are as they were. A file
    /// written while it was read would leave a copy equal to neither version.
    async fn unchanged_since_listed(
        &self,
        job: &Job,
        read: u64,
        before: Option<Version>,
    ) -> Tried<()> {
        let now = self
            .source
            .version(&job.path)
            .await
            .map_err(on(self.source.protocol()))?;
        still_listed(job, read, now, before)
    }
}

/// Whether `now`, the source's version after `read` bytes were read of it, is the one
/// listed: its size and mtime as listed, and its ctime as `before` the read, where the
/// remote keeps one.
fn still_listed(job: &Job, read: u64, now: Option<Version>, before: Option<Version>) -> Tried<()> {
    let listed = Version {
        size: job.size,
        mtime: job.mtime,
        ctime: before.and_then(|b| b.ctime),
    };
    let now_seen = now.map(|now| Version {
        ctime: now.ctime.filter(|_| listed.ctime.is_some()),
        ..now
    });
    if read == job.size && now_seen == Some(listed) {
        return Ok(());
    }
    Err(StepError::Changed(change_message(job, read, now)))
}

/// The next transfer for a worker, `None` when all are handed out.
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
        operation: error.operation.into(),
        bytes: 0,
        size,
        mtime_ns,
        category: Some(classification.category),
        retry: Some(classification.retry),
        message: Some(error.message),
        advice: Some(classification.advice),
        at: SystemTime::now(),
    }
}

/// Whether nothing will resume from a failed attempt's upload, so that it must not be
/// left behind: a small file is always sent whole, and a rename the server will never
/// allow would leave even a large one there for good.
fn nothing_resumes(job: &Job, failure: &FileOutcome) -> bool {
    job.size < RESUMABLE
        || (failure.operation == Step::Rename && failure.retry == Some(Retry::Never))
}

/// What changed in the source file since it was listed, in words.
fn change_message(job: &Job, read: u64, now: Option<Version>) -> String {
    let what = match now {
        None => "it is gone".to_string(),
        Some(now) if now.size != job.size => {
            format!(
                "it was listed with {} bytes and now has {}",
                job.size, now.size
            )
        }
        Some(now) if now.mtime != job.mtime => "its modification time moved".to_string(),
        Some(_) if read != job.size => format!("{} bytes were listed, {read} were read", job.size),
        Some(_) => "it was rewritten in place (its change time moved)".to_string(),
    };
    format!("the source file changed while it was sent: {what}")
}

/// A file that changed while it was sent: its copy is discarded and the destination keeps
/// what it held; the next run sends the new version.
fn changed_while_sent(
    path: &str,
    size: u64,
    mtime_ns: Option<i64>,
    message: String,
) -> FileOutcome {
    FileOutcome {
        path: path.to_string(),
        status: FileStatus::Failed,
        operation: Step::Read,
        bytes: 0,
        size,
        mtime_ns,
        category: Some(Category::Unknown),
        retry: Some(Retry::NextRun),
        message: Some(message),
        advice: Some(
            "Its copy was discarded; the destination keeps what it held, and the next run sends the new version. \
             If files are written in place while syncs run, set stable_for (e.g. \"2m\") on the sync: files changed \
             more recently than that are left for the next run."
                .into(),
        ),
        at: SystemTime::now(),
    }
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

fn deleted(path: &str) -> FileOutcome {
    FileOutcome {
        path: path.to_string(),
        status: FileStatus::Deleted,
        operation: Step::Delete,
        bytes: 0,
        size: 0,
        mtime_ns: None,
        category: None,
        retry: None,
        message: None,
        advice: None,
        at: SystemTime::now(),
    }
}

fn sent(job: &Job, bytes: u64, mtime_ns: Option<i64>) -> FileOutcome {
    FileOutcome {
        path: job.path.clone(),
        status: FileStatus::Transferred,
        operation: Step::Write,
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
    let advice = rejection_advice(rejection);
    let category = rejection
        .violations
        .first()
        .map_or(Category::InvalidName, violation_category);
    FileOutcome {
        path: rejection.path.clone(),
        status: FileStatus::Rejected,
        operation: Step::Check,
        bytes: 0,
        size: rejection.size,
        mtime_ns: rejection.mtime.map(unix_nanos),
        category: Some(category),
        retry: Some(Retry::Never),
        message: Some(message),
        advice: Some(advice),
        at: SystemTime::now(),
    }
}

/// What to do about a rejection: the host's own advice, a suggested name, or what fits
/// the first rule broken.
fn rejection_advice(rejection: &Rejection) -> String {
    if let Some(advice) = &rejection.advice {
        return advice.clone();
    }
    if let Some(name) = &rejection.suggestion {
        return format!(
            "Rename it before the next run, e.g. to {name:?}; it is not sent until then."
        );
    }
    match rejection.violations.first() {
        Some(Violation::NameTooLong(length) | Violation::PathTooLong(length))
            if length.scope == LengthScope::FullPathWithTempSuffix =>
        {
            "The remote counts the temporary upload name too, and even the short one does not fit: \
             shorten the name or the folders above it. It is not sent until then."
                .into()
        }
        Some(Violation::NameTooLong(_) | Violation::PathTooLong(_)) => {
            "Shorten the name or the folders above it; it is not sent until then.".into()
        }
        Some(Violation::TooLarge(_)) => {
            "The remote does not take files this large: split or compress it, or ask the partner to raise the limit. It is not sent until it changes.".into()
        }
        Some(Violation::ZeroByteUnsupported) => {
            "The remote does not take empty files: give it content, or exclude it from the sync. It is not sent until it changes.".into()
        }
        _ => "The remote cannot take this file as it is: rename it to fit the rule above. It is not sent until it changes.".into(),
    }
}

/// What to do about a refused temporary name.
fn temp_advice(bad: BadTempName) -> String {
    let own = match bad {
        BadTempName::AtDestination => {
            " If that file is an upload an interrupted run of another tool left behind, remove it at the destination."
        }
        _ => "",
    };
    format!(
        "The plugin must answer a temporary name of its own for each file, in the file's folder; \
         report this answer to its authors. The file is tried again at the next run.{own}"
    )
}
