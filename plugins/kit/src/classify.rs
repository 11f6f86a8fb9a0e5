//! A generic reading of raw errors, by code first and by message where no code helps, and
//! the [`KnownError`]s a plugin reads before it.

use crate::{Category, Classification, ErrorCode, Operation, RawError, Retry};

/// The operations that send a name the remote may refuse.
pub const NAMING_OPERATIONS: &[Operation] =
    &[Operation::Write, Operation::Rename, Operation::Mkdir];

/// A server's characteristic answer to something, and what it means.
pub struct KnownError {
    /// The code it comes with; `None` for any code or none.
    pub code: Option<ErrorCode>,
    /// The operations it answers; empty for any.
    pub operations: &'static [Operation],
    /// Texts of which the message contains one, compared without ASCII case; empty for any
    /// message.
    pub message_has: &'static [&'static str],
    /// What kind of failure it is.
    pub category: Category,
    /// When to try again.
    pub retry: Retry,
    /// What to do, in this server's terms; `None` for the generic advice of `category`.
    pub advice: Option<&'static str>,
}

impl KnownError {
    fn matches(&self, error: &RawError) -> bool {
        let message = error.message.to_ascii_lowercase();
        self.code
            .is_none_or(|code| error.code.is_some_and(|given| same_code(code, given)))
            && (self.operations.is_empty() || self.operations.contains(&error.operation))
            && (self.message_has.is_empty()
                || self
                    .message_has
                    .iter()
                    .any(|text| message.contains(&text.to_ascii_lowercase())))
    }
}

fn same_code(a: ErrorCode, b: ErrorCode) -> bool {
    match (a, b) {
        (ErrorCode::Errno(a), ErrorCode::Errno(b)) => a == b,
        (ErrorCode::SftpStatus(a), ErrorCode::SftpStatus(b)) => a == b,
        (ErrorCode::HttpStatus(a), ErrorCode::HttpStatus(b)) => a == b,
        _ => false,
    }
}

/// What to do when connections cannot leave from the configured `bind_address`.
const BIND_ADDRESS_ADVICE: &str = "Connections cannot leave from an address this machine does \
    not have. Set `bind_address =` to one of its addresses (`ip address` lists them) — the one \
    the partner allows — or remove it to let the system choose.";

/// Problems of this end's own configuration, which the host names in its message (a
/// missing remote root, local folder or key file, a `bind_address` this machine does not
/// have, a path over the local `max_path_length`): permanent until the config or the path
/// changes, whatever the code says, and read before any server's known errors.
const CONFIGURATION: &[KnownError] = &[
    KnownError {
        code: None,
        operations: &[Operation::List],
        message_has: &["the remote root "],
        category: Category::NotFound,
        retry: Retry::Never,
        advice: Some(
            "The folder set as `root =` for this remote is missing on the server. Check the \
             path with the partner and correct `root =` in the config, or have the folder \
             created.",
        ),
    },
    KnownError {
        code: None,
        operations: &[Operation::List],
        message_has: &["the folder to test, "],
        category: Category::NotFound,
        retry: Retry::Never,
        advice: Some(
            "Give `ferry doctor` a folder that exists, relative to the remote's root (`root =`).",
        ),
    },
    KnownError {
        code: None,
        operations: &[],
        message_has: &["the local folder "],
        category: Category::NotFound,
        retry: Retry::Never,
        advice: Some(
            "The folder set as `path =` for this local remote does not exist. Correct `path =` \
             in the config, or create the folder (mount it, if it is a share).",
        ),
    },
    KnownError {
        code: None,
        operations: &[Operation::Authenticate],
        message_has: &["key file "],
        category: Category::Auth,
        retry: Retry::Never,
        advice: Some(
            "The file set as `key_file =` for this remote does not exist. Correct `key_file =` \
             in the config, or put the private key there.",
        ),
    },
    KnownError {
        code: None,
        operations: &[Operation::Connect],
        message_has: &["is not an address of this machine"],
        category: Category::Connectivity,
        retry: Retry::Never,
        advice: Some(BIND_ADDRESS_ADVICE),
    },
    // The same over HTTP: the client could not bind the connection's local address
    // (EADDRNOTAVAIL), which only a bind_address makes it try.
    KnownError {
        code: Some(ErrorCode::Errno(99)),
        operations: &[],
        message_has: &["tcp bind local error"],
        category: Category::Connectivity,
        retry: Retry::Never,
        advice: Some(BIND_ADDRESS_ADVICE),
    },
    KnownError {
        code: None,
        operations: &[],
        message_has: &["(max_path_length)"],
        category: Category::InvalidName,
        retry: Retry::Never,
        advice: Some(
            "The full path on this machine would be longer than the local limit. Shorten the \
             folder names or the file name, or raise `max_path_length =` for this local remote \
             if its file system takes longer paths.",
        ),
    },
];

