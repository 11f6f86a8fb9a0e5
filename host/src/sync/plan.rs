//! The planner: a pure function of both listings, the state store's memory and the
//! destination plugin's verdicts. No I/O happens here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::listing::{Item, Listing};
use crate::config::{DeleteMode, RenameMode};
use crate::plugin::{CustomViolation, Retry, TempForm, Verdict, Violation};
use crate::remote::{Capabilities, Folders, Kind};
use crate::state::{DestinationVersion, FileStatus, PathState, Step};

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
    /// The destination holds a folder where the source holds this file (mirror only):
    /// the file is uploaded first and takes the folder's place once it is deleted.
    ReplacesFolder,
}

/// A file to send: an entry of the source listing (a plan of a million files holds no
/// path of its own for each).
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    /// Its index in the source listing.
    pub entry: u32,
    pub reason: Reason,
    /// The temporary name the destination's plugin asked for.
    pub temp_form: TempForm,
    /// Where it goes at the destination when that is not its source path (a sanitized name).
    pub renamed_to: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub violations: Vec<Violation>,
    pub suggestion: Option<String>,
    /// What to do about it, when the host (not the policy) refused it.
    pub advice: Option<String>,
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
    /// In the source listing's order.
    pub transfers: Vec<Transfer>,
    /// Files first, then folders deepest first.
    pub deletions: Vec<Deletion>,
    pub rejections: Vec<Rejection>,
    /// The source files the destination holds as they are (by index in the source
    /// listing): not sent, and delivered as far as `after_delivery` is concerned.
    pub unchanged: Vec<u32>,
    /// Folders placed under a sanitized name (source path, destination path).
    pub renamed_folders: Vec<(String, String)>,
    /// Files whose last failure was permanent and that have not changed since: not tried.
    pub held: Vec<Held>,
    /// Files modified too recently (`stable_for`): left for the next run.
    pub deferred: Vec<String>,
    /// Why mirror deletes were not planned, when they were not.
    pub deletions_withheld: Option<String>,
    /// Deletions the destination refused for good in an earlier run: not tried again (nor
    /// the folders above them) until `ferry retry` forgets the refusal.
    pub deletions_held: Vec<String>,
    /// Destination files where the source now holds a folder (mirror only): each is moved
    /// aside before its folder is created, and removed once the transfers are done.
    pub replaced_files: Vec<String>,
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
    pub source: &'a Listing,
    /// False when a source folder could not be listed.
    pub source_complete: bool,
    pub destination: &'a Listing,
    /// The state store's memory of the source paths: every failed one, and every sent
    /// one too when [`needs_sent_states`] says so.
    pub states: &'a HashMap<String, PathState>,
    /// The destination plugin's verdict per source entry (by index in the source
    /// listing); a missing one means accepted.
    pub verdicts: &'a HashMap<u32, Verdict>,
    pub filter: &'a Filter,
    pub delete: DeleteMode,
    pub rename: RenameMode,
    /// Source path → destination path remembered from earlier runs (both directions).
    pub renames: &'a HashMap<String, String>,
    /// Source names that cannot be synced as they are (path, why), from the scan.
    pub refused: &'a [(String, String)],
    /// Files younger than this are deferred; zero defers nothing.
    pub stable_for: Duration,
    pub now: SystemTime,
    /// What the two ends can do: how precisely they keep times, whether the
    /// destination keeps folders of its own.
    pub ends: Ends,
}

/// The capabilities of a sync's source and destination, as far as the plan depends on them.
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    pub source: Capabilities,
    pub destination: Capabilities,
}

/// Two times closer than this are the same, whatever the ends keep: SFTP keeps whole
/// seconds, and so do most file systems' copies of a time across tools.
const MIN_MTIME_TOLERANCE: Duration = Duration::from_secs(1);

