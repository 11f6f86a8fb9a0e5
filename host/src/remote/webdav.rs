//! WebDAV (RFC 4918) on the shared HTTP client: PROPFIND one folder at a time to list,
//! GET to read (ranged to continue), a streamed PUT to write, MOVE with `Overwrite: T` to
//! commit, MKCOL and DELETE. WebDAV has no standard way to set a modification time, and no
//! ranged PUT: an interrupted upload restarts.

mod multistatus;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

use self::multistatus::{DavResponse, Props, http_date};
use super::http;
use super::{
    Capabilities, Commit, Folders, Kind, Listed, Mtimes, Reader, Remote, RemoteEntry, RemoteError,
    Resume, Writer, check_path, unusable_name,
};
use crate::config::{Secret, WebDavConfig};
use crate::plugin::{ErrorCode, Operation, Protocol};

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// The largest PROPFIND answer read; a folder whose answer is larger is not listed.
const MAX_PROPFIND_BODY: usize = 64 << 20;
/// Chunks of a streamed upload waiting to be sent.
const UPLOAD_QUEUE: usize = 64;
/// The largest chunk of a streamed upload's body. Small: cheroot (wsgidav's server) copies
/// the rest of a chunk on each of its 8 KiB reads, so its cost grows with the square of
/// the chunk size (a 256 MiB PUT in 256 KiB chunks took it 1.03 s, in 16 KiB chunks 0.60 s,
/// with a Content-Length 0.58 s).
const BODY_CHUNK: usize = 16 * 1024;

const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>"#;

/// A folder on a WebDAV server; every path is relative to the configured root.
pub struct WebDavRemote {
    client: reqwest::Client,
    /// The root's URL, ending with '/'.
    root_url: Url,
    /// The root's path segments, decoded: what every href listed must start with.
    root_segments: Vec<String>,
    user: Option<String>,
    password: Option<Secret>,
}

impl WebDavRemote {
    /// A refused MOVE of `from`, said as what it is when `from` is not there: some servers
    /// (`rclone serve webdav`) answer a missing source with 403, which would read as a
    /// refused permission; the status becomes 404, the server's answer stays in the message.
    async fn rename_refused(&self, from: &str, refused: RemoteError) -> RemoteError {
        if refused.code == Some(ErrorCode::HttpStatus(404)) {
            return refused;
        }
        match self.stat(from).await {
            Ok(None) => RemoteError::new(
                Operation::Rename,
                Some(from),
                format!(
                    "{from} does not exist (the server answered: {})",
                    refused.message
                ),
            )
            .with_code(ErrorCode::HttpStatus(404)),
            _ => refused,
        }
    }

    /// Set up the client and check that the root is a folder the credentials may read.
    pub async fn connect(config: &WebDavConfig) -> Result<Self, RemoteError> {
        let client = http::client(&config.http, Operation::Connect)?;
        let root_url = root_url(&config.url, &config.root)?;
        let root_segments = href_segments(root_url.path());
        let remote = WebDavRemote {
            client,
            root_url,
            root_segments,
            user: config.user.clone(),
            password: config.password.clone(),
        };
        remote.check_root(config).await?;
        Ok(remote)
    }

    /// An error unless the root is a folder on the server. Told at once, a missing root
    /// is not mistaken for an empty one.
    async fn check_root(&self, config: &WebDavConfig) -> Result<(), RemoteError> {
        let problem = |what: &str| {
            let message = match config.root.as_str() {
                "" => format!("the remote root, the URL {} (`url =`), {what}", config.url),
                root => format!("the remote root {root} (`root =`) {what} on the server"),
            };
            RemoteError::new(Operation::List, None, message)
        };
        let request = self.propfind(self.root_url.as_str(), "0");
        let response = self.send(request, Operation::Connect, None).await?;
        match response.status() {
            StatusCode::NOT_FOUND => {
                Err(problem("does not exist").with_code(ErrorCode::HttpStatus(404)))
            }
            StatusCode::UNAUTHORIZED => Err(refusal(Operation::Authenticate, None, response).await),
            status if !status.is_success() => {
                Err(refusal(Operation::Connect, None, response).await)
            }
            _ => match read_multistatus(response, Operation::Connect, None)
                .await?
                .first()
            {
                Some(DavResponse {
                    props: Some(props), ..
                }) if props.collection => Ok(()),
                _ => Err(problem("is not a folder")),
            },
        }
    }

