use std::collections::HashSet;
use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tempfile::TempDir;

use super::*;
use crate::plugin::{Category, Retry};

const SYNC: &str = "nightly";

fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

/// An outcome as the executor would record it: failures carry why, successes don't.
fn outcome(path: &str, status: FileStatus) -> FileOutcome {
    let failure = |text: &str| status.is_failure().then(|| text.to_owned());
    let failed = status.is_failure();
    FileOutcome {
        path: path.to_owned(),
        status,
        operation: Step::Write,
        bytes: 100,
        size: 1_000,
        mtime_ns: Some(1_700_000_000_123_456_789),
        category: failed.then_some(Category::Quota),
        retry: failed.then_some(Retry::NextRun),
        message: failure("disk full"),
        advice: failure("free some space on the server"),
        at: at(1_700_000_100, 987_654_321),
    }
}

/// One outcome, as the recorder writes it (in a batch of one).
/// Records the plain outcome `status` for `path` in [`SYNC`].
fn record_status(store: &Store, run: RunId, path: &str, status: FileStatus) {
    record_one(store, run, SYNC, &outcome(path, status)).unwrap();
}

fn record_one(
    store: &Store,
    run: RunId,
    sync: &str,
    outcome: &FileOutcome,
) -> Result<(), StateError> {
    store.record_all(run, sync, std::slice::from_ref(outcome))
}

fn record_all(store: &Store, run: RunId, outcomes: &[FileOutcome]) {
    store.record_all(run, SYNC, outcomes).unwrap();
}

fn state_of(store: &Store, path: &str) -> Option<PathState> {
    store.path_states(SYNC).unwrap().remove(path)
}

#[test]
fn store_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

#[test]
fn statuses_round_trip_through_their_names() {
    let runs = [
        (RunStatus::Running, "running"),
        (RunStatus::Success, "success"),
        (RunStatus::PartialFailure, "partial_failure"),
        (RunStatus::Failure, "failure"),
        (RunStatus::NothingToDo, "nothing_to_do"),
        (RunStatus::Interrupted, "interrupted"),
        (RunStatus::Skipped, "skipped"),
    ];
    for (status, name) in runs {
        assert_eq!(status.as_str(), name);
        assert_eq!(RunStatus::parse(name), Some(status));
    }
    let files = [
        (FileStatus::Transferred, "transferred"),
        (FileStatus::Deleted, "deleted"),
        (FileStatus::Failed, "failed"),
        (FileStatus::Rejected, "rejected"),
        (FileStatus::Skipped, "skipped"),
    ];
    for (status, name) in files {
        assert_eq!(status.as_str(), name);
        assert_eq!(FileStatus::parse(name), Some(status));
    }
    assert_eq!(RunStatus::parse("Success"), None);
    assert_eq!(FileStatus::parse(""), None);
}

#[test]
fn run_record_round_trips() {
    let (_dir, store) = temp_store();
    let before = SystemTime::now();
    let run = store.start_run(SYNC, true).unwrap();
    let totals = Totals {
        transferred: 1,
        failed: 2,
        skipped: 3,
        deleted: 4,
        rejected: 5,
        bytes: 6_000_000_000,
    };
    store
        .finish_run(run, RunStatus::PartialFailure, &totals)
        .unwrap();
    let after = SystemTime::now();

    let record = store.run(run).unwrap().unwrap();
    assert_eq!(record.id, run);
    assert_eq!(record.sync, SYNC);
    assert_eq!(record.status, RunStatus::PartialFailure);
    assert_eq!(record.totals, totals);
    assert!(record.dry_run);
    let finished = record.finished.unwrap();
    assert!(before <= record.started && record.started <= finished && finished <= after);
    assert_eq!(store.run(RunId(run.0 + 1)).unwrap(), None);
}

