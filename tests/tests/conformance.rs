//! The transport conformance suite (issue 14; rclone's `fstest/fstests` is the model): one
//! set of cases, written once over `&dyn Remote` and the folder behind it, run against every
//! transport — `local` (a temporary folder) and `sftp` (a real OpenSSH sshd on loopback) —
//! as one test per transport and case (`local::zero_byte_file`, `sftp::zero_byte_file`, …).
//!
//! Cases: listing an empty root and a nested tree (every entry once, kind, size, mtime within
//! the transport's precision); unicode, spaced and `..x` names; a zero-byte file; a 20 MiB
//! stream read back whole and from an offset; `put` with an mtime then `stat`/`version`;
//! `rename` replacing an existing file; an interrupted upload resumed; deletes (a file, an
//! empty folder, a non-empty folder refused); errors for missing paths; writes denied by a
//! read-only folder; paths leaving the root refused by every operation, touching nothing
//! outside the root nor (a separate case) inside it; `mkdir_all` of an existing folder and
//! under a file.
//!
//! Every remote's root is `root/` inside a folder the login user may write to, so that a
//! path leaving the root would really land outside it if a transport let it through.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry::config::Config;
use ferry::plugin::Operation;
use ferry::remote::{self, Kind, Listed, Remote, RemoteEntry, RemoteError, Role};
use ferry_tests::noise;
use ferry_tests::sshd::Sshd;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One transport opened on a fresh root, with the folder behind it on this machine.
pub struct Backend {
    remote: Arc<dyn Remote>,
    /// The remote's root on disk.
    root: PathBuf,
    /// The folder holding the root: nothing in it may change through the remote.
    outside: PathBuf,
    /// Whether the transport keeps mtimes in whole seconds (SFTP v3) instead of nanoseconds.
    whole_seconds: bool,
    /// Whether the transport writes as this process's user (then root cannot be denied).
    writes_as_self: bool,
    sshd: Option<Sshd>,
    _dir: Option<TempDir>,
}

impl Backend {
    async fn local() -> Backend {
        let dir = TempDir::new().unwrap();
        let outside = dir.path().to_path_buf();
        let toml = format!(
            "[remotes.t]\ntype = \"local\"\npath = \"{}\"\n",
            outside.join("root").display()
        );
        Backend::open(&toml, outside, false, true, None, Some(dir)).await
    }

    async fn sftp() -> Backend {
        let sshd = Sshd::start();
        let outside = sshd.root.clone();
        let root = format!("root = \"{}\"", outside.join("root").display());
        let toml = sshd
            .remote_toml("t", sshd.port, &sshd.key_file, &sshd.known_hosts)
            .replace(&format!("root = \"{}\"", outside.display()), &root);
        assert!(toml.contains(&root), "{toml}");
        std::fs::create_dir(outside.join("root")).unwrap();
        sshd.give(&outside);
        Backend::open(&toml, outside, true, false, Some(sshd), None).await
    }

    async fn open(
        toml: &str,
        outside: PathBuf,
        whole_seconds: bool,
        writes_as_self: bool,
        sshd: Option<Sshd>,
        dir: Option<TempDir>,
    ) -> Backend {
        let config = Config::parse(toml, &outside.join("ferry.toml")).expect("config");
        let remote = remote::connect(&config.remotes["t"], Role::Destination)
            .await
            .unwrap_or_else(|e| panic!("connect: {e:?}"));
        Backend {
            remote,
            root: outside.join("root"),
            outside,
            whole_seconds,
            writes_as_self,
            sshd,
            _dir: dir,
        }
    }

    /// The file or folder at `path` under the root, on disk.
    fn at(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// Write a file on disk (parents made), owned by the login user, with `mtime`.
    fn make_file(&self, path: &str, data: &[u8], mtime: SystemTime) {
        let file = self.at(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, data).unwrap();
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(mtime).unwrap();
        self.hand_over();
    }

    /// Hand everything made on disk as this process to the login user.
    fn hand_over(&self) {
        if let Some(sshd) = &self.sshd {
            sshd.give(&self.outside);
        }
    }

    /// An mtime as this transport reports it.
    fn seen(&self, mtime: SystemTime) -> SystemTime {
        match self.whole_seconds {
            true => UNIX_EPOCH + Duration::from_secs(secs(mtime)),
            false => mtime,
        }
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn at_secs(seconds: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
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

/// Names (recursively, relative) and, for files, bytes and mtime under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, Option<(Vec<u8>, SystemTime)>> {
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
                found.insert(name, Some((bytes, meta.modified().unwrap())));
            }
        }
    }
    found
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
        for (index, (path, size)) in files.iter().enumerate() {
            let mtime = at_secs(1_600_000_000 + index as u64 * 1000, 123);
            b.make_file(path, &noise(*size, index as u64), mtime);
        }
        std::fs::create_dir_all(b.at("a/b/empty-folder")).unwrap();
        b.hand_over();
        let (entries, others) = list(&*b.remote).await;
        assert!(others.is_empty(), "{others:?}");
        let mut expected: BTreeMap<String, (Kind, u64)> = files
            .iter()
            .map(|(path, size)| (path.to_string(), (Kind::File, *size as u64)))
            .collect();
        for folder in ["a", "a/b", "a/b/c", "a/b/empty-folder"] {
            expected.insert(folder.to_string(), (Kind::Directory, 0));
        }
        let got: BTreeMap<String, (Kind, u64)> = entries
            .values()
            .map(|e| (e.path.clone(), (e.kind, e.size)))
            .collect();
        assert_eq!(got, expected);
        for entry in entries.values() {
            let on_disk = std::fs::metadata(b.at(&entry.path))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(entry.mtime, Some(b.seen(on_disk)), "{}", entry.path);
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
            assert_eq!(std::fs::read(b.at(name)).unwrap(), data, "{name} on disk");
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
    }

