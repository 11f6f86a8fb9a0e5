//! Builds the bundled policy plugins (plugins/*) for wasm32-wasip2 and embeds them, so
//! that `cargo install --path host` gives a ferry that finds each of them by name.

#[path = "build/wasm_plugins.rs"]
mod wasm_plugins;

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let host = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = host.parent().unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let packages = wasm_plugins::plugin_packages(&workspace.join("plugins"));
    let wasm_files = wasm_plugins::build(workspace, &packages, &out.join("wasm-target"));

    let mut table = String::from("/// Bundled plugins: (name, component bytes).\n");
    table.push_str("pub static BUNDLED: &[(&str, &[u8])] = &[\n");
    for (package, wasm) in packages.iter().zip(&wasm_files) {
        let name = package.trim_start_matches("ferry-plugin-");
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            wasm.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("bundled_plugins.rs"), table).unwrap();
}