impl Ends {
    /// Two times closer than this (in nanoseconds) are the same: the coarser end's
    /// precision, at least [`MIN_MTIME_TOLERANCE`].
    fn mtime_tolerance_ns(&self) -> u64 {
        let coarser = self
            .source
            .mtimes
            .precision()
            .max(self.destination.mtimes.precision())
            .max(MIN_MTIME_TOLERANCE);
        coarser.as_nanos().try_into().unwrap_or(u64::MAX)
    }

    /// Whether a folder can be made at the destination on its own (not where folders
    /// are only prefixes of the names below them).
    fn destination_keeps_folders(&self) -> bool {
        self.destination.folders == Folders::Real
    }
}

/// Whether planning needs the state of files sent successfully: only to tell whether a
/// file without a modification time (on either side) is the version sent before (see
/// `change`). Otherwise the failed ones (for `held_back`) are all it reads.
pub fn needs_sent_states(source: &Listing, destination: &Listing) -> bool {
    source
        .iter()
        .chain(destination.iter())
        .any(|e| e.kind == Kind::File && e.mtime_ns.is_none())
}

/// The covered source entries (by index) the destination does not hold as they are (a
/// file of another version, a folder missing): only these need the policy's verdict.
/// What is in place already, under its own or its remembered name, was accepted when it
/// was sent; left without a verdict, the planner finds it unchanged.
pub fn unsettled(inputs: &Inputs) -> Vec<u32> {
    let mut path = String::new();
    inputs
        .source
        .iter()
        .filter(|item| {
            item.write_path(&mut path);
            inputs.filter.allows(&path, item.kind) && !in_place(inputs, *item, &path)
        })
        .map(|item| item.index)
        .collect()
}

/// Whether the destination holds `item` (at source `path`) as it is, under its own or
/// its remembered name.
fn in_place(inputs: &Inputs, item: Item, path: &str) -> bool {
    let remembered = inputs.renames.get(path).map(String::as_str);
    let existing = existing(inputs.destination, item, remembered);
    match item.kind {
        Kind::Directory => existing.is_some_and(|d| d.kind == Kind::Directory),
        Kind::File => change(item, existing, inputs.states.get(path), inputs.ends).is_none(),
    }
}

/// What `destination` holds where `item` goes: at `renamed` when given, else at its
/// own path.
fn existing<'d>(destination: &'d Listing, item: Item, renamed: Option<&str>) -> Option<Item<'d>> {
    match renamed {
        Some(target) => destination.find(target),
        None => destination.find_in(item.folder, item.name),
    }
}

pub fn plan(inputs: &Inputs) -> Plan {
    let mut plan = Plan::default();
    plan.rejections.extend(unusable_names(inputs));
    let mut placement = place(inputs, &mut plan.rejections);
    reject_collisions(inputs, &mut placement, &mut plan.rejections);
    // Mirror deletes every destination entry no source entry is placed at.
    let mut kept = match inputs.delete {
        DeleteMode::Mirror => vec![false; inputs.destination.len()],
        DeleteMode::Never => Vec::new(),
    };
    let mut path = String::new();
    for &index in &placement.placed {
        let item = inputs.source.item(index);
        item.write_path(&mut path);
        let renamed = placement.renamed.get(&index).map(Cow::as_ref);
        let existing = existing(inputs.destination, item, renamed);
        // A folder a file replaces goes, with everything in it.
        let replaced_folder = item.kind == Kind::File
            && existing.is_some_and(|existing| existing.kind == Kind::Directory);
        if let Some(existing) = existing.filter(|_| !kept.is_empty() && !replaced_folder) {
            kept[existing.index as usize] = true;
        }
        plan_entry(&mut plan, inputs, item, &path, renamed, existing);
    }
    if inputs.delete == DeleteMode::Mirror {
        for rejected in &plan.rejections {
            if let Some(existing) = inputs.destination.find(&rejected.path) {
                kept[existing.index as usize] = true;
            }
        }
        match deletions(inputs, &kept) {
            Ok(deletions) => {
                (plan.deletions, plan.deletions_held) = hold_refused(inputs, deletions)
            }
            Err(withheld) => plan.deletions_withheld = Some(withheld),
        }
    }
    plan
}

