//! Building blocks for ferry policy plugins.
//!
//! A plugin describes one kind of remote server as a [`Policy`]: its name, its default
//! [`Rules`] and, where the server says something particular, its own error
//! classification. [`export_policy!`] turns that into a component implementing the
//! `ferry:policy` contract, with the standard settings (see [`settings`]) and the
//! default classifier (see [`classify`]).
//!
//! ```ignore
//! struct Posix;
//! impl ferry_policy_kit::Policy for Posix {
//!     const NAME: &'static str = "posix";
//!     const DESCRIPTION: &'static str = "A plain POSIX server.";
//!     const REMOTE_KINDS: &'static [&'static str] = &["sftp"];
//!     fn default_rules() -> ferry_policy_kit::Rules { ferry_policy_kit::Rules::posix() }
//! }
//! ferry_policy_kit::export_policy!(Posix);
//! ```

pub mod classify;
pub mod rules;
pub mod settings;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/0.1.0",
        world: "policy-plugin",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "ferry_policy_kit::bindings",
    });
}

use std::cell::RefCell;
use std::marker::PhantomData;

pub use bindings::ferry::policy::types::*;
pub use rules::Rules;

/// One kind of remote server.
pub trait Policy {
    /// Short name; bundled plugins are found by it.
    const NAME: &'static str;
    /// Which servers it describes and where its limits come from.
    const DESCRIPTION: &'static str;
    /// Remote kinds it is meant for ("sftp", "s3", ...).
    const REMOTE_KINDS: &'static [&'static str];
    /// The rules before any setting is applied.
    fn default_rules() -> Rules;
    /// Read a raw error. The default is the kit's generic classifier.
    fn classify(error: &RawError) -> Classification {
        classify::classify(error)
    }
}

thread_local! {
    static CONFIGURED: RefCell<Option<Rules>> = const { RefCell::new(None) };
}

/// The component for policy `P`; [`export_policy!`] names it.
pub struct Plugin<P>(PhantomData<P>);

impl<P: Policy> Plugin<P> {
    fn with_rules<T>(f: impl FnOnce(&Rules) -> T) -> T {
        CONFIGURED.with(|cell| {
            let mut configured = cell.borrow_mut();
            f(configured.get_or_insert_with(P::default_rules))
        })
    }
}

impl<P: Policy> bindings::Guest for Plugin<P> {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: P::NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: P::DESCRIPTION.to_string(),
            remote_kinds: P::REMOTE_KINDS.iter().map(|k| k.to_string()).collect(),
            settings: settings::docs(&P::default_rules()),
        }
    }

    fn configure(given: Vec<Setting>) -> Result<(), ConfigError> {
        let mut rules = P::default_rules();
        for setting in &given {
            settings::apply(&mut rules, setting)?;
        }
        CONFIGURED.with(|cell| *cell.borrow_mut() = Some(rules));
        Ok(())
    }

    fn check_batch(entries: Vec<Entry>) -> Vec<Verdict> {
        Self::with_rules(|rules| entries.iter().map(|entry| rules.check(entry)).collect())
    }

    fn temp_name(final_path: String, form: TempForm) -> String {
        Self::with_rules(|rules| rules.temp_name(&final_path, form))
    }

    fn classify(error: RawError) -> Classification {
        P::classify(&error)
    }
}

/// Export policy `P` as this component's implementation of `ferry:policy`.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        type FerryPolicyComponent = $crate::Plugin<$policy>;
        $crate::bindings::export_bindings!(FerryPolicyComponent with_types_in $crate::bindings);
    };
}
