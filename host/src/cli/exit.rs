//! Exit codes, in one place. `run`: 0 success or nothing to do, 1 failure, 2 bad usage or
//! config, 3 partial failure, 4 another run of the sync is in progress. `check`: 0 nothing
//! rejected, 1 something would be, 2 bad usage or config.

use crate::config::ConfigError;
use crate::plugin::PluginError;
use crate::state::{RunStatus, StateError};
use crate::sync::SyncError;

pub const OK: u8 = 0;
pub const REJECTED: u8 = 1;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const PARTIAL: u8 = 3;
pub const BUSY: u8 = 4;

/// The exit code of `run` for how the run ended.
pub fn for_status(status: RunStatus) -> u8 {
    match status {
        RunStatus::Success | RunStatus::NothingToDo => OK,
        RunStatus::PartialFailure => PARTIAL,
        RunStatus::Failure | RunStatus::Running | RunStatus::Interrupted => FAILURE,
    }
}

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Plugin(#[from] PluginError),
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
            // problem; one that fails while working is a failure of the command.
            CliError::Plugin(PluginError::Call { .. } | PluginError::Contract { .. }) => FAILURE,
            CliError::Plugin(_) | CliError::Config(_) => USAGE,
            CliError::State(StateError::RunInProgress { .. }) => BUSY,
            CliError::State(_) | CliError::Io(_) | CliError::Nothing(_) => FAILURE,
        }
    }
}

impl From<SyncError> for CliError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Config(e) => CliError::Config(e),
            SyncError::State(e) => CliError::State(e),
            SyncError::Plugin { .. } | SyncError::Policy(_) | SyncError::Filter { .. } => {
                CliError::Usage(error.to_string())
            }
        }
    }
}
