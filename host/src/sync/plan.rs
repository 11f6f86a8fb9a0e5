//! The planner: a pure function of both listings, the state store's memory and the
//! destination plugin's verdicts. No I/O happens here.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::{DeleteMode, RenameMode};
use crate::plugin::{CustomViolation, Verdict, Violation};
use crate::remote::{Kind, RemoteEntry};
use crate::state::{FileStatus, PathState};

/// Which paths a sync covers: `exclude` wins; `include`, when given, selects files.
pub struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl Filter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        let include = if include.is_empty() {
            None
        } else {
            Some(glob_set(include)?)
        };
        Ok(Filter {
            include,
            exclude: glob_set(exclude)?,
        })
    }

    /// Whether the sync covers `path`; a path under an excluded folder is excluded too.
    pub fn allows(&self, path: &str, kind: Kind) -> bool {
        if self.include.is_none() && self.exclude.is_empty() {
            return true;
        }
        let excluded = ancestors_and_self(path).any(|p| self.exclude.is_match(p));
        let included =
            kind == Kind::Directory || self.include.as_ref().is_none_or(|set| set.is_match(path));
        !excluded && included
    }

    fn selects_folders(&self) -> bool {
        self.include.is_none()
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern)?);
    }
    builder.build()
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn ancestors_and_self(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

/// Why a file is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    New,
    SizeChanged,
    MtimeChanged,
    /// The destination keeps no time; the state store does not know this version.
    NotSyncedBefore,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    /// The source path.
    pub path: String,
    /// Where it goes at the destination when that is not `path` (a sanitized name).
    pub renamed_to: Option<String>,
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub reason: Reason,
}

impl Transfer {
    /// Where it goes at the destination.
    pub fn destination(&self) -> &str {
        self.renamed_to.as_deref().unwrap_or(&self.path)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub violations: Vec<Violation>,
    pub suggestion: Option<String>,
}

/// A file not tried again, and what its state store says about its last failure.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub path: String,
    pub state: PathState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub path: String,
    pub kind: Kind,
}

/// Everything one run will do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Folders to create, parents first.
    pub mkdirs: Vec<String>,
    pub transfers: Vec<Transfer>,
    /// Files first, then folders deepest first.
    pub deletions: Vec<Deletion>,
    pub rejections: Vec<Rejection>,
    pub unchanged: usize,
    /// Folders placed under a sanitized name (source path, destination path).
    pub renamed_folders: Vec<(String, String)>,
    /// Files whose last failure was permanent and that have not changed since: not tried.
    pub held: Vec<Held>,
    /// Files modified too recently (`stable_for`): left for the next run.
    pub deferred: Vec<String>,
    /// Why mirror deletes were not planned, when they were not.
    pub deletions_withheld: Option<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.mkdirs.is_empty()
            && self.transfers.is_empty()
            && self.deletions.is_empty()
            && self.rejections.is_empty()
    }
}

/// What the planner decides from.
pub struct Inputs<'a> {
    pub source: &'a [RemoteEntry],
    /// False when a source folder could not be listed.
    pub source_complete: bool,
    pub destination: &'a [RemoteEntry],
    /// The state store's memory of the source paths: every failed one, and every sent
    /// one too when [`needs_sent_states`] says so.
    pub states: &'a HashMap<String, PathState>,
    /// The destination plugin's verdict per source path; a missing one means accepted.
    pub verdicts: &'a HashMap<String, Verdict>,
    pub filter: &'a Filter,
    pub delete: DeleteMode,
    pub rename: RenameMode,
    /// Source path → destination path remembered from earlier runs (both directions).
    pub renames: &'a HashMap<String, String>,
    /// Files younger than this are deferred; zero defers nothing.
    pub stable_for: Duration,
    pub now: SystemTime,
}

/// Two times closer than this are the same: SFTP keeps whole seconds.
const MTIME_TOLERANCE: Duration = Duration::from_secs(1);

/// Whether planning needs the state of files sent successfully: only to tell whether a
/// file without a modification time (on either side) is the version sent before (see
/// `change`). Otherwise the failed ones (for `held_back`) are all it reads.
pub fn needs_sent_states(source: &[RemoteEntry], destination: &[RemoteEntry]) -> bool {
    source
        .iter()
        .chain(destination)
        .any(|e| e.kind == Kind::File && e.mtime.is_none())
}

