//! A folder on this machine. Every access goes through a cap-std `Dir` rooted at the
//! configured path, so no name — `../x`, an absolute path, a symlink pointing out — can
//! reach outside it.

use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, OpenOptions};
use rustix::io::{Errno, ReadWriteFlags};

use super::{
    Capabilities, Commit, Folders, Kind, Listed, Mtimes, Reader, Remote, RemoteEntry, RemoteError,
    Resume, Version, Writer, check_path,
};
use crate::plugin::{ErrorCode, Operation, Protocol};

pub struct LocalRemote {
    root: Arc<Dir>,
    root_path: PathBuf,
    /// The longest full local path allowed, in characters, and the root's own length.
    max_path_length: usize,
    root_length: usize,
    /// Whether small files are read on the calling (async) thread: only on a file system
    /// of this machine's own disks or memory, where a read cannot hang on a network.
    reads_inline: bool,
}

/// Files up to this size are read on the calling thread where `reads_inline` and all their
/// bytes are in the page cache: that takes microseconds, and handing the read to a
/// blocking thread cost two thread switches, a third of ferry's CPU per small file.
const INLINE_READ_MAX: u64 = 256 * 1024;

/// `statfs` magic numbers of file systems on local disks or in memory (linux/magic.h):
/// ext2/3/4, xfs, btrfs, tmpfs, overlayfs, zfs, f2fs.
const LOCAL_FILE_SYSTEMS: [i64; 7] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0x794C_7630,
    0x2FC1_2FC1,
    0xF2F5_2010,
];

/// Listed entries handed from the walking thread at once.
const LIST_BATCH: usize = 512;

/// ENAMETOOLONG, for paths over the local full-path limit.
const NAME_TOO_LONG: i32 = 36;

impl LocalRemote {
    /// Open the folder at `path`; with `create`, make it (and its parents) first.
    /// Entries whose full path would exceed `max_path_length` characters are refused.
    pub fn open(path: &Path, create: bool, max_path_length: usize) -> Result<Self, RemoteError> {
        let shown = path.display().to_string();
        if create {
            std::fs::create_dir_all(path)
                .map_err(|e| RemoteError::io(Operation::Mkdir, Some(&shown), &e))?;
        }
        let root = Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| {
            let error = RemoteError::io(Operation::List, Some(&shown), &e);
            match e.kind() {
                ErrorKind::NotFound => RemoteError {
                    message: format!("the local folder {shown} does not exist"),
                    ..error
                },
                _ => error,
            }
        })?;
        Ok(LocalRemote {
            root: Arc::new(root),
            root_path: path.to_path_buf(),
            max_path_length,
            root_length: shown.chars().count(),
            reads_inline: on_local_file_system(path),
        })
    }

    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// An entry over the full-path limit becomes an entry that cannot be synced.
    fn within_length_limit(&self, listed: Listed) -> Listed {
        match listed {
            Listed::Entry(entry) => match self.check_length(Operation::List, &entry.path) {
                Ok(()) => Listed::Entry(entry),
                Err(error) => Listed::Unlisted {
                    path: entry.path,
                    error,
                },
            },
            unlisted => unlisted,
        }
    }

    /// An error if `path` may not be written: one that could leave the root (cap-std
    /// would refuse it too, but only after making the folders before the escape), or one
    /// over the local full-path limit.
    fn writable(&self, operation: Operation, path: &str) -> Result<(), RemoteError> {
        check_path(operation, path)?;
        self.check_length(operation, path)
    }

    /// An error if `path` under the root is longer than the local full-path limit.
    fn check_length(&self, operation: Operation, path: &str) -> Result<(), RemoteError> {
        let Some(length) = length_over(self.root_length, path, self.max_path_length) else {
            return Ok(());
        };
        let message = format!(
            "the full local path is {length} characters, over the local limit of {} (max_path_length)",
            self.max_path_length
        );
        Err(RemoteError::new(operation, Some(path), message)
            .with_code(ErrorCode::Errno(NAME_TOO_LONG)))
    }

    /// Run blocking filesystem work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Dir) -> Result<T, RemoteError> + Send + 'static,
    ) -> Result<T, RemoteError> {
        let root = Arc::clone(&self.root);
        tokio::task::spawn_blocking(move || work(&root))
            .await
            .unwrap_or_else(|e| {
                Err(RemoteError::new(
                    Operation::Read,
                    None,
                    format!("worker failed: {e}"),
                ))
            })
    }
}

