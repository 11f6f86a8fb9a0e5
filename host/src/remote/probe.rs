//! The probe behind `ferry doctor`: open a remote step by step, then try each operation a
//! sync needs, one at a time, in a scratch folder in the folder tested (the root, or one
//! below it) — so that a failure names the exact step (and so the permission) that is
//! missing. Where the folder cannot be made, or the remote cannot be listed (a write-only
//! inbox, whose own permissions are what matter), files are tried directly in the folder
//! tested. Each request a sync makes of the server ([`Capability`]) is one step,
//! so the steps tell which the server allows. Every path the probe creates is removed
//! afterwards (by its exact path: nothing is listed to find it), or named as left behind.
//! Errors are kept raw: what they mean is the policy plugin's call.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sftp::SftpRemote;
use super::{Commit, Kind, Mtimes, Remote, RemoteError, Role};
use crate::config::{RemoteConfig, SftpConfig, Transport};
use crate::plugin::Operation;

/// One step of the probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Resolve,
    Connect,
    HostKey,
    Authenticate,
    OpenFolder,
    Action(Action),
}

/// A step tried in the scratch folder once the remote is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    List,
    Mkdir,
    Write,
    ReadBack,
    /// The plain rename, onto a free name.
    Rename,
    /// posix-rename, onto a free name.
    PosixRename,
    WriteOver,
    /// Ferry's own replacing rename (posix-rename, or moving the old file aside).
    RenameOver,
    SetMtime,
    DeleteFile,
    DeleteFolder,
}

impl Step {
    /// The stable name `ferry doctor` prints.
    pub fn name(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "connect",
            Step::HostKey => "host-key",
            Step::Authenticate => "authenticate",
            Step::OpenFolder => "open-folder",
            Step::Action(action) => match action {
                Action::List => "list",
                Action::Mkdir => "mkdir",
                Action::Write => "write",
                Action::ReadBack => "read-back",
                Action::Rename => "rename",
                Action::PosixRename => "posix-rename",
                Action::WriteOver => "write-over",
                Action::RenameOver => "rename-over",
                Action::SetMtime => "set-mtime",
                Action::DeleteFile => "delete-file",
                Action::DeleteFolder => "delete-folder",
            },
        }
    }
}

/// How the remote is opened, in order; each step needs the one before it.
const DIRECT_OPENING: &[Step] = &[Step::OpenFolder];
const SFTP_OPENING: &[Step] = &[
    Step::Resolve,
    Step::Connect,
    Step::HostKey,
    Step::Authenticate,
    Step::OpenFolder,
];

/// What an action needs besides an open remote: one action of each group.
type Needs = &'static [&'static [Action]];

/// The actions, in order, each with what it needs. Each needs as little as possible, so
/// that one refused permission hides no other: files are written without the scratch
/// folder when it cannot be made.
const ACTIONS: &[(Action, Needs)] = &[
    (Action::List, &[]),
    (Action::Mkdir, &[]),
    (Action::Write, &[]),
    (Action::ReadBack, &[&[Action::Write]]),
    (Action::Rename, &[&[Action::Write]]),
    (Action::PosixRename, &[&[Action::Write]]),
    (Action::WriteOver, &[&[Action::Write]]),
    (
        Action::RenameOver,
        &[&[Action::Rename, Action::PosixRename]],
    ),
    (Action::SetMtime, &[&[Action::Write]]),
    (Action::DeleteFile, &[&[Action::Write]]),
    (
        Action::DeleteFolder,
        &[&[Action::Mkdir], &[Action::DeleteFile]],
    ),
];

/// A request a sync makes of the server, which the server may refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    List,
    Mkdir,
    Write,
    Read,
    Rename,
    PosixRename,
    Setstat,
    Remove,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::List,
        Capability::Mkdir,
        Capability::Write,
        Capability::Read,
        Capability::Rename,
        Capability::PosixRename,
        Capability::Setstat,
        Capability::Remove,
    ];

    /// The stable name `ferry doctor` prints.
    pub fn name(self) -> &'static str {
        match self {
            Capability::List => "list",
            Capability::Mkdir => "mkdir",
            Capability::Write => "write",
            Capability::Read => "read",
            Capability::Rename => "rename",
            Capability::PosixRename => "posix-rename",
            Capability::Setstat => "setstat",
            Capability::Remove => "remove",
        }
    }

    /// The step that asks for it alone.
    pub fn step(self) -> Step {
        Step::Action(match self {
            Capability::List => Action::List,
            Capability::Mkdir => Action::Mkdir,
            Capability::Write => Action::Write,
            Capability::Read => Action::ReadBack,
            Capability::Rename => Action::Rename,
            Capability::PosixRename => Action::PosixRename,
            Capability::Setstat => Action::SetMtime,
            Capability::Remove => Action::DeleteFile,
        })
    }
}

