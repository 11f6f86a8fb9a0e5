//! What a run did, for the summary, `--json` and `ferry log`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plugin::{Category, Retry, category_name, retry_name};
use crate::state::{FileOutcome, RunRecord, RunStatus, Step, Totals};
use crate::text::inert;

/// One file that did not make it, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub path: String,
    pub operation: Step,
    pub category: Category,
    pub retry: Retry,
    pub message: String,
    pub advice: String,
}

impl Failure {
    /// The failure an outcome records, if it is one.
    pub fn from_outcome(outcome: &FileOutcome) -> Option<Failure> {
        outcome.is_failure().then(|| Failure {
            path: outcome.path.clone(),
            operation: outcome.operation,
            category: outcome.category.unwrap_or(Category::Unknown),
            retry: outcome.retry.unwrap_or(Retry::NextRun),
            message: outcome.message.clone().unwrap_or_default(),
            advice: outcome.advice.clone().unwrap_or_default(),
        })
    }
}

/// A finished (or planned, for `--dry-run`) run: what `run --json` prints, `ferry log`
/// shows, and the service's API answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub sync: String,
    #[serde(rename = "run")]
    pub run_id: Option<i64>,
    pub status: RunStatus,
    #[serde(flatten)]
    pub totals: Totals,
    pub failures: Vec<Failure>,
    /// Things the user should know that are not failures of a file.
    pub notes: Vec<String>,
    #[serde(rename = "seconds", with = "crate::serde_names::seconds")]
    pub duration: Duration,
    /// Where the time went (not kept in the state store: `None` for `ferry log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
    pub dry_run: bool,
}

/// How long each step of a run took, and how many entries the policy checked (those not
/// in place at the destination already).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Phases {
    #[serde(rename = "connect_seconds", with = "crate::serde_names::seconds")]
    pub connect: Duration,
    #[serde(rename = "scan_seconds", with = "crate::serde_names::seconds")]
    pub scan: Duration,
    #[serde(rename = "check_seconds", with = "crate::serde_names::seconds")]
    pub check: Duration,
    #[serde(rename = "plan_seconds", with = "crate::serde_names::seconds")]
    pub plan: Duration,
    #[serde(rename = "transfer_seconds", with = "crate::serde_names::seconds")]
    pub transfer: Duration,
    pub checked: usize,
}

impl RunReport {
    pub fn from_record(record: &RunRecord, outcomes: &[FileOutcome]) -> RunReport {
        let duration = record
            .finished
            .and_then(|end| end.duration_since(record.started).ok())
            .unwrap_or_default();
        RunReport {
            sync: record.sync.clone(),
            run_id: Some(record.id.0),
            status: record.status,
            totals: record.totals,
            failures: outcomes.iter().filter_map(Failure::from_outcome).collect(),
            notes: record.note.iter().cloned().collect(),
            duration,
            phases: None,
            dry_run: record.dry_run,
        }
    }

    /// The report as JSON, its keys in order (as `run --json` has always printed them).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a report is plain data")
    }

    /// The summary and every failure, for a human.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let run = match self.run_id {
            Some(id) => format!(" (run {id})"),
            None if self.dry_run => {
                " (dry run: nothing was changed; this is what a run would do)".into()
            }
            None => String::new(),
        };
        let t = &self.totals;
        text.push_str(&format!(
            "{}{run}: {} — {} transferred ({}), {} failed, {} rejected, {} unchanged, {} deleted in {:.1}s\n",
            inert(&self.sync),
            self.status.as_str().replace('_', " "),
            t.transferred,
            crate::plugin::human_size(t.bytes),
            t.failed,
            t.rejected,
            t.skipped,
            t.deleted,
            self.duration.as_secs_f64(),
        ));
        for note in &self.notes {
            text.push_str(&format!("note: {}\n", inert(note)));
        }
        if !self.failures.is_empty() {
            text.push_str(&format!(
                "{} file(s) did not make it:\n",
                self.failures.len()
            ));
        }
        for f in &self.failures {
            let path = if f.path.is_empty() {
                "(the whole run)".to_string()
            } else {
                inert(&f.path).to_string()
            };
            let what = match f.operation {
                Step::Check => "rejected before upload".to_string(),
                step => format!("{} failed", step.as_str()),
            };
            text.push_str(&format!(
                "  {path}\n    {what}: {} [{}, retry: {}]\n",
                inert(&f.message),
                category_name(f.category),
                retry_name(f.retry)
            ));
            if !f.advice.is_empty() {
                text.push_str(&format!("    what to do: {}\n", inert(&f.advice)));
            }
        }
        text
    }
}

/// Paths (or other items) named in one note at most.
pub const NAMED_IN_A_NOTE: usize = 10;

/// The first [`NAMED_IN_A_NOTE`] of `items`, comma-separated, and how many more: a note
/// names a few, not a million.
pub fn some_of(items: impl ExactSizeIterator<Item = String>) -> String {
    let more = items.len().saturating_sub(NAMED_IN_A_NOTE);
    let mut text = items.take(NAMED_IN_A_NOTE).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// The status of a run from what happened: partial when some work succeeded (or was
/// already done) and something failed.
pub fn run_status(totals: &Totals) -> RunStatus {
    let failed = totals.failed + totals.rejected;
    let succeeded = totals.transferred + totals.deleted;
    match (failed, succeeded, totals.skipped) {
        (0, 0, _) => RunStatus::NothingToDo,
        (0, _, _) => RunStatus::Success,
        (_, 0, 0) => RunStatus::Failure,
        _ => RunStatus::PartialFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_a_few_and_counts_the_rest() {
        let names = |n: usize| (0..n).map(|i| format!("f{i}")).collect::<Vec<_>>();
        assert_eq!(some_of(names(2).into_iter()), "f0, f1");
        let many = some_of(names(NAMED_IN_A_NOTE + 3).into_iter());
        assert!(
            many.starts_with("f0, f1,") && many.ends_with("f9 and 3 more"),
            "{many}"
        );
    }
}
