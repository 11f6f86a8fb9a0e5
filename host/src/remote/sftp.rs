//! SFTP over SSH (russh + russh-sftp).
//!
//! One SSH connection carries two SFTP channels: `files` opens the handles that stream file
//! contents (russh-sftp's `File` pipelines their reads and writes), `control` carries every
//! other request. The split keeps listings and renames from queueing behind megabytes of
//! file data, and `control` is a raw session, which is what tells the server's extensions
//! (posix-rename) and can send extended requests.
//!
//! A rejected host key is reported as a `Connect` error: the check is part of setting up
//! the connection, before any authentication.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::SeekFrom;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use russh::client::{self, AuthResult, DisconnectReason};
use russh::keys::{self, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelStream, Preferred, cipher};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::File;
use russh_sftp::client::{Config as SftpClientConfig, RawSftpSession, SftpSession};
use russh_sftp::protocol::{FileAttributes, FileType, OpenFlags, Packet, StatusCode};
use tokio::io::{AsyncSeekExt, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use super::known_hosts::{HostKeyError, KnownHosts, describe_key};
use super::{
    Capabilities, Commit, Folders, Kind, Listed, Mtimes, Reader, Remote, RemoteEntry, RemoteError,
    Resume, Writer, check_path, unusable_name,
};
use crate::config::{SftpAuth, SftpConfig};
use crate::plugin::{ErrorCode, Operation, Protocol};

/// Linux's errno for a timeout: the plugin contract's `errno` holds Linux values.
const ETIMEDOUT: i32 = 110;

const POSIX_RENAME: &str = "posix-rename@openssh.com";
const LIMITS: &str = "limits@openssh.com";

/// Directory reads in flight while listing: enough to hide round trips, few enough to
/// keep the server's open handles low.
const DIRS_IN_FLIGHT: usize = 32;

/// File data requested at once per open file: more than an SSH channel window, so the
/// window, not the round trip, limits a transfer.
const BYTES_IN_FLIGHT: u32 = 4 * 1024 * 1024;

/// The write size every SFTP server must accept.
const PORTABLE_WRITE_LEN: u32 = 32 * 1024;

/// russh-sftp's largest packet. A server that states its limits (limits@openssh.com) gets
/// writes that large, or as large as it allows: fewer, larger writes cost it fewer system
/// calls, and an SFTP transfer is CPU-bound at both ends.
const LARGE_WRITE_LEN: u32 = 256 * 1024;

/// AES-GCM first: with AES instructions (x86 AES-NI, ARMv8) it costs both ends far less
/// CPU than ChaCha20.
const CIPHERS: &[cipher::Name] = &[
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// An open SFTP connection; every path is relative to the configured root.
pub struct SftpRemote {
    /// Keeps the SSH connection open: it closes when its handle is dropped.
    connection: client::Handle<Client>,
    /// Why the connection ended, once it has.
    ended: Arc<OnceLock<RemoteError>>,
    files: SftpSession,
    control: RawSftpSession,
    has_posix_rename: bool,
    /// The root with every symlink resolved, asked once (to keep followed links inside).
    real_root: tokio::sync::OnceCell<String>,
    /// The largest write the server takes.
    write_len: u32,
    root: String,
    local_address: SocketAddr,
}

impl SftpRemote {
    /// Connect, check the host key, authenticate and open the SFTP channels, all within
    /// `connect_timeout`. Every error carries the local address the connection left from.
    pub async fn connect(config: &SftpConfig) -> Result<SftpRemote, RemoteError> {
        let mut local_ip = config.bind_address;
        let attempt =
            tokio::time::timeout(config.connect_timeout, establish(config, &mut local_ip));
        let result = match attempt.await {
            Ok(result) => result,
            Err(_) => Err(timed_out(
                Operation::Connect,
                None,
                format!(
                    "no SFTP session with {}:{} within {:?}",
                    config.host, config.port, config.connect_timeout
                ),
            )),
        };
        result.map_err(|error| RemoteError {
            local_address: local_ip.map(|ip| ip.to_string()),
            ..error
        })
    }

    /// The address the connection left from (what a server's IP allow-list sees).
    pub fn local_address(&self) -> SocketAddr {
        self.local_address
    }

    /// Whether the server offers posix-rename, which replaces a file in one step.
    pub fn has_posix_rename(&self) -> bool {
        self.has_posix_rename
    }

    /// The plain SFTP rename alone (a server refuses it onto an existing name): for
    /// `ferry doctor`, which tells each kind of rename apart.
    pub async fn plain_rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let (remote_from, remote_to) = (
            self.remote_path(Operation::Rename, from)?,
            self.remote_path(Operation::Rename, to)?,
        );
        self.control
            .rename(remote_from, remote_to)
            .await
            .map(drop)
            .map_err(|error| self.request_error(Operation::Rename, from, error))
    }

    /// posix-rename alone, asked even when the server does not offer it, so that the server
    /// answers: for `ferry doctor`.
    pub async fn posix_rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let (remote_from, remote_to) = (
            self.remote_path(Operation::Rename, from)?,
            self.remote_path(Operation::Rename, to)?,
        );
        self.posix_rename_request(&remote_from, &remote_to)
            .await
            .map_err(|error| self.request_error(Operation::Rename, from, error))
    }

    async fn posix_rename_request(&self, from: &str, to: &str) -> Result<(), SftpError> {
        let request = ssh_strings(&[from, to]);
        self.control
            .extended(POSIX_RENAME, request)
            .await
            .and_then(status_ok)
    }

    /// The error for a failed request. When the request failed because the connection
    /// ended, the error tells why it ended (as far as russh has reported it yet).
    fn request_error(&self, operation: Operation, path: &str, error: SftpError) -> RemoteError {
        if matches!(error, SftpError::Status(_)) || !self.connection.is_closed() {
            return sftp_error(operation, Some(path), error);
        }
        let cause = self.ended.get().cloned();
        let cause = cause
            .unwrap_or_else(|| RemoteError::new(operation, None, "the SSH connection has ended"));
        let local_address = Some(self.local_address.ip().to_string());
        RemoteError {
            operation,
            path: Some(path.to_string()),
            local_address,
            ..cause
        }
    }

    /// The remote path of `path`, which must be relative and stay inside the root.
    fn remote_path(&self, operation: Operation, path: &str) -> Result<String, RemoteError> {
        check_path(operation, path)?;
        Ok(self.under_root(path))
    }

    fn under_root(&self, relative: &str) -> String {
        match (self.root.as_str(), relative) {
            ("", "") => ".".to_string(),
            ("", _) => relative.to_string(),
            (root, "") => root.to_string(),
            (root, _) if root.ends_with('/') => format!("{root}{relative}"),
            (root, _) => format!("{root}/{relative}"),
        }
    }

    /// Open `path` for writing, keeping its contents, positioned at `offset`.
    async fn open_to_continue(
        &self,
        remote: String,
        path: &str,
        offset: u64,
    ) -> Result<File, RemoteError> {
        let write_error = |error| self.request_error(Operation::Write, path, error);
        let mut file = self
            .files
            .open_with_flags(remote, OpenFlags::WRITE)
            .await
            .map_err(write_error)?;
        let size = file.metadata().await.map_err(write_error)?.len();
        if offset > size {
            let message =
                format!("cannot continue at byte {offset}: the file has only {size} bytes");
            return Err(RemoteError::new(Operation::Write, Some(path), message));
        }
        seek(&mut file, Operation::Write, path, offset).await?;
        Ok(file)
    }

    async fn mkdir_tolerating_existing(
        &self,
        remote: String,
        path: &str,
    ) -> Result<(), RemoteError> {
        let Err(error) = self
            .control
            .mkdir(remote.clone(), FileAttributes::empty())
            .await
        else {
            return Ok(());
        };
        // Most servers answer a plain "failure" for an existing folder: look before failing
        // (another transfer may just have created it).
        match self.control.stat(remote).await {
            Ok(found) if found.attrs.file_type().is_dir() => Ok(()),
            _ => Err(self.request_error(Operation::Mkdir, path, error)),
        }
    }

    /// How many leading components of `components` exist as folders already.
    async fn existing_depth(&self, components: &[&str]) -> Result<usize, RemoteError> {
        for depth in (1..=components.len()).rev() {
            let prefix = components[..depth].join("/");
            match self.control.stat(self.under_root(&prefix)).await {
                Ok(found) if found.attrs.file_type().is_dir() => return Ok(depth),
                Ok(_) => {
                    let message = format!("{prefix} exists and is not a folder");
                    return Err(RemoteError::new(Operation::Mkdir, Some(&prefix), message));
                }
                Err(error) if is_not_found(&error) => continue,
                Err(error) => return Err(self.request_error(Operation::Mkdir, &prefix, error)),
            }
        }
        Ok(0)
    }

    /// Rename `from` to `to`, replacing it: atomically where the server offers
    /// posix-rename; otherwise the old file is moved aside first and put back if the new
    /// one cannot take its place, so `to` is never removed before `from` is in it.
    async fn rename_replacing(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let failed = |error| self.request_error(Operation::Rename, from, error);
        let (remote_from, remote_to) = (self.under_root(from), self.under_root(to));
        if self.has_posix_rename {
            match self.posix_rename_request(&remote_from, &remote_to).await {
                Ok(()) => return Ok(()),
                // Refused (some servers list the extension and deny it): a plain rename
                // may still be allowed.
                Err(SftpError::Status(status)) => {
                    tracing::debug!("posix-rename of {from} refused: {status:?}");
                }
                Err(error) => return Err(failed(error)),
            }
        }
        // Plain SFTP rename refuses an existing target.
        let Err(refused) = self.control.rename(&remote_from, &remote_to).await else {
            return Ok(());
        };
        // Only a file is moved aside: a folder in the way fails the rename.
        match self.control.lstat(&remote_to).await {
            Ok(found) if found.attrs.file_type().is_file() => {
                self.replace_by_moving_aside(from, to).await
            }
            _ => Err(failed(refused)),
        }
    }

    /// Replace the file at `to` by `from` where the server renames only onto free names:
    /// the old one is moved to [`super::aside_name`], the new one takes its place, then the
    /// old one is removed; the old one is put back if the new one cannot take its place.
    async fn replace_by_moving_aside(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let aside = super::aside_name(to);
        let (remote_from, remote_to, remote_aside) = (
            self.under_root(from),
            self.under_root(to),
            self.under_root(&aside),
        );
        let _ = self.control.remove(&remote_aside).await;
        self.control
            .rename(&remote_to, &remote_aside)
            .await
            .map_err(|error| self.request_error(Operation::Rename, to, error))?;
        if let Err(error) = self.control.rename(&remote_from, &remote_to).await {
            let restored = self.control.rename(&remote_aside, &remote_to).await;
            let mut error = self.request_error(Operation::Rename, from, error);
            if restored.is_err() {
                error.message = format!(
                    "{}; the old file could not be put back and is kept as {aside}",
                    error.message
                );
            }
            return Err(error);
        }
        if let Err(error) = self.control.remove(&remote_aside).await {
            tracing::warn!("the replaced file {aside} could not be removed: {error}");
        }
        Ok(())
    }

    /// One step of reading a folder: open it if needed, then read one batch of entries
    /// (`None` at its end, when the handle is closed).
    async fn read_dir_step(
        &self,
        mut dir: DirRead,
    ) -> (DirRead, Result<Option<Vec<Listed>>, SftpError>) {
        let result = self.read_dir_batch(&mut dir).await;
        if let (Some(handle), Ok(None) | Err(_)) = (&dir.handle, &result) {
            // Closing is best effort: the listing's outcome is known already.
            let _ = self.control.close(handle.clone()).await;
        }
        (dir, result)
    }

    async fn read_dir_batch(&self, dir: &mut DirRead) -> Result<Option<Vec<Listed>>, SftpError> {
        let handle = match &dir.handle {
            Some(handle) => handle.clone(),
            None => {
                let handle = self
                    .control
                    .opendir(self.under_root(&dir.path))
                    .await?
                    .handle;
                dir.handle.insert(handle).clone()
            }
        };
        let names = match self.control.readdir(handle).await {
            Ok(names) => names.files,
            Err(SftpError::Status(status)) if status.status_code == StatusCode::Eof => {
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            if name.filename == "." || name.filename == ".." {
                continue;
            }
            let path = join(&dir.path, &name.filename);
            // The server chooses these names: one that is not a plain name never becomes
            // a path (`../x`, `a/b`, `..\\x` would reach another folder).
            if let Some(reason) = unusable_name(&name.filename) {
                let reason = reason.to_string();
                found.push(Listed::Refused { path, reason });
                continue;
            }
            found.extend(self.listed(path, name.attrs).await);
        }
        Ok(Some(found))
    }

    /// What a listed name is: its own attributes, or for a symlink those of the file it
    /// leads to when that stays inside the root; a symlink to a folder, out of the root or
    /// to nothing is skipped with why. Devices, sockets and the like are left out.
    async fn listed(&self, path: String, attrs: FileAttributes) -> Option<Listed> {
        if !attrs.file_type().is_symlink() {
            return entry(path, &attrs).map(Listed::Entry);
        }
        let followed = match self.symlink_target(&path).await {
            Ok(attrs) => attrs,
            Err(reason) => return Some(Listed::Skipped { path, reason }),
        };
        match entry(path.clone(), &followed) {
            Some(entry) if entry.kind == Kind::File => Some(Listed::Entry(entry)),
            _ => Some(Listed::Skipped {
                path,
                reason: "a symbolic link to a folder: not followed".into(),
            }),
        }
    }

    /// The attributes of what the symlink at `path` leads to, if that is inside the root.
    async fn symlink_target(&self, path: &str) -> Result<FileAttributes, String> {
        let remote = self.under_root(path);
        let resolved = self
            .control
            .realpath(remote.clone())
            .await
            .ok()
            .and_then(|name| name.files.into_iter().next())
            .map(|file| file.filename)
            .ok_or("a symbolic link that leads nowhere")?;
        let root = self
            .real_root()
            .await
            .ok_or("the root cannot be resolved")?;
        if !inside(&resolved, root) {
            return Err(format!(
                "a symbolic link to {resolved:?}, outside the root: not followed"
            ));
        }
        let target = self.control.stat(remote).await;
        target
            .map(|found| found.attrs)
            .map_err(|_| "a symbolic link that leads nowhere".to_string())
    }

    /// The root as the server resolves it (symlinks followed), asked once.
    async fn real_root(&self) -> Option<&str> {
        let resolve = || async {
            let name = self.control.realpath(self.under_root("")).await?;
            let first = name.files.into_iter().next().map(|file| file.filename);
            first.ok_or(SftpError::UnexpectedBehavior(
                "an empty realpath reply".into(),
            ))
        };
        let root = self.real_root.get_or_try_init(resolve).await;
        root.ok().map(String::as_str)
    }
}

/// Whether the resolved path `path` is `root` or below it.
fn inside(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    path == root
        || root.is_empty()
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// What this transport can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    // Whole seconds (sftp v3 carries seconds)
    mtimes: Mtimes::Settable(Duration::from_secs(1)),
    commit: Commit::Rename,
    folders: Folders::Real,
    resume: Resume::Append,
};

#[async_trait]
impl Remote for SftpRemote {
    fn protocol(&self) -> Protocol {
        Protocol::Sftp
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError> {
        let mut waiting = VecDeque::new();
        let mut reads = FuturesUnordered::new();
        reads.push(self.read_dir_step(DirRead::new(String::new())));
        while let Some((dir, result)) = reads.next().await {
            match result {
                Ok(Some(batch)) => {
                    for listed in batch {
                        if let Listed::Entry(entry) = &listed
                            && entry.kind == Kind::Directory
                        {
                            waiting.push_back(DirRead::new(entry.path.clone()));
                        }
                        sink(listed);
                    }
                    reads.push(self.read_dir_step(dir));
                }
                Ok(None) => {}
                Err(error) if dir.path.is_empty() => {
                    return Err(self.request_error(Operation::List, &self.root, error));
                }
                Err(error) => {
                    let error = self.request_error(Operation::List, &dir.path, error);
                    sink(Listed::Unlisted {
                        path: dir.path,
                        error,
                    });
                }
            }
            while reads.len() < DIRS_IN_FLIGHT
                && let Some(dir) = waiting.pop_front()
            {
                reads.push(self.read_dir_step(dir));
            }
        }
        Ok(())
    }

    async fn stat(&self, path: &str) -> Result<Option<RemoteEntry>, RemoteError> {
        let remote = self.remote_path(Operation::Stat, path)?;
        match self.control.stat(remote).await {
            Ok(found) => Ok(entry(path.to_string(), &found.attrs)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(self.request_error(Operation::Stat, path, error)),
        }
    }

    async fn read(&self, path: &str, offset: u64) -> Result<Reader, RemoteError> {
        let remote = self.remote_path(Operation::Read, path)?;
        let mut file = self
            .files
            .open(remote)
            .await
            .map_err(|error| self.request_error(Operation::Read, path, error))?;
        seek(&mut file, Operation::Read, path, offset).await?;
        Ok(Box::new(file))
    }

    async fn write(&self, path: &str, offset: u64) -> Result<Writer, RemoteError> {
        let remote = self.remote_path(Operation::Write, path)?;
        let file = if offset == 0 {
            self.files
                .create(remote)
                .await
                .map_err(|error| self.request_error(Operation::Write, path, error))?
        } else {
            self.open_to_continue(remote, path, offset).await?
        };
        Ok(Box::new(PipelinedWriter(file)))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        check_path(Operation::Rename, from)?;
        check_path(Operation::Rename, to)?;
        self.rename_replacing(from, to).await
    }

    async fn mkdir_all(&self, path: &str) -> Result<(), RemoteError> {
        check_path(Operation::Mkdir, path)?;
        let components: Vec<&str> = path.split('/').collect();
        for depth in self.existing_depth(&components).await? + 1..=components.len() {
            let prefix = components[..depth].join("/");
            self.mkdir_tolerating_existing(self.under_root(&prefix), &prefix)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, path: &str, kind: Kind) -> Result<(), RemoteError> {
        let remote = self.remote_path(Operation::Delete, path)?;
        let result = match kind {
            Kind::File => self.control.remove(remote).await,
            Kind::Directory => self.control.rmdir(remote).await,
        };
        result
            .map(drop)
            .map_err(|error| self.request_error(Operation::Delete, path, error))
    }

    async fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<bool, RemoteError> {
        let remote = self.remote_path(Operation::SetMtime, path)?;
        self.control
            .setstat(remote, times(path, mtime)?)
            .await
            .map_err(|error| self.request_error(Operation::SetMtime, path, error))?;
        Ok(true)
    }

    /// Open, then every write, the mtime and the close at once: the server handles the
    /// requests on one handle in the order they were sent, so a small file costs two
    /// round trips where a stream takes five. Each write's status covers its bytes of a
    /// file just truncated, so no stat is needed to know that it holds them all. A server
    /// that does not set times on a handle gets them by path after the close.
    async fn put(
        &self,
        path: &str,
        data: Vec<u8>,
        mtime: Option<SystemTime>,
    ) -> Result<(), RemoteError> {
        let remote = self.remote_path(Operation::Write, path)?;
        let attrs = mtime.map(|mtime| times(path, mtime)).transpose()?;
        let failed = |operation| move |error| self.request_error(operation, path, error);
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
        let handle = self
            .control
            .open(remote.clone(), flags, FileAttributes::empty())
            .await
            .map_err(failed(Operation::Write))?
            .handle;
        let writes = pieces(data, self.write_len as usize)
            .into_iter()
            .map(|(offset, piece)| self.control.write(handle.as_str(), offset, piece));
        let set_mtime = async {
            match &attrs {
                Some(attrs) => self
                    .control
                    .fsetstat(handle.as_str(), attrs.clone())
                    .await
                    .map(drop),
                None => Ok(()),
            }
        };
        let (written, set, closed) = futures::join!(
            futures::future::join_all(writes),
            set_mtime,
            self.control.close(handle.as_str())
        );
        written
            .into_iter()
            .try_for_each(|write| write.map(drop))
            .map_err(failed(Operation::Write))?;
        closed.map(drop).map_err(failed(Operation::Write))?;
        match (set, attrs) {
            // A server without FSETSTAT may still set times by path.
            (Err(SftpError::Status(status)), Some(attrs))
                if status.status_code == StatusCode::OpUnsupported =>
            {
                self.control.setstat(remote, attrs).await.map(drop)
            }
            (set, _) => set,
        }
        .map_err(failed(Operation::SetMtime))
    }
}

/// `data` in pieces of at most `len` bytes, each with its offset: none for an empty
/// file, and a piece that is the whole file is moved, not copied.
fn pieces(data: Vec<u8>, len: usize) -> Vec<(u64, Vec<u8>)> {
    if data.len() <= len {
        return if data.is_empty() {
            Vec::new()
        } else {
            vec![(0, data)]
        };
    }
    data.chunks(len)
        .zip((0u64..).step_by(len))
        .map(|(piece, offset)| (offset, piece.to_vec()))
        .collect()
}

/// A time as SFTP v3 keeps it: whole seconds, 1970 to 2106, access time alike.
fn times(path: &str, mtime: SystemTime) -> Result<FileAttributes, RemoteError> {
    let seconds = mtime
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since_epoch| u32::try_from(since_epoch.as_secs()).ok())
        .ok_or_else(|| {
            let message = format!("SFTP cannot store the time {mtime:?} (seconds 1970-2106 only)");
            RemoteError::new(Operation::SetMtime, Some(path), message)
        })?;
    Ok(FileAttributes {
        atime: Some(seconds),
        mtime: Some(seconds),
        ..FileAttributes::empty()
    })
}

/// A folder being listed, relative to the root ("" is the root).
struct DirRead {
    path: String,
    handle: Option<String>,
}

impl DirRead {
    fn new(path: String) -> Self {
        DirRead { path, handle: None }
    }
}

/// A `File` whose flush returns at once. `shutdown` still waits for the status of every
/// write and for the close; forwarding flush would drain the request pipeline and fsync
/// the file on the server, and `tokio::io::copy` flushes whenever its reader is pending.
struct PipelinedWriter(File);

impl AsyncWrite for PipelinedWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// russh's callbacks: decides whether the server is the one `known_hosts` names, and
/// keeps why the connection ended.
struct Client {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    ended: Arc<OnceLock<RemoteError>>,
}

/// What ends the SSH session early: an error of russh, or a host key we refused.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Ssh(#[from] russh::Error),
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
}

impl client::Handler for Client {
    type Error = SessionError;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, SessionError> {
        // A certificate is only offered when asked for, which we never do.
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Err(HostKeyError::Certificate.into());
        };
        KnownHosts::read(&self.known_hosts)?.check(&self.host, self.port, key)?;
        Ok(true)
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<SessionError>,
    ) -> Result<(), SessionError> {
        let cause = match &reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                let message = format!("the server ended the SSH connection: {}", info.message);
                RemoteError::new(Operation::Connect, None, message)
            }
            DisconnectReason::Error(SessionError::Ssh(error)) => {
                ssh_error(Operation::Connect, "the SSH connection ended", error)
            }
            DisconnectReason::Error(SessionError::HostKey(error)) => {
                RemoteError::new(Operation::Connect, None, error.to_string())
            }
        };
        let _ = self.ended.set(cause);
        match reason {
            DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            DisconnectReason::Error(error) => Err(error),
        }
    }
}

