//! S3 and Azure Blob, through object_store: keys under a prefix, folders that are only
//! prefixes, uploads staged in parts (S3 multipart uploads, Azure blocks) that show under
//! their name only once committed, and whose parts a later process can continue.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::buffered::BufWriter;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tokio::io::AsyncWrite;
use tokio_util::io::StreamReader;

mod connector;

use connector::{Connector, OddKey, OddKeys};

use super::http::{self, store_error};
use super::{
    Capabilities, Commit, Folders, Kind, Listed, Mtimes, Reader, Remote, RemoteEntry, RemoteError,
    Resume, Writer, check_path, unusable_name,
};
use crate::config::{AzureConfig, AzureCredential, HttpOptions, S3Config};
use crate::plugin::{Operation, Protocol};

const NOT_FOUND: Option<crate::plugin::ErrorCode> = Some(crate::plugin::ErrorCode::HttpStatus(404));

/// An S3 bucket or Azure container, under a key prefix.
pub struct ObjectRemote {
    store: Arc<dyn ObjectStore>,
    parts: Arc<dyn MultipartStore>,
    /// The key prefix, "" or ending with '/'.
    prefix: String,
    protocol: Protocol,
    /// Keys taken out of listings (see [`connector`]).
    odd_keys: Arc<OddKeys>,
}

/// object_store retries nothing itself: the plugin decides what is retried, and a
/// Retry-After is honoured by the client (see [`connector`]).
fn no_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 0,
        retry_timeout: Duration::from_secs(1),
        ..RetryConfig::default()
    }
}

fn connector(options: &HttpOptions, odd_keys: &Arc<OddKeys>) -> Result<Connector, RemoteError> {
    Ok(Connector {
        client: http::client(options, Operation::Connect)?,
        odd_keys: Arc::clone(odd_keys),
    })
}

fn build_error(error: object_store::Error) -> RemoteError {
    RemoteError::new(Operation::Connect, None, http::chain(&error))
}

impl ObjectRemote {
    pub fn s3(config: &S3Config) -> Result<Self, RemoteError> {
        let odd_keys = Arc::default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(config.access_key_id.expose())
            .with_secret_access_key(config.secret_access_key.expose())
            .with_retry(no_retries())
            .with_http_connector(connector(&config.http, &odd_keys)?);
        if let Some(endpoint) = &config.endpoint {
            // S3-compatible servers name the bucket in the path, not the host.
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(true)
                .with_virtual_hosted_style_request(false);
        }
        let store = Arc::new(builder.build().map_err(build_error)?);
        Ok(Self::new(
            store.clone(),
            store,
            &config.root,
            Protocol::S3,
            odd_keys,
        ))
    }

    pub fn azure(config: &AzureConfig) -> Result<Self, RemoteError> {
        let odd_keys = Arc::default();
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&config.account)
            .with_container_name(&config.container)
            .with_retry(no_retries())
            .with_http_connector(connector(&config.http, &odd_keys)?);
        builder = match &config.credential {
            AzureCredential::AccountKey(key) => builder.with_access_key(key.expose()),
            AzureCredential::SasToken(token) => {
                builder.with_sas_authorization(form_urlencoded_pairs(token.expose()))
            }
        };
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/').to_string())
                .with_allow_http(true);
        }
        let store = Arc::new(builder.build().map_err(build_error)?);
        Ok(Self::new(
            store.clone(),
            store,
            &config.root,
            Protocol::AzureBlob,
            odd_keys,
        ))
    }

    fn new(
        store: Arc<dyn ObjectStore>,
        parts: Arc<dyn MultipartStore>,
        root: &str,
        protocol: Protocol,
        odd_keys: Arc<OddKeys>,
    ) -> Self {
        let prefix = match root {
            "" => String::new(),
            root => format!("{root}/"),
        };
        ObjectRemote {
            store,
            parts,
            prefix,
            protocol,
            odd_keys,
        }
    }

    /// The key of `path`: refused when it could leave the prefix, or when the store
    /// cannot name it (control characters).
    fn key(&self, operation: Operation, path: &str) -> Result<Key, RemoteError> {
        check_path(operation, path)?;
        Key::parse(format!("{}{path}", self.prefix)).map_err(|error| {
            RemoteError::new(
                operation,
                Some(path),
                format!("the store cannot name it: {error}"),
            )
        })
    }

    fn fail(
        &self,
        operation: Operation,
        path: &str,
    ) -> impl Fn(object_store::Error) -> RemoteError {
        move |error| store_error(operation, Some(path), &error)
    }

    /// The listing's entry for `meta`, or why its name is left out.
    fn listed(&self, meta: &ObjectMeta) -> Option<Listed> {
        let path = meta.location.as_ref().strip_prefix(&self.prefix)?;
        Some(plain_or_refused(path, |path| file_entry(path, meta)))
    }

    /// The listing's entry for a key taken out of it: a folder for a marker, a refused
    /// name otherwise. The root's own marker is no entry.
    fn listed_odd(&self, odd: OddKey) -> Option<Listed> {
        match odd {
            OddKey::Marker { key } => {
                let path = key
                    .strip_prefix(&self.prefix)
                    .filter(|path| !path.is_empty())?;
                Some(plain_or_refused(path, folder_entry))
            }
            OddKey::Unnamable { key, reason } => {
                let path = key.strip_prefix(&self.prefix)?;
                let reason = path
                    .split('/')
                    .find_map(unusable_name)
                    .map_or(reason, str::to_string);
                Some(Listed::Refused {
                    path: path.to_string(),
                    reason,
                })
            }
        }
    }
}

