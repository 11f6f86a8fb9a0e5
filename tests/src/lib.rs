//! Helpers shared by the end-to-end tests: finding the real `ferry` binary and running it
//! with a component cache shared across tests.

pub mod fault_proxy;
pub mod http_fault;
pub mod http_servers;
pub mod service;
pub mod sshd;

use std::path::{Path, PathBuf};

use serde_json::Value;
use std::process::{Command, Output};
use tempfile::TempDir;

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

/// Write `content` to `file`, making the folders above it.
pub fn write_file(file: &Path, content: &[u8]) {
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, content).unwrap();
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

/// Two local folders, `outbox/` (source) and `inbox/` (destination, policy `generic`),
/// and a ferry.toml with one sync `push` between them.
pub struct LocalSetup {
    pub dir: TempDir,
}

impl LocalSetup {
    /// `delete` for the sync, `policy_settings` (TOML lines) for the destination.
    pub fn new(delete: &str, policy_settings: &str) -> LocalSetup {
        LocalSetup::with_sync_keys(delete, policy_settings, "")
    }

    /// Also `sync_keys` (TOML lines) in `[syncs.push]`, and a sync `pull` back from
    /// `inbox/` to `outbox/`.
    pub fn with_sync_keys(delete: &str, policy_settings: &str, sync_keys: &str) -> LocalSetup {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
        let config = format!(
            "[remotes.outbox]\ntype = \"local\"\npath = \"outbox\"\n\n\
             [remotes.inbox]\ntype = \"local\"\npath = \"inbox\"\npolicy = \"generic\"\n\
             [remotes.inbox.policy_settings]\n{policy_settings}\n\n\
             [syncs.push]\nsource = \"outbox\"\ndestination = \"inbox\"\ndelete = \"{delete}\"\n{sync_keys}\n\n\
             [syncs.pull]\nsource = \"inbox\"\ndestination = \"outbox\"\n"
        );
        std::fs::write(dir.path().join("ferry.toml"), config).unwrap();
        LocalSetup { dir }
    }

    pub fn source(&self, path: &str) -> PathBuf {
        self.dir.path().join("outbox").join(path)
    }

    pub fn destination(&self, path: &str) -> PathBuf {
        self.dir.path().join("inbox").join(path)
    }

    pub fn write(&self, path: &str, content: &[u8]) {
        write_file(&self.source(path), content);
    }

    pub fn ferry(&self, args: &[&str]) -> (i32, String, String) {
        run(ferry(self.dir.path()).args(args))
    }

    pub fn run_json(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["run", "push", "--json"];
        args.extend(extra);
        let (code, stdout, stderr) = self.ferry(&args);
        let report =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
        (code, report)
    }
}

/// Every file under `root` with its bytes, by relative path, sorted.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

/// The relative paths of every file under `root`, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    tree(root).into_iter().map(|(path, _)| path).collect()
}

/// Copy the folder `from` to `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `len` bytes that do not repeat in any short period, the same for the same `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
