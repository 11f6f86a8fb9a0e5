//! The transport conformance suite (issue 14; rclone's `fstest/fstests` is the model): one
//! set of cases, written once over `&dyn Remote` and the store behind it, run against every
//! transport — `local` (a temporary folder), `sftp` (a real OpenSSH sshd on loopback),
//! `webdav` (wsgidav, and `rclone_webdav`: `rclone serve webdav`, a server with answers of
//! its own), `s3` (moto) and `azure` (Azurite), servers started per test — as one
//! test per transport and case (`local::zero_byte_file`, `s3::zero_byte_file`, …).
//!
//! Cases: listing an empty root and a nested tree (every entry once, kind, size, mtime within
//! the transport's precision); unicode, spaced and `..x` names; a zero-byte file; a 20 MiB
//! stream read back whole and from an offset; a read from a file's end (no bytes, no error);
//! `put` with an mtime then `stat`/`version`/`set_mtime`; `rename` replacing an existing
//! file; an interrupted upload resumed; deletes (a file, an empty folder, a non-empty
//! folder); errors for missing paths (reads, renames; deletes as a case of their own);
//! writes denied (`put`/`mkdir_all`/`rename`, a streamed write, `delete`: three cases, so
//! that a transport losing one refusal's status does not hide the others); paths leaving
//! the root refused by every operation, touching nothing outside the root nor (a separate
//! case) inside it; `mkdir_all` of an existing folder and under a file.
//!
//! What differs between transports is asserted from what each declares in
//! `remote.capabilities()`, not from its name (two exceptions the capabilities do not cover,
//! commented where they are: an object store's delete of a missing key is `Ok` (it is gone,
//! as wanted), and S3 drops an aborted upload's parts where Azure leaves them to expire):
//! - `Mtimes::Settable(p)`: an mtime given to `put`/`set_mtime` is kept to within `p`;
//!   `Mtimes::UploadTime(p)`: the store's time of the upload (to within `p`) is reported
//!   whatever was asked, and `set_mtime` answers `Ok(false)`.
//! - `Folders::Real`: folders are made, listed (empty ones too) and removed, a non-empty one
//!   is not, nor one under a file; `Folders::Prefixes`: `mkdir_all` makes nothing (and is
//!   `Ok`), an empty folder is neither kept nor listed, `delete` of a folder is `Ok` and
//!   removes nothing, a listing yields the prefixes of the files as folders (no mtime).
//! - `Resume::Append`: a partial file is continued with `write(path, offset)`;
//!   `Resume::Parts`: the parts stored by `begin_staged`/`put_part` are committed by a later
//!   connection with `commit_staged` (or dropped by `abort_staged`), and nothing shows under
//!   the name before (`Commit::Staged`); `Resume::Restart`: `write(path, offset > 0)` is an
//!   error and the upload starts again from byte 0.
//! - Denied writes: `local`/`sftp` meet a folder of mode 0555 (`local` cannot be denied
//!   when the tests run as root: those cases say "skipped" on stderr and pass); `webdav` a
//!   read-only wsgidav, `s3` a read-only IAM user of moto, `azure` a read-and-list SAS of
//!   Azurite, and the HTTP transports must say 403 in the error's code (404 for missing
//!   paths).
//!
//! Every remote's root is `root/` inside a folder (or bucket, container) the login user may
//! write to, so that a path leaving the root would really land outside it if a transport let
//! it through; `outside.txt` beside it (at the bucket's top) must stay untouched. Setup and inspection never go through the remote under test: on disk for
//! local, sftp and webdav (wsgidav serves a folder), through the servers' own clients (boto3,
//! azure-storage-blob) for s3 and azure.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry::config::Config;
use ferry::plugin::{ErrorCode, Operation};
use ferry::remote::{
    self, Capabilities, Folders, Kind, Listed, Mtimes, Remote, RemoteEntry, RemoteError, Resume,
    Role,
};
use ferry_tests::http_servers::{Azurite, Moto, WebDav};
use ferry_tests::noise;
use ferry_tests::sshd::Sshd;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bucket (S3) or container (Azure) every object-store test uses.
const BUCKET: &str = "conformance";
/// The remote's root inside the folder, bucket or container.
const ROOT: &str = "root";
/// An S3 multipart upload's smallest part but the last.
const PART: usize = 5 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Local,
    Sftp,
    /// WebDAV on wsgidav.
    WebDav,
    /// WebDAV on `rclone serve webdav`: the same transport against another server.
    RcloneWebDav,
    S3,
    Azure,
}

/// Where the remote's files really are, for setup and inspection from outside it.
enum Store {
    /// A folder on this machine: `root` is the remote's root, `outside` the folder holding
    /// it (nothing in it may change through the remote).
    Disk {
        root: PathBuf,
        outside: PathBuf,
        sshd: Option<Sshd>,
        _webdav: Option<WebDav>,
    },
    /// Bucket `BUCKET`, the remote's root under the key prefix `ROOT/`.
    S3(Moto),
    /// Container `BUCKET`, the remote's root under the name prefix `ROOT/`.
    Azure(Azurite),
}

/// One transport opened on a fresh root, with the store behind it.
pub struct Backend {
    transport: Transport,
    remote: Arc<dyn Remote>,
    caps: Capabilities,
    config: Config,
    store: Store,
    /// Config and credential files (and, for `local`, the folder itself).
    _dir: TempDir,
}

/// A file in `dir` holding `secret`, for a `*_file` key.
fn secret_file(dir: &TempDir, name: &str, secret: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, secret).unwrap();
    path.to_str().unwrap().to_string()
}

impl Backend {
    async fn local() -> Backend {
        let dir = TempDir::new().unwrap();
        let outside = dir.path().join("store");
        std::fs::create_dir(&outside).unwrap();
        let toml = format!(
            "[remotes.t]\ntype = \"local\"\npath = \"{}\"\n",
            outside.join(ROOT).display()
        );
        let store = Store::Disk {
            root: outside.join(ROOT),
            outside,
            sshd: None,
            _webdav: None,
        };
        Backend::open(Transport::Local, &toml, store, dir).await
    }

