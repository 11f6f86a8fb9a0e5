//! `ferry doctor REMOTE [FOLDER]` against a real OpenSSH sshd on 127.0.0.1 (as partners run
//! it: refusing mkdir or rename, read-only folders, a missing root, revoked or tab-separated
//! known_hosts entries) and a local folder: each step's result, why a step was skipped, the
//! address the connection left from, the plugin's reading of each failure, how the server
//! replaces a file, which requests the server allows (one test per restriction), the
//! settings that fit, and nothing of the probe's left afterwards.

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
        Setup::with_sshd(Sshd::start())
    }

    fn with_sshd(sshd: Sshd) -> Setup {
        let key = sshd.key_file.clone();
        Setup::with_partner(sshd, &key, None, "")
    }

    /// Replace `from` with `to` in ferry.toml.
    fn edit_config(&self, from: &str, to: &str) {
        let file = self.dir.path().join("ferry.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from} not in {text}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
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
        self.doctor_json_in(&[remote])
    }

    fn doctor_json_in(&self, args: &[&str]) -> (i32, Value) {
        let mut args = args.to_vec();
        args.push("--json");
        let (code, stdout, stderr) = self.doctor(&args);
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

/// What the probe could have left in `root`: anything named after it, or a partial upload.
fn scratch_folders(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".ferry-doctor-") || name.ends_with(".partial"))
        .collect()
}

/// The answer to `capability` in a `--json` report: its status, and its reason.
fn capability<'a>(report: &'a Value, name: &str) -> (&'a str, &'a Value) {
    let answer = &report["capabilities"][name];
    let status = answer["status"].as_str();
    (
        status.unwrap_or_else(|| panic!("no capability {name} in {report:#}")),
        &answer["reason"],
    )
}

/// Assert the server refused `name` with a reason, and allowed each of `allowed`.
fn assert_refused_only(report: &Value, name: &str, allowed: &[&str]) {
    let (status, reason) = capability(report, name);
    assert_eq!(status, "refused", "{report:#}");
    assert!(!reason.as_str().unwrap().is_empty(), "{report:#}");
    for other in allowed {
        assert_eq!(
            capability(report, other).0,
            "allowed",
            "{other}: {report:#}"
        );
    }
}

/// The settings of a `--json` report, as (setting, on).
fn settings(report: &Value) -> Vec<(&str, &str)> {
    report["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fit| {
            (
                fit["setting"].as_str().unwrap(),
                fit["on"].as_str().unwrap(),
            )
        })
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
            "open-folder",
            "list",
            "mkdir",
            "write",
            "read-back",
            "rename",
            "posix-rename",
            "write-over",
            "rename-over",
            "set-mtime",
            "delete-file",
            "delete-folder"
        ]
    );
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
    assert_eq!(
        report["replace"],
        serde_json::json!({"strategy": "posix-rename", "setting": null})
    );
}