impl Client {
    fn new(config: &SftpConfig, ended: Arc<OnceLock<RemoteError>>) -> Self {
        Client {
            host: config.host.clone(),
            port: config.port,
            known_hosts: config.known_hosts.clone(),
            ended,
        }
    }
}

async fn establish(
    config: &SftpConfig,
    local_ip: &mut Option<IpAddr>,
) -> Result<SftpRemote, RemoteError> {
    let stream = open_tcp(config, local_ip).await?;
    let local_address = stream
        .local_addr()
        .map_err(|error| RemoteError::io(Operation::Connect, None, &error))?;
    *local_ip = Some(local_address.ip());
    let ended = Arc::new(OnceLock::new());
    let client = Client::new(config, ended.clone());
    let mut connection = client::connect_stream(ssh_config(config), stream, client)
        .await
        .map_err(|error| session_error(config, error))?;
    authenticate(&mut connection, config).await?;

    let control_config = SftpClientConfig {
        request_timeout_secs: config.idle_timeout.as_millis().div_ceil(1000).max(1) as u64,
        ..SftpClientConfig::default()
    };
    let control =
        RawSftpSession::new_with_config(sftp_channel(&connection).await?, control_config.clone());
    let extensions = control
        .init()
        .await
        .map_err(|error| sftp_error(Operation::Connect, None, error))?
        .extensions;
    let write_len = match has_extension(&extensions, LIMITS) {
        true => stated_write_len(&control).await?,
        false => PORTABLE_WRITE_LEN,
    };
    let files = async {
        SftpSession::new_with_config(
            sftp_channel(&connection).await?,
            files_config(control_config, write_len),
        )
        .await
        .map_err(|error| sftp_error(Operation::Connect, None, error))
    };
    let (files, root) = futures::join!(files, check_root(&control, &config.root));
    let files = files?;
    root?;
    Ok(SftpRemote {
        connection,
        ended,
        files,
        control,
        has_posix_rename: has_extension(&extensions, POSIX_RENAME),
        real_root: tokio::sync::OnceCell::new(),
        write_len,
        root: config.root.clone(),
        local_address,
    })
}

