//! The examples in examples/ work as their comments say: the quickstart and the seed's
//! cases as ready configs.

use std::path::{Path, PathBuf};

use ferry_tests::{copy_tree, ferry, run};
use serde_json::Value;
use tempfile::TempDir;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of examples/ (configs and the quickstart outbox) in a temp dir, so that runs
/// write their state and partner folders there.
fn examples_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_tree(
        &workspace().join("examples/quickstart"),
        &dir.path().join("examples/quickstart"),
    );
    copy_tree(
        &workspace().join("examples/seed"),
        &dir.path().join("examples/seed"),
    );
    std::fs::copy(
        workspace().join("examples/quickstart.toml"),
        dir.path().join("examples/quickstart.toml"),
    )
    .unwrap();
    dir
}

fn ferry_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = run(ferry(dir).args(args).arg("--json"));
    (
        code,
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}")),
    )
}

fn rules(report: &Value) -> Vec<(String, String)> {
    let rows = report["rejected"].as_array().unwrap();
    rows.iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn quickstart_sends_what_it_can_and_explains_the_rest_twice_over() {
    let dir = examples_copy();
    let args = ["run", "quickstart", "--config", "examples/quickstart.toml"];
    let (code, first) = ferry_json(dir.path(), &args);
    assert_eq!(
        (code, first["status"].as_str()),
        (3, Some("partial_failure")),
        "{first:#}"
    );
    assert_eq!(
        (first["transferred"].as_u64(), first["rejected"].as_u64()),
        (Some(3), Some(4))
    );
    let (code, second) = ferry_json(dir.path(), &args);
    assert_eq!(
        (
            code,
            second["skipped"].as_u64(),
            second["transferred"].as_u64()
        ),
        (3, Some(3), Some(0)),
        "{second:#}"
    );
}

#[test]
fn full_path_160_counts_folders_name_and_temp_suffix() {
    let dir = examples_copy();
    // 157 characters fit 160, but not with ".filepart" (157 + 9 = 166): it is sent under
    // the short temporary name instead of being refused.
    let fits_without_suffix = format!("reports/{}.csv", "f".repeat(145));
    let file = dir
        .path()
        .join("examples/quickstart/outbox")
        .join(&fits_without_suffix);
    std::fs::write(file, b"f").unwrap();
    let args = [
        "check",
        "full-path-160",
        "--config",
        "examples/seed/full-path-160.toml",
    ];
    let (code, report) = ferry_json(dir.path(), &args);
    assert_eq!(code, 1);
    let rejected = rules(&report);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].0.starts_with("reports/2026-11/Q4 summary") && rejected[0].1 == "name-too-long"
    );
    let detail = report["rejected"][0]["detail"].as_str().unwrap();
    assert_eq!(detail, "the full path is 207 characters; the limit is 160");
}

#[test]
fn no_zero_byte_refuses_empty_files() {
    let dir = examples_copy();
    let (code, report) = ferry_json(
        dir.path(),
        &[
            "check",
            "no-zero-byte",
            "--config",
            "examples/seed/no-zero-byte.toml",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        rules(&report),
        vec![(
            "reports/2026-11/empty-marker.done".to_string(),
            "zero-byte".to_string()
        )]
    );
}

#[test]
fn size_cap_2gb_refuses_larger_files_before_upload() {
    let dir = examples_copy();
    let big = dir
        .path()
        .join("examples/quickstart/outbox/exports/huge.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2_100_000_000)
        .unwrap(); // sparse
    let args = [
        "check",
        "size-cap-2gb",
        "--config",
        "examples/seed/size-cap-2gb.toml",
    ];
    let (code, report) = ferry_json(dir.path(), &args);
    assert_eq!(code, 1);
    assert_eq!(
        rules(&report),
        vec![("exports/huge.bin".to_string(), "too-large".to_string())]
    );
    let detail = report["rejected"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 2.00 GB (2000000000 bytes)"),
        "{detail}"
    );
}