/// What becomes of one placed source entry at `path`, going to `renamed` when that is
/// not `path`, where the destination holds `existing`.
fn plan_entry(
    plan: &mut Plan,
    inputs: &Inputs,
    item: Item,
    path: &str,
    renamed: Option<&str>,
    existing: Option<Item>,
) {
    let target = renamed.unwrap_or(path);
    match item.kind {
        Kind::Directory => {
            if let Some(renamed) = renamed {
                plan.renamed_folders
                    .push((path.to_string(), renamed.to_string()));
            }
            match existing {
                Some(file) if file.kind == Kind::File => {
                    plan.replaced_files.push(target.to_string());
                    plan.mkdirs.push(target.to_string());
                }
                None if inputs.filter.selects_folders()
                    && inputs.ends.destination_keeps_folders() =>
                {
                    plan.mkdirs.push(target.to_string())
                }
                _ => {}
            }
        }
        Kind::File if is_settling(item, inputs) => plan.deferred.push(path.to_string()),
        Kind::File if let Some(state) = held_back(item, inputs.states.get(path)) => {
            plan.held.push(Held {
                path: path.to_string(),
                state: state.clone(),
            })
        }
        Kind::File => match change(item, existing, inputs.states.get(path), inputs.ends) {
            Some(reason) => plan.transfers.push(Transfer {
                reason: match existing {
                    Some(folder) if folder.kind == Kind::Directory => Reason::ReplacesFolder,
                    _ => reason,
                },
                entry: item.index,
                temp_form: inputs
                    .verdicts
                    .get(&item.index)
                    .map_or(TempForm::Standard, |v| v.temp_form),
                renamed_to: renamed.map(Box::from),
            }),
            None => plan.unchanged.push(item.index),
        },
    }
}

/// Where the covered source entries go.
#[derive(Default)]
struct Placement<'a> {
    /// The entries not refused (by index), in listing order: parents first.
    placed: Vec<u32>,
    /// The destination path of each placed entry that does not keep its source path.
    renamed: HashMap<u32, Cow<'a, str>>,
}

/// The source names the scan refused, as rejections: never sent, with why.
fn unusable_names<'i>(inputs: &'i Inputs) -> impl Iterator<Item = Rejection> + 'i {
    inputs
        .refused
        .iter()
        .filter(|(path, _)| inputs.filter.allows(path, Kind::File))
        .map(|(path, reason)| Rejection {
            path: path.clone(),
            kind: Kind::File,
            size: 0,
            mtime: None,
            violations: vec![custom("unusable-name", reason.clone())],
            suggestion: None,
            advice: Some(
                "This name cannot be used as a path here; ferry never sends it. Rename it where it is kept."
                    .into(),
            ),
        })
}

/// Why `item` (at destination `target`) cannot take the place of what the destination
/// holds there, if it cannot: a folder where a file is, or a file where a folder is, is
/// replaced only under mirror (which removes what is there).
fn type_conflict(inputs: &Inputs, item: Item, path: &str, target: &str) -> Option<Rejection> {
    if inputs.delete == DeleteMode::Mirror {
        return None;
    }
    let existing = inputs.destination.find(target)?;
    if existing.kind == item.kind {
        return None;
    }
    let (was, is) = match item.kind {
        Kind::File => ("a folder", "a file"),
        Kind::Directory => ("a file", "a folder"),
    };
    let message = format!("the destination holds {was} at {target:?}; the source holds {is}");
    let mut rejection = rejection(item, path, vec![custom("type-changed", message)], None);
    rejection.advice = Some(format!(
        "With delete = \"never\" ferry does not replace {was} by {is}. Remove {target:?} at the destination, or set delete = \"mirror\" on the sync."
    ));
    Some(rejection)
}

