//! One run of a sync: scan -> plan -> execute. The planner is pure ([`plan`]); the
//! executor does the I/O ([`execute`]); every outcome lands in the state store as it
//! happens ([`recorder`]).

mod after;
pub mod answers;
mod execute;
pub mod hooks;
pub mod listing;
mod local_limit;
pub mod plan;
mod policy;
mod recorder;
pub mod report;
mod scan;
mod throttle;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crate::config::{
    AfterDelivery, Config, ConfigError, ListingMode, Place, PolicyValue, RemoteConfig, RenameMode,
    SyncConfig, UploadMode,
};
use crate::plugin::{
    CHECK_BATCH, Category, Operation, PluginError, PluginSource, Protocol, Retry, Runtime,
    SettingInput, SettingValue, TempForm, Verdict, parse_settings,
};
use crate::remote::{self, Kind, RemoteError, Role};
use crate::state::{
    FileOutcome, FileStatus, PathState, RunLock, RunStatus, StateError, Step, Store, Totals,
};
use execute::Executor;
pub use hooks::{Hooks, NoProgress, Progress, Stop};
use listing::Listing;
pub use local_limit::OverLocalLimit;
use local_limit::over_local_limit;
use plan::{Ends, Filter, Inputs, Plan};
pub use policy::{PolicyHandle, bounded_verdict};
use recorder::Recorder;
pub use report::Failure;
use report::{Phases, RunReport, run_status, some_of};
use scan::{Scan, scan};
use throttle::Throttle;

/// Transfers at once when neither the command line nor the sync says.
pub const DEFAULT_TRANSFERS: usize = 16;

/// How to run, from the command line; each overrides the sync's own setting.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub transfers: Option<usize>,
    pub bwlimit: Option<u64>,
}

/// Why a run could not even start (bad config, unusable plugin or state store). A run
/// that starts always ends in a [`RunReport`], however badly it goes.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("sync {sync}: {error}")]
    Filter { sync: String, error: globset::Error },
    #[error("remote {remote}: {error}")]
    Plugin { remote: String, error: PluginError },
    #[error(transparent)]
    Policy(Box<PolicyConfigError>),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The policy a remote names, or one of its settings, cannot be used: placed at the key
/// in the config file.
#[derive(Debug, thiserror::Error)]
#[error("{}", place.locate(file, &error.to_string()))]
pub struct PolicyConfigError {
    pub file: std::path::PathBuf,
    pub place: Place,
    #[source]
    pub error: PluginError,
}

/// The destination's policy plugin, loaded and configured from the remote's settings.
pub fn load_policy(
    runtime: &Runtime,
    config: &Config,
    remote: &RemoteConfig,
) -> Result<PolicyHandle, SyncError> {
    let located = |error: PluginError| {
        SyncError::Policy(Box::new(PolicyConfigError {
            file: config.file.clone(),
            place: policy_error_place(remote, &error).clone(),
            error,
        }))
    };
    let spec = remote.policy.as_deref().unwrap_or("generic");
    let base = config.file.parent().unwrap_or(std::path::Path::new("."));
    let limits = remote.policy_timeout.map_or(runtime.limits(), |timeout| {
        runtime.limits().with_timeout(timeout)
    });
    let plugin = runtime
        .load_with(&PluginSource::resolve(spec, base).map_err(located)?, limits)
        .map_err(located)?;
    let given = remote.policy_settings.iter().map(|setting| {
        let value = SettingInput::Typed(setting_value(&setting.value));
        (setting.name.clone(), value)
    });
    let policy = plugin
        .configure(parse_settings(&plugin, given).map_err(located)?)
        .map_err(located)?;
    Ok(PolicyHandle::new(policy))
}

/// Where in the config a plugin's complaint points: the setting it names, else `policy`.
fn policy_error_place<'a>(remote: &'a RemoteConfig, error: &PluginError) -> &'a Place {
    let key = match error {
        PluginError::UnknownSetting { key, .. } | PluginError::BadSetting { key, .. } => key,
        _ => return &remote.policy_place,
    };
    remote
        .policy_settings
        .iter()
        .find(|setting| &setting.name == key)
        .map_or(&remote.policy_place, |setting| &setting.place)
}

