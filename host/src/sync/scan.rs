//! Listing one side into memory: the entries, and the folders that could not be read.

use super::listing::{Listing, ListingBuilder};
use crate::plugin::Operation;
use crate::remote::{Listed, Remote, RemoteError};

#[derive(Debug, Default)]
pub struct Scan {
    pub entries: Listing,
    pub unlisted: Vec<(String, RemoteError)>,
}

impl Scan {
    pub fn complete(&self) -> bool {
        self.unlisted.is_empty()
    }
}

/// Everything `remote` lists; an error only when its root cannot be listed. An entry the
/// listing cannot hold is reported as unlisted, with why.
pub async fn scan(remote: &dyn Remote) -> Result<Scan, RemoteError> {
    let mut entries = ListingBuilder::default();
    let mut unlisted = Vec::new();
    remote
        .list(&mut |listed| match listed {
            Listed::Entry(entry) => {
                if let Err(error) = entries.push(&entry) {
                    let error =
                        RemoteError::new(Operation::List, Some(&entry.path), error.to_string());
                    unlisted.push((entry.path, error));
                }
            }
            Listed::Unlisted { path, error } => unlisted.push((path, error)),
        })
        .await?;
    Ok(Scan {
        entries: entries.finish(),
        unlisted,
    })
}
