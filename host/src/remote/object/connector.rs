//! What object_store's requests go through: ferry's own client (see [`http::client`]),
//! with a Retry-After honoured, and every listing read here first. object_store cannot
//! name every key a store may hold — an empty segment (`a//b`), a `.` or `..` segment, a
//! control character — and one such key fails its whole listing page; a folder marker
//! (a key ending in `/`, as consoles make) it takes for a file. Such entries are taken
//! out of the listing's XML before object_store reads it, and handed to the transport's
//! listing as [`OddKey`]s, so that one odd key refuses only itself.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::path::Path as Key;

use crate::remote::http;

/// The largest listing page read (S3 and Azure send at most 1,000 entries a page).
const MAX_LISTING_PAGE: usize = 64 << 20;

/// A key taken out of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OddKey {
    /// A key that is no plain path, with why.
    Unnamable { key: String, reason: String },
    /// A folder marker: the key of the folder, without its trailing `/`.
    Marker { key: String },
}

/// What the listing pages since the last [`take`](Self::take) held: their odd keys, and
/// the continuation tokens they named (a store that names one twice would be listed
/// forever: that listing fails instead).
#[derive(Debug, Default)]
pub struct OddKeys(Mutex<(Vec<OddKey>, HashSet<String>)>);

impl OddKeys {
    /// `page` without its odd keys, which are kept; an error if it names a next page
    /// named before.
    fn admit(&self, page: &str, entry: Entry) -> Result<String, String> {
        let mut odd = Vec::new();
        let kept = take_out_odd(page, entry, &mut odd);
        let mut pages = self.0.lock().unwrap();
        if let Some(token) = http::xml_element(page, entry.next_page)
            && !pages.1.insert(token.clone())
        {
            return Err(format!("the store named the listing page {token:?} twice"));
        }
        pages.0.extend(odd);
        Ok(kept)
    }

    /// The odd keys so far; the tokens are forgotten (a new listing begins).
    pub fn take(&self) -> Vec<OddKey> {
        let mut pages = self.0.lock().unwrap();
        pages.1.clear();
        std::mem::take(&mut pages.0)
    }
}

/// Hands object_store our client.
#[derive(Debug)]
pub struct Connector {
    pub client: reqwest::Client,
    pub odd_keys: Arc<OddKeys>,
}

impl HttpConnector for Connector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(Service {
            client: self.client.clone(),
            odd_keys: Arc::clone(&self.odd_keys),
        }))
    }
}

#[derive(Debug)]
struct Service {
    client: reqwest::Client,
    odd_keys: Arc<OddKeys>,
}

#[async_trait]
impl HttpService for Service {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let listing = is_listing(&request);
        let mut attempt = 0;
        let response = loop {
            let response = HttpService::call(&self.client, copy(&request)).await?;
            match http::retry_after(response.status(), response.headers()) {
                Some(wait) if attempt < http::RETRY_AFTER_ATTEMPTS => {
                    tracing::info!("the server asked to retry in {}s", wait.as_secs());
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => break response,
            }
        };
        match listing.filter(|_| response.status().is_success()) {
            Some(entry) => self.without_odd_keys(response, entry).await,
            None => Ok(response),
        }
    }
}

impl Service {
    /// `response` (a listing page) with its odd keys taken out and kept.
    async fn without_odd_keys(
        &self,
        response: HttpResponse,
        entry: Entry,
    ) -> Result<HttpResponse, HttpError> {
        let (parts, body) = response.into_parts();
        let page = read_bounded(body).await?;
        let text = String::from_utf8(page.to_vec())
            .map_err(|error| HttpError::new(HttpErrorKind::Decode, error))?;
        let kept = self.odd_keys.admit(&text, entry).map_err(|message| {
            HttpError::new(HttpErrorKind::Decode, std::io::Error::other(message))
        })?;
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::from(kept),
        ))
    }
}

async fn read_bounded(body: HttpResponseBody) -> Result<Bytes, HttpError> {
    let mut stream = body.bytes_stream();
    let mut page = Vec::new();
    while let Some(chunk) = stream.next().await {
        page.extend_from_slice(&chunk?);
        if page.len() > MAX_LISTING_PAGE {
            let message = format!("a listing page larger than {MAX_LISTING_PAGE} bytes");
            return Err(HttpError::new(
                HttpErrorKind::Decode,
                std::io::Error::other(message),
            ));
        }
    }
    Ok(Bytes::from(page))
}