fn setting_value(value: &PolicyValue) -> SettingValue {
    match value {
        PolicyValue::Text(text) => SettingValue::Text(text.clone()),
        PolicyValue::Integer(number) => SettingValue::Integer(*number),
        PolicyValue::Boolean(flag) => SettingValue::Boolean(*flag),
        PolicyValue::TextList(list) => SettingValue::TextList(list.clone()),
    }
}

/// Run the sync named `name`, reporting progress to `hooks` and stopping when it says.
/// `policy` is the destination's, from [`load_policy`] (called outside the async runtime).
pub async fn run(
    config: &Config,
    name: &str,
    options: &RunOptions,
    policy: PolicyHandle,
    hooks: &Hooks,
) -> Result<RunReport, SyncError> {
    let sync = config.sync(name)?;
    let filter = sync_filter(sync)?;
    let source_config = config.remote(&sync.source)?;
    let destination_config = config.remote(&sync.destination)?;
    // One real run of a sync at a time, held until this returns. A dry run changes
    // nothing, so it takes no lock and may look beside a real run.
    let lock = match options.dry_run {
        true => None,
        false => Some(RunLock::acquire(&config.state_dir, name)?),
    };
    let store = Store::open(&config.state_dir)?;
    let run_id = lock
        .as_ref()
        .map(|_| store.start_run(name, false))
        .transpose()?;
    if let Some(id) = run_id {
        hooks.progress.started(id.0);
    }
    let renames = known_renames(&store, &sync.source, &sync.destination)?;
    let store = Arc::new(Mutex::new(store));
    let started = Instant::now();
    let recorder = Recorder::new(
        Arc::clone(&store),
        run_id,
        name,
        (&sync.source, &sync.destination),
    );
    let run = Run {
        sync,
        options,
        policy: &policy,
        recorder: &recorder,
        filter: &filter,
        store: &store,
        renames: &renames,
        hooks,
    };
    let (mut totals, mut notes, mut phases) = (None, Vec::new(), Phases::default());
    match run
        .connect_and_sync(source_config, destination_config, &mut notes, &mut phases)
        .await
    {
        Ok(planned) => totals = planned,
        Err(abort) => {
            if let Some(outcome) = abort.outcome(&policy).await {
                recorder.record(outcome);
            }
        }
    }
    recorder.committed().await;
    let totals = totals.unwrap_or_else(|| recorder.totals());
    let stopped = hooks.stop.reason().map(stopped_note);
    let status = match stopped {
        Some(_) => RunStatus::Interrupted,
        None => run_status(&totals),
    };
    if let Some(id) = run_id {
        let store = store.lock().unwrap();
        store.finish_run_noted(id, status, &totals, stopped.as_deref())?;
    }
    notes.extend(stopped);
    notes.extend(
        recorder
            .store_errors()
            .into_iter()
            .map(|e| format!("the state store could not record an outcome: {e}")),
    );
    Ok(RunReport {
        sync: name.to_string(),
        run_id: run_id.map(|id| id.0),
        status,
        totals,
        failures: recorder.failures(),
        notes,
        duration: started.elapsed(),
        phases: Some(phases),
        dry_run: options.dry_run,
    })
}

/// Why a stopped run ended early, and that nothing is lost by it.
fn stopped_note(reason: &str) -> String {
    format!(
        "stopped before it finished ({reason}): files not yet started are left for the next \
         run, and files being sent stay to be continued by it; no deletion was made after the stop"
    )
}

/// What the sync covers: its include and exclude patterns, and never the archive folder
/// of `after_delivery = "archive:FOLDER"`.
fn sync_filter(sync: &SyncConfig) -> Result<Filter, SyncError> {
    let mut exclude = sync.exclude.clone();
    if let AfterDelivery::Archive(folder) = &sync.after_delivery {
        exclude.push(globset::escape(folder));
    }
    Filter::new(&sync.include, &exclude).map_err(|error| SyncError::Filter {
        sync: sync.name.clone(),
        error,
    })
}