    async fn sftp() -> Backend {
        let sshd = Sshd::start();
        let outside = sshd.root.clone();
        let root = format!("root = \"{}\"", outside.join(ROOT).display());
        let toml = sshd
            .remote_toml("t", sshd.port, &sshd.key_file, &sshd.known_hosts)
            .replace(&format!("root = \"{}\"", outside.display()), &root);
        assert!(toml.contains(&root), "{toml}");
        std::fs::create_dir(outside.join(ROOT)).unwrap();
        sshd.give(&outside);
        let store = Store::Disk {
            root: outside.join(ROOT),
            outside,
            sshd: Some(sshd),
            _webdav: None,
        };
        Backend::open(Transport::Sftp, &toml, store, TempDir::new().unwrap()).await
    }

    async fn webdav() -> Backend {
        Backend::webdav_on(Transport::WebDav, WebDav::start(), &[]).await
    }

    async fn rclone_webdav() -> Backend {
        Backend::webdav_on(Transport::RcloneWebDav, WebDav::start_rclone(false), &[]).await
    }

    /// A remote on `dav` (which serves a folder on disk), `files` put there first.
    async fn webdav_on(transport: Transport, dav: WebDav, files: &[(&str, &[u8])]) -> Backend {
        let dir = TempDir::new().unwrap();
        let outside = dav.root.clone();
        let root = outside.join(ROOT);
        std::fs::create_dir(&root).unwrap();
        for (path, data) in files {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), data).unwrap();
        }
        let toml = format!(
            "[remotes.t]\ntype = \"webdav\"\nurl = \"{}\"\nuser = \"{}\"\n\
             password_file = \"{}\"\nroot = \"{ROOT}\"\n",
            dav.url,
            dav.user,
            secret_file(&dir, "password", &dav.password)
        );
        let store = Store::Disk {
            root,
            outside,
            sshd: None,
            _webdav: Some(dav),
        };
        Backend::open(transport, &toml, store, dir).await
    }

    async fn s3() -> Backend {
        let moto = Moto::start();
        moto.create_bucket(BUCKET);
        let credentials = (moto.access_key_id.clone(), moto.secret_access_key.clone());
        Backend::s3_on(moto, credentials).await
    }

    /// A remote on `moto`'s bucket with the given (access key id, secret).
    async fn s3_on(moto: Moto, (key_id, secret): (String, String)) -> Backend {
        let dir = TempDir::new().unwrap();
        let toml = format!(
            "[remotes.t]\ntype = \"s3\"\nendpoint = \"{}\"\nregion = \"{}\"\n\
             bucket = \"{BUCKET}\"\nroot = \"{ROOT}\"\naccess_key_id_file = \"{}\"\n\
             secret_access_key_file = \"{}\"\n",
            moto.endpoint,
            moto.region,
            secret_file(&dir, "key-id", &key_id),
            secret_file(&dir, "secret", &secret)
        );
        Backend::open(Transport::S3, &toml, Store::S3(moto), dir).await
    }

    async fn azure() -> Backend {
        let azurite = Azurite::start();
        azurite.create_container(BUCKET);
        let key = "key_file = \"{}\"\n";
        let secret = azurite.key.clone();
        Backend::azure_on(azurite, key, &secret).await
    }

    /// A remote on `azurite`'s container with the credential `key` (`key_file = "{}"` or
    /// `sas_token_file = "{}"`, the file holding `secret`).
    async fn azure_on(azurite: Azurite, key: &str, secret: &str) -> Backend {
        let dir = TempDir::new().unwrap();
        let credential = key.replace("{}", &secret_file(&dir, "credential", secret));
        let toml = format!(
            "[remotes.t]\ntype = \"azure-blob\"\naccount = \"{}\"\ncontainer = \"{BUCKET}\"\n\
             endpoint = \"{}\"\nroot = \"{ROOT}\"\n{credential}",
            azurite.account, azurite.endpoint
        );
        Backend::open(Transport::Azure, &toml, Store::Azure(azurite), dir).await
    }

    async fn open(transport: Transport, toml: &str, store: Store, dir: TempDir) -> Backend {
        let config = Config::parse(toml, &dir.path().join("ferry.toml")).expect("config");
        let remote = connect(&config).await;
        let caps = remote.capabilities();
        assert_eq!(
            caps,
            remote::capabilities_of(&config.remotes["t"]),
            "declared the same before and after connecting"
        );
        Backend {
            transport,
            remote,
            caps,
            config,
            store,
            _dir: dir,
        }
    }

    /// The same remote on a new connection, as a later run opens it.
    async fn reconnect(&self) -> Arc<dyn Remote> {
        connect(&self.config).await
    }

    /// A remote of the same transport that may read but not write, on a fresh store
    /// holding `ro/kept.txt` ("kept"). For `local` and `sftp`, `None`: this backend's own
    /// folder `ro` is made read-only instead (mode 0555; `release` gives it back).
    async fn read_only_twin(&self) -> Option<Backend> {
        let kept: &[(&str, &[u8])] = &[("ro/kept.txt", b"kept")];
        Some(match self.transport {
            Transport::Local | Transport::Sftp => {
                self.make_file("ro/kept.txt", b"kept", at_secs(1_600_000_000, 0));
                std::fs::set_permissions(self.at("ro"), std::fs::Permissions::from_mode(0o555))
                    .unwrap();
                return None;
            }
            Transport::WebDav => {
                Backend::webdav_on(Transport::WebDav, WebDav::start_read_only(), kept).await
            }
            Transport::RcloneWebDav => {
                let dav = WebDav::start_rclone(true);
                Backend::webdav_on(Transport::RcloneWebDav, dav, kept).await
            }
            Transport::S3 => {
                let moto = Moto::start_with_auth();
                moto.create_bucket(BUCKET);
                moto.put_object(BUCKET, &format!("{ROOT}/ro/kept.txt"), b"kept");
                let read_only = moto.read_only.clone().expect("read-only user");
                Backend::s3_on(moto, read_only).await
            }
            Transport::Azure => {
                let azurite = Azurite::start();
                azurite.create_container(BUCKET);
                azurite.put_blob(BUCKET, &format!("{ROOT}/ro/kept.txt"), b"kept");
                let sas = azurite.sas_token(BUCKET, "rl");
                Backend::azure_on(azurite, "sas_token_file = \"{}\"\n", &sas).await
            }
        })
    }

    /// Undo `read_only_twin` on this backend.
    fn release(&self) {
        if let Store::Disk { .. } = self.store
            && self.at("ro").exists()
        {
            std::fs::set_permissions(self.at("ro"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
    }

    /// That `error`, a write a read-only server refused, carries the server's status:
    /// 403 Forbidden — but `rclone serve webdav --read-only` answers PUT with 404, MKCOL
    /// and DELETE with 405 (MOVE with 403), which the transport passes on as they are.
    fn assert_refused(&self, error: &RemoteError) {
        match self.transport {
            Transport::RcloneWebDav => assert!(
                matches!(error.code, Some(ErrorCode::HttpStatus(403..=405))),
                "{error:?}"
            ),
            _ => assert_status(self, error, 403),
        }
    }

    /// Whether the transport speaks HTTP: its refusals carry the status as their code.
    fn speaks_http(&self) -> bool {
        matches!(
            self.transport,
            Transport::WebDav | Transport::RcloneWebDav | Transport::S3 | Transport::Azure
        )
    }

    fn precision(&self) -> Duration {
        self.caps.mtimes.precision()
    }

    /// The file or folder at `path` under the root, on disk (disk stores only).
    fn at(&self, path: &str) -> PathBuf {
        match &self.store {
            Store::Disk { root, .. } => root.join(path),
            _ => panic!("{:?} keeps no files on disk", self.transport),
        }
    }

    fn key(path: &str) -> String {
        format!("{ROOT}/{path}")
    }

    /// Put a file under the root from outside the remote (parents made), owned by the
    /// login user. Its mtime is `mtime` on disk; an object store keeps its upload's time.
    fn make_file(&self, path: &str, data: &[u8], mtime: SystemTime) {
        match &self.store {
            Store::Disk { .. } => {
                let file = self.at(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, data).unwrap();
                let handle = std::fs::File::options().write(true).open(&file).unwrap();
                handle.set_modified(mtime).unwrap();
                self.hand_over();
            }
            Store::S3(moto) => moto.put_object(BUCKET, &Self::key(path), data),
            Store::Azure(azurite) => azurite.put_blob(BUCKET, &Self::key(path), data),
        }
    }

    /// Make an empty folder from outside the remote (only where folders are real).
    fn make_folder(&self, path: &str) {
        std::fs::create_dir_all(self.at(path)).unwrap();
        self.hand_over();
    }

    /// Hand everything made on disk as this process to the login user.
    fn hand_over(&self) {
        if let Store::Disk {
            sshd: Some(sshd),
            outside,
            ..
        } = &self.store
        {
            sshd.give(outside);
        }
    }

    /// The bytes of the file at `path`, read from outside the remote.
    fn bytes(&self, path: &str) -> Vec<u8> {
        match &self.store {
            Store::Disk { .. } => {
                std::fs::read(self.at(path)).unwrap_or_else(|e| panic!("{path} on disk: {e}"))
            }
            Store::S3(moto) => moto.object_bytes(BUCKET, &Self::key(path)),
            Store::Azure(azurite) => azurite.blob_bytes(BUCKET, &Self::key(path)),
        }
    }

    /// The mtime of `path` where it is set from outside (on disk), else `None`.
    fn stored_mtime(&self, path: &str) -> Option<SystemTime> {
        match &self.store {
            Store::Disk { .. } => Some(
                std::fs::metadata(self.at(path))
                    .unwrap()
                    .modified()
                    .unwrap(),
            ),
            _ => None,
        }
    }

    /// Every key or name in the bucket or container.
    fn all_keys(&self) -> Vec<String> {
        match &self.store {
            Store::S3(moto) => moto.keys(BUCKET),
            Store::Azure(azurite) => azurite.blob_names(BUCKET),
            Store::Disk { .. } => unreachable!(),
        }
    }

    /// Every name under the root (files, and folders: on disk as they are, in an object
    /// store the prefixes of the names), with the bytes and (on disk) mtime of each file.
    fn snapshot(&self) -> Snapshot {
        match &self.store {
            Store::Disk { root, .. } => snapshot(root),
            _ => {
                let mut found = BTreeMap::new();
                for key in self.all_keys() {
                    if let Some(path) = key.strip_prefix(&Self::key("")) {
                        for folder in parents(path) {
                            found.insert(folder.to_string(), None);
                        }
                        found.insert(path.to_string(), Some((self.bytes(path), None)));
                    }
                }
                found
            }
        }
    }

    /// Every name under the root, sorted (as `snapshot`, without reading the files).
    fn tree(&self) -> Vec<String> {
        match &self.store {
            Store::Disk { root, .. } => snapshot(root).into_keys().collect(),
            _ => {
                let mut found = BTreeSet::new();
                for key in self.all_keys() {
                    if let Some(path) = key.strip_prefix(&Self::key("")) {
                        found.extend(parents(path).map(str::to_string));
                        found.insert(path.to_string());
                    }
                }
                found.into_iter().collect()
            }
        }
    }

    /// What `tree` must be with `files` and the empty folders `folders` made: the files,
    /// their parents, and (where folders are real) the empty folders and theirs.
    fn expected_tree(&self, files: &[&str], folders: &[&str]) -> Vec<String> {
        let mut expected = BTreeSet::new();
        for file in files {
            expected.extend(parents(file).map(str::to_string));
            expected.insert(file.to_string());
        }
        if self.caps.folders == Folders::Real {
            for folder in folders {
                expected.extend(parents(folder).map(str::to_string));
                expected.insert(folder.to_string());
            }
        }
        expected.into_iter().collect()
    }

    /// Put `outside.txt` beside the root (at the bucket's top), outside the remote.
    fn plant_outside(&self) {
        match &self.store {
            Store::Disk { outside, .. } => {
                std::fs::write(outside.join("outside.txt"), b"outside").unwrap()
            }
            Store::S3(moto) => moto.put_object(BUCKET, "outside.txt", b"outside"),
            Store::Azure(azurite) => azurite.put_blob(BUCKET, "outside.txt", b"outside"),
        }
    }

    /// An absolute path to `outside.txt` as the transport would see it.
    fn absolute_outside(&self) -> String {
        match &self.store {
            Store::Disk { outside, .. } => outside.join("outside.txt").to_str().unwrap().into(),
            _ => "/outside.txt".into(),
        }
    }

    /// Everything outside the root (names, bytes, mtimes on disk).
    fn outside_snapshot(&self) -> Snapshot {
        match &self.store {
            Store::Disk { outside, .. } => {
                let mut found = snapshot(outside);
                found.retain(|name, _| name != ROOT && !name.starts_with(&format!("{ROOT}/")));
                found
            }
            Store::S3(moto) => self
                .all_keys()
                .into_iter()
                .filter(|key| !key.starts_with(&Self::key("")))
                .map(|key| {
                    let bytes = moto.object_bytes(BUCKET, &key);
                    (key, Some((bytes, None)))
                })
                .collect(),
            Store::Azure(azurite) => self
                .all_keys()
                .into_iter()
                .filter(|key| !key.starts_with(&Self::key("")))
                .map(|key| {
                    let bytes = azurite.blob_bytes(BUCKET, &key);
                    (key, Some((bytes, None)))
                })
                .collect(),
        }
    }

    /// The staged uploads of `path` the store still keeps (S3: multipart uploads begun and
    /// neither completed nor aborted; Azure: uncommitted blocks).
    fn staged(&self, path: &str) -> usize {
        let key = Self::key(path);
        match &self.store {
            Store::S3(moto) => moto
                .multipart_uploads(BUCKET)
                .iter()
                .filter(|(name, _)| *name == key)
                .count(),
            Store::Azure(azurite) => azurite.uncommitted_blocks(BUCKET, &key).len(),
            Store::Disk { .. } => unreachable!(),
        }
    }
}

async fn connect(config: &Config) -> Arc<dyn Remote> {
    remote::connect(&config.remotes["t"], Role::Destination)
        .await
        .unwrap_or_else(|e| panic!("connect: {e:?}"))
}

/// The folders above `path`, nearest the root first.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(at, _)| &path[..at])
}

fn at_secs(seconds: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
}

/// `reported` is a time the store took between `from` and `to` (the same instant for a
/// time set from outside), kept to within `precision` (stores truncate).
fn assert_time(
    reported: Option<SystemTime>,
    from: SystemTime,
    to: SystemTime,
    precision: Duration,
    what: &str,
) {
    let reported = reported.unwrap_or_else(|| panic!("{what}: no mtime"));
    assert!(
        reported <= to && reported + precision > from,
        "{what}: {reported:?} is not within {precision:?} of {from:?}..={to:?}"
    );
}

/// Every listed entry by path (asserting each came once), and anything else listed.
async fn list(remote: &dyn Remote) -> (BTreeMap<String, RemoteEntry>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut others = Vec::new();
    remote
        .list(&mut |listed| match listed {
            Listed::Entry(entry) => {
                let path = entry.path.clone();
                assert!(
                    entries.insert(path.clone(), entry).is_none(),
                    "{path} twice"
                );
            }
            other => others.push(format!("{other:?}")),
        })
        .await
        .expect("list");
    (entries, others)
}

async fn write_all(remote: &dyn Remote, path: &str, offset: u64, data: &[u8]) {
    let mut writer = remote.write(path, offset).await.expect("open to write");
    for chunk in data.chunks(64 * 1024) {
        writer.write_all(chunk).await.expect("write");
    }
    writer.shutdown().await.expect("shutdown");
}

/// The error of writing a byte to `path` from 0: when it is opened, or at the latest when
/// the writer is shut down (an upload may be refused only when it is complete).
async fn write_fails(remote: &dyn Remote, path: &str) -> RemoteError {
    let mut writer = match remote.write(path, 0).await {
        Err(error) => return error,
        Ok(writer) => writer,
    };
    let result = async {
        writer.write_all(b"x").await?;
        writer.shutdown().await
    }
    .await;
    match result {
        Ok(()) => panic!("writing {path} succeeded, should have failed"),
        Err(error) => RemoteError::io(Operation::Write, Some(path), &error),
    }
}

async fn read_all(remote: &dyn Remote, path: &str, offset: u64) -> Vec<u8> {
    let mut reader = remote.read(path, offset).await.expect("open to read");
    let mut data = Vec::new();
    reader.read_to_end(&mut data).await.expect("read");
    data
}

fn failed<T: std::fmt::Debug>(result: Result<T, RemoteError>, operation: Operation) -> RemoteError {
    match result {
        Ok(value) => panic!("{operation:?} succeeded ({value:?}), should have failed"),
        Err(error) => {
            assert_eq!(error.operation, operation, "{error:?}");
            error
        }
    }
}

/// Each name under a root (files and folders), with a file's bytes and mtime.
type Snapshot = BTreeMap<String, Option<(Vec<u8>, Option<SystemTime>)>>;

/// Names (recursively, relative) and, for files, bytes and mtime under `dir`.
fn snapshot(dir: &Path) -> Snapshot {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
                found.insert(name, None);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.insert(name, Some((bytes, Some(meta.modified().unwrap()))));
            }
        }
    }
    found
}