/// An error unless the configured root is a folder on the server (an empty root is the
/// login folder). Told at once, a missing root is not mistaken for a file that went away.
async fn check_root(control: &RawSftpSession, root: &str) -> Result<(), RemoteError> {
    if root.is_empty() {
        return Ok(());
    }
    let problem = |what: &str| {
        let message = format!("the remote root {root} {what} on the server");
        RemoteError::new(Operation::List, None, message)
    };
    match control.stat(root.to_string()).await {
        Ok(found) if found.attrs.file_type().is_dir() => Ok(()),
        Ok(_) => Err(problem("is not a folder")),
        Err(error) if is_not_found(&error) => Err(problem("does not exist")
            .with_code(ErrorCode::SftpStatus(StatusCode::NoSuchFile as u32))),
        Err(error) => Err(sftp_error(Operation::List, None, error)),
    }
}

/// The largest write a server that states its limits takes, up to [`LARGE_WRITE_LEN`]
/// (0 states no limit).
async fn stated_write_len(control: &RawSftpSession) -> Result<u32, RemoteError> {
    let limits = control
        .limits()
        .await
        .map_err(|error| sftp_error(Operation::Connect, None, error))?;
    Ok(match limits.max_write_len {
        0 => LARGE_WRITE_LEN,
        stated => stated.min(u64::from(LARGE_WRITE_LEN)) as u32,
    })
}