/// Why a whole run stopped early.
enum Abort {
    Remote(Protocol, RemoteError),
    Plugin(PluginError),
    State(StateError),
    /// Asked to stop before anything was sent: nothing to record.
    Stopped,
}

impl Abort {
    /// The run-level failure, as an outcome without a path (none for a stop).
    async fn outcome(self, policy: &PolicyHandle) -> Option<FileOutcome> {
        let outcome = match self {
            Abort::Stopped => return None,
            Abort::Remote(protocol, error) => {
                execute::classified(policy, "", 0, None, protocol, error).await
            }
            Abort::Plugin(error) => run_failure(
                Step::Check,
                Category::PluginFailure,
                error.to_string(),
                "The policy plugin failed while checking names. Report it to its authors with this message.",
            ),
            Abort::State(error) => run_failure(
                Step::Plan,
                Category::Unknown,
                error.to_string(),
                "ferry could not read what earlier runs recorded. The message names the state database and what to do; check the disk and the permissions of its directory.",
            ),
        };
        Some(outcome)
    }
}

/// A failure of the whole run, as an outcome without a path.
fn run_failure(operation: Step, category: Category, message: String, advice: &str) -> FileOutcome {
    FileOutcome {
        path: String::new(),
        status: FileStatus::Failed,
        operation,
        bytes: 0,
        size: 0,
        mtime_ns: None,
        category: Some(category),
        retry: Some(Retry::NextRun),
        message: Some(message),
        advice: Some(advice.into()),
        at: SystemTime::now(),
    }
}

struct Run<'a> {
    sync: &'a SyncConfig,
    options: &'a RunOptions,
    policy: &'a PolicyHandle,
    recorder: &'a Recorder,
    filter: &'a Filter,
    store: &'a Mutex<Store>,
    renames: &'a HashMap<String, String>,
    hooks: &'a Hooks,
}

