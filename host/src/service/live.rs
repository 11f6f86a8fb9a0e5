//! A running sync's live state: the run's progress as the service shows it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

use crate::sync::Progress;

/// Counted by the run's transfers as they go; read by the API and the page.
#[derive(Default)]
pub struct Live {
    run: AtomicI64,
    files_total: AtomicU64,
    files_done: AtomicU64,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    transferring: std::sync::atomic::AtomicBool,
}

/// What `GET /api/syncs` shows of a running sync.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LiveState {
    /// The run's id, once the state store gave it one.
    pub run: Option<i64>,
    /// `waiting` for its turn (`max_runs`), `scanning` (listing and checking) until the
    /// transfers start, then `transferring`.
    pub phase: &'static str,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

impl Live {
    pub fn run(&self) -> Option<i64> {
        Some(self.run.load(Ordering::Acquire)).filter(|id| *id > 0)
    }

    pub fn state(&self) -> LiveState {
        let transferring = self.transferring.load(Ordering::Relaxed);
        LiveState {
            run: self.run(),
            phase: match (self.run(), transferring) {
                (None, _) => "waiting",
                (Some(_), false) => "scanning",
                (Some(_), true) => "transferring",
            },
            files_done: self.files_done.load(Ordering::Relaxed),
            files_total: self.files_total.load(Ordering::Relaxed),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
        }
    }
}

impl Progress for Live {
    fn started(&self, run: i64) {
        self.run.store(run, Ordering::Release);
    }

    fn begin(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
        self.transferring.store(true, Ordering::Relaxed);
    }

    fn advance(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    fn end(&self) {}
}