    /// A request to `url` with the credentials.
    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let request = self.client.request(method, url);
        match &self.user {
            Some(user) => request.basic_auth(user, self.password.as_ref().map(Secret::expose)),
            None => request,
        }
    }

    fn propfind(&self, url: &str, depth: &'static str) -> RequestBuilder {
        self.request(dav_method(b"PROPFIND"), url)
            .header("Depth", depth)
            .header(CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(PROPFIND_BODY)
    }

    /// Send `request`, again after the wait a 429 or 503 names (a few times, within
    /// bounds); whatever the server answered, or an error when it did not.
    async fn send(
        &self,
        mut request: RequestBuilder,
        operation: Operation,
        path: Option<&str>,
    ) -> Result<Response, RemoteError> {
        let mut attempt = 0;
        loop {
            let again = request.try_clone();
            let response = request
                .send()
                .await
                .map_err(|error| http::unanswered(operation, path, &error))?;
            match (
                again,
                http::retry_after(response.status(), response.headers()),
            ) {
                (Some(again), Some(wait)) if attempt < http::RETRY_AFTER_ATTEMPTS => {
                    tracing::info!("the server asked to retry in {}s", wait.as_secs());
                    tokio::time::sleep(wait).await;
                    request = again;
                    attempt += 1;
                }
                _ => return Ok(response),
            }
        }
    }

    /// Send `request`; the response if it is a success, else the server's refusal.
    async fn send_ok(
        &self,
        request: RequestBuilder,
        operation: Operation,
        path: &str,
    ) -> Result<Response, RemoteError> {
        let response = self.send(request, operation, Some(path)).await?;
        succeeded(response, operation, path).await
    }

    /// The URL of `path` ("" for the root), which must stay inside the root.
    fn url(&self, operation: Operation, path: &str) -> Result<String, RemoteError> {
        check_path(operation, path)?;
        Ok(self.url_unchecked(path))
    }

    fn url_unchecked(&self, path: &str) -> String {
        let mut url = self.root_url.to_string();
        url.push_str(&encode_path(path));
        url
    }

    /// The URL of the folder `path` ("" for the root): collections end with '/'.
    fn folder_url(&self, operation: Operation, path: &str) -> Result<String, RemoteError> {
        if path.is_empty() {
            return Ok(self.root_url.to_string());
        }
        Ok(self.url(operation, path)? + "/")
    }

    /// The entries of one folder (PROPFIND, Depth 1), each checked.
    async fn list_folder(&self, folder: &str) -> Result<Vec<Listed>, RemoteError> {
        let at = (!folder.is_empty()).then_some(folder);
        let url = self.folder_url(Operation::List, folder)?;
        let response = self
            .send(self.propfind(&url, "1"), Operation::List, at)
            .await?;
        if !response.status().is_success() {
            return Err(refusal(Operation::List, at, response).await);
        }
        let responses = read_multistatus(response, Operation::List, at).await?;
        let mut expected = self.root_segments.clone();
        expected.extend(
            folder
                .split('/')
                .filter(|part| !part.is_empty())
                .map(String::from),
        );
        Ok(responses
            .into_iter()
            .filter_map(|response| self.listed(folder, &expected, response))
            .collect())
    }

    /// The listing's entry for `response` of `folder` (whose href's segments are
    /// `expected`), or why it is left out; `None` for the folder itself.
    fn listed(&self, folder: &str, expected: &[String], response: DavResponse) -> Option<Listed> {
        let refused = |path: String, reason: &str| Listed::Refused {
            path: crate::text::cut(path),
            reason: reason.to_string(),
        };
        // The server chooses these hrefs: only one naming a plain name right inside the
        // folder asked becomes a path.
        let Some(segments) = self.href_path(&response.href).map(href_segments) else {
            return Some(refused(
                response.href,
                "the server listed it on another host",
            ));
        };
        let Some(below) = segments.strip_prefix(expected) else {
            return Some(refused(
                response.href,
                "the server listed it outside the folder asked",
            ));
        };
        let name = match below {
            [] => return None,
            [name] => name,
            _ => {
                return Some(refused(
                    response.href,
                    "the server listed it below the folder asked",
                ));
            }
        };
        let path = join(folder, name);
        if let Some(reason) = unusable_name(name) {
            return Some(refused(path, reason));
        }
        let Some(props) = response.props else {
            return Some(refused(path, "the server gave none of its properties"));
        };
        Some(match entry(path.clone(), &props) {
            Ok(entry) => Listed::Entry(entry),
            Err(reason) => refused(path, &reason),
        })
    }

    /// The path part of `href`, an absolute path or a URL on the root's own origin.
    fn href_path<'a>(&self, href: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        if href.starts_with('/') {
            return Some(href.into());
        }
        let url = Url::parse(href).ok()?;
        (url.origin() == self.root_url.origin()).then(|| url.path().to_string().into())
    }

    /// PROPFIND Depth 0 of `path`: its properties, `None` when there is nothing there.
    async fn properties(
        &self,
        operation: Operation,
        path: &str,
    ) -> Result<Option<Props>, RemoteError> {
        let url = self.url(operation, path)?;
        let response = self
            .send(self.propfind(&url, "0"), operation, Some(path))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = succeeded(response, operation, path).await?;
        let responses = read_multistatus(response, operation, Some(path)).await?;
        let props = responses.into_iter().next().and_then(|found| found.props);
        props.map(Some).ok_or_else(|| {
            RemoteError::new(
                operation,
                Some(path),
                "the server gave none of its properties",
            )
        })
    }

    /// How many leading components of `components` exist as folders already.
    async fn existing_depth(&self, components: &[&str]) -> Result<usize, RemoteError> {
        for depth in (1..=components.len()).rev() {
            let prefix = components[..depth].join("/");
            if let Some(props) = self.properties(Operation::Mkdir, &prefix).await? {
                if props.collection {
                    return Ok(depth);
                }
                let message = "a file stands where a folder is needed";
                return Err(RemoteError::new(Operation::Mkdir, Some(&prefix), message));
            }
        }
        Ok(0)
    }

    /// MKCOL `path`; a folder that is there already (405, made meanwhile) is fine.
    async fn make_folder(&self, path: &str) -> Result<(), RemoteError> {
        let url = self.folder_url(Operation::Mkdir, path)?;
        let request = self.request(dav_method(b"MKCOL"), &url);
        let response = self.send(request, Operation::Mkdir, Some(path)).await?;
        if response.status() != StatusCode::METHOD_NOT_ALLOWED {
            return succeeded(response, Operation::Mkdir, path).await.map(drop);
        }
        match self.properties(Operation::Mkdir, path).await? {
            Some(props) if props.collection => Ok(()),
            _ => Err(refusal(Operation::Mkdir, Some(path), response).await),
        }
    }

    /// An error unless `path` is a folder without entries: DELETE removes a collection
    /// with everything in it.
    async fn check_empty_folder(&self, path: &str) -> Result<(), RemoteError> {
        let entries = self.list_folder(path).await.map_err(|error| RemoteError {
            operation: Operation::Delete,
            ..error
        })?;
        match self.properties(Operation::Delete, path).await? {
            Some(props) if !props.collection => Err(RemoteError::new(
                Operation::Delete,
                Some(path),
                "it is a file, not a folder",
            )),
            _ if !entries.is_empty() => Err(RemoteError::new(
                Operation::Delete,
                Some(path),
                "the folder is not empty",
            )),
            _ => Ok(()),
        }
    }

    /// An error unless `path` is a file (or nothing: the server tells).
    async fn check_not_folder(&self, path: &str) -> Result<(), RemoteError> {
        match self.properties(Operation::Delete, path).await? {
            Some(props) if props.collection => Err(RemoteError::new(
                Operation::Delete,
                Some(path),
                "it is a folder, not a file",
            )),
            _ => Ok(()),
        }
    }
}

