//! The config file, ferry.toml: its model, loading, and validation. Every problem is
//! reported as `FILE:LINE:COLUMN: KEY: message` (see [`ConfigError`]).

mod error;
mod http_remote;
mod paths;
mod reader;
mod remote;
mod secret;
mod service;
mod suggest;
mod sync;
#[cfg(test)]
mod tests;
mod units;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use secret::Secret;
pub use service::{DEFAULT_TOKEN_ENV, ServiceConfig, TokenSource, Webhook};
pub use units::{parse_duration, parse_rate};

use crate::bounded::read_regular_file;
use crate::service::schedule::Timing;
pub use crate::toml_reader::Place;
use crate::toml_reader::{self, Source, Table, TomlError};
use reader::{PHRASING, resolved_path_or};
use suggest::{Listing, explain_unknown};

const CONFIG_ENV: &str = "FERRY_CONFIG";
const DEFAULT_FILE_NAME: &str = "ferry.toml";
const DEFAULT_STATE_DIR: &str = ".ferry";
const TOP_LEVEL_KEYS: &[&str] = &["state", "service", "remotes", "syncs"];

#[derive(Clone, Debug)]
pub struct Config {
    /// The file the config was read from.
    pub file: PathBuf,
    pub state_dir: PathBuf,
    pub remotes: BTreeMap<String, RemoteConfig>,
    pub syncs: BTreeMap<String, SyncConfig>,
    /// `[service]`, for `ferry serve`.
    pub service: ServiceConfig,
}

#[derive(Clone, Debug)]
pub struct RemoteConfig {
    pub name: String,
    pub transport: Transport,
    /// A bundled policy's name or a path to a .wasm component, as written.
    pub policy: Option<String>,
    /// Where `policy` is written, or the remote's header when it is not.
    pub policy_place: Place,
    /// `[remotes.NAME.policy_settings]`, sorted by key.
    pub policy_settings: Vec<PolicySetting>,
    /// Whether uploads here get their source's modification time (`set_mtime = false`
    /// for servers that refuse SETSTAT: change detection then relies on the state store).
    pub set_mtime: bool,
    /// `listing = "none"`: a write-only inbox, never listed.
    pub listing: ListingMode,
    /// `policy_timeout`: the wall-clock time each call into the policy plugin may take,
    /// at most [`MAX_TIMEOUT`](crate::plugin::MAX_TIMEOUT); the host's default when unset.
    pub policy_timeout: Option<Duration>,
}

/// One key of `[remotes.NAME.policy_settings]`, with where it is written: the plugin
/// checks it only when it is loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySetting {
    pub name: String,
    pub value: PolicyValue,
    pub place: Place,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PolicyValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
    TextList(Vec<String>),
}

#[derive(Clone, Debug)]
pub enum Transport {
    Local(LocalConfig),
    Sftp(SftpConfig),
    S3(S3Config),
    AzureBlob(AzureConfig),
    WebDav(WebDavConfig),
}

/// What every HTTP remote takes about its connections.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub bind_address: Option<IpAddr>,
    pub connect_timeout: Duration,
    /// How long a request may wait for the server's next bytes.
    pub idle_timeout: Duration,
    /// `ca_file`: a PEM bundle of private CAs trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct S3Config {
    /// Any S3-compatible endpoint; AWS's own when unset.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// The key prefix everything is under ("" for the whole bucket), without slashes at
    /// either end.
    pub root: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub http: HttpOptions,
}

#[derive(Clone, Debug)]
pub struct AzureConfig {
    pub account: String,
    pub container: String,
    /// Azurite or a sovereign cloud; Azure's public endpoint when unset.
    pub endpoint: Option<String>,
    pub root: String,
    pub credential: AzureCredential,
    pub http: HttpOptions,
}

#[derive(Clone, Debug)]
pub enum AzureCredential {
    AccountKey(Secret),
    /// A SAS token's query, without the leading `?`.
    SasToken(Secret),
}

#[derive(Clone, Debug)]
pub struct WebDavConfig {
    /// The server's base URL, ending with `/`.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub root: String,
    pub http: HttpOptions,
}

#[derive(Clone, Debug)]
pub struct LocalConfig {
    pub path: PathBuf,
    /// Entries whose full local path (folder + relative path) is longer, in characters,
    /// are reported and not synced.
    pub max_path_length: usize,
}

#[derive(Clone, Debug)]
pub struct SftpConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SftpAuth,
    pub known_hosts: PathBuf,
    /// The folder on the server, "." being the login folder.
    pub root: String,
    pub bind_address: Option<IpAddr>,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum SftpAuth {
    Key {
        file: PathBuf,
        passphrase: Option<Secret>,
    },
    Password(Secret),
}

#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub name: String,
    pub source: String,
    pub destination: String,
    pub delete: DeleteMode,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// When `ferry serve` runs it; never when `None`.
    pub schedule: Option<Timing>,
    /// A run still going after this long is stopped (cleanly: the next run continues).
    pub max_duration: Option<Duration>,
    /// After a failed or partly failed run, the next one comes this much sooner than its
    /// slot, doubling with each failure in a row (never later than the slot).
    pub retry_sooner: Option<Duration>,
    /// Alerts of this sync's runs go here (besides `[service] webhook`).
    pub webhook: Option<Webhook>,
    /// Bytes per second; `None` is unlimited.
    pub bwlimit: Option<u64>,
    pub transfers: Option<usize>,
    /// What to do with a name the destination refuses.
    pub rename: RenameMode,
    /// In-run retries of an error the plugin says to retry now.
    pub retries: u32,
    /// The first pause before an in-run retry; it doubles each time (with jitter).
    pub retry_delay: Duration,
    /// A file modified more recently than this is left for the next run.
    pub stable_for: Duration,
    pub upload: UploadMode,
    /// What becomes of a source file once it is delivered.
    pub after_delivery: AfterDelivery,
}