#[test]
fn outcomes_round_trip_every_field_in_recording_order() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    let bare = FileOutcome {
        mtime_ns: None,
        at: UNIX_EPOCH - Duration::new(5, 7),
        ..outcome("b/bare.csv", FileStatus::Skipped)
    };
    let recorded = vec![
        outcome("z.csv", FileStatus::Failed),
        bare,
        outcome("a.csv", FileStatus::Transferred),
        outcome("r.csv", FileStatus::Rejected),
        outcome("d.csv", FileStatus::Deleted),
    ];
    record_all(&store, run, &recorded);
    assert_eq!(store.outcomes(run).unwrap(), recorded);
}

#[test]
fn path_state_round_trips() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Failed);
    let expected = PathState {
        size: 1_000,
        mtime_ns: Some(1_700_000_000_123_456_789),
        last_status: FileStatus::Failed,
        attempts: 1,
        last_category: Some(Category::Quota),
        last_retry: Some(Retry::NextRun),
        last_message: Some("disk full".to_owned()),
        last_run: run,
        last_operation: Some(Step::Write),
        delivered_as: None,
    };
    assert_eq!(state_of(&store, "a.csv"), Some(expected));
}

#[test]
fn transferred_sets_source_and_clears_failure_memory() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Failed);
    let success = FileOutcome {
        size: 2_000,
        mtime_ns: Some(42),
        // The executor normally sends none on success; the store clears them regardless.
        message: Some("resumed at 1000".to_owned()),
        ..outcome("a.csv", FileStatus::Transferred)
    };
    record_one(&store, run, SYNC, &success).unwrap();

    let state = state_of(&store, "a.csv").unwrap();
    assert_eq!((state.size, state.mtime_ns), (2_000, Some(42)));
    assert_eq!(state.last_status, FileStatus::Transferred);
    assert_eq!(state.attempts, 0);
    assert_eq!(state.last_category, None);
    assert_eq!(state.last_retry, None);
    assert_eq!(state.last_message, None);
}

#[test]
fn failures_and_rejections_count_attempts_across_runs() {
    let (_dir, store) = temp_store();
    for (attempt, status) in [FileStatus::Failed, FileStatus::Rejected, FileStatus::Failed]
        .into_iter()
        .enumerate()
    {
        let run = store.start_run(SYNC, false).unwrap();
        let failure = FileOutcome {
            size: 10 + attempt as u64,
            message: Some(format!("attempt {attempt}")),
            ..outcome("a.csv", status)
        };
        record_one(&store, run, SYNC, &failure).unwrap();
        store
            .finish_run(run, RunStatus::Failure, &Totals::default())
            .unwrap();

        let state = state_of(&store, "a.csv").unwrap();
        assert_eq!(state.attempts, attempt as u32 + 1);
        assert_eq!(state.last_status, status);
        assert_eq!(state.size, 10 + attempt as u64);
        assert_eq!(state.last_message, failure.message);
        assert_eq!(state.last_run, run);
    }
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    assert_eq!(state_of(&store, "a.csv").unwrap().attempts, 0);
    record_status(&store, run, "a.csv", FileStatus::Failed);
    assert_eq!(state_of(&store, "a.csv").unwrap().attempts, 1);
}

#[test]
fn deleted_removes_the_path_state() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    record_status(&store, run, "a.csv", FileStatus::Deleted);
    assert_eq!(state_of(&store, "a.csv"), None);
    assert_eq!(store.outcomes(run).unwrap().len(), 2);
}

#[test]
fn skipped_only_logs() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Failed);
    let before = state_of(&store, "a.csv");
    record_status(&store, run, "a.csv", FileStatus::Skipped);
    record_status(&store, run, "new.csv", FileStatus::Skipped);
    assert_eq!(state_of(&store, "a.csv"), before);
    assert_eq!(state_of(&store, "new.csv"), None);
    assert_eq!(store.outcomes(run).unwrap().len(), 3);
}

