//! Advice that names the actual thing: `ferry run` against a real OpenSSH sshd on 127.0.0.1
//! and local folders, where the config points at something missing (the remote root, the key
//! file, a local folder, a bind_address of another machine), a folder refuses writes, or a
//! path is over the local `max_path_length`. Each failure names what is wrong, reads as a
//! permanent problem, and advises the setting or the folder to fix.

use std::path::Path;

use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

/// A local folder `outbox/` pushed to the sshd by the sync `push`.
struct Setup {
    dir: TempDir,
    sshd: Sshd,
}

impl Setup {
    fn new() -> Setup {
        let sshd = Sshd::start();
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
        std::fs::write(dir.path().join("outbox/a.csv"), b"a").unwrap();
        let partner = sshd.remote_toml("partner", sshd.port, &sshd.key_file, &sshd.known_hosts);
        let config = format!(
            "[remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n{partner}\n\
             [syncs.push]\nsource = \"outbox\"\ndestination = \"partner\"\n"
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        Setup { dir, sshd }
    }

    /// Replace `from` with `to` in ferry.toml.
    fn edit_config(&self, from: &str, to: &str) {
        edit(&self.dir.path().join("ferry.toml"), from, to);
    }

    fn run(&self) -> (i32, Value) {
        run_json(self.dir.path())
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn run_json(dir: &Path) -> (i32, Value) {
    let (code, stdout, stderr) = run(ferry(dir).args(["run", "push", "--json"]));
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
    (code, report)
}

/// The only failure of a report, checked for its category and retry, with its message
/// and advice.
fn only_failure<'a>(report: &'a Value, category: &str, retry: &str) -> (&'a str, &'a str) {
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    let failure = &failures[0];
    assert_eq!(
        (failure["category"].as_str(), failure["retry"].as_str()),
        (Some(category), Some(retry)),
        "{failure:#}"
    );
    let advice = failure["advice"].as_str().unwrap();
    for wrong in ["during the run", "firewall", "sanitize"] {
        assert!(!advice.contains(wrong), "{advice}");
    }
    (failure["message"].as_str().unwrap(), advice)
}

#[test]
fn a_missing_remote_root_is_named_with_the_setting_to_fix() {
    let setup = Setup::new();
    let root = setup.sshd.root.display().to_string();
    let missing = format!("{root}/inbound");
    setup.edit_config(
        &format!("root = \"{root}\""),
        &format!("root = \"{missing}\""),
    );
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let (message, advice) = only_failure(&report, "not-found", "never");
    assert!(
        message.contains(&format!(
            "the remote root {missing} does not exist on the server"
        )),
        "{message}"
    );
    assert!(advice.contains("root ="), "{advice}");
}

#[test]
fn a_missing_key_file_is_named_with_the_setting_to_fix() {
    let setup = Setup::new();
    let key = setup.sshd.key_file.display().to_string();
    let missing = format!("{key}-gone");
    setup.edit_config(&key, &missing);
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let (message, advice) = only_failure(&report, "auth", "never");
    assert!(
        message.contains(&format!("key file {missing} not found")),
        "{message}"
    );
    assert!(advice.contains("key_file ="), "{advice}");
}

#[test]
fn a_bind_address_of_another_machine_is_a_config_problem_not_a_firewall() {
    let setup = Setup::new();
    setup.edit_config(
        "connect_timeout",
        "bind_address = \"203.0.113.7\"\nconnect_timeout",
    );
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let (message, advice) = only_failure(&report, "connectivity", "never");
    assert!(
        message.contains("bind_address 203.0.113.7 is not an address of this machine"),
        "{message}"
    );
    assert!(advice.contains("bind_address ="), "{advice}");
}

#[test]
fn a_refused_write_names_the_folder_that_refused() {
    let setup = Setup::new();
    // Owned by root, inside the root the login user owns: not writable for it.
    std::fs::create_dir(setup.sshd.root.join("locked")).unwrap();
    std::fs::create_dir(setup.dir.path().join("outbox/locked")).unwrap();
    std::fs::rename(
        setup.dir.path().join("outbox/a.csv"),
        setup.dir.path().join("outbox/locked/a.csv"),
    )
    .unwrap();
    let (code, report) = setup.run();
    assert_eq!(code, 1, "{report:#}");
    let (_, advice) = only_failure(&report, "permission", "never");
    assert!(advice.contains("write in the folder locked."), "{advice}");
}

/// Two local folders: `outbox/` pushed to `inbox/`, whose `max_path_length` lets
/// `outbox/short.csv` in and not `outbox/a-rather-long-name.csv`.
fn local_limit_setup(sync_keys: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("outbox")).unwrap();
    std::fs::write(dir.path().join("outbox/short.csv"), b"s").unwrap();
    std::fs::write(dir.path().join("outbox/a-rather-long-name.csv"), b"l").unwrap();
    // The temporary name of short.csv must fit too: generous, but under the long name.
    let limit = dir
        .path()
        .join("inbox")
        .display()
        .to_string()
        .chars()
        .count()
        + 20;
    let config = format!(
        "[remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n\
         [remotes.inbox]\ntype = \"local\"\npath = \"inbox\"\nmax_path_length = {limit}\n\n\
         [syncs.push]\nsource = \"outbox\"\ndestination = \"inbox\"\n{sync_keys}\n"
    );
    std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
    dir
}

#[test]
fn the_local_path_limit_is_named_as_such_even_with_sanitize() {
    for sync_keys in ["", "rename = \"sanitize\""] {
        let dir = local_limit_setup(sync_keys);
        let (code, report) = run_json(dir.path());
        assert_eq!(code, 3, "{report:#}");
        let (message, advice) = only_failure(&report, "invalid-name", "never");
        assert!(message.contains("max_path_length"), "{message}");
        assert!(advice.contains("raise `max_path_length =`"), "{advice}");
        assert!(dir.path().join("inbox/short.csv").exists());
    }
}

#[test]
fn check_reports_the_local_path_limit_that_run_enforces() {
    let dir = local_limit_setup("");
    let (code, stdout, stderr) = run(ferry(dir.path()).args(["check", "push", "--json"]));
    assert_eq!(code, 1, "{stdout} / {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report:#}");
    assert_eq!(
        (rejected[0]["path"].as_str(), rejected[0]["rule"].as_str()),
        (Some("a-rather-long-name.csv"), Some("max_path_length")),
        "{report:#}"
    );
}

#[test]
fn a_missing_local_source_folder_is_named_with_the_setting_to_fix() {
    let dir = local_limit_setup("");
    std::fs::remove_dir_all(dir.path().join("outbox")).unwrap();
    let (code, report) = run_json(dir.path());
    assert_eq!(code, 1, "{report:#}");
    let (message, advice) = only_failure(&report, "not-found", "never");
    let outbox = dir.path().join("outbox").display().to_string();
    assert!(
        message.contains(&format!("the local folder {outbox} does not exist")),
        "{message}"
    );
    assert!(advice.contains("path ="), "{advice}");
}