/// What becomes of a source file once its delivery is complete, verified and recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterDelivery {
    Keep,
    Delete,
    /// Moved into this folder of the source remote (relative to its root; never synced).
    Archive(String),
}

/// Whether a remote may be listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingMode {
    Full,
    /// A write-only inbox: never listed; what it holds is taken from what earlier runs
    /// delivered (the state store).
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteMode {
    Never,
    Mirror,
}

/// How an upload reaches its final name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadMode {
    /// Under the policy's temporary name, renamed when complete and verified.
    TempRename,
    /// Straight to the final name (for servers that refuse rename): a partner may see a
    /// file while it is being written, and an interrupted upload restarts from zero.
    Direct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameMode {
    /// Refused names are reported and not sent.
    Refuse,
    /// Refused names are sent under the policy's suggested name; the mapping is kept.
    Sanitize,
}

/// The largest config file read: far more than any real one.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

impl Config {
    /// `explicit` (--config), else $FERRY_CONFIG, else ./ferry.toml in `cwd`.
    pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Config, ConfigError> {
        let (file, hint) = locate(explicit, std::env::var_os(CONFIG_ENV), cwd);
        match read_regular_file(&file, MAX_CONFIG_BYTES) {
            Ok(bytes) => Config::parse(&toml_reader::utf8(&file, bytes)?, &file),
            Err(error) if error.is_not_found() => Err(ConfigError::NotFound {
                file,
                hint: hint.to_string(),
            }),
            Err(source) => Err(ConfigError::Unreadable { file, source }),
        }
    }

    /// Parse `text` as if read from `file` (relative paths resolve against file's folder).
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let source = Source {
            file,
            text,
            phrasing: PHRASING,
        };
        let document = source.parse()?;
        let root = Table::document(&source, &document);
        root.allow_only(TOP_LEVEL_KEYS)?;
        let base = file.parent().unwrap_or(Path::new(""));
        let state_dir = state_dir(&root, base)?;
        let service = service::parse_service(&root, base)?;
        let remotes = named_tables(&root, "remotes", |name, table| {
            remote::parse_remote(name, table, base)
        })?;
        let syncs = named_tables(&root, "syncs", |name, table| {
            sync::parse_sync(name, table, &remotes)
        })?;
        Ok(Config {
            file: file.to_path_buf(),
            state_dir,
            remotes,
            syncs,
            service,
        })
    }

    /// The sync named `name`, or an error listing the syncs and suggesting the nearest name.
    pub fn sync(&self, name: &str) -> Result<&SyncConfig, ConfigError> {
        self.syncs
            .get(name)
            .ok_or_else(|| self.unknown_name("sync", "syncs", name, &self.syncs))
    }

    /// The remote named `name`, same kind of error.
    pub fn remote(&self, name: &str) -> Result<&RemoteConfig, ConfigError> {
        self.remotes
            .get(name)
            .ok_or_else(|| self.unknown_name("remote", "remotes", name, &self.remotes))
    }

    fn unknown_name<T>(
        &self,
        kind: &str,
        plural: &str,
        name: &str,
        known: &BTreeMap<String, T>,
    ) -> ConfigError {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        let head = format!("no {kind} named {name:?}");
        ConfigError::UnknownName {
            file: self.file.clone(),
            name: name.to_string(),
            message: explain_unknown(&head, name, &names, plural, Listing::Always),
        }
    }
}

/// The config file to read, and what to tell the user if it does not exist.
fn locate(
    explicit: Option<&Path>,
    from_env: Option<OsString>,
    cwd: &Path,
) -> (PathBuf, &'static str) {
    if let Some(path) = explicit {
        return (cwd.join(path), "check the path given to --config");
    }
    match from_env.filter(|value| !value.is_empty()) {
        Some(path) => (
            cwd.join(path),
            "FERRY_CONFIG names this file; fix or unset FERRY_CONFIG, or use --config FILE",
        ),
        None => (
            cwd.join(DEFAULT_FILE_NAME),
            "create ferry.toml here, or point ferry at a config with --config FILE or FERRY_CONFIG",
        ),
    }
}

/// `[state] dir`, or the default under the config file's folder `base`.
fn state_dir(root: &Table<'_>, base: &Path) -> Result<PathBuf, TomlError> {
    match root.optional("state", |field| field.table())? {
        Some(state) => {
            state.allow_only(&["dir"])?;
            resolved_path_or(&state, "dir", DEFAULT_STATE_DIR, base)
        }
        None => Ok(paths::within(base, DEFAULT_STATE_DIR)),
    }
}

/// Each entry of the table under `key` (e.g. `[remotes.NAME]`) read by `parse`, by name.
fn named_tables<T>(
    root: &Table<'_>,
    key: &str,
    parse: impl Fn(&str, &Table<'_>) -> Result<T, TomlError>,
) -> Result<BTreeMap<String, T>, TomlError> {
    let Some(field) = root.get(key) else {
        return Ok(BTreeMap::new());
    };
    field
        .table()?
        .entries()
        .map(|(name, entry)| Ok((name.to_string(), parse(name, &entry.table()?)?)))
        .collect()
}
