//! Listing one side into memory: the entries, and the folders that could not be read.

use crate::remote::{Listed, Remote, RemoteEntry, RemoteError};

#[derive(Debug, Default)]
pub struct Scan {
    pub entries: Vec<RemoteEntry>,
    pub unlisted: Vec<(String, RemoteError)>,
}

impl Scan {
    pub fn complete(&self) -> bool {
        self.unlisted.is_empty()
    }
}

/// Everything `remote` lists; an error only when its root cannot be listed.
pub async fn scan(remote: &dyn Remote) -> Result<Scan, RemoteError> {
    let mut scan = Scan::default();
    remote
        .list(&mut |listed| match listed {
            Listed::Entry(entry) => scan.entries.push(entry),
            Listed::Unlisted { path, error } => scan.unlisted.push((path, error)),
        })
        .await?;
    Ok(scan)
}
