//! The wasmtime engine and the on-disk cache of compiled components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::error::PluginError;

/// An engine with fuel metering and without the component-model concurrency machinery
/// (which roughly doubles the cost of a call).
pub fn new_engine() -> Result<Engine, PluginError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.concurrency_support(false);
    Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))
}

/// Compiled components on disk, keyed by the wasm's sha256 and the engine's
/// compatibility hash, so that a new ferry or another CPU never loads a stale one.
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// `$FERRY_CACHE_DIR`, else the user's cache directory; none if neither exists.
    pub fn default_location() -> Self {
        let dir = std::env::var_os("FERRY_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("ferry")))
            .map(|d| d.join("components"));
        ComponentCache { dir }
    }

    pub fn at(dir: &Path) -> Self {
        ComponentCache {
            dir: Some(dir.to_path_buf()),
        }
    }

    /// The compiled component for `wasm`, from the cache or compiled (and cached) now.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        origin: &str,
    ) -> Result<Component, PluginError> {
        let Some(file) = self
            .dir
            .as_ref()
            .map(|dir| dir.join(cache_key(engine, wasm)))
        else {
            return compile(engine, wasm, origin);
        };
        if file.exists() {
            // SAFETY: the file was written by `serialize` of an engine with the same
            // compatibility hash (it is part of the name); the cache directory is the
            // user's own, as trusted as the ferry binary itself.
            match unsafe { Component::deserialize_file(engine, &file) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(
                    "ignoring unreadable cached component {}: {e}",
                    file.display()
                ),
            }
        }
        let component = compile(engine, wasm, origin)?;
        if let Err(e) = store(&component, &file) {
            tracing::warn!("cannot cache compiled component at {}: {e}", file.display());
        }
        Ok(component)
    }
}

/// The first bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8] = b"\0asm";

fn compile(engine: &Engine, wasm: &[u8], origin: &str) -> Result<Component, PluginError> {
    let invalid = |reason: String| PluginError::Invalid {
        origin: origin.to_string(),
        reason,
    };
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(invalid(
            "not WebAssembly (a .wasm file starts with the bytes \\0asm)".into(),
        ));
    }
    Component::new(engine, wasm).map_err(|e| invalid(format!("{e:#}")))
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = Sha256::digest(wasm);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", hasher.finish())
}

/// Write atomically: a reader sees the whole file or none.
fn store(component: &Component, file: &Path) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let dir = file.parent().expect("cache files live in a directory");
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, file)
}
