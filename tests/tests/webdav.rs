//! `ferry run` and `ferry doctor` against a real wsgidav server on 127.0.0.1: push and pull
//! of a nested tree (a unicode name, a zero-byte file, a 3 MiB file), byte-compared;
//! reruns; an overwritten file; mirror deletes; a wrong password; a read-only server.

use std::path::PathBuf;

use ferry_tests::http_servers::WebDav;
use ferry_tests::{ferry, noise, run, tree};
use serde_json::Value;
use tempfile::TempDir;

/// A local folder `local/`, the server's folder `inbound/` as the remote `dav`, and a
/// ferry.toml with `push` (local → dav) and `pull` (dav → local `pulled/`).
struct Setup {
    dir: TempDir,
    dav: WebDav,
    password: String,
}

impl Setup {
    fn new(delete: &str) -> Setup {
        Self::with(WebDav::start(), delete)
    }

    fn with(dav: WebDav, delete: &str) -> Setup {
        std::fs::create_dir_all(dav.root.join("inbound")).unwrap();
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n\
             [remotes.pulled]\ntype = \"local\"\npath = \"pulled\"\n\n\
             [remotes.dav]\ntype = \"webdav\"\nurl = \"{}\"\nuser = \"{}\"\n\
             password_env = \"DAV_PASSWORD\"\nroot = \"inbound\"\npolicy = \"webdav\"\n\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"dav\"\ndelete = \"{delete}\"\n\n\
             [syncs.pull]\nsource = \"dav\"\ndestination = \"pulled\"\ndelete = \"{delete}\"\n",
            dav.url, dav.user
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        let password = dav.password.clone();
        Setup { dir, dav, password }
    }

    fn remote_root(&self) -> PathBuf {
        self.dav.root.join("inbound")
    }

    fn local(&self, path: &str) -> PathBuf {
        self.dir.path().join("local").join(path)
    }

    /// Write a local file, last modified long before the run: the server's own time of
    /// the upload then differs from it by months.
    fn write(&self, path: &str, content: &[u8]) {
        let file = self.local(path);
        ferry_tests::write_file(&file, content);
        let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(long_ago).unwrap();
    }

    fn ferry(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = ferry(self.dir.path());
        command.env("DAV_PASSWORD", &self.password).args(args);
        run(&mut command)
    }

    fn run(&self, sync: &str) -> (i32, Value) {
        let (code, stdout, stderr) = self.ferry(&["run", sync, "--json"]);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }

    fn doctor(&self) -> (i32, Value) {
        let (code, stdout, stderr) = self.ferry(&["doctor", "dav", "--json"]);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }
}

fn assert_status(code: i32, report: &Value, expected: (i32, &str)) {
    assert_eq!(
        (code, report["status"].as_str().unwrap_or_default()),
        expected,
        "{report:#}"
    );
}

#[test]
fn push_then_pull_round_trips_a_tree_byte_for_byte() {
    let setup = Setup::new("never");
    setup.write("reports/2026/q4.csv", b"a,b\n1,2\n");
    setup.write(
        "\u{65e5}\u{672c}/f\u{fc}r #1 & 50%.txt",
        "unicode \u{2713}".as_bytes(),
    );
    setup.write("empty/zero.bin", b"");
    setup.write("big/three.bin", &noise(3 << 20, 0x2545_f491_4f6c_dd1d));
    let (code, report) = setup.run("push");
    assert_status(code, &report, (0, "success"));
    assert_eq!(report["transferred"], 4);
    let local = tree(&setup.dir.path().join("local"));
    assert_eq!(
        tree(&setup.remote_root()),
        local,
        "the server holds the tree"
    );

    let (code, report) = setup.run("push");
    assert_status(code, &report, (0, "nothing_to_do"));

    let (code, report) = setup.run("pull");
    assert_status(code, &report, (0, "success"));
    assert_eq!(tree(&setup.dir.path().join("pulled")), local);
    let (code, report) = setup.run("pull");
    assert_status(code, &report, (0, "nothing_to_do"));
}