/// How the remote lets an upload replace an existing file, as the probe found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// posix-rename (or a local rename): the old file is replaced in one step.
    Atomic,
    /// Plain rename only: the old file is moved aside (or removed) first.
    MoveAside,
    /// No rename: an upload must be written under its final name.
    NoRename,
    /// No rename needed: an upload is stored in parts and committed whole at once.
    Staged,
}

const CONTENT: &[u8] = b"written by ferry doctor\n";
const OTHER_CONTENT: &[u8] = b"written over by ferry doctor\n";
/// Whole seconds, which every remote that keeps times can store exactly.
const PROBE_MTIME: Duration = Duration::from_secs(1_000_000_000);
const FILE_NAME: &str = "probe.txt";
const RENAMED_NAME: &str = "renamed.txt";
const MOVED_NAME: &str = "moved.txt";
const INCOMING_NAME: &str = "incoming.txt";

/// How one step went.
#[derive(Debug)]
pub enum Outcome {
    Passed,
    Failed(RemoteError),
    /// Not tried: it needs `needs`, which did not pass.
    Skipped {
        needs: Step,
    },
    /// Not asked: the remote does not offer it by design (its capabilities say so), why.
    NotOffered(&'static str),
}

#[derive(Debug)]
pub struct StepReport {
    pub step: Step,
    pub outcome: Outcome,
    /// `None` for a step not timed on its own: SSH connects, checks the host key and
    /// authenticates in one exchange, timed on the step where it ended.
    pub elapsed: Option<Duration>,
}

/// What removing the paths the probe created came to.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Every path (relative to the root) the probe created or tried to, in order.
    pub created: Vec<String>,
    /// Paths (relative to the root) left by failed steps and removed afterwards.
    pub removed: Vec<String>,
    /// Paths that are still there, with why.
    pub left: Vec<(String, RemoteError)>,
}

#[derive(Debug, Default)]
pub struct Probe {
    /// What the host name resolved to (SFTP only).
    pub addresses: Vec<SocketAddr>,
    /// The IP address the connection left from: what a server's IP allow-list sees.
    pub local_address: Option<String>,
    pub steps: Vec<StepReport>,
    pub cleanup: Cleanup,
    /// `None` when the steps that tell were not tried.
    pub replace: Option<Replace>,
}

impl Probe {
    fn record(&mut self, step: Step, result: Result<(), RemoteError>, elapsed: Option<Duration>) {
        let outcome = result.map_or_else(Outcome::Failed, |()| Outcome::Passed);
        self.steps.push(StepReport {
            step,
            outcome,
            elapsed,
        });
    }

    fn skip(&mut self, step: Step, needs: Step) {
        self.steps.push(StepReport {
            step,
            outcome: Outcome::Skipped { needs },
            elapsed: None,
        });
    }

    fn has_passed(&self, step: Step) -> bool {
        self.outcome(step)
            .is_some_and(|outcome| matches!(outcome, Outcome::Passed))
    }

    fn outcome(&self, step: Step) -> Option<&Outcome> {
        self.steps
            .iter()
            .find(|report| report.step == step)
            .map(|report| &report.outcome)
    }

    /// How files can be replaced, from the rename steps and whether the remote's rename
    /// replaces in one step.
    fn replace(&self, atomic_rename: bool, commit: Commit) -> Option<Replace> {
        if commit == Commit::Staged {
            return Some(Replace::Staged);
        }
        let renames = [Action::Rename, Action::PosixRename].map(|a| self.outcome(Step::Action(a)));
        if renames
            .iter()
            .all(|o| matches!(o, Some(Outcome::Failed(_))))
        {
            return Some(Replace::NoRename);
        }
        match self.outcome(Step::Action(Action::RenameOver))? {
            Outcome::Passed if atomic_rename => Some(Replace::Atomic),
            Outcome::Skipped { .. } => None,
            _ => Some(Replace::MoveAside),
        }
    }

    /// The first step `needs` lacks: the opening's last step, or the first action of a
    /// group none of which passed.
    fn first_missing(&self, opened: Step, needs: Needs) -> Option<Step> {
        let passed = |action: &Action| self.has_passed(Step::Action(*action));
        if !self.has_passed(opened) {
            return Some(opened);
        }
        needs
            .iter()
            .find(|group| !group.iter().any(passed))
            .map(|group| Step::Action(group[0]))
    }

