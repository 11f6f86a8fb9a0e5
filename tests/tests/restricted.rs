//! Partner servers that allow less, as a real OpenSSH sshd is configured to refuse
//! requests (`internal-sftp -P …`): ferry delivers what the server allows, says what it
//! could not do, and a rerun is `nothing_to_do`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, noise, run, tree};
use serde_json::Value;
use tempfile::TempDir;

/// `local/` pushed to the sshd's root by sync `push`, the remote having `remote_keys`.
struct Setup {
    dir: TempDir,
    sshd: Sshd,
}

impl Setup {
    fn new(sftp_flags: &str, remote_keys: &str) -> Setup {
        Setup::with_sync_keys(sftp_flags, remote_keys, "delete = \"mirror\"\n")
    }

    /// With `sync_keys` (TOML lines) in `[syncs.push]` instead of mirror.
    fn with_sync_keys(sftp_flags: &str, remote_keys: &str, sync_keys: &str) -> Setup {
        let sshd = Sshd::start_with(sftp_flags);
        let dir = TempDir::new().unwrap();
        let partner = sshd.remote_toml("partner", sshd.port, &sshd.key_file, &sshd.known_hosts);
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n{partner}{remote_keys}\n\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"partner\"\n{sync_keys}"
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        Setup { dir, sshd }
    }

    fn local(&self, path: &str) -> PathBuf {
        self.dir.path().join("local").join(path)
    }

    fn write(&self, path: &str, content: &[u8]) {
        ferry_tests::write_file(&self.local(path), content);
    }

    fn push(&self) -> Value {
        let (code, stdout, stderr) = run(ferry(self.dir.path()).args(["run", "push", "--json"]));
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        assert!(code == 0, "{report:#}");
        report
    }
}

fn notes(report: &Value) -> String {
    serde_json::to_string(&report["notes"]).unwrap()
}

/// A first run delivers everything, a rerun is `nothing_to_do`, a changed source (same
/// size, other bytes, a later time) is sent again, and nothing but the files is left.
fn delivers_and_tells_changes(setup: &Setup) -> Value {
    setup.write("a.txt", b"small");
    setup.write("sub/deeper/b.csv", b"1,2,3\n");
    setup.write("big.bin", &noise(3 << 20, 11));
    let first = setup.push();
    assert_eq!(
        (&first["status"], &first["transferred"]),
        (&Value::from("success"), &Value::from(3)),
        "{first:#}"
    );
    assert_eq!(tree(&setup.sshd.root), tree(&setup.local("")));

    let rerun = setup.push();
    assert_eq!(rerun["status"], "nothing_to_do", "{rerun:#}");

    std::fs::write(setup.local("a.txt"), b"SMALL").unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    let file = std::fs::File::options()
        .write(true)
        .open(setup.local("a.txt"));
    file.unwrap().set_modified(later).unwrap();
    let changed = setup.push();
    assert_eq!(changed["transferred"], 1, "{changed:#}");
    assert_eq!(tree(&setup.sshd.root), tree(&setup.local("")));
    assert_eq!(setup.push()["status"], "nothing_to_do");
    first
}

#[test]
fn a_server_that_refuses_to_set_times_gets_every_file_and_reruns_are_nothing_to_do() {
    let setup = Setup::new("-P setstat,fsetstat", "");
    let first = delivers_and_tells_changes(&setup);
    let notes = notes(&first);
    assert!(
        notes.contains("refused to set modification times"),
        "{notes}"
    );
    assert!(
        notes.contains("set_mtime = false on remote partner"),
        "{notes}"
    );
}

#[test]
fn set_mtime_false_skips_asking_and_still_tells_changes() {
    let setup = Setup::new("-P setstat,fsetstat", "set_mtime = false\n");
    let first = delivers_and_tells_changes(&setup);
    assert!(!notes(&first).contains("refused"), "{first:#}");
}

