use std::path::Path;
use std::time::Duration;

use toml::de::DeValue;

use super::http_remote::{parse_azure, parse_s3, parse_webdav};
use super::reader::{resolved_path, resolved_path_or};
use super::suggest::{Listing, explain_unknown};
use super::sync::choice;
use super::{
    ListingMode, LocalConfig, PolicySetting, PolicyValue, RemoteConfig, Secret, SftpAuth,
    SftpConfig, Transport, parse_duration,
};
use crate::bounded::read_regular_file;
use crate::plugin::MAX_TIMEOUT;
use crate::toml_reader::{Field, Table, TomlError};

/// The full-path limit of the local side, in characters (the seed's 550).
const DEFAULT_LOCAL_PATH_LIMIT: usize = 550;
const REMOTE_TYPES: [&str; 5] = ["local", "sftp", "s3", "azure-blob", "webdav"];
const LOCAL_KEYS: &[&str] = &[
    "type",
    "path",
    "policy",
    "policy_settings",
    "policy_timeout",
    "max_path_length",
    "set_mtime",
    "listing",
];
const SFTP_KEYS: &[&str] = &[
    "type",
    "host",
    "port",
    "user",
    "key_file",
    "key_passphrase_env",
    "key_passphrase_file",
    "password_env",
    "password_file",
    "known_hosts",
    "root",
    "bind_address",
    "connect_timeout",
    "idle_timeout",
    "policy",
    "policy_settings",
    "policy_timeout",
    "set_mtime",
    "listing",
];
const LISTING_MODES: &[(&str, ListingMode)] =
    &[("full", ListingMode::Full), ("none", ListingMode::None)];
const AUTH_KEYS: [&str; 3] = ["key_file", "password_env", "password_file"];
const PASSPHRASE_KEYS: [&str; 2] = ["key_passphrase_env", "key_passphrase_file"];

/// Reads `[remotes.NAME]`; relative paths resolve against `base`.
pub(super) fn parse_remote(
    name: &str,
    table: &Table<'_>,
    base: &Path,
) -> Result<RemoteConfig, TomlError> {
    let policy = table.get("policy");
    Ok(RemoteConfig {
        name: name.to_string(),
        transport: parse_transport(table, base)?,
        policy: policy.as_ref().map(Field::string).transpose()?,
        policy_place: policy.map_or_else(|| table.place(), |field| field.place()),
        policy_settings: table
            .optional("policy_settings", policy_settings)?
            .unwrap_or_default(),
        policy_timeout: table.optional("policy_timeout", |field| {
            field.parse_text(parse_policy_timeout)
        })?,
        set_mtime: table
            .optional("set_mtime", |field| field.boolean())?
            .unwrap_or(true),
        listing: table
            .optional("listing", |field| {
                choice(field, "listing mode", LISTING_MODES)
            })?
            .unwrap_or(ListingMode::Full),
    })
}

