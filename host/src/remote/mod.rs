//! One trait for every transport, one module per transport. A transport moves bytes and
//! reports raw errors; it decides no policy (what an error means is the plugin's call).

pub mod capabilities;
pub mod http;
pub mod known_hosts;
pub mod local;
pub mod object;
pub mod probe;
pub mod sftp;
pub mod webdav;

use std::time::SystemTime;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use capabilities::{Capabilities, Commit, Folders, Mtimes, Resume, StagedPart, StagedUpload};

use crate::config::{RemoteConfig, Transport};
use crate::plugin::{Entry, EntryKind, ErrorCode, Operation, Protocol, RawError};

/// Which end of a sync a remote is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Source,
    Destination,
}

/// Open the remote `config` describes. A local destination folder is created if
/// missing; a missing source folder is an error (it would look like an empty source).
pub async fn connect(config: &RemoteConfig, role: Role) -> Result<Arc<dyn Remote>, RemoteError> {
    Ok(match &config.transport {
        Transport::Local(local) => {
            let create = role == Role::Destination;
            Arc::new(local::LocalRemote::open(
                &local.path,
                create,
                local.max_path_length,
            )?)
        }
        Transport::Sftp(sftp) => Arc::new(sftp::SftpRemote::connect(sftp).await?),
        Transport::S3(s3) => Arc::new(object::ObjectRemote::s3(s3)?),
        Transport::AzureBlob(azure) => Arc::new(object::ObjectRemote::azure(azure)?),
        Transport::WebDav(dav) => Arc::new(webdav::WebDavRemote::connect(dav).await?),
    })
}

/// The protocol of the remote `config` describes, for errors before it is connected.
pub fn protocol_of(config: &RemoteConfig) -> Protocol {
    match config.transport {
        Transport::Local(_) => Protocol::Local,
        Transport::Sftp(_) => Protocol::Sftp,
        Transport::S3(_) => Protocol::S3,
        Transport::AzureBlob(_) => Protocol::AzureBlob,
        Transport::WebDav(_) => Protocol::Webdav,
    }
}

/// What the remote `config` describes can do, before it is connected.
pub fn capabilities_of(config: &RemoteConfig) -> Capabilities {
    match config.transport {
        Transport::Local(_) => local::CAPABILITIES,
        Transport::Sftp(_) => sftp::CAPABILITIES,
        Transport::S3(_) | Transport::AzureBlob(_) => object::CAPABILITIES,
        Transport::WebDav(_) => webdav::CAPABILITIES,
    }
}

/// File or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Directory,
}

/// One entry of a listing, relative to the remote's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteEntry {
    /// `/`-separated, relative, never empty, no `.` or `..` components.
    pub path: String,
    pub kind: Kind,
    /// Bytes; 0 for directories.
    pub size: u64,
    /// Modification time, where the remote keeps one.
    pub mtime: Option<SystemTime>,
}

impl Kind {
    /// The kind as a policy plugin sees it.
    pub fn to_plugin_kind(self) -> EntryKind {
        match self {
            Kind::File => EntryKind::File,
            Kind::Directory => EntryKind::Directory,
        }
    }
}

impl RemoteEntry {
    /// The entry as a policy plugin checks it.
    pub fn to_plugin_entry(&self) -> Entry {
        Entry {
            path: self.path.clone(),
            kind: self.kind.to_plugin_kind(),
            size: Some(self.size),
        }
    }
}

/// What a listing yields: an entry, or a folder that could not be listed (the listing
/// goes on; a caller that deletes must know the listing was incomplete), or an entry
/// that is left out on purpose, with why.
#[derive(Debug)]
pub enum Listed {
    Entry(RemoteEntry),
    Unlisted {
        path: String,
        error: RemoteError,
    },
    /// A name that cannot be synced as it is (not UTF-8, `..`, a separator inside it):
    /// never retried until it changes. `path` is shown escaped, never used as a path.
    Refused {
        path: String,
        reason: String,
    },
    /// A symbolic link not followed (it leads outside the root, to a folder, or nowhere).
    Skipped {
        path: String,
        reason: String,
    },
}

/// Why a listed name cannot be used as a path component, if it cannot: empty, `.` or
/// `..`, holding `/`, `\` (a separator on Windows servers) or NUL, or not valid UTF-8
/// (a server's name that was not UTF-8 reaches us with U+FFFD in its place).
pub fn unusable_name(name: &str) -> Option<&'static str> {
    match name {
        "" => Some("the name is empty"),
        "." | ".." => Some("the name is a relative folder reference (. or ..)"),
        _ if name.contains('/') => Some("the name holds '/', a path separator"),
        _ if name.contains('\\') => {
            Some("the name holds '\\', a path separator on Windows servers")
        }
        _ if name.contains('\0') => Some("the name holds a NUL character"),
        _ if name.contains('\u{FFFD}') => Some("the name is not valid UTF-8"),
        _ => None,
    }
}