/// The full length of `path` under a root of `root_length` characters, when it is over
/// `max_path_length`.
pub fn length_over(root_length: usize, path: &str, max_path_length: usize) -> Option<usize> {
    // A character takes at least one byte: most paths pass without being counted.
    if root_length + 1 + path.len() <= max_path_length {
        return None;
    }
    let length = root_length + 1 + path.chars().count();
    (length > max_path_length).then_some(length)
}

/// Every entry under `dir`, depth first, handed to `sink`. Folders that cannot be read
/// are reported as [`Listed::Unlisted`], names that are not UTF-8 as [`Listed::Refused`],
/// symlinks not followed as [`Listed::Skipped`].
pub fn walk(dir: &Dir, prefix: &str, sink: &mut dyn FnMut(Listed)) -> Result<(), RemoteError> {
    let list_error = |e: std::io::Error| {
        RemoteError::io(Operation::List, Some(prefix.trim_end_matches('/')), &e)
    };
    for item in dir.entries().map_err(list_error)? {
        let item = item.map_err(list_error)?;
        let raw_name = item.file_name();
        let Some(name) = raw_name.to_str() else {
            let path = format!("{prefix}{}", raw_name.to_string_lossy());
            let reason = "the name is not valid UTF-8".to_string();
            sink(Listed::Refused { path, reason });
            continue;
        };
        let path = format!("{prefix}{name}");
        match entry_at(dir, name, &path) {
            Ok((entry, Link::No)) if entry.kind == Kind::Directory => {
                sink(Listed::Entry(entry));
                let below = item
                    .open_dir()
                    .map_err(|e| RemoteError::io(Operation::List, Some(&path), &e));
                match below.and_then(|sub| walk(&sub, &format!("{path}/"), sink)) {
                    Ok(()) => {}
                    Err(error) => sink(Listed::Unlisted { path, error }),
                }
            }
            // A symlinked folder is not descended into (it could loop or lead outside).
            Ok((entry, Link::Followed)) if entry.kind == Kind::Directory => {
                let reason = "a symbolic link to a folder: not followed".to_string();
                sink(Listed::Skipped { path, reason });
            }
            Ok((entry, _)) => sink(Listed::Entry(entry)),
            Err(LinkOrError::Link(reason)) => sink(Listed::Skipped { path, reason }),
            Err(LinkOrError::Error(error)) => sink(Listed::Unlisted { path, error }),
        }
    }
    Ok(())
}

/// The file at `path`, read up to one byte past `expected` bytes. With
/// `ReadWriteFlags::NOWAIT` every read asks not to wait for the disk, so the calling
/// thread never blocks on it: `None` then when a part is not in the page cache (or the
/// kernel cannot tell).
fn read_whole(
    root: &Dir,
    path: &str,
    expected: u64,
    flags: ReadWriteFlags,
) -> Result<Option<Vec<u8>>, RemoteError> {
    let error = |e: std::io::Error| RemoteError::io(Operation::Read, Some(path), &e);
    let file = root.open(path).map_err(error)?;
    let mut bytes = vec![0u8; expected as usize + 1];
    let mut filled = 0;
    while filled < bytes.len() {
        let rest = &mut [std::io::IoSliceMut::new(&mut bytes[filled..])];
        match rustix::io::preadv2(&file, rest, filled as u64, flags) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::INVAL)
                if flags.contains(ReadWriteFlags::NOWAIT) =>
            {
                return Ok(None);
            }
            Err(errno) => return Err(error(errno.into())),
        }
    }
    bytes.truncate(filled);
    Ok(Some(bytes))
}

/// The file at `path` opened for writing from `offset` (created, or truncated there),
/// which must not be past its end.
fn open_to_write(root: &Dir, path: &str, offset: u64) -> Result<std::fs::File, RemoteError> {
    let error = |e: std::io::Error| RemoteError::io(Operation::Write, Some(path), &e);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(offset == 0);
    let mut file = root.open_with(path, &options).map_err(error)?.into_std();
    if offset == 0 {
        return Ok(file);
    }
    let length = file.metadata().map_err(error)?.len();
    if offset > length {
        let message = format!("cannot continue at byte {offset}: the file has only {length}");
        return Err(RemoteError::new(Operation::Write, Some(path), message));
    }
    file.set_len(offset).map_err(error)?;
    file.seek(SeekFrom::Start(offset)).map_err(error)?;
    Ok(file)
}

fn set_modified(file: &std::fs::File, path: &str, mtime: SystemTime) -> Result<(), RemoteError> {
    file.set_times(std::fs::FileTimes::new().set_modified(mtime))
        .map_err(|e| RemoteError::io(Operation::SetMtime, Some(path), &e))
}