/// object_store's writer, its refusals read as the store's (it reports them as I/O errors
/// holding object_store's error, whose status only [`store_error`] reads).
struct StoreWriter {
    inner: BufWriter,
    path: String,
}

impl StoreWriter {
    fn read_refusal(&self, error: std::io::Error) -> std::io::Error {
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<object_store::Error>())
        {
            Some(store) => {
                std::io::Error::other(store_error(Operation::Write, Some(&self.path), store))
            }
            None => error,
        }
    }
}

impl AsyncWrite for StoreWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(context, data);
        polled.map_err(|error| self.read_refusal(error))
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(context);
        polled.map_err(|error| self.read_refusal(error))
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(context);
        polled.map_err(|error| self.read_refusal(error))
    }
}

/// `entry(path)` when every name of `path` is a plain name, else why not (the path is then
/// only shown, never used).
fn plain_or_refused(path: &str, entry: impl FnOnce(&str) -> RemoteEntry) -> Listed {
    match path.split('/').find_map(unusable_name) {
        Some(reason) => Listed::Refused {
            path: path.to_string(),
            reason: reason.to_string(),
        },
        None => Listed::Entry(entry(path)),
    }
}

/// Hand `listed` to `sink`, after the folders above it not handed on yet (`folders`).
fn hand_on(listed: Listed, folders: &mut HashSet<String>, sink: &mut (dyn FnMut(Listed) + Send)) {
    if let Listed::Entry(entry) = &listed {
        for folder in parents(&entry.path) {
            if folders.insert(folder.to_string()) {
                sink(Listed::Entry(folder_entry(folder)));
            }
        }
        if entry.kind == Kind::Directory && !folders.insert(entry.path.clone()) {
            return;
        }
    }
    sink(listed);
}

fn file_entry(path: &str, meta: &ObjectMeta) -> RemoteEntry {
    RemoteEntry {
        path: path.to_string(),
        kind: Kind::File,
        size: meta.size,
        mtime: Some(SystemTime::from(meta.last_modified)),
    }
}

fn folder_entry(path: &str) -> RemoteEntry {
    RemoteEntry {
        path: path.to_string(),
        kind: Kind::Directory,
        size: 0,
        mtime: None,
    }
}

/// A SAS token's query as name/value pairs.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// The folders above `path`, nearest the root first.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(at, _)| &path[..at])
}

/// What this transport can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    // Last-Modified: the upload's time, to the second.
    mtimes: Mtimes::UploadTime(Duration::from_secs(1)),
    commit: Commit::Staged,
    folders: Folders::Prefixes,
    resume: Resume::Parts,
};

#[async_trait]
impl Remote for ObjectRemote {
    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError> {
        let prefix = match self.prefix.as_str() {
            "" => None,
            prefix => Some(Key::parse(prefix).map_err(|error| {
                RemoteError::new(Operation::List, None, format!("root: {error}"))
            })?),
        };
        // A listing runs alone: the odd keys taken after it are its own.
        self.odd_keys.take();
        let mut objects = self.store.list(prefix.as_ref());
        let mut folders = HashSet::new();
        while let Some(object) = objects.next().await {
            let meta = object.map_err(|error| store_error(Operation::List, None, &error))?;
            if let Some(listed) = self.listed(&meta) {
                hand_on(listed, &mut folders, sink);
            }
        }
        for odd in self.odd_keys.take() {
            if let Some(listed) = self.listed_odd(odd) {
                hand_on(listed, &mut folders, sink);
            }
        }
        Ok(())
    }