/// Classify `error` by the first of `known` that matches it, else as [`classify`] does.
pub fn classify_with(known: &[KnownError], error: &RawError) -> Classification {
    let Some(known) = CONFIGURATION
        .iter()
        .chain(known)
        .find(|known| known.matches(error))
    else {
        return classify(error);
    };
    Classification {
        category: known.category,
        retry: known.retry,
        advice: known
            .advice
            .map_or_else(|| advice(known.category, error), str::to_string),
    }
}

/// Classify `error` from its code, its operation and its message.
pub fn classify(error: &RawError) -> Classification {
    let (category, retry) = by_code(error)
        .or_else(|| by_message(&error.message))
        .unwrap_or_else(|| by_operation(error.operation));
    Classification {
        category,
        retry,
        advice: advice(category, error),
    }
}

fn by_code(error: &RawError) -> Option<(Category, Retry)> {
    match error.code? {
        ErrorCode::Errno(errno) => by_errno(errno, error.operation),
        ErrorCode::SftpStatus(status) => by_sftp_status(status),
        ErrorCode::HttpStatus(status) => by_http_status(status),
    }
}

fn by_errno(errno: i32, operation: Operation) -> Option<(Category, Retry)> {
    use Category::*;
    Some(match errno {
        1 | 13 => (Permission, Retry::Never),   // EPERM, EACCES
        2 | 20 => (NotFound, Retry::NextRun),   // ENOENT, ENOTDIR
        4 | 11 => (Unknown, Retry::Now),        // EINTR, EAGAIN
        27 => (InvalidSize, Retry::Never),      // EFBIG
        28 | 122 => (Quota, Retry::NextRun),    // ENOSPC, EDQUOT
        36 | 84 => (InvalidName, Retry::Never), // ENAMETOOLONG, EILSEQ
        22 if operation != Operation::Connect => (InvalidName, Retry::Never), // EINVAL
        // A reset or a closed connection before the server speaks is how many
        // firewalls and allow-lists refuse an address they do not know.
        104 | 32 if operation == Operation::Connect => (IpAllowlist, Retry::NextRun),
        // A connection lost mid-run: the next run reconnects and resumes where this stopped.
        104 | 32 | 103 => (Connectivity, Retry::NextRun), // ECONNRESET, EPIPE, ECONNABORTED
        110 => (Timeout, Retry::NextRun),                 // ETIMEDOUT
        111 | 113 | 101 | 99 => (Connectivity, Retry::NextRun), // refused, unreachable, no address
        _ => return None,
    })
}

fn by_sftp_status(status: u32) -> Option<(Category, Retry)> {
    use Category::*;
    Some(match status {
        2 | 10 => (NotFound, Retry::NextRun), // NO_SUCH_FILE, NO_SUCH_PATH
        3 | 12 => (Permission, Retry::Never), // PERMISSION_DENIED, WRITE_PROTECT
        6 | 7 => (Connectivity, Retry::Now),  // NO_CONNECTION, CONNECTION_LOST
        14 | 15 => (Quota, Retry::NextRun),   // NO_SPACE_ON_FILESYSTEM, QUOTA_EXCEEDED
        20 => (InvalidName, Retry::Never),    // INVALID_FILENAME
        _ => return None,
    })
}