/// The root's URL: `url` (ending with '/') and the root's segments, encoded.
fn root_url(url: &str, root: &str) -> Result<Url, RemoteError> {
    let joined = match root {
        "" => url.to_string(),
        root => format!("{url}{}/", encode_path(root)),
    };
    Url::parse(&joined).map_err(|error| {
        RemoteError::new(
            Operation::Connect,
            None,
            format!("url {url:?} is not a usable URL: {error}"),
        )
    })
}

fn dav_method(name: &'static [u8]) -> Method {
    Method::from_bytes(name).expect("a WebDAV method name is a valid token")
}

/// `path` with each segment percent-encoded.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The decoded segments of an href's path (`/a/b%20c/` → `a`, `b c`). A segment is split
/// before it is decoded, so an encoded `%2F` stays inside its name (and is refused there).
fn href_segments(path: impl AsRef<str>) -> Vec<String> {
    let path = path.as_ref();
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/')
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect()
}

fn join(folder: &str, name: &str) -> String {
    match folder {
        "" => name.to_string(),
        folder => format!("{folder}/{name}"),
    }
}

/// The entry at `path` with `props`, or why its properties cannot be used.
fn entry(path: String, props: &Props) -> Result<RemoteEntry, String> {
    let mtime = props.modified.as_deref().and_then(http_date);
    if props.collection {
        return Ok(RemoteEntry {
            path,
            kind: Kind::Directory,
            size: 0,
            mtime,
        });
    }
    // A server that leaves the size out (RFC 4918 makes it optional) gets 0: the
    // transfer reads the whole file whatever the listing said.
    let size = match props.length.as_deref() {
        None | Some("") => 0,
        Some(length) => length
            .parse()
            .map_err(|_| format!("the server gave an invalid size ({length:?})"))?,
    };
    Ok(RemoteEntry {
        path,
        kind: Kind::File,
        size,
        mtime,
    })
}