    /// Record the opening steps not reached as skipped, each for want of the one before.
    fn skip_unreached(&mut self, opening: &[Step]) {
        for pair in opening.windows(2) {
            if !self.steps.iter().any(|report| report.step == pair[1]) {
                self.skip(pair[1], pair[0]);
            }
        }
    }
}

/// Open the remote `config` describes and try every action in the folder `folder` (relative
/// to the root, "" for the root), removing afterwards every path it created, as far as it
/// can, even when an action failed.
pub async fn probe(config: &RemoteConfig, folder: &str) -> Probe {
    let mut probe = Probe::default();
    let (opening, opened) = match &config.transport {
        Transport::Sftp(sftp) => (SFTP_OPENING, open_sftp(sftp, &mut probe).await),
        // The first request of an HTTP remote is the first action (list).
        Transport::Local(_) | Transport::S3(_) | Transport::AzureBlob(_) | Transport::WebDav(_) => {
            (DIRECT_OPENING, open_direct(config, &mut probe).await)
        }
    };
    let remote = match opened {
        Some(opened) => open_folder(&mut probe, opened, folder).await,
        None => None,
    };
    probe.skip_unreached(opening);
    let last_opening = opening[opening.len() - 1];
    let mut scratch = Scratch::new(folder);
    for &(action, needs) in ACTIONS {
        match (&remote, probe.first_missing(last_opening, needs)) {
            (Some(remote), None) if let Some(why) = not_offered(action, remote.remote.as_ref()) => {
                probe.steps.push(StepReport {
                    step: Step::Action(action),
                    outcome: Outcome::NotOffered(why),
                    elapsed: None,
                });
            }
            (Some(remote), None) => {
                let started = Instant::now();
                let result = scratch.try_action(action, remote).await;
                probe.record(Step::Action(action), result, Some(started.elapsed()));
            }
            (_, missing) => probe.skip(Step::Action(action), missing.unwrap_or(last_opening)),
        }
    }
    if let Some(remote) = &remote {
        probe.cleanup = scratch.clean_up(remote.remote.as_ref()).await;
        let commit = remote.remote.capabilities().commit;
        probe.replace = probe.replace(remote.atomic_rename, commit);
    }
    probe
}

/// An open remote, as the probe asks it.
struct Opened {
    remote: Arc<dyn Remote>,
    /// The same SFTP session, asked for each kind of rename alone; `None` for a local
    /// folder, whose one rename is POSIX's.
    sftp: Option<Arc<SftpRemote>>,
    /// Whether ferry's rename replaces in one step (over SFTP: the server offers
    /// posix-rename).
    atomic_rename: bool,
}

impl Opened {
    async fn rename(&self, action: Action, from: &str, to: &str) -> Result<(), RemoteError> {
        match (&self.sftp, action) {
            (Some(sftp), Action::Rename) => sftp.plain_rename(from, to).await,
            (Some(sftp), Action::PosixRename) => sftp.posix_rename(from, to).await,
            _ => self.remote.rename(from, to).await,
        }
    }
}

async fn open_direct(config: &RemoteConfig, probe: &mut Probe) -> Option<Opened> {
    // As a source: a missing folder is reported, not created.
    match super::connect(config, Role::Source).await {
        Ok(remote) => Some(Opened {
            remote,
            sftp: None,
            atomic_rename: true,
        }),
        Err(error) => {
            probe.record(Step::OpenFolder, Err(error), None);
            None
        }
    }
}

async fn open_sftp(config: &SftpConfig, probe: &mut Probe) -> Option<Opened> {
    let started = Instant::now();
    let resolved = resolve(config).await;
    let elapsed = Some(started.elapsed());
    match resolved {
        Ok(addresses) => {
            probe.addresses = addresses;
            probe.record(Step::Resolve, Ok(()), elapsed);
        }
        Err(error) => {
            probe.record(Step::Resolve, Err(error), elapsed);
            return None;
        }
    }
    let started = Instant::now();
    let connected = SftpRemote::connect(config).await;
    let elapsed = Some(started.elapsed());
    match connected {
        Ok(remote) => {
            probe.local_address = Some(remote.local_address().ip().to_string());
            record_exchange(probe, Step::Authenticate, Ok(()), elapsed);
            let sftp = Arc::new(remote);
            Some(Opened {
                remote: sftp.clone(),
                atomic_rename: sftp.has_posix_rename(),
                sftp: Some(sftp),
            })
        }
        Err(error) => {
            probe.local_address = error.local_address.clone();
            record_exchange(probe, failed_step(&error), Err(error), elapsed);
            None
        }
    }
}

