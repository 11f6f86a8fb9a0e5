//! The state store end to end: one run per sync at a time, killed runs shown as
//! interrupted, damaged files (pages overwritten, a garbage log, a truncated database)
//! named with their remedy, and `ferry state check|repair|backup`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use ferry_tests::LocalSetup as Setup;
use serde_json::Value;

const PAGE: usize = 4096;

fn state_dir(setup: &Setup) -> PathBuf {
    setup.dir.path().join(".ferry")
}

fn database(setup: &Setup) -> PathBuf {
    state_dir(setup).join("ferry.db")
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The latest run as `ferry log --json` shows it.
fn latest_status(setup: &Setup) -> String {
    let (code, stdout, stderr) = setup.ferry(&["log", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    json(&stdout)["status"].as_str().unwrap().to_string()
}

/// A run of `push` sending one 3 MiB file at 1 MiB/s, once its upload has begun.
fn slow_run(setup: &Setup) -> Child {
    setup.write("big.bin", &vec![5u8; 3 << 20]);
    let child = ferry_tests::ferry(setup.dir.path())
        .args(["run", "push", "--bwlimit", "1M"])
        .spawn()
        .unwrap();
    let temp = setup.destination("big.bin.partial");
    let deadline = Instant::now() + Duration::from_secs(20);
    while fs::metadata(&temp).map_or(true, |m| m.len() == 0) {
        assert!(Instant::now() < deadline, "the upload never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_second_run_exits_4_naming_the_holder_and_runs_once_the_lock_is_free() {
    let setup = Setup::new("never", "");
    setup.write("a.txt", b"a");
    let locks = state_dir(&setup).join("locks");
    fs::create_dir_all(&locks).unwrap();
    let lock = locks.join("push.lock");
    fs::write(&lock, "4242\nelsewhere\n1796411601\n").unwrap();
    let held = File::open(&lock).unwrap();
    held.lock().unwrap(); // flock, as a running ferry holds it

    let (code, stdout, stderr) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    for expected in [
        "another run of sync push is in progress",
        "pid 4242 on elsewhere",
        "since 2026-12-04 19:13:21 UTC",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    assert!(!setup.destination("a.txt").exists());
    let (code, stdout, _) = setup.ferry(&["run", "push", "--dry-run"]);
    assert_eq!(
        code, 0,
        "a dry run changes nothing and takes no lock: {stdout}"
    );
    assert!(stdout.contains("would send a.txt"), "{stdout}");

    drop(held);
    let (code, report) = setup.run_json(&[]);
    assert_eq!((code, report["transferred"].as_u64()), (0, Some(1)));
}

#[test]
fn a_killed_run_shows_as_interrupted_at_once_and_its_lock_file_does_not_block() {
    let setup = Setup::new("never", "");
    let mut child = slow_run(&setup);
    assert_eq!(latest_status(&setup), "running");
    let (code, _, stderr) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!("pid {} on ", child.id())),
        "{stderr}"
    );

    child.kill().unwrap(); // SIGKILL: the lock file stays, its lock goes with the process
    child.wait().unwrap();
    assert!(state_dir(&setup).join("locks/push.lock").exists());
    assert_eq!(latest_status(&setup), "interrupted");
    let (_, stdout, _) = setup.ferry(&["log"]);
    assert!(stdout.contains("push (run 1): interrupted"), "{stdout}");

    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        fs::read(setup.destination("big.bin")).unwrap(),
        vec![5u8; 3 << 20]
    );
    let (_, stdout, _) = setup.ferry(&["log", "1", "--json"]);
    assert_eq!(json(&stdout)["status"], "interrupted");
}

/// Overwrites the b-tree header of every page of `db` that holds `needle`.
fn damage_pages_holding(db: &Path, needle: &str) {
    let mut bytes = fs::read(db).unwrap();
    let pages: Vec<usize> = bytes
        .chunks(PAGE)
        .enumerate()
        .filter(|(_, page)| page.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(index, _)| index)
        .collect();
    assert!(!pages.is_empty(), "{needle} is not in {}", db.display());
    for page in pages {
        assert!(page > 0, "the first page holds the schema");
        bytes[page * PAGE..page * PAGE + 12].fill(0xEE);
    }
    fs::write(db, bytes).unwrap();
}

fn assert_names_the_remedy(output: &str, db: &Path) {
    for expected in [
        db.display().to_string(),
        "ferry state check".into(),
        "ferry state repair".into(),
        "move".into(),
        "remembered failure".into(),
    ] {
        assert!(output.contains(&expected), "{expected:?} in {output}");
    }
}

#[test]
fn damaged_pages_are_named_with_the_remedy_and_repair_keeps_the_rest() {
    let setup = Setup::new("never", "forbidden_chars = \"?\"");
    for i in 0..400 {
        setup.write(&format!("file-{i:03}.txt"), b"x");
    }
    setup.write("refused?.txt", b"r");
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, 3);
    let db = database(&setup);
    damage_pages_holding(&db, "file-200.txt");

    let (code, stdout, stderr) = setup.ferry(&["log", "1"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert_names_the_remedy(&stderr, &db);
    let (code, stdout, _) = setup.ferry(&["state", "check", "--json"]);
    assert_eq!(code, 1, "{stdout}");
    let checked = json(&stdout);
    assert_eq!(checked["status"], "damaged");
    assert!(!checked["problems"].as_array().unwrap().is_empty());

    let (code, stdout, stderr) = setup.ferry(&["state", "repair", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let repair = json(&stdout);
    assert!(Path::new(repair["moved_to"].as_str().unwrap()).exists());
    let table = |name: &str| {
        repair["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(table("runs")["kept"], 1);
    let outcomes = table("outcomes");
    let kept = outcomes["kept"].as_u64().unwrap();
    assert!(kept > 0 && kept < 401, "{outcomes}");
    assert!(outcomes["lost"].is_object(), "{outcomes}");

    let (code, stdout, _) = setup.ferry(&["state", "check"]);
    assert_eq!(
        (code, stdout.trim_end().ends_with(": ok")),
        (0, true),
        "{stdout}"
    );
    let (code, report) = setup.run_json(&[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(
        report["transferred"], 0,
        "the sent files are in place: {report:#}"
    );
}

#[test]
fn a_garbage_log_loses_nothing_and_a_truncated_store_is_refused_until_repaired() {
    let setup = Setup::new("never", "");
    setup.write("a.txt", b"a");
    assert_eq!(setup.run_json(&[]).0, 0);
    let db = database(&setup);
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
    fs::write(state_dir(&setup).join("ferry.db-wal"), garbage).unwrap();
    let (code, report) = setup.run_json(&[]);
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("nothing_to_do"))
    );
    let (_, stdout, _) = setup.ferry(&["log", "--list", "--json"]);
    assert_eq!(json(&stdout).as_array().unwrap().len(), 2, "{stdout}");

    File::create(&db).unwrap(); // truncated to 0 bytes
    let (code, stdout, stderr) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("is empty"), "{stderr}");
    assert_names_the_remedy(&stderr, &db);
    assert_eq!(
        fs::metadata(&db).unwrap().len(),
        0,
        "not silently started over"
    );

    let (code, stdout, stderr) = setup.ferry(&["state", "repair"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("runs: kept 0; lost every row"), "{stdout}");
    let (code, report) = setup.run_json(&[]);
    assert_eq!((code, report["run"].as_i64()), (0, Some(1)), "{report:#}");
}

#[test]
fn after_a_run_the_database_file_alone_holds_it_and_a_backup_too() {
    let setup = Setup::new("never", "");
    setup.write("a.txt", b"a");
    let db = database(&setup);
    // Another reader keeps the log from being folded in when ferry closes the store.
    fs::create_dir_all(state_dir(&setup)).unwrap();
    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.pragma_update(None, "journal_mode", "WAL").unwrap();
    reader
        .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .unwrap();
    assert_eq!(setup.run_json(&[]).0, 0);

    let elsewhere = Setup::new("never", "");
    fs::create_dir_all(state_dir(&elsewhere)).unwrap();
    fs::copy(&db, database(&elsewhere)).unwrap();
    drop(reader);
    let (code, stdout, stderr) = elsewhere.ferry(&["log", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["transferred"], 1, "{stdout}");

    let backup = setup.dir.path().join("backup.db");
    let (code, _, stderr) = setup.ferry(&["state", "backup", backup.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = setup.ferry(&["state", "backup", backup.to_str().unwrap()]);
    assert_eq!(code, 1, "a backup is never written over: {stderr}");
    let restored = Setup::new("never", "");
    fs::create_dir_all(state_dir(&restored)).unwrap();
    fs::copy(&backup, database(&restored)).unwrap();
    let (_, stdout, _) = restored.ferry(&["log", "--json"]);
    assert_eq!(json(&stdout)["transferred"], 1, "{stdout}");
}

#[test]
fn log_and_retry_say_when_there_is_nothing() {
    let setup = Setup::new("never", "forbidden_chars = \"?\"");
    let (code, _, stderr) = setup.ferry(&["log", "--sync", "pushh"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean \"push\""), "{stderr}");
    let (code, _, stderr) = setup.ferry(&["log", "--sync", "push"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("sync push has no recorded run yet"),
        "{stderr}"
    );

    setup.write("bad?.txt", b"b");
    assert_eq!(setup.run_json(&[]).0, 1);
    let (code, _, stderr) = setup.ferry(&["retry", "push", "nosuch.txt"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("no failure is remembered for nosuch.txt"),
        "{stderr}"
    );
    let (code, stdout, stderr) = setup.ferry(&["retry", "push", "bad?.txt"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("forgot 1"), "{stdout}");
}
