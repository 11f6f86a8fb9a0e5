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
mod types;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Engine, Store, Trap};

pub use bindings::CONTRACT_VERSION;
pub use describe::{
    CATEGORIES, RETRIES, category_name, category_named, describe, human_size, retry_name,
    retry_named, rule_name, violation_category,
};
pub use engine::ComponentCache;
pub use error::{Budget, CallFailure, PluginError};
pub use golden::*;
pub use settings::{SettingInput, parse_settings};
pub use source::{Origin, PluginSource, bundled_names};
pub use types::*;

use bindings::{Bindings, Pre};
use sandbox::{BlockingImport, Sandbox};

/// Entries per `check-batch` call: the call's fixed cost is spread thin (measured by
/// `bench/src/bin/policy-check.rs`) and a large sync holds no plugin entry per file.
pub const CHECK_BATCH: usize = 1024;

/// The longest wall-clock time any one call may be given.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Budgets of one call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Fuel (about one unit per wasm instruction) for any call.
    pub fuel_per_call: u64,
    /// Extra fuel per entry of a `check-batch` call.
    pub fuel_per_entry: u64,
    /// The largest linear memory an instance may have, in bytes.
    pub memory_bytes: usize,
    /// The wall-clock time any one call may take (at most [`MAX_TIMEOUT`]).
    pub timeout: Duration,
}

impl Default for Limits {
    /// Headroom for honest plugins: `generic` used 70 M fuel units (about 69,000 per
    /// entry) on a batch of 1,023 entries that each broke a rule, 1.5 % of that batch's
    /// budget; a bundled plugin's call takes milliseconds, its deadline seconds.
    fn default() -> Self {
        Limits {
            fuel_per_call: 500_000_000,
            fuel_per_entry: 4_000_000,
            memory_bytes: 16 << 20,
            timeout: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// These limits with a call's wall-clock time set to `timeout`, capped at
    /// [`MAX_TIMEOUT`].
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Limits {
            timeout: timeout.min(MAX_TIMEOUT),
            ..self
        }
    }

    /// The timeout in epoch ticks, at least one.
    fn deadline_ticks(&self) -> u64 {
        (self.timeout.as_millis() / engine::EPOCH_TICK.as_millis()).max(1) as u64
    }
}

/// One engine and component cache for the process; plugins are loaded through it.
pub struct Runtime {
    engine: Engine,
    ticker: engine::Ticker,
    cache: ComponentCache,
    limits: Limits,
}

impl Runtime {
    pub fn new(cache: ComponentCache, limits: Limits) -> Result<Self, PluginError> {
        let (engine, ticker) = engine::new_engine()?;
        Ok(Runtime {
            engine,
            ticker,
            cache,
            limits,
        })
    }

    /// The limits plugins loaded by [`Runtime::load`] run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Load (compile or take from the cache) and link a plugin, refusing one built for a
    /// contract version this ferry does not speak.
    pub fn load(&self, source: &PluginSource) -> Result<Arc<LoadedPlugin>, PluginError> {
        self.load_with(source, self.limits)
    }

