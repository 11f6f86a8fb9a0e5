//! The probe behind `ferry doctor`: open a remote step by step, then try each operation a
//! sync needs, one at a time, in a scratch folder under its root — so that a failure names
//! the exact step (and so the permission) that is missing. Errors are kept raw: what they
//! mean is the policy plugin's call.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::iter;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sftp::SftpRemote;
use super::{Kind, Remote, RemoteError, Role};
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
    Rename,
    WriteOver,
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
const LOCAL_OPENING: &[Step] = &[Step::OpenFolder];
const SFTP_OPENING: &[Step] = &[
    Step::Resolve,
    Step::Connect,
    Step::HostKey,
    Step::Authenticate,
];

/// The actions, in order, each with the actions it needs besides an open remote. Each
/// needs as little as possible, so that one refused permission hides no other.
const ACTIONS: &[(Action, &[Action])] = &[
    (Action::List, &[]),
    (Action::Mkdir, &[]),
    (Action::Write, &[Action::Mkdir]),
    (Action::ReadBack, &[Action::Write]),
    (Action::Rename, &[Action::Write]),
    (Action::WriteOver, &[Action::Write]),
    (Action::RenameOver, &[Action::Write]),
    (Action::SetMtime, &[Action::Write]),
    (Action::DeleteFile, &[Action::Write]),
    // A file left behind would make the folder's deletion fail for the wrong reason.
    (
        Action::DeleteFolder,
        &[Action::DeleteFile, Action::RenameOver],
    ),
];

const CONTENT: &[u8] = b"written by ferry doctor\n";
const OTHER_CONTENT: &[u8] = b"written over by ferry doctor\n";
/// Whole seconds, which every remote that keeps times can store exactly.
const PROBE_MTIME: Duration = Duration::from_secs(1_000_000_000);
const FILE_NAME: &str = "probe.txt";
const RENAMED_NAME: &str = "renamed.txt";
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
}

#[derive(Debug)]
pub struct StepReport {
    pub step: Step,
    pub outcome: Outcome,
    /// `None` for a step not timed on its own: SSH connects, checks the host key and
    /// authenticates in one exchange, timed on the step where it ended.
    pub elapsed: Option<Duration>,
}

/// What removing the scratch folder left by failed steps came to.
#[derive(Debug)]
pub struct Cleanup {
    pub folder: String,
    pub result: Result<(), RemoteError>,
}

#[derive(Debug, Default)]
pub struct Probe {
    /// What the host name resolved to (SFTP only).
    pub addresses: Vec<SocketAddr>,
    /// The IP address the connection left from: what a server's IP allow-list sees.
    pub local_address: Option<String>,
    pub steps: Vec<StepReport>,
    /// `None` when no scratch folder was left to remove.
    pub cleanup: Option<Cleanup>,
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
        self.steps
            .iter()
            .any(|report| report.step == step && matches!(report.outcome, Outcome::Passed))
    }

    fn first_missing(&self, needs: impl IntoIterator<Item = Step>) -> Option<Step> {
        needs.into_iter().find(|step| !self.has_passed(*step))
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

/// Open the remote `config` describes and try every action in a scratch folder, which is
/// removed afterwards, as far as it can be, even when an action failed.
pub async fn probe(config: &RemoteConfig) -> Probe {
    let mut probe = Probe::default();
    let (opening, remote) = match &config.transport {
        Transport::Local(_) => (LOCAL_OPENING, open_local(config, &mut probe).await),
        Transport::Sftp(sftp) => (SFTP_OPENING, open_sftp(sftp, &mut probe).await),
    };
    probe.skip_unreached(opening);
    let opened = opening[opening.len() - 1];
    let mut scratch = Scratch::new();
    for &(action, needs) in ACTIONS {
        let needs = iter::once(opened).chain(needs.iter().map(|need| Step::Action(*need)));
        match (remote.as_deref(), probe.first_missing(needs)) {
            (Some(remote), None) => {
                let started = Instant::now();
                let result = scratch.try_action(action, remote).await;
                probe.record(Step::Action(action), result, Some(started.elapsed()));
            }
            (_, missing) => probe.skip(Step::Action(action), missing.unwrap_or(opened)),
        }
    }
    if let Some(remote) = remote.as_deref() {
        probe.cleanup = scratch.clean_up(remote).await;
    }
    probe
}

async fn open_local(config: &RemoteConfig, probe: &mut Probe) -> Option<Arc<dyn Remote>> {
    let started = Instant::now();
    // As a source: a missing folder is reported, not created.
    let opened = super::connect(config, Role::Source).await;
    let elapsed = Some(started.elapsed());
    match opened {
        Ok(remote) => {
            probe.record(Step::OpenFolder, Ok(()), elapsed);
            Some(remote)
        }
        Err(error) => {
            probe.record(Step::OpenFolder, Err(error), elapsed);
            None
        }
    }
}

async fn open_sftp(config: &SftpConfig, probe: &mut Probe) -> Option<Arc<dyn Remote>> {
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
            Some(Arc::new(remote))
        }
        Err(error) => {
            probe.local_address = error.local_address.clone();
            record_exchange(probe, failed_step(&error), Err(error), elapsed);
            None
        }
    }
}

