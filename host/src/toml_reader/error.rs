use std::path::{Path, PathBuf};

/// A TOML file's content is wrong at a known place; reads `FILE:LINE:COLUMN: KEY: message`.
/// `key` is the dotted path of the offending key or table; it is empty for TOML syntax
/// errors and top-level keys. `line` and `column` are 1-based; `column` counts characters.
#[derive(Debug, thiserror::Error)]
#[error("{}", located(file, *line, *column, key, message))]
pub struct TomlError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

/// Where a key or table is written in a TOML file, kept for complaints about it found after
/// reading (a plugin refusing a setting). `key` is the dotted path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
    pub key: String,
}

impl Place {
    /// `FILE:LINE:COLUMN: KEY: message` for a complaint about the key in `file`.
    pub fn locate(&self, file: &Path, message: &str) -> String {
        located(file, self.line, self.column, &self.key, message)
    }
}

/// `FILE:LINE:COLUMN: KEY: message`, or `FILE:LINE:COLUMN: message` when `key` is empty.
pub(crate) fn located(file: &Path, line: usize, column: usize, key: &str, message: &str) -> String {
    let place = format!("{}:{line}:{column}", file.display());
    if key.is_empty() {
        format!("{place}: {message}")
    } else {
        format!("{place}: {key}: {message}")
    }
}
