//! Checking, repairing and backing up the state database (`ferry state check|repair|backup`).
//!
//! A full check reads every page: about 0.12 s for a store of 100,000 paths and 300,000
//! outcomes (35 MB), a tenth of a no-op run over as many files. So a run does not do it;
//! it reads the schema when it opens the store, and any damage found later is reported as
//! such, with the file and these commands.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params_from_iter};
use serde::Serialize;

use super::error::StateError;
use super::store::{DATABASE_FILE, Store, refuse_truncated};
use super::time::compact_utc;

/// What `ferry state check` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    /// No database yet: nothing has been recorded.
    Missing,
    Ok,
    /// What is damaged, as SQLite says it.
    Damaged(Vec<String>),
}

/// The most problems a check lists: enough to see what is damaged.
const MAX_PROBLEMS: usize = 20;

/// The tables a repair copies, their key columns, and what losing their rows means.
const TABLES: [(&str, &str, &str); 5] = [
    ("runs", "id", "run history"),
    ("outcomes", "seq", "per-file logs of past runs"),
    (
        "path_states",
        "sync, path",
        "remembered failures and sent files: those files are tried or sent again",
    ),
    (
        "renames",
        "source_remote, destination_remote, source_path",
        "sanitized names: those files may be sent again",
    ),
    ("partials", "sync, path", "partial uploads: they start over"),
];

/// What a repair kept of one table.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct TableRepair {
    pub table: &'static str,
    /// The columns rows are ordered by, which [`Unreadable`] names rows by.
    pub keys: &'static str,
    /// What losing rows of this table means.
    pub meaning: &'static str,
    pub kept: u64,
    /// Rows read but not usable (they broke the table's constraints).
    pub refused: u64,
    /// Why reading stopped before the end, with the last key read from each side.
    pub lost: Option<Unreadable>,
}

/// A stretch of a table that could not be read: the rows after `after` and before
/// `before` (`None`: from the start, to the end) are lost.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub after: Option<String>,
    pub before: Option<String>,
    pub error: String,
}

/// What `ferry state repair` did.
#[derive(Debug, Serialize)]
pub struct Repair {
    pub moved_to: PathBuf,
    pub tables: Vec<TableRepair>,
}

/// The state database of the state directory `dir`.
pub fn database(dir: &Path) -> PathBuf {
    dir.join(DATABASE_FILE)
}

/// `PRAGMA integrity_check` on the database of `dir`, without changing it.
pub fn check(dir: &Path) -> Result<Health, StateError> {
    let db = database(dir);
    if !db.exists() {
        return Ok(Health::Missing);
    }
    if let Err(emptied) = refuse_truncated(dir, &db) {
        return Ok(Health::Damaged(vec![emptied.to_string()]));
    }
    let conn =
        open_existing(&db).map_err(|error| StateError::from_sqlite(&db, "opening it", error))?;
    match integrity(&conn) {
        Ok(found) if found == ["ok"] => Ok(Health::Ok),
        Ok(found) => Ok(Health::Damaged(found)),
        Err(error) => match StateError::from_sqlite(&db, "checking it", error) {
            StateError::Damaged { error, .. } | StateError::NotADatabase { error, .. } => {
                Ok(Health::Damaged(vec![error.to_string()]))
            }
            other => Err(other),
        },
    }
}

/// A connection to the database `db`, which is not created when missing and whose schema
/// is left as it is.
fn open_existing(db: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

fn integrity(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare(&format!("PRAGMA integrity_check({MAX_PROBLEMS})"))?
        .query_map([], |row| row.get(0))?
        .collect()
}

impl Store {
    /// A consistent copy of the whole store in `target`, which must not exist yet.
    pub fn back_up(&self, target: &Path) -> Result<(), StateError> {
        self.read("backing it up", |conn| {
            conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])
                .map(drop)
        })
    }
}

/// Moves the database of `dir` aside (as `ferry.db.damaged-TIME`, its log and index
/// with it) and copies every row that can still be read into a new one.
pub fn repair(dir: &Path) -> Result<Repair, StateError> {
    let moved_to = move_aside(dir)?;
    let store = Store::open(dir)?;
    let tables = store.read("recovering rows", |conn| recover(conn, &moved_to))?;
    Ok(Repair { moved_to, tables })
}

fn move_aside(dir: &Path) -> Result<PathBuf, StateError> {
    let db = database(dir);
    let aside = dir.join(format!(
        "{DATABASE_FILE}.damaged-{}",
        compact_utc(SystemTime::now())
    ));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
        // The log and its index need not exist; the database must.
        if let Err(error) = fs::rename(&from, &to)
            && (suffix.is_empty() || from.exists())
        {
            return Err(StateError::File {
                path: from,
                doing: "move aside",
                error,
            });
        }
    }
    Ok(aside)
}

/// Copies what can be read of every table of `damaged` into the (new, empty) store
/// `conn`, in one transaction. The damaged file has a connection of its own: damage
/// found there must not touch the new store's. Foreign keys are not enforced meanwhile:
/// a path's remembered failure is worth keeping even when the run that recorded it is lost.
fn recover(conn: &Connection, damaged: &Path) -> rusqlite::Result<Vec<TableRepair>> {
    let source = open_existing(damaged);
    conn.pragma_update(None, "foreign_keys", false)?;
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut tables = Vec::new();
    for (table, keys, meaning) in TABLES {
        let mut repair = TableRepair {
            table,
            keys,
            meaning,
            kept: 0,
            refused: 0,
            lost: None,
        };
        match &source {
            Ok(source) => copy_table(source, &tx, &mut repair)?,
            Err(error) => {
                repair.lost = Some(Unreadable {
                    after: None,
                    before: None,
                    error: error.to_string(),
                });
            }
        }
        tables.push(repair);
    }
    keep_run_ids_unique(&tx)?;
    tx.commit()?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(tables)
}

