//! Builds policy-plugin crates for wasm32-wasip2 with a nested cargo, for build scripts.
//! Shared by host/build.rs (bundled plugins) and tests/build.rs (test-only plugins).

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm";

/// The package names of the plugin crates directly under `dir` (`ferry-plugin-*`).
pub fn plugin_packages(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| {
            let crate_dir = entry.as_ref().ok()?.path();
            for input in [crate_dir.join("src"), crate_dir.join("Cargo.toml")] {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            let manifest = std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok()?;
            let name = manifest.lines().find_map(|l| l.strip_prefix("name = \""))?;
            let name = name.trim_end_matches('"');
            name.starts_with("ferry-plugin-").then(|| name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// Build `packages` of the workspace at `workspace`; the path of each one's `.wasm`.
pub fn build(workspace: &Path, packages: &[String], target_dir: &Path) -> Vec<PathBuf> {
    // The code that goes into a plugin, and nothing else (not its golden cases).
    let kit = workspace.join("plugins/kit");
    for input in [
        workspace.join("wit"),
        workspace.join("Cargo.lock"),
        kit.join("src"),
        kit.join("Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // Flags meant for the host build must not reach the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("cannot run cargo for the plugins");
    if !status.success() {
        panic!(
            "building the policy plugins for {TARGET} failed (see above). If the target is \
             missing, run: rustup target add {TARGET}"
        );
    }
    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.replace('-', "_"));
            target_dir.join(TARGET).join(PROFILE).join(file)
        })
        .collect()
}
