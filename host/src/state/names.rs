//! Names a destination refused and the sanitized names they were sent under, per pair of
//! remotes, so later runs, deletes and pulls between the same two remotes resolve them.

use std::collections::HashMap;

use rusqlite::params;

use super::error::StateError;
use super::store::Store;

impl Store {
    /// Source path → destination path, for files sent from `source` to `destination`.
    pub fn renames(
        &self,
        source: &str,
        destination: &str,
    ) -> Result<HashMap<String, String>, StateError> {
        self.read("reading renamed paths", |conn| {
            conn.prepare_cached(
                "SELECT source_path, destination_path FROM renames \
                 WHERE source_remote = ?1 AND destination_remote = ?2",
            )?
            .query_map([source, destination], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
        })
    }

    /// Remember that `source_path` is `destination_path` at the destination.
    pub fn set_rename(
        &self,
        source: &str,
        destination: &str,
        source_path: &str,
        destination_path: &str,
    ) -> Result<(), StateError> {
        self.write("recording a renamed path", |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO renames VALUES (?1, ?2, ?3, ?4)",
                params![source, destination, source_path, destination_path],
            )?;
            Ok(())
        })
    }

    /// Forget the mapping of `source_path` (its file is gone from both sides).
    pub fn forget_rename(
        &self,
        source: &str,
        destination: &str,
        source_path: &str,
    ) -> Result<(), StateError> {
        self.write("forgetting a renamed path", |conn| {
            conn.execute(
                "DELETE FROM renames WHERE source_remote = ?1 AND destination_remote = ?2 AND source_path = ?3",
                params![source, destination, source_path],
            )?;
            Ok(())
        })
    }
}
