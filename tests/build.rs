//! Builds the test-only plugins (tests/plugins/*) and tells the tests where they are.

#[path = "../host/build/wasm_plugins.rs"]
mod wasm_plugins;

use std::path::PathBuf;

fn main() {
    let tests = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = tests.parent().unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let packages = wasm_plugins::plugin_packages(&tests.join("plugins"));
    let wasm_files = wasm_plugins::build(workspace, &packages, &out.join("wasm-target"));
    for (package, wasm) in packages.iter().zip(&wasm_files) {
        let var = package
            .trim_start_matches("ferry-plugin-")
            .to_uppercase()
            .replace('-', "_");
        println!("cargo:rustc-env=FERRY_TEST_PLUGIN_{var}={}", wasm.display());
    }
}
