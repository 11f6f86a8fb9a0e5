//! Exit codes, in one place. `run`: 0 success or nothing to do, 1 failure, 2 bad usage or
//! config, 3 partial failure, 4 another run of the sync is in progress. `check`,
//! `plugin check`, `plugin test`: 0 nothing rejected (every case as expected), 1 something
//! would be (a case differs), 2 bad usage or config. Every command: 5 the policy plugin
//! failed (trapped, ran past its deadline, answered against the contract).

use crate::config::ConfigError;
use crate::plugin::PluginError;
use crate::session::SessionError;
use crate::state::{RunStatus, StateError};
use crate::sync::SyncError;

pub const OK: u8 = 0;
pub const REJECTED: u8 = 1;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const PARTIAL: u8 = 3;
pub const BUSY: u8 = 4;
pub const PLUGIN_FAILED: u8 = 5;

/// The exit code of `run` for how the run ended.
pub fn for_status(status: RunStatus) -> u8 {
    match status {
        RunStatus::Success | RunStatus::NothingToDo => OK,
        RunStatus::PartialFailure => PARTIAL,
        RunStatus::Failure | RunStatus::Running | RunStatus::Interrupted | RunStatus::Skipped => {
            FAILURE
        }
    }
}

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A sync's policy plugin failed while working.
    #[error(transparent)]
    PluginFailed(SyncError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Io(String),
    /// Nothing to show or do: no run recorded, no failure remembered.
    #[error("{0}")]
    Nothing(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            // A plugin that cannot be found, loaded or configured is a configuration
            // problem; one that fails while working has an exit status of its own.
            CliError::Plugin(e) if e.is_failure() => PLUGIN_FAILED,
            CliError::PluginFailed(_) => PLUGIN_FAILED,
            CliError::Plugin(_) | CliError::Config(_) => USAGE,
            CliError::State(StateError::RunInProgress { .. }) => BUSY,
            CliError::State(_) | CliError::Io(_) | CliError::Nothing(_) => FAILURE,
        }
    }
}

impl From<SessionError> for CliError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Plugin(e) => CliError::Plugin(e),
            SessionError::Runtime(_) => CliError::Io(error.to_string()),
        }
    }
}

impl From<SyncError> for CliError {
    fn from(error: SyncError) -> Self {
        let plugin_failed = match &error {
            SyncError::Plugin { error, .. } => error.is_failure(),
            SyncError::Policy(located) => located.error.is_failure(),
            _ => false,
        };
        match error {
            _ if plugin_failed => CliError::PluginFailed(error),
            SyncError::Config(e) => CliError::Config(e),
            SyncError::State(e) => CliError::State(e),
            SyncError::Plugin { .. } | SyncError::Policy(_) | SyncError::Filter { .. } => {
                CliError::Usage(error.to_string())
            }
        }
    }
}
