use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::codec::{Nanos, Unsigned};
use super::error::StateError;
use super::lock;
use super::rows::{
    OUTCOME_COLUMNS, PATH_STATE_COLUMNS, RUN_COLUMNS, outcome_from_row, path_state_from_row,
    run_from_row,
};
use super::schema::{self, Migrated, SCHEMA_VERSION};
use super::types::{
    DestinationVersion, FileOutcome, FileStatus, PathState, RunId, RunRecord, RunStatus, Totals,
};

pub(super) const DATABASE_FILE: &str = "ferry.db";
/// Written next to the database once it is created: a state directory that has it was in
/// use, so an empty database there was truncated, not new.
const MARKER_FILE: &str = "initialized";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The state database of one state directory. Every write is its own committed
/// transaction (or part of a [`Store::batch`]), so a killed ferry loses at most the
/// outcomes it had not committed yet.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    db: PathBuf,
}

/// Why a write gave up, before it is told which database and operation it was.
pub(super) enum WriteError {
    Sqlite(rusqlite::Error),
    UnknownRun(RunId),
}

impl From<rusqlite::Error> for WriteError {
    fn from(error: rusqlite::Error) -> Self {
        WriteError::Sqlite(error)
    }
}

impl Store {
    /// Creates `dir` if needed; the database is `dir/ferry.db`. Migrations by PRAGMA user_version.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        Self::open_with_busy_timeout(dir, BUSY_TIMEOUT)
    }

    pub(super) fn open_with_busy_timeout(
        dir: &Path,
        busy_timeout: Duration,
    ) -> Result<Store, StateError> {
        fs::create_dir_all(dir).map_err(|error| StateError::CreateDir {
            dir: dir.to_path_buf(),
            error,
        })?;
        let db = dir.join(DATABASE_FILE);
        refuse_truncated(dir, &db)?;
        let mut conn = connect(&db, busy_timeout)
            .map_err(|error| StateError::from_sqlite(&db, "opening it", error))?;
        let migrated = schema::migrate(&mut conn)
            .map_err(|error| StateError::from_sqlite(&db, "upgrading its schema", error))?;
        if let Migrated::Unsupported(found) = migrated {
            return Err(StateError::UnsupportedSchema {
                db,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Damage to the schema or the first page shows here, before anything is planned.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|error| StateError::from_sqlite(&db, "reading its schema", error))?;
        mark_in_use(dir)?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            db,
        })
    }

    pub fn path_states(&self, sync: &str) -> Result<HashMap<String, PathState>, StateError> {
        self.path_states_with(sync, None)
    }

    /// The states of the paths whose last attempt failed, and of those delivered without
    /// their modification time: all a run needs when both sides keep times (a success is
    /// then told by the listings alone).
    pub fn failed_or_untimed_path_states(
        &self,
        sync: &str,
    ) -> Result<HashMap<String, PathState>, StateError> {
        self.path_states_with(sync, Some(FileStatus::Failed))
    }

    /// Remember how the destination held `path` right after its delivery (its time was
    /// not kept). The next outcome recorded for the path forgets it again.
    pub fn set_delivered_as(
        &self,
        sync: &str,
        path: &str,
        version: DestinationVersion,
    ) -> Result<(), StateError> {
        self.write("recording a delivery without its time", |conn| {
            conn.prepare_cached(
                "UPDATE path_states SET dest_size = ?3, dest_mtime_ns = ?4 \
                 WHERE sync = ?1 AND path = ?2",
            )?
            .execute(params![
                sync,
                path,
                Unsigned(version.size),
                version.mtime_ns
            ])?;
            Ok(())
        })
    }

    fn path_states_with(
        &self,
        sync: &str,
        last_status: Option<FileStatus>,
    ) -> Result<HashMap<String, PathState>, StateError> {
        self.read("reading path states", |conn| {
            let sql = format!(
                "SELECT {PATH_STATE_COLUMNS} FROM path_states \
                 WHERE sync = ?1 AND (?2 IS NULL OR last_status = ?2 OR dest_size IS NOT NULL)"
            );
            conn.prepare_cached(&sql)?
                .query_map(params![sync, last_status], path_state_from_row)?
                .collect()
        })
    }

    /// Starts a run; any earlier run of this sync still "running" (a crash) becomes "interrupted".
    pub fn start_run(&self, sync: &str, dry_run: bool) -> Result<RunId, StateError> {
        self.write("starting a run", |conn| {
            interrupt_running(conn, sync)?;
            conn.execute(
                "INSERT INTO runs (sync, started_ns, status, dry_run) VALUES (?1, ?2, ?3, ?4)",
                params![sync, Nanos(SystemTime::now()), RunStatus::Running, dry_run],
            )?;
            Ok(RunId(conn.last_insert_rowid()))
        })
    }

    /// One transaction: appends the outcomes to the run's log, adds them to the run's
    /// running totals and updates each path's state, in order:
    /// Transferred → size/mtime set, attempts 0, category/retry/message cleared;
    /// Failed/Rejected → size/mtime set to the source's, attempts + 1, category/retry/message set;
    /// Deleted → the path's state row removed; Skipped → log only.
    /// A dry run changes no path state: nothing was really synced.
    pub fn record_all(
        &self,
        run: RunId,
        sync: &str,
        outcomes: &[FileOutcome],
    ) -> Result<(), StateError> {
        self.write("recording file outcomes", |conn| {
            let dry_run = add_to_run_totals(conn, run, outcomes)?;
            for outcome in outcomes {
                append_outcome(conn, run, outcome)?;
                if !dry_run {
                    remember_path(conn, run, sync, outcome)?;
                }
            }
            Ok(())
        })
    }

    pub fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        totals: &Totals,
    ) -> Result<(), StateError> {
        self.finish_run_noted(run, status, totals, None)
    }

    /// Finishes a run with a note saying why it ended as it did (a stop), in the same
    /// write: nobody reads the status without its note.
    pub fn finish_run_noted(
        &self,
        run: RunId,
        status: RunStatus,
        totals: &Totals,
        note: Option<&str>,
    ) -> Result<(), StateError> {
        self.write("finishing a run", |conn| {
            let updated = conn.execute(
                "UPDATE runs SET finished_ns = ?2, status = ?3, transferred = ?4, failed = ?5, \
                 skipped = ?6, deleted = ?7, rejected = ?8, bytes = ?9, note = ?10 WHERE id = ?1",
                params![
                    run.0,
                    Nanos(SystemTime::now()),
                    status,
                    Unsigned(totals.transferred),
                    Unsigned(totals.failed),
                    Unsigned(totals.skipped),
                    Unsigned(totals.deleted),
                    Unsigned(totals.rejected),
                    Unsigned(totals.bytes),
                    note,
                ],
            )?;
            match updated {
                0 => Err(WriteError::UnknownRun(run)),
                _ => Ok(()),
            }
        })?;
        self.checkpoint();
        Ok(())
    }

    /// Records as interrupted each run of `sync` still recorded as running while no run
    /// holds the sync's lock (its process was killed), as the next run would.
    pub fn settle(&self, sync: &str) -> Result<(), StateError> {
        if lock::is_held(&self.dir, sync) {
            return Ok(());
        }
        self.write("recording interrupted runs", |conn| {
            Ok(interrupt_running(conn, sync)?)
        })
    }

    /// Records a run of `sync` that was due but did not start, and why.
    pub fn record_skipped(&self, sync: &str, why: &str) -> Result<RunId, StateError> {
        self.write("recording a skipped run", |conn| {
            let now = Nanos(SystemTime::now());
            conn.execute(
                "INSERT INTO runs (sync, started_ns, finished_ns, status, dry_run, note) \
                 VALUES (?1, ?2, ?2, ?3, 0, ?4)",
                params![sync, now, RunStatus::Skipped, why],
            )?;
            Ok(RunId(conn.last_insert_rowid()))
        })
    }

    /// The syncs a person paused (they stay paused across restarts of the service).
    pub fn paused_syncs(&self) -> Result<Vec<String>, StateError> {
        self.read("reading paused syncs", |conn| {
            conn.prepare_cached("SELECT sync FROM paused_syncs ORDER BY sync")?
                .query_map([], |row| row.get(0))?
                .collect()
        })
    }

    pub fn set_paused(&self, sync: &str, paused: bool) -> Result<(), StateError> {
        self.write("pausing or resuming a sync", |conn| {
            let sql = match paused {
                true => "INSERT OR IGNORE INTO paused_syncs (sync) VALUES (?1)",
                false => "DELETE FROM paused_syncs WHERE sync = ?1",
            };
            conn.execute(sql, [sync])?;
            Ok(())
        })
    }

    /// Moves everything committed from the write-ahead log into the database file and
    /// empties the log, so that a copy of the database file alone holds every run. A
    /// reader in the way only delays this to the next run: it is logged, not fatal.
    fn checkpoint(&self) {
        let done = self.read("checkpointing its log", |conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
        });
        match done {
            Ok(0) => {}
            Ok(_) => tracing::warn!("{}: a reader kept part of the log", self.db.display()),
            Err(error) => tracing::warn!("{error}"),
        }
    }

    pub fn run(&self, id: RunId) -> Result<Option<RunRecord>, StateError> {
        self.run_row(id)?
            .map(|record| self.settled(record))
            .transpose()
    }

    fn run_row(&self, id: RunId) -> Result<Option<RunRecord>, StateError> {
        self.read("reading a run", |conn| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
            conn.query_row(&sql, [id.0], run_from_row).optional()
        })
    }

    /// A run recorded as running while no run of its sync holds the sync's lock was
    /// interrupted: its process is gone (the next run records it so).
    fn settled(&self, record: RunRecord) -> Result<RunRecord, StateError> {
        if record.status != RunStatus::Running || lock::is_held(&self.dir, &record.sync) {
            return Ok(record);
        }
        // Read again: the run may have finished between the first read and the lock's.
        let mut record = self.run_row(record.id)?.unwrap_or(record);
        if record.status == RunStatus::Running {
            record.status = RunStatus::Interrupted;
        }
        Ok(record)
    }

    /// The state directory the store is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Each sync's latest run, in one query.
    pub fn latest_runs(&self) -> Result<Vec<RunRecord>, StateError> {
        let runs: Vec<RunRecord> = self.read("reading the latest runs", |conn| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY sync)"
            );
            conn.prepare_cached(&sql)?
                .query_map([], run_from_row)?
                .collect()
        })?;
        runs.into_iter().map(|run| self.settled(run)).collect()
    }

    pub fn latest_run(&self, sync: Option<&str>) -> Result<Option<RunRecord>, StateError> {
        Ok(self.recent_runs(sync, 1)?.into_iter().next())
    }

    /// Newest first; all syncs' runs when `sync` is `None`.
    pub fn recent_runs(
        &self,
        sync: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        self.runs_before(sync, None, limit)
    }

    /// Newest first, only runs older than `before` when given (a page of runs).
    pub fn runs_before(
        &self,
        sync: Option<&str>,
        before: Option<RunId>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let before = before.map_or(i64::MAX, |id| id.0);
        // Two statements, not one with `?1 IS NULL OR sync = ?1`: SQLite uses the
        // (sync, id) index only for the plain comparison.
        let filter = match sync {
            Some(_) => "sync = ?1 AND id < ?3",
            None => "?1 IS NULL AND id < ?3",
        };
        let runs: Vec<RunRecord> = self.read("reading recent runs", |conn| {
            let sql =
                format!("SELECT {RUN_COLUMNS} FROM runs WHERE {filter} ORDER BY id DESC LIMIT ?2");
            conn.prepare_cached(&sql)?
                .query_map(params![sync, limit, before], run_from_row)?
                .collect()
        })?;
        runs.into_iter().map(|run| self.settled(run)).collect()
    }

    /// The first `limit` failed or rejected outcomes of `run`, in recording order.
    pub fn failures(&self, run: RunId, limit: usize) -> Result<Vec<FileOutcome>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("reading failures", |conn| {
            let sql = format!(
                "SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE run = ?1 \
                 AND status IN ('failed', 'rejected') ORDER BY seq LIMIT ?2"
            );
            conn.prepare_cached(&sql)?
                .query_map(params![run.0, limit], outcome_from_row)?
                .collect()
        })
    }

    /// How many of `run`'s files failed or were rejected, by category (as stored).
    pub fn failure_counts(&self, run: RunId) -> Result<Vec<(Option<String>, u64)>, StateError> {
        self.read("counting failures", |conn| {
            conn.prepare_cached(
                "SELECT category, COUNT(*) FROM outcomes WHERE run = ?1 \
                 AND status IN ('failed', 'rejected') GROUP BY category ORDER BY COUNT(*) DESC",
            )?
            .query_map([run.0], |row| {
                Ok((row.get(0)?, row.get::<_, Unsigned>(1)?.0))
            })?
            .collect()
        })
    }

    /// When a run of `sync` last ended with nothing failed.
    pub fn latest_success(&self, sync: &str) -> Result<Option<SystemTime>, StateError> {
        self.read("reading the last success", |conn| {
            conn.query_row(
                "SELECT MAX(finished_ns) FROM runs WHERE sync = ?1 AND dry_run = 0 \
                 AND status IN ('success', 'nothing_to_do')",
                [sync],
                |row| row.get::<_, Option<Nanos>>(0),
            )
            .map(|at| at.map(|at| at.0))
        })
    }

    /// In recording order.
    pub fn outcomes(&self, run: RunId) -> Result<Vec<FileOutcome>, StateError> {
        self.read("reading file outcomes", |conn| {
            let sql = format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE run = ?1 ORDER BY seq");
            conn.prepare_cached(&sql)?
                .query_map([run.0], outcome_from_row)?
                .collect()
        })
    }

    /// Forget failure memory so the path(s) are tried again (for `ferry retry SYNC [PATH]`);
    /// returns how many paths. A failed or rejected path's state row is removed, so the
    /// planner treats it like a path it has never seen.
    pub fn clear_failures(&self, sync: &str, path: Option<&str>) -> Result<usize, StateError> {
        self.write("clearing failures", |conn| {
            let cleared = conn.execute(
                "DELETE FROM path_states WHERE sync = ?1 AND (?2 IS NULL OR path = ?2) \
                 AND last_status IN (?3, ?4)",
                params![sync, path, FileStatus::Failed, FileStatus::Rejected],
            )?;
            Ok(cleared)
        })
    }

    /// Runs `work` in one transaction, committed when it returns: the writes it makes
    /// through this store are committed together (each undone alone if it fails).
    pub fn batch<T>(&self, work: impl FnOnce(&Store) -> T) -> Result<T, StateError> {
        let error =
            |error| StateError::from_sqlite(&self.db, "committing recorded outcomes", error);
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(error)?;
        let value = work(self);
        tx.commit().map_err(error)?;
        Ok(value)
    }

    pub(super) fn read<T>(
        &self,
        doing: &'static str,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        work(&self.conn).map_err(|error| StateError::from_sqlite(&self.db, doing, error))
    }

    pub(super) fn write<T>(
        &self,
        doing: &'static str,
        work: impl FnOnce(&Connection) -> Result<T, WriteError>,
    ) -> Result<T, StateError> {
        in_transaction(&self.conn, work).map_err(|error| match error {
            WriteError::Sqlite(error) => StateError::from_sqlite(&self.db, doing, error),
            WriteError::UnknownRun(run) => StateError::UnknownRun {
                db: self.db.clone(),
                run: run.0,
                doing,
            },
        })
    }
}