#[test]
fn path_states_are_kept_per_sync() {
    let (_dir, store) = temp_store();
    let run = store.start_run("other", false).unwrap();
    record_one(
        &store,
        run,
        "other",
        &outcome("a.csv", FileStatus::Transferred),
    )
    .unwrap();
    assert!(store.path_states(SYNC).unwrap().is_empty());
    assert_eq!(store.path_states("other").unwrap().len(), 1);
}

#[test]
fn dry_run_logs_outcomes_but_changes_no_path_state() {
    let (_dir, store) = temp_store();
    let real = store.start_run(SYNC, false).unwrap();
    record_one(
        &store,
        real,
        SYNC,
        &outcome("kept.csv", FileStatus::Transferred),
    )
    .unwrap();
    let remembered = store.path_states(SYNC).unwrap();

    let dry = store.start_run(SYNC, true).unwrap();
    let would = [
        outcome("kept.csv", FileStatus::Deleted),
        outcome("new.csv", FileStatus::Transferred),
        outcome("bad.csv", FileStatus::Rejected),
    ];
    record_all(&store, dry, &would);
    assert_eq!(store.path_states(SYNC).unwrap(), remembered);
    assert_eq!(store.outcomes(dry).unwrap(), would);
}

#[test]
fn records_keep_running_totals() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    let statuses = [
        FileStatus::Transferred,
        FileStatus::Transferred,
        FileStatus::Failed,
        FileStatus::Rejected,
        FileStatus::Skipped,
        FileStatus::Deleted,
    ];
    for (index, status) in statuses.into_iter().enumerate() {
        record_status(&store, run, &format!("{index}.csv"), status);
    }
    let expected = Totals {
        transferred: 2,
        failed: 1,
        skipped: 1,
        deleted: 1,
        rejected: 1,
        bytes: 600,
    };
    assert_eq!(store.run(run).unwrap().unwrap().totals, expected);
}

#[test]
fn a_batch_commits_together_and_undoes_a_failed_write_alone() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    let unstorable = FileOutcome {
        size: u64::MAX,
        ..outcome("b.csv", FileStatus::Transferred)
    };

    let results = store
        .batch(|store| {
            [
                record_one(store, run, SYNC, &outcome("a.csv", FileStatus::Transferred)),
                record_one(store, run, SYNC, &unstorable),
                store.record_all(run, SYNC, &[outcome("c.csv", FileStatus::Failed)]),
            ]
            .map(|result| result.is_ok())
        })
        .unwrap();

    assert_eq!(results, [true, false, true]);
    let paths: Vec<String> = store
        .outcomes(run)
        .unwrap()
        .into_iter()
        .map(|o| o.path)
        .collect();
    assert_eq!(paths, ["a.csv", "c.csv"]);
    assert!(state_of(&store, "b.csv").is_none());
    let totals = store.run(run).unwrap().unwrap().totals;
    assert_eq!((totals.transferred, totals.failed), (1, 1));
}

/// The status the store holds for `run`, as written (not as read through the lock).
fn stored_status(dir: &Path, run: RunId) -> String {
    Connection::open(dir.join("ferry.db"))
        .unwrap()
        .query_row("SELECT status FROM runs WHERE id = ?1", [run.0], |row| {
            row.get(0)
        })
        .unwrap()
}