/// `response` if it is a success, else the server's refusal.
async fn succeeded(
    response: Response,
    operation: Operation,
    path: &str,
) -> Result<Response, RemoteError> {
    if response.status().is_success() {
        return Ok(response);
    }
    Err(refusal(operation, Some(path), response).await)
}

/// A refused request: its status and what the server said, cut to
/// [`http::MAX_ERROR_BODY`].
async fn refusal(operation: Operation, path: Option<&str>, mut response: Response) -> RemoteError {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < http::MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(http::MAX_ERROR_BODY);
    http::refused(
        operation,
        path,
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        &String::from_utf8_lossy(&body),
    )
}

/// The responses of a multistatus answer, read up to [`MAX_PROPFIND_BODY`].
async fn read_multistatus(
    mut response: Response,
    operation: Operation,
    path: Option<&str>,
) -> Result<Vec<DavResponse>, RemoteError> {
    let too_large = || {
        let message = format!("the server's answer is larger than {MAX_PROPFIND_BODY} bytes");
        RemoteError::new(operation, path, message)
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_PROPFIND_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| http::unanswered(operation, path, &error))?
    {
        if body.len() + chunk.len() > MAX_PROPFIND_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    multistatus::parse(&body).map_err(|message| RemoteError::new(operation, path, message))
}

/// The body of a GET as a reader.
fn body_reader(response: Response) -> impl AsyncRead + Send + Unpin {
    let stream = response
        .bytes_stream()
        .map_err(|error| io::Error::other(http::chain(&error)));
    StreamReader::new(stream)
}

/// Whether a 206 answer's Content-Range starts at `offset` (`bytes 100-199/200`).
fn range_starts_at(response: &Response, offset: u64) -> bool {
    response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("bytes "))
        .and_then(|range| range.split_once('-'))
        .is_some_and(|(start, _)| start.trim().parse() == Ok(offset))
}

