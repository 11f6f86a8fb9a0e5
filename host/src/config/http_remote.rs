//! `[remotes.NAME]` of the HTTP types: `s3`, `azure-blob` and `webdav`.

use std::path::Path;

use super::remote::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, at_most_one, bind_address, duration_or,
    read_secret,
};
use super::{AzureConfig, AzureCredential, HttpOptions, S3Config, WebDavConfig};
use crate::config::reader::resolved_path;
use crate::toml_reader::{Field, Table, TomlError};

/// Keys every remote takes, and those of every HTTP remote.
const SHARED_KEYS: &[&str] = &[
    "type",
    "policy",
    "policy_settings",
    "policy_timeout",
    "set_mtime",
    "listing",
    "root",
    "bind_address",
    "connect_timeout",
    "idle_timeout",
    "ca_file",
];
const S3_KEYS: &[&str] = &[
    "endpoint",
    "region",
    "bucket",
    "access_key_id_env",
    "access_key_id_file",
    "secret_access_key_env",
    "secret_access_key_file",
];
const AZURE_KEYS: &[&str] = &[
    "account",
    "container",
    "endpoint",
    "key_env",
    "key_file",
    "sas_token_env",
    "sas_token_file",
];
const AZURE_CREDENTIALS: [&str; 4] = ["key_env", "key_file", "sas_token_env", "sas_token_file"];
const WEBDAV_KEYS: &[&str] = &["url", "user", "password_env", "password_file"];

pub(super) fn parse_s3(table: &Table<'_>, base: &Path) -> Result<S3Config, TomlError> {
    allow(table, S3_KEYS)?;
    Ok(S3Config {
        endpoint: table.optional("endpoint", http_url)?,
        region: table
            .optional("region", Field::string)?
            .unwrap_or_else(|| "us-east-1".to_string()),
        bucket: table.require("bucket")?.string()?,
        root: root(table)?,
        access_key_id: required_secret(table, ["access_key_id_env", "access_key_id_file"], base)?,
        secret_access_key: required_secret(
            table,
            ["secret_access_key_env", "secret_access_key_file"],
            base,
        )?,
        http: http_options(table, base)?,
    })
}

pub(super) fn parse_azure(table: &Table<'_>, base: &Path) -> Result<AzureConfig, TomlError> {
    allow(table, AZURE_KEYS)?;
    let Some((key, field)) = at_most_one(table, &AZURE_CREDENTIALS)? else {
        let choices = AZURE_CREDENTIALS.join(", ");
        return Err(table.error(format!("missing credentials: set one of {choices}")));
    };
    let secret = read_secret(key, &field, base)?;
    let credential = if key.starts_with("sas_token") {
        let token = secret.expose().trim_start_matches('?').to_string();
        AzureCredential::SasToken(super::Secret::new(token))
    } else {
        AzureCredential::AccountKey(secret)
    };
    Ok(AzureConfig {
        account: table.require("account")?.string()?,
        container: table.require("container")?.string()?,
        endpoint: table.optional("endpoint", http_url)?,
        root: root(table)?,
        credential,
        http: http_options(table, base)?,
    })
}

pub(super) fn parse_webdav(table: &Table<'_>, base: &Path) -> Result<WebDavConfig, TomlError> {
    allow(table, WEBDAV_KEYS)?;
    let mut url = http_url(&table.require("url")?)?;
    if !url.ends_with('/') {
        url.push('/');
    }
    let password = at_most_one(table, &["password_env", "password_file"])?
        .map(|(key, field)| read_secret(key, &field, base))
        .transpose()?;
    Ok(WebDavConfig {
        url,
        user: table.optional("user", Field::string)?,
        password,
        root: root(table)?,
        http: http_options(table, base)?,
    })
}

fn allow(table: &Table<'_>, own_keys: &[&str]) -> Result<(), TomlError> {
    let keys: Vec<&str> = SHARED_KEYS.iter().chain(own_keys).copied().collect();
    table.allow_only(&keys)
}

fn http_options(table: &Table<'_>, base: &Path) -> Result<HttpOptions, TomlError> {
    Ok(HttpOptions {
        bind_address: bind_address(table)?,
        connect_timeout: duration_or(table, "connect_timeout", DEFAULT_CONNECT_TIMEOUT)?,
        idle_timeout: duration_or(table, "idle_timeout", DEFAULT_IDLE_TIMEOUT)?,
        ca_file: table
            .get("ca_file")
            .map(|field| resolved_path(&field, base))
            .transpose()?,
    })
}

/// The secret at one of `keys` (an `_env` and a `_file` key): exactly one is set.
fn required_secret(
    table: &Table<'_>,
    keys: [&'static str; 2],
    base: &Path,
) -> Result<super::Secret, TomlError> {
    match at_most_one(table, &keys)? {
        Some((key, field)) => read_secret(key, &field, base),
        None => Err(table.error(format!(
            "missing credentials: set {} or {}",
            keys[0], keys[1]
        ))),
    }
}

/// An `http://` or `https://` URL with a host.
fn http_url(field: &Field<'_>) -> Result<String, TomlError> {
    field.parse_text(|text| {
        let url =
            reqwest::Url::parse(text).map_err(|error| format!("invalid URL {text:?}: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "{text:?} is not an http:// or https:// URL with a host"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "credentials do not belong in the URL: use user and password_env or password_file"
                    .into(),
            );
        }
        Ok(url.to_string())
    })
}

/// `root`: a folder or key prefix under which everything is, `/`-separated, without
/// `.` or `..` components; slashes at either end are dropped.
fn root(table: &Table<'_>) -> Result<String, TomlError> {
    let Some(field) = table.get("root") else {
        return Ok(String::new());
    };
    field.parse_text(|text| {
        let trimmed = text.trim_matches('/');
        let bad = trimmed
            .split('/')
            .any(|part| matches!(part, "" | "." | "..") || part.contains('\0'));
        if !trimmed.is_empty() && bad {
            return Err(format!(
                "{text:?} is not a plain folder path (empty, . or .. components)"
            ));
        }
        Ok(trimmed.to_string())
    })
}
