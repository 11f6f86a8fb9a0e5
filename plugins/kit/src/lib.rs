//! Building blocks for ferry policy plugins.
//!
//! A plugin describes one kind of remote server as a [`Policy`]: its name, its default
//! [`Rules`] (with rules of its own, if any: [`CustomRule`]), the variants of its server
//! software if they differ (see [`Server`]) and the errors it answers characteristically
//! (see [`KnownError`]). [`export_policy!`] turns that into a component implementing the
//! `ferry:policy` contract, with the standard settings (see [`settings`]) and the default
//! classifier (see [`classify`]).
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

pub mod chars;
pub mod classify;
pub mod rules;
pub mod settings;
pub mod size;

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated
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
pub use chars::CharClass;
pub use classify::{KnownError, NAMING_OPERATIONS};
pub use rules::{ControlChars, CustomRule, LengthCounts, Rules};
pub use settings::Server;
pub use size::parse_size;

/// One kind of remote server.
pub trait Policy {
    /// Short name; bundled plugins are found by it.
    const NAME: &'static str;
    /// Which servers it describes and where its limits come from.
    const DESCRIPTION: &'static str;
    /// Remote kinds it is meant for ("sftp", "s3", ...).
    const REMOTE_KINDS: &'static [&'static str];
    /// Variants of the server software, picked with the `server` setting; the first is
    /// the default. Empty when the rules do not depend on the software.
    const SERVERS: &'static [Server] = &[];
    /// Errors this server answers in its own way, read before the generic classifier.
    const KNOWN_ERRORS: &'static [KnownError] = &[];
    /// The rules before any setting is applied (and before the default server variant).
    fn default_rules() -> Rules;
    /// Read a raw error: [`Self::KNOWN_ERRORS`] first, then the kit's generic classifier.
    fn classify(error: &RawError) -> Classification {
        classify::classify_with(Self::KNOWN_ERRORS, error)
    }
}

thread_local! {
    static CONFIGURED: RefCell<Option<Rules>> = const { RefCell::new(None) };
}

/// The component for policy `P`; [`export_policy!`] names it.
pub struct Plugin<P>(PhantomData<P>);

impl<P: Policy> Plugin<P> {
    /// The rules of the `server` variant (the default one when `None`), before the other
    /// settings.
    fn rules_for(server: Option<&Server>) -> Rules {
        let mut rules = P::default_rules();
        if let Some(server) = server.or(P::SERVERS.first()) {
            (server.adjust)(&mut rules);
        }
        rules
    }

    fn with_rules<T>(f: impl FnOnce(&Rules) -> T) -> T {
        CONFIGURED.with(|cell| {
            let mut configured = cell.borrow_mut();
            f(configured.get_or_insert_with(|| Self::rules_for(None)))
        })
    }
}

impl<P: Policy + PluginVersion> Plugin<P> {
    /// Whether each of `names` (files of unknown size) breaks a rule configured last: the
    /// question most plugin tests ask.
    pub fn refuses(names: &[&str]) -> Vec<bool> {
        let entries = names
            .iter()
            .map(|name| Entry {
                path: name.to_string(),
                kind: EntryKind::File,
                size: None,
            })
            .collect();
        <Self as bindings::Guest>::check_batch(entries)
            .iter()
            .map(|verdict| !verdict.violations.is_empty())
            .collect()
    }
}

/// The plugin crate's own version; [`export_policy!`] implements it from that crate's
/// Cargo.toml (an `env!` here would give the kit's version instead).
pub trait PluginVersion {
    const VERSION: &'static str;
}

impl<P: Policy + PluginVersion> bindings::Guest for Plugin<P> {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: P::NAME.to_string(),
            version: P::VERSION.to_string(),
            description: P::DESCRIPTION.to_string(),
            remote_kinds: P::REMOTE_KINDS.iter().map(|k| k.to_string()).collect(),
            settings: settings::docs(&Self::rules_for(None), P::SERVERS),
        }
    }

    fn configure(given: Vec<Setting>) -> Result<(), ConfigError> {
        // The server variant sets several rules at once, so it comes first whatever the
        // order given, and the single settings adjust it.
        let (server, single): (Vec<&Setting>, Vec<&Setting>) = given
            .iter()
            .partition(|setting| setting.name == settings::SERVER && !P::SERVERS.is_empty());
        let server = server
            .last()
            .map(|setting| settings::find_server(P::SERVERS, setting))
            .transpose()?;
        let mut rules = Self::rules_for(server);
        for setting in single {
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
        impl $crate::PluginVersion for $policy {
            const VERSION: &'static str = env!("CARGO_PKG_VERSION");
        }
        type FerryPolicyComponent = $crate::Plugin<$policy>;
        $crate::bindings::export_bindings!(FerryPolicyComponent with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindings::Guest;

    struct Starry;

    impl PluginVersion for Starry {
        const VERSION: &'static str = "0.0.1";
    }

    impl Policy for Starry {
        const NAME: &'static str = "starry";
        const DESCRIPTION: &'static str = "A test policy with server variants.";
        const REMOTE_KINDS: &'static [&'static str] = &["ftp"];
        const SERVERS: &'static [Server] = &[
            Server {
                name: "plain",
                doc: "as the defaults",
                adjust: |_| {},
            },
            Server {
                name: "starless",
                doc: "refuses *",
                adjust: |rules| rules.forbidden_chars.push('*'),
            },
        ];

        fn default_rules() -> Rules {
            Rules {
                custom_rules: vec![NO_DOUBLE_DASH],
                ..Rules::posix()
            }
        }
    }

    const NO_DOUBLE_DASH: CustomRule = CustomRule {
        name: "double-dash",
        check: |entry| entry.path.contains("--").then(|| "two dashes".into()),
        fix: Some(|name| name.replace("--", "-")),
    };

    fn text(name: &str, value: &str) -> Setting {
        Setting {
            name: name.into(),
            value: SettingValue::Text(value.into()),
        }
    }

    fn refused(names: &[&str]) -> Vec<bool> {
        Plugin::<Starry>::refuses(names)
    }

    #[test]
    fn the_server_variant_applies_first_and_single_settings_adjust_it() {
        Plugin::<Starry>::configure(vec![text("server", "starless")]).unwrap();
        assert_eq!(refused(&["a*b", "a#b"]), [true, false]);
        let given = vec![text("forbidden_chars", "/#"), text("server", "starless")];
        Plugin::<Starry>::configure(given).unwrap();
        assert_eq!(refused(&["a*b", "a#b"]), [false, true]);
        Plugin::<Starry>::configure(vec![]).unwrap();
        assert_eq!(refused(&["a*b"]), [false]);
    }

    #[test]
    fn a_custom_rule_is_checked_with_the_configured_rules_and_fixed_in_the_suggestion() {
        Plugin::<Starry>::configure(vec![text("forbidden_chars", "#")]).unwrap();
        let entry = Entry {
            path: "d/a--b#".into(),
            kind: EntryKind::File,
            size: None,
        };
        let verdict = &Plugin::<Starry>::check_batch(vec![entry])[0];
        assert!(matches!(
            &verdict.violations[..],
            [Violation::ForbiddenCharacter(_), Violation::Custom(c)] if c.rule == "double-dash"
        ));
        assert_eq!(verdict.suggested_path.as_deref(), Some("d/a-b_"));
    }

    #[test]
    fn metadata_reports_the_plugin_crates_version_not_the_kits() {
        assert_eq!(Plugin::<Starry>::metadata().version, "0.0.1");
    }
}