/// Whether `path` is on a file system of [`LOCAL_FILE_SYSTEMS`] (not NFS, SMB, FUSE, …).
#[allow(clippy::unnecessary_cast)] // f_type is i64 here, narrower or unsigned elsewhere
fn on_local_file_system(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|fs| LOCAL_FILE_SYSTEMS.contains(&(fs.f_type as i64)))
}

/// Whether a listed entry is a symlink that was followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    No,
    Followed,
}

/// Why an entry could not be listed: a symlink not followed (with why), or an error.
enum LinkOrError {
    Link(String),
    Error(RemoteError),
}

/// The entry `name` in `dir`, following a symlink as long as it stays inside the root,
/// and whether it is a symlink. Only a symlink costs more than one `fstatat` (following
/// one safely means opening it beneath the root).
fn entry_at(dir: &Dir, name: &str, path: &str) -> Result<(RemoteEntry, Link), LinkOrError> {
    let own = dir
        .symlink_metadata(name)
        .map_err(|e| LinkOrError::Error(RemoteError::io(Operation::Stat, Some(path), &e)))?;
    if !own.file_type().is_symlink() {
        return Ok((entry_from(&own, path), Link::No));
    }
    // cap-std refuses to follow a link out of the root: such a link is skipped, not an
    // unreadable folder (which would hold back every mirror delete).
    let target = dir.metadata(name).map_err(|e| {
        LinkOrError::Link(match e.kind() {
            ErrorKind::NotFound => "a symbolic link that leads nowhere".to_string(),
            _ => "a symbolic link that leads outside the root: not followed".to_string(),
        })
    })?;
    Ok((entry_from(&target, path), Link::Followed))
}

/// The version of the file at `path` (size, mtime and ctime), `None` if there is none.
fn version_at(root: &Dir, path: &str) -> Result<Option<Version>, RemoteError> {
    let meta = match root.metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RemoteError::io(Operation::Stat, Some(path), &e)),
    };
    let ctime = std::time::UNIX_EPOCH.checked_add(Duration::new(
        meta.ctime().max(0) as u64,
        meta.ctime_nsec() as u32,
    ));
    Ok(Some(Version {
        size: meta.len(),
        mtime: meta.modified().ok().map(|t| t.into_std()),
        ctime,
    }))
}

fn entry_from(meta: &cap_std::fs::Metadata, path: &str) -> RemoteEntry {
    let kind = if meta.is_dir() {
        Kind::Directory
    } else {
        Kind::File
    };
    RemoteEntry {
        path: path.to_string(),
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        mtime: meta.modified().ok().map(|t| t.into_std()),
    }
}

/// What this transport can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    // Nanoseconds
    mtimes: Mtimes::Settable(Duration::from_nanos(1)),
    commit: Commit::Rename,
    folders: Folders::Real,
    resume: Resume::Append,
};