#[test]
fn a_changed_file_is_overwritten_and_mirror_deletes_a_file_and_a_folder() {
    let setup = Setup::new("mirror");
    setup.write("keep.txt", b"version 1");
    setup.write("old/gone.txt", b"bye");
    setup.write("drop.txt", b"drop");
    let (code, report) = setup.run("push");
    assert_status(code, &report, (0, "success"));

    setup.write("keep.txt", b"version two, longer");
    std::fs::remove_dir_all(setup.local("old")).unwrap();
    std::fs::remove_file(setup.local("drop.txt")).unwrap();
    let (code, report) = setup.run("push");
    assert_status(code, &report, (0, "success"));
    assert_eq!(
        (report["transferred"].as_u64(), report["deleted"].as_u64()),
        (Some(1), Some(3)),
        "{report:#}"
    );
    let remote = setup.remote_root();
    assert_eq!(
        std::fs::read(remote.join("keep.txt")).unwrap(),
        b"version two, longer"
    );
    assert!(!remote.join("old").exists() && !remote.join("drop.txt").exists());
    let names: Vec<String> = tree(&remote).into_iter().map(|(path, _)| path).collect();
    assert_eq!(names, ["keep.txt"], "no temporary file is left");
}

#[test]
fn a_wrong_password_is_an_auth_failure() {
    let mut setup = Setup::new("never");
    setup.password = "not-the-password".into();
    setup.write("a.txt", b"a");
    let (code, report) = setup.run("push");
    assert_status(code, &report, (1, "failure"));
    let failure = &report["failures"][0];
    assert_eq!(failure["category"], "auth", "{failure}");
    assert!(
        failure["advice"].as_str().unwrap().contains("user ="),
        "{failure}"
    );
    assert!(!setup.remote_root().join("a.txt").exists());
}

#[test]
fn a_read_only_server_is_a_permission_failure() {
    let setup = Setup::with(WebDav::start_read_only(), "never");
    setup.write("a.txt", b"a");
    setup.write("sub/b.txt", b"b");
    let (code, report) = setup.run("push");
    assert_ne!(code, 0, "{report:#}");
    let failures = report["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{report:#}");
    for failure in failures {
        assert_eq!(
            (failure["category"].as_str(), failure["retry"].as_str()),
            (Some("permission"), Some("never")),
            "{failure}"
        );
    }
    assert!(!setup.remote_root().join("a.txt").exists());
}

/// Each step's name and whether it passed.
fn steps(report: &Value) -> Vec<(String, bool)> {
    let steps = report["steps"].as_array().expect("steps");
    steps
        .iter()
        .map(|step| {
            (
                step["step"].as_str().unwrap().to_string(),
                step["ok"] == true,
            )
        })
        .collect()
}

/// WebDAV has no standard way to set a modification time: the transport says so in its
/// capabilities, the probe's set-mtime step is "not offered" rather than failed, and the
/// run does not need it (the state store tells changes).
#[test]
fn doctor_passes_every_step_and_names_a_read_only_servers_refusal() {
    let setup = Setup::new("never");
    let (code, report) = setup.doctor();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["kind"], "webdav", "{report:#}");
    let failed: Vec<String> = steps(&report)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(step, _)| step)
        .collect();
    assert_eq!(failed, Vec::<String>::new(), "{report:#}");
    assert_eq!(
        report["capabilities"]["setstat"]["status"], "not-offered",
        "{report:#}"
    );
    let leftovers = tree(&setup.remote_root());
    assert!(leftovers.is_empty(), "doctor left {leftovers:?}");

    let read_only = Setup::with(WebDav::start_read_only(), "never");
    let (code, report) = read_only.doctor();
    assert_ne!(code, 0, "{report:#}");
    let steps = steps(&report);
    assert!(steps.contains(&("list".into(), true)), "{report:#}");
    assert!(steps.contains(&("write".into(), false)), "{report:#}");
    let write = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["step"] == "write")
        .unwrap();
    assert_eq!(write["category"], "permission", "{write}");
}

/// WebDAV cannot continue an upload (no standard ranged PUT): a large file killed mid-way
/// starts again from its first byte in the next run, which says so; nothing partial is
/// ever under the final name.
#[test]
fn an_interrupted_upload_starts_again_and_the_run_says_so() {
    let setup = Setup::new("never");
    let content = noise(24 << 20, 0x5eed);
    setup.write("big.bin", &content);
    let mut child = ferry(setup.dir.path())
        .env("DAV_PASSWORD", &setup.password)
        .args(["run", "push", "--bwlimit", "4MiB"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let temp_written = || {
        std::fs::read_dir(setup.remote_root())
            .unwrap()
            .flatten()
            .any(|entry| entry.metadata().is_ok_and(|meta| meta.len() > 0))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !temp_written() {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never began"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !setup.remote_root().join("big.bin").exists(),
        "nothing under the final name before the upload is complete"
    );

    let (code, report) = setup.run("push");
    assert_status(code, &report, (0, "success"));
    assert_eq!(report["bytes"], 24 << 20, "{report:#}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("started again from their first byte"),
        "{report:#}"
    );
    assert_eq!(
        std::fs::read(setup.remote_root().join("big.bin")).unwrap(),
        content
    );
}
