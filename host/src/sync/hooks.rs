//! What a host hands a run besides its config: where progress goes, and a way to stop
//! it. The command line shows progress as a terminal bar; `ferry serve` keeps it as the
//! live state of the run; both can stop a run (Ctrl-C, SIGTERM, `max_duration`).

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// Where a run reports its transfers as they go. Called from every transfer at once:
/// implementations count, they do not block.
pub trait Progress: Send + Sync {
    /// The run got its id in the state store (a dry run gets none).
    fn started(&self, _run: i64) {}
    /// The transfers start: this many files, this many bytes in all.
    fn begin(&self, files: u64, bytes: u64);
    /// Bytes sent (or found already sent, for a resumed upload).
    fn advance(&self, bytes: u64);
    /// One more file is done with, however it went.
    fn file_done(&self);
    /// The transfers are over.
    fn end(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
    fn file_done(&self) {}
    fn end(&self) {}
}

/// Asks a run to stop, and says why. A stopped run starts no new file; a file being
/// written under a temporary name (or in parts) stops at its next chunk and stays
/// resumable; one written straight under its final name (`upload = "direct"`) is
/// finished first, so that no final name holds half a file. The run ends `interrupted`.
#[derive(Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop the run; the first reason given is the one the run reports.
    pub fn stop(&self, reason: impl Into<String>) {
        let _ = self.reason.set(reason.into());
        self.token.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Why the run was stopped, once it was.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Completes once the run is asked to stop.
    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// A run's progress sink and stop switch.
#[derive(Clone)]
pub struct Hooks {
    pub progress: Arc<dyn Progress>,
    pub stop: Stop,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            progress: Arc::new(NoProgress),
            stop: Stop::new(),
        }
    }
}
