//! One side's entries, held compactly for planning: a fixed 32-byte record per entry,
//! every name in one buffer, and each folder's path once. A million entries in folders
//! of a hundred take about 60 MB, where a `RemoteEntry` each took 154 MB.
//!
//! Entries are kept folder by folder (folders in path order, names in order within each),
//! so a folder's entry always comes before what it holds.

use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::plugin::Entry;
use crate::remote::{Kind, RemoteEntry};

#[derive(Clone, Copy)]
struct Record {
    name_start: u64,
    size: u64,
    /// Nanoseconds since the Unix epoch; [`NO_MTIME`] where the remote keeps none.
    mtime_ns: i64,
    folder: u32,
    name_len: u16,
    kind: Kind,
}

const NO_MTIME: i64 = i64::MIN;

/// A sorted listing; built with [`ListingBuilder`] (or collected from entries).
pub struct Listing {
    records: Vec<Record>,
    names: String,
    /// Folder paths by folder id; `""` is the root.
    folders: Vec<Box<str>>,
    /// Folder ids, found by path.
    folder_ids: HashTable<u32>,
    /// Entry indices, found by (folder id, name); built on the first lookup.
    by_name: OnceLock<HashTable<u32>>,
    /// Seeded per process, so a hostile listing cannot aim at hash collisions.
    hasher: RandomState,
}

/// One entry of a [`Listing`], borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    /// Its position in the listing.
    pub index: u32,
    /// The folder's path, `""` at the root.
    pub folder: &'a str,
    pub name: &'a str,
    pub kind: Kind,
    pub size: u64,
    /// Nanoseconds since the Unix epoch, where the remote keeps times.
    pub mtime_ns: Option<i64>,
}

impl Item<'_> {
    /// The path, relative to the remote's root.
    pub fn path(&self) -> String {
        let mut path = String::with_capacity(self.folder.len() + 1 + self.name.len());
        self.write_path(&mut path);
        path
    }

    /// The path into `path`, replacing what it held (no allocation once it is large enough).
    pub fn write_path(&self, path: &mut String) {
        path.clear();
        if !self.folder.is_empty() {
            path.push_str(self.folder);
            path.push('/');
        }
        path.push_str(self.name);
    }

    pub fn mtime(&self) -> Option<SystemTime> {
        self.mtime_ns.map(from_unix_nanos)
    }

    /// The entry as a policy plugin checks it.
    pub fn to_plugin_entry(&self) -> Entry {
        Entry {
            path: self.path(),
            kind: self.kind.to_plugin_kind(),
            size: Some(self.size),
        }
    }
}

impl Listing {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The entry at `index` (from an [`Item`] of this listing).
    pub fn item(&self, index: u32) -> Item<'_> {
        let record = &self.records[index as usize];
        Item {
            index,
            folder: &self.folders[record.folder as usize],
            name: self.name(record),
            kind: record.kind,
            size: record.size,
            mtime_ns: (record.mtime_ns != NO_MTIME).then_some(record.mtime_ns),
        }
    }

    /// Every entry, folder by folder, parents first.
    pub fn iter(&self) -> impl Iterator<Item = Item<'_>> {
        (0..self.records.len() as u32).map(|index| self.item(index))
    }

    /// The entry at `path`.
    pub fn find(&self, path: &str) -> Option<Item<'_>> {
        let (folder, name) = split(path);
        self.find_in(folder, name)
    }

    /// The entry called `name` in the folder at path `folder`.
    pub fn find_in(&self, folder: &str, name: &str) -> Option<Item<'_>> {
        let folder = self.folder_id(folder)?;
        let hash = self.hasher.hash_one((folder, name));
        let index = *self.by_name().find(hash, |&index| {
            let record = &self.records[index as usize];
            record.folder == folder && self.name(record) == name
        })?;
        Some(self.item(index))
    }

    fn folder_id(&self, path: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(path);
        let folders = &self.folders;
        self.folder_ids
            .find(hash, |&id| &*folders[id as usize] == path)
            .copied()
    }

    fn add_folder(&mut self, path: &str) -> Result<u32, ListingError> {
        let id = u32::try_from(self.folders.len()).map_err(|_| ListingError::TooManyEntries)?;
        self.folders.push(path.into());
        let (folders, hasher) = (&self.folders, &self.hasher);
        let rehash = |id: &u32| hasher.hash_one(&*folders[*id as usize]);
        self.folder_ids.insert_unique(rehash(&id), id, rehash);
        Ok(id)
    }

    fn by_name(&self) -> &HashTable<u32> {
        self.by_name.get_or_init(|| {
            let mut table = HashTable::with_capacity(self.records.len());
            let hash = |index: &u32| {
                let record = &self.records[*index as usize];
                self.hasher.hash_one((record.folder, self.name(record)))
            };
            for index in 0..self.records.len() as u32 {
                table.insert_unique(hash(&index), index, hash);
            }
            table
        })
    }

    fn name(&self, record: &Record) -> &str {
        let start = record.name_start as usize;
        &self.names[start..start + record.name_len as usize]
    }
}

impl Default for Listing {
    fn default() -> Self {
        Listing {
            records: Vec::new(),
            names: String::new(),
            folders: Vec::new(),
            folder_ids: HashTable::new(),
            by_name: OnceLock::new(),
            hasher: RandomState::default(),
        }
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Why an entry cannot be held.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("its name is {0} bytes long; ferry handles names of up to 65,535 bytes")]
    NameTooLong(usize),
    #[error("the listing has more than 4,294,967,295 entries or folders")]
    TooManyEntries,
}

