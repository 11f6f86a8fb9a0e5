//! The database schema, versioned by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

/// `MIGRATIONS[n]` takes a database from version n to n + 1. Append, never edit.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        sync        TEXT    NOT NULL,
        started_ns  INTEGER NOT NULL,
        finished_ns INTEGER,
        status      TEXT    NOT NULL,
        dry_run     INTEGER NOT NULL,
        transferred INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0,
        deleted     INTEGER NOT NULL DEFAULT 0,
        rejected    INTEGER NOT NULL DEFAULT 0,
        bytes       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_sync ON runs (sync, id);

    CREATE TABLE outcomes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        run       INTEGER NOT NULL REFERENCES runs (id),
        path      TEXT    NOT NULL,
        status    TEXT    NOT NULL,
        operation TEXT    NOT NULL,
        bytes     INTEGER NOT NULL,
        size      INTEGER NOT NULL,
        mtime_ns  INTEGER,
        category  TEXT,
        retry     TEXT,
        message   TEXT,
        advice    TEXT,
        at_ns     INTEGER NOT NULL
    );
    CREATE INDEX outcomes_by_run ON outcomes (run, seq);

    CREATE TABLE path_states (
        sync          TEXT    NOT NULL,
        path          TEXT    NOT NULL,
        size          INTEGER NOT NULL,
        mtime_ns      INTEGER,
        last_status   TEXT    NOT NULL,
        attempts      INTEGER NOT NULL,
        last_category TEXT,
        last_retry    TEXT,
        last_message  TEXT,
        last_run      INTEGER NOT NULL REFERENCES runs (id),
        PRIMARY KEY (sync, path)
    ) WITHOUT ROWID;
",
    "
    CREATE TABLE renames (
        source_remote      TEXT NOT NULL,
        destination_remote TEXT NOT NULL,
        source_path        TEXT NOT NULL,
        destination_path   TEXT NOT NULL,
        PRIMARY KEY (source_remote, destination_remote, source_path)
    ) WITHOUT ROWID;

    CREATE TABLE partials (
        sync      TEXT    NOT NULL,
        path      TEXT    NOT NULL,
        temp_path TEXT    NOT NULL,
        size      INTEGER NOT NULL,
        mtime_ns  INTEGER,
        PRIMARY KEY (sync, path)
    ) WITHOUT ROWID;
",
    // What the destination held right after a delivery whose time it did not keep, and
    // the step a failure was in (a refused delete is not a refused upload).
    "
    ALTER TABLE path_states ADD COLUMN dest_size INTEGER;
    ALTER TABLE path_states ADD COLUMN dest_mtime_ns INTEGER;
    ALTER TABLE path_states ADD COLUMN last_operation TEXT;
",
    // An upload staged in parts (S3, Azure): the store's upload id and the parts it keeps,
    // as JSON, so that a later run continues it.
    "
    ALTER TABLE partials ADD COLUMN staged TEXT;
",
    // Why a run was skipped or stopped (`ferry serve`), and the syncs paused by a person.
    "
    ALTER TABLE runs ADD COLUMN note TEXT;
    CREATE TABLE paused_syncs (sync TEXT PRIMARY KEY) WITHOUT ROWID;
",
];

pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) enum Migrated {
    Current,
    /// The database has a version this ferry does not know (a newer ferry wrote it).
    Unsupported(i64),
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the schema up to `SCHEMA_VERSION`, in one transaction so that two ferries
/// opening a new database at once cannot both create it.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<Migrated> {
    // Checked first without the write lock, so that opening an up-to-date database never
    // waits for another ferry's write.
    if user_version(conn)? == SCHEMA_VERSION {
        return Ok(Migrated::Current);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    let Some(applied) = usize::try_from(found)
        .ok()
        .filter(|&n| n <= MIGRATIONS.len())
    else {
        return Ok(Migrated::Unsupported(found));
    };
    for (from, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    tx.commit()?;
    Ok(Migrated::Current)
}