/// Resolve the host and connect to its first address that answers, from `bind_address`
/// when set. `local_ip` is kept up to date for the error of a failed attempt.
async fn open_tcp(
    config: &SftpConfig,
    local_ip: &mut Option<IpAddr>,
) -> Result<TcpStream, RemoteError> {
    let resolve_error = |message: String| RemoteError::new(Operation::Connect, None, message);
    let targets: Vec<SocketAddr> = tokio::net::lookup_host((config.host.as_str(), config.port))
        .await
        .map_err(|error| resolve_error(format!("cannot resolve {}: {error}", config.host)))?
        .filter(|target| {
            config
                .bind_address
                .is_none_or(|bind| bind.is_ipv4() == target.is_ipv4())
        })
        .collect();
    let mut last_error = resolve_error(format!(
        "{} has no address of the bind address's family",
        config.host
    ));
    for target in targets {
        *local_ip = config.bind_address.or_else(|| route_source(target));
        match connect_from(config.bind_address, target).await {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                last_error = RemoteError {
                    message: error.to_string(),
                    ..RemoteError::io(Operation::Connect, None, error.io())
                }
            }
        }
    }
    Err(last_error)
}

/// Why a TCP connection could not be opened.
#[derive(Debug, thiserror::Error)]
enum TcpError {
    #[error("bind_address {address} is not an address of this machine ({source})")]
    NotLocal {
        address: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot leave from bind_address {address}: {source}")]
    Bind {
        address: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl TcpError {
    fn io(&self) -> &std::io::Error {
        match self {
            TcpError::NotLocal { source, .. }
            | TcpError::Bind { source, .. }
            | TcpError::Connect { source, .. } => source,
        }
    }
}

async fn connect_from(
    bind_address: Option<IpAddr>,
    target: SocketAddr,
) -> Result<TcpStream, TcpError> {
    let connect_error = |source| TcpError::Connect { target, source };
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(connect_error)?;
    if let Some(address) = bind_address {
        socket
            .bind(SocketAddr::new(address, 0))
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AddrNotAvailable => TcpError::NotLocal { address, source },
                _ => TcpError::Bind { address, source },
            })?;
    }
    let stream = socket.connect(target).await.map_err(connect_error)?;
    // SFTP is request/response: small requests must not wait for Nagle's algorithm.
    stream.set_nodelay(true).map_err(connect_error)?;
    Ok(stream)
}

/// The source address the kernel would pick for `target`, for the error of a connection
/// that fails before it has one of its own. Connecting a UDP socket sends nothing.
fn route_source(target: SocketAddr) -> Option<IpAddr> {
    let unspecified: IpAddr = if target.is_ipv4() {
        [0, 0, 0, 0].into()
    } else {
        [0u16; 8].into()
    };
    let probe = UdpSocket::bind((unspecified, 0)).ok()?;
    probe.connect(target).ok()?;
    Some(probe.local_addr().ok()?.ip())
}

fn ssh_config(config: &SftpConfig) -> Arc<client::Config> {
    Arc::new(client::Config {
        // A stalled server fails the session (and so every request) after idle_timeout;
        // keepalives make a healthy but quiet server answer, which resets that timer.
        inactivity_timeout: Some(config.idle_timeout),
        keepalive_interval: Some(config.idle_timeout / 3),
        preferred: Preferred {
            cipher: Cow::Borrowed(CIPHERS),
            ..Preferred::DEFAULT
        },
        ..client::Config::default()
    })
}

fn files_config(control_config: SftpClientConfig, write_len: u32) -> SftpClientConfig {
    let requests = (BYTES_IN_FLIGHT / write_len) as usize;
    SftpClientConfig {
        max_packet_len: LARGE_WRITE_LEN,
        max_concurrent_reads: requests,
        max_concurrent_writes: requests,
        max_write_packet_len: write_len,
        ..control_config
    }
}

async fn sftp_channel(
    connection: &client::Handle<Client>,
) -> Result<ChannelStream<client::Msg>, RemoteError> {
    let channel_error =
        |error| ssh_error(Operation::Connect, "cannot open the SFTP channel", &error);
    let channel = connection
        .channel_open_session()
        .await
        .map_err(channel_error)?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(channel_error)?;
    Ok(channel.into_stream())
}

fn has_extension(extensions: &HashMap<String, String>, name: &str) -> bool {
    extensions.get(name).is_some_and(|version| version == "1")
}

async fn authenticate(
    connection: &mut client::Handle<Client>,
    config: &SftpConfig,
) -> Result<(), RemoteError> {
    let auth_error = |error| ssh_error(Operation::Authenticate, "authentication failed", &error);
    let (method, result) = match &config.auth {
        SftpAuth::Key { file, passphrase } => {
            let key = load_key(file, passphrase.as_ref().map(|secret| secret.expose()))?;
            let method = format!(
                "the key {} ({})",
                file.display(),
                describe_key(key.public_key())
            );
            let hash = match key.algorithm().is_rsa() {
                true => connection
                    .best_supported_rsa_hash()
                    .await
                    .map_err(auth_error)?
                    .flatten(),
                false => None,
            };
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            (
                method,
                connection.authenticate_publickey(&config.user, key).await,
            )
        }
        SftpAuth::Password(password) => (
            "a password".to_string(),
            connection
                .authenticate_password(&config.user, password.expose())
                .await,
        ),
    };
    match result.map_err(auth_error)? {
        AuthResult::Success => Ok(()),
        AuthResult::Failure {
            remaining_methods,
            partial_success,
        } => {
            let accepted: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
            let further = if partial_success {
                " and wants a further method"
            } else {
                ""
            };
            let message = format!(
                "the server refused user \"{}\" with {method}{further} (it accepts: {})",
                config.user,
                accepted.join(", ")
            );
            Err(RemoteError::new(Operation::Authenticate, None, message))
        }
    }
}

fn load_key(file: &Path, passphrase: Option<&str>) -> Result<PrivateKey, RemoteError> {
    keys::load_secret_key(file, passphrase).map_err(|error| {
        let message = match &error {
            keys::Error::IO(io) if io.kind() == std::io::ErrorKind::NotFound => {
                format!("key file {} not found (key_file)", file.display())
            }
            keys::Error::KeyIsEncrypted => format!(
                "cannot load the key {}: it is encrypted and no passphrase is configured",
                file.display()
            ),
            _ => format!("cannot load the key {}: {error}", file.display()),
        };
        let code = match &error {
            keys::Error::IO(io) => io.raw_os_error().map(ErrorCode::Errno),
            _ => None,
        };
        RemoteError {
            code,
            ..RemoteError::new(Operation::Authenticate, None, message)
        }
    })
}

fn session_error(config: &SftpConfig, error: SessionError) -> RemoteError {
    match error {
        SessionError::HostKey(error) => {
            RemoteError::new(Operation::Connect, None, error.to_string())
        }
        SessionError::Ssh(error) => {
            let context = format!("SSH handshake with {}:{} failed", config.host, config.port);
            ssh_error(Operation::Connect, &context, &error)
        }
    }
}

/// For a connection that ended without an OS error (an early EOF, a closed channel).
const ECONNABORTED: i32 = 103;

fn ssh_error(operation: Operation, context: &str, error: &russh::Error) -> RemoteError {
    let message = format!("{context}: {error}");
    match error {
        russh::Error::IO(io) => RemoteError {
            message,
            code: Some(ErrorCode::Errno(io.raw_os_error().unwrap_or(ECONNABORTED))),
            ..RemoteError::io(operation, None, io)
        },
        russh::Error::InactivityTimeout
        | russh::Error::KeepaliveTimeout
        | russh::Error::ConnectionTimeout => timed_out(operation, None, message),
        _ => RemoteError::new(operation, None, message),
    }
}

/// An SFTP status keeps its code and the server's message; anything else is reported as
/// russh-sftp describes it.
fn sftp_error(operation: Operation, path: Option<&str>, error: SftpError) -> RemoteError {
    match error {
        SftpError::Status(status) => {
            let message = match status.error_message.is_empty() {
                true => status.status_code.to_string(),
                false => status.error_message,
            };
            RemoteError::new(operation, path, message)
                .with_code(ErrorCode::SftpStatus(status.status_code as u32))
        }
        SftpError::Timeout => timed_out(
            operation,
            path,
            "the SFTP server did not answer in time".to_string(),
        ),
        other => RemoteError::new(operation, path, other.to_string()),
    }
}

fn timed_out(operation: Operation, path: Option<&str>, message: String) -> RemoteError {
    RemoteError::new(operation, path, message).with_code(ErrorCode::Errno(ETIMEDOUT))
}

fn is_not_found(error: &SftpError) -> bool {
    matches!(error, SftpError::Status(status) if status.status_code == StatusCode::NoSuchFile)
}

fn status_ok(reply: Packet) -> Result<(), SftpError> {
    match reply {
        Packet::Status(status) if status.status_code == StatusCode::Ok => Ok(()),
        Packet::Status(status) => Err(SftpError::Status(status)),
        _ => Err(SftpError::UnexpectedPacket),
    }
}

/// The payload of an extended request: SSH strings (length-prefixed bytes).
fn ssh_strings(strings: &[&str]) -> Vec<u8> {
    let mut payload = Vec::new();
    for string in strings {
        payload.extend_from_slice(&(string.len() as u32).to_be_bytes());
        payload.extend_from_slice(string.as_bytes());
    }
    payload
}

async fn seek(
    file: &mut File,
    operation: Operation,
    path: &str,
    offset: u64,
) -> Result<(), RemoteError> {
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|error| RemoteError::io(operation, Some(path), &error))?;
    }
    Ok(())
}

