//! `ferry check SYNC`: a preflight over the whole source that transfers nothing.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Args;

use super::exit::{self, CliError};
use super::output::out;
use super::rejections::{self, Rejection};
use super::run::load_config;
use crate::session::{Session, Threads};
use crate::sync::{self, CheckError, CheckReport, OverLocalLimit};
use crate::text::inert;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The sync whose source is checked against its destination's policy.
    sync: String,
}

pub fn check(args: CheckArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    let session = Session::new(Threads::One)?;
    let sync = config.sync(&args.sync)?;
    let policy = session.policy(&config, config.remote(&sync.destination)?)?;
    let report = session
        .runtime()
        .block_on(sync::check(&config, &args.sync, &policy))
        .map_err(|e| match e {
            CheckError::Sync(e) => CliError::from(e),
            source @ CheckError::Source(_) => CliError::Io(source.to_string()),
        })?;
    let rows = rows(&report);
    if json {
        out!(
            "{:#}",
            rejections::to_json(policy.identity().clone(), report.checked, &rows)
        );
    } else {
        print_grouped(
            &rows,
            &report,
            &format!(
                "{} (destination {})",
                inert(policy.label()),
                inert(&sync.destination)
            ),
        );
    }
    Ok(if rows.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

fn rows(report: &CheckReport) -> Vec<Rejection> {
    let unreadable = report
        .unreadable
        .iter()
        .map(|(path, error)| Rejection::unreadable(None, path, &error.message));
    let rejected = report
        .rejections
        .iter()
        .flat_map(|r| Rejection::rows(None, &r.path, &r.violations, r.suggestion.as_deref()));
    let too_long = report.over_local_limit.iter().map(over_local_limit);
    unreadable.chain(rejected).chain(too_long).collect()
}

/// An entry a local destination would refuse for its full path's length, as a run does.
fn over_local_limit(over: &OverLocalLimit) -> Rejection {
    Rejection {
        root: None,
        path: over.path.clone(),
        rule: "max_path_length".into(),
        detail: format!(
            "the full local path would be {} characters, over the local limit of {} \
             (max_path_length): shorten the path or raise max_path_length",
            over.length, over.limit
        ),
        suggestion: None,
    }
}

/// Every rejection grouped by rule, each entry once per rule with its details and
/// suggested fix, then totals.
fn print_grouped(rows: &[Rejection], report: &CheckReport, policy: &str) {
    let mut by_rule: BTreeMap<&str, BTreeMap<&str, Vec<&Rejection>>> = BTreeMap::new();
    for row in rows {
        let entries = by_rule.entry(&row.rule).or_default();
        entries.entry(&row.path).or_default().push(row);
    }
    for (rule, entries) in &by_rule {
        out!(
            "{} ({})",
            inert(rule),
            rejections::counted(entries.len(), "entry", "entries")
        );
        for (path, rows) in entries {
            let details: Vec<String> = rows
                .iter()
                .map(|row| inert(&row.detail).to_string())
                .collect();
            out!("  {}: {}", inert(path), details.join("; "));
            if let Some(suggestion) = &rows[0].suggestion {
                out!("    fix: rename to {}", inert(suggestion));
            }
        }
    }
    out!(
        "{} checked against {policy}: {} would be rejected ({})",
        rejections::counted(report.checked, "entry", "entries"),
        rejections::count_entries(rows),
        rejections::counted(rows.len(), "violation", "violations")
    );
}