/// Where each covered source entry goes; refused ones become rejections.
fn place<'a>(inputs: &Inputs<'a>, rejections: &mut Vec<Rejection>) -> Placement<'a> {
    let mut placement = Placement::default();
    let mut folder_targets: HashMap<String, String> = HashMap::new();
    let mut rejected_folders: Vec<String> = Vec::new();
    let mut path = String::new();
    for item in inputs.source.iter() {
        item.write_path(&mut path);
        if !inputs.filter.allows(&path, item.kind) {
            continue;
        }
        let placed =
            target(item, &path, inputs, &folder_targets, &rejected_folders).and_then(|renamed| {
                let target = renamed.as_deref().unwrap_or(&path);
                match type_conflict(inputs, item, &path, target) {
                    Some(conflict) => Err(Box::new(conflict)),
                    None => Ok(renamed),
                }
            });
        match placed {
            Ok(renamed) => {
                if let Some(target) = renamed {
                    if item.kind == Kind::Directory {
                        folder_targets.insert(path.clone(), target.to_string());
                    }
                    placement.renamed.insert(item.index, target);
                }
                placement.placed.push(item.index);
            }
            Err(rejection) => {
                if item.kind == Kind::Directory {
                    rejected_folders.push(path.clone());
                }
                rejections.push(*rejection);
            }
        }
    }
    placement
}