#[test]
fn the_json_report_answers_every_capability_and_names_the_settings() {
    let setup = Setup::new();
    let (code, report) = setup.doctor_json("partner");
    assert_all_passed(code, &report);
    let allowed = serde_json::json!({"status": "allowed", "reason": null});
    let expected: serde_json::Map<String, Value> = [
        "list",
        "mkdir",
        "write",
        "read",
        "rename",
        "posix-rename",
        "setstat",
        "remove",
    ]
    .iter()
    .map(|name| (name.to_string(), allowed.clone()))
    .collect();
    assert_eq!(report["capabilities"], Value::Object(expected));
    assert_eq!(report["settings"], serde_json::json!([]));
    assert_eq!(report["notes"], serde_json::json!([]));
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

/// Assert `name` failed with `category`, its advice containing `advice`.
fn assert_failed(report: &Value, name: &str, category: &str, advice: &str) {
    let failed = step(report, name);
    assert_eq!(
        (failed["ok"].as_bool(), failed["category"].as_str()),
        (Some(false), Some(category)),
        "{failed}"
    );
    assert!(!failed["message"].as_str().unwrap().is_empty(), "{failed}");
    let given = failed["advice"].as_str().unwrap();
    assert!(given.contains(advice), "{name}: {given}");
}

fn assert_skipped(report: &Value, name: &str, why: &str) {
    let skipped = step(report, name);
    assert_eq!(
        (
            skipped["skipped"].as_bool(),
            skipped["why_skipped"].as_str()
        ),
        (Some(true), Some(why)),
        "{skipped}"
    );
}

#[test]
fn a_read_only_root_refuses_mkdir_and_the_direct_write_naming_the_root() {
    let setup = Setup::new();
    std::fs::set_permissions(&setup.sshd.root, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(
        (code, report["ok"].as_bool()),
        (1, Some(false)),
        "{report:#}"
    );
    assert_eq!(step(&report, "list")["ok"], true);
    assert_failed(
        &report,
        "mkdir",
        "permission",
        "in the remote's root folder",
    );
    assert_failed(
        &report,
        "write",
        "permission",
        "in the remote's root folder",
    );
    assert_skipped(
        &report,
        "read-back",
        "needs write, which the server refused",
    );
    assert_skipped(
        &report,
        "delete-folder",
        "needs mkdir, which the server refused",
    );
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
}

#[test]
fn a_read_only_subfolder_is_tested_and_named() {
    let setup = Setup::new();
    // Owned by root, inside the root the login user owns: not writable for it.
    std::fs::create_dir(setup.sshd.root.join("locked")).unwrap();
    let (code, report) = setup.doctor_json_in(&["partner", "locked"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(step(&report, "open-folder")["ok"], true);
    assert_failed(&report, "mkdir", "permission", "in the folder locked.");
    assert_failed(&report, "write", "permission", "in the folder locked.");
    assert_eq!(
        scratch_folders(&setup.sshd.root.join("locked")),
        Vec::<String>::new()
    );
}

#[test]
fn a_refused_mkdir_still_tests_writing_directly_in_the_folder_and_leaves_nothing() {
    let setup = Setup::with_sshd(Sshd::start_with("-P mkdir"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_failed(
        &report,
        "mkdir",
        "permission",
        "in the remote's root folder",
    );
    for passed in ["write", "read-back", "rename", "rename-over", "delete-file"] {
        assert_eq!(step(&report, passed)["ok"], true, "{report:#}");
    }
    assert_skipped(
        &report,
        "delete-folder",
        "needs mkdir, which the server refused",
    );
    assert_eq!(report["cleanup"]["left"], serde_json::json!([]));
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
}

#[test]
fn a_server_that_refuses_rename_gets_upload_direct() {
    let setup = Setup::with_sshd(Sshd::start_with("-P rename,posix-rename"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_failed(
        &report,
        "rename",
        "permission",
        "in the folder .ferry-doctor-",
    );
    assert_skipped(
        &report,
        "rename-over",
        "needs rename, which the server refused",
    );
    assert_eq!(
        report["replace"],
        serde_json::json!({"strategy": "none", "setting": "upload = \"direct\""})
    );
    assert_refused_only(&report, "rename", &["write", "setstat", "remove"]);
    assert_eq!(capability(&report, "posix-rename").0, "refused");
    assert_eq!(settings(&report), [("upload = \"direct\"", "sync")]);
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
    let (_, text, _) = setup.doctor(&["partner"]);
    assert!(
        text.contains("rename-over    skipped: needs rename, which the server refused"),
        "{text}"
    );
    assert!(
        text.contains("  upload = \"direct\" on the syncs to this remote: "),
        "{text}"
    );
}

#[test]
fn a_server_that_refuses_times_gets_set_mtime_false() {
    let setup = Setup::with_sshd(Sshd::start_with("-P setstat,fsetstat"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_failed(&report, "set-mtime", "permission", "");
    assert_refused_only(&report, "setstat", &["write", "rename", "remove"]);
    assert_eq!(settings(&report), [("set_mtime = false", "remote")]);
    assert_eq!(scratch_folders(&setup.sshd.root), Vec::<String>::new());
    let (code, text, _) = setup.doctor(&["partner"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("setstat        refused: "), "{text}");
    assert!(
        text.contains("  set_mtime = false on the remote: the server refuses"),
        "{text}"
    );
}

#[test]
fn a_server_that_refuses_remove_is_told_to_hold_mirror_deletes() {
    let setup = Setup::with_sshd(Sshd::start_with("-P remove"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_refused_only(&report, "remove", &["write", "rename", "setstat"]);
    assert_eq!(settings(&report), []);
    let notes = report["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{report:#}");
    let note = notes[0].as_str().unwrap();
    assert!(
        note.contains("delete = \"mirror\"") && note.contains("ferry retry"),
        "{note}"
    );
}

#[test]
fn what_cannot_be_removed_is_listed_exactly() {
    let setup = Setup::with_sshd(Sshd::start_with("-P remove,rmdir"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_failed(
        &report,
        "delete-file",
        "permission",
        "in the folder .ferry-doctor-",
    );
    let mut listed: Vec<String> = report["cleanup"]["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|left| left["path"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let folder = scratch_folders(&setup.sshd.root);
    assert_eq!(folder.len(), 1, "{report:#}");
    let mut there: Vec<String> = std::fs::read_dir(setup.sshd.root.join(&folder[0]))
        .unwrap()
        .map(|entry| {
            format!(
                "{}/{}",
                folder[0],
                entry.unwrap().file_name().to_string_lossy()
            )
        })
        .chain(folder.iter().cloned())
        .collect();
    there.sort();
    assert_eq!(listed, there, "{report:#}");
    let (_, text, _) = setup.doctor(&["partner"]);
    assert!(text.contains("LEFT BEHIND"), "{text}");
}

#[test]
fn a_server_without_posix_rename_replaces_by_moving_the_old_file_aside() {
    let setup = Setup::with_sshd(Sshd::start_with("-P posix-rename"));
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_refused_only(&report, "posix-rename", &["rename", "write", "remove"]);
    assert_failed(&report, "posix-rename", "permission", "");
    assert_eq!(step(&report, "rename-over")["ok"], true, "{report:#}");
    assert_eq!(
        report["replace"],
        serde_json::json!({"strategy": "rename", "setting": null})
    );
    assert_eq!(settings(&report), []);
}

#[test]
fn a_write_only_inbox_is_tested_in_place_and_left_as_it_was() {
    let setup = Setup::new();
    let root = &setup.sshd.root;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o333)).unwrap();
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    let allowed = [
        "mkdir",
        "write",
        "rename",
        "posix-rename",
        "setstat",
        "remove",
    ];
    assert_refused_only(&report, "list", &allowed);
    assert_eq!(report["cleanup"]["left"], serde_json::json!([]));
    assert_eq!(std::fs::read_dir(root).unwrap().count(), 0, "{report:#}");
    assert_eq!(
        settings(&report),
        [("listing = \"none\"", "remote")],
        "{report:#}"
    );
    // The file was written in the inbox itself (named after the scratch folder).
    let created = report["cleanup"]["created"].as_array().unwrap();
    assert!(
        created.iter().any(|path| {
            let path = path.as_str().unwrap();
            path.starts_with(".ferry-doctor-") && path.ends_with("-probe.txt")
        }),
        "{report:#}"
    );
}

#[test]
fn a_missing_root_fails_open_folder_naming_it() {
    let setup = Setup::new();
    let root = setup.sshd.root.display().to_string();
    setup.edit_config(
        &format!("root = \"{root}\""),
        &format!("root = \"{root}/gone\""),
    );
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(step(&report, "authenticate")["ok"], true);
    assert_failed(&report, "open-folder", "not-found", "`root =`");
    let open = step(&report, "open-folder");
    assert_eq!(open["retry"], "never");
    let message = open["message"].as_str().unwrap();
    assert!(message.contains(&format!("{root}/gone")), "{message}");
    assert_skipped(
        &report,
        "list",
        "needs open-folder, which the server refused",
    );
}

#[test]
fn a_revoked_host_key_is_refused_naming_the_file_and_line() {
    let setup = Setup::new();
    let known_hosts = &setup.sshd.known_hosts;
    let line = std::fs::read_to_string(known_hosts).unwrap();
    let line = line.trim_end();
    std::fs::write(known_hosts, format!("# partner\n{line}\n@revoked {line}\n")).unwrap();
    let (code, report) = setup.doctor_json("partner");
    assert_eq!(code, 1, "{report:#}");
    let host_key = step(&report, "host-key");
    let message = host_key["message"].as_str().unwrap();
    assert!(message.contains("REVOKED HOST KEY DETECTED"), "{message}");
    assert!(
        message.contains(&format!("line 3 of {}", known_hosts.display())),
        "{message}"
    );
    assert_eq!(step(&report, "authenticate")["needs"], "host-key");
}

#[test]
fn a_tab_separated_known_hosts_line_is_accepted() {
    let setup = Setup::new();
    let known_hosts = &setup.sshd.known_hosts;
    let line = std::fs::read_to_string(known_hosts).unwrap();
    std::fs::write(known_hosts, line.trim_end().replace(' ', "\t") + "\n").unwrap();
    let (code, report) = setup.doctor_json("partner");
    assert_all_passed(code, &report);
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
    assert_eq!(step(&report, "list")["needs"], "open-folder");
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
