//! `ferry run`, `ferry log` end to end with local-folder remotes: the real binary, temp
//! dirs, a real bundled policy plugin.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ferry_tests::LocalSetup as Setup;
use ferry_tests::files_under;
use serde_json::Value;

#[test]
fn push_sends_accepted_files_and_lists_every_rejected_one() {
    let setup = Setup::new(
        "never",
        "forbidden_chars = \"?*\"\nzero_byte = \"reject\"\nmax_name_length = 20",
    );
    setup.write("reports/ok.csv", b"1,2\n");
    setup.write("reports/bad?.csv", b"3\n");
    setup.write("empty.txt", b"");
    setup.write("a-name-far-too-long-for-this.txt", b"x");
    setup.write("caf\u{e9}/\u{1f600}.bin", &[7u8; 100_000]);
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 3, "partial failure is exit 3: {report:#}");
    assert_eq!(report["status"], "partial_failure");
    assert_eq!(
        (
            report["transferred"].as_u64(),
            report["failed"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(2), Some(0), Some(3)),
        "rejections are not failures, in JSON as in text"
    );
    let failures = report["failures"].as_array().unwrap();
    let mut rules: Vec<(&str, &str)> = failures
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["category"].as_str().unwrap()))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            ("a-name-far-too-long-for-this.txt", "invalid-name"),
            ("empty.txt", "invalid-size"),
            ("reports/bad?.csv", "invalid-name")
        ]
    );
    for failure in failures {
        for key in ["operation", "retry", "message", "advice"] {
            assert!(
                !failure[key].as_str().unwrap().is_empty(),
                "{key} is empty in {failure}"
            );
        }
    }
    assert_eq!(
        files_under(setup.dir.path().join("inbox").as_path()),
        vec!["caf\u{e9}/\u{1f600}.bin", "reports/ok.csv"]
    );
    assert_eq!(
        std::fs::read(setup.destination("caf\u{e9}/\u{1f600}.bin")).unwrap(),
        vec![7u8; 100_000]
    );
}

#[test]
fn text_summary_names_each_failure_with_its_reason_and_advice() {
    let setup = Setup::new("never", "forbidden_chars = \"?\"");
    setup.write("fine.txt", b"fine");
    setup.write("why?.txt", b"no");
    let (code, stdout, _) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 3);
    insta::with_settings!({ filters => vec![(r"in \d+\.\ds", "in [duration]")] }, {
        insta::assert_snapshot!(stdout);
    });
}