/// The element of one entry of a listing, and the element of its key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    element: &'static str,
    key: &'static str,
    /// The element naming the next page.
    next_page: &'static str,
}

const S3_ENTRY: Entry = Entry {
    element: "Contents",
    key: "Key",
    next_page: "NextContinuationToken",
};
const AZURE_ENTRY: Entry = Entry {
    element: "Blob",
    key: "Name",
    next_page: "NextMarker",
};

/// Which listing `request` asks for: S3's ListObjectsV2 or Azure's List Blobs.
fn is_listing(request: &HttpRequest) -> Option<Entry> {
    if request.method() != reqwest::Method::GET {
        return None;
    }
    let query = request.uri().query().unwrap_or_default();
    let has = |pair: &str| query.split('&').any(|part| part == pair);
    if has("list-type=2") {
        Some(S3_ENTRY)
    } else if has("comp=list") {
        Some(AZURE_ENTRY)
    } else {
        None
    }
}

/// `page` without the entries whose key object_store cannot name or that are folder
/// markers; those are added to `odd`.
fn take_out_odd(page: &str, entry: Entry, odd: &mut Vec<OddKey>) -> String {
    let (open, close) = (
        format!("<{}>", entry.element),
        format!("</{}>", entry.element),
    );
    let mut kept = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let Some(length) = rest[start..].find(&close) else {
            break;
        };
        let end = start + length + close.len();
        kept.push_str(&rest[..start]);
        match http::xml_element(&rest[start..end], entry.key).and_then(odd_key) {
            Some(key) => odd.push(key),
            None => kept.push_str(&rest[start..end]),
        }
        rest = &rest[end..];
    }
    kept.push_str(rest);
    kept
}

/// What `key` is, if it is odd.
fn odd_key(key: String) -> Option<OddKey> {
    if let Some(folder) = key.strip_suffix('/')
        && Key::parse(folder).is_ok()
    {
        return Some(OddKey::Marker {
            key: folder.to_string(),
        });
    }
    match Key::parse(&key) {
        Ok(_) => None,
        Err(error) => Some(OddKey::Unnamable {
            reason: http::chain(&error),
            key,
        }),
    }
}

/// A copy of `request` to send again (its body is shared bytes).
fn copy(request: &HttpRequest) -> HttpRequest {
    let mut copied = HttpRequest::new(request.body().clone());
    *copied.method_mut() = request.method().clone();
    *copied.uri_mut() = request.uri().clone();
    *copied.headers_mut() = request.headers().clone();
    *copied.version_mut() = request.version();
    copied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_naming_a_next_page_twice_fails_the_listing() {
        let page = "<ListBucketResult><Contents><Key>r/a</Key></Contents>\
            <NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        let pages = OddKeys::default();
        assert!(pages.admit(page, S3_ENTRY).is_ok());
        let again = pages.admit(page, S3_ENTRY).unwrap_err();
        assert!(again.contains("\"t1\" twice"), "{again}");
        pages.take();
        assert!(
            pages.admit(page, S3_ENTRY).is_ok(),
            "a new listing starts afresh"
        );
    }

    #[test]
    fn odd_keys_are_taken_out_of_a_listing_page_and_the_rest_kept() {
        let page = "<ListBucketResult><Name>b</Name>\
            <Contents><Key>r/ok.txt</Key><Size>2</Size></Contents>\
            <Contents><Key>r/a//b</Key><Size>1</Size></Contents>\
            <Contents><Key>r/folder/</Key><Size>0</Size></Contents>\
            <Contents><Key>r/x &amp; y</Key><Size>1</Size></Contents>\
            <Contents><Key>r/bell\u{7}</Key><Size>1</Size></Contents>\
            <IsTruncated>false</IsTruncated></ListBucketResult>";
        let mut odd = Vec::new();
        let kept = take_out_odd(page, S3_ENTRY, &mut odd);
        assert_eq!(
            kept,
            "<ListBucketResult><Name>b</Name>\
             <Contents><Key>r/ok.txt</Key><Size>2</Size></Contents>\
             <Contents><Key>r/x &amp; y</Key><Size>1</Size></Contents>\
             <IsTruncated>false</IsTruncated></ListBucketResult>"
        );
        let keys: Vec<String> = odd
            .iter()
            .map(|key| match key {
                OddKey::Unnamable { key, .. } => format!("unnamable {key}"),
                OddKey::Marker { key } => format!("marker {key}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "unnamable r/a//b",
                "marker r/folder",
                "unnamable r/bell\u{7}"
            ]
        );
    }
}
