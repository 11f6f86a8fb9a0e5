//! Peak memory of planning a large sync through ferry's library.
//!
//! `cargo run --release -p ferry-bench --bin plan-memory [ENTRIES] [SCENARIO] [DELETE]` builds a
//! synthetic listing of ENTRIES entries (default 1,000,000: files in nested folders, paths
//! shaped like a real outbox) the way a scan builds one (entry by entry into a compact
//! `Listing`), plans as a run does (`plan::unsettled`, what would go to the policy, then
//! `plan::plan`) and prints one JSON line with the process's peak RSS (`VmHWM` of
//! /proc/self/status) after building the inputs and after planning. SCENARIO is `rerun` (default: the destination already holds every file
//! — a no-op rerun, every entry unchanged; with times on both sides a run loads no state
//! for files sent successfully, so there is none here) or `first`
//! (an empty destination and no state — every file becomes a transfer). DELETE is `never`
//! (ferry's default) or `mirror` (the planner also marks every destination entry kept).
//!
//! Target (issue 6): peak RSS under 200 MB for a 1,000,000-entry plan.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use ferry::config::{DeleteMode, RenameMode};
use ferry::remote::{Kind, RemoteEntry};
use ferry::state::PathState;
use ferry::sync::listing::{Listing, ListingBuilder};
use ferry::sync::plan::{Ends, Filter, Inputs, plan, unsettled};
use serde_json::json;

const TARGET_BYTES: u64 = 200_000_000;
/// Files per folder: a folder entry precedes each group.
const FILES_PER_FOLDER: usize = 100;

/// `count` entries in all: folders `region-RR/account-AAAAA` each followed by its files,
/// listed one at a time as a scan lists them.
fn listing(count: usize) -> Listing {
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let mut listing = ListingBuilder::default();
    let mut push = |path: String, kind: Kind, size: u64| {
        let entry = RemoteEntry {
            path,
            kind,
            size,
            mtime: Some(mtime),
        };
        listing.push(&entry).expect("a short name");
    };
    let (mut pushed, mut folder, mut i) = (0, String::new(), 0usize);
    while pushed < count {
        if i.is_multiple_of(FILES_PER_FOLDER) {
            let n = i / FILES_PER_FOLDER;
            folder = format!("customers/region-{:02}/account-{n:05}", n % 17);
            push(folder.clone(), Kind::Directory, 0);
            pushed += 1;
            if pushed == count {
                break;
            }
        }
        let name = format!("{folder}/invoice_{i:07}_2026-{:02}.csv", i % 12 + 1);
        push(name, Kind::File, (i as u64 * 7919) % 5_000_000);
        pushed += 1;
        i += 1;
    }
    listing.finish()
}

/// `VmHWM` (peak resident set) of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmHWM in /proc/self/status")
        * 1024
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(1_000_000, |n| {
        n.replace(['_', ','], "")
            .parse()
            .expect("ENTRIES is a number")
    });
    let scenario = args.next().unwrap_or_else(|| "rerun".into());
    assert!(
        scenario == "rerun" || scenario == "first",
        "SCENARIO is `rerun` or `first`"
    );
    let delete = match args.next().as_deref() {
        None | Some("never") => DeleteMode::Never,
        Some("mirror") => DeleteMode::Mirror,
        Some(other) => panic!("DELETE is `never` or `mirror`, not {other:?}"),
    };
    let baseline = peak_rss();

    let source = listing(count);
    // Both sides keep modification times, so a run loads only the state of files whose
    // last attempt failed (`Run::path_states`): none here.
    let states: HashMap<String, PathState> = HashMap::new();
    let destination = match scenario.as_str() {
        "rerun" => listing(count),
        _ => Listing::default(),
    };
    let verdicts = HashMap::new();
    let renames = HashMap::new();
    let filter = Filter::new(&[], &[]).expect("empty filter");
    let inputs_rss = peak_rss();

    let inputs = Inputs {
        source: &source,
        source_complete: true,
        destination: &destination,
        states: &states,
        verdicts: &verdicts,
        filter: &filter,
        delete,
        rename: RenameMode::Refuse,
        renames: &renames,
        refused: &[],
        stable_for: Duration::ZERO,
        now: SystemTime::now(),
        ends: Ends {
            source: ferry::remote::local::CAPABILITIES,
            destination: ferry::remote::sftp::CAPABILITIES,
        },
    };
    // As a run plans: what is not in place would go to the policy (every verdict is
    // "accepted" here), then the plan.
    let started = Instant::now();
    let unsettled = unsettled(&inputs);
    let plan = plan(&inputs);
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    println!(
        "{}",
        json!({
            "bench": "plan-memory", "scenario": scenario,
            "delete": if delete == DeleteMode::Mirror { "mirror" } else { "never" }, "entries": count,
            "unsettled": unsettled.len(), "transfers": plan.transfers.len(), "mkdirs": plan.mkdirs.len(),
            "unchanged": plan.unchanged.len(), "deletions": plan.deletions.len(),
            "plan_seconds": seconds,
            "baseline_rss_bytes": baseline, "inputs_rss_bytes": inputs_rss,
            "peak_rss_bytes": peak, "plan_rss_bytes": peak - inputs_rss, "target_bytes": TARGET_BYTES, "met": peak < TARGET_BYTES,
        })
    );
}