/// Skip the first `offset` bytes of `reader`: for a server that answered a ranged GET
/// with the whole file.
async fn skip<R: AsyncRead + Unpin>(
    mut reader: R,
    offset: u64,
    path: &str,
) -> Result<R, RemoteError> {
    let skipped = tokio::io::copy(&mut (&mut reader).take(offset), &mut tokio::io::sink())
        .await
        .map_err(|error| RemoteError::io(Operation::Read, Some(path), &error))?;
    if skipped < offset {
        let message = format!("cannot read from byte {offset}: the file has only {skipped}");
        return Err(RemoteError::new(Operation::Read, Some(path), message));
    }
    Ok(reader)
}

/// A streamed PUT: written chunks go to the request's body through a channel; shutting
/// down ends the body and waits for the server's answer.
struct Upload {
    chunks: Option<mpsc::Sender<io::Result<Bytes>>>,
    /// Set when the upload is dropped before it is shut down: the body then ends with an
    /// error, so that the server never takes a cut file as complete.
    abandoned: Arc<AtomicBool>,
    answer: JoinHandle<Result<(), RemoteError>>,
    outcome: Option<Result<(), RemoteError>>,
}

impl Upload {
    fn start(remote: &WebDavRemote, url: &str, path: &str) -> Upload {
        let (chunks, queued) = mpsc::channel(UPLOAD_QUEUE);
        let abandoned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&abandoned);
        let ending = futures::stream::once(async move {
            flag.load(Ordering::SeqCst)
                .then(|| Err(io::Error::other("the upload was abandoned")))
        })
        .filter_map(futures::future::ready);
        let body = reqwest::Body::wrap_stream(queued.chain(ending));
        // A server that refuses the upload without reading its body (wsgidav answers 403
        // at once) leaves the connection unfit for the next request: it is not reused.
        let request = remote
            .request(Method::PUT, url)
            .header(reqwest::header::CONNECTION, "close")
            .body(body);
        let path = path.to_string();
        let answer = tokio::spawn(async move {
            let response = request
                .send()
                .await
                .map_err(|error| http::unanswered(Operation::Write, Some(&path), &error))?;
            succeeded(response, Operation::Write, &path).await.map(drop)
        });
        Upload {
            chunks: Some(chunks),
            abandoned,
            answer,
            outcome: None,
        }
    }

    /// The server's answer, once it has come.
    fn poll_answer(&mut self, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.outcome.is_none() {
            let joined = std::task::ready!(Pin::new(&mut self.answer).poll(context));
            self.outcome = Some(joined.unwrap_or_else(|error| {
                Err(RemoteError::new(Operation::Write, None, error.to_string()))
            }));
        }
        Poll::Ready(match &self.outcome {
            Some(Err(error)) => Err(io::Error::other(error.clone())),
            _ => Ok(()),
        })
    }
}

