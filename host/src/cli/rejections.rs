//! Rejected entries as `plugin check` and `check` print them: one row per violation,
//! `{checked, rejected: [{path, rule, detail, suggestion}]}` with `--json`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::plugin::{Violation, describe, rule_name};

/// One broken rule of one entry.
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    /// The folder the path is relative to, where there is one.
    pub root: Option<String>,
    pub path: String,
    pub rule: String,
    pub detail: String,
    pub suggestion: Option<String>,
}

impl Rejection {
    /// A row per violation of the entry at `path`.
    pub fn rows(
        root: Option<&str>,
        path: &str,
        violations: &[Violation],
        suggestion: Option<&str>,
    ) -> Vec<Rejection> {
        violations
            .iter()
            .map(|violation| Rejection {
                root: root.map(str::to_string),
                path: path.to_string(),
                rule: rule_name(violation).to_string(),
                detail: describe(violation),
                suggestion: suggestion.map(str::to_string),
            })
            .collect()
    }

    /// An entry that could not be read, and so cannot be sent.
    pub fn unreadable(root: Option<&str>, path: &str, reason: &str) -> Rejection {
        Rejection {
            root: root.map(str::to_string),
            path: path.to_string(),
            rule: "unreadable".into(),
            detail: reason.to_string(),
            suggestion: None,
        }
    }

    pub fn same_entry(&self, other: &Rejection) -> bool {
        self.root == other.root && self.path == other.path
    }
}

/// The `--json` report.
pub fn to_json(plugin: Value, checked: usize, rejections: &[Rejection]) -> Value {
    json!({"plugin": plugin, "checked": checked, "rejected": rejections})
}

/// How many distinct entries the rows are about.
pub fn count_entries(rejections: &[Rejection]) -> usize {
    let mut entries: Vec<_> = rejections
        .iter()
        .map(|r| (&r.root, r.path.as_str()))
        .collect();
    entries.sort();
    entries.dedup();
    entries.len()
}

/// `count` and the noun that goes with it: "1 entry", "2 entries".
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
