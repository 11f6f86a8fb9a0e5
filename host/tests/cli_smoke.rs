//! The binary starts, and bad usage is exit code 2. (Its presence also makes `cargo test`
//! build the `ferry` binary that the end-to-end tests in tests/ run.)

use std::process::Command;

#[test]
fn version_and_bad_usage() {
    let ferry = env!("CARGO_BIN_EXE_ferry");
    let version = Command::new(ferry).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ferry "));
    let bad = Command::new(ferry).arg("no-such-command").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