impl Run<'_> {
    /// Connect, scan, plan and execute (or, for a dry run, return what would be done).
    async fn connect_and_sync(
        &self,
        source_config: &RemoteConfig,
        destination_config: &RemoteConfig,
        notes: &mut Vec<String>,
        phases: &mut Phases,
    ) -> Result<Option<Totals>, Abort> {
        let mut clock = Instant::now();
        let delivered = match destination_config.listing {
            ListingMode::Full => None,
            ListingMode::None => Some(self.delivered_scan().map_err(Abort::State)?),
        };
        // Each side is listed as soon as it is connected: a local source is walked while
        // the destination's SSH handshake is still going on. The first error ends both.
        let (
            (source, source_scan, source_connect),
            (destination, destination_scan, destination_connect),
        ) = self
            .unless_stopped(async {
                tokio::try_join!(
                    open_and_scan(source_config, Role::Source, None),
                    open_and_scan(destination_config, Role::Destination, delivered)
                )
            })
            .await
            .inspect_err(|abort| notes.extend(write_only_hint(abort, destination_config)))?;
        phases.connect = source_connect.max(destination_connect);
        self.record_unlisted(&source_scan, source.protocol()).await;
        notes.extend(self.scan_notes(&source_scan, &destination_scan, destination_config));
        phases.scan = lap(&mut clock).saturating_sub(phases.connect);
        let ends = Ends {
            source: source.capabilities(),
            destination: destination.capabilities(),
        };
        let mut plan = self
            .unless_stopped(self.plan(&source_scan, &destination_scan, ends, phases))
            .await?;
        phases.plan = lap(&mut clock).saturating_sub(phases.check);
        notes.extend(self.plan_notes(&plan));
        if self.options.dry_run {
            return Ok(Some(self.planned(&plan, &source_scan, notes).await));
        }
        self.recorder.add_unchanged(plan.unchanged.len());
        for held in &plan.held {
            self.recorder.record(held_outcome(held, &self.sync.name));
        }
        let executor = self.executor(source, destination, destination_config);
        let source_entries = Arc::new(source_scan.entries);
        let unchanged = std::mem::take(&mut plan.unchanged);
        Arc::clone(&executor)
            .execute(plan, Arc::clone(&source_entries), destination_scan.entries)
            .await;
        phases.transfer = lap(&mut clock);
        notes.extend(times_refused_note(&executor, &destination_config.name));
        notes.extend(restarted_note(&executor, &destination_config.name));
        notes.extend(
            self.after_delivery(&executor, &source_entries, unchanged)
                .await,
        );
        Ok(None)
    }

    /// `work` (which changes nothing: listing, planning), dropped when the run is asked to
    /// stop before it is done.
    async fn unless_stopped<T>(
        &self,
        work: impl Future<Output = Result<T, Abort>>,
    ) -> Result<T, Abort> {
        tokio::select! {
            biased;
            () = self.hooks.stop.stopped() => Err(Abort::Stopped),
            done = work => done,
        }
    }

    /// What the user should know of the listings before the plan.
    fn scan_notes(
        &self,
        source: &Scan,
        destination: &Scan,
        destination_config: &RemoteConfig,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        if destination_config.listing == ListingMode::None {
            notes.push(format!(
                "listing = \"none\": {} is not listed; it is taken to hold the {} file(s) earlier runs \
                 delivered there (files changed or removed there by others are not seen)",
                destination_config.name,
                destination.entries.iter().filter(|e| e.kind == Kind::File).count()
            ));
        }
        notes.extend(skipped_links(source));
        if self.sync.upload == UploadMode::Direct {
            notes.push(
                "upload = \"direct\": files are written straight to their final names, so the partner \
                 may see a file while it is being written"
                    .into(),
            );
        }
        if !destination.complete() {
            notes.push(format!(
                "{} folder(s) at the destination could not be listed; files there are sent again",
                destination.unlisted.len()
            ));
        }
        notes
    }

    /// What the user should know of the plan: what it holds back, and why.
    fn plan_notes(&self, plan: &Plan) -> Vec<String> {
        let mut notes: Vec<String> = plan.deletions_withheld.iter().cloned().collect();
        notes.extend(held_deletions_note(&plan.deletions_held, &self.sync.name));
        if !plan.deferred.is_empty() {
            notes.push(format!(
                "{} file(s) changed within the last {:?} and are left for the next run: {}",
                plan.deferred.len(),
                self.sync.stable_for,
                some_of(plan.deferred.iter().cloned())
            ));
        }
        notes
    }

    /// The executor of this run between `source` and `destination`.
    fn executor(
        &self,
        source: Arc<dyn remote::Remote>,
        destination: Arc<dyn remote::Remote>,
        destination_config: &RemoteConfig,
    ) -> Arc<Executor> {
        let commit = destination.capabilities().commit;
        Arc::new(Executor {
            source,
            destination,
            policy: self.policy.clone(),
            recorder: self.recorder.clone(),
            throttle: self
                .options
                .bwlimit
                .or(self.sync.bwlimit)
                .map(|rate| Arc::new(Throttle::new(rate))),
            transfers: self
                .options
                .transfers
                .or(self.sync.transfers)
                .unwrap_or(DEFAULT_TRANSFERS),
            retries: self.sync.retries,
            retry_delay: self.sync.retry_delay,
            strategy: execute::Strategy::choose(self.sync.upload, commit),
            set_mtime: destination_config.set_mtime,
            deferred: Mutex::new(Vec::new()),
            times_refused: Mutex::new((0, None)),
            restarted: Mutex::new(Vec::new()),
            part_buffers: Arc::new(tokio::sync::Semaphore::new(execute::PART_BUFFERS)),
            progress: Arc::clone(&self.hooks.progress),
            stop: self.hooks.stop.clone(),
            delivered: (self.sync.after_delivery != AfterDelivery::Keep)
                .then(|| Mutex::new(Vec::new())),
        })
    }

    /// Delete or archive the source files delivered now or before (unchanged at the
    /// destination), once every outcome of the run is committed to the state store.
    async fn after_delivery(
        &self,
        executor: &Executor,
        source: &Listing,
        unchanged: Vec<u32>,
    ) -> Vec<String> {
        let Some(delivered) = &executor.delivered else {
            return Vec::new();
        };
        self.recorder.committed().await;
        let mut files = std::mem::take(&mut *delivered.lock().unwrap());
        files.extend(unchanged.into_iter().map(|index| {
            let item = source.item(index);
            after::Delivered {
                path: item.path(),
                size: item.size,
                mtime: item.mtime(),
            }
        }));
        after::carry_out(&*executor.source, &self.sync.after_delivery, files).await
    }

    async fn record_unlisted(&self, scan: &Scan, protocol: Protocol) {
        for (path, error) in &scan.unlisted {
            let outcome =
                execute::classified(self.policy, path, 0, None, protocol, error.clone()).await;
            self.recorder.record(outcome);
        }
    }

    /// The plan. Only the entries not in place at the destination are checked against
    /// its policy.
    async fn plan(
        &self,
        source: &Scan,
        destination: &Scan,
        ends: Ends,
        phases: &mut Phases,
    ) -> Result<Plan, Abort> {
        let states = self
            .path_states(source, destination)
            .map_err(Abort::State)?;
        let no_verdicts = HashMap::new();
        let mut inputs = Inputs {
            source: &source.entries,
            source_complete: source.complete(),
            destination: &destination.entries,
            states: &states,
            verdicts: &no_verdicts,
            filter: self.filter,
            delete: self.sync.delete,
            rename: self.sync.rename,
            renames: self.renames,
            refused: &source.refused,
            stable_for: self.sync.stable_for,
            now: SystemTime::now(),
            ends,
        };
        let unsettled = plan::unsettled(&inputs);
        let checking = Instant::now();
        phases.checked = unsettled.len();
        let verdicts = notable_verdicts(self.policy, &source.entries, &unsettled, self.sync.rename)
            .await
            .map_err(Abort::Plugin)?;
        phases.check = checking.elapsed();
        inputs.verdicts = &verdicts;
        let mut plan = plan::plan(&inputs);
        self.keep_in_progress(&mut plan, &source.entries)
            .await
            .map_err(Abort::Plugin)?;
        Ok(plan)
    }

    /// Mirror leaves alone the temporary file of a planned transfer: it is what an
    /// interrupted upload resumes from.
    async fn keep_in_progress(&self, plan: &mut Plan, source: &Listing) -> Result<(), PluginError> {
        if plan.deletions.is_empty() {
            return Ok(());
        }
        let planned: HashSet<&str> = plan.deletions.iter().map(|d| d.path.as_str()).collect();
        let mut in_progress = HashSet::new();
        for batch in plan.transfers.chunks(execute::TEMP_BATCH) {
            let named = execute::prepare(self.policy, source, batch).await?;
            in_progress.extend(
                named
                    .into_iter()
                    .map(|(_, temp)| temp)
                    .filter(|temp| planned.contains(temp.as_str())),
            );
        }
        plan.deletions.retain(|d| !in_progress.contains(&d.path));
        Ok(())
    }

    /// What a destination that is not listed holds, by what earlier runs delivered.
    fn delivered_scan(&self) -> Result<Scan, StateError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let states = store.path_states(&self.sync.name)?;
        Ok(delivered_listing(&states, self.renames))
    }

    /// What the state store knows of this sync's paths, as far as the planner needs it:
    /// a large sync then holds no record per file it has sent.
    fn path_states(
        &self,
        source: &Scan,
        destination: &Scan,
    ) -> Result<HashMap<String, PathState>, StateError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        match plan::needs_sent_states(&source.entries, &destination.entries) {
            true => store.path_states(&self.sync.name),
            false => store.failed_or_untimed_path_states(&self.sync.name),
        }
    }

    /// For a dry run: what would be done, as notes, and the totals it would have. The
    /// rejections are the run's failures, as in a real run.
    async fn planned(&self, plan: &Plan, source: &Scan, notes: &mut Vec<String>) -> Totals {
        let files = || plan.transfers.iter().map(|t| source.entries.item(t.entry));
        for rejection in &plan.rejections {
            self.recorder.record(execute::rejected(rejection));
        }
        notes.extend(
            plan.mkdirs
                .iter()
                .map(|path| format!("would create folder {path}")),
        );
        notes.extend(plan.transfers.iter().zip(files()).map(|(t, file)| {
            format!(
                "would send {} ({:?}, {} bytes)",
                file.path(),
                t.reason,
                file.size
            )
        }));
        notes.extend(
            plan.replaced_files
                .iter()
                .map(|path| format!("would replace the file {path} by a folder")),
        );
        notes.extend(
            plan.deletions
                .iter()
                .map(|d| format!("would delete {}", d.path)),
        );
        let delivered = plan.transfers.len() + plan.unchanged.len();
        match &self.sync.after_delivery {
            AfterDelivery::Keep => {}
            AfterDelivery::Delete => notes.push(format!(
                "after delivery: would delete up to {delivered} source file(s) (those sent and those in place)"
            )),
            AfterDelivery::Archive(folder) => notes.push(format!(
                "after delivery: would move up to {delivered} source file(s) (those sent and those in place) to {folder}"
            )),
        }
        Totals {
            transferred: plan.transfers.len() as u64,
            failed: source.unlisted.len() as u64,
            skipped: plan.unchanged.len() as u64,
            deleted: plan.deletions.len() as u64,
            rejected: plan.rejections.len() as u64,
            bytes: files().map(|file| file.size).sum(),
        }
    }
}