/// The covered source entries the destination does not hold as they are (a file of
/// another version, a folder missing): only these need the policy's verdict. What is in
/// place already, under its own or its remembered name, was accepted when it was sent;
/// left without a verdict, the planner finds it unchanged.
pub fn unsettled<'a>(inputs: &Inputs<'a>) -> Vec<&'a RemoteEntry> {
    let destination = by_path(inputs.destination);
    inputs
        .source
        .iter()
        .filter(|e| inputs.filter.allows(&e.path, e.kind))
        .filter(|e| {
            let target = inputs.renames.get(&e.path).unwrap_or(&e.path);
            let existing = destination.get(target.as_str()).copied();
            match e.kind {
                Kind::Directory => existing.is_none_or(|d| d.kind != Kind::Directory),
                Kind::File => change(e, existing, inputs.states.get(&e.path)).is_some(),
            }
        })
        .collect()
}

/// Entries by path. foldhash: several times faster than the default SipHash on paths,
/// and seeded per process, so a hostile listing cannot aim at its collisions.
fn by_path(entries: &[RemoteEntry]) -> foldhash::HashMap<&str, &RemoteEntry> {
    entries.iter().map(|e| (e.path.as_str(), e)).collect()
}

pub fn plan(inputs: &Inputs) -> Plan {
    let mut plan = Plan::default();
    let mut placed = place(inputs, &mut plan.rejections);
    reject_collisions(&mut placed, &mut plan.rejections);
    let destination = by_path(inputs.destination);
    for Placed { entry, target } in &placed {
        if entry.kind == Kind::Directory && *target != entry.path {
            plan.renamed_folders
                .push((entry.path.clone(), target.to_string()));
        }
        let existing = destination.get(target.as_ref()).copied();
        match entry.kind {
            Kind::Directory if existing.is_none() && inputs.filter.selects_folders() => {
                plan.mkdirs.push(target.to_string())
            }
            Kind::Directory => {}
            Kind::File if is_settling(entry, inputs) => plan.deferred.push(entry.path.clone()),
            Kind::File if let Some(state) = held_back(entry, inputs.states.get(&entry.path)) => {
                plan.held.push(Held {
                    path: entry.path.clone(),
                    state: state.clone(),
                })
            }
            Kind::File => match change(entry, existing, inputs.states.get(&entry.path)) {
                Some(reason) => plan.transfers.push(Transfer {
                    path: entry.path.clone(),
                    renamed_to: (*target != entry.path).then(|| target.to_string()),
                    size: entry.size,
                    mtime: entry.mtime,
                    reason,
                }),
                None => plan.unchanged += 1,
            },
        }
    }
    if inputs.delete == DeleteMode::Mirror {
        let kept = placed
            .iter()
            .map(|p| p.target.as_ref())
            .chain(plan.rejections.iter().map(|r| r.path.as_str()));
        match deletions(inputs, &kept.collect()) {
            Ok(deletions) => plan.deletions = deletions,
            Err(withheld) => plan.deletions_withheld = Some(withheld),
        }
    }
    plan
}

/// A source entry and the path it has (or will have) at the destination: borrowed when
/// it is the source path or a remembered one, which is nearly always.
struct Placed<'a> {
    entry: &'a RemoteEntry,
    target: Cow<'a, str>,
}

impl Placed<'_> {
    fn renamed(&self) -> bool {
        self.target != self.entry.path
    }
}

/// Where each covered source entry goes, parents first; refused ones become rejections.
fn place<'a>(inputs: &Inputs<'a>, rejections: &mut Vec<Rejection>) -> Vec<Placed<'a>> {
    let mut source: Vec<&RemoteEntry> = inputs
        .source
        .iter()
        .filter(|e| inputs.filter.allows(&e.path, e.kind))
        .collect();
    source.sort_by(|a, b| a.path.cmp(&b.path));
    let mut folder_targets: HashMap<&str, String> = HashMap::new();
    let mut rejected_folders: Vec<&str> = Vec::new();
    let mut placed = Vec::new();
    for entry in source {
        match target(entry, inputs, &folder_targets, &rejected_folders) {
            Ok(target) => {
                if entry.kind == Kind::Directory && target != entry.path {
                    folder_targets.insert(&entry.path, target.to_string());
                }
                placed.push(Placed { entry, target });
            }
            Err(rejection) => {
                if entry.kind == Kind::Directory {
                    rejected_folders.push(&entry.path);
                }
                rejections.push(rejection);
            }
        }
    }
    placed
}

