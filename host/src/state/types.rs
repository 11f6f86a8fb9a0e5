//! The values the store remembers, as the rest of ferry sees them.

use std::time::SystemTime;

use crate::plugin::{Category, Operation, Retry};

/// A run's id: assigned by the store, increasing with every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Success,
    PartialFailure,
    Failure,
    NothingToDo,
    /// The process died (or was killed), or the run was stopped, before it finished.
    Interrupted,
    /// A scheduled run that did not start (another run of the sync was still going).
    Skipped,
}

impl RunStatus {
    const ALL: [RunStatus; 7] = [
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::PartialFailure,
        RunStatus::Failure,
        RunStatus::NothingToDo,
        RunStatus::Interrupted,
        RunStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::PartialFailure => "partial_failure",
            RunStatus::Failure => "failure",
            RunStatus::NothingToDo => "nothing_to_do",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// Per-run counters of file outcomes, and the bytes sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    pub transferred: u64,
    pub failed: u64,
    pub skipped: u64,
    pub deleted: u64,
    pub rejected: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub sync: String,
    pub started: SystemTime,
    /// `None` while running, and for a run that was interrupted.
    pub finished: Option<SystemTime>,
    pub status: RunStatus,
    pub totals: Totals,
    pub dry_run: bool,
    /// Why it was skipped or stopped early.
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    Transferred,
    Deleted,
    Failed,
    Rejected,
    Skipped,
}

impl FileStatus {
    const ALL: [FileStatus; 5] = [
        FileStatus::Transferred,
        FileStatus::Deleted,
        FileStatus::Failed,
        FileStatus::Rejected,
        FileStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Transferred => "transferred",
            FileStatus::Deleted => "deleted",
            FileStatus::Failed => "failed",
            FileStatus::Rejected => "rejected",
            FileStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Failed and rejected attempts are what `PathState::attempts` counts.
    pub(super) fn is_failure(self) -> bool {
        matches!(self, FileStatus::Failed | FileStatus::Rejected)
    }
}

/// The step a file's outcome is about: a transport's operation, or one of the host's own
/// (checking names, planning, naming the temporary file, holding back a known failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Connect,
    Authenticate,
    List,
    Stat,
    Read,
    Write,
    Rename,
    Mkdir,
    Delete,
    SetMtime,
    Check,
    Plan,
    TempName,
    Held,
}

impl Step {
    const ALL: [Step; 14] = [
        Step::Connect,
        Step::Authenticate,
        Step::List,
        Step::Stat,
        Step::Read,
        Step::Write,
        Step::Rename,
        Step::Mkdir,
        Step::Delete,
        Step::SetMtime,
        Step::Check,
        Step::Plan,
        Step::TempName,
        Step::Held,
    ];

    /// The name `--json`, the logs and the state store use.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Authenticate => "authenticate",
            Step::List => "list",
            Step::Stat => "stat",
            Step::Read => "read",
            Step::Write => "write",
            Step::Rename => "rename",
            Step::Mkdir => "mkdir",
            Step::Delete => "delete",
            Step::SetMtime => "set-mtime",
            Step::Check => "check",
            Step::Plan => "plan",
            Step::TempName => "temp-name",
            Step::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

impl From<Operation> for Step {
    fn from(operation: Operation) -> Self {
        match operation {
            Operation::Connect => Step::Connect,
            Operation::Authenticate => Step::Authenticate,
            Operation::List => Step::List,
            Operation::Stat => Step::Stat,
            Operation::Read => Step::Read,
            Operation::Write => Step::Write,
            Operation::Rename => Step::Rename,
            Operation::Mkdir => Step::Mkdir,
            Operation::Delete => Step::Delete,
            Operation::SetMtime => Step::SetMtime,
        }
    }
}

impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_names::by_name(deserializer, Step::parse, "step")
    }
}

impl serde::Serialize for RunStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for RunStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_names::by_name(deserializer, RunStatus::parse, "run status")
    }
}

/// How one file fared in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOutcome {
    pub path: String,
    pub status: FileStatus,
    pub operation: Step,
    /// Bytes actually sent in this attempt.
    pub bytes: u64,
    /// The source file's size.
    pub size: u64,
    /// The source file's mtime, ns since the Unix epoch.
    pub mtime_ns: Option<i64>,
    pub category: Option<Category>,
    pub retry: Option<Retry>,
    pub message: Option<String>,
    pub advice: Option<String>,
    pub at: SystemTime,
}

impl FileOutcome {
    /// Whether the file did not make it: failed, refused, or held back after a
    /// permanent failure (a skip that carries a category).
    pub fn is_failure(&self) -> bool {
        match self.status {
            FileStatus::Failed | FileStatus::Rejected => true,
            FileStatus::Skipped => self.category.is_some(),
            FileStatus::Transferred | FileStatus::Deleted => false,
        }
    }
}

/// What ferry remembers about one path of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct PathState {
    /// The source's size when last recorded.
    pub size: u64,
    /// The source's mtime when last recorded.
    pub mtime_ns: Option<i64>,
    pub last_status: FileStatus,
    /// Failed or rejected attempts since the last success.
    pub attempts: u32,
    pub last_category: Option<Category>,
    pub last_retry: Option<Retry>,
    pub last_message: Option<String>,
    pub last_run: RunId,
    /// The step the last failure was in.
    pub last_operation: Option<Step>,
    /// After a delivery whose modification time the destination did not keep (it refused
    /// to set it, or `set_mtime = false`): the file as the destination held it then.
    pub delivered_as: Option<DestinationVersion>,
}

/// A destination file's size and its own modification time, as it stood right after a
/// delivery: while it still stands so, it is the version delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestinationVersion {
    pub size: u64,
    pub mtime_ns: Option<i64>,
}
