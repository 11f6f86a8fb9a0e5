//! What reading ferry.toml adds to the shared TOML reader: how its messages are phrased,
//! and paths resolved against the config file's folder.

use std::path::{Path, PathBuf};

use crate::toml_reader::{Field, Phrasing, Table, TomlError};

use super::paths;
use super::suggest::{Listing, explain_unknown};

/// Strings quoted as Rust writes them; an unknown key lists the valid keys only when no
/// key is near enough to suggest.
pub(super) const PHRASING: Phrasing = Phrasing {
    quote: |text| format!("{text:?}"),
    unknown_key,
};

fn unknown_key(name: &str, allowed: &[&str]) -> String {
    let head = format!("unknown key {name:?}");
    explain_unknown(
        &head,
        name,
        allowed,
        "valid keys",
        Listing::WithoutSuggestion,
    )
}

/// The path written in `field`, resolved against `base`.
pub(super) fn resolved_path(field: &Field<'_>, base: &Path) -> Result<PathBuf, TomlError> {
    field.parse_text(|raw| paths::resolve(raw, base))
}

/// The path under `key`, or `default` when absent; both resolve against `base`.
pub(super) fn resolved_path_or(
    table: &Table<'_>,
    key: &str,
    default: &str,
    base: &Path,
) -> Result<PathBuf, TomlError> {
    match table.get(key) {
        Some(field) => resolved_path(&field, base),
        None => paths::resolve(default, base)
            .map_err(|why| table.error(format!("default {key}: {why}"))),
    }
}
