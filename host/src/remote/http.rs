//! What every HTTP remote shares: the one client (bind address, timeouts, private CA,
//! Retry-After honoured) and what a failed request tells (status, the store's error code,
//! the OS error under a failed connection).

use std::error::Error as StdError;
use std::sync::Once;
use std::time::Duration;

use reqwest::StatusCode;

use super::RemoteError;
use crate::bounded::read_regular_file;
use crate::config::HttpOptions;
use crate::plugin::{ErrorCode, Operation};

/// The longest Retry-After a request waits for before it is retried; a longer one is the
/// caller's to classify (the plugin says when to try again).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How often one request is resent after a 429 or 503 that named a Retry-After.
pub const RETRY_AFTER_ATTEMPTS: usize = 3;
/// The largest CA bundle read.
const MAX_CA_FILE: u64 = 4 << 20;
/// The most of an error response's body kept.
pub const MAX_ERROR_BODY: usize = 16 * 1024;

/// The client for one remote: it leaves from `bind_address`, gives up connecting after
/// `connect_timeout` and waiting for bytes after `idle_timeout`, trusts `ca_file`'s CAs
/// besides the system's, and follows no redirect (a redirect is reported, not followed
/// with the credentials).
pub fn client(options: &HttpOptions, operation: Operation) -> Result<reqwest::Client, RemoteError> {
    static CRYPTO: Once = Once::new();
    CRYPTO.call_once(|| {
        // ring, as russh uses: no second crypto library built from C (aws-lc). rustls
        // 0.23.48 marks it deprecated for lacking post-quantum key exchange. Another part
        // of the process may have installed a provider already; either serves.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.idle_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .local_address(options.bind_address);
    if let Some(ca_file) = &options.ca_file {
        let pem = read_regular_file(ca_file, MAX_CA_FILE).map_err(|error| {
            RemoteError::new(
                operation,
                None,
                format!("cannot read ca_file {ca_file:?}: {error}"),
            )
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            RemoteError::new(
                operation,
                None,
                format!("ca_file {ca_file:?} holds no usable PEM certificates: {error}"),
            )
        })?;
        builder = builder.tls_certs_merge(certificates);
    }
    builder
        .build()
        .map_err(|error| RemoteError::new(operation, None, format!("cannot set up HTTP: {error}")))
}

/// The wait a 429 or 503 response asks for, if it names one in seconds within bounds.
pub fn retry_after(status: StatusCode, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds)).filter(|wait| *wait <= MAX_RETRY_AFTER)
}

/// A refused request as the plugin sees it: the HTTP status as the code and a message
/// that starts with the store's own error code where its body names one
/// (`AccessDenied: Access Denied`).
pub fn refused(
    operation: Operation,
    path: Option<&str>,
    status: u16,
    reason: &str,
    body: &str,
) -> RemoteError {
    let code = xml_element(body, "Code").map(|code| code.trim().to_string());
    let detail = xml_element(body, "Message").map(|message| {
        message
            .trim()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    });
    let message = match (code, detail) {
        (Some(code), Some(detail)) => format!("{code}: {detail} (HTTP {status} {reason})"),
        (Some(code), None) => format!("{code} (HTTP {status} {reason})"),
        _ => format!("HTTP {status} {reason}"),
    };
    RemoteError::new(operation, path, message).with_code(ErrorCode::HttpStatus(status))
}

/// The text of the first `<NAME>…</NAME>` in `xml` (an error body, a listing page),
/// unescaped, as it is; none when empty.
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let start = xml.find(&open)? + open.len();
    let length = xml[start..].find(&close)?;
    let text = quick_xml::escape::unescape(&xml[start..start + length]).ok()?;
    (!text.trim().is_empty()).then(|| text.into_owned())
}

/// A request that got no answer: the OS error under it (refused, unreachable, timed out)
/// as an errno where there is one, and every cause in the message.
pub fn unanswered(
    operation: Operation,
    path: Option<&str>,
    error: &(dyn StdError + 'static),
) -> RemoteError {
    let errno = causes(error).find_map(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
    });
    let timed_out = causes(error).any(|cause| {
        cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
    });
    let mut message = chain(error);
    if timed_out && !message.contains("timed out") {
        message.push_str(" (timed out)");
    }
    let error = RemoteError::new(operation, path, message);
    match errno.or(timed_out.then_some(ETIMEDOUT)) {
        Some(errno) => error.with_code(ErrorCode::Errno(errno)),
        None => error,
    }
}

