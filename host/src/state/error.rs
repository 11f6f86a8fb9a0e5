use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Every message names the database (or its directory) and what the store was doing.
/// The underlying error is part of the message, since ferry prints errors without
/// walking their source chain.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create the state directory {dir}: {error}")]
    CreateDir {
        dir: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error(
        "the state database {db} stayed locked while {doing}: another ferry is probably \
         running on this state directory; wait for it to finish, or give each ferry its \
         own [state] dir ({error})"
    )]
    Locked {
        db: PathBuf,
        doing: &'static str,
        error: rusqlite::Error,
    },

    #[error(
        "{db} is not a ferry state database (found while {doing}: {error}); {}",
        remedy(.db)
    )]
    NotADatabase {
        db: PathBuf,
        doing: &'static str,
        #[source]
        error: rusqlite::Error,
    },

    #[error("the state database {db} is damaged (found while {doing}: {error}); {}", remedy(.db))]
    Damaged {
        db: PathBuf,
        doing: &'static str,
        #[source]
        error: rusqlite::Error,
    },

    #[error(
        "the state database {db} is empty, but this state directory was in use (it has \
         {marker}): the file was truncated; {}",
        remedy(.db)
    )]
    Emptied { db: PathBuf, marker: PathBuf },

    #[error(
        "another run of sync {sync} is in progress: {holder} (it holds {lock}); wait for it \
         to finish. The lock is released when that process ends, even if it is killed"
    )]
    RunInProgress {
        sync: String,
        holder: String,
        lock: PathBuf,
    },

    #[error("cannot {doing} {path}: {error}")]
    File {
        path: PathBuf,
        doing: &'static str,
        #[source]
        error: io::Error,
    },

    #[error("cannot use the run lock {lock}: {error}")]
    LockFile {
        lock: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error(
        "the state database {db} has schema version {found}, which this ferry (schema \
         {supported}) does not know: was it written by a newer ferry? Use that one, or \
         another [state] dir"
    )]
    UnsupportedSchema {
        db: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("the state database {db} has no run {run} ({doing})")]
    UnknownRun {
        db: PathBuf,
        run: i64,
        doing: &'static str,
    },

    #[error("the state database {db} failed while {doing}: {error}")]
    Sqlite {
        db: PathBuf,
        doing: &'static str,
        error: rusqlite::Error,
    },
}

impl StateError {
    /// Sorts an SQLite error into the cases a user can act on.
    pub(super) fn from_sqlite(db: &Path, doing: &'static str, error: rusqlite::Error) -> Self {
        let db = db.to_path_buf();
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StateError::Locked { db, doing, error }
            }
            Some(ErrorCode::NotADatabase) => StateError::NotADatabase { db, doing, error },
            Some(ErrorCode::DatabaseCorrupt) => StateError::Damaged { db, doing, error },
            _ => StateError::Sqlite { db, doing, error },
        }
    }
}

/// What to do about a damaged database, and what starting over costs.
fn remedy(db: &Path) -> String {
    format!(
        "run `ferry state check` to see what is damaged and `ferry state repair` to keep what \
         can be read, or move {} aside to start over, which forgets every remembered failure, \
         sanitized name, partial upload and the run history",
        db.display()
    )
}
