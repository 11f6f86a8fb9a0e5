//! The host side of `ferry:policy@0.1.0`, generated from `wit/0.1.0` (frozen).

use super::super::sandbox::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "policy-plugin",
    additional_derives: [PartialEq, Eq],
});

impl wit::Host for Sandbox {}

use super::super::types as host;
use ferry::policy::types as wit;

/// `From<$from::Name> for $to::Name`, case by case, for enums of the same cases.
macro_rules! enum_into {
    ($from:ident -> $to:ident: $name:ident { $($case:ident),* $(,)? }) => {
        impl From<$from::$name> for $to::$name {
            fn from(value: $from::$name) -> Self {
                match value {
                    $($from::$name::$case => $to::$name::$case,)*
                }
            }
        }
    };
}

enum_into!(host -> wit: EntryKind { File, Directory });
enum_into!(host -> wit: Operation {
    Connect, Authenticate, List, Stat, Read, Write, Rename, Mkdir, Delete, SetMtime
});
enum_into!(host -> wit: Protocol { Local, Sftp, Webdav, S3, AzureBlob, Ftp });
enum_into!(wit -> host: Category {
    Auth, IpAllowlist, Connectivity, Timeout, InvalidName, InvalidSize, NotFound,
    Permission, Quota, RemoteUnavailable, PluginFailure, Unknown,
});
enum_into!(wit -> host: Retry { Now, NextRun, Never });

impl From<&host::Entry> for wit::Entry {
    fn from(entry: &host::Entry) -> Self {
        wit::Entry {
            path: entry.path.clone(),
            kind: entry.kind.into(),
            size: entry.size,
        }
    }
}

impl From<host::ErrorCode> for wit::ErrorCode {
    fn from(code: host::ErrorCode) -> Self {
        match code {
            host::ErrorCode::Errno(n) => wit::ErrorCode::Errno(n),
            host::ErrorCode::SftpStatus(n) => wit::ErrorCode::SftpStatus(n),
            host::ErrorCode::HttpStatus(n) => wit::ErrorCode::HttpStatus(n),
        }
    }
}

impl From<&host::RawError> for wit::RawError {
    fn from(error: &host::RawError) -> Self {
        wit::RawError {
            operation: error.operation.into(),
            protocol: error.protocol.into(),
            code: error.code.map(Into::into),
            message: error.message.clone(),
            path: error.path.clone(),
            local_address: error.local_address.clone(),
        }
    }
}

impl From<wit::Classification> for host::Classification {
    fn from(classification: wit::Classification) -> Self {
        host::Classification {
            category: classification.category.into(),
            retry: classification.retry.into(),
            advice: classification.advice,
        }
    }
}