    /// As [`Runtime::load`], the plugin's calls running under `limits`.
    pub fn load_with(
        &self,
        source: &PluginSource,
        limits: Limits,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let wasm = source.bytes()?;
        let origin = source.origin(&wasm);
        let described = source.to_string();
        let component = self.cache.load(&self.engine, &wasm, &described)?;
        let pre = link(&self.engine, &component, &described)?;
        let mut loaded = LoadedPlugin {
            name: described,
            origin,
            limits,
            ticker: self.ticker.clone(),
            pre,
            metadata: None,
        };
        let mut instance = loaded.instantiate()?;
        let metadata = loaded.call(&mut instance, "metadata", 0, |b, s| b.metadata(s))?;
        let metadata = bounded_metadata(metadata);
        loaded.name = metadata.name.clone();
        loaded.metadata = Some(metadata);
        Ok(Arc::new(loaded))
    }
}

/// The most bytes kept of a plugin's name or version, its remote kinds and its settings'
/// names: the name and version are in every report and message about it.
const NAME_CAP: usize = 128;
/// The most settings and remote kinds kept of a plugin's metadata.
const LIST_CAP: usize = 256;

/// What a plugin says about itself, each text and list within a bound (it is untrusted).
fn bounded_metadata(metadata: PluginMetadata) -> PluginMetadata {
    let name = |text: String| crate::text::cut_to(text, NAME_CAP);
    PluginMetadata {
        name: name(metadata.name),
        version: name(metadata.version),
        description: crate::text::cut(metadata.description),
        remote_kinds: metadata
            .remote_kinds
            .into_iter()
            .take(LIST_CAP)
            .map(name)
            .collect(),
        settings: (metadata.settings.into_iter().take(LIST_CAP))
            .map(|setting| SettingDoc {
                name: name(setting.name),
                default_value: crate::text::cut(setting.default_value),
                doc: crate::text::cut(setting.doc),
                ..setting
            })
            .collect(),
    }
}

/// `component` linked for the contract version it was built for.
fn link(engine: &Engine, component: &Component, origin: &str) -> Result<Pre, PluginError> {
    let invalid = |reason: String| PluginError::Invalid {
        origin: origin.to_string(),
        reason,
    };
    let version = bindings::built_for(engine, component).ok_or_else(|| {
        invalid("it neither imports nor exports any ferry:policy interface".into())
    })?;
    match Pre::new(engine, component, &version) {
        Some(linked) => linked.map_err(|e| invalid(format!("{e:#}"))),
        None => Err(PluginError::Version {
            origin: origin.to_string(),
            built_for: version,
        }),
    }
}

/// A compiled, linked plugin, ready to instantiate.
pub struct LoadedPlugin {
    name: String,
    origin: Origin,
    limits: Limits,
    /// The clock of its calls' deadlines.
    ticker: engine::Ticker,
    pre: Pre,
    metadata: Option<PluginMetadata>,
}

struct Instance {
    store: Store<Sandbox>,
    bindings: Bindings,
}

impl LoadedPlugin {
    /// The plugin's name as it reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the plugin came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The plugin as errors name it: its name, and where it came from unless it is the
    /// bundled plugin of that name — `generic (from ./evil.wasm, sha256 ab12cd34ef56…)`.
    pub fn identity(&self) -> String {
        format!("{}{}", self.name, self.origin.suffix())
    }

    /// Its name, version and origin, as reports show it: `generic 0.1.0`, or
    /// `generic 0.1.0 (from ./evil.wasm, sha256 ab12cd34ef56…)`.
    pub fn label(&self) -> String {
        let meta = self.metadata();
        format!("{} {}{}", meta.name, meta.version, self.origin.suffix())
    }

    /// Name, version and origin, for `--json` reports.
    pub fn to_json(&self) -> serde_json::Value {
        let meta = self.metadata();
        let mut value = serde_json::json!({"name": meta.name, "version": meta.version});
        value["origin"] = self.origin.to_json();
        value
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
        let _ticking = self.ticker.ticking();
        let budget = self.arm(&mut store, 0);
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.failure("instantiate", &store, e, budget))?;
        Ok(Instance { store, bindings })
    }

    /// Give `store` a fresh fuel budget for a call over `entries` entries and a deadline
    /// from now; the fuel given.
    fn arm(&self, store: &mut Store<Sandbox>, entries: usize) -> u64 {
        let fuel = self.limits.fuel_per_call + self.limits.fuel_per_entry * entries as u64;
        store.set_fuel(fuel).expect("fuel is enabled");
        store.set_epoch_deadline(self.limits.deadline_ticks());
        fuel
    }

