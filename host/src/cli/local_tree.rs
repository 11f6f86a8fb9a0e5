//! The entries that `ferry plugin check` checks, read from local paths through cap-std.

use std::io::ErrorKind;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::plugin::{Entry, EntryKind};
use crate::remote::{Listed, local};

/// What a path argument stands for.
pub struct Checked {
    /// The directory whose contents were checked, relative to which paths are given.
    pub root: Option<String>,
    pub entries: Vec<Entry>,
    /// Names that cannot be checked at all, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// A directory: its contents, with paths relative to it. A file: itself, with its size.
/// A path that does not exist: its name alone, size unknown.
pub fn read(argument: &str) -> std::io::Result<Checked> {
    let path = Path::new(argument);
    let checked = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let mut walk = Checked {
                root: Some(argument.to_string()),
                entries: Vec::new(),
                unreadable: Vec::new(),
            };
            let dir = Dir::open_ambient_dir(path, ambient_authority())?;
            walk_dir(&dir, &mut walk)?;
            walk.entries.sort_by(|a, b| a.path.cmp(&b.path));
            walk
        }
        Ok(meta) => single(argument, Some(meta.len())),
        // A name too long for this machine cannot exist here, but can still be checked.
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidFilename) => {
            single(argument, None)
        }
        Err(e) => return Err(e),
    };
    Ok(checked)
}

fn single(argument: &str, size: Option<u64>) -> Checked {
    let mut relative = argument;
    while let Some(rest) = relative
        .strip_prefix("./")
        .or_else(|| relative.strip_prefix('/'))
    {
        relative = rest;
    }
    let entry = Entry {
        path: relative.to_string(),
        kind: EntryKind::File,
        size,
    };
    Checked {
        root: None,
        entries: vec![entry],
        unreadable: Vec::new(),
    }
}

fn walk_dir(dir: &Dir, walk: &mut Checked) -> std::io::Result<()> {
    let walked = local::walk(dir, "", &mut |listed| match listed {
        Listed::Entry(entry) => walk.entries.push(entry.to_plugin_entry()),
        Listed::Unlisted { path, error } => walk.unreadable.push((path, error.message)),
        Listed::Refused { path, reason } | Listed::Skipped { path, reason } => {
            walk.unreadable.push((path, reason))
        }
    });
    walked.map_err(|e| std::io::Error::other(e.message))
}
