//! Builds the test-only plugins (tests/plugins/*), and the bundled `generic` (which the
//! tests load from a file, as an impostor of the bundled one), and tells the tests where
//! they are: `FERRY_TEST_PLUGIN_HOSTILE`, `FERRY_TEST_PLUGIN_GENERIC`, ….

#[path = "../host/build/wasm_plugins.rs"]
mod wasm_plugins;

use std::path::PathBuf;

fn main() {
    let tests = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = tests.parent().unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut packages = wasm_plugins::plugin_packages(&tests.join("plugins"));
    packages.push("ferry-plugin-generic".into());
    let wasm_files = wasm_plugins::build(workspace, &packages, &out.join("wasm-target"));
    for (package, wasm) in packages.iter().zip(&wasm_files) {
        let var = package
            .trim_start_matches("ferry-plugin-")
            .to_uppercase()
            .replace('-', "_");
        println!("cargo:rustc-env=FERRY_TEST_PLUGIN_{var}={}", wasm.display());
    }
}
