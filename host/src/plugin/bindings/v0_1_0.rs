//! The host side of `ferry:policy@0.1.0`, generated from `wit/0.1.0` (frozen).

use super::super::sandbox::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "policy-plugin",
    additional_derives: [PartialEq, Eq],
});

impl wit::Host for Sandbox {}

use self::ferry::policy::types as wit;
use super::super::types as host;

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
enum_into!(host -> wit: TempForm { Standard, Short });
enum_into!(wit -> host: TempForm { Standard, Short });
enum_into!(wit -> host: SettingType { Text, Integer, Boolean, TextList, Size });
enum_into!(wit -> host: LengthUnit { Characters, Utf8Bytes, Utf16Units });
enum_into!(wit -> host: LengthScope { Name, FullPath, FullPathWithTempSuffix });
enum_into!(wit -> host: NameEdge { Leading, Trailing });

/// Each element converted.
fn all<A: Into<B>, B>(list: Vec<A>) -> Vec<B> {
    list.into_iter().map(Into::into).collect()
}

impl From<&host::Setting> for wit::Setting {
    fn from(setting: &host::Setting) -> Self {
        let value = match &setting.value {
            host::SettingValue::Text(text) => wit::SettingValue::Text(text.clone()),
            host::SettingValue::Integer(n) => wit::SettingValue::Integer(*n),
            host::SettingValue::Boolean(flag) => wit::SettingValue::Boolean(*flag),
            host::SettingValue::TextList(list) => wit::SettingValue::TextList(list.clone()),
        };
        wit::Setting {
            name: setting.name.clone(),
            value,
        }
    }
}

impl From<wit::PluginMetadata> for host::PluginMetadata {
    fn from(meta: wit::PluginMetadata) -> Self {
        host::PluginMetadata {
            name: meta.name,
            version: meta.version,
            description: meta.description,
            remote_kinds: meta.remote_kinds,
            settings: all(meta.settings),
        }
    }
}

impl From<wit::SettingDoc> for host::SettingDoc {
    fn from(doc: wit::SettingDoc) -> Self {
        host::SettingDoc {
            name: doc.name,
            kind: doc.kind.into(),
            default_value: doc.default_value,
            doc: doc.doc,
        }
    }
}

impl From<wit::ConfigError> for host::ConfigError {
    fn from(error: wit::ConfigError) -> Self {
        match error {
            wit::ConfigError::UnknownKey(key) => host::ConfigError::UnknownKey(key),
            wit::ConfigError::BadValue(bad) => host::ConfigError::BadValue(host::BadSettingValue {
                name: bad.name,
                message: bad.message,
            }),
        }
    }
}

impl From<wit::Verdict> for host::Verdict {
    fn from(verdict: wit::Verdict) -> Self {
        host::Verdict {
            violations: all(verdict.violations),
            suggested_path: verdict.suggested_path,
            temp_form: verdict.temp_form.into(),
        }
    }
}

impl From<wit::LengthViolation> for host::LengthViolation {
    fn from(v: wit::LengthViolation) -> Self {
        host::LengthViolation {
            limit: v.limit,
            length: v.length,
            unit: v.unit.into(),
            scope: v.scope.into(),
        }
    }
}

impl From<wit::Violation> for host::Violation {
    fn from(violation: wit::Violation) -> Self {
        use host::Violation as H;
        match violation {
            wit::Violation::ForbiddenCharacter(v) => {
                H::ForbiddenCharacter(host::ForbiddenCharacter {
                    character: v.character,
                    component: v.component,
                    position: v.position,
                })
            }
            wit::Violation::ReservedName(v) => H::ReservedName(host::ReservedName {
                component: v.component,
                reserved: v.reserved,
            }),
            wit::Violation::EdgeCharacter(v) => H::EdgeCharacter(host::EdgeCharacter {
                character: v.character,
                component: v.component,
                edge: v.edge.into(),
            }),
            wit::Violation::NameTooLong(v) => H::NameTooLong(v.into()),
            wit::Violation::PathTooLong(v) => H::PathTooLong(v.into()),
            wit::Violation::TooLarge(v) => H::TooLarge(host::SizeViolation {
                limit: v.limit,
                size: v.size,
            }),
            wit::Violation::ZeroByteUnsupported => H::ZeroByteUnsupported,
            wit::Violation::Custom(v) => H::Custom(host::CustomViolation {
                rule: v.rule,
                message: v.message,
            }),
        }
    }
}

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