fn join(parent: &str, name: &str) -> String {
    match parent {
        "" => name.to_string(),
        _ => format!("{parent}/{name}"),
    }
}

/// The entry for a file or folder; `None` for anything else (devices, sockets, links).
fn entry(path: String, attrs: &FileAttributes) -> Option<RemoteEntry> {
    let (kind, size) = match attrs.file_type() {
        FileType::Dir => (Kind::Directory, 0),
        FileType::File => (Kind::File, attrs.len()),
        FileType::Symlink | FileType::Other => return None,
    };
    let mtime = attrs
        .mtime
        .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds.into()));
    Some(RemoteEntry {
        path,
        kind,
        size,
        mtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolved_link_is_inside_only_below_the_root() {
        assert!(inside("/srv/in/a.txt", "/srv/in"));
        assert!(inside("/srv/in/a.txt", "/srv/in/"));
        assert!(inside("/srv/in", "/srv/in"));
        assert!(inside("/anything", "/"));
        assert!(!inside("/srv/inbox/a.txt", "/srv/in"));
        assert!(!inside("/etc/passwd", "/srv/in"));
        assert!(!inside("/srv", "/srv/in"));
    }

    #[test]
    fn ssh_strings_are_length_prefixed() {
        assert_eq!(
            ssh_strings(&["ab", ""]),
            [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]
        );
    }
}