/// For a transport that speaks HTTP, `error` must carry the server's `status` as its code.
/// For S3 and Azure that status is read by ferry out of object_store's error text
/// (`host/src/remote/http.rs`, `store_error`): these assertions are the tests that fail
/// when an object_store upgrade changes that text.
fn assert_status(b: &Backend, error: &RemoteError, status: u16) {
    if b.speaks_http() {
        assert_eq!(error.code, Some(ErrorCode::HttpStatus(status)), "{error:?}");
    }
}

mod cases {
    use super::*;

    pub async fn list_empty_root(b: &Backend) {
        let (entries, others) = list(&*b.remote).await;
        assert!(
            entries.is_empty() && others.is_empty(),
            "{entries:?} {others:?}"
        );
    }

    pub async fn list_nested_tree(b: &Backend) {
        let files = [
            ("top.txt", 1usize),
            ("a/one.bin", 10),
            ("a/b/two.bin", 200),
            ("a/b/c/three.bin", 3000),
            ("a/b/c/empty", 0),
        ];
        let before = SystemTime::now();
        for (index, (path, size)) in files.iter().enumerate() {
            let mtime = at_secs(1_600_000_000 + index as u64 * 1000, 123);
            b.make_file(path, &noise(*size, index as u64), mtime);
        }
        match b.caps.folders {
            Folders::Real => b.make_folder("a/b/empty-folder"),
            // Nothing to make: the folder is neither kept nor listed.
            Folders::Prefixes => b.remote.mkdir_all("a/b/empty-folder").await.expect("mkdir"),
        }
        let after = SystemTime::now();
        let (entries, others) = list(&*b.remote).await;
        assert!(others.is_empty(), "{others:?}");
        let mut expected: BTreeMap<String, (Kind, u64)> = files
            .iter()
            .map(|(path, size)| (path.to_string(), (Kind::File, *size as u64)))
            .collect();
        let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        for folder in b.expected_tree(&paths, &["a/b/empty-folder"]) {
            expected.entry(folder).or_insert((Kind::Directory, 0));
        }
        let got: BTreeMap<String, (Kind, u64)> = entries
            .values()
            .map(|e| (e.path.clone(), (e.kind, e.size)))
            .collect();
        assert_eq!(got, expected);
        for entry in entries.values() {
            match (b.stored_mtime(&entry.path), entry.kind, b.caps.folders) {
                // Set on disk: reported as it is there, to within the precision.
                (Some(mtime), _, _) => {
                    assert_time(entry.mtime, mtime, mtime, b.precision(), &entry.path)
                }
                // An object: the time of its upload.
                (None, Kind::File, _) => {
                    assert_time(entry.mtime, before, after, b.precision(), &entry.path)
                }
                // A prefix has no time of its own.
                (None, Kind::Directory, Folders::Prefixes) => {
                    assert_eq!(entry.mtime, None, "{}", entry.path)
                }
                (None, Kind::Directory, Folders::Real) => unreachable!(),
            }
        }
    }