/// The destination path of `entry`: under its (possibly renamed) folder, its own name,
/// a name remembered from an earlier run, or — when sanitizing — the policy's suggestion.
fn target<'a>(
    entry: &'a RemoteEntry,
    inputs: &Inputs<'a>,
    folder_targets: &HashMap<&str, String>,
    rejected_folders: &[&str],
) -> Result<Cow<'a, str>, Rejection> {
    if let Some(folder) = rejected_folders
        .iter()
        .find(|f| entry.path.starts_with(&format!("{f}/")))
    {
        let message =
            format!("its folder {folder:?} is rejected by the remote, so it cannot be created");
        return Err(rejection(
            entry,
            vec![custom("folder-rejected", message)],
            None,
        ));
    }
    if let Some(remembered) = inputs.renames.get(&entry.path) {
        return Ok(Cow::Borrowed(remembered));
    }
    let (parent, name) = entry
        .path
        .rsplit_once('/')
        .map_or(("", entry.path.as_str()), |(p, n)| (p, n));
    let renamed_parent = folder_targets.get(parent);
    let join = |name: &str| {
        let parent = renamed_parent.map_or(parent, String::as_str);
        Cow::Owned(match parent {
            "" => name.to_string(),
            _ => format!("{parent}/{name}"),
        })
    };
    match inputs
        .verdicts
        .get(&entry.path)
        .filter(|v| !v.violations.is_empty())
    {
        None if renamed_parent.is_none() => Ok(Cow::Borrowed(&entry.path)),
        None => Ok(join(name)),
        Some(verdict) => match sanitized_name(verdict, inputs.rename) {
            Some(new_name) => Ok(join(new_name)),
            None => Err(rejection(
                entry,
                verdict.violations.clone(),
                verdict.suggested_path.clone(),
            )),
        },
    }
}

/// The suggested last component, when sanitizing and every violation is about the name.
fn sanitized_name(verdict: &Verdict, mode: RenameMode) -> Option<&str> {
    let fixable = verdict.violations.iter().all(|v| {
        matches!(
            v,
            Violation::ForbiddenCharacter(_)
                | Violation::ReservedName(_)
                | Violation::EdgeCharacter(_)
                | Violation::NameTooLong(_)
                | Violation::PathTooLong(_)
        )
    });
    let suggestion = verdict.suggested_path.as_deref()?;
    (mode == RenameMode::Sanitize && fixable)
        .then(|| suggestion.rsplit('/').next().unwrap_or(suggestion))
}

/// Two entries placed at one destination path: each renamed one is refused instead, so
/// that neither overwrites the other (an entry keeping its own name still goes). Only the
/// targets of renamed entries can collide, so only those are counted.
fn reject_collisions(placed: &mut Vec<Placed>, rejections: &mut Vec<Rejection>) {
    let renamed: HashSet<&str> = placed
        .iter()
        .filter(|p| p.renamed())
        .map(|p| p.target.as_ref())
        .collect();
    if renamed.is_empty() {
        return;
    }
    let mut by_target: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in placed
        .iter()
        .filter(|p| renamed.contains(p.target.as_ref()))
    {
        by_target.entry(&p.target).or_default().push(&p.entry.path);
    }
    let colliding: HashMap<String, String> = placed
        .iter()
        .filter(|p| p.renamed() && by_target[p.target.as_ref()].len() > 1)
        .map(|p| {
            let others: Vec<&str> = by_target[p.target.as_ref()]
                .iter()
                .copied()
                .filter(|o| *o != p.entry.path)
                .collect();
            (
                p.entry.path.clone(),
                format!(
                    "it would be renamed to {:?}, as would {}",
                    p.target,
                    others.join(", ")
                ),
            )
        })
        .collect();
    placed.retain(|p| match colliding.get(&p.entry.path) {
        Some(message) => {
            rejections.push(rejection(
                p.entry,
                vec![custom("name-collision", message.clone())],
                None,
            ));
            false
        }
        None => true,
    });
}