/// Record whether `folder` is a folder of the open remote; the remote, if it is.
async fn open_folder(probe: &mut Probe, opened: Opened, folder: &str) -> Option<Opened> {
    let started = Instant::now();
    let result = match folder {
        "" => Ok(()),
        _ => match opened.remote.stat(folder).await {
            Ok(Some(entry)) if entry.kind == Kind::Directory => Ok(()),
            Ok(found) => {
                let what = if found.is_some() {
                    "is not a folder"
                } else {
                    "does not exist"
                };
                let message = format!("the folder to test, {folder}, {what} under the root");
                Err(RemoteError::new(Operation::List, Some(folder), message))
            }
            Err(error) => Err(error),
        },
    };
    let passed = result.is_ok();
    probe.record(Step::OpenFolder, result, Some(started.elapsed()));
    passed.then_some(opened)
}

/// Record the SSH exchange that ended at `ended`: the steps before it passed.
fn record_exchange(
    probe: &mut Probe,
    ended: Step,
    result: Result<(), RemoteError>,
    elapsed: Option<Duration>,
) {
    let exchange = [
        Step::Connect,
        Step::HostKey,
        Step::Authenticate,
        Step::OpenFolder,
    ];
    for &step in exchange.iter().take_while(|step| **step != ended) {
        probe.record(step, Ok(()), None);
    }
    probe.record(ended, result, elapsed);
}

/// Which step of the SSH exchange an error of [`SftpRemote::connect`] ended: the transport
/// reports a refused host key as a connect error, its message naming the host key, and a
/// root that is not a folder as a listing error.
fn failed_step(error: &RemoteError) -> Step {
    let message = error.message.to_ascii_lowercase();
    match error.operation {
        Operation::Authenticate => Step::Authenticate,
        Operation::List => Step::OpenFolder,
        _ if message.contains("host key") || message.contains("host certificate") => Step::HostKey,
        _ => Step::Connect,
    }
}

async fn resolve(config: &SftpConfig) -> Result<Vec<SocketAddr>, RemoteError> {
    match tokio::net::lookup_host((config.host.as_str(), config.port)).await {
        Ok(addresses) => Ok(addresses.collect()),
        Err(error) => Err(RemoteError {
            message: format!("cannot resolve {}: {error}", config.host),
            ..RemoteError::io(Operation::Connect, None, &error)
        }),
    }
}

/// Where the probe works: a scratch folder in the folder tested, named so as not to meet
/// anything already there, or, until that folder is made, and when the remote cannot be
/// listed, the folder tested itself (each file named after the scratch folder).
struct Scratch {
    /// The folder tested, relative to the root ("" for the root).
    base: String,
    /// The scratch folder's name, and the prefix of files written without it.
    tag: String,
    /// Whether files go into the scratch folder: it was made, and the remote was listed.
    in_folder: bool,
    /// Whether the remote could be listed.
    listed: bool,
    /// Where the test file is now: renaming moves it.
    file: String,
    /// Every path created (or tried), in order.
    created: Vec<(String, Kind)>,
}

impl Scratch {
    fn new(base: &str) -> Self {
        let random = RandomState::new().hash_one(SystemTime::now());
        Scratch {
            base: base.to_string(),
            tag: format!(".ferry-doctor-{random:016x}"),
            in_folder: false,
            listed: false,
            file: String::new(),
            created: Vec::new(),
        }
    }

    fn folder(&self) -> String {
        join(&self.base, &self.tag)
    }

    /// The path of the file `name`, tracked as created.
    fn file_path(&mut self, name: &str) -> String {
        let path = match self.in_folder {
            true => join(&self.folder(), name),
            false => join(&self.base, &format!("{}-{name}", self.tag)),
        };
        self.track(&path, Kind::File);
        path
    }

    fn track(&mut self, path: &str, kind: Kind) {
        if !self.created.iter().any(|(created, _)| created == path) {
            self.created.push((path.to_string(), kind));
        }
    }