    pub async fn unicode_and_odd_names(b: &Backend) {
        let names = [
            "日本語/ファイル.csv",
            "ünïcødé",
            "emoji 🚀📦.txt",
            "with spaces/and more spaces .txt",
            "..x",
            "a..b/..hidden",
        ];
        for (index, name) in names.iter().enumerate() {
            if let Some((parent, _)) = name.rsplit_once('/') {
                b.remote.mkdir_all(parent).await.expect("mkdir_all");
            }
            let data = format!("{index}: {name}").into_bytes();
            b.remote.put(name, data.clone(), None).await.expect("put");
            assert_eq!(b.bytes(name), data, "{name} in the store");
            assert_eq!(b.remote.get(name, data.len() as u64).await.unwrap(), data);
            let stat = b.remote.stat(name).await.unwrap().expect("stat");
            assert_eq!((stat.kind, stat.size), (Kind::File, data.len() as u64));
        }
        let (entries, others) = list(&*b.remote).await;
        assert!(others.is_empty(), "{others:?}");
        let files: Vec<&str> = entries
            .values()
            .filter(|e| e.kind == Kind::File)
            .map(|e| e.path.as_str())
            .collect();
        let mut expected = names.to_vec();
        expected.sort();
        assert_eq!(files, expected);
        assert_eq!(b.tree(), b.expected_tree(&names, &[]));
    }