fn custom(rule: &str, message: String) -> Violation {
    Violation::Custom(CustomViolation {
        rule: rule.into(),
        message,
    })
}

fn rejection(
    entry: &RemoteEntry,
    violations: Vec<Violation>,
    suggestion: Option<String>,
) -> Rejection {
    Rejection {
        path: entry.path.clone(),
        kind: entry.kind,
        size: entry.size,
        mtime: entry.mtime,
        violations,
        suggestion,
    }
}

/// The state of a file that failed permanently last time and is the same version now.
fn held_back<'s>(entry: &RemoteEntry, state: Option<&'s PathState>) -> Option<&'s PathState> {
    state.filter(|s| {
        s.last_status == FileStatus::Failed
            && s.last_retry.as_deref() == Some("never")
            && s.size == entry.size
            && s.mtime_ns == entry.mtime.map(unix_nanos)
    })
}

/// A file modified within `stable_for` of now may still be being written.
fn is_settling(entry: &RemoteEntry, inputs: &Inputs) -> bool {
    let Some(mtime) = entry.mtime else {
        return false;
    };
    !inputs.stable_for.is_zero()
        && inputs
            .now
            .duration_since(mtime)
            .map_or(true, |age| age < inputs.stable_for)
}

/// Why `source` must be sent, or `None` when the destination already has it.
fn change(
    source: &RemoteEntry,
    existing: Option<&RemoteEntry>,
    state: Option<&PathState>,
) -> Option<Reason> {
    let Some(existing) = existing else {
        return Some(Reason::New);
    };
    if existing.kind != Kind::File || existing.size != source.size {
        return Some(Reason::SizeChanged);
    }
    match (source.mtime, existing.mtime) {
        (Some(a), Some(b)) if distance(a, b) >= MTIME_TOLERANCE => Some(Reason::MtimeChanged),
        (Some(_), Some(_)) => None,
        _ if state.is_some_and(|s| synced_this_version(s, source)) => None,
        _ => Some(Reason::NotSyncedBefore),
    }
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

fn synced_this_version(state: &PathState, source: &RemoteEntry) -> bool {
    state.last_status == FileStatus::Transferred
        && state.size == source.size
        && state.mtime_ns == source.mtime.map(unix_nanos)
}

/// Nanoseconds since the Unix epoch, as the state store keeps times.
pub fn unix_nanos(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i64,
        Err(before) => -(before.duration().as_nanos() as i64),
    }
}

/// What mirror deletes: every covered destination entry not kept, files first, then
/// folders deepest first. Nothing, with why, when part of the source could not be listed.
fn deletions(inputs: &Inputs, kept: &HashSet<&str>) -> Result<Vec<Deletion>, String> {
    if !inputs.source_complete {
        return Err(
            "part of the source could not be listed, so nothing is deleted at the destination"
                .into(),
        );
    }
    let mut extra: Vec<Deletion> = inputs
        .destination
        .iter()
        .filter(|e| !kept.contains(e.path.as_str()))
        .filter(|e| inputs.filter.allows(&e.path, e.kind))
        .map(|e| Deletion {
            path: e.path.clone(),
            kind: e.kind,
        })
        .collect();
    extra.sort_by(|a, b| deletion_order(a).cmp(&deletion_order(b)));
    Ok(extra)
}