/// For a read from `offset` that `error` refused: nothing to read when the file ends
/// exactly there (HTTP servers answer 416, object_store refuses the range), else `error`.
async fn nothing_past_the_end(
    remote: &dyn Remote,
    path: &str,
    offset: u64,
    error: RemoteError,
) -> Result<Reader, RemoteError> {
    match remote.stat(path).await {
        Ok(Some(entry)) if entry.kind == Kind::File && entry.size == offset => {
            Ok(Box::new(tokio::io::empty()))
        }
        _ => Err(error),
    }
}

/// Where a transport that cannot rename over an existing file keeps the old one while
/// the new one takes its place: beside it, so that a crash in between leaves it findable.
pub fn aside_name(path: &str) -> String {
    format!("{path}.ferry-old")
}

/// An error if `path` could reach outside a remote's root (see [`check_relative`]).
pub fn check_path(operation: Operation, path: &str) -> Result<(), RemoteError> {
    check_relative(path).map_err(|reason| {
        RemoteError::new(operation, Some(path), format!("path refused: {reason}"))
    })
}

/// Why `path` may not be used under a remote's root, if it may not: it must be relative,
/// `/`-separated, without empty, `.` or `..` components, and without NUL.
fn check_relative(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.starts_with('/') {
        return Err("absolute path; paths are relative to the root".into());
    }
    if path.contains('\0') {
        return Err("NUL in path".into());
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty component".into()),
            "." | ".." => return Err(format!("'{component}' component")),
            // A server on Windows may take `\` as a separator too.
            _ if component.split('\\').any(|part| part == "..") => {
                return Err("'..' component".into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Which version of a file a path holds: what tells that it changed while it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub size: u64,
    pub mtime: Option<SystemTime>,
    /// The inode change time, where the remote has one: it moves even when a writer puts
    /// the modification time back.
    pub ctime: Option<SystemTime>,
}

/// An error as the transport saw it. It becomes the plugin's `raw-error`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation:?} {}: {message}", path.as_deref().unwrap_or("(connection)"))]
pub struct RemoteError {
    pub operation: Operation,
    pub code: Option<ErrorCode>,
    pub message: String,
    pub path: Option<String>,
    /// For connection errors: the local address the connection left from.
    pub local_address: Option<String>,
}

impl RemoteError {
    /// The message is cut to [`text::TEXT_CAP`](crate::text::TEXT_CAP): it is often a
    /// server's, and it is shown and kept in the state store.
    pub fn new(operation: Operation, path: Option<&str>, message: impl Into<String>) -> Self {
        RemoteError {
            operation,
            code: None,
            message: crate::text::cut(message.into()),
            path: path.map(str::to_string),
            local_address: None,
        }
    }

    /// From an OS error: the errno is kept as the code. An I/O error that carries a
    /// transport's own error (a writer's refused upload) gives that error back, code kept.
    pub fn io(operation: Operation, path: Option<&str>, error: &std::io::Error) -> Self {
        if let Some(inner) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Self>())
        {
            return RemoteError {
                operation,
                path: path.map(str::to_string),
                ..inner.clone()
            };
        }
        RemoteError {
            code: error.raw_os_error().map(ErrorCode::Errno),
            ..RemoteError::new(operation, path, error.to_string())
        }
    }

    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = Some(code);
        self
    }

    pub fn to_raw(&self, protocol: Protocol) -> RawError {
        RawError {
            operation: self.operation,
            protocol,
            code: self.code,
            message: self.message.clone(),
            path: self.path.clone(),
            local_address: self.local_address.clone(),
        }
    }
}

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A place files are synced from or to. Paths are relative to the remote's root and
/// `/`-separated; an implementation must make it impossible to reach outside the root.
#[async_trait]
pub trait Remote: Send + Sync {
    /// The protocol, for classifying its errors.
    fn protocol(&self) -> Protocol;

    /// What this remote can do.
    fn capabilities(&self) -> Capabilities;

    /// Every entry under the root, recursively, in no particular order, handed to `sink`
    /// as it is found. An error for the root itself is returned; one for a folder below
    /// is reported to `sink` as [`Listed::Unlisted`] and the listing goes on.
    async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError>;

    /// The entry at `path`, or `None` if there is none.
    async fn stat(&self, path: &str) -> Result<Option<RemoteEntry>, RemoteError>;

    /// The version of the file at `path`, `None` if there is none.
    async fn version(&self, path: &str) -> Result<Option<Version>, RemoteError> {
        Ok(self.stat(path).await?.map(|entry| Version {
            size: entry.size,
            mtime: entry.mtime,
            ctime: None,
        }))
    }

    /// Read the file at `path` from byte `offset` on.
    async fn read(&self, path: &str, offset: u64) -> Result<Reader, RemoteError>;

    /// Write the file at `path`: created (or truncated) when `offset` is 0, otherwise
    /// continued at `offset` (which must not exceed its length). The writer must be
    /// shut down (`AsyncWriteExt::shutdown`) for the data to be complete.
    async fn write(&self, path: &str, offset: u64) -> Result<Writer, RemoteError>;

    /// The whole file at `path`, read up to one byte past `expected` bytes (so that a
    /// file that grew is told by its length).
    async fn get(&self, path: &str, expected: u64) -> Result<Vec<u8>, RemoteError> {
        let mut bytes = Vec::with_capacity(expected as usize + 1);
        self.read(path, 0)
            .await?
            .take(expected + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|error| RemoteError::io(Operation::Read, Some(path), &error))?;
        Ok(bytes)
    }

    /// Write the whole file at `path` (created or truncated) from `data` and give it
    /// `mtime` where the remote keeps times. `Ok` means the remote took every byte.
    async fn put(
        &self,
        path: &str,
        data: Vec<u8>,
        mtime: Option<SystemTime>,
    ) -> Result<(), RemoteError> {
        let mut writer = self.write(path, 0).await?;
        let write_error = |error| RemoteError::io(Operation::Write, Some(path), &error);
        writer.write_all(&data).await.map_err(write_error)?;
        writer.shutdown().await.map_err(write_error)?;
        if let Some(mtime) = mtime {
            self.set_mtime(path, mtime).await?;
        }
        Ok(())
    }

    /// Rename `from` to `to`, replacing `to` if it exists. The file at `to` is never
    /// removed before `from` is in its place: an error leaves `to` as it was.
    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError>;

    /// Create the folder `path` and any missing parents; an existing folder is fine.
    async fn mkdir_all(&self, path: &str) -> Result<(), RemoteError>;

    /// Delete the file, or the empty folder, at `path`.
    async fn delete(&self, path: &str, kind: Kind) -> Result<(), RemoteError>;

    /// Set the modification time; `Ok(false)` where the remote cannot.
    async fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<bool, RemoteError>;

    /// Where uploads are staged ([`Commit::Staged`]): start an upload in parts to `path`;
    /// the store's id for it. Nothing is visible under `path` until it is committed.
    async fn begin_staged(&self, path: &str) -> Result<String, RemoteError> {
        Err(not_staged(path))
    }

    /// Store part `index` (from 0) of the upload `id`; the store's tag for it.
    async fn put_part(
        &self,
        path: &str,
        id: &str,
        index: usize,
        data: bytes::Bytes,
    ) -> Result<String, RemoteError> {
        let _ = (id, index, data);
        Err(not_staged(path))
    }

    /// Make the parts `tags`, in order, the file at `path`, replacing what it held.
    async fn commit_staged(
        &self,
        path: &str,
        id: &str,
        tags: &[String],
    ) -> Result<(), RemoteError> {
        let _ = (id, tags);
        Err(not_staged(path))
    }

    /// Give up the upload `id`: its parts are dropped (or left to expire where the
    /// store cannot drop them).
    async fn abort_staged(&self, path: &str, id: &str) -> Result<(), RemoteError> {
        let _ = id;
        Err(not_staged(path))
    }
}

fn not_staged(path: &str) -> RemoteError {
    RemoteError::new(
        Operation::Write,
        Some(path),
        "this remote does not stage uploads in parts",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_inside_the_root_pass() {
        for path in ["a", "a/b.txt", "ü/ñ file", "..hidden", "a..b/c", "x\\y"] {
            assert_eq!(check_relative(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn paths_that_could_leave_the_root_are_refused() {
        for path in [
            "",
            "/etc/passwd",
            "..",
            "a/../..",
            "a/./b",
            "a//b",
            "a/",
            "..\\x",
            "a\0b",
        ] {
            assert!(check_relative(path).is_err(), "{path:?}");
        }
    }

    #[test]
    fn a_servers_long_message_is_cut_where_it_enters() {
        let error = RemoteError::new(Operation::Write, Some("a"), "x".repeat(1 << 20));
        assert!(error.message.len() < 2 * crate::text::TEXT_CAP);
        assert!(
            error.message.ends_with("bytes]"),
            "{}",
            &error.message[1000..]
        );
    }

    #[test]
    fn only_plain_names_become_path_components() {
        for name in [
            "report.csv",
            "..hidden",
            "a..b",
            "ü ñ",
            "x\u{1b}[2J",
            " trailing ",
        ] {
            assert_eq!(unusable_name(name), None, "{name:?}");
        }
        for (name, why) in [
            ("", "empty"),
            (".", "relative folder"),
            ("..", "relative folder"),
            ("a/b", "'/'"),
            ("../../etc", "'/'"),
            ("..\\..\\evil.txt", "Windows"),
            ("nul\0byte", "NUL"),
            ("bad-\u{FFFD}-name", "UTF-8"),
        ] {
            let reason = unusable_name(name).unwrap_or_else(|| panic!("{name:?} passed"));
            assert!(reason.contains(why), "{name:?}: {reason}");
        }
    }
}
