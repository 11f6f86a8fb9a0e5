//! The destination's policy plugin, callable from async code. Plugin calls run on the
//! blocking pool: they are CPU work, and WASI's sync bindings must not run on a tokio
//! worker thread.

use std::sync::{Arc, Mutex};

use crate::plugin::{
    Category, Classification, Entry, PluginError, Policy, RawError, Retry, TempForm, Verdict,
};

#[derive(Clone)]
pub struct PolicyHandle {
    policy: Arc<Mutex<Policy>>,
    label: Arc<str>,
    identity: Arc<serde_json::Value>,
}

impl PolicyHandle {
    pub fn new(policy: Policy) -> Self {
        PolicyHandle {
            label: policy.plugin().label().into(),
            identity: Arc::new(policy.plugin().to_json()),
            policy: Arc::new(Mutex::new(policy)),
        }
    }

    /// The plugin's name, version and, unless bundled, origin: "generic 0.1.0", or
    /// "generic 0.1.0 (from ./evil.wasm, sha256 ab12cd34ef56…)".
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The plugin's name, version and origin, for `--json` reports.
    pub fn identity(&self) -> &serde_json::Value {
        &self.identity
    }

    async fn with_policy<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Policy) -> T + Send + 'static,
    ) -> T {
        let policy = Arc::clone(&self.policy);
        tokio::task::spawn_blocking(move || {
            work(&mut policy.lock().unwrap_or_else(|p| p.into_inner()))
        })
        .await
        .expect("plugin calls do not panic the host")
    }

    /// One verdict per entry, in order, from one `check-batch` call (callers hand
    /// [`CHECK_BATCH`](crate::plugin::CHECK_BATCH) entries at a time).
    pub async fn check_batch(&self, entries: Vec<Entry>) -> Result<Vec<Verdict>, PluginError> {
        self.with_policy(move |policy| policy.check_batch(&entries))
            .await
    }

    /// The temporary name of each final path in the form asked for, in order.
    pub async fn temp_names(
        &self,
        paths: Vec<(String, TempForm)>,
    ) -> Result<Vec<String>, PluginError> {
        self.with_policy(move |policy| {
            paths
                .iter()
                .map(|(path, form)| policy.temp_name(path, *form))
                .collect()
        })
        .await
    }

    /// The plugin's reading of `raw`; a plugin that fails here still leaves the error
    /// explained, as a plugin failure carrying the original message.
    pub async fn classify(&self, raw: RawError) -> Classification {
        self.with_policy(move |policy| policy.classify(&raw).unwrap_or_else(|e| plugin_failed(&e)))
            .await
    }
}

fn plugin_failed(error: &PluginError) -> Classification {
    Classification {
        category: Category::PluginFailure,
        retry: Retry::NextRun,
        advice: format!(
            "The policy plugin could not classify this error ({error}). Report it to the plugin's authors."
        ),
    }
}