    async fn try_action(&mut self, action: Action, opened: &Opened) -> Result<(), RemoteError> {
        let remote = opened.remote.as_ref();
        match action {
            Action::List => {
                remote.list(&mut |_| {}).await?;
                self.listed = true;
                Ok(())
            }
            Action::Mkdir => {
                let folder = self.folder();
                self.track(&folder, Kind::Directory);
                remote.mkdir_all(&folder).await?;
                self.in_folder = self.listed;
                Ok(())
            }
            Action::Write => {
                self.file = self.file_path(FILE_NAME);
                write_file(remote, &self.file, CONTENT).await
            }
            Action::ReadBack => read_back(remote, &self.file, CONTENT).await,
            Action::Rename | Action::PosixRename => {
                let renamed = match action {
                    Action::Rename => self.file_path(RENAMED_NAME),
                    _ => self.file_path(MOVED_NAME),
                };
                opened.rename(action, &self.file, &renamed).await?;
                self.file = renamed;
                Ok(())
            }
            Action::WriteOver => write_file(remote, &self.file, OTHER_CONTENT).await,
            Action::RenameOver => {
                let incoming = self.file_path(INCOMING_NAME);
                write_file(remote, &incoming, CONTENT).await?;
                remote.rename(&incoming, &self.file).await
            }
            Action::SetMtime => set_mtime_and_check(remote, &self.file).await,
            Action::DeleteFile => remote.delete(&self.file, Kind::File).await,
            Action::DeleteFolder => {
                // What failed steps left in it would fail the deletion for the wrong reason.
                self.remove_files(remote).await;
                remote.delete(&self.folder(), Kind::Directory).await
            }
        }
    }

    /// Remove what is left of the files created, best effort: [`Self::clean_up`] tells.
    async fn remove_files(&self, remote: &dyn Remote) {
        for (path, _) in self.created.iter().filter(|(_, kind)| *kind == Kind::File) {
            let _ = remote.delete(path, Kind::File).await;
        }
    }

    /// Remove every path created that is still there, files before their folder.
    async fn clean_up(&self, remote: &dyn Remote) -> Cleanup {
        let mut cleanup = Cleanup {
            created: self.created.iter().map(|(path, _)| path.clone()).collect(),
            ..Cleanup::default()
        };
        for (path, kind) in self.created.iter().rev() {
            let removed = match remote.stat(path).await {
                Ok(None) => continue,
                Ok(Some(_)) => remote.delete(path, *kind).await,
                Err(error) => Err(error),
            };
            match removed {
                Ok(()) => cleanup.removed.push(path.clone()),
                Err(error) => cleanup.left.push((path.clone(), error)),
            }
        }
        cleanup
    }
}

fn join(folder: &str, name: &str) -> String {
    match folder {
        "" => name.to_string(),
        _ => format!("{folder}/{name}"),
    }
}

async fn write_file(remote: &dyn Remote, path: &str, content: &[u8]) -> Result<(), RemoteError> {
    let error = |e: std::io::Error| RemoteError::io(Operation::Write, Some(path), &e);
    let mut writer = remote.write(path, 0).await?;
    writer.write_all(content).await.map_err(error)?;
    writer.shutdown().await.map_err(error)
}

async fn read_back(remote: &dyn Remote, path: &str, expected: &[u8]) -> Result<(), RemoteError> {
    let mut reader = remote.read(path, 0).await?;
    let mut read = Vec::new();
    reader
        .read_to_end(&mut read)
        .await
        .map_err(|e| RemoteError::io(Operation::Read, Some(path), &e))?;
    if read == expected {
        return Ok(());
    }
    let message = format!(
        "read back {} bytes that differ from the {} bytes written",
        read.len(),
        expected.len()
    );
    Err(RemoteError::new(Operation::Read, Some(path), message))
}

/// Why `remote` does not offer `action` by design, if it does not.
fn not_offered(action: Action, remote: &dyn Remote) -> Option<&'static str> {
    match (action, remote.capabilities().mtimes) {
        (Action::SetMtime, Mtimes::UploadTime(_)) => Some(
            "the store keeps each upload's own time; ferry remembers what it delivered instead, \
             so reruns send nothing again",
        ),
        _ => None,
    }
}

/// Set the time, then look: a server may accept the request and keep its own time, which
/// would make every run send the file again.
async fn set_mtime_and_check(remote: &dyn Remote, path: &str) -> Result<(), RemoteError> {
    let wanted = UNIX_EPOCH + PROBE_MTIME;
    let problem = |message: String| RemoteError::new(Operation::SetMtime, Some(path), message);
    if !remote.set_mtime(path, wanted).await? {
        return Err(problem("this remote cannot set modification times".into()));
    }
    let seconds = |time: SystemTime| time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match remote.stat(path).await?.and_then(|entry| entry.mtime) {
        Some(kept) if kept == wanted => Ok(()),
        Some(kept) => Err(problem(format!(
            "the remote accepted the modification time {} (Unix seconds) but keeps {}",
            seconds(wanted),
            seconds(kept)
        ))),
        None => Err(problem(
            "the remote accepted a modification time but shows none".into(),
        )),
    }
}