#[test]
fn crash_keeps_outcomes_and_reads_as_interrupted_once_its_lock_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = [
        outcome("a.csv", FileStatus::Transferred),
        outcome("b.csv", FileStatus::Failed),
        outcome("c.csv", FileStatus::Transferred),
    ];
    let lock = RunLock::acquire(dir.path(), SYNC).unwrap();
    let crashed = {
        let store = Store::open(dir.path()).unwrap();
        let run = store.start_run(SYNC, false).unwrap();
        record_all(&store, run, &recorded);
        run
    };

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outcomes(crashed).unwrap(), recorded);
    let states = store.path_states(SYNC).unwrap();
    assert_eq!(states.len(), 3);
    assert_eq!(states["b.csv"].attempts, 1);
    let status = |run| store.run(run).unwrap().unwrap().status;
    assert_eq!(status(crashed), RunStatus::Running, "its lock is held");

    drop(lock); // as the OS does when the process dies
    assert_eq!(status(crashed), RunStatus::Interrupted);
    assert_eq!(
        store.latest_run(Some(SYNC)).unwrap().unwrap().status,
        RunStatus::Interrupted
    );
    assert_eq!(stored_status(dir.path(), crashed), "running");

    let _other_lock = RunLock::acquire(dir.path(), "other").unwrap();
    let other_sync = store.start_run("other", false).unwrap();
    assert_eq!(stored_status(dir.path(), crashed), "running");
    let _next_lock = RunLock::acquire(dir.path(), SYNC).unwrap();
    let next = store.start_run(SYNC, false).unwrap();
    assert_eq!(stored_status(dir.path(), crashed), "interrupted");
    let interrupted = store.run(crashed).unwrap().unwrap();
    assert_eq!(interrupted.finished, None);
    assert_eq!(interrupted.totals.transferred, 2);
    assert_eq!(interrupted.totals.failed, 1);
    assert_eq!(interrupted.totals.bytes, 300);
    assert_eq!(status(other_sync), RunStatus::Running);
    assert_eq!(status(next), RunStatus::Running);
}

#[test]
fn a_second_run_of_a_sync_is_refused_and_told_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let held = RunLock::acquire(dir.path(), "a/b c").unwrap();
    let error = RunLock::acquire(dir.path(), "a/b c").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StateError::RunInProgress { .. }),
        "{error:?}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(message.contains("a%2Fb%20c.lock"), "{message}");
    assert!(
        RunLock::acquire(dir.path(), "a").is_ok(),
        "another sync runs"
    );
    drop(held);
    assert!(RunLock::acquire(dir.path(), "a/b c").is_ok());
}

#[test]
fn clear_failures_of_one_path() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_all(
        &store,
        run,
        &[
            outcome("a.csv", FileStatus::Failed),
            outcome("b.csv", FileStatus::Rejected),
            outcome("ok.csv", FileStatus::Transferred),
        ],
    );
    assert_eq!(store.clear_failures(SYNC, Some("a.csv")).unwrap(), 1);
    assert_eq!(store.clear_failures(SYNC, Some("ok.csv")).unwrap(), 0);
    assert_eq!(store.clear_failures(SYNC, Some("missing.csv")).unwrap(), 0);
    let remaining: HashSet<String> = store.path_states(SYNC).unwrap().into_keys().collect();
    assert_eq!(
        remaining,
        HashSet::from(["b.csv".to_owned(), "ok.csv".to_owned()])
    );
}

#[test]
fn clear_failures_of_a_whole_sync() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_all(
        &store,
        run,
        &[
            outcome("a.csv", FileStatus::Failed),
            outcome("b.csv", FileStatus::Rejected),
            outcome("ok.csv", FileStatus::Transferred),
        ],
    );
    let other = store.start_run("other", false).unwrap();
    record_one(
        &store,
        other,
        "other",
        &outcome("a.csv", FileStatus::Failed),
    )
    .unwrap();

    assert_eq!(store.clear_failures(SYNC, None).unwrap(), 2);
    let remaining: Vec<String> = store.path_states(SYNC).unwrap().into_keys().collect();
    assert_eq!(remaining, ["ok.csv"]);
    assert_eq!(store.path_states("other").unwrap().len(), 1);
}