    pub async fn zero_byte_file(b: &Backend) {
        b.remote
            .put("empty.bin", Vec::new(), None)
            .await
            .expect("put");
        write_all(&*b.remote, "streamed-empty.bin", 0, b"").await;
        for path in ["empty.bin", "streamed-empty.bin"] {
            assert_eq!(b.bytes(path), b"", "{path} in the store");
            let stat = b.remote.stat(path).await.unwrap().expect("stat");
            assert_eq!((stat.kind, stat.size), (Kind::File, 0));
            assert_eq!(b.remote.get(path, 0).await.unwrap(), b"");
            assert_eq!(read_all(&*b.remote, path, 0).await, b"");
        }
        let (entries, _) = list(&*b.remote).await;
        let sizes: Vec<(&str, u64)> = entries
            .values()
            .map(|e| (e.path.as_str(), e.size))
            .collect();
        assert_eq!(sizes, [("empty.bin", 0), ("streamed-empty.bin", 0)]);
    }

    pub async fn large_stream(b: &Backend) {
        let data = noise(20 * 1024 * 1024 + 17, 20);
        write_all(&*b.remote, "big.bin", 0, &data).await;
        assert!(b.bytes("big.bin") == data, "in the store");
        let stat = b.remote.stat("big.bin").await.unwrap().expect("stat");
        assert_eq!(stat.size, data.len() as u64);
        assert!(
            read_all(&*b.remote, "big.bin", 0).await == data,
            "read whole"
        );
        let offset = 7_777_777;
        assert!(read_all(&*b.remote, "big.bin", offset).await == data[offset as usize..]);
    }

    /// Reading from a file's length on gives nothing (not an error): what continuing a
    /// download that already holds every byte does.
    pub async fn read_from_the_end(b: &Backend) {
        b.make_file("whole.bin", b"every byte", at_secs(1_600_000_000, 0));
        b.make_file("empty.bin", b"", at_secs(1_600_000_000, 0));
        assert_eq!(read_all(&*b.remote, "whole.bin", 9).await, b"e");
        for (path, length) in [("whole.bin", 10), ("empty.bin", 0)] {
            let end = read_all(&*b.remote, path, length).await;
            assert!(
                end.is_empty(),
                "{path} read at its end: {} bytes",
                end.len()
            );
        }
    }

    pub async fn put_with_mtime(b: &Backend) {
        let mtime = at_secs(1_500_000_000, 250);
        let before = SystemTime::now();
        b.remote
            .put("dated.txt", b"dated".to_vec(), Some(mtime))
            .await
            .expect("put");
        let after = SystemTime::now();
        // What the store keeps: the mtime asked for, or the time of the upload.
        let (from, to) = match b.caps.mtimes {
            Mtimes::Settable(_) => (mtime, mtime),
            Mtimes::UploadTime(_) => (before, after),
        };
        let stat = b.remote.stat("dated.txt").await.unwrap().expect("stat");
        assert_eq!((stat.kind, stat.size), (Kind::File, 5));
        assert_time(stat.mtime, from, to, b.precision(), "stat");
        let version = b
            .remote
            .version("dated.txt")
            .await
            .unwrap()
            .expect("version");
        assert_eq!((version.size, version.mtime), (5, stat.mtime));
        if let Some(stored) = b.stored_mtime("dated.txt") {
            assert_time(stat.mtime, stored, stored, b.precision(), "on disk");
        }
        // set_mtime alone, later than the first.
        let later = at_secs(1_600_000_000, 0);
        let set = b
            .remote
            .set_mtime("dated.txt", later)
            .await
            .expect("set_mtime");
        let stat_after = b.remote.stat("dated.txt").await.unwrap().expect("stat");
        match b.caps.mtimes {
            Mtimes::Settable(_) => {
                assert!(set, "set_mtime on a Settable store");
                assert_eq!(stat_after.mtime, Some(later));
            }
            Mtimes::UploadTime(_) => {
                assert!(!set, "set_mtime on an UploadTime store answers Ok(false)");
                assert_eq!(stat_after.mtime, stat.mtime, "and changes nothing");
            }
        }
        assert_eq!(b.bytes("dated.txt"), b"dated");
    }