impl AsyncWrite for Upload {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let upload = self.get_mut();
        let Some(chunks) = upload.chunks.as_mut() else {
            return Poll::Ready(Err(io::Error::other("the upload is shut down")));
        };
        let data = &data[..data.len().min(BODY_CHUNK)];
        let sent = match std::task::ready!(chunks.poll_ready(context)) {
            Ok(()) => chunks.start_send(Ok(Bytes::copy_from_slice(data))),
            Err(closed) => Err(closed),
        };
        if sent.is_ok() {
            return Poll::Ready(Ok(data.len()));
        }
        // The request ended before its body did: the server answered (or went away).
        let answered = std::task::ready!(upload.poll_answer(context));
        Poll::Ready(Err(answered.err().unwrap_or_else(|| {
            io::Error::other("the server answered before the upload was complete")
        })))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let upload = self.get_mut();
        // Dropping the sender ends the body.
        upload.chunks = None;
        upload.poll_answer(context)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(chunks) = self.chunks.take() {
            self.abandoned.store(true, Ordering::SeqCst);
            drop(chunks);
        }
    }
}

/// What this transport can do.
pub const CAPABILITIES: Capabilities = Capabilities {
    // getlastmodified is the server's time of the upload, to the second.
    mtimes: Mtimes::UploadTime(Duration::from_secs(1)),
    commit: Commit::Rename,
    folders: Folders::Real,
    resume: Resume::Restart,
};