#[async_trait]
impl Remote for LocalRemote {
    fn protocol(&self) -> Protocol {
        Protocol::Local
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError> {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        // Entries cross to the async side in batches: one wake-up per entry cost more
        // than the stat that found it.
        let walker = self.blocking(move |root| {
            let mut batch = Vec::with_capacity(LIST_BATCH);
            let walked = walk(root, "", &mut |listed| {
                batch.push(listed);
                if batch.len() == LIST_BATCH {
                    drop(sender.send(std::mem::take(&mut batch)));
                }
            });
            drop(sender.send(batch));
            walked
        });
        let forward = async {
            while let Some(batch) = receiver.recv().await {
                for listed in batch {
                    sink(self.within_length_limit(listed));
                }
            }
        };
        let (walked, ()) = tokio::join!(walker, forward);
        walked
    }

    async fn stat(&self, path: &str) -> Result<Option<RemoteEntry>, RemoteError> {
        let path = path.to_string();
        self.blocking(move |root| match root.metadata(&path) {
            Ok(meta) => Ok(Some(entry_from(&meta, &path))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RemoteError::io(Operation::Stat, Some(&path), &e)),
        })
        .await
    }

    /// On a local disk the stat is made on the calling thread: the file was just read,
    /// its inode is cached, and a thread hop would cost more than the stat.
    async fn version(&self, path: &str) -> Result<Option<Version>, RemoteError> {
        if self.reads_inline {
            return version_at(&self.root, path);
        }
        let path = path.to_string();
        self.blocking(move |root| version_at(root, &path)).await
    }

    async fn read(&self, path: &str, offset: u64) -> Result<Reader, RemoteError> {
        let path = path.to_string();
        let file = self
            .blocking(move |root| {
                let error = |e: std::io::Error| RemoteError::io(Operation::Read, Some(&path), &e);
                let mut file = root.open(&path).map_err(error)?.into_std();
                file.seek(SeekFrom::Start(offset)).map_err(error)?;
                Ok(file)
            })
            .await?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn write(&self, path: &str, offset: u64) -> Result<Writer, RemoteError> {
        self.writable(Operation::Write, path)?;
        let path = path.to_string();
        let file = self
            .blocking(move |root| open_to_write(root, &path, offset))
            .await?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn get(&self, path: &str, expected: u64) -> Result<Vec<u8>, RemoteError> {
        if self.reads_inline
            && expected <= INLINE_READ_MAX
            && let Some(bytes) = read_whole(&self.root, path, expected, ReadWriteFlags::NOWAIT)?
        {
            return Ok(bytes);
        }
        let path = path.to_string();
        self.blocking(move |root| {
            let bytes = read_whole(root, &path, expected, ReadWriteFlags::empty())?;
            bytes.ok_or_else(|| {
                RemoteError::new(Operation::Read, Some(&path), "the file could not be read")
            })
        })
        .await
    }

    async fn put(
        &self,
        path: &str,
        data: Vec<u8>,
        mtime: Option<SystemTime>,
    ) -> Result<(), RemoteError> {
        self.writable(Operation::Write, path)?;
        let path = path.to_string();
        self.blocking(move |root| {
            let mut file = open_to_write(root, &path, 0)?;
            file.write_all(&data)
                .map_err(|e| RemoteError::io(Operation::Write, Some(&path), &e))?;
            match mtime {
                Some(mtime) => set_modified(&file, &path, mtime),
                None => Ok(()),
            }
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        check_path(Operation::Rename, from)?;
        self.writable(Operation::Rename, to)?;
        let (from, to) = (from.to_string(), to.to_string());
        self.blocking(move |root| {
            root.rename(&from, root, &to)
                .map_err(|e| RemoteError::io(Operation::Rename, Some(&from), &e))
        })
        .await
    }

    async fn mkdir_all(&self, path: &str) -> Result<(), RemoteError> {
        self.writable(Operation::Mkdir, path)?;
        let path = path.to_string();
        self.blocking(move |root| {
            root.create_dir_all(&path)
                .map_err(|e| RemoteError::io(Operation::Mkdir, Some(&path), &e))
        })
        .await
    }

    async fn delete(&self, path: &str, kind: Kind) -> Result<(), RemoteError> {
        check_path(Operation::Delete, path)?;
        let path = path.to_string();
        self.blocking(move |root| {
            let removed = match kind {
                Kind::File => root.remove_file(&path),
                Kind::Directory => root.remove_dir(&path),
            };
            removed.map_err(|e| RemoteError::io(Operation::Delete, Some(&path), &e))
        })
        .await
    }

    async fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<bool, RemoteError> {
        check_path(Operation::SetMtime, path)?;
        let path = path.to_string();
        self.blocking(move |root| {
            let file = root
                .open(&path)
                .map_err(|e| RemoteError::io(Operation::SetMtime, Some(&path), &e))?;
            set_modified(&file.into_std(), &path, mtime).map(|()| true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn remote() -> (tempfile::TempDir, LocalRemote) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        let remote = LocalRemote::open(&dir.path().join("root"), false, 4096).unwrap();
        (dir, remote)
    }

    #[tokio::test]
    async fn hostile_names_cannot_leave_the_root() {
        let (dir, remote) = remote();
        std::fs::write(dir.path().join("outside.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), dir.path().join("root/link"))
            .unwrap();
        for path in [
            "../outside.txt",
            "/etc/passwd",
            "link",
            "sub/../../outside.txt",
        ] {
            assert!(remote.read(path, 0).await.is_err(), "{path} was readable");
            assert!(remote.write(path, 0).await.is_err(), "{path} was writable");
        }
        assert!(remote.delete("../outside.txt", Kind::File).await.is_err());
        assert!(remote.rename("link", "../moved").await.is_err());
        assert_eq!(
            std::fs::read(dir.path().join("outside.txt")).unwrap(),
            b"secret"
        );
    }

    #[tokio::test]
    async fn write_continues_at_an_offset_and_refuses_a_gap() {
        let (_dir, remote) = remote();
        let mut first = remote.write("f", 0).await.unwrap();
        first.write_all(b"hello ").await.unwrap();
        first.shutdown().await.unwrap();
        let mut rest = remote.write("f", 6).await.unwrap();
        rest.write_all(b"world").await.unwrap();
        rest.shutdown().await.unwrap();
        assert_eq!(remote.stat("f").await.unwrap().unwrap().size, 11);
        assert!(remote.write("f", 100).await.is_err());
        assert_eq!(remote.stat("missing").await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_truncates_and_sets_the_mtime_and_get_reads_one_byte_past() {
        let (dir, remote) = remote();
        let mtime = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        remote
            .put("f", b"a longer first version".to_vec(), None)
            .await
            .unwrap();
        remote
            .put("f", b"short".to_vec(), Some(mtime))
            .await
            .unwrap();
        let meta = std::fs::metadata(dir.path().join("root/f")).unwrap();
        assert_eq!((meta.len(), meta.modified().unwrap()), (5, mtime));
        assert_eq!(remote.get("f", 2).await.unwrap(), b"sho");
        assert_eq!(remote.get("f", 5).await.unwrap(), b"short");
        std::fs::write(dir.path().join("outside"), b"secret").unwrap();
        let error = remote.get("../outside", 6).await.unwrap_err();
        assert_eq!(error.operation, Operation::Read);
    }

    #[tokio::test]
    async fn small_files_come_from_the_page_cache_or_else_a_blocking_read() {
        let (dir, remote) = remote();
        let file = dir.path().join("root/f");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(
            read_whole(&remote.root, "f", 10, ReadWriteFlags::NOWAIT)
                .unwrap()
                .as_deref(),
            Some(&b"0123456789"[..])
        );
        // Evicted from the page cache (where the file system lets it go), the file is
        // read by a blocking thread instead; the bytes are the same either way.
        let written = std::fs::File::open(&file).unwrap();
        written.sync_all().unwrap();
        rustix::fs::fadvise(&written, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        assert_eq!(remote.get("f", 10).await.unwrap(), b"0123456789");
        assert!(read_whole(&remote.root, "missing", 10, ReadWriteFlags::NOWAIT).is_err());
    }

    #[test]
    fn only_file_systems_on_local_disks_read_inline() {
        // procfs is neither a disk nor memory the files of a sync could be on.
        assert!(!on_local_file_system(Path::new("/proc")));
        assert!(!on_local_file_system(Path::new("/no/such/folder")));
    }

    #[tokio::test]
    async fn listing_reports_entries_and_skips_symlinked_folders() {
        let (dir, remote) = remote();
        std::fs::create_dir_all(dir.path().join("root/a/b")).unwrap();
        std::fs::write(dir.path().join("root/a/b/c.txt"), b"abc").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("root/loop")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("root/inside")).unwrap();
        std::os::unix::fs::symlink("a/b/c.txt", dir.path().join("root/file-link")).unwrap();
        std::os::unix::fs::symlink("../outside.txt", dir.path().join("root/out")).unwrap();
        std::fs::write(dir.path().join("outside.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("root/dangling")).unwrap();
        let (mut paths, mut skipped) = (Vec::new(), Vec::new());
        remote
            .list(&mut |listed| match listed {
                Listed::Entry(entry) => paths.push((entry.path, entry.size)),
                Listed::Skipped { path, reason } => skipped.push(format!("{path}: {reason}")),
                other => panic!("{other:?}"),
            })
            .await
            .unwrap();
        paths.sort();
        skipped.sort();
        assert_eq!(
            paths,
            vec![
                ("a".into(), 0),
                ("a/b".into(), 0),
                ("a/b/c.txt".into(), 3),
                ("file-link".into(), 3)
            ]
        );
        assert_eq!(
            skipped,
            vec![
                "dangling: a symbolic link that leads nowhere",
                "inside: a symbolic link to a folder: not followed",
                "loop: a symbolic link that leads outside the root: not followed",
                "out: a symbolic link that leads outside the root: not followed",
            ]
        );
    }

    #[tokio::test]
    async fn paths_over_the_local_limit_are_reported_not_synced() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/short"), b"s").unwrap();
        std::fs::write(root.join("a/a-rather-long-name"), b"l").unwrap();
        let limit = root.to_string_lossy().chars().count() + "/a/short".len();
        let remote = LocalRemote::open(&root, false, limit).unwrap();
        let mut seen = Vec::new();
        remote
            .list(&mut |listed| match listed {
                Listed::Entry(entry) => seen.push(format!("ok {}", entry.path)),
                Listed::Unlisted { path, error } => {
                    seen.push(format!("refused {path}: {:?}", error.code))
                }
                other => panic!("{other:?}"),
            })
            .await
            .unwrap();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                "ok a",
                "ok a/short",
                "refused a/a-rather-long-name: Some(ErrorCode::Errno(36))"
            ]
        );
        let error = remote.write("a/another-long-one", 0).await.err().unwrap();
        assert!(error.message.contains("over the local limit"), "{error}");
    }
}
