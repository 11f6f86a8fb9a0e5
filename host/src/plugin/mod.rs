//! The sandboxed plugin runtime: load a policy plugin by name or path, configure it and
//! call it. A trap, a deadline or a memory overrun becomes a [`PluginError`] naming the
//! plugin and the function; the next call gets a fresh instance.

mod bindings;
mod describe;
mod engine;
mod error;
mod golden;
mod sandbox;
mod settings;
mod source;

use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, Trap};

pub use bindings::ferry::policy::types::*;
pub use describe::{
    category_name, describe, human_size, retry_name, rule_name, violation_category,
};
pub use engine::ComponentCache;
pub use error::{CallFailure, PluginError};
pub use golden::*;
pub use settings::{SettingInput, parse_settings};
pub use source::{PluginSource, bundled_names};

use bindings::{PolicyPlugin, PolicyPluginPre};
use sandbox::Sandbox;

/// Entries per `check-batch` call: the call's fixed cost is spread thin (measured by
/// `bench/src/bin/policy-check.rs`) and a large sync holds no plugin entry per file.
pub const CHECK_BATCH: usize = 1024;

/// Budgets of one call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Fuel (about one unit per wasm instruction) for any call.
    pub fuel_per_call: u64,
    /// Extra fuel per entry of a `check-batch` call.
    pub fuel_per_entry: u64,
    /// The largest linear memory an instance may have, in bytes.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_call: 50_000_000,
            fuel_per_entry: 2_000_000,
            memory_bytes: 64 << 20,
        }
    }
}

/// One engine and component cache for the process; plugins are loaded through it.
pub struct Runtime {
    engine: Engine,
    cache: ComponentCache,
    limits: Limits,
}

impl Runtime {
    pub fn new(cache: ComponentCache, limits: Limits) -> Result<Self, PluginError> {
        Ok(Runtime {
            engine: engine::new_engine()?,
            cache,
            limits,
        })
    }

    /// Load (compile or take from the cache) and link a plugin.
    pub fn load(&self, source: &PluginSource) -> Result<Arc<LoadedPlugin>, PluginError> {
        let wasm = source.bytes()?;
        let origin = source.to_string();
        let component = self.cache.load(&self.engine, &wasm, &origin)?;
        let pre = link(&self.engine, &component).map_err(|e| PluginError::Invalid {
            origin: origin.clone(),
            reason: format!("{e:#}"),
        })?;
        let mut loaded = LoadedPlugin {
            name: origin,
            limits: self.limits,
            pre,
            metadata: None,
        };
        let mut instance = loaded.instantiate()?;
        let metadata = loaded.call(&mut instance, "metadata", 0, |p, s| p.call_metadata(s))?;
        loaded.name = metadata.name.clone();
        loaded.metadata = Some(metadata);
        Ok(Arc::new(loaded))
    }
}

fn link(engine: &Engine, component: &Component) -> wasmtime::Result<PolicyPluginPre<Sandbox>> {
    let mut linker = Linker::<Sandbox>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    PolicyPlugin::add_to_linker::<_, HasSelf<Sandbox>>(&mut linker, |sandbox| sandbox)?;
    PolicyPluginPre::new(linker.instantiate_pre(component)?)
}

impl bindings::ferry::policy::types::Host for Sandbox {}

/// A compiled, linked plugin, ready to instantiate.
pub struct LoadedPlugin {
    name: String,
    limits: Limits,
    pre: PolicyPluginPre<Sandbox>,
    metadata: Option<PluginMetadata>,
}

struct Instance {
    store: Store<Sandbox>,
    bindings: PolicyPlugin,
}

impl LoadedPlugin {
    /// The plugin's name as it reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin says about itself and its settings.
    pub fn metadata(&self) -> &PluginMetadata {
        self.metadata
            .as_ref()
            .expect("metadata is read when loading")
    }

    /// A configured policy: settings checked against the plugin's metadata, then applied.
    pub fn configure(self: &Arc<Self>, settings: Vec<Setting>) -> Result<Policy, PluginError> {
        let mut policy = Policy {
            plugin: Arc::clone(self),
            settings,
            instance: None,
        };
        policy.instance()?;
        Ok(policy)
    }

