//! The released versions of the `ferry:policy` contract, one module each, and the one
//! place that dispatches a call to the version a plugin was built for. A new version is
//! a new module and a new variant here; nothing outside `plugin/` changes.

mod v0_1_0;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::sandbox::{self, Sandbox};

use super::types::{
    Classification, ConfigError, Entry, PluginMetadata, RawError, Setting, TempForm, Verdict,
};

/// The newest contract version this ferry speaks.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The package whose version a plugin's imports and exports name.
const PACKAGE: &str = "ferry:policy/";

/// The contract version `component` was built for: the version its `ferry:policy`
/// imports or exports name (`ferry:policy/types@0.1.0`), if any does.
pub fn built_for(engine: &Engine, component: &Component) -> Option<String> {
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name);
    let mut names = imports.chain(ty.exports(engine).map(|(name, _)| name));
    names.find_map(|name| {
        let (_, version) = name.strip_prefix(PACKAGE)?.split_once('@')?;
        Some(version.to_string())
    })
}

/// A linked plugin, ready to instantiate, of the version it was built for.
pub enum Pre {
    V0_1_0(v0_1_0::PolicyPluginPre<Sandbox>),
}

/// A live instance's exports, of the version it was built for.
pub enum Bindings {
    V0_1_0(v0_1_0::PolicyPlugin),
}

impl Pre {
    /// Link `component`, built for contract `version`; `None` for a version this ferry
    /// does not speak.
    pub fn new(
        engine: &Engine,
        component: &Component,
        version: &str,
    ) -> Option<wasmtime::Result<Self>> {
        match version {
            CONTRACT_VERSION => Some(link_v0_1_0(engine, component).map(Pre::V0_1_0)),
            _ => None,
        }
    }

    pub fn engine(&self) -> &Engine {
        match self {
            Pre::V0_1_0(pre) => pre.engine(),
        }
    }

    pub fn instantiate(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Bindings> {
        match self {
            Pre::V0_1_0(pre) => pre.instantiate(store).map(Bindings::V0_1_0),
        }
    }
}

/// The WASI imports (without capabilities, nothing that waits) and the contract's.
fn sandboxed_linker(engine: &Engine) -> wasmtime::Result<Linker<Sandbox>> {
    let mut linker = Linker::<Sandbox>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    sandbox::refuse_blocking_imports(&mut linker)?;
    Ok(linker)
}

fn link_v0_1_0(
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<v0_1_0::PolicyPluginPre<Sandbox>> {
    let mut linker = sandboxed_linker(engine)?;
    v0_1_0::PolicyPlugin::add_to_linker::<_, HasSelf<Sandbox>>(&mut linker, |sandbox| sandbox)?;
    v0_1_0::PolicyPluginPre::new(linker.instantiate_pre(component)?)
}

type Call<T> = wasmtime::Result<T>;

impl Bindings {
    pub fn metadata(&self, store: &mut Store<Sandbox>) -> Call<PluginMetadata> {
        match self {
            Bindings::V0_1_0(b) => b.call_metadata(store).map(Into::into),
        }
    }

    pub fn configure(
        &self,
        store: &mut Store<Sandbox>,
        settings: &[Setting],
    ) -> Call<Result<(), ConfigError>> {
        match self {
            Bindings::V0_1_0(b) => {
                let settings: Vec<_> = settings.iter().map(Into::into).collect();
                let configured = b.call_configure(store, &settings)?;
                Ok(configured.map_err(Into::into))
            }
        }
    }

    pub fn check_batch(&self, store: &mut Store<Sandbox>, entries: &[Entry]) -> Call<Vec<Verdict>> {
        match self {
            Bindings::V0_1_0(b) => {
                let entries: Vec<_> = entries.iter().map(Into::into).collect();
                let verdicts = b.call_check_batch(store, &entries)?;
                Ok(verdicts.into_iter().map(Into::into).collect())
            }
        }
    }

    pub fn temp_name(
        &self,
        store: &mut Store<Sandbox>,
        path: &str,
        form: TempForm,
    ) -> Call<String> {
        match self {
            Bindings::V0_1_0(b) => b.call_temp_name(store, path, form.into()),
        }
    }

    pub fn classify(&self, store: &mut Store<Sandbox>, error: &RawError) -> Call<Classification> {
        match self {
            Bindings::V0_1_0(b) => b.call_classify(store, &error.into()).map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::source::hex_sha256;

    /// A released contract is frozen: a change, even of one byte, is a new version in a
    /// new directory (and a new module here).
    #[test]
    fn the_released_contract_is_frozen() {
        let wit = include_bytes!("../../../../wit/0.1.0/policy.wit");
        assert_eq!(
            hex_sha256(wit),
            "063d64488c646bf4c1c4524316e1d8dfcecaab12e7658b291ecac45a0630d821"
        );
    }
}