    pub async fn rename_replaces(b: &Backend) {
        b.remote
            .put("report.csv", b"old contents".to_vec(), None)
            .await
            .unwrap();
        b.remote
            .put("report.csv.part", b"new".to_vec(), None)
            .await
            .unwrap();
        b.remote
            .rename("report.csv.part", "report.csv")
            .await
            .expect("rename");
        assert_eq!(b.remote.get("report.csv", 100).await.unwrap(), b"new");
        assert_eq!(b.remote.stat("report.csv.part").await.unwrap(), None);
        assert_eq!(
            b.tree(),
            ["report.csv"],
            "nothing else left (no *.ferry-old)"
        );
        assert_eq!(b.bytes("report.csv"), b"new");
        // Into another folder, onto a free name.
        b.remote.mkdir_all("x/y").await.unwrap();
        b.remote
            .rename("report.csv", "x/y/moved.csv")
            .await
            .expect("rename");
        assert_eq!(b.tree(), ["x", "x/y", "x/y/moved.csv"]);
        assert_eq!(b.bytes("x/y/moved.csv"), b"new");
    }

    pub async fn resume_interrupted_upload(b: &Backend) {
        match b.caps.resume {
            Resume::Append => resume_by_appending(b).await,
            Resume::Parts => resume_by_parts(b).await,
            Resume::Restart => resume_by_restarting(b).await,
        }
    }

    /// Half of `data` to `up.part`, then the writer dropped without being shut down.
    async fn write_half_and_drop(b: &Backend, data: &[u8]) {
        let mut writer = b.remote.write("up.part", 0).await.expect("write");
        writer
            .write_all(&data[..data.len() / 2])
            .await
            .expect("write");
        drop(writer);
    }

    /// `Resume::Append`: whatever reached the server is continued from its end.
    async fn resume_by_appending(b: &Backend) {
        let data = noise(3 * 1024 * 1024 + 5, 3);
        write_half_and_drop(b, &data).await;
        // Whatever reached the server is continued from its end, as a later run does.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later = b.reconnect().await;
        let kept = later
            .stat("up.part")
            .await
            .unwrap()
            .expect("partial file")
            .size;
        assert!(kept <= data.len() as u64 / 2, "{kept}");
        assert!(
            data.starts_with(&b.bytes("up.part")),
            "the partial file is a prefix"
        );
        write_all(&*later, "up.part", kept, &data[kept as usize..]).await;
        assert!(b.bytes("up.part") == data, "resumed");
        // Shut down after a third, then continued from there.
        write_all(&*b.remote, "second.part", 0, &data[..data.len() / 3]).await;
        write_all(
            &*b.remote,
            "second.part",
            data.len() as u64 / 3,
            &data[data.len() / 3..],
        )
        .await;
        assert!(
            read_all(&*b.remote, "second.part", 0).await == data,
            "resumed"
        );
        // Continuing past the end is refused and leaves the file as it was.
        let past = b.remote.write("second.part", data.len() as u64 + 1).await;
        failed(past.map(|_| ()), Operation::Write);
        assert!(b.bytes("second.part") == data, "unchanged");
    }

    /// `Resume::Parts` (with `Commit::Staged`): the parts stored are committed by a later
    /// connection; nothing shows under the name before.
    async fn resume_by_parts(b: &Backend) {
        let data = noise(2 * PART + 1234, 3);
        // A writer dropped before it is shut down leaves nothing under the name.
        let mut writer = b.remote.write("dropped.bin", 0).await.expect("write");
        writer.write_all(&data[..PART]).await.expect("write");
        drop(writer);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(b.remote.stat("dropped.bin").await.unwrap(), None);
        // One part stored, then the run interrupted.
        let id = b.remote.begin_staged("up.bin").await.expect("begin_staged");
        let first = b
            .remote
            .put_part("up.bin", &id, 0, data[..PART].to_vec().into())
            .await
            .expect("put_part");
        assert_eq!(
            b.remote.stat("up.bin").await.unwrap(),
            None,
            "not committed"
        );
        assert_eq!(b.tree(), Vec::<String>::new(), "nothing under any name");
        assert_eq!(b.staged("up.bin"), 1, "the store keeps the part");
        // A later run sends the other parts and commits them all.
        let later = b.reconnect().await;
        let second = later
            .put_part("up.bin", &id, 1, data[PART..2 * PART].to_vec().into())
            .await
            .expect("put_part");
        let last = later
            .put_part("up.bin", &id, 2, data[2 * PART..].to_vec().into())
            .await
            .expect("put_part");
        later
            .commit_staged("up.bin", &id, &[first, second, last])
            .await
            .expect("commit_staged");
        assert!(b.bytes("up.bin") == data, "committed whole");
        let stat = b.remote.stat("up.bin").await.unwrap().expect("stat");
        assert_eq!((stat.kind, stat.size), (Kind::File, data.len() as u64));
        // An upload given up leaves nothing under its name; the file already there stays.
        let id = later.begin_staged("up.bin").await.expect("begin_staged");
        later
            .put_part("up.bin", &id, 0, noise(PART, 9).into())
            .await
            .expect("put_part");
        later
            .abort_staged("up.bin", &id)
            .await
            .expect("abort_staged");
        assert!(b.bytes("up.bin") == data, "the committed file is untouched");
        assert_eq!(b.tree(), ["up.bin"]);
        if b.transport == Transport::S3 {
            // S3 drops the parts; Azure cannot (uncommitted blocks expire in a week).
            assert_eq!(b.staged("up.bin"), 0, "the aborted upload is gone");
        }
        // Writing on from the middle is refused, and leaves the file as it was.
        failed(
            b.remote.write("up.bin", PART as u64).await.map(|_| ()),
            Operation::Write,
        );
        assert!(b.bytes("up.bin") == data, "unchanged");
    }