/// The run's note on the deletions the destination refused for good earlier, if any.
fn held_deletions_note(held: &[String], sync: &str) -> Option<String> {
    if held.is_empty() {
        return None;
    }
    Some(format!(
        "{} deletion(s) the server refused in an earlier run are not tried again: {} \
         (`ferry log` shows why; after `ferry retry {sync} PATH` the next run tries again)",
        held.len(),
        some_of(held.iter().cloned())
    ))
}

/// The run's note on the files the destination refused to give their time, if any.
fn times_refused_note(executor: &Executor, remote: &str) -> Option<String> {
    let (count, first) = &*executor.times_refused.lock().unwrap();
    let answer = first.as_deref()?;
    Some(format!(
        "the server refused to set modification times ({answer}): {count} file(s) were delivered \
         without their source's time; later runs tell them unchanged by what was recorded at \
         delivery. To skip asking, set set_mtime = false on remote {remote}"
    ))
}

/// The files whose interrupted upload started again from the first byte, in one note.
fn restarted_note(executor: &Executor, remote: &str) -> Option<String> {
    let restarted = std::mem::take(&mut *executor.restarted.lock().unwrap());
    if restarted.is_empty() {
        return None;
    }
    Some(format!(
        "{} file(s) an earlier run left partly sent started again from their first byte: \
         {remote} cannot continue an upload (WebDAV has no standard ranged PUT): {}",
        restarted.len(),
        some_of(restarted.into_iter())
    ))
}