/// A duration above zero and at most the host's [`MAX_TIMEOUT`].
fn parse_policy_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout > MAX_TIMEOUT {
        return Err(format!(
            "{text:?} is longer than the {}s a plugin call may take at most",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(timeout)
}

fn parse_transport(table: &Table<'_>, base: &Path) -> Result<Transport, TomlError> {
    let kind = table.require("type")?;
    match kind.text()? {
        "local" => {
            table.allow_only(LOCAL_KEYS)?;
            let path = resolved_path(&table.require("path")?, base)?;
            let max_path_length = table
                .optional("max_path_length", |field| field.integer_in(1..=1_000_000))?
                .unwrap_or(DEFAULT_LOCAL_PATH_LIMIT);
            Ok(Transport::Local(LocalConfig {
                path,
                max_path_length,
            }))
        }
        "sftp" => {
            table.allow_only(SFTP_KEYS)?;
            parse_sftp(table, base).map(Transport::Sftp)
        }
        "s3" => parse_s3(table, base).map(Transport::S3),
        "azure-blob" => parse_azure(table, base).map(Transport::AzureBlob),
        "webdav" => parse_webdav(table, base).map(Transport::WebDav),
        other => {
            let head = format!("unknown remote type {other:?}");
            Err(kind.error(explain_unknown(
                &head,
                other,
                &REMOTE_TYPES,
                "types",
                Listing::Always,
            )))
        }
    }
}

fn parse_sftp(table: &Table<'_>, base: &Path) -> Result<SftpConfig, TomlError> {
    Ok(SftpConfig {
        host: table.require("host")?.string()?,
        port: table
            .optional("port", |field| field.integer_in(1..=u16::MAX))?
            .unwrap_or(22),
        user: table.require("user")?.string()?,
        auth: parse_auth(table, base)?,
        known_hosts: resolved_path_or(table, "known_hosts", "~/.ssh/known_hosts", base)?,
        root: table
            .optional("root", Field::string)?
            .unwrap_or_else(|| ".".to_string()),
        bind_address: bind_address(table)?,
        connect_timeout: duration_or(table, "connect_timeout", DEFAULT_CONNECT_TIMEOUT)?,
        idle_timeout: duration_or(table, "idle_timeout", DEFAULT_IDLE_TIMEOUT)?,
    })
}

pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `bind_address`: the local address connections leave from.
pub(super) fn bind_address(table: &Table<'_>) -> Result<Option<std::net::IpAddr>, TomlError> {
    table.optional("bind_address", |field| {
        field.parse_text(|text| {
            text.parse()
                .map_err(|_| format!("invalid IP address {text:?}"))
        })
    })
}

/// The duration at `key`, or `default`.
pub(super) fn duration_or(
    table: &Table<'_>,
    key: &str,
    default: Duration,
) -> Result<Duration, TomlError> {
    let configured = table.optional(key, |field| field.parse_text(parse_duration))?;
    Ok(configured.unwrap_or(default))
}

fn parse_auth(table: &Table<'_>, base: &Path) -> Result<SftpAuth, TomlError> {
    let Some((method, field)) = at_most_one(table, &AUTH_KEYS)? else {
        let choices = AUTH_KEYS.join(", ");
        return Err(table.error(format!("missing authentication: set one of {choices}")));
    };
    if method != "key_file" {
        if let Some(passphrase) = PASSPHRASE_KEYS.iter().find_map(|key| table.get(key)) {
            return Err(passphrase.error("only allowed with \"key_file\""));
        }
        return read_secret(method, &field, base).map(SftpAuth::Password);
    }
    let passphrase = at_most_one(table, &PASSPHRASE_KEYS)?
        .map(|(key, passphrase)| read_secret(key, &passphrase, base))
        .transpose()?;
    Ok(SftpAuth::Key {
        file: resolved_path(&field, base)?,
        passphrase,
    })
}

/// The one key of `keys` present in `table`, if any; a second one is an error.
pub(super) fn at_most_one<'a>(
    table: &Table<'a>,
    keys: &[&'static str],
) -> Result<Option<(&'static str, Field<'a>)>, TomlError> {
    let mut present = keys
        .iter()
        .filter_map(|key| table.get(key).map(|field| (*key, field)));
    match (present.next(), present.next()) {
        (Some((first_key, _)), Some((_, second))) => {
            let choices = keys.join(", ");
            Err(second.error(format!(
                "conflicts with {first_key:?}; set only one of {choices}"
            )))
        }
        (first, _) => Ok(first),
    }
}

/// Reads the secret that `key` points at: "*_env" keys name an environment variable,
/// "*_file" keys a file whose trailing newline is dropped. Errors never show the secret.
pub(super) fn read_secret(key: &str, field: &Field<'_>, base: &Path) -> Result<Secret, TomlError> {
    let text = if key.ends_with("_env") {
        field.parse_text(secret_from_env)?
    } else {
        let path = resolved_path(field, base)?;
        secret_from_file(&path).map_err(|why| field.error(why))?
    };
    Ok(Secret::new(text))
}

pub(super) fn secret_from_env(variable: &str) -> Result<String, String> {
    std::env::var(variable).map_err(|error| match error {
        std::env::VarError::NotPresent => format!("environment variable {variable:?} is not set"),
        std::env::VarError::NotUnicode(_) => {
            format!("environment variable {variable:?} is not valid UTF-8")
        }
    })
}

/// The largest secret file read (a password or token, never megabytes).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

pub(super) fn secret_from_file(path: &Path) -> Result<String, String> {
    let bytes = read_regular_file(path, MAX_SECRET_BYTES)
        .map_err(|error| format!("cannot read {path:?}: {error}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{path:?} is not valid UTF-8"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn policy_settings(field: &Field<'_>) -> Result<Vec<PolicySetting>, TomlError> {
    field
        .table()?
        .placed_entries()
        .map(|(name, place, value)| {
            Ok(PolicySetting {
                name: name.to_string(),
                value: policy_value(&value)?,
                place,
            })
        })
        .collect()
}

fn policy_value(field: &Field<'_>) -> Result<PolicyValue, TomlError> {
    match field.value() {
        DeValue::String(text) => Ok(PolicyValue::Text(text.to_string())),
        DeValue::Integer(_) => field
            .integer_in(i64::MIN..=i64::MAX)
            .map(PolicyValue::Integer),
        DeValue::Boolean(flag) => Ok(PolicyValue::Boolean(*flag)),
        DeValue::Array(_) => field.string_list().map(PolicyValue::TextList),
        _ => Err(field.expected("a string, integer, boolean or array of strings")),
    }
}
