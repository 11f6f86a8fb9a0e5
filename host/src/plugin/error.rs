//! What can go wrong with a plugin, each case naming the plugin and, for calls, the
//! function.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
    #[error("{origin} is not a ferry policy plugin (a component of ferry:policy@{speaks}): {reason}", speaks = super::CONTRACT_VERSION)]
    Invalid { origin: String, reason: String },
    #[error(
        "{origin} is a core WebAssembly module, not a component: build the plugin with \
         `cargo build --target wasm32-wasip2` (see examples/plugin-from-scratch), or wrap a \
         module with `wasm-tools component new`"
    )]
    CoreModule { origin: String },
    #[error(
        "{origin} was built for ferry:policy@{built_for}; this ferry speaks ferry:policy@{speaks}",
        speaks = super::CONTRACT_VERSION
    )]
    Version { origin: String, built_for: String },
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

impl PluginError {
    /// Whether the plugin failed while working (a trap, a deadline, a bad answer), rather
    /// than being impossible to find, load or configure.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            PluginError::Call { .. } | PluginError::Contract { .. }
        )
    }
}

/// How a call into a plugin failed. The instance is discarded; the next call gets a
/// fresh one.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error("ran past its time budget ({budget}) and was stopped")]
    Deadline { budget: Budget },
    #[error(transparent)]
    Blocked(super::sandbox::BlockingImport),
    #[error(
        "tried to grow its memory to {wanted} bytes, past its cap of {cap} bytes, and was stopped"
    )]
    MemoryCap { wanted: usize, cap: usize },
    #[error("trapped ({reason}){}", written(stderr))]
    Trap { reason: String, stderr: String },
}

/// The budget a call ran past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Instructions, counted as fuel units.
    Fuel(u64),
    /// Wall-clock time.
    Time(Duration),
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Fuel(fuel) => write!(f, "{fuel} fuel units"),
            Budget::Time(time) => write!(f, "{} s of wall-clock time", time.as_secs_f64()),
        }
    }
}

/// What a failed plugin wrote to stderr (its panic message, usually), as a clause.
fn written(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; it wrote: {stderr}")
    }
}
