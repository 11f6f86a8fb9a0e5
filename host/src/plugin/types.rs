//! ferry's own types for what crosses the plugin boundary, used everywhere outside
//! `plugin/`; each contract version's bindings convert to and from them
//! (`bindings/v0_1_0.rs`), so a new contract version changes nothing outside `plugin/`.
//! The documentation of each is in `wit/0.1.0/policy.wit`.

use std::fmt;

/// A plain enum with the `Name::Case` debug form of the generated bindings (which
/// error messages show).
macro_rules! host_enum {
    ($(#[$doc:meta])* $name:ident { $($case:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($case),*
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $($name::$case => concat!(stringify!($name), "::", stringify!($case)),)*
                })
            }
        }
    };
}

host_enum!(
    /// File or directory.
    EntryKind { File, Directory }
);

host_enum!(
    /// What the host was doing when an error happened.
    Operation { Connect, Authenticate, List, Stat, Read, Write, Rename, Mkdir, Delete, SetMtime }
);

host_enum!(
    /// The protocol that produced an error.
    Protocol { Local, Sftp, Webdav, S3, AzureBlob, Ftp }
);

host_enum!(
    /// What kind of failure an error is.
    Category {
        Auth,
        IpAllowlist,
        Connectivity,
        Timeout,
        InvalidName,
        InvalidSize,
        NotFound,
        Permission,
        Quota,
        RemoteUnavailable,
        PluginFailure,
        Unknown,
    }
);

host_enum!(
    /// When trying again makes sense.
    Retry { Now, NextRun, Never }
);

/// One entry to check, as it would be written at the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub size: Option<u64>,
}

/// The numeric code that came with an error, by kind.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Errno(i32),
    SftpStatus(u32),
    HttpStatus(u16),
}

/// `ErrorCode::Errno(36)`, as the generated bindings write it.
impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (case, code): (&str, &dyn fmt::Debug) = match self {
            ErrorCode::Errno(n) => ("ErrorCode::Errno", n),
            ErrorCode::SftpStatus(n) => ("ErrorCode::SftpStatus", n),
            ErrorCode::HttpStatus(n) => ("ErrorCode::HttpStatus", n),
        };
        f.debug_tuple(case).field(code).finish()
    }
}

/// An error as a transport reported it, before anyone interpreted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawError {
    pub operation: Operation,
    pub protocol: Protocol,
    pub code: Option<ErrorCode>,
    pub message: String,
    pub path: Option<String>,
    pub local_address: Option<String>,
}

/// The plugin's reading of a raw error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    pub category: Category,
    pub retry: Retry,
    pub advice: String,
}
