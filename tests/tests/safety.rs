//! Nothing lost, nothing escapes: runs against a real OpenSSH sshd configured the ways
//! partners configure theirs (renames refused, posix-rename refused), with symlinks and
//! hostile names placed on the server, a source rewritten while it is sent, and paths
//! that changed between file and folder. Each test checks that the partner's existing
//! files are intact and that nothing outside the destination root changed.

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_tests::sshd::Sshd;
use ferry_tests::{LocalSetup, ferry, files_under, noise, run, tree};
use serde_json::Value;
use tempfile::TempDir;

/// `local/` and the sshd's root, with syncs `push` (local → partner), `pull` (partner →
/// `pulled/`) and `push-direct` (`upload = "direct"`), each with `delete`.
struct Setup {
    dir: TempDir,
    sshd: Sshd,
}

impl Setup {
    fn new(sftp_flags: &str, delete: &str) -> Setup {
        let sshd = Sshd::start_with(sftp_flags);
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        let partner = sshd.remote_toml("partner", sshd.port, &sshd.key_file, &sshd.known_hosts);
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n\
             [remotes.pulled]\ntype = \"local\"\npath = \"pulled\"\n\n{partner}\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"partner\"\ndelete = \"{delete}\"\n\n\
             [syncs.push-direct]\nsource = \"local\"\ndestination = \"partner\"\nupload = \"direct\"\n\n\
             [syncs.pull]\nsource = \"partner\"\ndestination = \"pulled\"\ndelete = \"{delete}\"\n"
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        Setup { dir, sshd }
    }

    fn local(&self, path: &str) -> PathBuf {
        self.dir.path().join("local").join(path)
    }

    fn remote(&self, path: &str) -> PathBuf {
        self.sshd.root.join(path)
    }

    fn write_local(&self, path: &str, content: &[u8]) {
        write(&self.local(path), content);
    }

    /// A file on the server, owned by its login user as if a partner had put it there.
    fn write_remote(&self, path: &str, content: &[u8]) {
        write(&self.remote(path), content);
        self.sshd.give(&self.sshd.root);
    }

    fn run(&self, args: &[&str]) -> (i32, Value) {
        let mut command = ferry(self.dir.path());
        command.args(["run"]).args(args).arg("--json");
        let (code, stdout, stderr) = run(&mut command);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }

    /// Every file under the test's folder outside the destination `root`, with its bytes.
    fn outside(&self, root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files = tree(self.dir.path());
        let prefix = root.strip_prefix(self.dir.path()).map(Path::to_path_buf);
        files.retain(|(path, _)| {
            prefix
                .as_ref()
                .is_ok_and(|prefix| !Path::new(path).starts_with(prefix))
                && !path.starts_with(".ferry")
        });
        files
    }
}

fn write(file: &Path, content: &[u8]) {
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, content).unwrap();
}

fn failure<'r>(report: &'r Value, path: &str) -> &'r Value {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no failure for {path:?}: {report:#}"))
}

fn notes(report: &Value) -> String {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_server_that_refuses_rename_keeps_the_partners_file_and_direct_upload_delivers() {
    let setup = Setup::new("-P rename,posix-rename", "never");
    setup.write_remote("report.csv", b"the partner's version");
    setup.write_local("report.csv", b"a new version, longer than the old one");
    setup.write_local("new.csv", b"a file the partner does not have");
    setup.write_local("big.bin", &noise(3 << 20, 5));

    let (code, report) = setup.run(&["push"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["deleted"], 0);
    for path in ["report.csv", "new.csv", "big.bin"] {
        let refused = failure(&report, path);
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("could not be renamed"), "{message}");
        assert!(message.contains("upload = \"direct\""), "{message}");
    }
    assert_eq!(
        tree(&setup.sshd.root),
        vec![("report.csv".into(), b"the partner's version".to_vec())],
        "the partner's file is intact and no upload is left behind"
    );

    let (code, report) = setup.run(&["push-direct"]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("success")),
        "{report:#}"
    );
    assert!(
        notes(&report).contains("straight to their final names"),
        "{report:#}"
    );
    assert_eq!(tree(&setup.sshd.root), tree(&setup.local("")));
    let (code, report) = setup.run(&["push-direct"]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("nothing_to_do")),
        "{report:#}"
    );
}