/// Collects entries in any order; [`ListingBuilder::finish`] sorts them.
#[derive(Default)]
pub struct ListingBuilder {
    listing: Listing,
    /// The folder of the entry pushed last: listings come folder by folder.
    last_folder: Option<u32>,
}

impl ListingBuilder {
    pub fn push(&mut self, entry: &RemoteEntry) -> Result<(), ListingError> {
        let (folder, name) = split(&entry.path);
        let name_len =
            u16::try_from(name.len()).map_err(|_| ListingError::NameTooLong(name.len()))?;
        if self.listing.records.len() >= u32::MAX as usize {
            return Err(ListingError::TooManyEntries);
        }
        let folder = self.intern(folder)?;
        let listing = &mut self.listing;
        listing.records.push(Record {
            name_start: listing.names.len() as u64,
            size: entry.size,
            mtime_ns: entry.mtime.map_or(NO_MTIME, unix_nanos),
            folder,
            name_len,
            kind: entry.kind,
        });
        listing.names.push_str(name);
        Ok(())
    }

    /// The id of the folder at `path`, new if it is the first entry there.
    fn intern(&mut self, path: &str) -> Result<u32, ListingError> {
        let listing = &mut self.listing;
        let id = match self.last_folder {
            Some(last) if &*listing.folders[last as usize] == path => last,
            _ => match listing.folder_id(path) {
                Some(id) => id,
                None => listing.add_folder(path)?,
            },
        };
        self.last_folder = Some(id);
        Ok(id)
    }

    /// The listing, sorted: folders in path order, each one's names in order.
    pub fn finish(self) -> Listing {
        let mut listing = self.listing;
        let mut by_path: Vec<u32> = (0..listing.folders.len() as u32).collect();
        by_path.sort_unstable_by(|a, b| {
            listing.folders[*a as usize].cmp(&listing.folders[*b as usize])
        });
        let mut rank = vec![0u32; by_path.len()];
        for (position, id) in by_path.into_iter().enumerate() {
            rank[id as usize] = position as u32;
        }
        let mut records = std::mem::take(&mut listing.records);
        records.sort_unstable_by(|a, b| {
            rank[a.folder as usize]
                .cmp(&rank[b.folder as usize])
                .then_with(|| listing.name(a).cmp(listing.name(b)))
        });
        listing.records = records;
        listing
    }
}

/// For tests and benchmarks, which build listings by hand: panics on an entry beyond
/// [`ListingError`]'s limits.
impl<'a> FromIterator<&'a RemoteEntry> for Listing {
    fn from_iter<I: IntoIterator<Item = &'a RemoteEntry>>(entries: I) -> Self {
        let mut builder = ListingBuilder::default();
        for entry in entries {
            builder
                .push(entry)
                .expect("a listing within ferry's limits");
        }
        builder.finish()
    }
}

/// `("a/b", "c")` for `a/b/c`, `("", "c")` for `c`.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// Nanoseconds since the Unix epoch, as the state store keeps times (saturating some 292
/// years away).
pub fn unix_nanos(time: SystemTime) -> i64 {
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => nanos(after),
        Err(before) => -nanos(before.duration()),
    }
}

pub fn from_unix_nanos(nanos: i64) -> SystemTime {
    let distance = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        SystemTime::UNIX_EPOCH + distance
    } else {
        SystemTime::UNIX_EPOCH - distance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: Kind, size: u64, mtime_ns: Option<i64>) -> RemoteEntry {
        RemoteEntry {
            path: path.into(),
            kind,
            size,
            mtime: mtime_ns.map(from_unix_nanos),
        }
    }

    #[test]
    fn entries_are_kept_folder_by_folder_parents_first_and_found_by_path() {
        let entries = [
            entry("b/z", Kind::File, 3, Some(-1_500_000_000)),
            entry("a-b", Kind::Directory, 0, None),
            entry("b", Kind::Directory, 0, Some(7)),
            entry("a", Kind::File, 1, Some(1_700_000_000_123_456_789)),
            entry("b/c/d", Kind::File, 4, None),
            entry("b/c", Kind::Directory, 0, None),
            entry("a-b/x", Kind::File, 2, None),
        ];
        let listing: Listing = entries.iter().collect();

        let paths: Vec<String> = listing.iter().map(|i| i.path()).collect();
        assert_eq!(paths, ["a", "a-b", "b", "a-b/x", "b/c", "b/z", "b/c/d"]);
        for original in &entries {
            let item = listing.find(&original.path).expect("every path is found");
            assert_eq!(item.path(), original.path);
            assert_eq!(
                (item.kind, item.size, item.mtime()),
                (original.kind, original.size, original.mtime)
            );
            assert_eq!(listing.item(item.index), item);
        }
        assert_eq!(listing.find("b/c/e"), None);
        assert_eq!(listing.find("c/d"), None);
        assert_eq!(listing.find("b/c").map(|i| i.folder), Some("b"));
    }

    #[test]
    fn a_name_too_long_to_hold_is_refused_with_its_length() {
        let mut builder = ListingBuilder::default();
        let long = format!("d/{}", "n".repeat(70_000));
        assert_eq!(
            builder.push(&entry(&long, Kind::File, 0, None)),
            Err(ListingError::NameTooLong(70_000))
        );
        assert!(builder.finish().is_empty());
    }

    #[test]
    fn a_record_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<Record>(), 32);
    }

    #[test]
    fn times_round_trip_through_nanoseconds() {
        for nanos in [
            0,
            1,
            -1,
            1_700_000_000_123_456_789,
            -9_000_000_000_000_000_000,
        ] {
            assert_eq!(unix_nanos(from_unix_nanos(nanos)), nanos);
        }
    }
}
