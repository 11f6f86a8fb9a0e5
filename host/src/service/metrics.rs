//! `/metrics`: what the service's runs did, in Prometheus' text format.

use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::plugin::category_name;
use crate::state::RunStatus;
use crate::sync::report::RunReport;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabel {
    sync: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncStatus {
    sync: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncCategory {
    sync: String,
    category: String,
}

/// Run durations from 1 s to about 3 days, each bucket 4 times the last.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 9))
}

pub struct Metrics {
    registry: Registry,
    runs: Family<SyncStatus, Counter>,
    files: Family<SyncLabel, Counter>,
    bytes: Family<SyncLabel, Counter>,
    failures: Family<SyncCategory, Counter>,
    duration: Family<SyncLabel, Histogram>,
    last_success: Family<SyncLabel, Gauge<f64, AtomicU64>>,
    in_progress: Family<SyncLabel, Gauge>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ferry");
        let metrics = Metrics {
            runs: Family::default(),
            files: Family::default(),
            bytes: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            last_success: Family::default(),
            in_progress: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "runs",
            "Runs ended, by sync and status",
            metrics.runs.clone(),
        );
        registry.register(
            "files_transferred",
            "Files delivered",
            metrics.files.clone(),
        );
        registry.register("bytes_transferred", "Bytes sent", metrics.bytes.clone());
        registry.register(
            "failures",
            "Files that did not make it, by category",
            metrics.failures.clone(),
        );
        registry.register(
            "run_duration_seconds",
            "How long runs took",
            metrics.duration.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When a run of the sync last ended without a failure (Unix time)",
            metrics.last_success.clone(),
        );
        registry.register(
            "runs_in_progress",
            "Runs going on now",
            metrics.in_progress.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    fn sync(name: &str) -> SyncLabel {
        SyncLabel {
            sync: name.to_string(),
        }
    }

    /// A run of `sync` starts (+1) or ends (-1).
    pub fn running(&self, sync: &str, change: i64) {
        self.in_progress
            .get_or_create(&Self::sync(sync))
            .inc_by(change);
    }

    /// A run that did not start (`skipped`) or could not (`error`).
    pub fn not_run(&self, sync: &str, status: &str) {
        let labels = SyncStatus {
            sync: sync.to_string(),
            status: status.to_string(),
        };
        self.runs.get_or_create(&labels).inc();
    }

    /// What an ended run did.
    pub fn ended(&self, report: &RunReport) {
        let sync = Self::sync(&report.sync);
        self.not_run(&report.sync, report.status.as_str());
        self.files
            .get_or_create(&sync)
            .inc_by(report.totals.transferred);
        self.bytes.get_or_create(&sync).inc_by(report.totals.bytes);
        for failure in &report.failures {
            let labels = SyncCategory {
                sync: report.sync.clone(),
                category: category_name(failure.category).to_string(),
            };
            self.failures.get_or_create(&labels).inc();
        }
        self.duration
            .get_or_create(&sync)
            .observe(report.duration.as_secs_f64());
        if matches!(report.status, RunStatus::Success | RunStatus::NothingToDo) {
            self.succeeded(&report.sync, SystemTime::now());
        }
    }

    /// The sync's last success was at `at` (also read from the state store at start).
    pub fn succeeded(&self, sync: &str, at: SystemTime) {
        let seconds = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        self.last_success
            .get_or_create(&Self::sync(sync))
            .set(seconds);
    }

    /// Every metric in Prometheus' text format (0.0.4), which [`CONTENT_TYPE`] names:
    /// what a scraper reads is what the header says it is.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}
