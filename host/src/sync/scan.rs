//! Listing one side into memory: the entries, and the folders that could not be read.

use super::listing::{Listing, ListingBuilder};
use crate::plugin::Operation;
use crate::remote::{Listed, Remote, RemoteError};

#[derive(Debug, Default)]
pub struct Scan {
    pub entries: Listing,
    pub unlisted: Vec<(String, RemoteError)>,
    /// Names that cannot be synced as they are (path, why): refused, never retried.
    pub refused: Vec<(String, String)>,
    /// Symbolic links not followed (path, why).
    pub skipped: Vec<(String, String)>,
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
    let (mut unlisted, mut refused, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
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
            Listed::Refused { path, reason } => refused.push((path, reason)),
            Listed::Skipped { path, reason } => skipped.push((path, reason)),
        })
        .await?;
    Ok(Scan {
        entries: entries.finish(),
        unlisted,
        refused,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use async_trait::async_trait;

    use super::*;
    use crate::plugin::Protocol;
    use crate::remote::{Kind, Reader, RemoteEntry, Writer};

    /// An in-process remote whose listing no real server can be made to give (a name of
    /// 70,000 bytes): the allowed fake, for a hostile listing. It only lists.
    struct HostileListing;

    #[async_trait]
    impl Remote for HostileListing {
        fn protocol(&self) -> Protocol {
            Protocol::Sftp
        }

        fn capabilities(&self) -> crate::remote::Capabilities {
            crate::remote::sftp::CAPABILITIES
        }

        async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError> {
            for path in ["ok.csv".to_string(), format!("d/{}", "n".repeat(70_000))] {
                sink(Listed::Entry(RemoteEntry {
                    path,
                    kind: Kind::File,
                    size: 1,
                    mtime: Some(SystemTime::UNIX_EPOCH),
                }));
            }
            Ok(())
        }

        async fn stat(&self, _: &str) -> Result<Option<RemoteEntry>, RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn read(&self, _: &str, _: u64) -> Result<Reader, RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn write(&self, _: &str, _: u64) -> Result<Writer, RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn rename(&self, _: &str, _: &str) -> Result<(), RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn mkdir_all(&self, _: &str) -> Result<(), RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn delete(&self, _: &str, _: Kind) -> Result<(), RemoteError> {
            unreachable!("a scan only lists")
        }
        async fn set_mtime(&self, _: &str, _: SystemTime) -> Result<bool, RemoteError> {
            unreachable!("a scan only lists")
        }
    }

    #[tokio::test]
    async fn an_entry_too_long_to_hold_is_reported_unlisted_with_why_and_the_rest_is_kept() {
        let scan = scan(&HostileListing).await.unwrap();
        let paths: Vec<String> = scan.entries.iter().map(|item| item.path()).collect();
        assert_eq!(paths, ["ok.csv"]);
        let [(path, error)] = &scan.unlisted[..] else {
            panic!("one unlisted entry: {:?}", scan.unlisted);
        };
        assert!(path.starts_with("d/nnn") && path.len() == 70_002);
        assert_eq!(error.operation, Operation::List);
        assert!(error.message.contains("70000 bytes"), "{}", error.message);
        assert!(!scan.complete(), "mirror deletes nothing after it");
    }
}
