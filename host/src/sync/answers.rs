//! The host's checks of a plugin's answers before it acts on them: a temporary name is one
//! plain name in its file's own folder that names nothing else of the run; a suggested
//! name is a plain relative path. Nothing a plugin answers can make a run touch a file
//! the plan did not name.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::listing::Listing;
use super::plan::Plan;
use super::policy::PolicyHandle;
use crate::config::RenameMode;
use crate::plugin::{
    CHECK_BATCH, CustomViolation, Entry, PluginError, Verdict, Violation, describe,
};
use crate::text::{TEXT_CAP, cut_to};

/// The longest name (one path component) a plugin may answer, in bytes: room for 255
/// UTF-16 units of any script, and below [`TEXT_CAP`], so that a cut text is never one.
pub const NAME_CAP: usize = 1000;
/// The longest suggested path, in bytes.
pub const PATH_CAP: usize = 4096;

/// The most bytes of a refused answer quoted in the message that refuses it.
const QUOTED: usize = 256;

const _: () = assert!(NAME_CAP < TEXT_CAP);

/// A refused answer as a message quotes it: escaped, and cut to [`QUOTED`] bytes.
pub fn quoted(answer: &str) -> String {
    format!("{:?}", cut_to(answer.to_string(), QUOTED))
}

/// Why a name a plugin answered is not a plain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("which has an empty name")]
    Empty,
    #[error("which has a name \".\" or \"..\"")]
    Dots,
    #[error("which holds a control character")]
    Control,
    #[error("which holds a backslash")]
    Backslash,
    #[error("which has a name longer than {NAME_CAP} bytes")]
    TooLong,
    #[error("which is longer than {PATH_CAP} bytes")]
    PathTooLong,
}

/// Why a temporary name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadTempName {
    #[error("{0}")]
    Name(BadName),
    #[error("which is not in the folder of the file's final name")]
    OtherFolder,
    #[error("which is the file's final name")]
    FinalName,
    #[error("which names an entry of the source")]
    AtSource,
    #[error("which names an entry the destination holds already")]
    AtDestination,
    #[error("which was given to another file of this run, or is another file's name")]
    Taken,
}

/// Whether `name` is one plain path component.
pub fn plain_name(name: &str) -> Result<(), BadName> {
    match name {
        "" => Err(BadName::Empty),
        "." | ".." => Err(BadName::Dots),
        _ if name.len() > NAME_CAP => Err(BadName::TooLong),
        _ if name.chars().any(char::is_control) => Err(BadName::Control),
        _ if name.contains('\\') => Err(BadName::Backslash),
        _ => Ok(()),
    }
}

/// Whether `path` is a relative path of plain names.
pub fn plain_path(path: &str) -> Result<(), BadName> {
    if path.len() > PATH_CAP {
        return Err(BadName::PathTooLong);
    }
    path.split('/').try_for_each(plain_name)
}

/// `path` split into its folder (`""` at the root) and its name.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// The temporary names of one run: each is checked against both listings and every
/// name given before. A run of a million files holds a hash (8 bytes) of each, not the
/// name; two names with one hash count as the same (a chance of about 10⁻⁷ in such a
/// run, seeded afresh each run, so such a file goes at the next).
pub struct TempNames {
    source: Arc<Listing>,
    destination: Arc<Listing>,
    taken: HashTable<u64>,
    hasher: RandomState,
}

impl TempNames {
    /// For a run of `plan` between these listings: the names it renames entries to are
    /// taken from the start.
    pub fn new(source: Arc<Listing>, destination: Arc<Listing>, plan: &Plan) -> Self {
        let mut names = TempNames {
            source,
            destination,
            taken: HashTable::new(),
            hasher: RandomState::default(),
        };
        let renamed_files = plan
            .transfers
            .iter()
            .filter_map(|t| t.renamed_to.as_deref());
        let renamed_folders = plan.renamed_folders.iter().map(|(_, to)| to.as_str());
        for name in renamed_files.chain(renamed_folders) {
            names.take(name);
        }
        names
    }

    /// Whether `temp` may be the temporary name of the upload to `target`; if so, it is
    /// taken for the rest of the run. [`BadTempName::AtDestination`] is the last check:
    /// the caller may still [`take`](Self::take) a name that is the file's own partial
    /// upload.
    pub fn admit(&mut self, target: &str, temp: &str) -> Result<(), BadTempName> {
        let (folder, name) = split(temp);
        plain_name(name).map_err(BadTempName::Name)?;
        if folder != split(target).0 {
            return Err(BadTempName::OtherFolder);
        }
        if temp == target {
            return Err(BadTempName::FinalName);
        }
        if self.source.find(temp).is_some() {
            return Err(BadTempName::AtSource);
        }
        if self.is_taken(temp) {
            return Err(BadTempName::Taken);
        }
        if self.destination.find(temp).is_some() {
            return Err(BadTempName::AtDestination);
        }
        self.take(temp);
        Ok(())
    }

    fn is_taken(&self, name: &str) -> bool {
        let hash = self.hasher.hash_one(name);
        self.taken.find(hash, |&h| h == hash).is_some()
    }

    /// Take `name` for the rest of the run.
    pub fn take(&mut self, name: &str) {
        let hash = self.hasher.hash_one(name);
        if self.taken.find(hash, |&h| h == hash).is_none() {
            self.taken.insert_unique(hash, hash, |&h| h);
        }
    }
}