#[test]
fn recent_runs_are_newest_first_and_filtered_by_sync() {
    let (_dir, store) = temp_store();
    assert_eq!(store.latest_run(None).unwrap(), None);
    let a1 = store.start_run("a", false).unwrap();
    let b1 = store.start_run("b", false).unwrap();
    let a2 = store.start_run("a", false).unwrap();
    let b2 = store.start_run("b", false).unwrap();

    let ids = |runs: Vec<RunRecord>| runs.into_iter().map(|run| run.id).collect::<Vec<_>>();
    assert_eq!(ids(store.recent_runs(None, 10).unwrap()), [b2, a2, b1, a1]);
    assert_eq!(ids(store.recent_runs(None, 3).unwrap()), [b2, a2, b1]);
    assert_eq!(ids(store.recent_runs(Some("a"), 10).unwrap()), [a2, a1]);
    assert_eq!(ids(store.recent_runs(Some("c"), 10).unwrap()), []);
    assert_eq!(ids(store.recent_runs(None, 0).unwrap()), []);
    assert_eq!(ids(store.recent_runs(None, usize::MAX).unwrap()).len(), 4);
    assert_eq!(store.latest_run(Some("a")).unwrap().unwrap().id, a2);
    assert_eq!(store.latest_run(None).unwrap().unwrap().id, b2);
}

#[test]
fn unknown_run_is_refused_and_named() {
    let (dir, store) = temp_store();
    let missing = RunId(7);
    let error = record_one(
        &store,
        missing,
        SYNC,
        &outcome("a.csv", FileStatus::Transferred),
    )
    .unwrap_err();
    assert!(
        matches!(error, StateError::UnknownRun { run: 7, .. }),
        "{error:?}"
    );
    assert!(store.path_states(SYNC).unwrap().is_empty());
    assert!(store.outcomes(missing).unwrap().is_empty());

    let error = store
        .finish_run(missing, RunStatus::Success, &Totals::default())
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("no run 7"), "{message}");
    assert!(message.contains(&dir.path().join("ferry.db").display().to_string()));
}

#[test]
fn unstorable_values_are_refused_and_nothing_is_written() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    let too_large = FileOutcome {
        size: u64::MAX,
        ..outcome("a.csv", FileStatus::Transferred)
    };
    let too_late = FileOutcome {
        at: UNIX_EPOCH + Duration::from_secs(400 * 366 * 24 * 3600),
        ..outcome("a.csv", FileStatus::Transferred)
    };
    for unstorable in [too_large, too_late] {
        let error = record_one(&store, run, SYNC, &unstorable).unwrap_err();
        assert!(matches!(error, StateError::Sqlite { .. }), "{error:?}");
        assert!(error.to_string().contains("recording file outcomes"));
    }
    assert!(store.outcomes(run).unwrap().is_empty());
    assert!(store.path_states(SYNC).unwrap().is_empty());
    assert_eq!(store.run(run).unwrap().unwrap().totals, Totals::default());
}

#[test]
fn not_a_database_is_explained_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ferry.db");
    fs::write(&db, "these are my notes, not a database\n".repeat(100)).unwrap();
    let Err(error) = Store::open(dir.path()) else {
        panic!("opened a text file as a database");
    };
    assert!(
        matches!(error, StateError::NotADatabase { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&db.display().to_string()), "{message}");
    assert!(message.contains("not a ferry state database"), "{message}");
}

#[test]
fn unusable_state_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let Err(error) = Store::open(&file.join("state")) else {
        panic!("created a state dir inside a file");
    };
    assert!(matches!(error, StateError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains(&file.display().to_string()));
}

