//! The planner: a pure function of both listings, the state store's memory and the
//! destination plugin's verdicts. No I/O happens here.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::DeleteMode;
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
    pub path: String,
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub reason: Reason,
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
    pub states: &'a HashMap<String, PathState>,
    /// The destination plugin's verdict per source path; a missing one means accepted.
    pub verdicts: &'a HashMap<String, Verdict>,
    pub filter: &'a Filter,
    pub delete: DeleteMode,
    /// Destination paths that are ferry's own temporary uploads: never deleted as extra.
    pub temp_paths: &'a HashSet<String>,
}

/// Two times closer than this are the same: SFTP keeps whole seconds.
const MTIME_TOLERANCE: Duration = Duration::from_secs(1);

pub fn plan(inputs: &Inputs) -> Plan {
    let destination: HashMap<&str, &RemoteEntry> = inputs
        .destination
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let mut plan = Plan::default();
    let mut rejected_folders: Vec<&str> = Vec::new();
    let mut source: Vec<&RemoteEntry> = inputs
        .source
        .iter()
        .filter(|e| inputs.filter.allows(&e.path, e.kind))
        .collect();
    source.sort_by(|a, b| a.path.cmp(&b.path));
    for entry in source {
        if let Some(rejection) =
            rejection(entry, inputs.verdicts.get(&entry.path), &rejected_folders)
        {
            if entry.kind == Kind::Directory {
                rejected_folders.push(&entry.path);
            }
            plan.rejections.push(rejection);
            continue;
        }
        let existing = destination.get(entry.path.as_str()).copied();
        match entry.kind {
            Kind::Directory if existing.is_none() && inputs.filter.selects_folders() => {
                plan.mkdirs.push(entry.path.clone())
            }
            Kind::Directory => {}
            Kind::File => match change(entry, existing, inputs.states.get(&entry.path)) {
                Some(reason) => plan.transfers.push(Transfer {
                    path: entry.path.clone(),
                    size: entry.size,
                    mtime: entry.mtime,
                    reason,
                }),
                None => plan.unchanged += 1,
            },
        }
    }
    if inputs.delete == DeleteMode::Mirror {
        plan_deletions(inputs, &mut plan);
    }
    plan
}

/// A rejection for `entry`: the plugin's violations, or a rejected folder above it.
fn rejection(
    entry: &RemoteEntry,
    verdict: Option<&Verdict>,
    rejected_folders: &[&str],
) -> Option<Rejection> {
    let (violations, suggestion) = match verdict.filter(|v| !v.violations.is_empty()) {
        Some(verdict) => (verdict.violations.clone(), verdict.suggested_path.clone()),
        None => {
            let folder = rejected_folders
                .iter()
                .find(|f| entry.path.starts_with(&format!("{f}/")))?;
            let message =
                format!("its folder {folder:?} is rejected by the remote, so it cannot be created");
            (
                vec![Violation::Custom(CustomViolation {
                    rule: "folder-rejected".into(),
                    message,
                })],
                None,
            )
        }
    };
    Some(Rejection {
        path: entry.path.clone(),
        kind: entry.kind,
        size: entry.size,
        mtime: entry.mtime,
        violations,
        suggestion,
    })
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

fn plan_deletions(inputs: &Inputs, plan: &mut Plan) {
    if !inputs.source_complete {
        plan.deletions_withheld = Some(
            "part of the source could not be listed, so nothing is deleted at the destination"
                .into(),
        );
        return;
    }
    let in_source: HashSet<&str> = inputs.source.iter().map(|e| e.path.as_str()).collect();
    let mut extra: Vec<Deletion> = inputs
        .destination
        .iter()
        .filter(|e| !in_source.contains(e.path.as_str()))
        .filter(|e| !inputs.temp_paths.contains(&e.path))
        .filter(|e| inputs.filter.allows(&e.path, e.kind))
        .map(|e| Deletion {
            path: e.path.clone(),
            kind: e.kind,
        })
        .collect();
    let depth = |d: &Deletion| d.path.matches('/').count();
    extra.sort_by(|a, b| {
        (
            a.kind == Kind::Directory,
            std::cmp::Reverse(depth(a)),
            &a.path,
        )
            .cmp(&(
                b.kind == Kind::Directory,
                std::cmp::Reverse(depth(b)),
                &b.path,
            ))
    });
    plan.deletions = extra;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::ForbiddenCharacter;
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
        temp_paths: HashSet<String>,
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
                temp_paths: HashSet::new(),
            }
        }

        fn plan(&self) -> Plan {
            plan(&Inputs {
                source: &self.source,
                source_complete: self.source_complete,
                destination: &self.destination,
                states: &self.states,
                verdicts: &self.verdicts,
                filter: &self.filter,
                delete: self.delete,
                temp_paths: &self.temp_paths,
            })
        }
    }

    fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
        items.iter().map(path).collect()
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
                file("x.partial", 1, at(1)),
            ],
        );
        case.delete = DeleteMode::Mirror;
        case.temp_paths.insert("x.partial".into());
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
}
