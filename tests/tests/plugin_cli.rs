//! `ferry plugin ...` end to end: the real binary, a temp dir, real bundled plugins.

use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

const NAME300: &str = concat!(
    "a-very-long-report-name-that-some-partner-system-generated-automatically-",
    "and-nobody-ever-shortened-because-local-disks-do-not-mind-",
    "long-names-but-remote-servers-often-refuse-them-",
    "after-the-upload-when-it-is-far-too-late-to-do-anything-about-it-",
    "so-ferry-checks-them-beforehand-against-the-policy-p.csv"
);

fn check_command(dir: &TempDir) -> std::process::Command {
    let mut command = ferry(dir.path());
    command.args([
        "plugin",
        "check",
        "generic",
        "--set",
        "max_name_length=160",
        "--set",
        "forbidden_chars=?*",
        "dir/a?b",
        NAME300,
    ]);
    command
}

#[test]
fn each_path_gets_one_violation_naming_rule_character_or_limit() {
    assert_eq!(NAME300.chars().count(), 300);
    let dir = TempDir::new().unwrap();
    let (code, stdout, stderr) = run(&mut check_command(&dir));
    assert_eq!(code, 1, "something rejected is exit 1; stderr: {stderr}");
    insta::assert_snapshot!(stdout.replace(NAME300, "<NAME300>"));
}

#[test]
fn check_json_lists_every_rejection() {
    let dir = TempDir::new().unwrap();
    let (code, stdout, _) = run(check_command(&dir).arg("--json"));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["checked"], 2);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["path"], "dir/a?b");
    assert_eq!(rejected[0]["rule"], "forbidden-character");
    assert_eq!(rejected[0]["suggestion"], "dir/a_b");
    assert_eq!(rejected[1]["rule"], "name-too-long");
    let suggestion = rejected[1]["suggestion"].as_str().unwrap();
    assert!(
        suggestion.len() <= 160 && suggestion.ends_with(".csv"),
        "{suggestion}"
    );
}

#[test]
fn a_directory_is_checked_relative_to_itself_with_sizes() {
    let dir = TempDir::new().unwrap();
    let tree = dir.path().join("outbox");
    std::fs::create_dir_all(tree.join("reports")).unwrap();
    std::fs::write(tree.join("reports/ok.csv"), "1,2\n").unwrap();
    std::fs::write(tree.join("reports/empty.csv"), "").unwrap();
    std::fs::write(tree.join("big.bin"), vec![0u8; 2048]).unwrap();
    let mut command = ferry(dir.path());
    command.args([
        "plugin",
        "check",
        "generic",
        "outbox",
        "--set",
        "zero_byte=reject",
        "--set",
        "max_size=1KiB",
    ]);
    let (code, stdout, stderr) = run(&mut command);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn a_clean_tree_exits_zero() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("fine.txt"), "x").unwrap();
    let (code, stdout, _) = run(ferry(dir.path()).args(["plugin", "check", "generic", "fine.txt"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("1 checked against generic 0.1.0: 0 rejected"),
        "{stdout}"
    );
}

#[test]
fn inspect_prints_metadata_and_every_setting() {
    let dir = TempDir::new().unwrap();
    let (code, stdout, _) = run(ferry(dir.path()).args(["plugin", "inspect", "generic"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
    let (_, json, _) = run(ferry(dir.path()).args(["plugin", "inspect", "generic", "--json"]));
    let metadata: Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = metadata["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for contract_key in [
        "forbidden_chars",
        "reserved_names",
        "max_name_length",
        "length_counts",
        "max_path_length",
        "max_size",
        "zero_byte",
        "temp_suffix",
    ] {
        assert!(
            names.contains(&contract_key),
            "{contract_key} missing from {names:?}"
        );
    }
}

#[test]
fn a_plugin_given_as_a_wasm_path_is_loaded_from_there() {
    let dir = TempDir::new().unwrap();
    let wasm = env!("FERRY_TEST_PLUGIN_HOSTILE");
    let (code, stdout, stderr) = run(ferry(dir.path()).args(["plugin", "inspect", wasm]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("hostile 0.0.0"), "{stdout}");
}

#[test]
fn usage_errors_name_the_problem_and_exit_2() {
    let dir = TempDir::new().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["plugin", "inspect", "generix"],
            "no bundled plugin is named \"generix\" (did you mean \"generic\"?)",
        ),
        (
            &[
                "plugin",
                "check",
                "generic",
                "--set",
                "max_name_lenght=9",
                "x",
            ],
            "did you mean \"max_name_length\"?",
        ),
        (
            &[
                "plugin",
                "check",
                "generic",
                "--set",
                "length_counts=path",
                "x",
            ],
            "expected \"name\" or \"full-path\"",
        ),
        (
            &[
                "plugin",
                "check",
                "generic",
                "--set",
                "max_name_length",
                "x",
            ],
            "expected KEY=VALUE",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = run(ferry(dir.path()).args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stdout.is_empty(),
            "{args:?}: errors go to stderr, got {stdout}"
        );
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn a_missing_wasm_file_is_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let (code, _, stderr) = run(ferry(dir.path()).args(["plugin", "inspect", "./nowhere.wasm"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read plugin file") && stderr.contains("nowhere.wasm"),
        "{stderr}"
    );
}