/// An empty database in a state directory that was in use was truncated: opening it would
/// silently start over.
pub(super) fn refuse_truncated(dir: &Path, db: &Path) -> Result<(), StateError> {
    let marker = dir.join(MARKER_FILE);
    let empty = fs::metadata(db).is_ok_and(|meta| meta.len() == 0);
    match empty && marker.exists() {
        true => Err(StateError::Emptied {
            db: db.to_path_buf(),
            marker,
        }),
        false => Ok(()),
    }
}

fn mark_in_use(dir: &Path) -> Result<(), StateError> {
    let marker = dir.join(MARKER_FILE);
    if marker.exists() {
        return Ok(());
    }
    let text = "ferry's state directory: an empty ferry.db here is damage, not a new store\n";
    fs::write(&marker, text).map_err(|error| StateError::File {
        path: marker,
        doing: "write",
        error,
    })
}

fn connect(db: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(busy_timeout)?;
    // In WAL mode with synchronous=NORMAL a commit is in the WAL file, so it survives the
    // process being killed; only a power loss can take back the latest commits.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Runs `work` in one committed transaction. IMMEDIATE takes the write lock up front,
/// so a second ferry waits for the busy timeout instead of failing halfway through.
/// Inside a [`Store::batch`] it is a savepoint instead: undone alone when it fails.
fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, WriteError>,
) -> Result<T, WriteError> {
    if !conn.is_autocommit() {
        return in_savepoint(conn, work);
    }
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let value = work(&tx)?;
    tx.commit()?;
    Ok(value)
}

fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, WriteError>,
) -> Result<T, WriteError> {
    let run = |sql: &str| conn.prepare_cached(sql)?.execute([]).map(drop);
    run("SAVEPOINT write")?;
    let value = work(conn).inspect_err(|_| {
        // The savepoint's own error would hide the one that matters.
        let _ = run("ROLLBACK TO write");
    });
    run("RELEASE write")?;
    value
}

/// Returns whether the run is a dry run.
fn add_to_run_totals(
    conn: &Connection,
    run: RunId,
    outcomes: &[FileOutcome],
) -> Result<bool, WriteError> {
    let count = |status| outcomes.iter().filter(|o| o.status == status).count() as u64;
    let bytes = outcomes.iter().map(|o| o.bytes).sum();
    let dry_run = conn
        .prepare_cached(
            "UPDATE runs SET \
                 transferred = transferred + ?2, \
                 failed = failed + ?3, \
                 skipped = skipped + ?4, \
                 deleted = deleted + ?5, \
                 rejected = rejected + ?6, \
                 bytes = bytes + ?7 \
             WHERE id = ?1 RETURNING dry_run",
        )?
        .query_row(
            params![
                run.0,
                Unsigned(count(FileStatus::Transferred)),
                Unsigned(count(FileStatus::Failed)),
                Unsigned(count(FileStatus::Skipped)),
                Unsigned(count(FileStatus::Deleted)),
                Unsigned(count(FileStatus::Rejected)),
                Unsigned(bytes),
            ],
            |row| row.get(0),
        )
        .optional()?;
    dry_run.ok_or(WriteError::UnknownRun(run))
}

