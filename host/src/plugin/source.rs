//! Where a plugin comes from: bundled in the binary, or a `.wasm` file.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::PluginError;
use crate::bounded::{BoundedReadError, read_regular_file};

/// The largest plugin file read, in bytes: bundled plugins are well under 1 MiB.
const MAX_PLUGIN_BYTES: u64 = 64 << 20;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));
}

/// A plugin to load.
#[derive(Clone, Debug)]
pub enum PluginSource {
    Bundled {
        name: &'static str,
        wasm: &'static [u8],
    },
    File(PathBuf),
}

/// The names of the plugins built into this binary.
pub fn bundled_names() -> Vec<&'static str> {
    bundled::BUNDLED.iter().map(|(name, _)| *name).collect()
}

impl PluginSource {
    /// A bundled plugin's name, or a path to a `.wasm` file (anything with a `/` or
    /// ending in `.wasm`). A relative path is taken from `base`.
    pub fn resolve(spec: &str, base: &Path) -> Result<Self, PluginError> {
        if spec.ends_with(".wasm") || spec.contains('/') {
            return Ok(PluginSource::File(base.join(spec)));
        }
        match bundled::BUNDLED.iter().find(|(name, _)| *name == spec) {
            Some((name, wasm)) => Ok(PluginSource::Bundled { name, wasm }),
            None => Err(PluginError::UnknownName {
                name: spec.to_string(),
                suggestion: did_you_mean(spec, bundled_names()),
                available: bundled_names().join(", "),
            }),
        }
    }

    /// Where a plugin read from this source with the bytes `wasm` came from.
    pub fn origin(&self, wasm: &[u8]) -> Origin {
        match self {
            PluginSource::Bundled { .. } => Origin::Bundled,
            PluginSource::File(path) => Origin::File {
                path: path.clone(),
                sha256: hex_sha256(wasm),
            },
        }
    }

    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, PluginError> {
        match self {
            PluginSource::Bundled { wasm, .. } => Ok(Cow::Borrowed(wasm)),
            PluginSource::File(path) => read_plugin_file(path).map(Cow::Owned),
        }
    }
}

/// The bytes of a plugin file: a regular file of at most [`MAX_PLUGIN_BYTES`] (a device
/// or a pipe could be read forever).
fn read_plugin_file(path: &Path) -> Result<Vec<u8>, PluginError> {
    let path_buf = path.to_path_buf();
    read_regular_file(path, MAX_PLUGIN_BYTES).map_err(|error| match error {
        BoundedReadError::Io(source) => PluginError::Read {
            path: path_buf,
            source,
        },
        BoundedReadError::NotAFile => PluginError::NotAFile { path: path_buf },
        BoundedReadError::TooLarge { limit } => PluginError::TooLarge {
            path: path_buf,
            limit,
        },
    })
}

/// Where a loaded plugin came from: what tells a plugin from a file that calls itself
/// `generic` from the bundled `generic`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Bundled,
    File { path: PathBuf, sha256: String },
}

/// Hex digits of the sha256 shown in text output (the JSON has all of them).
const SHORT_SHA256: usize = 12;

impl Origin {
    /// `""` for a bundled plugin, else ` (from PATH, sha256 ab12cd34ef56…)`.
    pub fn suffix(&self) -> String {
        match self {
            Origin::Bundled => String::new(),
            Origin::File { path, sha256 } => format!(
                " (from {}, sha256 {}…)",
                path.display(),
                &sha256[..SHORT_SHA256]
            ),
        }
    }

    /// `"bundled"`, or `{"path": …, "sha256": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Origin::Bundled => serde_json::json!("bundled"),
            Origin::File { path, sha256 } => {
                serde_json::json!({"path": path.display().to_string(), "sha256": sha256})
            }
        }
    }
}

/// The sha256 of `bytes` in lowercase hex.
pub(super) fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::Bundled { name, .. } => write!(f, "bundled plugin {name}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `"; did you mean \"x\"?"` for the nearest of `candidates`, if one is near.
pub(crate) fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(given, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!(" (did you mean {candidate:?}?)"))
        .unwrap_or_default()
}
