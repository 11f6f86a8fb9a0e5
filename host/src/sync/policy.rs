//! The destination's policy plugin, callable from async code. Plugin calls run one at a
//! time on a thread of their own: they are CPU work, WASI's sync bindings must not run
//! on a tokio worker thread, and what a plugin answers is then held by one thread's
//! allocator, not by every thread of the blocking pool in turn. Every text a plugin
//! answers is cut to a bound here, where it enters the run, so that no plugin can make a run hold (or the state store keep) more than a
//! bounded amount per file.

use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};

use super::answers::PATH_CAP;
use crate::plugin::{
    Category, Classification, CustomViolation, EdgeCharacter, Entry, ForbiddenCharacter,
    PluginError, Policy, RawError, ReservedName, Retry, TempForm, Verdict, Violation,
};
use crate::text::{cut, cut_to};

/// The most violations kept of one verdict.
pub const VIOLATIONS_CAP: usize = 16;

#[derive(Clone)]
pub struct PolicyHandle {
    calls: Sender<Call>,
    label: Arc<str>,
    identity: Arc<serde_json::Value>,
}

/// One plugin call, run on the policy's thread.
type Call = Box<dyn FnOnce(&mut Policy) + Send>;

impl PolicyHandle {
    /// A handle to `policy`, which moves to a thread of its own; the thread ends when
    /// the last handle is dropped.
    pub fn new(mut policy: Policy) -> Self {
        let label = policy.plugin().label().into();
        let identity = Arc::new(policy.plugin().to_json());
        let (calls, queue) = channel::<Call>();
        std::thread::Builder::new()
            .name("policy".into())
            .spawn(move || queue.into_iter().for_each(|call| call(&mut policy)))
            .expect("a thread for the policy plugin");
        PolicyHandle {
            calls,
            label,
            identity,
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
        let (answer, answered) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |policy| {
            let _ = answer.send(work(policy));
        });
        self.calls
            .send(call)
            .expect("the policy thread runs while a handle exists");
        answered.await.expect("plugin calls do not panic the host")
    }

    /// One verdict per entry, in order, from one `check-batch` call (callers hand
    /// [`CHECK_BATCH`](crate::plugin::CHECK_BATCH) entries at a time).
    pub async fn check_batch(&self, entries: Vec<Entry>) -> Result<Vec<Verdict>, PluginError> {
        let verdicts = self
            .with_policy(move |policy| policy.check_batch(&entries))
            .await?;
        Ok(verdicts.into_iter().map(bounded_verdict).collect())
    }

    /// The temporary name of each final path in the form asked for, in order.
    pub async fn temp_names(
        &self,
        paths: Vec<(String, TempForm)>,
    ) -> Result<Vec<String>, PluginError> {
        self.with_policy(move |policy| {
            paths
                .iter()
                .map(|(path, form)| policy.temp_name(path, *form).map(cut))
                .collect()
        })
        .await
    }

    /// The plugin's reading of `raw`; a plugin that fails here still leaves the error
    /// explained, as a plugin failure carrying the original message.
    pub async fn classify(&self, raw: RawError) -> Classification {
        let classification = self
            .with_policy(move |policy| policy.classify(&raw).unwrap_or_else(|e| plugin_failed(&e)))
            .await;
        Classification {
            advice: cut(classification.advice),
            ..classification
        }
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

/// A verdict whose every text is within [`TEXT_CAP`] and whose violations are at most
/// [`VIOLATIONS_CAP`] (a longer list keeps a last one saying how many were left out).
pub fn bounded_verdict(verdict: Verdict) -> Verdict {
    let count = verdict.violations.len();
    let mut violations: Vec<Violation> = verdict
        .violations
        .into_iter()
        .take(VIOLATIONS_CAP)
        .map(bounded_violation)
        .collect();
    if count > VIOLATIONS_CAP {
        violations.push(Violation::Custom(CustomViolation {
            rule: "more-violations".into(),
            message: format!("{} more violations were left out", count - VIOLATIONS_CAP),
        }));
    }
    Verdict {
        violations,
        suggested_path: verdict.suggested_path.map(|path| cut_to(path, PATH_CAP)),
        temp_form: verdict.temp_form,
    }
}

fn bounded_violation(violation: Violation) -> Violation {
    match violation {
        Violation::ForbiddenCharacter(v) => Violation::ForbiddenCharacter(ForbiddenCharacter {
            component: cut(v.component),
            ..v
        }),
        Violation::ReservedName(v) => Violation::ReservedName(ReservedName {
            component: cut(v.component),
            reserved: cut(v.reserved),
        }),
        Violation::EdgeCharacter(v) => Violation::EdgeCharacter(EdgeCharacter {
            component: cut(v.component),
            ..v
        }),
        Violation::Custom(v) => Violation::Custom(CustomViolation {
            rule: cut(v.rule),
            message: cut(v.message),
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TEXT_CAP;

    #[test]
    fn a_verdict_keeps_a_bounded_number_of_violations() {
        let custom = Violation::Custom(CustomViolation {
            rule: "r".into(),
            message: "m".repeat(10 * TEXT_CAP),
        });
        let verdict = bounded_verdict(Verdict {
            violations: vec![custom; VIOLATIONS_CAP + 5],
            suggested_path: Some("s".repeat(10 * TEXT_CAP)),
            temp_form: TempForm::Standard,
        });
        assert_eq!(verdict.violations.len(), VIOLATIONS_CAP + 1);
        assert!(verdict.suggested_path.unwrap().len() < PATH_CAP + TEXT_CAP);
        assert!(
            matches!(&verdict.violations[0], Violation::Custom(c) if c.message.len() < 2 * TEXT_CAP)
        );
    }
}
