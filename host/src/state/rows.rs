//! The columns each query selects, and how a selected row becomes a value.

use rusqlite::{Result, Row};

use super::codec::{Nanos, Unsigned};
use super::types::{FileOutcome, PathState, RunId, RunRecord, Totals};

pub(super) const RUN_COLUMNS: &str = "id, sync, started_ns, finished_ns, status, dry_run, \
     transferred, failed, skipped, deleted, rejected, bytes";

pub(super) const OUTCOME_COLUMNS: &str = "path, status, operation, bytes, size, mtime_ns, \
     category, retry, message, advice, at_ns";

pub(super) const PATH_STATE_COLUMNS: &str = "path, size, mtime_ns, last_status, attempts, \
     last_category, last_retry, last_message, last_run";

fn unsigned(row: &Row, column: &str) -> Result<u64> {
    Ok(row.get::<_, Unsigned>(column)?.0)
}

fn totals_from_row(row: &Row) -> Result<Totals> {
    Ok(Totals {
        transferred: unsigned(row, "transferred")?,
        failed: unsigned(row, "failed")?,
        skipped: unsigned(row, "skipped")?,
        deleted: unsigned(row, "deleted")?,
        rejected: unsigned(row, "rejected")?,
        bytes: unsigned(row, "bytes")?,
    })
}

pub(super) fn run_from_row(row: &Row) -> Result<RunRecord> {
    Ok(RunRecord {
        id: RunId(row.get("id")?),
        sync: row.get("sync")?,
        started: row.get::<_, Nanos>("started_ns")?.0,
        finished: row.get::<_, Option<Nanos>>("finished_ns")?.map(|at| at.0),
        status: row.get("status")?,
        totals: totals_from_row(row)?,
        dry_run: row.get("dry_run")?,
    })
}

pub(super) fn outcome_from_row(row: &Row) -> Result<FileOutcome> {
    Ok(FileOutcome {
        path: row.get("path")?,
        status: row.get("status")?,
        operation: row.get("operation")?,
        bytes: unsigned(row, "bytes")?,
        size: unsigned(row, "size")?,
        mtime_ns: row.get("mtime_ns")?,
        category: row.get("category")?,
        retry: row.get("retry")?,
        message: row.get("message")?,
        advice: row.get("advice")?,
        at: row.get::<_, Nanos>("at_ns")?.0,
    })
}

/// The path itself, and what is remembered about it.
pub(super) fn path_state_from_row(row: &Row) -> Result<(String, PathState)> {
    let state = PathState {
        size: unsigned(row, "size")?,
        mtime_ns: row.get("mtime_ns")?,
        last_status: row.get("last_status")?,
        attempts: row.get("attempts")?,
        last_category: row.get("last_category")?,
        last_retry: row.get("last_retry")?,
        last_message: row.get("last_message")?,
        last_run: RunId(row.get("last_run")?),
    };
    Ok((row.get("path")?, state))
}
