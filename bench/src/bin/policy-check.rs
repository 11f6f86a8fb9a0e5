//! The per-entry cost of checking entries against a policy plugin in batches.
//!
//! `cargo run --release -p ferry-bench --bin policy-check [ENTRIES]` prints one JSON line
//! per batch size: entries, batch size, total seconds, nanoseconds per entry, and whether
//! the target (under 1 µs per entry amortized) is met, counting the host's checks of
//! the answers (every verdict bounded, every temporary name asked and checked against
//! both listings and the run's names) as a run does them.

use std::path::Path;
use std::time::Instant;

use std::sync::Arc;

use ferry::plugin::{
    ComponentCache, Entry, EntryKind, Limits, PluginSource, Policy, Runtime, Setting, SettingValue,
    TempForm,
};
use ferry::remote::{Kind, RemoteEntry};
use ferry::sync::answers::TempNames;
use ferry::sync::bounded_verdict;
use ferry::sync::listing::Listing;
use ferry::sync::plan::Plan;
use serde_json::json;

const TARGET_NS_PER_ENTRY: f64 = 1000.0;

/// Paths shaped like a real outbox: nested folders, dated reports, some bad names.
fn entries(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| {
            let path = format!(
                "customers/region-{:02}/account-{:05}/2026-{:02}/invoice_{i:07}{}.csv",
                i % 17,
                i % 9973,
                i % 12 + 1,
                if i % 50 == 0 { "?draft" } else { "" }
            );
            Entry {
                path,
                kind: EntryKind::File,
                size: Some((i as u64 * 7919) % 5_000_000),
            }
        })
        .collect()
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |n| n.parse().expect("ENTRIES is a number"));
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::at(cache.path()), Limits::default()).unwrap();
    let plugin = runtime
        .load(&PluginSource::resolve("generic", Path::new(".")).unwrap())
        .unwrap();
    let settings = vec![
        Setting {
            name: "forbidden_chars".into(),
            value: SettingValue::Text("?*<>|".into()),
        },
        Setting {
            name: "max_name_length".into(),
            value: SettingValue::Integer(160),
        },
        Setting {
            name: "length_counts".into(),
            value: SettingValue::Text("full-path".into()),
        },
    ];
    let mut policy = plugin.configure(settings).unwrap();
    let entries = entries(count);
    for batch in [256, 1024, 4096] {
        policy.check_batch(&entries[..batch]).unwrap(); // warm up
        let started = Instant::now();
        let mut rejected = 0;
        for chunk in entries.chunks(batch) {
            rejected += policy
                .check_batch(chunk)
                .unwrap()
                .into_iter()
                .map(bounded_verdict)
                .filter(|v| !v.violations.is_empty())
                .count();
        }
        let seconds = started.elapsed().as_secs_f64();
        let extra = json!({"rejected": rejected});
        report(
            "policy-check",
            count,
            batch,
            seconds,
            Some(TARGET_NS_PER_ENTRY),
            extra,
        );
    }
    let (seconds, refused) = temp_names(&mut policy, &entries);
    report(
        "temp-names",
        count,
        1,
        seconds,
        None,
        json!({"refused": refused}),
    );
}

/// Ask the temporary name of every entry, one call each as the contract has it, and
/// check each as a run does: the seconds, and how many were refused.
fn temp_names(policy: &mut Policy, entries: &[Entry]) -> (f64, usize) {
    let listed: Vec<RemoteEntry> = entries
        .iter()
        .map(|entry| RemoteEntry {
            path: entry.path.clone(),
            kind: Kind::File,
            size: entry.size.unwrap_or(0),
            mtime: None,
        })
        .collect();
    let source: Arc<Listing> = Arc::new(listed.iter().collect());
    let destination = Arc::new(Listing::default());
    let mut names = TempNames::new(source, destination, &Plan::default());
    let started = Instant::now();
    let refused = entries
        .iter()
        .filter(|entry| {
            let temp = policy.temp_name(&entry.path, TempForm::Standard).unwrap();
            names.admit(&entry.path, &temp).is_err()
        })
        .count();
    (started.elapsed().as_secs_f64(), refused)
}

/// One JSON line; `met` says whether `target` (nanoseconds per entry) is met, if any.
fn report(
    bench: &str,
    count: usize,
    batch: usize,
    seconds: f64,
    target: Option<f64>,
    extra: serde_json::Value,
) {
    let ns_per_entry = seconds * 1e9 / count as f64;
    let mut line = json!({
        "bench": bench, "entries": count, "batch": batch,
        "seconds": seconds, "ns_per_entry": ns_per_entry,
        "target_ns_per_entry": target, "met": target.map(|t| ns_per_entry < t),
    });
    line.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    println!("{line}");
}
