//! `after_delivery`: a source file is deleted or moved into the archive folder only after
//! its delivery is complete, verified and recorded; a kill -9 at any point loses no file.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ferry_tests::sshd::Sshd;
use ferry_tests::{LocalSetup, ferry, files_under, noise, run, tree};
use serde_json::Value;

fn setup(after: &str) -> LocalSetup {
    LocalSetup::with_sync_keys("never", "", &format!("after_delivery = \"{after}\""))
}

fn write_files(setup: &LocalSetup, count: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| (format!("d{}/f{i:03}.bin", i % 7), noise(size, i as u64 + 1)))
        .collect();
    for (path, content) in &files {
        setup.write(path, content);
    }
    files
}

fn notes(report: &Value) -> String {
    serde_json::to_string(&report["notes"]).unwrap()
}

#[test]
fn delete_empties_the_outbox_of_what_was_delivered_and_only_that() {
    let setup = setup("delete");
    let files = write_files(&setup, 12, 100);
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        notes(&report).contains("after delivery: 12 source file(s) deleted"),
        "{report:#}"
    );
    assert_eq!(tree(&setup.destination("")), {
        let mut sorted = files.clone();
        sorted.sort();
        sorted
    });
    assert!(files_under(&setup.source("")).is_empty());
}

#[test]
fn a_rejected_file_stays_in_the_outbox() {
    let setup = LocalSetup::with_sync_keys(
        "never",
        "zero_byte = \"reject\"",
        "after_delivery = \"delete\"",
    );
    setup.write("ok.txt", b"fine");
    setup.write("empty.txt", b"");
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, 3);
    assert_eq!(files_under(&setup.source("")), vec!["empty.txt"]);
    assert_eq!(files_under(&setup.destination("")), vec!["ok.txt"]);
}

#[test]
fn archive_moves_delivered_files_keeps_older_archived_versions_and_is_never_synced() {
    let setup = setup("archive:sent");
    setup.write("a.csv", b"version 1");
    assert_eq!(setup.run_json(&[]).0, 0);
    setup.write("a.csv", b"version 2");
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        tree(&setup.source("")),
        vec![
            ("sent/a.csv".into(), b"version 1".to_vec()),
            ("sent/a.csv.1".into(), b"version 2".to_vec()),
        ]
    );
    assert_eq!(files_under(&setup.destination("")), vec!["a.csv"]);
    let (code, report) = setup.run_json(&[]);
    assert_eq!(
        (code, &report["status"]),
        (0, &Value::from("nothing_to_do"))
    );
}

#[test]
fn a_dry_run_moves_nothing() {
    let setup = setup("archive:sent");
    write_files(&setup, 3, 10);
    let (code, report) = setup.run_json(&["--dry-run"]);
    assert_eq!(code, 0);
    assert!(notes(&report).contains("would move up to 3"), "{report:#}");
    assert_eq!(files_under(&setup.source("")).len(), 3);
}

#[test]
fn a_pull_archives_on_the_sftp_server() {
    let sshd = Sshd::start();
    let dir = tempfile::TempDir::new().unwrap();
    for (path, content) in [("out/a.txt", "a"), ("out/sub/b.txt", "b")] {
        let file = sshd.root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    sshd.give(&sshd.root);
    let partner = sshd.remote_toml("partner", sshd.port, &sshd.key_file, &sshd.known_hosts);
    let config = format!(
        "{partner}\n[remotes.inbox]\ntype = \"local\"\npath = \"inbox\"\n\n\
         [syncs.pull]\nsource = \"partner\"\ndestination = \"inbox\"\nafter_delivery = \"archive:done\"\n"
    );
    std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
    let (code, stdout, stderr) = run(ferry(dir.path()).args(["run", "pull", "--json"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        files_under(&sshd.root),
        vec!["done/out/a.txt", "done/out/sub/b.txt"]
    );
    assert_eq!(
        files_under(&dir.path().join("inbox")),
        vec!["out/a.txt", "out/sub/b.txt"]
    );
}

/// Each file is in the outbox, or delivered whole and in the archive: never lost, never
/// archived before it was delivered.
fn assert_nothing_lost(setup: &LocalSetup, files: &[(String, Vec<u8>)]) {
    for (path, content) in files {
        let source = std::fs::read(setup.source(path)).ok();
        let archived = std::fs::read(setup.source(&format!("sent/{path}"))).ok();
        let delivered = std::fs::read(setup.destination(path)).ok();
        match (source, archived, delivered) {
            (Some(s), None, _) => assert_eq!(&s, content, "{path}"),
            (None, Some(a), Some(d)) => {
                assert_eq!(&a, content, "{path}");
                assert_eq!(&d, content, "{path} archived before it was delivered whole");
            }
            other => panic!(
                "{path} is lost or doubled: {:?}",
                (other.0.is_some(), other.1.is_some(), other.2.is_some())
            ),
        }
    }
}

#[test]
fn kill_9_at_random_points_of_a_200_file_run_loses_no_file() {
    let setup = setup("archive:sent");
    let files = write_files(&setup, 200, 20_000);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = ferry(setup.dir.path())
            .args(["run", "push", "--bwlimit", "2M", "--transfers", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + state % 1500));
        let _ = child.kill();
        let _ = child.wait();
        assert_nothing_lost(&setup, &files);
    }
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_nothing_lost(&setup, &files);
    assert!(
        !Path::new(&setup.source("d0"))
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().path().is_file()),
        "everything delivered is archived"
    );
    assert_eq!(files_under(&setup.destination("")).len(), 200);
}