    /// Call `f` on `instance` with fresh budgets; a failure names the function.
    fn call<T>(
        &self,
        instance: &mut Instance,
        function: &'static str,
        entries: usize,
        f: impl FnOnce(&Bindings, &mut Store<Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let _ticking = self.ticker.ticking();
        let fuel = self.arm(&mut instance.store, entries);
        let answer = f(&instance.bindings, &mut instance.store)
            .map_err(|e| self.failure(function, &instance.store, e, fuel))?;
        let used = fuel - instance.store.get_fuel().expect("fuel is enabled");
        tracing::debug!(
            "plugin {}: {function} over {entries} entries used {used} of {fuel} fuel",
            self.name
        );
        Ok(answer)
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
        } else if let Some(blocked) = error.downcast_ref::<BlockingImport>() {
            CallFailure::Blocked(blocked.clone())
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel) => CallFailure::Deadline {
                    budget: Budget::Fuel(fuel),
                },
                Some(Trap::Interrupt) => CallFailure::Deadline {
                    budget: Budget::Time(self.limits.timeout),
                },
                _ => CallFailure::Trap {
                    reason: trap_reason(&error),
                    stderr: sandbox.stderr(),
                },
            }
        };
        PluginError::Call {
            plugin: self.identity(),
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
            let configured = self.plugin.call(&mut instance, "configure", 0, |b, s| {
                b.configure(s, settings)
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
        f: impl FnOnce(&Bindings, &mut Store<Sandbox>) -> wasmtime::Result<T>,
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
    /// The plugin's verdict on each of `entries`. A batch too large for the plugin's
    /// memory cap is checked in halves: the cap stays low (a plugin's memory is part of a
    /// run's, whatever it answers), and an honest plugin still checks every entry.
    pub fn check_batch(&mut self, entries: &[Entry]) -> Result<Vec<Verdict>, PluginError> {
        match self.check_together(entries) {
            Err(PluginError::Call {
                failure: CallFailure::MemoryCap { .. },
                ..
            }) if entries.len() > 1 => {
                let (first, second) = entries.split_at(entries.len() / 2);
                let mut verdicts = self.check_batch(first)?;
                verdicts.extend(self.check_batch(second)?);
                Ok(verdicts)
            }
            checked => checked,
        }
    }

    fn check_together(&mut self, entries: &[Entry]) -> Result<Vec<Verdict>, PluginError> {
        let verdicts = self.call("check-batch", entries.len(), |b, s| {
            b.check_batch(s, entries)
        })?;
        if verdicts.len() != entries.len() {
            return Err(PluginError::Contract {
                plugin: self.plugin.identity(),
                function: "check-batch",
                sent: entries.len(),
                got: verdicts.len(),
            });
        }
        Ok(verdicts)
    }

    pub fn temp_name(&mut self, final_path: &str, form: TempForm) -> Result<String, PluginError> {
        self.call("temp-name", 0, |b, s| b.temp_name(s, final_path, form))
    }

    pub fn classify(&mut self, error: &RawError) -> Result<Classification, PluginError> {
        self.call("classify", 0, |b, s| b.classify(s, error))
    }
}

#[cfg(test)]
mod metadata_tests {
    use super::*;

    #[test]
    fn what_a_plugin_says_about_itself_is_bounded() {
        let huge = "n".repeat(1 << 20);
        let setting = |text: &str| SettingDoc {
            name: text.into(),
            kind: SettingType::Text,
            default_value: text.into(),
            doc: text.into(),
        };
        let mut settings = vec![setting(&huge)];
        settings.extend((0..LIST_CAP * 4).map(|_| setting("s")));
        let metadata = bounded_metadata(PluginMetadata {
            name: huge.clone(),
            version: huge.clone(),
            description: huge.clone(),
            remote_kinds: vec!["k".into(); LIST_CAP * 4],
            settings,
        });
        let cap = 2 * crate::text::TEXT_CAP;
        assert!(metadata.name.len() < 2 * NAME_CAP && metadata.version.len() < 2 * NAME_CAP);
        assert!(metadata.description.len() < cap);
        assert_eq!(
            (metadata.remote_kinds.len(), metadata.settings.len()),
            (LIST_CAP, LIST_CAP)
        );
        let setting = &metadata.settings[0];
        assert!(setting.name.len() < 2 * NAME_CAP && setting.doc.len() < cap);
        assert!(setting.default_value.len() < cap);
    }
}