/// The destination path of `item` (at source `path`) when it is not `path`: under its
/// renamed folder, a name remembered from an earlier run, or — when sanitizing — the
/// policy's suggestion. `None`: it keeps its path.
fn target<'a>(
    item: Item,
    path: &str,
    inputs: &Inputs<'a>,
    folder_targets: &HashMap<String, String>,
    rejected_folders: &[String],
) -> Result<Option<Cow<'a, str>>, Box<Rejection>> {
    if let Some(folder) = rejected_folders.iter().find(|f| {
        path.strip_prefix(f.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }) {
        let message = format!(
            "its folder {folder:?} is refused (see its own failure), so it cannot be created"
        );
        let mut rejection = rejection(item, path, vec![custom("folder-rejected", message)], None);
        rejection.advice = Some(format!(
            "Rename the folder {folder:?} to a name the remote accepts (see its own failure); what it holds is sent once it is."
        ));
        return Err(Box::new(rejection));
    }
    if let Some(remembered) = inputs.renames.get(path) {
        return Ok((remembered != path).then_some(Cow::Borrowed(remembered)));
    }
    let renamed_parent = folder_targets.get(item.folder);
    let join = |name: &str| {
        Cow::Owned(match renamed_parent.map_or(item.folder, String::as_str) {
            "" => name.to_string(),
            parent => format!("{parent}/{name}"),
        })
    };
    match inputs
        .verdicts
        .get(&item.index)
        .filter(|v| !v.violations.is_empty())
    {
        None if renamed_parent.is_none() => Ok(None),
        None => Ok(Some(join(item.name))),
        Some(verdict) => match sanitized_name(verdict, inputs.rename) {
            Some(new_name) => Ok(Some(join(new_name))),
            None => Err(Box::new(rejection(
                item,
                path,
                verdict.violations.clone(),
                verdict.suggested_path.clone(),
            ))),
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
fn reject_collisions(inputs: &Inputs, placement: &mut Placement, rejections: &mut Vec<Rejection>) {
    if placement.renamed.is_empty() {
        return;
    }
    let mut by_target: HashMap<&str, Vec<String>> = placement
        .renamed
        .values()
        .map(|target| (target.as_ref(), Vec::new()))
        .collect();
    let mut path = String::new();
    for &index in &placement.placed {
        inputs.source.item(index).write_path(&mut path);
        let target = placement
            .renamed
            .get(&index)
            .map_or(path.as_str(), Cow::as_ref);
        if let Some(sources) = by_target.get_mut(target) {
            sources.push(path.clone());
        }
    }
    let mut colliding: Vec<(u32, String)> = placement
        .renamed
        .iter()
        .filter(|(_, target)| by_target[target.as_ref()].len() > 1)
        .map(|(&index, target)| {
            let own = inputs.source.item(index).path();
            let others: Vec<&str> = by_target[target.as_ref()]
                .iter()
                .map(String::as_str)
                .filter(|other| *other != own)
                .collect();
            let message = format!(
                "it would be renamed to {target:?}, as would {}",
                others.join(", ")
            );
            (index, message)
        })
        .collect();
    colliding.sort_unstable_by_key(|(index, _)| *index);
    for (index, message) in &colliding {
        let item = inputs.source.item(*index);
        let violations = vec![custom("name-collision", message.clone())];
        rejections.push(rejection(item, &item.path(), violations, None));
        placement.renamed.remove(index);
    }
    placement
        .placed
        .retain(|index| colliding.binary_search_by_key(index, |(i, _)| *i).is_err());
}

fn custom(rule: &str, message: String) -> Violation {
    Violation::Custom(CustomViolation {
        rule: rule.into(),
        message,
    })
}

fn rejection(
    item: Item,
    path: &str,
    violations: Vec<Violation>,
    suggestion: Option<String>,
) -> Rejection {
    Rejection {
        path: path.to_string(),
        kind: item.kind,
        size: item.size,
        mtime: item.mtime(),
        violations,
        suggestion,
        advice: None,
    }
}

/// The state of a file that failed permanently last time and is the same version now.
fn held_back<'s>(item: Item, state: Option<&'s PathState>) -> Option<&'s PathState> {
    state.filter(|s| {
        s.last_status == FileStatus::Failed
            && s.last_retry == Some(Retry::Never)
            && s.size == item.size
            && s.mtime_ns == item.mtime_ns
    })
}

/// A file modified within `stable_for` of now may still be being written.
fn is_settling(item: Item, inputs: &Inputs) -> bool {
    let Some(mtime) = item.mtime() else {
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
    source: Item,
    existing: Option<Item>,
    state: Option<&PathState>,
    ends: Ends,
) -> Option<Reason> {
    let Some(existing) = existing else {
        return Some(Reason::New);
    };
    if existing.kind != Kind::File || existing.size != source.size {
        return Some(Reason::SizeChanged);
    }
    if state.is_some_and(|s| delivered_as_it_stands(s, source, existing)) {
        return None;
    }
    match (source.mtime_ns, existing.mtime_ns) {
        (Some(a), Some(b)) if a.abs_diff(b) >= ends.mtime_tolerance_ns() => {
            Some(Reason::MtimeChanged)
        }
        (Some(_), Some(_)) => None,
        _ if state.is_some_and(|s| synced_this_version(s, source)) => None,
        _ => Some(Reason::NotSyncedBefore),
    }
}

/// Whether this version of `source` was delivered without its time, and the destination
/// still holds the file as it stood right after (its own size and modification time).
fn delivered_as_it_stands(state: &PathState, source: Item, existing: Item) -> bool {
    let standing = DestinationVersion {
        size: existing.size,
        mtime_ns: existing.mtime_ns,
    };
    synced_this_version(state, source) && state.delivered_as == Some(standing)
}

fn synced_this_version(state: &PathState, source: Item) -> bool {
    state.last_status == FileStatus::Transferred
        && state.size == source.size
        && state.mtime_ns == source.mtime_ns
}

/// What mirror deletes: every covered destination entry not `kept` (by index), files
/// first, then folders deepest first. Nothing, with why, when part of the source could
/// not be listed.
fn deletions(inputs: &Inputs, kept: &[bool]) -> Result<Vec<Deletion>, String> {
    if !inputs.source_complete {
        return Err(
            "part of the source could not be listed, so nothing is deleted at the destination"
                .into(),
        );
    }
    let mut extra: Vec<Deletion> = inputs
        .destination
        .iter()
        .filter(|e| !kept[e.index as usize])
        .map(|e| Deletion {
            path: e.path(),
            kind: e.kind,
        })
        .filter(|d| inputs.filter.allows(&d.path, d.kind))
        .collect();
    extra.sort_by(|a, b| deletion_order(a).cmp(&deletion_order(b)));
    Ok(extra)
}

/// The deletions to carry out, and those held back: refused for good in an earlier run
/// (the server will not allow them), and the folders that still hold such a path.
fn hold_refused(inputs: &Inputs, deletions: Vec<Deletion>) -> (Vec<Deletion>, Vec<String>) {
    let refused = |path: &str| {
        inputs.states.get(path).is_some_and(|state| {
            state.last_status == FileStatus::Failed
                && state.last_retry == Some(Retry::Never)
                && state.last_operation == Some(Step::Delete)
        })
    };
    let (mut carried, mut held) = (Vec::new(), Vec::<String>::new());
    // Files come first, so a folder is judged after everything below it.
    for deletion in deletions {
        let holds_held = deletion.kind == Kind::Directory
            && held.iter().any(|path| {
                path.strip_prefix(deletion.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            });
        if refused(&deletion.path) || holds_held {
            held.push(deletion.path);
        } else {
            carried.push(deletion);
        }
    }
    (carried, held)
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
    use crate::plugin::ForbiddenCharacter;
    use crate::remote::RemoteEntry;
    use crate::state::RunId;
    use crate::sync::listing::unix_nanos;

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
        source: Listing,
        source_complete: bool,
        destination: Listing,
        states: HashMap<String, PathState>,
        verdicts: HashMap<u32, Verdict>,
        filter: Filter,
        delete: DeleteMode,
        rename: RenameMode,
        renames: HashMap<String, String>,
        refused: Vec<(String, String)>,
        stable_for: Duration,
    }

    impl Case {
        fn new(source: Vec<RemoteEntry>, destination: Vec<RemoteEntry>) -> Self {
            Case {
                source: source.iter().collect(),
                source_complete: true,
                destination: destination.iter().collect(),
                states: HashMap::new(),
                verdicts: HashMap::new(),
                filter: Filter::new(&[], &[]).unwrap(),
                delete: DeleteMode::Never,
                rename: RenameMode::Refuse,
                renames: HashMap::new(),
                refused: Vec::new(),
                stable_for: Duration::ZERO,
            }
        }

        fn plan(&self) -> Plan {
            plan(&self.inputs())
        }

        /// The policy's verdicts on the source entries at these paths.
        fn judge(&mut self, verdicts: impl IntoIterator<Item = (String, Verdict)>) {
            for (path, verdict) in verdicts {
                let index = self.source.find(&path).expect("a source path").index;
                self.verdicts.insert(index, verdict);
            }
        }

        /// The source paths of `entries`.
        fn paths(&self, entries: impl IntoIterator<Item = u32>) -> Vec<String> {
            entries
                .into_iter()
                .map(|index| self.source.item(index).path())
                .collect()
        }

        fn sent(&self, plan: &Plan) -> Vec<String> {
            self.paths(plan.transfers.iter().map(|t| t.entry))
        }

        /// Each transfer's source path and destination path.
        fn targets(&self, plan: &Plan) -> Vec<(String, String)> {
            plan.transfers
                .iter()
                .map(|t| {
                    let path = self.source.item(t.entry).path();
                    let target = t.renamed_to.as_deref().map_or(path.clone(), str::to_string);
                    (path, target)
                })
                .collect()
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
                refused: &self.refused,
                stable_for: self.stable_for,
                now: at(1_000).unwrap(),
                ends: Ends {
                    source: crate::remote::local::CAPABILITIES,
                    destination: crate::remote::sftp::CAPABILITIES,
                },
            }
        }
    }

    fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
        items.iter().map(path).collect()
    }

    fn pair(source: &str, destination: &str) -> (String, String) {
        (source.into(), destination.into())
    }

    #[test]
    fn sent_states_are_needed_only_where_a_file_has_no_time() {
        let dated: Listing = [folder("d"), file("d/a", 1, at(10))].iter().collect();
        assert!(!needs_sent_states(&dated, &dated));
        let undated: Listing = [folder("d"), file("d/a", 1, None)].iter().collect();
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

        assert_eq!(case.paths(unsettled), ["new", "d/changed", "new/x"]);
        let plan = case.plan();
        assert_eq!(plan.unchanged.len(), 2);
        assert_eq!(case.sent(&plan), ["d/changed", "new/x"]);
    }

    #[test]
    fn new_changed_and_unchanged_files() {
        let case = Case::new(
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
        );
        let plan = case.plan();
        assert_eq!(plan.mkdirs, vec!["d"]);
        let reasons: Vec<_> = plan.transfers.iter().map(|t| t.reason).collect();
        assert_eq!(case.sent(&plan), ["grown", "touched", "d/new"]);
        assert_eq!(
            reasons,
            [Reason::SizeChanged, Reason::MtimeChanged, Reason::New]
        );
        assert_eq!(plan.unchanged.len(), 1);
    }

    #[test]
    fn whole_second_destination_times_count_as_the_same() {
        let precise = SystemTime::UNIX_EPOCH + Duration::from_millis(10_700);
        let plan = Case::new(
            vec![file("a", 1, Some(precise))],
            vec![file("a", 1, at(10))],
        )
        .plan();
        assert!(plan.is_empty() && plan.unchanged.len() == 1);
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
            last_operation: None,
            delivered_as: None,
        };
        case.states.insert("a".into(), synced);
        let plan = case.plan();
        assert_eq!(case.sent(&plan), ["b"]);
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
        case.judge([(
            "bad?".into(),
            Verdict {
                violations: vec![violation],
                suggested_path: Some("bad_".into()),
                temp_form: TempForm::Standard,
            },
        )]);
        let plan = case.plan();
        assert_eq!(paths(&plan.rejections, |r| &r.path), vec!["bad?", "bad?/x"]);
        assert_eq!(plan.rejections[0].suggestion.as_deref(), Some("bad_"));
        assert!(
            matches!(&plan.rejections[1].violations[0], Violation::Custom(c) if c.rule == "folder-rejected")
        );
        let advice = plan.rejections[1].advice.as_deref().unwrap_or_default();
        assert!(advice.starts_with("Rename the folder \"bad?\""), "{advice}");
        assert_eq!(case.sent(&plan), ["ok"]);
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
        assert_eq!(case.sent(&plan), ["a.csv"]);
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
        case.judge([
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
            case.targets(&plan),
            [pair("q?.csv", "q_.csv"), pair("a:b/x.csv", "a_b/x.csv")]
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
        case.judge([
            forbidden("a?.csv", '?', "a_.csv"),
            forbidden("a*.csv", '*', "a_.csv"),
        ]);
        let plan = case.plan();
        assert_eq!(case.targets(&plan), [pair("a_.csv", "a_.csv")]);
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
        assert_eq!(plan.unchanged.len(), 1);
    }

    #[test]
    fn refusing_mode_reports_instead_of_renaming() {
        let mut case = Case::new(vec![file("q?.csv", 1, at(1))], vec![]);
        case.judge([forbidden("q?.csv", '?', "q_.csv")]);
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
        assert_eq!(case.targets(&plan), [pair("settled", "settled")]);
        assert_eq!(plan.deferred, vec!["fresh"]);
    }

    fn failed_state(size: u64, mtime: Option<SystemTime>, retry: Retry) -> PathState {
        PathState {
            size,
            mtime_ns: mtime.map(unix_nanos),
            last_status: FileStatus::Failed,
            attempts: 1,
            last_category: Some(crate::plugin::Category::Permission),
            last_retry: Some(retry),
            last_message: Some("Permission denied".into()),
            last_run: RunId(1),
            last_operation: None,
            delivered_as: None,
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
            .insert("denied".into(), failed_state(5, at(10), Retry::Never));
        case.states
            .insert("changed".into(), failed_state(5, at(10), Retry::Never));
        case.states
            .insert("flaky".into(), failed_state(5, at(10), Retry::NextRun));
        let plan = case.plan();
        assert_eq!(
            plan.held
                .iter()
                .map(|h| h.path.as_str())
                .collect::<Vec<_>>(),
            vec!["denied"]
        );
        assert_eq!(
            case.targets(&plan),
            [pair("changed", "changed"), pair("flaky", "flaky")]
        );
    }
}