#[test]
fn a_refused_delete_is_reported_once_and_not_tried_again_until_retry() {
    let setup = Setup::new("-P remove", "");
    setup.write("a.txt", b"new");
    for (path, content) in [("old.txt", "gone at the source"), ("old/x.txt", "too")] {
        let file = setup.sshd.root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    setup.sshd.give(&setup.sshd.root);
    let run = |expected: i32| {
        let (code, stdout, _) = run(ferry(setup.dir.path()).args(["run", "push", "--json"]));
        assert_eq!(code, expected, "{stdout}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let first = run(3);
    let refused: Vec<&str> = first["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["operation"] == "delete")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        refused.contains(&"old.txt") && refused.contains(&"old/x.txt"),
        "{first:#}"
    );

    for _ in 0..2 {
        let again = run(0);
        assert_eq!(again["failures"], Value::Array(vec![]), "{again:#}");
        let notes = notes(&again);
        assert!(
            notes.contains("3 deletion(s) the server refused"),
            "{notes}"
        );
    }
    assert!(setup.sshd.root.join("old/x.txt").exists() && setup.sshd.root.join("old.txt").exists());

    let (code, _, _) = run_retry(&setup, "old.txt");
    assert_eq!(code, 0);
    let retried = run(3);
    let failures = retried["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{retried:#}");
    assert_eq!(failures[0]["path"], "old.txt");
}

fn run_retry(setup: &Setup, path: &str) -> (i32, String, String) {
    run(ferry(setup.dir.path()).args(["retry", "push", path]))
}

/// Make the sshd's root a write-only inbox: files may be put there, not listed.
fn write_only(setup: &Setup) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::Permissions::from_mode(0o333);
    std::fs::set_permissions(&setup.sshd.root, mode).unwrap();
}

#[test]
fn a_write_only_inbox_is_refused_with_a_hint_then_served_with_listing_none() {
    let listed = Setup::new("", "");
    write_only(&listed);
    listed.write("a.txt", b"small");
    let (code, stdout, _) = run(ferry(listed.dir.path()).args(["run", "push", "--json"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("set listing = \\\"none\\\""), "{stdout}");

    let setup = Setup::new("", "listing = \"none\"\n");
    let config = std::fs::read_to_string(setup.dir.path().join("ferry.toml")).unwrap();
    let never = config.replace("delete = \"mirror\"", "delete = \"never\"");
    std::fs::write(setup.dir.path().join("ferry.toml"), &never).unwrap();
    write_only(&setup);
    let first = delivers_and_tells_changes(&setup);
    assert!(notes(&first).contains("is not listed"), "{first:#}");
    let dry_run: &[&str] = &["run", "push", "--dry-run", "--json"];
    for args in [dry_run, &["check", "push", "--json"]] {
        let (code, stdout, stderr) = run(ferry(setup.dir.path()).args(args));
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
    setup.write("new.txt", b"new");
    let (_, stdout, _) = run(ferry(setup.dir.path()).args(["run", "push", "--dry-run", "--json"]));
    let planned: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(planned["transferred"], 1, "{planned:#}");

    std::fs::write(setup.dir.path().join("ferry.toml"), config).unwrap();
    let (code, _, stderr) = run(ferry(setup.dir.path()).args(["run", "push"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ferry.toml:"), "{stderr}");
    assert!(
        stderr.contains("mirror needs the destination's listing"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_refuses_rename_is_served_with_direct_uploads() {
    let setup = Setup::with_sync_keys("-P rename,posix-rename", "", "upload = \"direct\"\n");
    delivers_and_tells_changes(&setup);
}

#[test]
fn a_server_that_refuses_setstat_and_rename_and_remove_at_once_is_still_served() {
    let setup = Setup::with_sync_keys(
        "-P rename,posix-rename,setstat,fsetstat,remove",
        "set_mtime = false\n",
        "upload = \"direct\"\n",
    );
    delivers_and_tells_changes(&setup);
}

#[test]
fn a_read_only_subfolder_fails_its_files_once_and_they_are_held_not_retried() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::with_sync_keys("", "", "");
    setup.write("a.txt", b"allowed");
    setup.write("ro/b.txt", b"refused");
    let read_only = setup.sshd.root.join("ro");
    std::fs::create_dir(&read_only).unwrap();
    setup.sshd.give(&setup.sshd.root);
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let run = || {
        let (code, stdout, _) = run(ferry(setup.dir.path()).args(["run", "push", "--json"]));
        assert_eq!(code, 3, "{stdout}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let first = run();
    assert_eq!(first["transferred"], 1, "{first:#}");
    let refused = &first["failures"][0];
    assert_eq!(
        (&refused["path"], &refused["category"], &refused["retry"]),
        (
            &Value::from("ro/b.txt"),
            &Value::from("permission"),
            &Value::from("never")
        ),
        "{first:#}"
    );
    assert!(
        refused["advice"].as_str().unwrap().contains("ro"),
        "{refused:#}"
    );
    let second = run();
    assert_eq!(second["transferred"], 0, "{second:#}");
    assert_eq!(second["failures"][0]["operation"], "held", "{second:#}");
    assert_eq!(
        tree(&setup.sshd.root),
        vec![("a.txt".into(), b"allowed".to_vec())]
    );
}