/// Record the SSH exchange that ended at `ended`: the steps before it passed.
fn record_exchange(
    probe: &mut Probe,
    ended: Step,
    result: Result<(), RemoteError>,
    elapsed: Option<Duration>,
) {
    let exchange = [Step::Connect, Step::HostKey, Step::Authenticate];
    for &step in exchange.iter().take_while(|step| **step != ended) {
        probe.record(step, Ok(()), None);
    }
    probe.record(ended, result, elapsed);
}

/// Which step of the SSH exchange an error of [`SftpRemote::connect`] ended: the transport
/// reports a refused host key as a connect error, its message naming the host key.
fn failed_step(error: &RemoteError) -> Step {
    let message = error.message.to_ascii_lowercase();
    match error.operation {
        Operation::Authenticate => Step::Authenticate,
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

/// The scratch folder, named so as not to meet anything already under the root.
struct Scratch {
    folder: String,
    /// Where the test file is now: renaming moves it.
    file: String,
}

impl Scratch {
    fn new() -> Self {
        let random = RandomState::new().hash_one(SystemTime::now());
        let folder = format!(".ferry-doctor-{random:016x}");
        let file = format!("{folder}/{FILE_NAME}");
        Scratch { folder, file }
    }

    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.folder)
    }

    async fn try_action(&mut self, action: Action, remote: &dyn Remote) -> Result<(), RemoteError> {
        match action {
            Action::List => remote.list(&mut |_| {}).await,
            Action::Mkdir => remote.mkdir_all(&self.folder).await,
            Action::Write => write_file(remote, &self.file, CONTENT).await,
            Action::ReadBack => read_back(remote, &self.file, CONTENT).await,
            Action::Rename => {
                let renamed = self.path(RENAMED_NAME);
                remote.rename(&self.file, &renamed).await?;
                self.file = renamed;
                Ok(())
            }
            Action::WriteOver => write_file(remote, &self.file, OTHER_CONTENT).await,
            Action::RenameOver => {
                let incoming = self.path(INCOMING_NAME);
                write_file(remote, &incoming, CONTENT).await?;
                remote.rename(&incoming, &self.file).await
            }
            Action::SetMtime => set_mtime_and_check(remote, &self.file).await,
            Action::DeleteFile => remote.delete(&self.file, Kind::File).await,
            Action::DeleteFolder => remote.delete(&self.folder, Kind::Directory).await,
        }
    }

    /// Remove the folder if it is still there, with any file a failed action left in it.
    async fn clean_up(&self, remote: &dyn Remote) -> Option<Cleanup> {
        let result = match remote.stat(&self.folder).await {
            Ok(None) => return None,
            Ok(Some(_)) => self.remove(remote).await,
            Err(error) => Err(error),
        };
        Some(Cleanup {
            folder: self.folder.clone(),
            result,
        })
    }

    async fn remove(&self, remote: &dyn Remote) -> Result<(), RemoteError> {
        for name in [FILE_NAME, RENAMED_NAME, INCOMING_NAME] {
            // Most of them do not exist; the folder's deletion says whether any is left.
            let _ = remote.delete(&self.path(name), Kind::File).await;
        }
        remote.delete(&self.folder, Kind::Directory).await
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
