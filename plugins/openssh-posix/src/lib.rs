//! The `openssh-posix` policy: OpenSSH's SFTP server on Linux (or another POSIX system).
//!
//! Sources: POSIX, as Linux sets it: only `/` and NUL are refused in a name; NAME_MAX is
//! 255 bytes per name and PATH_MAX 4096 bytes per path. PATH_MAX counts the absolute path:
//! set `path_prefix` to the remote root (e.g. `/srv/sftp/acme/`) for the exact count.
//!
//! OpenSSH's sftp-server (sftp-server.c, `errno_to_portable`) answers in protocol version
//! 3, which has few status codes: a name too long (ENAMETOOLONG) or invalid (EINVAL)
//! comes back as status 5, "bad message", and a full disk, an exceeded quota, a read-only
//! filesystem or a file too large alike as status 4, "failure".

use ferry_policy_kit::{
    Category, ErrorCode, KnownError, NAMING_OPERATIONS, Operation, Policy, Retry, Rules,
};

pub struct OpensshPosix;

impl Policy for OpensshPosix {
    const NAME: &'static str = "openssh-posix";
    const DESCRIPTION: &'static str = "OpenSSH's SFTP server on Linux and other POSIX systems. \
        Refuses / and NUL; names up to 255 bytes (NAME_MAX), full paths up to 4096 bytes \
        (PATH_MAX), counted with the temporary upload suffix: set path_prefix to the remote \
        root (e.g. /srv/sftp/acme/) for the exact count. Reads OpenSSH's terse status codes \
        (sftp-server.c). Sources: POSIX; OpenSSH sftp-server.c.";
    const REMOTE_KINDS: &'static [&'static str] = &["sftp"];
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: Some(ErrorCode::SftpStatus(5)),
            operations: NAMING_OPERATIONS,
            message_has: &[],
            category: Category::InvalidName,
            retry: Retry::Never,
            advice: Some(
                "The server's filesystem refused the name: OpenSSH answers \"bad message\" for a \
                 name too long (over 255 bytes) or otherwise invalid. Shorten or rename the file, \
                 or enable rename = \"sanitize\".",
            ),
        },
        KnownError {
            code: Some(ErrorCode::SftpStatus(4)),
            operations: &[],
            message_has: &["quota", "no space", "disk full"],
            category: Category::Quota,
            retry: Retry::NextRun,
            advice: None,
        },
        KnownError {
            code: Some(ErrorCode::SftpStatus(4)),
            operations: &[Operation::Write],
            message_has: &[],
            category: Category::Unknown,
            retry: Retry::NextRun,
            advice: Some(
                "OpenSSH reports a full disk, an exceeded quota, a read-only filesystem and a \
                 file too large for it alike, as a plain \"failure\". Check the server's free \
                 space and the account's quota; the next run retries.",
            ),
        },
    ];

    fn default_rules() -> Rules {
        Rules::posix()
    }
}

ferry_policy_kit::export_policy!(OpensshPosix);
