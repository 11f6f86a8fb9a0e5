//! Uploads in progress: which temporary file holds which source version, so that an
//! interrupted upload is continued rather than restarted.

use rusqlite::{OptionalExtension, params};

use super::codec::Unsigned;
use super::error::StateError;
use super::store::{Store, forget_partial};
use crate::remote::StagedUpload;

/// A temporary file being filled with a given version of a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partial {
    pub temp_path: String,
    /// The source file's size and mtime when the upload started.
    pub size: u64,
    pub mtime_ns: Option<i64>,
    /// For an upload staged in parts: the store's id and the parts stored so far.
    pub staged: Option<StagedUpload>,
}

impl Store {
    pub fn partial(&self, sync: &str, path: &str) -> Result<Option<Partial>, StateError> {
        self.read("reading a partial upload", |conn| {
            conn.query_row(
                "SELECT temp_path, size, mtime_ns, staged FROM partials WHERE sync = ?1 AND path = ?2",
                [sync, path],
                |row| {
                    Ok(Partial {
                        temp_path: row.get(0)?,
                        size: row.get::<_, Unsigned>(1)?.0,
                        mtime_ns: row.get(2)?,
                        // A record this version cannot read is an upload not continued.
                        staged: row
                            .get::<_, Option<String>>(3)?
                            .and_then(|json| serde_json::from_str(&json).ok()),
                    })
                },
            )
            .optional()
        })
    }

    /// Remember (before the first byte is sent) which version `partial` holds.
    pub fn set_partial(&self, sync: &str, path: &str, partial: &Partial) -> Result<(), StateError> {
        self.write("recording a partial upload", |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO partials VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    sync,
                    path,
                    partial.temp_path,
                    Unsigned(partial.size),
                    partial.mtime_ns,
                    partial
                        .staged
                        .as_ref()
                        .map(|staged| serde_json::to_string(staged).expect("plain data")),
                ],
            )?;
            Ok(())
        })
    }

    pub fn clear_partial(&self, sync: &str, path: &str) -> Result<(), StateError> {
        self.write("clearing a partial upload", |conn| {
            forget_partial(conn, sync, path)?;
            Ok(())
        })
    }
}