#[test]
fn database_from_a_newer_ferry_is_refused() {
    let (dir, store) = temp_store();
    drop(store);
    let conn = Connection::open(dir.path().join("ferry.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let Err(error) = Store::open(dir.path()) else {
        panic!("opened a database of schema version 99");
    };
    assert!(
        matches!(error, StateError::UnsupportedSchema { found: 99, .. }),
        "{error:?}"
    );
}

#[test]
fn reopening_keeps_the_schema_and_data() {
    let (dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    store
        .finish_run(run, RunStatus::NothingToDo, &Totals::default())
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.latest_run(None).unwrap().unwrap().status,
        RunStatus::NothingToDo
    );
}

#[test]
fn locked_database_points_at_another_ferry() {
    let (dir, _store) = temp_store();
    let blocker = Connection::open(dir.path().join("ferry.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let waiting = Store::open_with_busy_timeout(dir.path(), Duration::from_millis(50)).unwrap();
    let error = waiting.start_run(SYNC, false).unwrap_err();
    assert!(matches!(error, StateError::Locked { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("ferry.db") && message.contains("another ferry"),
        "{message}"
    );
    assert!(message.contains("starting a run"), "{message}");
}

const WRITER_DIR_ENV: &str = "FERRY_STATE_TEST_WRITER_DIR";
const DONE: &str = "recorded ";
const KILLED_SYNC: &str = "killed";

/// The child's side of the SIGKILL test: records outcomes and reports each one once
/// `record` has returned, until it is killed (or gives up after many).
fn write_until_killed(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let run = store.start_run(KILLED_SYNC, false).unwrap();
    for index in 0..100_000 {
        let path = format!("file-{index}");
        let status = match index % 3 {
            0 => FileStatus::Failed,
            _ => FileStatus::Transferred,
        };
        record_one(&store, run, KILLED_SYNC, &outcome(&path, status)).unwrap();
        println!("{DONE}{path}");
    }
}

#[cfg(unix)]
#[test]
fn sigkill_mid_run_loses_no_reported_record() {
    use std::os::unix::process::ExitStatusExt;

    const REPORTS_BEFORE_KILL: usize = 300;
    if let Some(dir) = env::var_os(WRITER_DIR_ENV) {
        write_until_killed(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_crate, module) = module_path!().split_once("::").unwrap();
    let this_test = format!("{module}::sigkill_mid_run_loses_no_reported_record");
    let mut child = Command::new(env::current_exe().unwrap())
        .args([
            this_test.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reported_paths = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.strip_prefix(DONE).map(str::to_owned));
    let mut reported: Vec<String> = reported_paths.by_ref().take(REPORTS_BEFORE_KILL).collect();
    assert_eq!(
        reported.len(),
        REPORTS_BEFORE_KILL,
        "the writer ended early"
    );
    child.kill().unwrap();
    reported.extend(reported_paths);
    assert_eq!(
        child.wait().unwrap().signal(),
        Some(9),
        "the writer was not killed"
    );

    let store = Store::open(dir.path()).unwrap();
    let run = store.latest_run(Some(KILLED_SYNC)).unwrap().unwrap();
    let outcomes = store.outcomes(run.id).unwrap();
    let logged: HashSet<&str> = outcomes.iter().map(|done| done.path.as_str()).collect();
    let states = store.path_states(KILLED_SYNC).unwrap();
    for path in &reported {
        assert!(
            logged.contains(path.as_str()),
            "{path} was reported but not logged"
        );
        assert!(
            states.contains_key(path),
            "{path} was reported but has no state"
        );
    }
    // Each record is all or nothing: the log, the totals and the states agree.
    let totals = run.totals;
    assert_eq!(totals.transferred + totals.failed, outcomes.len() as u64);
    assert_eq!(states.len(), outcomes.len());
}

#[test]
fn renames_are_kept_per_pair_of_remotes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .set_rename("outbox", "partner", "a?.csv", "a_.csv")
        .unwrap();
    store
        .set_rename("outbox", "other", "a?.csv", "a%3F.csv")
        .unwrap();
    let renames = store.renames("outbox", "partner").unwrap();
    assert_eq!(renames.get("a?.csv").map(String::as_str), Some("a_.csv"));
    assert_eq!(renames.len(), 1);
    store.forget_rename("outbox", "partner", "a?.csv").unwrap();
    assert!(store.renames("outbox", "partner").unwrap().is_empty());
    assert_eq!(store.renames("outbox", "other").unwrap().len(), 1);
}

#[test]
fn a_partial_upload_is_remembered_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let partial = super::Partial {
        temp_path: "big.bin.partial".into(),
        size: 200 << 20,
        mtime_ns: Some(42),
        staged: Some(crate::remote::StagedUpload {
            id: "upload-1".into(),
            part_size: 8 << 20,
            parts: vec![crate::remote::StagedPart {
                tag: "\"etag\"".into(),
                sha256: "ab".repeat(32),
            }],
        }),
    };
    store.set_partial("push", "big.bin", &partial).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.partial("push", "big.bin").unwrap(), Some(partial));
    store.clear_partial("push", "big.bin").unwrap();
    assert_eq!(store.partial("push", "big.bin").unwrap(), None);
}

const PAGE: usize = 4096;

/// A store in `dir` with one finished run that logged `count` skipped files
/// (`skipped-0000`, …: in the log only) and one failed file with a remembered state.
fn store_with_log(dir: &Path, count: usize) -> RunId {
    let store = Store::open(dir).unwrap();
    let run = store.start_run(SYNC, false).unwrap();
    let mut outcomes: Vec<FileOutcome> = (0..count)
        .map(|i| outcome(&format!("skipped-{i:04}"), FileStatus::Skipped))
        .collect();
    outcomes.push(outcome("failed.csv", FileStatus::Failed));
    record_all(&store, run, &outcomes);
    store
        .finish_run(run, RunStatus::PartialFailure, &Totals::default())
        .unwrap();
    run
}

/// Overwrites the b-tree header of the database page that holds `needle`.
fn damage_page_holding(db: &Path, needle: &str) {
    let mut bytes = fs::read(db).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} is not in {}", db.display()));
    let page = at / PAGE * PAGE;
    assert!(page > 0, "the first page holds the schema");
    bytes[page..page + 12].fill(0xEE);
    fs::write(db, bytes).unwrap();
}

#[test]
fn a_damaged_page_is_named_with_the_remedy_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = store_with_log(dir.path(), 600);
    let db = dir.path().join("ferry.db");
    damage_page_holding(&db, "skipped-0300");
    let store = Store::open(dir.path()).unwrap();
    let error = store.outcomes(run).unwrap_err();
    assert!(matches!(error, StateError::Damaged { .. }), "{error:?}");
    let message = error.to_string();
    for expected in [
        db.display().to_string(),
        "ferry state check".into(),
        "ferry state repair".into(),
        "remembered failure".into(),
    ] {
        assert!(message.contains(&expected), "{expected} in {message}");
    }
    let Health::Damaged(problems) = check(dir.path()).unwrap() else {
        panic!("the check found nothing");
    };
    assert!(!problems.is_empty());
}

#[test]
fn repair_keeps_the_rows_on_both_sides_of_a_damaged_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = store_with_log(dir.path(), 600);
    damage_page_holding(&dir.path().join("ferry.db"), "skipped-0300");

    let repair = repair(dir.path()).unwrap();
    assert!(repair.moved_to.exists());
    assert_eq!(check(dir.path()).unwrap(), Health::Ok);
    let kept = |table| {
        repair
            .tables
            .iter()
            .find(|t| t.table == table)
            .unwrap_or_else(|| panic!("no {table}"))
    };
    assert_eq!((kept("runs").kept, kept("path_states").kept), (1, 1));
    let outcomes = kept("outcomes");
    let lost = outcomes.lost.as_ref().expect("outcomes were lost");
    assert!(lost.after.is_some() && lost.before.is_some(), "{lost:?}");
    assert!(outcomes.kept > 400 && outcomes.kept < 601, "{outcomes:?}");

    let store = Store::open(dir.path()).unwrap();
    let logged: Vec<String> = store
        .outcomes(run)
        .unwrap()
        .into_iter()
        .map(|o| o.path)
        .collect();
    assert_eq!(logged.len() as u64, outcomes.kept);
    assert!(logged.contains(&"skipped-0000".to_string()));
    assert!(
        logged.contains(&"failed.csv".to_string()),
        "after the damage"
    );
    assert!(!logged.contains(&"skipped-0300".to_string()));
    assert_eq!(state_of(&store, "failed.csv").unwrap().attempts, 1);
    let _lock = RunLock::acquire(dir.path(), SYNC).unwrap();
    assert!(
        store.start_run(SYNC, false).unwrap() > run,
        "run ids are not reused"
    );
}

#[test]
fn a_truncated_database_of_a_used_dir_is_refused_not_reset() {
    let dir = tempfile::tempdir().unwrap();
    store_with_log(dir.path(), 1);
    let db = dir.path().join("ferry.db");
    fs::File::create(&db).unwrap(); // truncates it
    let Err(error) = Store::open(dir.path()) else {
        panic!("a truncated store opened as a new one");
    };
    assert!(matches!(error, StateError::Emptied { .. }), "{error:?}");
    assert!(error.to_string().contains("ferry state repair"), "{error}");
    assert!(matches!(check(dir.path()).unwrap(), Health::Damaged(_)));

    let fresh = tempfile::tempdir().unwrap();
    fs::File::create(fresh.path().join("ferry.db")).unwrap();
    assert!(
        Store::open(fresh.path()).is_ok(),
        "an empty file in a new dir is new"
    );
}

#[test]
fn a_finished_run_is_in_the_database_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ferry.db");
    let store = Store::open(dir.path()).unwrap();
    // A second connection keeps the log from being folded in when the store closes.
    let _reader = Connection::open(&db).unwrap();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    store
        .finish_run(run, RunStatus::Success, &Totals::default())
        .unwrap();
    assert_eq!(
        fs::metadata(dir.path().join("ferry.db-wal")).unwrap().len(),
        0
    );

    let copy = tempfile::tempdir().unwrap();
    fs::copy(&db, copy.path().join("ferry.db")).unwrap();
    let copied = Store::open(copy.path()).unwrap();
    assert_eq!(copied.run(run).unwrap().unwrap().status, RunStatus::Success);
    assert!(state_of(&copied, "a.csv").is_some());
}

