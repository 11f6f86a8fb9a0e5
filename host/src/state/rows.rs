//! The columns each query selects, and how a selected row becomes a value.

use rusqlite::{Result, Row};

use super::codec::{Nanos, Unsigned};
use super::types::{DestinationVersion, FileOutcome, PathState, RunId, RunRecord, Totals};

pub(super) const RUN_COLUMNS: &str = "id, sync, started_ns, finished_ns, status, dry_run, \
     transferred, failed, skipped, deleted, rejected, bytes, note";

pub(super) const OUTCOME_COLUMNS: &str = "path, status, operation, bytes, size, mtime_ns, \
     category, retry, message, advice, at_ns";

pub(super) const PATH_STATE_COLUMNS: &str = "path, size, mtime_ns, last_status, attempts, \
     last_category, last_retry, last_message, last_run, dest_size, dest_mtime_ns, last_operation";

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
        note: row.get("note")?,
    })
}

/// By position, in the order of [`OUTCOME_COLUMNS`] (a `ferry log` may read many rows).
pub(super) fn outcome_from_row(row: &Row) -> Result<FileOutcome> {
    Ok(FileOutcome {
        path: row.get(0)?,
        status: row.get(1)?,
        operation: row.get(2)?,
        bytes: row.get::<_, Unsigned>(3)?.0,
        size: row.get::<_, Unsigned>(4)?.0,
        mtime_ns: row.get(5)?,
        category: row.get(6)?,
        retry: row.get(7)?,
        message: row.get(8)?,
        advice: row.get(9)?,
        at: row.get::<_, Nanos>(10)?.0,
    })
}

/// The path itself, and what is remembered about it; by position, in the order of
/// [`PATH_STATE_COLUMNS`] (every run reads a row per file).
pub(super) fn path_state_from_row(row: &Row) -> Result<(String, PathState)> {
    let state = PathState {
        size: row.get::<_, Unsigned>(1)?.0,
        mtime_ns: row.get(2)?,
        last_status: row.get(3)?,
        attempts: row.get(4)?,
        last_category: row.get(5)?,
        last_retry: row.get(6)?,
        last_message: row.get(7)?,
        last_run: RunId(row.get(8)?),
        delivered_as: match row.get::<_, Option<Unsigned>>(9)? {
            Some(size) => Some(DestinationVersion {
                size: size.0,
                mtime_ns: row.get(10)?,
            }),
            None => None,
        },
        last_operation: row.get(11)?,
    };
    Ok((row.get(0)?, state))
}
