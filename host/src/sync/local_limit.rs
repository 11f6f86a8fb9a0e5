//! The full-path limit (`max_path_length`) of a local destination, which a run enforces as
//! it writes, told before a run by `ferry check`.

use super::listing::Listing;
use crate::config::{RemoteConfig, Transport};
use crate::remote::local::length_over;

/// An entry whose full path at the local destination would be over its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverLocalLimit {
    pub path: String,
    /// The full path's length, in characters.
    pub length: usize,
    pub limit: usize,
}

/// The entries at `indices` of `source` that `destination`, when it is a local folder,
/// would refuse for the length of their full path.
pub fn over_local_limit(
    destination: &RemoteConfig,
    source: &Listing,
    indices: &[u32],
) -> Vec<OverLocalLimit> {
    let Transport::Local(local) = &destination.transport else {
        return Vec::new();
    };
    let root_length = local.path.display().to_string().chars().count();
    indices
        .iter()
        .map(|&index| source.item(index).path())
        .filter_map(|path| {
            let length = length_over(root_length, &path, local.max_path_length)?;
            Some(OverLocalLimit {
                path,
                length,
                limit: local.max_path_length,
            })
        })
        .collect()
}