#[test]
fn a_backup_holds_every_run_and_is_never_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let run = store_with_log(dir.path(), 3);
    let store = Store::open(dir.path()).unwrap();
    let copy = tempfile::tempdir().unwrap();
    let target = copy.path().join("ferry.db");
    store.back_up(&target).unwrap();
    let copied = Store::open(copy.path()).unwrap();
    assert_eq!(copied.outcomes(run).unwrap(), store.outcomes(run).unwrap());
    assert!(store.back_up(&target).is_err(), "the copy was written over");
}

#[test]
fn a_delivery_without_its_time_is_remembered_until_the_next_outcome_and_always_read() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    let standing = DestinationVersion {
        size: 1_000,
        mtime_ns: Some(42_000_000_000),
    };
    store.set_delivered_as(SYNC, "a.csv", standing).unwrap();
    assert_eq!(
        state_of(&store, "a.csv").unwrap().delivered_as,
        Some(standing)
    );
    let needed = store.failed_or_untimed_path_states(SYNC).unwrap();
    assert!(
        needed.contains_key("a.csv"),
        "read even though it did not fail"
    );
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    assert_eq!(state_of(&store, "a.csv").unwrap().delivered_as, None);
    assert!(
        store
            .failed_or_untimed_path_states(SYNC)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn recording_a_transfer_forgets_its_upload_in_progress_and_a_failure_keeps_it() {
    let (_dir, store) = temp_store();
    let run = store.start_run(SYNC, false).unwrap();
    let partial = super::Partial {
        temp_path: "a.csv.partial".into(),
        size: 1_000,
        mtime_ns: Some(1),
        staged: None,
    };
    store.set_partial(SYNC, "a.csv", &partial).unwrap();
    record_status(&store, run, "a.csv", FileStatus::Failed);
    assert_eq!(store.partial(SYNC, "a.csv").unwrap(), Some(partial));
    record_status(&store, run, "a.csv", FileStatus::Transferred);
    assert_eq!(store.partial(SYNC, "a.csv").unwrap(), None);
}