fn append_outcome(conn: &Connection, run: RunId, outcome: &FileOutcome) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outcomes (run, path, status, operation, bytes, size, mtime_ns, \
             category, retry, message, advice, at_ns) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        run.0,
        outcome.path,
        outcome.status,
        outcome.operation,
        Unsigned(outcome.bytes),
        Unsigned(outcome.size),
        outcome.mtime_ns,
        outcome.category,
        outcome.retry,
        outcome.message,
        outcome.advice,
        Nanos(outcome.at),
    ])?;
    Ok(())
}

fn remember_path(
    conn: &Connection,
    run: RunId,
    sync: &str,
    outcome: &FileOutcome,
) -> rusqlite::Result<()> {
    match outcome.status {
        FileStatus::Transferred => {
            upsert_path_state(conn, run, sync, outcome)?;
            // Its upload is in place: no temporary file of it is left to find.
            forget_partial(conn, sync, &outcome.path)
        }
        FileStatus::Failed | FileStatus::Rejected => upsert_path_state(conn, run, sync, outcome),
        FileStatus::Deleted => forget_path(conn, sync, &outcome.path),
        FileStatus::Skipped => Ok(()),
    }
}

/// Forget the upload in progress for `path`.
pub(super) fn forget_partial(conn: &Connection, sync: &str, path: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM partials WHERE sync = ?1 AND path = ?2")?
        .execute([sync, path])?;
    Ok(())
}

