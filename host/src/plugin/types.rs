//! ferry's own types for everything that crosses the plugin boundary, used everywhere
//! outside `plugin/`; each contract version's bindings convert to and from them
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

host_enum!(
    /// How a setting's value written as text is read.
    SettingType { Text, Integer, Boolean, TextList, Size }
);

/// One setting a plugin accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingDoc {
    pub name: String,
    pub kind: SettingType,
    pub default_value: String,
    pub doc: String,
}

/// What a plugin says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub remote_kinds: Vec<String>,
    pub settings: Vec<SettingDoc>,
}

/// A setting's value as the host passes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
    TextList(Vec<String>),
}

/// One key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: SettingValue,
}

/// Why `configure` refused the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    UnknownKey(String),
    BadValue(BadSettingValue),
}

/// A known key with an unacceptable value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSettingValue {
    pub name: String,
    pub message: String,
}

host_enum!(
    /// How a length was counted.
    LengthUnit { Characters, Utf8Bytes, Utf16Units }
);

host_enum!(
    /// What a length covers.
    LengthScope { Name, FullPath, FullPathWithTempSuffix }
);

/// A length that exceeds a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LengthViolation {
    pub limit: u32,
    pub length: u32,
    pub unit: LengthUnit,
    pub scope: LengthScope,
}

/// A character the remote does not accept in a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForbiddenCharacter {
    pub character: char,
    pub component: String,
    pub position: u32,
}

/// A name the remote reserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedName {
    pub component: String,
    pub reserved: String,
}

host_enum!(
    /// Where in a name a character is not allowed.
    NameEdge { Leading, Trailing }
);

/// A character the remote refuses at the start or end of a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeCharacter {
    pub character: char,
    pub component: String,
    pub edge: NameEdge,
}

/// A file larger than the remote accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeViolation {
    pub limit: u64,
    pub size: u64,
}

/// A rule particular to one plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomViolation {
    pub rule: String,
    pub message: String,
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    ForbiddenCharacter(ForbiddenCharacter),
    ReservedName(ReservedName),
    EdgeCharacter(EdgeCharacter),
    NameTooLong(LengthViolation),
    PathTooLong(LengthViolation),
    TooLarge(SizeViolation),
    ZeroByteUnsupported,
    Custom(CustomViolation),
}

host_enum!(
    /// Which temporary name the host asks for.
    TempForm { Standard, Short }
);

/// The answer for one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    pub suggested_path: Option<String>,
    pub temp_form: TempForm,
}
