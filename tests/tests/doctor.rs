//! `ferry doctor REMOTE` against a real OpenSSH sshd on 127.0.0.1 and a local folder: each
//! step's result, the address the connection left from, the plugin's reading of each
//! failure, and the scratch folder gone afterwards.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferry_tests::sshd::Sshd;
use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

/// A running sshd and a ferry.toml with the remote `partner` on it and the local remote
/// `folder` (`folder/`).
struct Setup {
    dir: TempDir,
    sshd: Sshd,
}

impl Setup {
    fn new() -> Setup {
        let sshd = Sshd::start();
        let key = sshd.key_file.clone();
        Setup::with_partner(sshd, &key, None, "")
    }

    /// `partner` logs in with `key` on `port` (the sshd's when `None`); `extra` holds more
    /// of its TOML lines.
    fn with_partner(sshd: Sshd, key: &Path, port: Option<u16>, extra: &str) -> Setup {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        let partner =
            sshd.remote_toml("partner", port.unwrap_or(sshd.port), key, &sshd.known_hosts);
        let config =
            format!("[remotes.folder]\ntype = \"local\"\npath = \"folder\"\n\n{partner}{extra}\n");
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        Setup { dir, sshd }
    }

    fn doctor(&self, args: &[&str]) -> (i32, String, String) {
        run(ferry(self.dir.path()).arg("doctor").args(args))
    }

    fn doctor_json(&self, remote: &str) -> (i32, Value) {
        let (code, stdout, stderr) = self.doctor(&[remote, "--json"]);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }
}

/// The step named `name` of a `--json` report.
fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

fn assert_all_passed(code: i32, report: &Value) {
    assert_eq!(
        (code, report["ok"].as_bool()),
        (0, Some(true)),
        "{report:#}"
    );
    for step in report["steps"].as_array().unwrap() {
        assert_eq!(step["ok"], true, "{step}");
    }
}

fn scratch_folders(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".ferry-doctor-"))
        .collect()
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_healthy_sftp_remote_passes_every_step_and_leaves_nothing() {
    let setup = Setup::new();
    let (code, report) = setup.doctor_json("partner");
    assert_all_passed(code, &report);
    assert_eq!(report["kind"], "sftp");
    assert_eq!(report["local_address"], "127.0.0.1");
    assert_eq!(
        report["addresses"],
        serde_json::json!([format!("127.0.0.1:{}", setup.sshd.port)])
    );
    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "resolve",
            "connect",
            "host-key",
            "authenticate",
            "list",
            "mkdir",
            "write",
            "read-back",
            "rename",
            "write-over",
            "rename-over",
            "set-mtime",
            "delete-file",
            "delete-folder"
        ]
    );
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
}

#[test]
fn the_text_report_lists_each_step() {
    let setup = Setup::new();
    let (code, stdout, stderr) = setup.doctor(&["partner"]);
    assert_eq!(code, 0, "{stdout} / {stderr}");
    insta::with_settings!({filters => vec![
        (r"\d+ ms", "[time]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    ]}, {
        insta::assert_snapshot!(stdout);
    });
}

#[test]
fn the_bind_address_is_the_local_address() {
    let sshd = Sshd::start();
    let key = sshd.key_file.clone();
    let setup = Setup::with_partner(sshd, &key, None, "bind_address = \"127.0.0.2\"");
    let (code, report) = setup.doctor_json("partner");
    assert_all_passed(code, &report);
    assert_eq!(report["local_address"], "127.0.0.2");
}

#[test]
fn a_read_only_root_fails_at_mkdir_and_skips_what_needs_it() {
    let setup = Setup::new();
    std::fs::set_permissions(&setup.sshd.root, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(
        (code, report["ok"].as_bool()),
        (1, Some(false)),
        "{report:#}"
    );
    assert_eq!(step(&report, "list")["ok"], true);
    let mkdir = step(&report, "mkdir");
    assert_eq!(
        (mkdir["ok"].as_bool(), mkdir["category"].as_str()),
        (Some(false), Some("permission")),
        "{mkdir}"
    );
    assert!(!mkdir["advice"].as_str().unwrap().is_empty(), "{mkdir}");
    assert!(!mkdir["message"].as_str().unwrap().is_empty(), "{mkdir}");
    let after: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .skip_while(|step| step["step"] != "mkdir")
        .skip(1)
        .collect();
    assert!(!after.is_empty());
    for step in after {
        assert_eq!(step["skipped"], true, "{step}");
    }
    assert_eq!(step(&report, "write")["needs"], "mkdir");
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
}

#[test]
fn a_refused_connection_is_a_connectivity_failure_naming_the_address() {
    let sshd = Sshd::start();
    let key = sshd.key_file.clone();
    let setup = Setup::with_partner(sshd, &key, Some(closed_port()), "");
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    let connect = step(&report, "connect");
    assert_eq!(connect["category"], "connectivity", "{connect}");
    let advice = connect["advice"].as_str().unwrap();
    assert!(
        advice.contains("firewall") || advice.contains("allow-list"),
        "{advice}"
    );
    assert!(advice.contains("127.0.0.1"), "{advice}");
    assert_eq!(report["local_address"], "127.0.0.1");
    assert_eq!(step(&report, "host-key")["needs"], "connect");
    assert_eq!(step(&report, "list")["needs"], "authenticate");
}

#[test]
fn a_wrong_key_fails_at_authenticate() {
    let sshd = Sshd::start();
    let wrong = sshd.wrong_key();
    let setup = Setup::with_partner(sshd, &wrong, None, "");
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(step(&report, "connect")["ok"], true);
    assert_eq!(step(&report, "host-key")["ok"], true);
    let authenticate = step(&report, "authenticate");
    assert_eq!(authenticate["category"], "auth", "{authenticate}");
    assert_eq!(step(&report, "list")["skipped"], true);
}

#[test]
fn a_local_folder_passes_every_step() {
    let setup = Setup::new();
    let (code, report) = setup.doctor_json("folder");
    assert_all_passed(code, &report);
    assert_eq!(report["kind"], "local");
    assert_eq!(step(&report, "open-folder")["ok"], true);
    assert_eq!(report["local_address"], Value::Null);
    assert_eq!(
        scratch_folders(&setup.dir.path().join("folder")),
        Vec::<String>::new()
    );
}

#[test]
fn an_unknown_remote_is_a_usage_error_with_a_suggestion() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.doctor(&["partnr"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean \"partner\""), "{stderr}");
}