#[test]
fn second_run_is_nothing_to_do_and_a_modified_file_is_sent_again() {
    let setup = Setup::new("never", "");
    setup.write("a.txt", b"first");
    setup.write("sub/b.txt", b"second");
    let (code, report) = setup.run_json(&[]);
    assert_eq!((code, report["status"].as_str()), (0, Some("success")));
    let mtime = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(
        mtime(setup.source("a.txt")),
        mtime(setup.destination("a.txt")),
        "mtime is preserved"
    );

    let (code, report) = setup.run_json(&[]);
    assert_eq!(
        (code, report["status"].as_str(), report["skipped"].as_u64()),
        (0, Some("nothing_to_do"), Some(2))
    );

    setup.write("a.txt", b"FIRST"); // same size, new content and mtime
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(setup.source("a.txt"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (code, report) = setup.run_json(&[]);
    assert_eq!((code, report["transferred"].as_u64()), (0, Some(1)));
    assert_eq!(std::fs::read(setup.destination("a.txt")).unwrap(), b"FIRST");
}

#[test]
fn mirror_deletes_extra_files_and_never_keeps_them() {
    for (delete, kept) in [("mirror", false), ("never", true)] {
        let setup = Setup::new(delete, "");
        setup.write("keep.txt", b"k");
        std::fs::create_dir_all(setup.destination("old/deeper")).unwrap();
        std::fs::write(setup.destination("old/deeper/gone.txt"), b"g").unwrap();
        let (code, report) = setup.run_json(&[]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(
            setup.destination("old/deeper/gone.txt").exists(),
            kept,
            "delete = {delete}"
        );
        assert_eq!(setup.destination("old").exists(), kept, "delete = {delete}");
        assert!(setup.destination("keep.txt").exists());
    }
}

#[test]
fn dry_run_changes_nothing() {
    let setup = Setup::new("mirror", "");
    setup.write("new.txt", b"n");
    std::fs::create_dir_all(setup.destination("")).unwrap();
    std::fs::write(setup.destination("extra.txt"), b"e").unwrap();
    let (code, stdout, _) = setup.ferry(&["run", "push", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("would send new.txt") && stdout.contains("would delete extra.txt"),
        "{stdout}"
    );
    assert_eq!(files_under(&setup.destination("")), vec!["extra.txt"]);
    let (code, _, stderr) = setup.ferry(&["log"]);
    assert_eq!(code, 1, "a dry run records no run: {stderr}");
}

#[test]
fn log_shows_a_past_run_with_its_failures() {
    let setup = Setup::new("never", "forbidden_chars = \"#\"");
    setup.write("bad#.txt", b"x");
    setup.run_json(&[]);
    setup.write("ok.txt", b"y");
    setup.run_json(&[]);
    let (code, stdout, _) = setup.ferry(&["log", "1", "--json"]);
    assert_eq!(code, 0);
    let first: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (first["run"].as_i64(), first["status"].as_str()),
        (Some(1), Some("failure"))
    );
    assert_eq!(first["failures"][0]["path"], "bad#.txt");
    let (_, stdout, _) = setup.ferry(&["log", "--list"]);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("push (run "))
            .count(),
        2,
        "{stdout}"
    );
}

#[test]
fn bwlimit_caps_the_transfer_rate() {
    let setup = Setup::new("never", "");
    setup.write("big.bin", &vec![1u8; 3 << 20]);
    let started = Instant::now();
    let (code, _) = setup.run_json(&["--bwlimit", "1M"]);
    assert_eq!(code, 0);
    // 3 MiB at 1 MiB/s cannot take less than about 3 s (a lower bound only).
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn config_errors_name_file_line_and_key_and_exit_2() {
    let setup = Setup::new("never", "");
    let config = setup.dir.path().join("ferry.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("delete = \"never\"", "delet = \"never\"");
    std::fs::write(&config, text).unwrap();
    let (code, stdout, stderr) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("ferry.toml:") && stderr.contains("did you mean \"delete\"?"),
        "{stderr}"
    );
    let (code, _, stderr) = Setup::new("never", "").ferry(&["run", "psuh"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean \"push\"?"), "{stderr}");
}

#[test]
fn a_source_folder_that_does_not_exist_fails_the_run() {
    let setup = Setup::new("mirror", "");
    std::fs::remove_dir(setup.source("")).unwrap();
    std::fs::create_dir_all(setup.destination("")).unwrap();
    std::fs::write(setup.destination("precious.txt"), b"p").unwrap();
    let (code, report) = setup.run_json(&[]);
    assert_eq!((code, report["status"].as_str()), (1, Some("failure")));
    assert!(
        setup.destination("precious.txt").exists(),
        "nothing is deleted when the source is missing"
    );
    assert_eq!(report["failures"][0]["category"], "not-found");
}

#[test]
fn sanitize_sends_refused_names_renamed_reports_collisions_and_pull_restores_names() {
    let setup = Setup::with_sync_keys(
        "mirror",
        "forbidden_chars = \"?*:\"\nreserved_names = [\"CON\"]",
        "rename = \"sanitize\"",
    );
    setup.write("q?.csv", b"question");
    setup.write("a?.csv", b"first");
    setup.write("a*.csv", b"second");
    setup.write("con.txt", b"reserved");
    setup.write("dir:x/inner.txt", b"inner");
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 3, "the collision is a failure: {report:#}");
    assert_eq!(
        files_under(&setup.destination("")),
        vec!["con_.txt", "dir_x/inner.txt", "q_.csv"],
        "renamed files arrive; neither colliding name overwrites the other"
    );
    let collisions: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["message"].as_str().unwrap().contains("as would"))
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(collisions.len(), 2, "{report:#}");

    std::fs::remove_file(setup.source("a*.csv")).unwrap();
    let (code, report) = setup.run_json(&[]);
    assert_eq!(
        (code, report["transferred"].as_u64()),
        (0, Some(1)),
        "{report:#}"
    );
    assert_eq!(
        std::fs::read(setup.destination("a_.csv")).unwrap(),
        b"first"
    );
    let (code, report) = setup.run_json(&[]);
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("nothing_to_do")),
        "renames are remembered: {report:#}"
    );

    // The partner's copies come back under their original names.
    std::fs::remove_file(setup.source("q?.csv")).unwrap();
    std::fs::remove_dir_all(setup.source("dir:x")).unwrap();
    let (code, stdout, stderr) = setup.ferry(&["run", "pull", "--json"]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert_eq!(std::fs::read(setup.source("q?.csv")).unwrap(), b"question");
    assert_eq!(
        std::fs::read(setup.source("dir:x/inner.txt")).unwrap(),
        b"inner"
    );
    assert!(!setup.source("q_.csv").exists() && !setup.source("dir_x").exists());
}

