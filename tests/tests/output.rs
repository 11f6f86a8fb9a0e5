//! Text output is inert: file names holding escape sequences, line breaks or bidirectional
//! overrides are printed escaped by run, log, check and plugin check, while `--json` keeps
//! every name exact.

use ferry_tests::LocalSetup as Setup;
use serde_json::Value;

const CLEARS_THE_SCREEN: &str = "\u{1b}[2Jclear?.txt";
const FAKE_ADVICE: &str = "x\nwhat to do: nothing, all files were sent?";
const REVERSED: &str = "invoice\u{202e}fdp?.exe";
const HOSTILE: [&str; 3] = [CLEARS_THE_SCREEN, FAKE_ADVICE, REVERSED];

/// A push whose source holds the hostile names, each refused for its "?".
fn setup() -> Setup {
    let setup = Setup::new("never", "forbidden_chars = \"?\"");
    for name in HOSTILE {
        setup.write(name, b"x");
    }
    setup
}

/// No raw ESC, bidi override or injected line; each name shown escaped.
fn assert_inert(command: &str, stdout: &str) {
    assert!(
        !stdout.contains('\u{1b}'),
        "{command}: raw ESC in {stdout:?}"
    );
    assert!(
        !stdout.contains('\u{202e}'),
        "{command}: raw U+202E in {stdout:?}"
    );
    assert!(
        !stdout
            .lines()
            .any(|line| line.trim_start().starts_with("what to do: nothing")),
        "{command}: a name printed a line of its own: {stdout}"
    );
    for shown in [
        "\\e[2Jclear?.txt",
        "x\\nwhat to do: nothing, all files were sent?",
        "invoice\\u{202e}fdp?.exe",
    ] {
        assert!(
            stdout.contains(shown),
            "{command}: {shown} missing in {stdout}"
        );
    }
}

fn json_paths(report: &Value, list: &str) -> Vec<String> {
    let mut paths: Vec<String> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

fn hostile_sorted() -> Vec<String> {
    let mut names: Vec<String> = HOSTILE.iter().map(|name| name.to_string()).collect();
    names.sort();
    names
}

#[test]
fn run_and_log_print_hostile_names_escaped_and_json_keeps_them_exact() {
    let setup = setup();
    let (code, stdout, _) = setup.ferry(&["run", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert_inert("run", &stdout);
    let (_, stdout, _) = setup.ferry(&["log"]);
    assert_inert("log", &stdout);
    let (_, stdout, _) = setup.ferry(&["log", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json_paths(&report, "failures"), hostile_sorted());
    let (_, report) = setup.run_json(&[]);
    assert_eq!(json_paths(&report, "failures"), hostile_sorted());
}

#[test]
fn check_and_plugin_check_print_hostile_names_escaped_and_json_keeps_them_exact() {
    let setup = setup();
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert_inert("check", &stdout);
    let (_, stdout, _) = setup.ferry(&["check", "push", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json_paths(&report, "rejected"), hostile_sorted());
    let outbox = setup.source("").display().to_string();
    let args = [
        "plugin",
        "check",
        "generic",
        &outbox,
        "--set",
        "forbidden_chars=?",
    ];
    let (code, stdout, _) = setup.ferry(&args);
    assert_eq!(code, 1, "{stdout}");
    assert_inert("plugin check", &stdout);
}
