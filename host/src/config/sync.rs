use std::collections::BTreeMap;
use std::time::Duration;

use toml::de::DeValue;

use super::suggest::{Listing, explain_unknown};
use super::units::parse_duration_or_zero;
use super::{
    AfterDelivery, DeleteMode, ListingMode, RemoteConfig, RenameMode, SyncConfig, UploadMode,
    parse_duration, parse_rate,
};
use crate::service::schedule::{self, Timing};
use crate::toml_reader::{Field, Table, TomlError};

const SYNC_KEYS: &[&str] = &[
    "source",
    "destination",
    "delete",
    "include",
    "exclude",
    "schedule",
    "timezone",
    "skip_dates",
    "max_duration",
    "retry_sooner",
    "webhook",
    "bwlimit",
    "transfers",
    "rename",
    "retries",
    "retry_delay",
    "stable_for",
    "upload",
    "after_delivery",
];
const DELETE_MODES: &[(&str, DeleteMode)] =
    &[("never", DeleteMode::Never), ("mirror", DeleteMode::Mirror)];
const RENAME_MODES: &[(&str, RenameMode)] = &[
    ("refuse", RenameMode::Refuse),
    ("sanitize", RenameMode::Sanitize),
];
const UPLOAD_MODES: &[(&str, UploadMode)] = &[
    ("temp-rename", UploadMode::TempRename),
    ("direct", UploadMode::Direct),
];
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Reads `[syncs.NAME]`, checking that it names two different `remotes`.
pub(super) fn parse_sync(
    name: &str,
    table: &Table<'_>,
    remotes: &BTreeMap<String, RemoteConfig>,
) -> Result<SyncConfig, TomlError> {
    table.allow_only(SYNC_KEYS)?;
    let source = remote_name(&table.require("source")?, remotes)?;
    let destination_field = table.require("destination")?;
    let destination = remote_name(&destination_field, remotes)?;
    if destination == source {
        return Err(destination_field.error(format!(
            "same remote as source ({source:?}); a sync copies between two different remotes"
        )));
    }
    let source_field = table.require("source")?;
    if remotes[&source].listing == ListingMode::None {
        return Err(source_field.error(format!(
            "remote {source:?} has listing = \"none\" (a write-only inbox): it cannot be a source"
        )));
    }
    let delete = table
        .optional("delete", |field| choice(field, "delete mode", DELETE_MODES))?
        .unwrap_or(DeleteMode::Never);
    if delete == DeleteMode::Mirror && remotes[&destination].listing == ListingMode::None {
        let field = table.require("delete")?;
        return Err(field.error(format!(
            "mirror needs the destination's listing, and remote {destination:?} has listing = \"none\"; \
             use delete = \"never\""
        )));
    }
    Ok(SyncConfig {
        name: name.to_string(),
        source,
        destination,
        delete,
        include: table.optional("include", globs)?.unwrap_or_default(),
        exclude: table.optional("exclude", globs)?.unwrap_or_default(),
        schedule: timing(table)?,
        max_duration: table.optional("max_duration", |field| field.parse_text(parse_duration))?,
        retry_sooner: table.optional("retry_sooner", |field| field.parse_text(parse_duration))?,
        webhook: table.optional("webhook", super::service::webhook)?,
        bwlimit: table.optional("bwlimit", bwlimit)?.flatten(),
        transfers: table.optional("transfers", |field| field.integer_in(1..=64))?,
        rename: table
            .optional("rename", |field| choice(field, "rename mode", RENAME_MODES))?
            .unwrap_or(RenameMode::Refuse),
        retries: table
            .optional("retries", |field| field.integer_in(0..=10))?
            .map_or(DEFAULT_RETRIES, |n: usize| n as u32),
        retry_delay: table
            .optional("retry_delay", |field| field.parse_text(parse_duration))?
            .unwrap_or(DEFAULT_RETRY_DELAY),
        stable_for: table
            .optional("stable_for", |field| {
                field.parse_text(parse_duration_or_zero)
            })?
            .unwrap_or(Duration::ZERO),
        upload: table
            .optional("upload", |field| choice(field, "upload mode", UPLOAD_MODES))?
            .unwrap_or(UploadMode::TempRename),
        after_delivery: table
            .optional("after_delivery", |field| {
                field.parse_text(parse_after_delivery)
            })?
            .unwrap_or(AfterDelivery::Keep),
    })
}