#[async_trait]
impl Remote for WebDavRemote {
    fn protocol(&self) -> Protocol {
        Protocol::Webdav
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// Breadth first, one PROPFIND of Depth 1 per folder (servers often refuse
    /// Depth: infinity, and one answer for a whole tree would be unbounded).
    async fn list(&self, sink: &mut (dyn FnMut(Listed) + Send)) -> Result<(), RemoteError> {
        let mut waiting = VecDeque::from([String::new()]);
        while let Some(folder) = waiting.pop_front() {
            let found = match self.list_folder(&folder).await {
                Ok(found) => found,
                Err(error) if folder.is_empty() => return Err(error),
                Err(error) => {
                    sink(Listed::Unlisted {
                        path: folder,
                        error,
                    });
                    continue;
                }
            };
            for listed in found {
                if let Listed::Entry(entry) = &listed
                    && entry.kind == Kind::Directory
                {
                    waiting.push_back(entry.path.clone());
                }
                sink(listed);
            }
        }
        Ok(())
    }

    async fn stat(&self, path: &str) -> Result<Option<RemoteEntry>, RemoteError> {
        let Some(props) = self.properties(Operation::Stat, path).await? else {
            return Ok(None);
        };
        entry(path.to_string(), &props)
            .map(Some)
            .map_err(|reason| RemoteError::new(Operation::Stat, Some(path), reason))
    }

    async fn read(&self, path: &str, offset: u64) -> Result<Reader, RemoteError> {
        let url = self.url(Operation::Read, path)?;
        let mut request = self.request(Method::GET, &url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = match self.send_ok(request, Operation::Read, path).await {
            Err(error) if offset > 0 => {
                return super::nothing_past_the_end(self, path, offset, error).await;
            }
            answer => answer?,
        };
        match response.status() {
            StatusCode::PARTIAL_CONTENT if range_starts_at(&response, offset) => {
                Ok(Box::new(body_reader(response)))
            }
            StatusCode::PARTIAL_CONTENT => Err(RemoteError::new(
                Operation::Read,
                Some(path),
                format!("the server answered another range than from byte {offset}"),
            )),
            _ if offset > 0 => Ok(Box::new(skip(body_reader(response), offset, path).await?)),
            _ => Ok(Box::new(body_reader(response))),
        }
    }

    async fn write(&self, path: &str, offset: u64) -> Result<Writer, RemoteError> {
        if offset > 0 {
            return Err(RemoteError::new(
                Operation::Write,
                Some(path),
                "a WebDAV upload cannot continue from the middle: it restarts",
            ));
        }
        let url = self.url(Operation::Write, path)?;
        Ok(Box::new(Upload::start(self, &url, path)))
    }

    async fn put(
        &self,
        path: &str,
        data: Vec<u8>,
        mtime: Option<SystemTime>,
    ) -> Result<(), RemoteError> {
        let url = self.url(Operation::Write, path)?;
        let request = self.request(Method::PUT, &url).body(data);
        self.send_ok(request, Operation::Write, path).await?;
        if let Some(mtime) = mtime {
            self.set_mtime(path, mtime).await?;
        }
        Ok(())
    }

    /// MOVE with `Overwrite: T`: the server replaces `to` in one request, and a server
    /// that refuses leaves `to` as it was (it is never deleted first).
    async fn rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let from_url = self.url(Operation::Rename, from)?;
        let to_url = self.url(Operation::Rename, to)?;
        let destination = HeaderValue::from_str(&to_url)
            .map_err(|error| RemoteError::new(Operation::Rename, Some(to), error.to_string()))?;
        let request = self
            .request(dav_method(b"MOVE"), &from_url)
            .header("Destination", destination)
            .header("Overwrite", "T");
        match self.send_ok(request, Operation::Rename, from).await {
            Ok(_) => Ok(()),
            Err(refused) => Err(self.rename_refused(from, refused).await),
        }
    }

    async fn mkdir_all(&self, path: &str) -> Result<(), RemoteError> {
        check_path(Operation::Mkdir, path)?;
        let components: Vec<&str> = path.split('/').collect();
        let existing = self.existing_depth(&components).await?;
        for depth in existing + 1..=components.len() {
            self.make_folder(&components[..depth].join("/")).await?;
        }
        Ok(())
    }

    async fn delete(&self, path: &str, kind: Kind) -> Result<(), RemoteError> {
        let url = match kind {
            Kind::File => {
                self.check_not_folder(path).await?;
                self.url(Operation::Delete, path)?
            }
            Kind::Directory => {
                self.check_empty_folder(path).await?;
                self.folder_url(Operation::Delete, path)?
            }
        };
        let request = self.request(Method::DELETE, &url);
        self.send_ok(request, Operation::Delete, path)
            .await
            .map(drop)
    }

    /// WebDAV has no standard way to set getlastmodified.
    async fn set_mtime(&self, path: &str, _: SystemTime) -> Result<bool, RemoteError> {
        check_path(Operation::SetMtime, path)?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(url: &str, root: &str) -> WebDavRemote {
        let root_url = root_url(url, root).unwrap();
        let options = crate::config::HttpOptions {
            bind_address: None,
            connect_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            ca_file: None,
        };
        WebDavRemote {
            client: http::client(&options, Operation::Connect).unwrap(),
            root_segments: href_segments(root_url.path()),
            root_url,
            user: None,
            password: None,
        }
    }

    fn answer(href: &str, body: &str) -> DavResponse {
        let xml = format!(
            r#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>{href}</d:href>
            <d:propstat><d:prop>{body}</d:prop><d:status>HTTP/1.1 200 OK</d:status>
            </d:propstat></d:response></d:multistatus>"#
        );
        multistatus::parse(xml.as_bytes()).unwrap().remove(0)
    }

    fn file(href: &str) -> DavResponse {
        answer(
            href,
            "<d:resourcetype/><d:getcontentlength>5</d:getcontentlength>",
        )
    }

    /// What listing `folder` under the root "dav/in box" makes of `response`.
    fn listed_in(folder: &str, response: DavResponse) -> Option<Listed> {
        let remote = remote("http://127.0.0.1:8080/dav/", "in box");
        let mut expected = remote.root_segments.clone();
        expected.extend(
            folder
                .split('/')
                .filter(|part| !part.is_empty())
                .map(String::from),
        );
        remote.listed(folder, &expected, response)
    }

    fn entry_path(listed: Option<Listed>) -> String {
        match listed {
            Some(Listed::Entry(entry)) => entry.path,
            other => panic!("not an entry: {other:?}"),
        }
    }

    fn refusal_reason(listed: Option<Listed>) -> String {
        match listed {
            Some(Listed::Refused { reason, .. }) => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn paths_are_encoded_segment_by_segment_under_the_root() {
        let remote = remote("http://127.0.0.1:8080/dav/", "in box/ü");
        assert_eq!(
            remote.root_url.as_str(),
            "http://127.0.0.1:8080/dav/in%20box/%C3%BC/"
        );
        assert_eq!(remote.root_segments, ["dav", "in box", "ü"]);
        assert_eq!(
            remote.url(Operation::Read, "a b/c?#%.txt").unwrap(),
            "http://127.0.0.1:8080/dav/in%20box/%C3%BC/a%20b/c%3F%23%25.txt"
        );
        assert!(remote.url(Operation::Read, "../x").is_err());
        assert_eq!(
            remote.folder_url(Operation::List, "").unwrap(),
            remote.root_url.as_str()
        );
    }

    #[test]
    fn hrefs_as_paths_or_urls_are_decoded_into_names() {
        let path = entry_path(listed_in("", file("/dav/in%20box/%C3%BCber.txt")));
        assert_eq!(path, "über.txt");
        let url = "http://127.0.0.1:8080/dav/in%20box/sub/a%26b.txt";
        assert_eq!(entry_path(listed_in("sub", file(url))), "sub/a&b.txt");
        let folder = answer(
            "/dav/in%20box/sub/deeper/",
            "<d:resourcetype><d:collection/></d:resourcetype>",
        );
        let Some(Listed::Entry(entry)) = listed_in("sub", folder) else {
            panic!("a folder is an entry");
        };
        assert_eq!(
            (entry.path.as_str(), entry.kind),
            ("sub/deeper", Kind::Directory)
        );
    }

    #[test]
    fn the_folder_itself_is_skipped() {
        assert!(listed_in("", file("/dav/in%20box/")).is_none());
        assert!(listed_in("sub", file("http://127.0.0.1:8080/dav/in%20box/sub")).is_none());
    }

    #[test]
    fn an_encoded_slash_stays_in_the_name_and_is_refused() {
        let reason = refusal_reason(listed_in("", file("/dav/in%20box/a%2Fb")));
        assert!(reason.contains("'/'"), "{reason}");
        let reason = refusal_reason(listed_in("", file("/dav/in%20box/%2E%2E")));
        assert!(reason.contains("relative folder"), "{reason}");
    }

    #[test]
    fn hrefs_outside_the_folder_asked_are_refused() {
        for href in [
            "/dav/in%20box/../../etc/passwd",
            "/etc/passwd",
            "/dav/other/x",
            "http://127.0.0.1:8080/dav/in%20box/../x",
            "relative/x",
        ] {
            let reason = refusal_reason(listed_in("sub", file(href)));
            assert!(
                reason.contains("folder asked") || reason.contains("host"),
                "{href}: {reason}"
            );
        }
        let reason = refusal_reason(listed_in("", file("http://evil.example/dav/in%20box/x")));
        assert!(reason.contains("another host"), "{reason}");
        let reason = refusal_reason(listed_in("", file("/dav/in%20box/a/b")));
        assert!(reason.contains("below"), "{reason}");
    }

    #[test]
    fn a_missing_size_is_zero_and_an_invalid_one_is_refused() {
        let bare = answer("/dav/in%20box/f", "<d:resourcetype/>");
        let Some(Listed::Entry(entry)) = listed_in("", bare) else {
            panic!("a file without a size is an entry");
        };
        assert_eq!((entry.kind, entry.size, entry.mtime), (Kind::File, 0, None));
        let negative = answer(
            "/dav/in%20box/f",
            "<d:getcontentlength>-1</d:getcontentlength>",
        );
        assert!(refusal_reason(listed_in("", negative)).contains("invalid size"));
        let no_props = multistatus::parse(
            br#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/dav/in%20box/g</d:href>
            <d:status>HTTP/1.1 404 Not Found</d:status></d:response></d:multistatus>"#,
        )
        .unwrap()
        .remove(0);
        assert!(refusal_reason(listed_in("", no_props)).contains("none of its properties"));
    }
}