/// The symbolic links the source listing did not follow, in one note, with why.
fn skipped_links(scan: &Scan) -> Option<String> {
    if scan.skipped.is_empty() {
        return None;
    }
    let links = scan
        .skipped
        .iter()
        .map(|(path, why)| format!("{path} ({why})"));
    Some(format!(
        "{} symbolic link(s) in the source were not followed: {}",
        scan.skipped.len(),
        some_of(links)
    ))
}

/// Connect to one side and list it; and how long connecting took.
/// `known`, when given, is what the remote holds (it is not listed: `listing = "none"`).
async fn open_and_scan(
    config: &RemoteConfig,
    role: Role,
    known: Option<Scan>,
) -> Result<(Arc<dyn remote::Remote>, Scan, std::time::Duration), Abort> {
    let started = Instant::now();
    let remote = remote::connect(config, role)
        .await
        .map_err(|e| Abort::Remote(remote::protocol_of(config), e))?;
    let connected = started.elapsed();
    let listing = match known {
        Some(known) => known,
        None => scan(&*remote)
            .await
            .map_err(|e| Abort::Remote(remote.protocol(), e))?,
    };
    Ok((remote, listing, connected))
}

/// A refused listing of a destination's root, on a remote that is listed: it may be a
/// write-only inbox, which `listing = "none"` is for.
fn write_only_hint(abort: &Abort, destination: &RemoteConfig) -> Option<String> {
    let Abort::Remote(_, error) = abort else {
        return None;
    };
    let refused = error.operation == Operation::List && error.code.is_some();
    (refused && destination.listing == ListingMode::Full).then(|| {
        format!(
            "the root of remote {} could not be listed ({}); if it is a write-only inbox (files may be \
             put there but not listed), set listing = \"none\" on it",
            destination.name, error.message
        )
    })
}

