//! The run's progress as a terminal bar on stderr (nothing when stderr is not a terminal).

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sync::Progress;

/// Files, bytes, rate and ETA; drawn only once the transfers begin.
pub struct TerminalProgress {
    bar: ProgressBar,
    files: AtomicU64,
    done: AtomicU64,
}

impl TerminalProgress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:>12} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template");
        bar.set_style(style);
        TerminalProgress {
            bar,
            files: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }
}

impl Progress for TerminalProgress {
    fn begin(&self, files: u64, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{files} files"));
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn file_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let files = self.files.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{files} files"));
    }

    fn end(&self) {
        self.bar.finish_and_clear();
    }
}