#[test]
fn without_posix_rename_an_existing_file_is_replaced_without_being_removed_first() {
    let setup = Setup::new("-P posix-rename", "never");
    setup.write_remote("report.csv", b"old");
    setup.write_local("report.csv", b"new and longer");
    let (code, report) = setup.run(&["push"]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("success")),
        "{report:#}"
    );
    assert_eq!(
        tree(&setup.sshd.root),
        vec![("report.csv".into(), b"new and longer".to_vec())],
        "replaced, and the old one moved aside is gone"
    );
}

#[test]
fn pull_never_follows_a_symlink_out_of_the_root_and_says_which_it_skipped() {
    let setup = Setup::new("", "never");
    setup.write_remote("ok.txt", b"inside");
    setup.write_remote("sub/deep.txt", b"deep");
    let outside = setup.sshd.root.parent().unwrap().join("sibling/secret.txt");
    write(&outside, b"a sibling folder's secret");
    let links = [
        ("passwd", PathBuf::from("/etc/passwd")),
        ("sibling-secret", PathBuf::from("../sibling/secret.txt")),
        ("to-ok", PathBuf::from("ok.txt")),
        ("to-sub", PathBuf::from("sub")),
        ("nowhere", PathBuf::from("missing.txt")),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, setup.remote(name)).unwrap();
    }

    let (code, report) = setup.run(&["pull"]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("success")),
        "{report:#}"
    );
    let pulled = setup.dir.path().join("pulled");
    assert_eq!(
        tree(&pulled),
        vec![
            ("ok.txt".into(), b"inside".to_vec()),
            ("sub/deep.txt".into(), b"deep".to_vec()),
            ("to-ok".into(), b"inside".to_vec()),
        ]
    );
    let notes = notes(&report);
    for (name, why) in [
        ("passwd", "outside the root"),
        ("sibling-secret", "outside the root"),
        ("to-sub", "to a folder"),
        ("nowhere", "leads nowhere"),
    ] {
        assert!(
            notes.contains(&format!("{name} (a symbolic link")),
            "{notes}"
        );
        assert!(
            notes
                .lines()
                .any(|line| line.contains(name) && line.contains(why)),
            "{name}: {notes}"
        );
    }
}

#[test]
fn pull_refuses_names_that_are_not_plain_names_the_same_in_a_dry_run_and_never_retries_them() {
    let setup = Setup::new("", "never");
    setup.write_remote("good.txt", b"fine");
    let root = setup.sshd.root.clone();
    std::fs::write(root.join("..\\..\\evil.txt"), b"escape").unwrap();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"bad-\xff-name.txt");
    std::fs::write(root.join(not_utf8), b"undecodable").unwrap();
    let before_outside = setup.outside(&setup.dir.path().join("pulled"));

    let (_, planned) = setup.run(&["pull", "--dry-run"]);
    for run in 0..2 {
        let (code, report) = setup.run(&["pull"]);
        assert_eq!(code, 3, "run {run}: {report:#}");
        assert_eq!(report["transferred"], if run == 0 { 1 } else { 0 });
        let refused: Vec<&Value> = report["failures"].as_array().unwrap().iter().collect();
        assert_eq!(refused.len(), 2, "{report:#}");
        for failure in refused {
            assert_eq!(failure["category"], "invalid-name", "{failure:#}");
            assert_eq!(failure["retry"], "never", "{failure:#}");
        }
        assert_eq!(
            planned["failures"], report["failures"],
            "--dry-run says what the run does"
        );
    }
    assert!(
        failure(&planned, "..\\..\\evil.txt")["message"]
            .as_str()
            .unwrap()
            .contains("separator")
    );
    assert_eq!(
        files_under(&setup.dir.path().join("pulled")),
        vec!["good.txt"]
    );
    assert_eq!(
        setup.outside(&setup.dir.path().join("pulled")),
        before_outside,
        "nothing outside the destination changed"
    );
}