/// What a `listing = "none"` destination holds, by the state store: every file the last
/// run that reached it delivered (under its remembered name), and the folders above.
fn delivered_listing(
    states: &HashMap<String, PathState>,
    renames: &HashMap<String, String>,
) -> Scan {
    let mut builder = listing::ListingBuilder::default();
    let mut unlisted = Vec::new();
    let mut folders = HashSet::new();
    let mut add = |path: &str, kind, size, mtime_ns: Option<i64>| {
        let entry = remote::RemoteEntry {
            path: path.to_string(),
            kind,
            size,
            mtime: mtime_ns.map(listing::from_unix_nanos),
        };
        if let Err(error) = builder.push(&entry) {
            let error = RemoteError::new(Operation::List, Some(path), error.to_string());
            unlisted.push((entry.path, error));
        }
    };
    for (path, state) in states {
        if state.last_status != FileStatus::Transferred {
            continue;
        }
        let target = renames.get(path).unwrap_or(path);
        for (at, _) in target.match_indices('/') {
            if folders.insert(target[..at].to_string()) {
                add(&target[..at], Kind::Directory, 0, None);
            }
        }
        add(target, Kind::File, state.size, state.mtime_ns);
    }
    Scan {
        entries: builder.finish(),
        unlisted,
        ..Scan::default()
    }
}

/// The time since `clock`, which then starts again.
fn lap(clock: &mut Instant) -> std::time::Duration {
    let now = Instant::now();
    now - std::mem::replace(clock, now)
}

/// The one-line reminder for a file held back after a permanent failure.
fn held_outcome(held: &plan::Held, sync: &str) -> FileOutcome {
    let state = &held.state;
    let last = state.last_message.as_deref().unwrap_or("no message");
    FileOutcome {
        path: held.path.clone(),
        status: FileStatus::Skipped,
        operation: Step::Held,
        bytes: 0,
        size: state.size,
        mtime_ns: state.mtime_ns,
        category: state.last_category,
        retry: Some(Retry::Never),
        message: Some(format!(
            "not tried again after a permanent failure ({} attempt(s)): {last}",
            state.attempts
        )),
        advice: Some(format!(
            "It is tried again when the file changes, or after `ferry retry {sync} {}`.",
            held.path
        )),
        at: SystemTime::now(),
    }
}

/// Names sanitized on earlier runs between these two remotes: source path → destination
/// path, from runs in this direction and, reversed, from runs the other way (a pull gets
/// back the original names of what a push renamed).
fn known_renames(
    store: &Store,
    source: &str,
    destination: &str,
) -> Result<HashMap<String, String>, StateError> {
    let reversed = store
        .renames(destination, source)?
        .into_iter()
        .map(|(there, here)| (here, there));
    let mut renames: HashMap<String, String> = reversed.collect();
    renames.extend(store.renames(source, destination)?);
    Ok(renames)
}