/// Drop every suggested path of `verdicts` (on entries of `listing`, by index) that is
/// not a plain relative path, or whose name the plugin itself would refuse where it
/// would go. When sanitizing, the entry's verdict then says why, so that it is rejected
/// with why, not renamed.
pub async fn vet_suggestions(
    policy: &PolicyHandle,
    listing: &Listing,
    verdicts: &mut HashMap<u32, Verdict>,
    rename: RenameMode,
) -> Result<(), PluginError> {
    let refuse = |verdict: &mut Verdict, why: &str| match rename {
        RenameMode::Sanitize => refuse_suggestion(policy, verdict, why),
        RenameMode::Refuse => verdict.suggested_path = None,
    };
    let mut suggested: Vec<u32> = verdicts
        .iter()
        .filter(|(_, v)| !v.violations.is_empty() && v.suggested_path.is_some())
        .map(|(&index, _)| index)
        .collect();
    suggested.sort_unstable();
    for batch in suggested.chunks(CHECK_BATCH) {
        let mut asked = Vec::with_capacity(batch.len());
        for &index in batch {
            let verdict = verdicts.get_mut(&index).expect("a suggested index");
            match renamed_entry(listing, index, verdict) {
                Ok(entry) => asked.push((index, entry)),
                Err(bad) => refuse(verdict, &bad.to_string()),
            }
        }
        let (indices, entries): (Vec<u32>, Vec<Entry>) = asked.into_iter().unzip();
        let answers = policy.check_batch(entries).await?;
        for (index, answer) in indices.into_iter().zip(answers) {
            if let Some(violation) = answer.violations.first() {
                let why = format!("which it refuses itself: {}", describe(violation));
                refuse(verdicts.get_mut(&index).expect("asked"), &why);
            }
        }
    }
    Ok(())
}

/// The entry at `index` as it would be sent under its verdict's suggested name.
fn renamed_entry(listing: &Listing, index: u32, verdict: &Verdict) -> Result<Entry, BadName> {
    let suggestion = verdict.suggested_path.as_deref().unwrap_or_default();
    plain_path(suggestion)?;
    let mut entry = listing.item(index).to_plugin_entry();
    let (folder, _) = split(&entry.path);
    let (_, name) = split(suggestion);
    entry.path = match folder {
        "" => name.to_string(),
        folder => format!("{folder}/{name}"),
    };
    Ok(entry)
}

fn refuse_suggestion(policy: &PolicyHandle, verdict: &mut Verdict, why: &str) {
    let suggestion = verdict.suggested_path.take().unwrap_or_default();
    verdict.violations.push(Violation::Custom(CustomViolation {
        rule: "unusable-suggestion".into(),
        message: format!(
            "the policy plugin {} suggested the name {}, {why}",
            policy.label(),
            quoted(&suggestion)
        ),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{Kind, RemoteEntry};

    fn listing(paths: &[&str]) -> Arc<Listing> {
        let entries: Vec<RemoteEntry> = paths
            .iter()
            .map(|path| RemoteEntry {
                path: path.to_string(),
                kind: Kind::File,
                size: 1,
                mtime: None,
            })
            .collect();
        Arc::new(entries.iter().collect())
    }

    fn names() -> TempNames {
        let source = listing(&["a.txt", "b.txt"]);
        let destination = listing(&["keep.txt"]);
        TempNames::new(source, destination, &Plan::default())
    }

    #[test]
    fn a_temporary_name_is_one_plain_name_in_its_files_folder() {
        let mut names = names();
        let name = |e| Err(BadTempName::Name(e));
        assert_eq!(names.admit("a.txt", ".."), name(BadName::Dots));
        assert_eq!(names.admit("a.txt", ""), name(BadName::Empty));
        assert_eq!(names.admit("a.txt", "x\u{1b}[2J"), name(BadName::Control));
        let long = "x".repeat(NAME_CAP + 1);
        assert_eq!(names.admit("a.txt", &long), name(BadName::TooLong));
        assert_eq!(names.admit("a.txt", "../x"), Err(BadTempName::OtherFolder));
        assert_eq!(
            names.admit("d/a.txt", "e/a.tmp"),
            Err(BadTempName::OtherFolder)
        );
        assert_eq!(
            names.admit("d/a.txt", "a.tmp"),
            Err(BadTempName::OtherFolder)
        );
        assert_eq!(names.admit("d/a.txt", "d/a.tmp"), Ok(()));
    }

    #[test]
    fn a_temporary_name_names_nothing_else_of_the_run() {
        let mut names = names();
        assert_eq!(names.admit("a.txt", "a.txt"), Err(BadTempName::FinalName));
        assert_eq!(names.admit("a.txt", "b.txt"), Err(BadTempName::AtSource));
        assert_eq!(
            names.admit("a.txt", "keep.txt"),
            Err(BadTempName::AtDestination)
        );
        assert_eq!(names.admit("a.txt", "same.tmp"), Ok(()));
        assert_eq!(names.admit("b.txt", "same.tmp"), Err(BadTempName::Taken));
    }

    #[test]
    fn a_suggested_path_is_made_of_plain_names() {
        assert_eq!(plain_path("x/.."), Err(BadName::Dots));
        assert_eq!(plain_path("x//y"), Err(BadName::Empty));
        assert_eq!(plain_path(""), Err(BadName::Empty));
        assert_eq!(plain_path("\u{1b}[2J"), Err(BadName::Control));
        assert_eq!(
            plain_path(&"x/".repeat(PATH_CAP)),
            Err(BadName::PathTooLong)
        );
        assert_eq!(plain_path("x/y_z.txt"), Ok(()));
    }
}
