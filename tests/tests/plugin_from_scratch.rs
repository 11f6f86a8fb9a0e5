//! The "write your own policy plugin" tutorial (examples/plugin-from-scratch) end to end:
//! its crate builds on its own, and the commands its README gives answer as it says.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ferry_tests::{copy_tree, ferry, run};
use serde_json::Value;
use tempfile::TempDir;

/// The ferry.toml's plugin path, relative to the example folder, as the README builds it.
const README_WASM: &str = "target/wasm32-wasip2/release/acme_secure_drop.wasm";

/// What the README shows `plugin test` printing when `~` is missing from the rules.
const MISMATCH: &str = r#"entry "notes/{draft}~2.txt" (line 16): expected violations = ["forbidden-character", "forbidden-character", "forbidden-character"] and suggestion = "notes/_draft__2.txt", got violations = ["forbidden-character", "forbidden-character"] and suggestion = "notes/_draft_~2.txt""#;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn example() -> PathBuf {
    workspace().join("examples/plugin-from-scratch")
}

/// The example plugin, built once per test binary, into the workspace's target/.
fn plugin_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(build_plugin)
}

fn build_plugin() -> PathBuf {
    let target_dir = workspace().join("target/plugin-from-scratch");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--manifest-path")
        .arg(example().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build must not reach the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building examples/plugin-from-scratch failed (see above); if its Cargo.lock is \
         stale, run `cargo build` in that folder once to update it"
    );
    target_dir.join("wasm32-wasip2/release/acme_secure_drop.wasm")
}

#[test]
fn inspect_shows_the_name_and_the_acme_defaults() {
    let dir = TempDir::new().unwrap();
    let (code, stdout, stderr) = run(ferry(dir.path())
        .args(["plugin", "inspect"])
        .arg(plugin_wasm()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("acme-secure-drop 0.1.0 (from "),
        "{stdout}"
    );
    for setting in [
        "forbidden_chars (text, default: #%&{}~)",
        "reserved_names (text-list, default: index,upload)",
        "max_path_length (integer, default: 120)",
        "max_size (size, default: 2000000000)",
        "zero_byte (text, default: reject)",
        "temp_suffix (text, default: .acmepart)",
    ] {
        assert!(stdout.contains(setting), "{setting} missing from {stdout}");
    }
}

#[test]
fn the_golden_cases_pass() {
    let (code, stdout, stderr) = run(ferry(&example())
        .args(["plugin", "test"])
        .arg(plugin_wasm())
        .arg("cases.toml"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn a_rule_gone_missing_is_a_mismatch_naming_case_and_line() {
    let dir = TempDir::new().unwrap();
    let cases = std::fs::read_to_string(example().join("cases.toml")).unwrap();
    // Appended, so that every case keeps its line: the rules without `~`.
    let without_tilde = format!("{cases}\n[settings]\nforbidden_chars = \"#%&{{}}\"\n");
    std::fs::write(dir.path().join("cases.toml"), without_tilde).unwrap();
    let (code, stdout, stderr) = run(ferry(dir.path())
        .args(["plugin", "test"])
        .arg(plugin_wasm())
        .arg("cases.toml"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains(MISMATCH), "{stdout}");
    assert!(stdout.contains(" passed, 1 failed"), "{stdout}");
}

/// The example's ferry.toml and outbox/ in a temp dir, its policy the plugin just built.
fn example_setup() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_tree(&example().join("outbox"), &dir.path().join("outbox"));
    let config = std::fs::read_to_string(example().join("ferry.toml")).unwrap();
    assert!(config.contains(README_WASM), "{config}");
    let built = plugin_wasm().display().to_string();
    std::fs::write(
        dir.path().join("ferry.toml"),
        config.replace(README_WASM, &built),
    )
    .unwrap();
    dir
}

const LONG_REPORT: &str = "reports/archive/2024-q3-northwind-consolidated-revenue-and-expense-statement-by-region-and-product-line-final-approved.csv";

/// `(path, rule)` for every refused file of the example outbox, by path.
fn refused_by_rule() -> Vec<(String, String)> {
    [
        ("index.html", "reserved-name"),
        ("reports/R&D budget.csv", "forbidden-character"),
        (LONG_REPORT, "path-too-long"),
        ("reports/budget.v2.csv", "too-many-dots"),
        ("reports/empty.csv", "zero-byte"),
    ]
    .map(|(path, rule)| (path.to_string(), rule.to_string()))
    .to_vec()
}

fn pairs(rows: &Value, first: &str, second: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (text(&row[first]), text(&row[second])))
        .collect();
    pairs.sort();
    pairs
}

/// A JSON string's text; "" for null (no suggestion).
fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn json(dir: &TempDir, args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = run(ferry(dir.path()).args(args).arg("--json"));
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
    (code, report)
}

#[test]
fn check_lists_every_refused_file_with_its_rule() {
    let dir = example_setup();
    let (code, report) = json(&dir, &["check", "acme"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        pairs(&report["rejected"], "path", "rule"),
        refused_by_rule()
    );
    let suggestions = pairs(&report["rejected"], "path", "suggestion");
    for (path, suggestion) in [
        ("index.html", "index_.html"),
        ("reports/budget.v2.csv", "reports/budget_v2.csv"),
    ] {
        assert!(
            suggestions.contains(&(path.into(), suggestion.into())),
            "{suggestions:?}"
        );
    }
}

#[test]
fn run_sends_the_accepted_file_and_refuses_the_rest_before_upload() {
    let dir = example_setup();
    let (code, report) = json(&dir, &["run", "acme"]);
    assert_eq!(code, 3, "partial failure; {report:#}");
    let categories = pairs(&report["failures"], "path", "category");
    let expected: Vec<(String, String)> = refused_by_rule()
        .into_iter()
        .map(|(path, rule)| {
            let category = if rule == "zero-byte" {
                "invalid-size"
            } else {
                "invalid-name"
            };
            (path, category.to_string())
        })
        .collect();
    assert_eq!(categories, expected);
    let drop = dir.path().join("target/acme-drop");
    assert!(drop.join("reports/q3-summary.csv").is_file());
    for (path, _) in refused_by_rule() {
        assert!(!drop.join(&path).exists(), "{path} was sent");
    }
}