/// Rewrites `file` in place (same size, other bytes) once `delay` has passed, and with
/// `keep_mtime` puts its modification time back, as some writers do.
fn rewrite_later(file: PathBuf, delay: Duration, keep_mtime: bool) -> std::thread::JoinHandle<()> {
    let size = std::fs::metadata(&file).unwrap().len() as usize;
    let other_bytes = noise(size, 99);
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let mut handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        handle.seek(SeekFrom::Start(0)).unwrap();
        handle.write_all(&other_bytes).unwrap();
        if keep_mtime {
            handle.set_modified(mtime).unwrap();
        }
    })
}

#[test]
fn a_file_rewritten_in_place_while_it_is_sent_fails_and_the_remote_keeps_its_old_version() {
    for keep_mtime in [false, true] {
        let setup = Setup::new("", "never");
        setup.write_remote("big.bin", b"the partner's old version");
        setup.write_local("big.bin", &noise(12 << 20, 7));
        let writer = rewrite_later(
            setup.local("big.bin"),
            Duration::from_millis(1000),
            keep_mtime,
        );
        let (code, report) = setup.run(&["push", "--bwlimit", "4M"]);
        writer.join().unwrap();
        assert_eq!(code, 1, "keep_mtime {keep_mtime}: {report:#}");
        let changed = failure(&report, "big.bin");
        assert!(
            changed["message"]
                .as_str()
                .unwrap()
                .contains("changed while it was sent"),
            "{changed:#}"
        );
        assert!(changed["advice"].as_str().unwrap().contains("stable_for"));
        assert_eq!(
            tree(&setup.sshd.root),
            vec![("big.bin".into(), b"the partner's old version".to_vec())],
            "the old version stays and the torn upload is gone"
        );

        let (code, report) = setup.run(&["push"]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(tree(&setup.sshd.root), tree(&setup.local("")));
    }
}

/// Source: `x/` a folder (was a file), `y` a file (was a folder). The destination at
/// `root` holds the old kinds, with content of its own.
fn change_types(source: &Path, root: &Path) {
    write(&source.join("x/inner.txt"), b"x is a folder now");
    write(&source.join("y"), b"y is a file now");
    write(&root.join("x"), b"x was a file");
    write(&root.join("y/a.txt"), b"y was a folder");
    write(&root.join("y/sub/b.txt"), b"deeper");
}

fn assert_types_kept_and_refused_with_why(report: &Value, root: &Path) {
    for path in ["x", "y"] {
        let refused = failure(report, path);
        assert_eq!(refused["retry"], "never", "{refused:#}");
        assert!(
            refused["advice"].as_str().unwrap().contains("mirror"),
            "{refused:#}"
        );
    }
    assert_eq!(
        files_under(root),
        vec!["x", "y/a.txt", "y/sub/b.txt"],
        "nothing replaced without mirror"
    );
}

fn assert_types_replaced(report: &Value, root: &Path) {
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(
        tree(root),
        vec![
            ("x/inner.txt".into(), b"x is a folder now".to_vec()),
            ("y".into(), b"y is a file now".to_vec()),
        ]
    );
}

#[test]
fn a_path_that_changed_between_file_and_folder_is_replaced_under_mirror_over_sftp() {
    let never = Setup::new("", "never");
    change_types(&never.local(""), &never.sshd.root);
    never.sshd.give(&never.sshd.root);
    let (code, report) = never.run(&["push"]);
    assert_eq!(code, 1, "{report:#}");
    assert_types_kept_and_refused_with_why(&report, &never.sshd.root);

    let mirror = Setup::new("", "mirror");
    change_types(&mirror.local(""), &mirror.sshd.root);
    mirror.sshd.give(&mirror.sshd.root);
    let (_, report) = mirror.run(&["push"]);
    assert_types_replaced(&report, &mirror.sshd.root);
    let (code, report) = mirror.run(&["push"]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("nothing_to_do"))
    );
}

#[test]
fn a_path_that_changed_between_file_and_folder_is_replaced_under_mirror_locally() {
    let never = LocalSetup::new("never", "");
    change_types(&never.source(""), &never.destination(""));
    let (code, report) = never.run_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_types_kept_and_refused_with_why(&report, &never.destination(""));

    let mirror = LocalSetup::new("mirror", "");
    change_types(&mirror.source(""), &mirror.destination(""));
    let (_, report) = mirror.run_json(&[]);
    assert_types_replaced(&report, &mirror.destination(""));
}