    /// `Resume::Restart`: no upload is continued: `write(path, offset > 0)` is an error,
    /// and the upload starts again from its first byte.
    async fn resume_by_restarting(b: &Backend) {
        let data = noise(3 * 1024 * 1024 + 5, 3);
        write_half_and_drop(b, &data).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later = b.reconnect().await;
        // The server may keep what it got, but never takes it for more than a prefix.
        let kept = match later.stat("up.part").await.unwrap() {
            Some(entry) => {
                assert!(data.starts_with(&b.bytes("up.part")), "a prefix");
                assert!(entry.size < data.len() as u64, "{}", entry.size);
                entry.size
            }
            None => 0,
        };
        failed(
            later.write("up.part", kept.max(1)).await.map(|_| ()),
            Operation::Write,
        );
        write_all(&*later, "up.part", 0, &data).await;
        assert!(b.bytes("up.part") == data, "restarted");
        // A complete third is not continued either.
        write_all(&*b.remote, "second.part", 0, &data[..data.len() / 3]).await;
        failed(
            b.remote
                .write("second.part", data.len() as u64 / 3)
                .await
                .map(|_| ()),
            Operation::Write,
        );
        assert!(
            b.bytes("second.part") == data[..data.len() / 3],
            "unchanged"
        );
        write_all(&*b.remote, "second.part", 0, &data).await;
        assert!(
            read_all(&*b.remote, "second.part", 0).await == data,
            "restarted"
        );
    }

    pub async fn delete_files_and_folders(b: &Backend) {
        b.remote.put("file.txt", b"x".to_vec(), None).await.unwrap();
        b.remote.mkdir_all("empty/inner").await.unwrap();
        b.remote.mkdir_all("full").await.unwrap();
        b.remote
            .put("full/keep.txt", b"keep".to_vec(), None)
            .await
            .unwrap();
        assert_eq!(
            b.tree(),
            b.expected_tree(&["file.txt", "full/keep.txt"], &["empty/inner"])
        );
        b.remote
            .delete("file.txt", Kind::File)
            .await
            .expect("delete a file");
        b.remote
            .delete("empty/inner", Kind::Directory)
            .await
            .expect("delete a folder");
        b.remote
            .delete("empty", Kind::Directory)
            .await
            .expect("delete a folder");
        let full = b.remote.delete("full", Kind::Directory).await;
        match b.caps.folders {
            Folders::Real => drop(failed(full, Operation::Delete)),
            // A prefix goes with the last name under it, not before.
            Folders::Prefixes => full.expect("delete of a prefix is Ok and removes nothing"),
        }
        assert_eq!(b.tree(), ["full", "full/keep.txt"]);
        assert_eq!(b.bytes("full/keep.txt"), b"keep");
        assert_eq!(b.remote.stat("file.txt").await.unwrap(), None);
    }

    pub async fn missing_paths(b: &Backend) {
        b.remote.mkdir_all("here").await.unwrap();
        for path in ["missing", "here/missing", "missing/deeper.txt"] {
            assert_eq!(b.remote.stat(path).await.unwrap(), None, "{path}");
            assert_eq!(b.remote.version(path).await.unwrap(), None, "{path}");
            let error = failed(b.remote.read(path, 0).await.map(|_| ()), Operation::Read);
            assert_status(b, &error, 404);
            let error = failed(b.remote.get(path, 10).await, Operation::Read);
            assert_status(b, &error, 404);
            let error = failed(
                b.remote.rename(path, "here/target").await,
                Operation::Rename,
            );
            assert_status(b, &error, 404);
        }
        assert_eq!(b.tree(), b.expected_tree(&[], &["here"]));
    }

    /// Deleting what is not there: an error saying so (404 over HTTP), except where the
    /// store's delete is idempotent (S3's DeleteObject answers 204 for a missing key) and
    /// for folders that are only prefixes (deleting one is always `Ok`).
    pub async fn delete_missing_paths(b: &Backend) {
        b.remote.mkdir_all("here").await.unwrap();
        b.make_file("kept.txt", b"kept", at_secs(1_600_000_000, 0));
        for path in ["missing", "here/missing", "missing/deeper.txt"] {
            let deleted = b.remote.delete(path, Kind::File).await;
            match b.transport {
                // An object store's delete is idempotent: the key is gone, as wanted.
                Transport::S3 | Transport::Azure => deleted.expect("a missing key is Ok"),
                _ => assert_status(b, &failed(deleted, Operation::Delete), 404),
            }
            let deleted = b.remote.delete(path, Kind::Directory).await;
            match b.caps.folders {
                Folders::Real => drop(failed(deleted, Operation::Delete)),
                Folders::Prefixes => deleted.expect("delete of a prefix is Ok"),
            }
        }
        assert_eq!(b.tree(), b.expected_tree(&["kept.txt"], &["here"]));
    }

    /// Writes refused by the server: a folder of mode 0555 (local, sftp), a read-only
    /// server or credentials (webdav, s3, azure). Reads still work; `put`, `mkdir_all`
    /// (where folders are real) and `rename` are refused, over HTTP with 403 as the code.
    pub async fn read_only_folder(b: &Backend) {
        denied_writes(b, Denied::PutMkdirRename).await
    }

    /// The same, for a streamed write (`write`, then `shutdown`): as `put`, 403.
    pub async fn read_only_streamed_write(b: &Backend) {
        denied_writes(b, Denied::Streamed).await
    }

    /// The same, for `delete` of a file: 403.
    pub async fn read_only_delete(b: &Backend) {
        denied_writes(b, Denied::Delete).await
    }

    /// Which refusals must carry the server's status (each is a case of its own, so that
    /// a transport losing the status of one does not hide the others). Every write is
    /// refused in each case, and nothing changes.
    #[derive(PartialEq)]
    enum Denied {
        PutMkdirRename,
        Streamed,
        Delete,
    }

    async fn denied_writes(b: &Backend, checked: Denied) {
        if b.transport == Transport::Local && is_root() {
            // The local transport writes as this process, and root ignores mode 0555.
            eprintln!("skipped: local writes as root, which a read-only folder cannot deny");
            return;
        }
        let twin = b.read_only_twin().await;
        let ro = twin.as_ref().unwrap_or(b);
        let status = |error: RemoteError, of: Denied| {
            if of == checked {
                ro.assert_refused(&error);
            }
        };
        let before = ro.snapshot();
        assert_eq!(
            ro.remote.get("ro/kept.txt", 4).await.expect("read"),
            b"kept"
        );
        // On a connection of its own: wsgidav (cheroot) answers a refused streamed PUT
        // before reading its body and keeps the connection, so the next request sent on
        // it is read from the middle of that body and answered 400 Bad Request.
        let error = write_fails(&*ro.reconnect().await, "ro/new.txt").await;
        assert_eq!(error.operation, Operation::Write, "{error:?}");
        status(error, Denied::Streamed);
        let error = failed(
            ro.remote.put("ro/new.txt", b"x".to_vec(), None).await,
            Operation::Write,
        );
        status(error, Denied::PutMkdirRename);
        let made = ro.remote.mkdir_all("ro/sub").await;
        match ro.caps.folders {
            Folders::Real => status(failed(made, Operation::Mkdir), Denied::PutMkdirRename),
            Folders::Prefixes => made.expect("nothing to make: Ok"),
        }
        let error = failed(
            ro.remote.delete("ro/kept.txt", Kind::File).await,
            Operation::Delete,
        );
        status(error, Denied::Delete);
        let error = failed(
            ro.remote.rename("ro/kept.txt", "ro/moved.txt").await,
            Operation::Rename,
        );
        status(error, Denied::PutMkdirRename);
        let after = ro.snapshot();
        b.release();
        assert_eq!(after, before);
    }