#[test]
fn an_interrupted_upload_is_resumed_not_restarted_and_mirror_keeps_its_temporary_file() {
    let setup = Setup::new("mirror", "");
    let size = 6 << 20;
    let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    setup.write("big.bin", &content);
    let mut child = ferry_tests::ferry(setup.dir.path())
        .args(["run", "push", "--bwlimit", "2M"])
        .spawn()
        .unwrap();
    let temp = setup.destination("big.bin.partial");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&temp).map_or(true, |m| m.len() < (2 << 20)) {
        assert!(Instant::now() < deadline, "the upload never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let sent_before = std::fs::metadata(&temp).unwrap().len();
    assert!(
        !setup.destination("big.bin").exists(),
        "never a partial file under the final name"
    );
    std::fs::write(setup.destination("extra.txt"), b"e").unwrap();
    let (_, stdout, _) = setup.ferry(&["run", "push", "--dry-run"]);
    assert!(
        stdout.contains("would delete extra.txt") && !stdout.contains("would delete big.bin"),
        "the temporary file to resume from is not an extra: {stdout}"
    );

    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        std::fs::read(setup.destination("big.bin")).unwrap(),
        content
    );
    assert!(!setup.destination("extra.txt").exists());
    assert!(!temp.exists());
    let sent_after = report["bytes"].as_u64().unwrap();
    assert_eq!(
        sent_after,
        size as u64 - sent_before,
        "only the rest is sent"
    );
}

#[test]
fn a_partial_upload_of_an_older_version_is_not_resumed() {
    let setup = Setup::new("never", "");
    setup.write("big.bin", &vec![1u8; 3 << 20]);
    let mut child = ferry_tests::ferry(setup.dir.path())
        .args(["run", "push", "--bwlimit", "1M"])
        .spawn()
        .unwrap();
    let temp = setup.destination("big.bin.partial");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&temp).map_or(true, |m| m.len() < (1 << 20)) {
        assert!(Instant::now() < deadline, "the upload never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    setup.write("big.bin", &vec![2u8; 3 << 20]); // same size, new content and mtime
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(setup.source("big.bin"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["bytes"].as_u64(),
        Some(3 << 20),
        "restarted from zero"
    );
    assert_eq!(
        std::fs::read(setup.destination("big.bin")).unwrap(),
        vec![2u8; 3 << 20]
    );
}

#[test]
fn ctrl_c_stops_a_run_cleanly_and_the_next_run_continues_it() {
    let setup = Setup::with_sync_keys("never", "", "bwlimit = \"4M\"\ntransfers = 1");
    let big: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    setup.write("a-small.txt", b"small");
    setup.write("big.bin", &big);
    setup.write("z-later.txt", b"never started before the stop");
    let child = ferry_tests::ferry(setup.dir.path())
        .args(["run", "push", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop once some of the big file is sent (at 4 MiB/s: well before it is done).
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = || {
        let inbox = setup.destination("");
        inbox.exists()
            && files_under(&inbox)
                .iter()
                .any(|path| path.contains("big.bin"))
    };
    while !started() {
        assert!(Instant::now() < deadline, "the big file was never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("stopping (Ctrl-C)"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["status"], "interrupted", "{report:#}");
    let note = report["notes"].to_string();
    assert!(note.contains("stopped by Ctrl-C"), "{note}");
    // Nothing half-written under a final name; the file never started is not there.
    assert!(!setup.destination("big.bin").exists());
    assert!(!setup.destination("z-later.txt").exists());
    let (code, stdout, _) = setup.ferry(&["log", "--json"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("\"interrupted\"") && stdout.contains("stopped by Ctrl-C"),
        "{stdout}"
    );

    let (code, report) = setup.run_json(&["--bwlimit", "off"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        report["bytes"].as_u64().unwrap() < big.len() as u64,
        "the next run continues the big file: {report:#}"
    );
    assert_eq!(std::fs::read(setup.destination("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(setup.destination("z-later.txt")).unwrap(),
        b"never started before the stop"
    );
}