/// The destination policy's verdict on the entries of `listing` at `indices`, by index,
/// for those that break a rule or need the short temporary name. Asked a batch at a time,
/// so that no plugin entry is held for every file of a large first sync. A suggested
/// name the host cannot use is dropped (see [`answers::vet_suggestions`]).
async fn notable_verdicts(
    policy: &PolicyHandle,
    listing: &Listing,
    indices: &[u32],
    rename: RenameMode,
) -> Result<HashMap<u32, Verdict>, PluginError> {
    let mut notable = HashMap::new();
    for batch in indices.chunks(CHECK_BATCH) {
        let entries = batch
            .iter()
            .map(|&i| listing.item(i).to_plugin_entry())
            .collect();
        let verdicts = policy.check_batch(entries).await?;
        notable.extend(batch.iter().copied().zip(verdicts).filter(|(_, verdict)| {
            !verdict.violations.is_empty() || verdict.temp_form == TempForm::Short
        }));
    }
    answers::vet_suggestions(policy, listing, &mut notable, rename).await?;
    Ok(notable)
}

/// What `ferry check` found: every source entry the destination would refuse.
pub struct CheckReport {
    pub checked: usize,
    pub rejections: Vec<plan::Rejection>,
    /// Source folders (or names) that could not be read, with why.
    pub unreadable: Vec<(String, RemoteError)>,
    /// Entries over a local destination's `max_path_length`.
    pub over_local_limit: Vec<OverLocalLimit>,
}

/// A preflight over the whole source of sync `name`: lists it and checks every entry
/// against the destination's policy, transferring nothing and touching no state.
pub async fn check(
    config: &Config,
    name: &str,
    policy: &PolicyHandle,
) -> Result<CheckReport, CheckError> {
    let sync = config.sync(name)?;
    let filter = sync_filter(sync)?;
    let source = remote::connect(config.remote(&sync.source)?, Role::Source)
        .await
        .map_err(CheckError::Source)?;
    let scan = scan(&*source).await.map_err(CheckError::Source)?;
    let covered: Vec<u32> = scan
        .entries
        .iter()
        .filter(|e| filter.allows(&e.path(), e.kind))
        .map(|e| e.index)
        .collect();
    let verdicts = notable_verdicts(policy, &scan.entries, &covered, sync.rename)
        .await
        .map_err(|error| SyncError::Plugin {
            remote: sync.destination.clone(),
            error,
        })?;
    // The planner against an empty destination rejects exactly what a run would, and
    // so do the temporary names of what it would send.
    let mut plan = plan::plan(&Inputs {
        source: &scan.entries,
        source_complete: scan.complete(),
        destination: &Listing::default(),
        states: &HashMap::new(),
        verdicts: &verdicts,
        filter: &filter,
        delete: crate::config::DeleteMode::Never,
        rename: sync.rename,
        renames: &HashMap::new(),
        refused: &scan.refused,
        stable_for: std::time::Duration::ZERO,
        now: SystemTime::now(),
        ends: Ends {
            source: source.capabilities(),
            destination: remote::capabilities_of(config.remote(&sync.destination)?),
        },
    });
    let destination = config.remote(&sync.destination)?;
    let over_local_limit = over_local_limit(destination, &scan.entries, &covered);
    let mut rejections = std::mem::take(&mut plan.rejections);
    let commit = remote::capabilities_of(destination).commit;
    if execute::Strategy::choose(sync.upload, commit).asks_temp_names() {
        let temp_names = execute::refused_temp_names(policy, Arc::new(scan.entries), &plan);
        rejections.extend(temp_names.await.map_err(|error| SyncError::Plugin {
            remote: sync.destination.clone(),
            error,
        })?);
    }
    Ok(CheckReport {
        checked: covered.len(),
        over_local_limit,
        rejections,
        unreadable: scan.unlisted,
    })
}

/// Why `ferry check` could not check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("cannot list the source: {0}")]
    Source(RemoteError),
}

impl From<ConfigError> for CheckError {
    fn from(error: ConfigError) -> Self {
        CheckError::Sync(SyncError::Config(error))
    }
}
