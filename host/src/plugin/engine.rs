//! The wasmtime engine and the on-disk cache of compiled components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::error::PluginError;
use super::source::hex_sha256;

/// How often the engine's epoch advances: the granularity of every call's deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// An engine with fuel metering and epoch interruption, without the component-model
/// concurrency machinery (which roughly doubles the cost of a call), and the [`Ticker`]
/// that advances its epoch while plugin code runs.
pub fn new_engine() -> Result<(Engine, Ticker), PluginError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.concurrency_support(false);
    let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
    let ticker = Ticker::start(&engine)?;
    Ok((engine, ticker))
}

/// Advances an engine's epoch every [`EPOCH_TICK`] while a plugin call is going on (the
/// clock of every call's deadline), and sleeps otherwise: an idle service is not woken a
/// hundred times a second.
#[derive(Clone)]
pub struct Ticker {
    /// Calls going on now.
    calls: Arc<AtomicUsize>,
    thread: Thread,
}

/// Keeps the epoch advancing while it lives: one per call into a plugin.
pub struct Ticking(Ticker);

/// How long the ticker sleeps while no call is going on before it looks whether its
/// engine is gone.
const IDLE_CHECK: Duration = Duration::from_secs(60);

impl Ticker {
    fn start(engine: &Engine) -> Result<Ticker, PluginError> {
        let weak = engine.weak();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let thread = std::thread::Builder::new()
            .name("ferry-plugin-epoch".into())
            .spawn(move || {
                while weak.upgrade().is_some() {
                    if counted.load(Ordering::Acquire) == 0 {
                        // A call starting unparks it (an unpark before the park counts).
                        std::thread::park_timeout(IDLE_CHECK);
                        continue;
                    }
                    // A whole tick after the call began, as a deadline counts it.
                    std::thread::sleep(EPOCH_TICK);
                    if let Some(engine) = weak.upgrade() {
                        engine.increment_epoch();
                    }
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start the deadline thread: {e}")))?;
        Ok(Ticker {
            calls,
            thread: thread.thread().clone(),
        })
    }

    /// A call into a plugin starts: the epoch advances until the [`Ticking`] is dropped.
    pub fn ticking(&self) -> Ticking {
        self.calls.fetch_add(1, Ordering::AcqRel);
        self.thread.unpark();
        Ticking(self.clone())
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
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
/// The version and layer that follow the magic in a core module (a component has
/// another layer).
const CORE_MODULE_VERSION: &[u8] = &[1, 0, 0, 0];

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
    if wasm[WASM_MAGIC.len()..].starts_with(CORE_MODULE_VERSION) {
        return Err(PluginError::CoreModule {
            origin: origin.to_string(),
        });
    }
    Component::new(engine, wasm).map_err(|e| invalid(format!("{e:#}")))
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{}-{:016x}.cwasm", hex_sha256(wasm), hasher.finish())
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
