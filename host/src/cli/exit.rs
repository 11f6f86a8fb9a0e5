//! Exit codes, in one place. `run`: 0 success or nothing to do, 1 failure, 2 bad usage or
//! config, 3 partial failure. `check`: 0 nothing rejected, 1 something would be, 2 bad
//! usage or config.

use crate::plugin::PluginError;

pub const OK: u8 = 0;
pub const REJECTED: u8 = 1;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("{0}")]
    Io(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            // A plugin that cannot be found, loaded or configured is a configuration
            // problem; one that fails while working is a failure of the command.
            CliError::Plugin(PluginError::Call { .. } | PluginError::Contract { .. }) => FAILURE,
            CliError::Plugin(_) => USAGE,
            CliError::Io(_) => FAILURE,
        }
    }
}
