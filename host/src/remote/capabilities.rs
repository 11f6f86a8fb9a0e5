//! What a transport can do, declared once per transport (rclone's `Features` and
//! `Precision`): the planner and the executor choose by it, never by the transport's name.

use std::time::Duration;

/// The capabilities of one remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub mtimes: Mtimes,
    pub commit: Commit,
    pub folders: Folders,
    pub resume: Resume,
}

/// How a remote keeps modification times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mtimes {
    /// As the uploader sets them, to within this precision.
    Settable(Duration),
    /// The time of the upload (an object store's Last-Modified), to within this
    /// precision: it cannot be set, so change detection relies on the state store.
    UploadTime(Duration),
}

/// How a complete upload comes to stand under its final name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Written under a temporary name, then renamed over the final one.
    Rename,
    /// Stored in parts the store shows under the final name only once the upload is
    /// committed whole (S3 multipart uploads, Azure staged blocks): no temporary name.
    Staged,
}

/// Whether folders exist on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folders {
    /// Folders are made, listed and removed.
    Real,
    /// Folders are only the prefixes of the names below them: an empty folder cannot be
    /// kept, and one disappears with the last name under it.
    Prefixes,
}

/// How an interrupted upload is continued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// By writing on at the end of what the temporary file holds.
    Append,
    /// By sending the parts the store does not keep yet (their ids are in the state).
    Parts,
    /// Not at all: the upload restarts from its first byte.
    Restart,
}

impl Mtimes {
    pub fn precision(self) -> Duration {
        match self {
            Mtimes::Settable(precision) | Mtimes::UploadTime(precision) => precision,
        }
    }
}

/// An upload in parts that the store keeps until it is committed, as recorded in the
/// state store so that a later run continues it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StagedUpload {
    /// The store's id of the upload.
    pub id: String,
    /// Every part but the last holds this many bytes.
    pub part_size: u64,
    /// The parts stored, in order, each with the store's tag for it and the SHA-256 of
    /// the bytes it holds (checked against the source before the upload is continued).
    pub parts: Vec<StagedPart>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StagedPart {
    pub tag: String,
    pub sha256: String,
}

impl StagedUpload {
    /// The bytes stored in its parts (all full: the last, short part commits at once).
    pub fn stored(&self) -> u64 {
        self.parts.len() as u64 * self.part_size
    }
}
