//! `ferry plugin test` end to end: every plugin in plugins/ passes its own golden cases
//! (plugins/NAME/cases.toml), and a wrong expectation fails naming the case, what was
//! expected and what the plugin answered.

use std::path::Path;

use ferry_tests::{ferry, run};
use serde_json::Value;
use tempfile::TempDir;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn every_plugin_passes_its_own_cases() {
    let mut tested = Vec::new();
    for dir in std::fs::read_dir(workspace().join("plugins")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.join("cases.toml").exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let cases = format!("plugins/{name}/cases.toml");
        let (code, stdout, stderr) =
            run(ferry(workspace()).args(["plugin", "test", &name, &cases]));
        assert_eq!(code, 0, "{name}:\n{stdout}{stderr}");
        assert!(stdout.contains(" passed, 0 failed"), "{name}: {stdout}");
        tested.push(name);
    }
    assert!(tested.len() >= 8, "only {tested:?} have cases");
}

/// A `?` is refused on Windows: the first expectation is wrong, the second right.
const ONE_WRONG: &str = r#"[[entry]]
path = "reports/a?b.txt"
violations = []

[[entry]]
path = "reports/nul.txt"
violations = ["reserved-name"]
suggestion = "reports/nul_.txt"
"#;

fn run_one_wrong(json: bool) -> (i32, String, String) {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("cases.toml"), ONE_WRONG).unwrap();
    let mut command = ferry(dir.path());
    command.args(["plugin", "test", "windows-smb", "cases.toml"]);
    if json {
        command.arg("--json");
    }
    run(&mut command)
}

#[test]
fn a_wrong_expectation_exits_1_naming_the_case_the_expected_and_the_actual_value() {
    let (code, stdout, stderr) = run_one_wrong(false);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            r#"entry "reports/a?b.txt" (line 1): expected violations = [], got violations = ["forbidden-character"]"#
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
}

#[test]
fn json_lists_each_mismatch() {
    let (code, stdout, stderr) = run_one_wrong(true);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let mismatch = &report["mismatches"][0];
    assert_eq!(mismatch["case"], r#"entry "reports/a?b.txt""#);
    assert_eq!(mismatch["line"], 1);
    assert_eq!(mismatch["expected"], "violations = []");
    assert_eq!(mismatch["got"], r#"violations = ["forbidden-character"]"#);
}

#[test]
fn a_bad_cases_file_exits_2_naming_its_line_and_key() {
    let dir = TempDir::new().unwrap();
    let text = ONE_WRONG.replace("violations = []", "violations = []\nsugestion = \"x\"");
    std::fs::write(dir.path().join("cases.toml"), text).unwrap();
    let (code, stdout, stderr) =
        run(ferry(dir.path()).args(["plugin", "test", "windows-smb", "cases.toml"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(r#"cases.toml:4:1: entry: unknown key "sugestion""#),
        "{stderr}"
    );
}

/// `ferry plugin test generic` on `cases` written to a temporary cases.toml.
fn run_generic_cases(cases: &str) -> (i32, String, String) {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("cases.toml"), cases).unwrap();
    run(ferry(dir.path()).args(["plugin", "test", "generic", "cases.toml"]))
}

#[test]
fn max_size_takes_bytes_or_a_number_and_a_unit() {
    for (max_size, limit) in [
        ("1048576", 1_048_576u64),
        ("\"500 MB\"", 500_000_000),
        ("\"2GiB\"", 2 << 30),
        ("\"1.5 kib\"", 1_536),
    ] {
        let cases = format!(
            "[settings]\nmax_size = {max_size}\n\n\
             [[entry]]\npath = \"at-the-limit\"\nsize = {limit}\nviolations = []\n\n\
             [[entry]]\npath = \"over\"\nsize = {}\nviolations = [\"too-large\"]\n",
            limit + 1
        );
        let (code, stdout, stderr) = run_generic_cases(&cases);
        assert_eq!(code, 0, "{max_size}: {stdout}{stderr}");
        assert!(
            stdout.contains("2 passed, 0 failed"),
            "{max_size}: {stdout}"
        );
    }
}

#[test]
fn a_size_in_no_known_syntax_exits_2_naming_what_is_wrong_and_the_syntax() {
    for (max_size, why) in [
        ("\"2 parsecs\"", "unknown unit \"parsecs\""),
        ("\"1.5\"", "not a whole number of bytes"),
        ("\"20000000000 TB\"", "larger than the largest size"),
    ] {
        let (code, stdout, stderr) = run_generic_cases(&format!(
            "[settings]\nmax_size = {max_size}\n\n[[entry]]\npath = \"a\"\nviolations = []\n"
        ));
        assert_eq!(code, 2, "{max_size}: {stdout}{stderr}");
        assert!(stderr.contains(why), "{max_size}: {stderr}");
        assert!(
            stderr.contains("e.g. \"2GB\", \"2GiB\", \"500 MB\""),
            "{stderr}"
        );
    }
}
