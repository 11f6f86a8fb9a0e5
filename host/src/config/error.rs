use std::path::PathBuf;

use crate::toml_reader::{TomlError, located};

/// Why a config could not be loaded or a name could not be found in it.
///
/// Every variant's Display is one line; `Invalid` reads `FILE:LINE:COLUMN: KEY: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// There is no file where ferry looked for the config.
    #[error("{}: config file not found; {hint}", file.display())]
    NotFound { file: PathBuf, hint: String },
    /// The file exists but could not be read.
    #[error("{}: cannot read config file: {source}", file.display())]
    Unreadable {
        file: PathBuf,
        source: crate::bounded::BoundedReadError,
    },
    /// The file's content is wrong at a known place. `key` is the dotted path of the
    /// offending key or table; it is empty for TOML syntax errors and top-level keys.
    /// `line` and `column` are 1-based; `column` counts characters.
    #[error("{}", located(file, *line, *column, key, message))]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    /// A sync or remote asked for by name is not in the config.
    #[error("{}: {message}", file.display())]
    UnknownName {
        file: PathBuf,
        name: String,
        message: String,
    },
}

impl From<TomlError> for ConfigError {
    fn from(error: TomlError) -> Self {
        let TomlError {
            file,
            line,
            column,
            key,
            message,
        } = error;
        ConfigError::Invalid {
            file,
            line,
            column,
            key,
            message,
        }
    }
}