    /// Nothing outside the root is read, changed or created through the remote.
    pub async fn paths_leaving_the_root(b: &Backend) {
        plant(b);
        let before = b.outside_snapshot();
        assert!(before.contains_key("outside.txt"), "{before:?}");
        try_to_leave(b).await;
        assert_eq!(b.outside_snapshot(), before);
        assert_eq!(b.bytes("inside.txt"), b"inside");
    }

    /// A refused path changes nothing inside the root either.
    pub async fn refused_paths_leave_no_trace(b: &Backend) {
        plant(b);
        let before = b.snapshot();
        try_to_leave(b).await;
        assert_eq!(b.snapshot(), before);
    }

    /// `outside.txt` beside the root, `inside.txt` in it.
    fn plant(b: &Backend) {
        b.plant_outside();
        b.make_file("inside.txt", b"inside", at_secs(1_600_000_000, 0));
    }

    /// Every operation with paths that leave the root, each of which must fail.
    async fn try_to_leave(b: &Backend) {
        let absolute = b.absolute_outside();
        let escapes = [
            "../outside.txt",
            &absolute,
            "sub/../../outside.txt",
            "../root/../outside.txt",
        ];
        let r = &*b.remote;
        for path in escapes
            .iter()
            .copied()
            .chain(["/etc/passwd", "..", "../new-folder/x"])
        {
            // Refused, or not found (a missing folder on the way): never what is outside.
            assert!(!matches!(r.stat(path).await, Ok(Some(_))), "stat {path}");
            assert!(
                !matches!(r.version(path).await, Ok(Some(_))),
                "version {path}"
            );
            assert!(r.read(path, 0).await.is_err(), "read {path}");
            assert!(r.get(path, 100).await.is_err(), "get {path}");
        }
        for path in escapes
            .iter()
            .copied()
            .chain(["../new.txt", "../new-folder/x"])
        {
            assert!(r.write(path, 0).await.is_err(), "write {path}");
            assert!(r.write(path, 3).await.is_err(), "write {path} at 3");
            assert!(
                r.put(path, b"x".to_vec(), None).await.is_err(),
                "put {path}"
            );
            assert!(r.mkdir_all(path).await.is_err(), "mkdir_all {path}");
            assert!(r.delete(path, Kind::File).await.is_err(), "delete {path}");
            assert!(
                r.set_mtime(path, at_secs(1, 0)).await.is_err(),
                "set_mtime {path}"
            );
            assert!(
                r.rename("inside.txt", path).await.is_err(),
                "rename to {path}"
            );
            assert!(
                r.rename(path, "stolen.txt").await.is_err(),
                "rename from {path}"
            );
            assert!(r.begin_staged(path).await.is_err(), "begin_staged {path}");
        }
        assert!(
            r.delete("../root", Kind::Directory).await.is_err(),
            "delete the root"
        );
        assert!(
            r.delete("..", Kind::Directory).await.is_err(),
            "delete the root's parent"
        );
    }

    pub async fn mkdir_all_existing_and_under_a_file(b: &Backend) {
        b.remote
            .mkdir_all("one/two/three")
            .await
            .expect("mkdir_all");
        b.remote.mkdir_all("one/two/three").await.expect("again");
        b.remote.mkdir_all("one").await.expect("a parent");
        for folder in ["one", "one/two", "one/two/three"] {
            let stat = b.remote.stat(folder).await.unwrap();
            match b.caps.folders {
                Folders::Real => {
                    assert_eq!(stat.expect("stat").kind, Kind::Directory, "{folder}")
                }
                // An empty folder is not kept.
                Folders::Prefixes => assert_eq!(stat, None, "{folder}"),
            }
        }
        b.remote.put("one/file", b"f".to_vec(), None).await.unwrap();
        for path in ["one/file", "one/file/sub", "one/file/sub/deeper"] {
            let made = b.remote.mkdir_all(path).await;
            match b.caps.folders {
                Folders::Real => drop(failed(made, Operation::Mkdir)),
                // mkdir_all makes nothing, so nothing stands in the way.
                Folders::Prefixes => made.expect("nothing to make: Ok"),
            }
        }
        assert_eq!(b.bytes("one/file"), b"f");
        let stat = b.remote.stat("one").await.unwrap().expect("stat");
        assert_eq!(stat.kind, Kind::Directory);
        assert_eq!(b.tree(), b.expected_tree(&["one/file"], &["one/two/three"]));
    }

    fn is_root() -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    }
}

/// One `#[test]` per case for the transport `Backend::$transport` opens.
macro_rules! transport {
    ($transport:ident) => {
        mod $transport {
            macro_rules! case {
                ($case:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let backend = super::Backend::$transport().await;
                        super::cases::$case(&backend).await;
                    }
                };
            }
            case!(list_empty_root);
            case!(list_nested_tree);
            case!(unicode_and_odd_names);
            case!(zero_byte_file);
            case!(large_stream);
            case!(read_from_the_end);
            case!(put_with_mtime);
            case!(rename_replaces);
            case!(resume_interrupted_upload);
            case!(delete_files_and_folders);
            case!(missing_paths);
            case!(delete_missing_paths);
            case!(read_only_folder);
            case!(read_only_delete);
            case!(read_only_streamed_write);
            case!(paths_leaving_the_root);
            case!(refused_paths_leave_no_trace);
            case!(mkdir_all_existing_and_under_a_file);
        }
    };
}

transport!(local);
transport!(sftp);
transport!(webdav);
transport!(rclone_webdav);
transport!(s3);
transport!(azure);