    fn instantiate(&self) -> Result<Instance, PluginError> {
        let mut store = Store::new(self.pre.engine(), Sandbox::new(self.limits.memory_bytes));
        store.limiter(|sandbox| sandbox.limiter());
        let fuel = self.limits.fuel_per_call;
        store.set_fuel(fuel).expect("fuel is enabled");
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.failure("instantiate", &store, e, fuel))?;
        Ok(Instance { store, bindings })
    }

    /// Call `f` on `instance` with a fresh fuel budget; a failure names the function.
    fn call<T>(
        &self,
        instance: &mut Instance,
        function: &'static str,
        entries: usize,
        f: impl FnOnce(&PolicyPlugin, &mut Store<Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let fuel = self.limits.fuel_per_call + self.limits.fuel_per_entry * entries as u64;
        instance.store.set_fuel(fuel).expect("fuel is enabled");
        f(&instance.bindings, &mut instance.store)
            .map_err(|e| self.failure(function, &instance.store, e, fuel))
    }

    fn failure(
        &self,
        function: &'static str,
        store: &Store<Sandbox>,
        error: wasmtime::Error,
        fuel: u64,
    ) -> PluginError {
        let sandbox = store.data();
        let failure = if let Some(wanted) = sandbox.refused_growth() {
            CallFailure::MemoryCap {
                wanted,
                cap: self.limits.memory_bytes,
            }
        } else if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
            CallFailure::Deadline { fuel }
        } else {
            CallFailure::Trap {
                reason: trap_reason(&error),
                stderr: sandbox.stderr(),
            }
        };
        PluginError::Call {
            plugin: self.name.clone(),
            function,
            failure,
        }
    }
}

/// The trap itself, without the wasm backtrace that wasmtime prints around it.
fn trap_reason(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.to_string(),
    }
}

/// A configured plugin instance. Not shared between threads: make one per worker.
pub struct Policy {
    plugin: Arc<LoadedPlugin>,
    settings: Vec<Setting>,
    instance: Option<Instance>,
}

impl Policy {
    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    /// The live instance, made (and configured) afresh after a failure.
    fn instance(&mut self) -> Result<&mut Instance, PluginError> {
        if self.instance.is_none() {
            let mut instance = self.plugin.instantiate()?;
            let settings = &self.settings;
            let configured = self.plugin.call(&mut instance, "configure", 0, |p, s| {
                p.call_configure(s, settings)
            })?;
            configured.map_err(|e| settings::config_error(&self.plugin, e))?;
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("just made"))
    }

    fn call<T>(
        &mut self,
        function: &'static str,
        entries: usize,
        f: impl FnOnce(&PolicyPlugin, &mut Store<Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let plugin = Arc::clone(&self.plugin);
        let instance = self.instance()?;
        let result = plugin.call(instance, function, entries, f);
        if result.is_err() {
            self.instance = None; // a trapped instance cannot be entered again
        }
        result
    }

    /// One verdict per entry, in order. The host asks [`CHECK_BATCH`] at a time.
    pub fn check_batch(&mut self, entries: &[Entry]) -> Result<Vec<Verdict>, PluginError> {
        let verdicts = self.call("check-batch", entries.len(), |p, s| {
            p.call_check_batch(s, entries)
        })?;
        if verdicts.len() != entries.len() {
            return Err(PluginError::Contract {
                plugin: self.plugin.name.clone(),
                function: "check-batch",
                sent: entries.len(),
                got: verdicts.len(),
            });
        }
        Ok(verdicts)
    }

    pub fn temp_name(&mut self, final_path: &str, form: TempForm) -> Result<String, PluginError> {
        self.call("temp-name", 0, |p, s| p.call_temp_name(s, final_path, form))
    }

    pub fn classify(&mut self, error: &RawError) -> Result<Classification, PluginError> {
        self.call("classify", 0, |p, s| p.call_classify(s, error))
    }
}