fn by_http_status(status: u16) -> Option<(Category, Retry)> {
    use Category::*;
    Some(match status {
        401 => (Auth, Retry::NextRun),
        403 => (Permission, Retry::Never),
        404 | 410 => (NotFound, Retry::NextRun),
        408 => (Timeout, Retry::Now),
        413 => (InvalidSize, Retry::Never),
        414 => (InvalidName, Retry::Never),
        423 => (RemoteUnavailable, Retry::NextRun),
        429 | 500 | 502 | 503 => (RemoteUnavailable, Retry::Now),
        504 => (Timeout, Retry::Now),
        507 => (Quota, Retry::NextRun),
        _ => return None,
    })
}

fn by_message(message: &str) -> Option<(Category, Retry)> {
    use Category::*;
    let message = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
    Some(
        if has(&["host key"]) || is_untrusted_certificate(&message) {
            // The server failed to prove who it is: a matter of trust, not of the network.
            (Auth, Retry::NextRun)
        } else if is_unresolved(&message) {
            (Connectivity, Retry::NextRun)
        } else if has(&["timed out", "timeout"]) {
            (Timeout, Retry::NextRun)
        } else if has(&["quota", "no space", "disk full", "insufficient storage"]) {
            (Quota, Retry::NextRun)
        } else if has(&[
            "permission denied",
            "access denied",
            "forbidden",
            "not authorized",
        ]) {
            (Permission, Retry::Never)
        } else if has(&[
            "name too long",
            "invalid name",
            "invalid file name",
            "invalid filename",
            "illegal character",
        ]) {
            (InvalidName, Retry::Never)
        } else if has(&["too large", "file size", "entity too large"]) {
            (InvalidSize, Retry::Never)
        } else if has(&["no such file", "not found", "does not exist"]) {
            (NotFound, Retry::NextRun)
        } else if has(&["authentication", "auth fail", "password", "publickey"]) {
            (Auth, Retry::NextRun)
        } else if has(&[
            "connection refused",
            "unreachable",
            "connection reset",
            "broken pipe",
            "connection ended",
            "connection has ended",
            "session closed",
            "early eof",
            "sender dropped",
        ]) {
            (Connectivity, Retry::NextRun)
        } else {
            return None;
        },
    )
}

