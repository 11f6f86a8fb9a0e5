//! What becomes of source files once they are delivered (`after_delivery`): deleted, or
//! moved into an archive folder of the source. Only files whose delivery is complete,
//! verified and committed to the state store are touched, and only while they are still
//! the version that was listed; a kill at any point leaves each file either in the source
//! or delivered (and, for an archive, in the archive).

use std::time::SystemTime;

use futures::stream::{self, StreamExt};

use super::report::some_of;
use crate::config::AfterDelivery;
use crate::plugin::Operation;
use crate::remote::{Kind, Remote, RemoteError, Version};

/// Source files handled at once.
const AT_ONCE: usize = 16;
/// Archived versions of one file at most (`PATH`, `PATH.1`, …).
const ARCHIVED_VERSIONS: usize = 1000;

/// A delivered source file, as it was listed.
pub struct Delivered {
    pub path: String,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// How one file fared.
enum Fate {
    Done,
    /// Changed since it was listed: kept for the next run to deliver.
    Changed,
    Failed(RemoteError),
}

/// Delete or archive each of `files` on `source` as `after` says; the run's notes on it.
pub async fn carry_out(
    source: &dyn Remote,
    after: &AfterDelivery,
    files: Vec<Delivered>,
) -> Vec<String> {
    if *after == AfterDelivery::Keep || files.is_empty() {
        return Vec::new();
    }
    let fates: Vec<(String, Fate)> = stream::iter(files)
        .map(|file| async move {
            let fate = fate_of(source, after, &file).await;
            (file.path, fate)
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    notes(after, &fates)
}

async fn fate_of(source: &dyn Remote, after: &AfterDelivery, file: &Delivered) -> Fate {
    let listed = |version: Version| version.size == file.size && version.mtime == file.mtime;
    match source.version(&file.path).await {
        Ok(Some(version)) if listed(version) => {}
        Ok(_) => return Fate::Changed,
        Err(error) => return Fate::Failed(error),
    }
    let done = match after {
        AfterDelivery::Keep => Ok(()),
        AfterDelivery::Delete => source.delete(&file.path, Kind::File).await,
        AfterDelivery::Archive(folder) => archive(source, folder, &file.path).await,
    };
    done.map_or_else(Fate::Failed, |()| Fate::Done)
}

/// Move `path` to `folder/path`, or to `folder/path.N` for the first free N up to
/// [`ARCHIVED_VERSIONS`]: an older archived version is never replaced.
async fn archive(source: &dyn Remote, folder: &str, path: &str) -> Result<(), RemoteError> {
    let target = format!("{folder}/{path}");
    if let Some((parent, _)) = target.rsplit_once('/') {
        source.mkdir_all(parent).await?;
    }
    for n in 0..ARCHIVED_VERSIONS {
        let free = match n {
            0 => target.clone(),
            n => format!("{target}.{n}"),
        };
        // The server says what exists: a bound, so that one claiming every name cannot
        // keep the run here.
        if source.stat(&free).await?.is_none() {
            return source.rename(path, &free).await;
        }
    }
    let message = format!("{ARCHIVED_VERSIONS} archived versions of it are there already");
    Err(RemoteError::new(Operation::Rename, Some(path), message))
}

fn notes(after: &AfterDelivery, fates: &[(String, Fate)]) -> Vec<String> {
    let done = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Done))
        .count();
    let what = match after {
        AfterDelivery::Archive(folder) => format!("moved to {folder}"),
        _ => "deleted".to_string(),
    };
    let mut notes = vec![format!("after delivery: {done} source file(s) {what}")];
    let changed: Vec<&str> = fates
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Changed))
        .map(|(path, _)| path.as_str())
        .collect();
    if !changed.is_empty() {
        notes.push(format!(
            "{} source file(s) changed since they were listed and are kept for the next run: {}",
            changed.len(),
            some_of(changed.iter().map(|path| path.to_string()))
        ));
    }
    let failed: Vec<String> = fates
        .iter()
        .filter_map(|(path, f)| match f {
            Fate::Failed(error) => Some(format!("{path} ({})", error.message)),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        notes.push(format!(
            "{} delivered source file(s) could not be {what}; the next run tries again: {}",
            failed.len(),
            some_of(failed.into_iter())
        ));
    }
    notes
}
