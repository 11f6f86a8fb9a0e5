//! `ferry run` against a real OpenSSH sshd on 127.0.0.1: push and pull of nested trees
//! with unicode names, zero-byte files and a 50 MB file, byte-compared; reruns; mirror;
//! host-key and authentication failures.

use std::path::PathBuf;

use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, noise, run, tree};
use serde_json::Value;
use tempfile::TempDir;

/// A local folder `local/`, the sshd's folder as the remote, and a ferry.toml with two
/// syncs: `push` (local → sftp) and `pull` (sftp → local copy `pulled/`).
struct Setup {
    dir: TempDir,
    sshd: Sshd,
}

impl Setup {
    fn new(delete: &str) -> Setup {
        let sshd = Sshd::start();
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        let key = &sshd.key_file;
        let partner = sshd.remote_toml("partner", sshd.port, key, &sshd.known_hosts);
        let config = format!(
            "[remotes.local]\ntype = \"local\"\npath = \"local\"\n\n\
             [remotes.pulled]\ntype = \"local\"\npath = \"pulled\"\n\n{partner}\n\
             [syncs.push]\nsource = \"local\"\ndestination = \"partner\"\ndelete = \"{delete}\"\n\n\
             [syncs.pull]\nsource = \"partner\"\ndestination = \"pulled\"\ndelete = \"{delete}\"\n"
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

    fn run(&self, sync: &str) -> (i32, Value) {
        let (code, stdout, stderr) = run(ferry(self.dir.path()).args(["run", sync, "--json"]));
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }
}

#[test]
fn push_then_pull_round_trips_a_tree_byte_for_byte() {
    let setup = Setup::new("never");
    setup.write("reports/2026/q4.csv", b"a,b\n1,2\n");
    setup.write(
        "\u{65e5}\u{672c}/\u{30d5}\u{30a1}\u{30a4}\u{30eb}.txt",
        "unicode \u{2713}".as_bytes(),
    );
    setup.write("empty/zero.bin", b"");
    setup.write("big/fifty.bin", &noise(50 << 20, 0x2545_f491_4f6c_dd1d));
    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("success")),
        "{report:#}"
    );
    assert_eq!(report["transferred"], 4);
    let local = tree(&setup.dir.path().join("local"));
    assert_eq!(
        tree(&setup.sshd.root),
        local,
        "the remote holds exactly the local tree"
    );

    let (code, report) = setup.run("pull");
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("success")),
        "{report:#}"
    );
    assert_eq!(
        tree(&setup.dir.path().join("pulled")),
        local,
        "the pulled tree is the same again"
    );

    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["status"].as_str(), report["skipped"].as_u64()),
        (0, Some("nothing_to_do"), Some(4))
    );
    let (code, report) = setup.run("pull");
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("nothing_to_do"))
    );
}

#[test]
fn a_modified_file_is_sent_again_and_mirror_deletes_at_the_remote() {
    let setup = Setup::new("mirror");
    setup.write("keep.txt", b"version 1");
    setup.write("old/gone.txt", b"bye");
    assert_eq!(setup.run("push").0, 0);

    setup.write("keep.txt", b"version two, longer");
    std::fs::remove_dir_all(setup.local("old")).unwrap();
    let (code, report) = setup.run("push");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        (report["transferred"].as_u64(), report["deleted"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        std::fs::read(setup.sshd.root.join("keep.txt")).unwrap(),
        b"version two, longer"
    );
    assert!(!setup.sshd.root.join("old").exists());
    let leftovers: Vec<_> = tree(&setup.sshd.root)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn an_unknown_host_key_is_refused_with_what_to_do() {
    let setup = Setup::new("never");
    setup.write("a.txt", b"a");
    std::fs::write(&setup.sshd.known_hosts, "").unwrap();
    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["status"].as_str()),
        (1, Some("failure")),
        "{report:#}"
    );
    let message = report["failures"][0]["message"].as_str().unwrap();
    assert!(message.contains("ssh-keyscan"), "{message}");
    assert!(!setup.sshd.root.join("a.txt").exists());
}

#[test]
fn a_wrong_key_is_an_auth_failure() {
    let setup = Setup::new("never");
    let config = setup.dir.path().join("ferry.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let wrong = setup.sshd.wrong_key();
    let text = text.replace(
        &setup.sshd.key_file.display().to_string(),
        &wrong.display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    setup.write("a.txt", b"a");
    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["status"].as_str()),
        (1, Some("failure")),
        "{report:#}"
    );
    let failure = &report["failures"][0];
    assert_eq!(
        (failure["operation"].as_str(), failure["category"].as_str()),
        (Some("authenticate"), Some("auth")),
        "{failure}"
    );
    assert!(!failure["advice"].as_str().unwrap().is_empty());
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn a_permanent_failure_is_not_retried_until_the_file_changes_or_ferry_retry() {
    let setup = Setup::new("never");
    if !is_root() || setup.sshd.user == whoami() {
        eprintln!(
            "skipped: needs sshd logging in as an unprivileged user, so that permissions apply"
        );
        return;
    }
    // A folder owned by root inside the remote root: the login user cannot write there.
    std::fs::create_dir(setup.sshd.root.join("locked")).unwrap();
    setup.write("locked/a.txt", b"a");
    setup.write("open.txt", b"o");
    let (code, report) = setup.run("push");
    assert_eq!(code, 3, "{report:#}");
    let failure = &report["failures"][0];
    assert_eq!(
        (failure["category"].as_str(), failure["retry"].as_str()),
        (Some("permission"), Some("never")),
        "{failure}"
    );

    let (code, report) = setup.run("push");
    assert_eq!(code, 3, "still not delivered: {report:#}");
    let reminder = report["failures"][0]["message"].as_str().unwrap();
    assert!(reminder.starts_with("not tried again"), "{reminder}");

    let owner = std::fs::metadata(setup.sshd.root.as_path()).unwrap();
    use std::os::unix::fs::MetadataExt;
    std::os::unix::fs::chown(
        setup.sshd.root.join("locked"),
        Some(owner.uid()),
        Some(owner.gid()),
    )
    .unwrap();
    let (code, _, _) = run(ferry(setup.dir.path()).args(["retry", "push", "locked/a.txt"]));
    assert_eq!(code, 0);
    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["transferred"].as_u64()),
        (0, Some(1)),
        "{report:#}"
    );
    assert_eq!(
        std::fs::read(setup.sshd.root.join("locked/a.txt")).unwrap(),
        b"a"
    );
}

fn whoami() -> String {
    let output = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn a_name_that_fits_only_without_the_temp_suffix_is_uploaded_under_a_short_temp_name() {
    // 250 bytes fit Linux's NAME_MAX of 255, but "<name>.partial" (258) would not: the
    // server itself would refuse the standard temporary file.
    let setup = Setup::new("never");
    let name = format!("{}.csv", "n".repeat(246));
    setup.write(&name, b"fits");
    let (code, report) = setup.run("push");
    assert_eq!(
        (code, report["transferred"].as_u64()),
        (0, Some(1)),
        "{report:#}"
    );
    assert_eq!(std::fs::read(setup.sshd.root.join(&name)).unwrap(), b"fits");
}