    pub async fn zero_byte_file(b: &Backend) {
        b.remote
            .put("empty.bin", Vec::new(), None)
            .await
            .expect("put");
        write_all(&*b.remote, "streamed-empty.bin", 0, b"").await;
        for path in ["empty.bin", "streamed-empty.bin"] {
            assert_eq!(std::fs::metadata(b.at(path)).unwrap().len(), 0);
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
        assert!(std::fs::read(b.at("big.bin")).unwrap() == data, "on disk");
        let stat = b.remote.stat("big.bin").await.unwrap().expect("stat");
        assert_eq!(stat.size, data.len() as u64);
        assert!(
            read_all(&*b.remote, "big.bin", 0).await == data,
            "read whole"
        );
        let offset = 7_777_777;
        assert!(read_all(&*b.remote, "big.bin", offset).await == data[offset as usize..]);
        let end = read_all(&*b.remote, "big.bin", data.len() as u64).await;
        assert!(end.is_empty(), "read at the end: {} bytes", end.len());
    }

    pub async fn put_with_mtime(b: &Backend) {
        let mtime = at_secs(1_500_000_000, 250);
        b.remote
            .put("dated.txt", b"dated".to_vec(), Some(mtime))
            .await
            .expect("put");
        let stat = b.remote.stat("dated.txt").await.unwrap().expect("stat");
        assert_eq!(
            (stat.kind, stat.size, stat.mtime),
            (Kind::File, 5, Some(b.seen(mtime)))
        );
        let version = b
            .remote
            .version("dated.txt")
            .await
            .unwrap()
            .expect("version");
        assert_eq!((version.size, version.mtime), (5, Some(b.seen(mtime))));
        let on_disk = std::fs::metadata(b.at("dated.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(b.seen(on_disk), b.seen(mtime));
        // set_mtime alone, later than the first.
        let later = at_secs(1_600_000_000, 0);
        assert!(b.remote.set_mtime("dated.txt", later).await.unwrap());
        let stat = b.remote.stat("dated.txt").await.unwrap().expect("stat");
        assert_eq!(stat.mtime, Some(later));
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
        let names: Vec<String> = snapshot(&b.root).into_keys().collect();
        assert_eq!(names, ["report.csv"], "nothing else left (no *.ferry-old)");
        // Into another folder, onto a free name.
        b.remote.mkdir_all("x/y").await.unwrap();
        b.remote
            .rename("report.csv", "x/y/moved.csv")
            .await
            .expect("rename");
        let names: Vec<String> = snapshot(&b.root).into_keys().collect();
        assert_eq!(names, ["x", "x/y", "x/y/moved.csv"]);
    }

    pub async fn resume_interrupted_upload(b: &Backend) {
        let data = noise(3 * 1024 * 1024 + 5, 3);
        // Half, then the writer dropped without being shut down.
        let mut writer = b.remote.write("up.part", 0).await.expect("write");
        writer
            .write_all(&data[..data.len() / 2])
            .await
            .expect("write");
        drop(writer);
        // Whatever reached the server is continued from its end, as a later run does.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let kept = b
            .remote
            .stat("up.part")
            .await
            .unwrap()
            .expect("partial file")
            .size;
        assert!(kept <= data.len() as u64 / 2, "{kept}");
        let on_disk = std::fs::read(b.at("up.part")).unwrap();
        assert!(data.starts_with(&on_disk), "the partial file is a prefix");
        write_all(&*b.remote, "up.part", kept, &data[kept as usize..]).await;
        assert!(std::fs::read(b.at("up.part")).unwrap() == data, "resumed");
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
        assert_eq!(
            std::fs::metadata(b.at("second.part")).unwrap().len(),
            data.len() as u64
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
        failed(
            b.remote.delete("full", Kind::Directory).await,
            Operation::Delete,
        );
        let names: Vec<String> = snapshot(&b.root).into_keys().collect();
        assert_eq!(names, ["full", "full/keep.txt"]);
        assert_eq!(std::fs::read(b.at("full/keep.txt")).unwrap(), b"keep");
    }

    pub async fn missing_paths(b: &Backend) {
        b.remote.mkdir_all("here").await.unwrap();
        for path in ["missing", "here/missing", "missing/deeper.txt"] {
            assert_eq!(b.remote.stat(path).await.unwrap(), None, "{path}");
            assert_eq!(b.remote.version(path).await.unwrap(), None, "{path}");
            failed(b.remote.read(path, 0).await.map(|_| ()), Operation::Read);
            failed(b.remote.get(path, 10).await, Operation::Read);
            failed(b.remote.delete(path, Kind::File).await, Operation::Delete);
            failed(
                b.remote.delete(path, Kind::Directory).await,
                Operation::Delete,
            );
            failed(
                b.remote.rename(path, "here/target").await,
                Operation::Rename,
            );
        }
        let names: Vec<String> = snapshot(&b.root).into_keys().collect();
        assert_eq!(names, ["here"]);
    }

    pub async fn read_only_folder(b: &Backend) {
        if b.writes_as_self && is_root() {
            // The local transport writes as this process, and root ignores mode 0555.
            eprintln!("skipped: local writes as root, which a read-only folder cannot deny");
            return;
        }
        b.make_file("ro/kept.txt", b"kept", at_secs(1_600_000_000, 0));
        std::fs::set_permissions(b.at("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let before = snapshot(&b.root);
        failed(
            b.remote.put("ro/new.txt", b"x".to_vec(), None).await,
            Operation::Write,
        );
        failed(
            b.remote.write("ro/new.txt", 0).await.map(|_| ()),
            Operation::Write,
        );
        failed(b.remote.mkdir_all("ro/sub").await, Operation::Mkdir);
        failed(
            b.remote.delete("ro/kept.txt", Kind::File).await,
            Operation::Delete,
        );
        failed(
            b.remote.rename("ro/kept.txt", "ro/moved.txt").await,
            Operation::Rename,
        );
        let after = snapshot(&b.root);
        std::fs::set_permissions(b.at("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(after, before);
    }

    /// Nothing outside the root is read, changed or created through the remote.
    pub async fn paths_leaving_the_root(b: &Backend) {
        let outside = |b: &Backend| {
            let mut found = snapshot(&b.outside);
            found.retain(|name, _| !name.starts_with("root"));
            found
        };
        plant(b);
        let before = outside(b);
        try_to_leave(b).await;
        assert_eq!(outside(b), before);
        assert_eq!(std::fs::read(b.at("inside.txt")).unwrap(), b"inside");
    }

    /// A refused path changes nothing inside the root either.
    pub async fn refused_paths_leave_no_trace(b: &Backend) {
        plant(b);
        let before = snapshot(&b.root);
        try_to_leave(b).await;
        assert_eq!(snapshot(&b.root), before);
    }

    /// `outside.txt` beside the root, `inside.txt` in it.
    fn plant(b: &Backend) {
        std::fs::write(b.outside.join("outside.txt"), b"outside").unwrap();
        b.make_file("inside.txt", b"inside", at_secs(1_600_000_000, 0));
    }

    /// Every operation with paths that leave the root, each of which must fail.
    async fn try_to_leave(b: &Backend) {
        let sentinel = b.outside.join("outside.txt");
        let absolute = sentinel.to_str().unwrap().to_string();
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
            let stat = b.remote.stat(folder).await.unwrap().expect("stat");
            assert_eq!(stat.kind, Kind::Directory, "{folder}");
        }
        b.remote.put("one/file", b"f".to_vec(), None).await.unwrap();
        failed(b.remote.mkdir_all("one/file").await, Operation::Mkdir);
        failed(b.remote.mkdir_all("one/file/sub").await, Operation::Mkdir);
        failed(
            b.remote.mkdir_all("one/file/sub/deeper").await,
            Operation::Mkdir,
        );
        assert_eq!(std::fs::read(b.at("one/file")).unwrap(), b"f");
        let names: Vec<String> = snapshot(&b.root).into_keys().collect();
        assert_eq!(names, ["one", "one/file", "one/two", "one/two/three"]);
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

/// One `#[test]` per case for the transport `Backend::$transport` opens. A case written
/// `case!(name, transport: "reason")` is ignored, for that reason, on that transport only.
macro_rules! transport {
    ($transport:ident) => {
        mod $transport {
            macro_rules! case {
                ($case:ident, $transport: $why:literal) => { case!(@test $case, ignore = $why); };
                ($case:ident, $other:ident: $why:literal) => { case!($case); };
                ($case:ident) => { case!(@test $case, allow(unused)); };
                (@test $case:ident, $attribute:meta) => {
                    #[$attribute]
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
            case!(put_with_mtime);
            case!(rename_replaces);
            case!(resume_interrupted_upload);
            case!(delete_files_and_folders);
            case!(missing_paths);
            case!(read_only_folder);
            case!(paths_leaving_the_root);
            case!(refused_paths_leave_no_trace);
            case!(mkdir_all_existing_and_under_a_file);
        }
    };
}

transport!(local);
transport!(sftp);
