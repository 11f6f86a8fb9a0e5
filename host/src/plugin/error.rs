//! What can go wrong with a plugin, each case naming the plugin and, for calls, the
//! function.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error(
        "no bundled plugin is named {name:?}{suggestion}; bundled plugins: {available}. A plugin can also be given as a path to a .wasm file"
    )]
    UnknownName {
        name: String,
        suggestion: String,
        available: String,
    },
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin file {path}: not a regular file (a .wasm component is expected)")]
    NotAFile { path: PathBuf },
    #[error("plugin file {path}: larger than {limit} bytes, the most a plugin may be")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{origin} is not a ferry policy plugin (a component of ferry:policy@0.1.0): {reason}")]
    Invalid { origin: String, reason: String },
    #[error("plugin {plugin} has no setting {key:?}{suggestion}; its settings: {available}")]
    UnknownSetting {
        plugin: String,
        key: String,
        suggestion: String,
        available: String,
    },
    #[error("plugin {plugin}, setting {key}: {message}")]
    BadSetting {
        plugin: String,
        key: String,
        message: String,
    },
    #[error("plugin {plugin}: {function} {failure}")]
    Call {
        plugin: String,
        function: &'static str,
        failure: CallFailure,
    },
    #[error("plugin {plugin}: {function} returned {got} answers for {sent} entries")]
    Contract {
        plugin: String,
        function: &'static str,
        sent: usize,
        got: usize,
    },
}

/// How a call into a plugin failed. The instance is discarded; the next call gets a
/// fresh one.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error("ran past its time budget ({fuel} fuel units) and was stopped")]
    Deadline { fuel: u64 },
    #[error(
        "tried to grow its memory to {wanted} bytes, past its cap of {cap} bytes, and was stopped"
    )]
    MemoryCap { wanted: usize, cap: usize },
    #[error("trapped ({reason}){}", written(stderr))]
    Trap { reason: String, stderr: String },
}

/// What a failed plugin wrote to stderr (its panic message, usually), as a clause.
fn written(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; it wrote: {stderr}")
    }
}
