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

/// `FILE:LINE:COLUMN: KEY: message`, or `FILE:LINE:COLUMN: message` when `key` is empty.
pub(crate) fn located(file: &Path, line: usize, column: usize, key: &str, message: &str) -> String {
    let place = format!("{}:{line}:{column}", file.display());
    if key.is_empty() {
        format!("{place}: {message}")
    } else {
        format!("{place}: {key}: {message}")
    }
}