/// A host name that could not be resolved (hyper's "dns error", getaddrinfo's words).
fn is_unresolved(message: &str) -> bool {
    [
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// A TLS server whose certificate is not trusted (rustls' "invalid peer certificate").
fn is_untrusted_certificate(message: &str) -> bool {
    ["invalid peer certificate", "certificate verify failed"]
        .iter()
        .any(|words| message.contains(words))
}

fn by_operation(operation: Operation) -> (Category, Retry) {
    match operation {
        Operation::Connect => (Category::Connectivity, Retry::NextRun),
        Operation::Authenticate => (Category::Auth, Retry::NextRun),
        _ => (Category::Unknown, Retry::NextRun),
    }
}

fn advice(category: Category, error: &RawError) -> String {
    let from = error
        .local_address
        .as_deref()
        .map(|address| format!(" Connections leave from {address}."))
        .unwrap_or_default();
    let message = error.message.to_ascii_lowercase();
    match category {
        Category::Auth if message.contains("revoked host key") => {
            "known_hosts marks the key this server offered as revoked: it must never be accepted. \
             Do not connect until the partner confirms the server's current key through another \
             channel; then replace the entry the message names."
                .to_string()
        }
        Category::Auth if message.contains("host key") => {
            "The server's host key is unknown or differs from the one on record. Confirm its \
             fingerprint with the partner, then add it to known_hosts as the message shows; a key \
             that changed without notice can also mean someone is in between."
                .to_string()
        }
        Category::Auth if is_untrusted_certificate(&message) => {
            "The server's TLS certificate is not trusted by this machine (expired, for another \
             name, or issued by a private CA). Confirm with the partner which CA signs it; for a \
             private CA, name its PEM bundle in ca_file on the remote."
                .to_string()
        }
        Category::Connectivity if is_unresolved(&message) => {
            "The server's host name could not be resolved. Check the host, endpoint or url of the \
             remote for a typo, and that this machine's DNS resolves it (a name that exists only \
             inside the partner's network does not resolve from here)."
                .to_string()
        }
        Category::Auth => format!(
            "Check the user name, key or password for this remote. If they are right, the server may \
             also allow only known addresses: ask its administrator to allow yours.{from}"
        ),
        Category::IpAllowlist => format!(
            "The server closed the connection before greeting, the usual sign of an IP allow-list or \
             firewall. Ask the partner to allow the exact address ferry connects from, or set \
             bind_address to an address they already allow.{from}"
        ),
        Category::Connectivity => format!(
            "The server could not be reached or the connection was lost. Check the host name and port, \
             that the server is up, and that no firewall between you, nor the partner's IP allow-list, \
             blocks the address connections leave from (give it to the partner).{from}"
        ),
        Category::Timeout => "The server stopped answering in time. The next run continues where this \
             one stopped; if it keeps happening, ask the server's administrator for a longer timeout."
            .into(),
        Category::InvalidName => "The remote refused the name. Rename the file (see `ferry check`), or \
             enable rename = \"sanitize\" for this sync."
            .into(),
        Category::InvalidSize => "The remote refused the file's size. Check its size limit and whether it \
             accepts zero-byte files; the file is not retried until it changes."
            .into(),
        Category::NotFound => "The file or folder is gone: it was moved, renamed or deleted during the \
             run. The next run picks up whatever is there then."
            .into(),
        Category::Permission => permission_advice(error),
        Category::Quota => "The remote is out of space or over a quota. Free space or ask for a larger \
             quota; the next run retries."
            .into(),
        Category::RemoteUnavailable => "The remote is temporarily unable to serve. ferry retries; nothing \
             needs doing unless it lasts."
            .into(),
        Category::PluginFailure => "The policy plugin failed. Report it to the plugin's authors with this \
             message."
            .into(),
        Category::Unknown => "Nothing more specific is known. Read the server's message above; the next \
             run retries."
            .into(),
    }
}

/// The advice for a refused permission, naming the folder that refused: the folder listed,
/// or the one the entry is (or would be) in.
fn permission_advice(error: &RawError) -> String {
    let folder = match (error.operation, error.path.as_deref()) {
        (_, None) => None,
        (Operation::List, Some(folder)) => Some(folder),
        (_, Some(path)) => Some(path.rsplit_once('/').map_or("", |(folder, _)| folder)),
    };
    let verb = match error.operation {
        Operation::List | Operation::Stat | Operation::Read => "read",
        _ => "write",
    };
    let place = match folder {
        None => "here".to_string(),
        Some("" | ".") => "in the remote's root folder".to_string(),
        Some(folder) => format!("in the folder {folder}"),
    };
    format!(
        "The account may not {verb} {place}. Ask the partner to grant it there, or check the \
         folder's permissions; `ferry doctor REMOTE FOLDER` tests each permission in a folder \
         one at a time."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;

    fn raw(operation: Operation, code: Option<ErrorCode>, message: &str) -> RawError {
        RawError {
            operation,
            protocol: Protocol::Sftp,
            code,
            message: message.into(),
            path: None,
            local_address: Some("192.0.2.10:40000".into()),
        }
    }

    #[test]
    fn reset_on_connect_suggests_the_allow_list_and_names_the_address() {
        let c = classify(&raw(
            Operation::Connect,
            Some(ErrorCode::Errno(104)),
            "reset",
        ));
        assert_eq!(
            (c.category, c.retry),
            (Category::IpAllowlist, Retry::NextRun)
        );
        assert!(c.advice.contains("192.0.2.10"));
    }

    const KNOWN: &[KnownError] = &[KnownError {
        code: Some(ErrorCode::HttpStatus(400)),
        operations: NAMING_OPERATIONS,
        message_has: &["InvalidResourceName"],
        category: Category::InvalidName,
        retry: Retry::Never,
        advice: Some("Rename it."),
    }];

    #[test]
    fn a_known_error_matches_on_code_operation_and_message_together() {
        let known = raw(
            Operation::Write,
            Some(ErrorCode::HttpStatus(400)),
            "400 invalidresourcename: bad",
        );
        let c = classify_with(KNOWN, &known);
        assert_eq!(
            (c.category, c.retry, c.advice.as_str()),
            (Category::InvalidName, Retry::Never, "Rename it.")
        );
        let misses = [
            raw(
                Operation::Read,
                Some(ErrorCode::HttpStatus(400)),
                "InvalidResourceName",
            ),
            raw(
                Operation::Write,
                Some(ErrorCode::SftpStatus(400)),
                "InvalidResourceName",
            ),
            raw(Operation::Write, None, "InvalidResourceName"),
            raw(Operation::Write, Some(ErrorCode::HttpStatus(400)), "other"),
        ];
        for error in misses {
            assert_eq!(
                classify_with(KNOWN, &error).category,
                classify(&error).category,
                "{error:?}"
            );
        }
    }

    #[test]
    fn permission_is_permanent_and_not_found_is_not() {
        let denied = classify(&raw(Operation::Write, Some(ErrorCode::SftpStatus(3)), ""));
        assert_eq!(denied.retry, Retry::Never);
        let gone = classify(&raw(Operation::Read, None, "No such file or directory"));
        assert_eq!(
            (gone.category, gone.retry),
            (Category::NotFound, Retry::NextRun)
        );
    }

    #[test]
    fn a_refused_host_key_is_a_matter_of_trust_with_its_own_advice() {
        let c = classify(&raw(
            Operation::Connect,
            None,
            "host key of [127.0.0.1]:2222 is not in known_hosts",
        ));
        assert_eq!((c.category, c.retry), (Category::Auth, Retry::NextRun));
        assert!(c.advice.contains("fingerprint"), "{}", c.advice);
    }

    #[test]
    fn configuration_problems_are_permanent_and_point_at_the_setting() {
        let cases = [
            (
                raw(
                    Operation::List,
                    None,
                    "the remote root /inbound does not exist on the server",
                ),
                Category::NotFound,
                "root =",
            ),
            (
                raw(
                    Operation::Authenticate,
                    Some(ErrorCode::Errno(2)),
                    "key file /k not found (key_file)",
                ),
                Category::Auth,
                "key_file =",
            ),
            (
                raw(
                    Operation::Connect,
                    Some(ErrorCode::Errno(99)),
                    "bind_address 203.0.113.7 is not an address of this machine (x)",
                ),
                Category::Connectivity,
                "bind_address =",
            ),
            (
                raw(
                    Operation::Write,
                    Some(ErrorCode::Errno(36)),
                    "the full local path is 600 characters, over the local limit of 550 (max_path_length)",
                ),
                Category::InvalidName,
                "max_path_length =",
            ),
        ];
        for (error, category, setting) in cases {
            let c = classify_with(KNOWN, &error);
            assert_eq!((c.category, c.retry), (category, Retry::Never), "{error:?}");
            assert!(c.advice.contains(setting), "{}", c.advice);
            assert!(!c.advice.contains("firewall") && !c.advice.contains("during the run"));
        }
    }

    #[test]
    fn a_refused_permission_names_the_folder_that_refused() {
        let in_folder = |operation, path: Option<&str>| {
            let error = RawError {
                path: path.map(str::to_string),
                ..raw(
                    operation,
                    Some(ErrorCode::SftpStatus(3)),
                    "Permission denied",
                )
            };
            classify(&error).advice
        };
        let advice = in_folder(Operation::Write, Some("out/ro/file.csv.tmp"));
        assert!(advice.contains("write in the folder out/ro."), "{advice}");
        let advice = in_folder(Operation::List, Some("out/ro"));
        assert!(advice.contains("read in the folder out/ro."), "{advice}");
        let advice = in_folder(Operation::Mkdir, Some("new"));
        assert!(
            advice.contains("write in the remote's root folder"),
            "{advice}"
        );
    }

    #[test]
    fn an_unresolved_host_and_an_untrusted_certificate_are_read_with_what_to_check() {
        let dns = classify(&raw(
            Operation::List,
            None,
            "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known",
        ));
        assert_eq!(
            (dns.category, dns.retry),
            (Category::Connectivity, Retry::NextRun)
        );
        assert!(
            dns.advice.contains("could not be resolved"),
            "{}",
            dns.advice
        );
        let tls = classify(&raw(
            Operation::List,
            None,
            "client error (Connect): invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!((tls.category, tls.retry), (Category::Auth, Retry::NextRun));
        assert!(tls.advice.contains("ca_file"), "{}", tls.advice);
    }
}