    async fn stat(&self, path: &str) -> Result<Option<RemoteEntry>, RemoteError> {
        let key = self.key(Operation::Stat, path)?;
        match self.store.head(&key).await {
            Ok(meta) => return Ok(Some(file_entry(path, &meta))),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(store_error(Operation::Stat, Some(path), &error)),
        }
        // A folder is there when some key is under it.
        let mut below = self.store.list(Some(&key));
        match below.next().await {
            Some(Ok(_)) => Ok(Some(folder_entry(path))),
            Some(Err(error)) => {
                let error = store_error(Operation::Stat, Some(path), &error);
                // Not even the bucket or container is there: nor is the path.
                match error.code {
                    NOT_FOUND => Ok(None),
                    _ => Err(error),
                }
            }
            None => Ok(None),
        }
    }

    async fn read(&self, path: &str, offset: u64) -> Result<Reader, RemoteError> {
        let key = self.key(Operation::Read, path)?;
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..GetOptions::default()
        };
        let found = match self.store.get_opts(&key, options).await {
            Ok(found) => found,
            Err(error) if offset > 0 => {
                let error = store_error(Operation::Read, Some(path), &error);
                return super::nothing_past_the_end(self, path, offset, error).await;
            }
            Err(error) => return Err(store_error(Operation::Read, Some(path), &error)),
        };
        let stream = found
            .into_stream()
            .map_err(|error| std::io::Error::other(http::chain(&error)));
        Ok(Box::new(StreamReader::new(stream)))
    }

    async fn write(&self, path: &str, offset: u64) -> Result<Writer, RemoteError> {
        if offset > 0 {
            return Err(RemoteError::new(
                Operation::Write,
                Some(path),
                "an object cannot be written on from the middle",
            ));
        }
        let key = self.key(Operation::Write, path)?;
        Ok(Box::new(StoreWriter {
            inner: BufWriter::new(Arc::clone(&self.store), key),
            path: path.to_string(),
        }))
    }

    async fn put(
        &self,
        path: &str,
        data: Vec<u8>,
        _mtime: Option<SystemTime>,
    ) -> Result<(), RemoteError> {
        let key = self.key(Operation::Write, path)?;
        self.store
            .put(&key, PutPayload::from(data))
            .await
            .map_err(self.fail(Operation::Write, path))?;
        Ok(())
    }

    /// A copy, then the source removed: the copy replaces `to` whole, never in part.
    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let (from_key, to_key) = (
            self.key(Operation::Rename, from)?,
            self.key(Operation::Rename, to)?,
        );
        self.store
            .rename(&from_key, &to_key)
            .await
            .map_err(self.fail(Operation::Rename, from))
    }

    /// Folders are prefixes: there is nothing to make.
    async fn mkdir_all(&self, path: &str) -> Result<(), RemoteError> {
        check_path(Operation::Mkdir, path)
    }

    async fn delete(&self, path: &str, kind: Kind) -> Result<(), RemoteError> {
        let key = self.key(Operation::Delete, path)?;
        if kind == Kind::Directory {
            // A prefix goes with the last key under it.
            return Ok(());
        }
        match self.store.delete(&key).await {
            // Gone already, as a delete wants it (S3 answers so itself; Azure with 404).
            Err(error) if store_error(Operation::Delete, Some(path), &error).code == NOT_FOUND => {
                Ok(())
            }
            answer => answer.map_err(self.fail(Operation::Delete, path)),
        }
    }

    async fn set_mtime(&self, path: &str, _: SystemTime) -> Result<bool, RemoteError> {
        check_path(Operation::SetMtime, path)?;
        Ok(false)
    }

    async fn begin_staged(&self, path: &str) -> Result<String, RemoteError> {
        let key = self.key(Operation::Write, path)?;
        self.parts
            .create_multipart(&key)
            .await
            .map_err(self.fail(Operation::Write, path))
    }

    async fn put_part(
        &self,
        path: &str,
        id: &str,
        index: usize,
        data: Bytes,
    ) -> Result<String, RemoteError> {
        let key = self.key(Operation::Write, path)?;
        let part = self
            .parts
            .put_part(&key, &id.to_string(), index, PutPayload::from(data))
            .await
            .map_err(self.fail(Operation::Write, path))?;
        Ok(part.content_id)
    }

    async fn commit_staged(
        &self,
        path: &str,
        id: &str,
        tags: &[String],
    ) -> Result<(), RemoteError> {
        let key = self.key(Operation::Write, path)?;
        let parts = tags
            .iter()
            .map(|tag| PartId {
                content_id: tag.clone(),
            })
            .collect();
        self.parts
            .complete_multipart(&key, &id.to_string(), parts)
            .await
            .map_err(self.fail(Operation::Write, path))?;
        Ok(())
    }

    async fn abort_staged(&self, path: &str, id: &str) -> Result<(), RemoteError> {
        let key = self.key(Operation::Delete, path)?;
        self.parts
            .abort_multipart(&key, &id.to_string())
            .await
            .map_err(self.fail(Operation::Delete, path))
    }
}
