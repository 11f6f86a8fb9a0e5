//! Helpers shared by the end-to-end tests: finding the real `ferry` binary and running it
//! with a component cache shared across tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `ferry` binary built for this test run: `$FERRY_BIN`, or the one next to the test
/// executable's `deps/` folder (`cargo test` builds it, because host/tests exists).
pub fn ferry_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(format!("ferry{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p ferry` first (tests/run does)",
        bin.display()
    );
    bin
}

/// Where compiled plugins are cached for every test of this run.
pub fn component_cache() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-component-cache")
}

/// A `ferry` command with the shared cache and no inherited config.
pub fn ferry(cwd: &Path) -> Command {
    let mut command = Command::new(ferry_bin());
    command
        .current_dir(cwd)
        .env("FERRY_CACHE_DIR", component_cache())
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_LOG");
    command
}

/// Run and return (exit code, stdout, stderr).
pub fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("ferry runs");
    let code = status
        .code()
        .expect("ferry exited normally, not by a signal");
    (
        code,
        String::from_utf8(stdout).expect("utf-8 stdout"),
        String::from_utf8(stderr).expect("utf-8 stderr"),
    )
}