/// A success resets the failure memory; a failure counts one more attempt and keeps why.
fn upsert_path_state(
    conn: &Connection,
    run: RunId,
    sync: &str,
    outcome: &FileOutcome,
) -> rusqlite::Result<()> {
    let failure = outcome.status.is_failure().then_some(outcome);
    conn.prepare_cached(
        "INSERT INTO path_states (sync, path, size, mtime_ns, last_status, attempts, \
             last_category, last_retry, last_message, last_run, last_operation) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (sync, path) DO UPDATE SET \
             size = excluded.size, \
             mtime_ns = excluded.mtime_ns, \
             last_status = excluded.last_status, \
             attempts = CASE WHEN excluded.attempts = 0 THEN 0 \
                             ELSE path_states.attempts + 1 END, \
             last_category = excluded.last_category, \
             last_retry = excluded.last_retry, \
             last_message = excluded.last_message, \
             last_run = excluded.last_run, \
             last_operation = excluded.last_operation, \
             dest_size = NULL, \
             dest_mtime_ns = NULL",
    )?
    .execute(params![
        sync,
        outcome.path,
        Unsigned(outcome.size),
        outcome.mtime_ns,
        outcome.status,
        u32::from(failure.is_some()),
        failure.and_then(|failed| failed.category),
        failure.and_then(|failed| failed.retry),
        failure.and_then(|failed| failed.message.as_deref()),
        run.0,
        failure.map(|failed| failed.operation),
    ])?;
    Ok(())
}

fn forget_path(conn: &Connection, sync: &str, path: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM path_states WHERE sync = ?1 AND path = ?2")?
        .execute([sync, path])?;
    Ok(())
}

/// Marks `sync`'s runs recorded as running interrupted.
fn interrupt_running(conn: &Connection, sync: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET status = ?2 WHERE sync = ?1 AND status = ?3",
        params![sync, RunStatus::Interrupted, RunStatus::Running],
    )?;
    Ok(())
}