/// Reads `table` forwards until the end or the first damage, then backwards from the
/// end down to where the forward pass stopped: only the rows between two damaged spots
/// are lost.
fn copy_table(
    source: &Connection,
    conn: &Connection,
    repair: &mut TableRepair,
) -> rusqlite::Result<()> {
    let keys = repair.keys;
    let columns = column_names(conn, repair.table)?;
    let key_at: Vec<usize> = keys
        .split(", ")
        .map(|key| {
            columns
                .iter()
                .position(|c| c == key)
                .expect("keys are columns")
        })
        .collect();
    let copy = TableCopy {
        source,
        conn,
        table: repair.table,
        columns: columns.join(", "),
        keys,
        key_at,
    };
    let forward = copy.pass(repair, "ASC", None)?;
    let Some(error) = forward.error else {
        return Ok(());
    };
    let backward = copy.pass(repair, "DESC", forward.last.as_deref())?;
    if backward.error.is_some() {
        repair.lost = Some(Unreadable {
            after: forward.last.as_deref().map(show),
            before: backward.last.as_deref().map(show),
            error,
        });
    }
    Ok(())
}

/// The columns of `table` in the new store, which a repair copies by name.
fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |row| row.get(0))?
        .collect()
}

/// One table's copy from the damaged database `source` to the new store `conn`.
struct TableCopy<'c> {
    source: &'c Connection,
    conn: &'c Connection,
    table: &'static str,
    columns: String,
    keys: &'static str,
    key_at: Vec<usize>,
}

/// How far one pass over a damaged table got.
struct Pass {
    /// The key of the last row read.
    last: Option<Vec<Value>>,
    /// Why it stopped before the end.
    error: Option<String>,
}

/// Why a pass stopped early: the damaged table could not be read further, or the new
/// store could not be written (which ends the repair).
enum Stop {
    Read(rusqlite::Error),
    Write(rusqlite::Error),
}

impl TableCopy<'_> {
    /// Copies rows in key order `order`, beyond `stop` (exclusive) when given, until
    /// the end or the first error reading the damaged table.
    fn pass(
        &self,
        repair: &mut TableRepair,
        order: &str,
        stop: Option<&[Value]>,
    ) -> rusqlite::Result<Pass> {
        let mut last = None;
        match self.copy_rows(repair, order, stop, &mut last) {
            Ok(()) => Ok(Pass { last, error: None }),
            Err(Stop::Read(error)) => Ok(Pass {
                last,
                error: Some(error.to_string()),
            }),
            Err(Stop::Write(error)) => Err(error),
        }
    }

    fn copy_rows(
        &self,
        repair: &mut TableRepair,
        order: &str,
        stop: Option<&[Value]>,
        last: &mut Option<Vec<Value>>,
    ) -> Result<(), Stop> {
        let (table, columns, keys) = (self.table, &self.columns, self.keys);
        let marks = vec!["?"; self.key_at.len()].join(", ");
        let beyond = stop.map_or(String::new(), |_| format!("WHERE ({keys}) > ({marks})"));
        let order_by = keys.replace(',', &format!(" {order},"));
        let sql = format!("SELECT {columns} FROM {table} {beyond} ORDER BY {order_by} {order}");
        let mut statement = self.source.prepare(&sql).map_err(Stop::Read)?;
        let width = statement.column_count();
        let mut rows = statement
            .query(params_from_iter(stop.unwrap_or_default()))
            .map_err(Stop::Read)?;
        while let Some(row) = rows.next().map_err(Stop::Read)? {
            let values = (0..width)
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
                .map_err(Stop::Read)?;
            self.insert(repair, &values).map_err(Stop::Write)?;
            *last = Some(self.key_at.iter().map(|&i| values[i].clone()).collect());
        }
        Ok(())
    }

    fn insert(&self, repair: &mut TableRepair, values: &[Value]) -> rusqlite::Result<()> {
        let marks = vec!["?"; values.len()].join(", ");
        let sql = format!(
            "INSERT OR IGNORE INTO {} ({}) VALUES ({marks})",
            self.table, self.columns
        );
        match self
            .conn
            .prepare_cached(&sql)?
            .execute(params_from_iter(values))?
        {
            0 => repair.refused += 1,
            _ => repair.kept += 1,
        }
        Ok(())
    }
}

/// A key as a person reads it: its columns' values, separated by commas.
fn show(key: &[Value]) -> String {
    key.iter()
        .map(|value| match value {
            Value::Integer(n) => n.to_string(),
            Value::Text(text) => text.clone(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// New runs get ids above every run a kept row refers to, so that a lost run's kept
/// outcomes are never shown as a new run's.
fn keep_run_ids_unique(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM sqlite_sequence WHERE name = 'runs';
         INSERT INTO sqlite_sequence (name, seq) SELECT 'runs', max(
             coalesce((SELECT max(id) FROM runs), 0),
             coalesce((SELECT max(run) FROM outcomes), 0),
             coalesce((SELECT max(last_run) FROM path_states), 0));",
    )
}
