//! An honest plugin built against `ferry:policy@0.2.0`, a version this ferry does not
//! speak: the host must refuse it, naming both versions.

wit_bindgen::generate!({ path: "wit", world: "policy-plugin" });

use ferry::policy::types::*;

struct Future;

impl Guest for Future {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "future".into(),
            version: "0.2.0".into(),
            description: "Built against ferry:policy@0.2.0.".into(),
            remote_kinds: vec![],
            settings: vec![],
        }
    }

    fn configure(_settings: Vec<Setting>) -> Result<(), ConfigError> {
        Ok(())
    }

    fn check_batch(entries: Vec<Entry>) -> Vec<Verdict> {
        entries
            .iter()
            .map(|_| Verdict {
                violations: vec![],
                suggested_path: None,
                temp_form: TempForm::Standard,
            })
            .collect()
    }

    fn temp_name(final_path: String, _form: TempForm) -> String {
        format!("{final_path}.partial")
    }

    fn classify(_error: RawError) -> Classification {
        Classification {
            category: Category::Unknown,
            retry: Retry::NextRun,
            advice: String::new(),
        }
    }
}

export!(Future);
