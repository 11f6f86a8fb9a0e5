//! `[service]`: how `ferry serve` listens, who may change things, where alerts go.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::remote::{secret_from_env, secret_from_file};
use super::{Place, Secret, parse_duration};
use crate::toml_reader::{Field, Table, TomlError};

const SERVICE_KEYS: &[&str] = &[
    "listen",
    "token_env",
    "token_file",
    "webhook",
    "stop_grace",
    "max_runs",
];
/// The variable read for the token when neither `token_env` nor `token_file` is set.
pub const DEFAULT_TOKEN_ENV: &str = "FERRY_TOKEN";
/// A token shorter than this is refused: it could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// Where the bearer token is read from when the service starts or reloads.
    pub token: TokenSource,
    /// Every run that fails, partly fails, or succeeds after failing is posted here.
    pub webhook: Option<Webhook>,
    /// How long runs get to stop when the service stops.
    pub stop_grace: Duration,
    /// Runs going on at once; more wait for one to end (a thousand syncs due at the same
    /// minute do not open a thousand connections at once).
    pub max_runs: usize,
    /// Where `listen` is written, if it is.
    pub listen_place: Option<Place>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7373)),
            token: TokenSource::Env(DEFAULT_TOKEN_ENV.into(), None),
            webhook: None,
            stop_grace: Duration::from_secs(30),
            max_runs: 16,
            listen_place: None,
        }
    }
}

/// `token_env` (an environment variable's name) or `token_file`, with where it is written.
#[derive(Clone, Debug)]
pub enum TokenSource {
    Env(String, Option<Place>),
    File(std::path::PathBuf, Place),
}

/// An `http://` or `https://` address alerts are posted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook(pub String);

impl TokenSource {
    /// The token, if one is set; an error naming the key when it is set but unusable.
    pub fn read(&self, config_file: &Path) -> Result<Option<Secret>, String> {
        let (read, place) = match self {
            TokenSource::Env(name, place) => match (std::env::var_os(name), place) {
                (None, None) => return Ok(None),
                _ => (secret_from_env(name), place.as_ref()),
            },
            TokenSource::File(path, place) => (secret_from_file(path), Some(place)),
        };
        let locate = |why: String| match place {
            Some(place) => place.locate(config_file, &why),
            None => format!("{DEFAULT_TOKEN_ENV}: {why}"),
        };
        let token = read.map_err(locate)?;
        if token.trim().chars().count() < MIN_TOKEN_LEN {
            return Err(locate(format!(
                "the token is shorter than {MIN_TOKEN_LEN} characters; use a long random one \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(Some(Secret::new(token.trim().to_string())))
    }
}

/// Reads `[service]`; the defaults when it is absent.
pub(super) fn parse_service(root: &Table<'_>, base: &Path) -> Result<ServiceConfig, TomlError> {
    let Some(table) = root.optional("service", |field| field.table())? else {
        return Ok(ServiceConfig::default());
    };
    table.allow_only(SERVICE_KEYS)?;
    let defaults = ServiceConfig::default();
    let listen = table.get("listen");
    Ok(ServiceConfig {
        listen: listen
            .as_ref()
            .map(|field| field.parse_text(parse_listen))
            .transpose()?
            .unwrap_or(defaults.listen),
        listen_place: listen.map(|field| field.place()),
        token: token_source(&table, base)?.unwrap_or(defaults.token),
        webhook: table.optional("webhook", webhook)?,
        stop_grace: table
            .optional("stop_grace", |field| field.parse_text(parse_duration))?
            .unwrap_or(defaults.stop_grace),
        max_runs: table
            .optional("max_runs", |field| field.integer_in(1..=1024))?
            .unwrap_or(defaults.max_runs),
    })
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!(
            "expected an address and port, e.g. \"127.0.0.1:7373\" or \"[::1]:7373\", got {text:?}"
        )
    })
}

fn token_source(table: &Table<'_>, base: &Path) -> Result<Option<TokenSource>, TomlError> {
    match (table.get("token_env"), table.get("token_file")) {
        (Some(_), Some(file)) => Err(file.error("conflicts with \"token_env\"; set only one")),
        (Some(env), None) => Ok(Some(TokenSource::Env(env.string()?, Some(env.place())))),
        (None, Some(file)) => {
            let path = super::reader::resolved_path(&file, base)?;
            Ok(Some(TokenSource::File(path, file.place())))
        }
        (None, None) => Ok(None),
    }
}

/// A webhook's address: http or https, with a host.
pub(super) fn webhook(field: &Field<'_>) -> Result<Webhook, TomlError> {
    field.parse_text(|text| {
        let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e}): {text:?}"))?;
        match (url.scheme(), url.host_str()) {
            ("http" | "https", Some(_)) => Ok(Webhook(text.to_string())),
            _ => Err(format!(
                "expected an http:// or https:// address, got {text:?}"
            )),
        }
    })
}