fn remote_name(
    field: &Field<'_>,
    remotes: &BTreeMap<String, RemoteConfig>,
) -> Result<String, TomlError> {
    let name = field.text()?;
    if remotes.contains_key(name) {
        return Ok(name.to_string());
    }
    let known: Vec<&str> = remotes.keys().map(String::as_str).collect();
    let head = format!("no remote named {name:?}");
    Err(field.error(explain_unknown(
        &head,
        name,
        &known,
        "remotes",
        Listing::WithoutSuggestion,
    )))
}

/// One of `choices`, by name; an unknown one is explained with the nearest name.
pub(super) fn choice<T: Copy>(
    field: &Field<'_>,
    what: &str,
    choices: &[(&str, T)],
) -> Result<T, TomlError> {
    let given = field.text()?;
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == given) {
        return Ok(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let head = format!("unknown {what} {given:?}");
    Err(field.error(explain_unknown(
        &head,
        given,
        &names,
        "modes",
        Listing::Always,
    )))
}

/// The patterns, each checked to be a valid glob; an error points at the bad one.
fn globs(field: &Field<'_>) -> Result<Vec<String>, TomlError> {
    field
        .items()?
        .iter()
        .map(|item| {
            item.parse_text(|pattern| match globset::Glob::new(pattern) {
                Ok(_) => Ok(pattern.to_string()),
                Err(error) => Err(format!("invalid glob {pattern:?}: {}", error.kind())),
            })
        })
        .collect()
}

/// `keep`, `delete` or `archive:FOLDER` (a relative folder of plain names).
fn parse_after_delivery(text: &str) -> Result<AfterDelivery, String> {
    match text {
        "keep" => return Ok(AfterDelivery::Keep),
        "delete" => return Ok(AfterDelivery::Delete),
        _ => {}
    }
    let Some(folder) = text.strip_prefix("archive:") else {
        return Err(format!(
            "expected \"keep\", \"delete\" or \"archive:FOLDER\", got {text:?}"
        ));
    };
    let folder = folder.trim_matches('/');
    match folder.split('/').find_map(crate::remote::unusable_name) {
        Some(why) => Err(format!(
            "archive folder {folder:?}: {why}; give a folder relative to the source's root"
        )),
        None => Ok(AfterDelivery::Archive(folder.to_string())),
    }
}

/// `schedule`, with its `timezone` and `skip_dates`; `None` when the sync has none.
fn timing(table: &Table<'_>) -> Result<Option<Timing>, TomlError> {
    let timezone: Option<String> = table.optional("timezone", |field| {
        field.parse_text(schedule::parse_timezone)?;
        field.string()
    })?;
    let skip_dates = table
        .optional("skip_dates", |field| {
            field
                .items()?
                .iter()
                .map(|item| item.parse_text(schedule::parse_skip_date))
                .collect()
        })?
        .unwrap_or_default();
    let Some(field) = table.get("schedule") else {
        for key in ["timezone", "skip_dates"] {
            if let Some(field) = table.get(key) {
                return Err(field.error("applies to a schedule, and the sync has none"));
            }
        }
        return Ok(None);
    };
    let schedule = field.parse_text(|text| schedule::parse(text, timezone.as_deref()))?;
    Ok(Some(Timing {
        schedule,
        skip_dates,
    }))
}

/// A rate string with its unit ("10M", "512K", "off"); a bare number is refused.
fn bwlimit(field: &Field<'_>) -> Result<Option<u64>, TomlError> {
    match field.value() {
        DeValue::Integer(_) | DeValue::Float(_) => {
            Err(field.expected("a rate with its unit in a string, e.g. \"10M\" (MiB/s)"))
        }
        _ => field.parse_text(parse_rate),
    }
}