/// Files before folders, deeper folders before their parents, then by path.
fn deletion_order(deletion: &Deletion) -> (bool, std::cmp::Reverse<usize>, &str) {
    let depth = deletion.path.matches('/').count();
    (
        deletion.kind == Kind::Directory,
        std::cmp::Reverse(depth),
        &deletion.path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{ForbiddenCharacter, TempForm};
    use crate::state::RunId;

    fn at(seconds: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
    }

    fn file(path: &str, size: u64, mtime: Option<SystemTime>) -> RemoteEntry {
        RemoteEntry {
            path: path.into(),
            kind: Kind::File,
            size,
            mtime,
        }
    }

    fn folder(path: &str) -> RemoteEntry {
        RemoteEntry {
            path: path.into(),
            kind: Kind::Directory,
            size: 0,
            mtime: at(1),
        }
    }

    struct Case {
        source: Vec<RemoteEntry>,
        source_complete: bool,
        destination: Vec<RemoteEntry>,
        states: HashMap<String, PathState>,
        verdicts: HashMap<String, Verdict>,
        filter: Filter,
        delete: DeleteMode,
        rename: RenameMode,
        renames: HashMap<String, String>,
        stable_for: Duration,
    }

    impl Case {
        fn new(source: Vec<RemoteEntry>, destination: Vec<RemoteEntry>) -> Self {
            Case {
                source,
                source_complete: true,
                destination,
                states: HashMap::new(),
                verdicts: HashMap::new(),
                filter: Filter::new(&[], &[]).unwrap(),
                delete: DeleteMode::Never,
                rename: RenameMode::Refuse,
                renames: HashMap::new(),
                stable_for: Duration::ZERO,
            }
        }

        fn plan(&self) -> Plan {
            plan(&self.inputs())
        }

        fn inputs(&self) -> Inputs<'_> {
            Inputs {
                source: &self.source,
                source_complete: self.source_complete,
                destination: &self.destination,
                states: &self.states,
                verdicts: &self.verdicts,
                filter: &self.filter,
                delete: self.delete,
                rename: self.rename,
                renames: &self.renames,
                stable_for: self.stable_for,
                now: at(1_000).unwrap(),
            }
        }
    }

    fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
        items.iter().map(path).collect()
    }

    #[test]
    fn sent_states_are_needed_only_where_a_file_has_no_time() {
        let dated = [folder("d"), file("d/a", 1, at(10))];
        assert!(!needs_sent_states(&dated, &dated));
        let undated = [folder("d"), file("d/a", 1, None)];
        assert!(needs_sent_states(&dated, &undated));
        assert!(needs_sent_states(&undated, &dated));
    }

    #[test]
    fn only_what_is_not_in_place_needs_a_verdict() {
        let mut case = Case::new(
            vec![
                folder("d"),
                folder("new"),
                file("d/same", 1, at(10)),
                file("d/changed", 2, at(10)),
                file("d/q?.csv", 3, at(10)),
                file("new/x", 4, at(10)),
                file("skip.tmp", 5, at(10)),
            ],
            vec![
                folder("d"),
                file("d/same", 1, at(10)),
                file("d/changed", 1, at(10)),
                file("d/q_.csv", 3, at(10)),
            ],
        );
        case.renames.insert("d/q?.csv".into(), "d/q_.csv".into());
        case.filter = Filter::new(&[], &["*.tmp".into()]).unwrap();

        let unsettled = unsettled(&case.inputs());

        assert_eq!(
            paths(&unsettled, |e| &e.path),
            ["new", "d/changed", "new/x"]
        );
        let plan = case.plan();
        assert_eq!(plan.unchanged, 2);
        assert_eq!(paths(&plan.transfers, |t| &t.path), ["d/changed", "new/x"]);
    }

    #[test]
    fn new_changed_and_unchanged_files() {
        let plan = Case::new(
            vec![
                folder("d"),
                file("d/new", 1, at(10)),
                file("same", 5, at(10)),
                file("grown", 6, at(10)),
                file("touched", 5, at(20)),
            ],
            vec![
                file("same", 5, at(10)),
                file("grown", 5, at(10)),
                file("touched", 5, at(10)),
            ],
        )
        .plan();
        assert_eq!(plan.mkdirs, vec!["d"]);
        let reasons: Vec<_> = plan
            .transfers
            .iter()
            .map(|t| (t.path.as_str(), t.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("d/new", Reason::New),
                ("grown", Reason::SizeChanged),
                ("touched", Reason::MtimeChanged)
            ]
        );
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn whole_second_destination_times_count_as_the_same() {
        let precise = SystemTime::UNIX_EPOCH + Duration::from_millis(10_700);
        let plan = Case::new(
            vec![file("a", 1, Some(precise))],
            vec![file("a", 1, at(10))],
        )
        .plan();
        assert!(plan.is_empty() && plan.unchanged == 1);
    }

    #[test]
    fn without_destination_times_the_state_store_decides() {
        let mut case = Case::new(
            vec![file("a", 3, at(10)), file("b", 3, at(10))],
            vec![file("a", 3, None), file("b", 3, None)],
        );
        let synced = PathState {
            size: 3,
            mtime_ns: at(10).map(unix_nanos),
            last_status: FileStatus::Transferred,
            attempts: 0,
            last_category: None,
            last_retry: None,
            last_message: None,
            last_run: RunId(1),
        };
        case.states.insert("a".into(), synced);
        let plan = case.plan();
        assert_eq!(paths(&plan.transfers, |t| &t.path), vec!["b"]);
        assert_eq!(plan.transfers[0].reason, Reason::NotSyncedBefore);
    }

    #[test]
    fn rejected_entries_and_everything_under_a_rejected_folder_are_not_sent() {
        let mut case = Case::new(
            vec![
                folder("bad?"),
                file("bad?/x", 1, at(1)),
                file("ok", 1, at(1)),
            ],
            vec![],
        );
        let violation = Violation::ForbiddenCharacter(ForbiddenCharacter {
            character: '?',
            component: "bad?".into(),
            position: 3,
        });
        case.verdicts.insert(
            "bad?".into(),
            Verdict {
                violations: vec![violation],
                suggested_path: Some("bad_".into()),
                temp_form: TempForm::Standard,
            },
        );
        let plan = case.plan();
        assert_eq!(paths(&plan.rejections, |r| &r.path), vec!["bad?", "bad?/x"]);
        assert_eq!(plan.rejections[0].suggestion.as_deref(), Some("bad_"));
        assert!(
            matches!(&plan.rejections[1].violations[0], Violation::Custom(c) if c.rule == "folder-rejected")
        );
        assert_eq!(paths(&plan.transfers, |t| &t.path), vec!["ok"]);
        assert!(plan.mkdirs.is_empty());
    }

    #[test]
    fn mirror_deletes_extras_files_first_deepest_folders_first() {
        let mut case = Case::new(
            vec![file("keep", 1, at(1))],
            vec![
                file("keep", 1, at(1)),
                folder("old"),
                folder("old/deeper"),
                file("old/deeper/f", 1, at(1)),
            ],
        );
        case.delete = DeleteMode::Mirror;
        let plan = case.plan();
        assert_eq!(
            paths(&plan.deletions, |d| &d.path),
            vec!["old/deeper/f", "old/deeper", "old"]
        );
    }

    #[test]
    fn mirror_deletes_nothing_when_the_source_listing_is_incomplete() {
        let mut case = Case::new(vec![], vec![file("would-go", 1, at(1))]);
        case.delete = DeleteMode::Mirror;
        case.source_complete = false;
        let plan = case.plan();
        assert!(plan.deletions.is_empty());
        assert!(plan.deletions_withheld.is_some());
    }

    #[test]
    fn filters_apply_to_both_sides() {
        let mut case = Case::new(
            vec![
                file("a.csv", 1, at(1)),
                file("a.txt", 1, at(1)),
                folder("tmp"),
                file("tmp/b.csv", 1, at(1)),
            ],
            vec![file("old.txt", 1, at(1)), file("old.csv", 1, at(1))],
        );
        case.filter = Filter::new(&["**/*.csv".into()], &["tmp".into()]).unwrap();
        case.delete = DeleteMode::Mirror;
        let plan = case.plan();
        assert_eq!(paths(&plan.transfers, |t| &t.path), vec!["a.csv"]);
        assert_eq!(paths(&plan.deletions, |d| &d.path), vec!["old.csv"]);
    }

    fn forbidden(path: &str, character: char, suggestion: &str) -> (String, Verdict) {
        let component = path.rsplit('/').next().unwrap().to_string();
        let violation = Violation::ForbiddenCharacter(ForbiddenCharacter {
            character,
            component,
            position: 0,
        });
        (
            path.into(),
            Verdict {
                violations: vec![violation],
                suggested_path: Some(suggestion.into()),
                temp_form: TempForm::Standard,
            },
        )
    }

    fn targets(plan: &Plan) -> Vec<(&str, &str)> {
        plan.transfers
            .iter()
            .map(|t| (t.path.as_str(), t.destination()))
            .collect()
    }

    #[test]
    fn sanitizing_sends_under_the_suggested_name_and_renames_follow_into_folders() {
        let mut case = Case::new(
            vec![
                folder("a:b"),
                file("a:b/x.csv", 1, at(1)),
                file("q?.csv", 1, at(1)),
            ],
            vec![],
        );
        case.rename = RenameMode::Sanitize;
        case.verdicts.extend([
            forbidden("a:b", ':', "a_b"),
            forbidden("q?.csv", '?', "q_.csv"),
        ]);
        let plan = case.plan();
        assert!(plan.rejections.is_empty(), "{:?}", plan.rejections);
        assert_eq!(plan.mkdirs, vec!["a_b"]);
        assert_eq!(
            plan.renamed_folders,
            vec![("a:b".to_string(), "a_b".to_string())]
        );
        assert_eq!(
            targets(&plan),
            vec![("a:b/x.csv", "a_b/x.csv"), ("q?.csv", "q_.csv")]
        );
    }

    #[test]
    fn two_names_sanitized_to_one_are_both_refused_and_a_native_name_keeps_its_place() {
        let mut case = Case::new(
            vec![
                file("a?.csv", 1, at(1)),
                file("a*.csv", 1, at(1)),
                file("a_.csv", 1, at(1)),
            ],
            vec![],
        );
        case.rename = RenameMode::Sanitize;
        case.verdicts.extend([
            forbidden("a?.csv", '?', "a_.csv"),
            forbidden("a*.csv", '*', "a_.csv"),
        ]);
        let plan = case.plan();
        assert_eq!(targets(&plan), vec![("a_.csv", "a_.csv")]);
        let refused: Vec<_> = plan.rejections.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(refused, vec!["a*.csv", "a?.csv"]);
        assert!(
            matches!(&plan.rejections[0].violations[0], Violation::Custom(c) if c.rule == "name-collision" && c.message.contains("a?.csv"))
        );
    }

    #[test]
    fn a_remembered_rename_is_used_and_its_file_is_not_deleted_as_extra() {
        let mut case = Case::new(
            vec![file("r?.csv", 1, at(1))],
            vec![file("r_.csv", 1, at(1))],
        );
        case.renames.insert("r?.csv".into(), "r_.csv".into());
        case.delete = DeleteMode::Mirror;
        let plan = case.plan();
        assert!(
            plan.transfers.is_empty() && plan.deletions.is_empty(),
            "{plan:?}"
        );
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn refusing_mode_reports_instead_of_renaming() {
        let mut case = Case::new(vec![file("q?.csv", 1, at(1))], vec![]);
        case.verdicts.extend([forbidden("q?.csv", '?', "q_.csv")]);
        let plan = case.plan();
        assert!(plan.transfers.is_empty());
        assert_eq!(plan.rejections[0].suggestion.as_deref(), Some("q_.csv"));
    }

    #[test]
    fn files_younger_than_stable_for_are_deferred() {
        let mut case = Case::new(
            vec![file("settled", 1, at(900)), file("fresh", 1, at(995))],
            vec![],
        );
        case.stable_for = Duration::from_secs(30);
        let plan = case.plan();
        assert_eq!(targets(&plan), vec![("settled", "settled")]);
        assert_eq!(plan.deferred, vec!["fresh"]);
    }

    fn failed_state(size: u64, mtime: Option<SystemTime>, retry: &str) -> PathState {
        PathState {
            size,
            mtime_ns: mtime.map(unix_nanos),
            last_status: FileStatus::Failed,
            attempts: 1,
            last_category: Some("permission".into()),
            last_retry: Some(retry.into()),
            last_message: Some("Permission denied".into()),
            last_run: RunId(1),
        }
    }

    #[test]
    fn a_permanent_failure_is_held_until_the_file_changes() {
        let mut case = Case::new(
            vec![
                file("denied", 5, at(10)),
                file("changed", 6, at(10)),
                file("flaky", 5, at(10)),
            ],
            vec![],
        );
        case.states
            .insert("denied".into(), failed_state(5, at(10), "never"));
        case.states
            .insert("changed".into(), failed_state(5, at(10), "never"));
        case.states
            .insert("flaky".into(), failed_state(5, at(10), "next-run"));
        let plan = case.plan();
        assert_eq!(
            plan.held
                .iter()
                .map(|h| h.path.as_str())
                .collect::<Vec<_>>(),
            vec!["denied"]
        );
        assert_eq!(
            targets(&plan),
            vec![("changed", "changed"), ("flaky", "flaky")]
        );
    }
}