/// ETIMEDOUT on Linux, the errno a timed-out request is reported with.
const ETIMEDOUT: i32 = 110;

/// `error` and every error under it.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// Every distinct message of `error`'s chain, joined with ": ".
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for cause in causes(error) {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

/// An object_store error as a raw error. object_store 0.14.2 keeps a refused request's
/// status only in its text ("…non-2xx status code: 403 Forbidden: BODY"): it is read
/// here, in one place, and a test fails when the text changes.
pub fn store_error(
    operation: Operation,
    path: Option<&str>,
    error: &object_store::Error,
) -> RemoteError {
    let text = chain(error);
    match status_in(&text) {
        Some((status, reason, body)) => refused(operation, path, status, reason, body),
        None => match bulk_code_in(&text) {
            Some(code) => bulk_refused(operation, path, code, &text),
            None => unanswered(operation, path, error),
        },
    }
}

const BULK_CODE_MARK: &str = "(code: ";

/// The code a bulk delete reported per key ("… Access Denied (code: AccessDenied)" from
/// S3's DeleteObjects, "(code: 403)" from Azure's batch): object_store 0.14.2 keeps it
/// only in its text.
fn bulk_code_in(text: &str) -> Option<&str> {
    let start = text.rfind(BULK_CODE_MARK)? + BULK_CODE_MARK.len();
    let length = text[start..].find(')')?;
    Some(&text[start..start + length]).filter(|code| !code.is_empty())
}

/// A key a bulk delete refused: the status where the code is one (Azure) or names one
/// (S3's codes for what a DELETE answers), the store's code leading the message.
fn bulk_refused(operation: Operation, path: Option<&str>, code: &str, text: &str) -> RemoteError {
    let status = code.parse().ok().or(match code {
        "AccessDenied" | "AllAccessDisabled" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            Some(403)
        }
        "NoSuchKey" | "NoSuchBucket" => Some(404),
        "SlowDown" | "ServiceUnavailable" => Some(503),
        "InternalError" => Some(500),
        _ => None,
    });
    let error = RemoteError::new(operation, path, format!("{code}: {text}"));
    match status {
        Some(status) => error.with_code(ErrorCode::HttpStatus(status)),
        None => error,
    }
}

const STATUS_MARK: &str = "status code: ";

/// The status, its reason phrase and the body after it, from object_store's text.
fn status_in(text: &str) -> Option<(u16, &str, &str)> {
    let rest = &text[text.find(STATUS_MARK)? + STATUS_MARK.len()..];
    let status = rest.get(..3)?.parse().ok()?;
    let after = rest[3..].trim_start();
    let (reason, body) = after.split_once(':').unwrap_or((after, ""));
    Some((status, reason.trim(), body.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_code_and_message_lead_a_refusal() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let error = refused(Operation::Write, Some("a"), 403, "Forbidden", body);
        assert_eq!(error.code, Some(ErrorCode::HttpStatus(403)));
        assert_eq!(
            error.message,
            "AccessDenied: Access Denied (HTTP 403 Forbidden)"
        );
        let bare = refused(Operation::Stat, Some("a"), 404, "Not Found", "");
        assert_eq!(bare.message, "HTTP 404 Not Found");
    }

    #[test]
    fn a_bulk_deletes_code_gives_the_status() {
        let s3 = "Generic S3 error: DeleteObjects request failed for key r/a: Access Denied (code: AccessDenied)";
        let azure = "Object at location r/x not found: Bulk delete request failed (code: 404)";
        assert_eq!(bulk_code_in(s3), Some("AccessDenied"));
        let refused = bulk_refused(Operation::Delete, Some("a"), "AccessDenied", s3);
        assert_eq!(refused.code, Some(ErrorCode::HttpStatus(403)));
        assert!(
            refused.message.starts_with("AccessDenied: "),
            "{}",
            refused.message
        );
        let missing = bulk_refused(
            Operation::Delete,
            Some("x"),
            bulk_code_in(azure).unwrap(),
            azure,
        );
        assert_eq!(missing.code, Some(ErrorCode::HttpStatus(404)));
    }

    #[test]
    fn retry_after_is_read_only_from_429_and_503_within_bounds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(StatusCode::INTERNAL_SERVER_ERROR, &headers),
            None
        );
        headers.insert(reqwest::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &headers), None);
    }
}
