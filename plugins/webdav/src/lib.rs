//! The `webdav` policy: WebDAV servers (RFC 4918).
//!
//! Source: RFC 4918 (the statuses a WebDAV server answers: 207, 405 for MKCOL on an
//! existing resource, 409 for a missing parent collection (§9.7.1 PUT, §9.3.1 MKCOL), 412
//! for MOVE without `Overwrite: T` onto an existing resource (§9.9.4), 423 Locked, 507
//! Insufficient Storage) and RFC 9110 (401, 403, 413, 429, 503). Names: WebDAV itself
//! forbids nothing but `/` (the href's separator, which ferry percent-encodes with
//! everything else); most servers (Apache mod_dav, nginx, wsgidav, Nextcloud, SabreDAV)
//! store files on a POSIX file system, so NUL is refused and a name is at most 255 bytes of
//! UTF-8. A server on Windows (IIS) needs the windows-smb rules instead.

use ferry_policy_kit::{Category, ErrorCode, KnownError, Operation, Policy, Retry, Rules};

pub struct WebDav;

impl Policy for WebDav {
    const NAME: &'static str = "webdav";
    const DESCRIPTION: &'static str = "WebDAV servers storing on a POSIX file system (Apache \
        mod_dav, nginx, wsgidav, Nextcloud/ownCloud, SabreDAV): names without / or NUL, at \
        most 255 bytes of UTF-8. Statuses read as RFC 4918 defines them: 409 a missing parent \
        folder, 412 a refused overwrite, 423 a lock held, 507 a full store. Source: RFC 4918 \
        and RFC 9110.";
    const REMOTE_KINDS: &'static [&'static str] = &["webdav"];
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: Some(ErrorCode::HttpStatus(401)),
            operations: &[],
            message_has: &[],
            category: Category::Auth,
            retry: Retry::NextRun,
            advice: Some(
                "The WebDAV server refused the credentials (401 Unauthorized). Check `user =` \
                 and the password (`password_env =`) for this remote with the partner.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(403)),
            operations: &[],
            message_has: &[],
            category: Category::Permission,
            retry: Retry::Never,
            advice: Some(
                "The WebDAV server forbids this to the account (403 Forbidden): the folder may \
                 be read-only for it. Ask the partner for write access to the remote root.",
            ),
        },
        // A method the server does not allow on this path: a read-only share answers a
        // write so (`rclone serve webdav --read-only` answers MKCOL and DELETE with 405).
        // The transport tells an existing folder's 405 on MKCOL apart itself.
        KnownError {
            code: Some(ErrorCode::HttpStatus(405)),
            operations: &[
                Operation::Write,
                Operation::Mkdir,
                Operation::Delete,
                Operation::Rename,
            ],
            message_has: &[],
            category: Category::Permission,
            retry: Retry::Never,
            advice: Some(
                "The WebDAV server does not allow this request here (405 Method Not Allowed), as \
                 a read-only share answers a write. Ask the partner for write access to the \
                 remote root.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(404)),
            operations: &[Operation::Write, Operation::Mkdir],
            message_has: &[],
            category: Category::NotFound,
            retry: Retry::NextRun,
            advice: Some(
                "The WebDAV server has no folder here (404 Not Found): a folder on the path \
                 was removed during the run. The next run makes it again.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(409)),
            operations: &[Operation::Write, Operation::Mkdir, Operation::Rename],
            message_has: &[],
            category: Category::NotFound,
            retry: Retry::NextRun,
            advice: Some(
                "A parent folder is missing on the WebDAV server (409 Conflict). ferry makes \
                 folders before it writes into them, so one was removed during the run; the \
                 next run makes it again.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(412)),
            operations: &[],
            message_has: &[],
            category: Category::Permission,
            retry: Retry::Never,
            advice: Some(
                "The WebDAV server refused a precondition (412 Precondition Failed): it does \
                 not let a file be replaced by a move (Overwrite: T). The file there is kept; \
                 ask the partner to allow overwriting, or remove it on the server.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(413)),
            operations: &[],
            message_has: &[],
            category: Category::InvalidSize,
            retry: Retry::Never,
            advice: Some(
                "The WebDAV server refused the upload's size (413 Content Too Large): it caps \
                 the size of a request. Ask the partner for its limit and set max_size to it; \
                 the file is not retried until it changes.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(423)),
            operations: &[],
            message_has: &[],
            category: Category::RemoteUnavailable,
            retry: Retry::NextRun,
            advice: Some(
                "Someone holds a WebDAV lock on this file or folder (423 Locked), often an \
                 application that has it open. The next run tries again.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(507)),
            operations: &[],
            message_has: &[],
            category: Category::Quota,
            retry: Retry::NextRun,
            advice: Some(
                "The WebDAV server is out of space or over the account's quota (507 \
                 Insufficient Storage). Ask the partner to free or raise it.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(429)),
            operations: &[],
            message_has: &[],
            category: Category::RemoteUnavailable,
            retry: Retry::Now,
            advice: None,
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(503)),
            operations: &[],
            message_has: &[],
            category: Category::RemoteUnavailable,
            retry: Retry::Now,
            advice: None,
        },
    ];

    fn default_rules() -> Rules {
        Rules::posix()
    }
}

ferry_policy_kit::export_policy!(WebDav);
