//! The standard settings: their documentation, and how a value changes the rules.

use crate::chars::CharClass;
use crate::rules::{ControlChars, LengthCounts, Rules};
use crate::size::{parse_size, size_syntax};
use crate::{
    BadSettingValue, ConfigError, LengthUnit, Setting, SettingDoc, SettingType, SettingValue,
};

struct Spec {
    name: &'static str,
    kind: SettingType,
    doc: &'static str,
    current: fn(&Rules) -> String,
    apply: fn(&mut Rules, &SettingValue) -> Result<(), String>,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "forbidden_chars",
        kind: SettingType::Text,
        doc: "Characters the remote refuses anywhere in a file or folder name.",
        current: |r| toml_escaped(&r.forbidden_chars),
        apply: |r, v| text(v).map(|value| r.forbidden_chars = value),
    },
    Spec {
        name: "allowed_chars",
        kind: SettingType::Text,
        doc: "The only characters the remote accepts in a name, as a class: single characters \
              and ranges such as \"A-Za-z0-9._-\" (any Unicode characters, e.g. \"À-ÿ\"); a \
              backslash takes the next character as itself (\\- for a dash, two backslashes for \
              one), and a - first or last is itself. Any other character is refused as a \
              forbidden character and replaced by _ in a suggested name. Empty: no such list.",
        current: |r| {
            r.allowed_chars
                .as_ref()
                .map_or(String::new(), |class| toml_escaped(class.as_str()))
        },
        apply: |r, v| allowed_chars(v).map(|value| r.allowed_chars = value),
    },
    Spec {
        name: "control_chars",
        kind: SettingType::Text,
        doc: "Control characters refused in names: \"allow\" (none), \"reject\" (every one: \
              U+0000-U+001F, U+007F-U+009F), \"reject-ascii\" (the non-printable ASCII ones: \
              U+0000-U+001F, U+007F) or \"reject-c0\" (U+0000-U+001F, as Windows).",
        current: |r| control_chars_name(r.control_chars).into(),
        apply: |r, v| control_chars(v).map(|value| r.control_chars = value),
    },
    Spec {
        name: "reserved_names",
        kind: SettingType::TextList,
        doc: "Names the remote reserves, compared without case, alone or with any extension \
              (\"NUL\" also matches \"nul.txt\"). A listed name with a dot matches only itself.",
        current: |r| r.reserved_names.join(","),
        apply: |r, v| text_list(v).map(|value| r.reserved_names = value),
    },
    Spec {
        name: "forbidden_prefixes",
        kind: SettingType::TextList,
        doc: "Texts the remote refuses at the start of a name, compared without ASCII case \
              (SharePoint: \"~$\"). A suggested name has them replaced by underscores.",
        current: |r| r.forbidden_prefixes.join(","),
        apply: |r, v| non_empty_texts(v).map(|value| r.forbidden_prefixes = value),
    },
    Spec {
        name: "forbidden_substrings",
        kind: SettingType::TextList,
        doc: "Texts the remote refuses anywhere in a name, compared without ASCII case \
              (SharePoint: \"_vti_\"). A suggested name has them replaced by underscores.",
        current: |r| r.forbidden_substrings.join(","),
        apply: |r, v| non_empty_texts(v).map(|value| r.forbidden_substrings = value),
    },
    Spec {
        name: "forbidden_leading",
        kind: SettingType::Text,
        doc: "Characters refused as the first character of a name.",
        current: |r| r.forbidden_leading.clone(),
        apply: |r, v| text(v).map(|value| r.forbidden_leading = value),
    },
    Spec {
        name: "forbidden_trailing",
        kind: SettingType::Text,
        doc: "Characters refused as the last character of a name (Windows: \". \").",
        current: |r| r.forbidden_trailing.clone(),
        apply: |r, v| text(v).map(|value| r.forbidden_trailing = value),
    },
    Spec {
        name: "folder_forbidden_trailing",
        kind: SettingType::Text,
        doc: "Characters refused as the last character of a folder's name; file names may end \
              with them (Box: a space).",
        current: |r| r.folder_forbidden_trailing.clone(),
        apply: |r, v| text(v).map(|value| r.folder_forbidden_trailing = value),
    },
    Spec {
        name: "max_name_length",
        kind: SettingType::Integer,
        doc: "The name-length limit; what it is counted on is set by length_counts; 0 for none.",
        current: |r| r.max_name_length.to_string(),
        apply: |r, v| integer(v).map(|value| r.max_name_length = value),
    },
    Spec {
        name: "length_counts",
        kind: SettingType::Text,
        doc: "\"name\": max_name_length counts the bare name with its extension; \"full-path\": \
              it counts path_prefix + folders + name + extension + the temporary upload suffix.",
        current: |r| match r.length_counts {
            LengthCounts::Name => "name".into(),
            LengthCounts::FullPath => "full-path".into(),
        },
        apply: |r, v| {
            r.length_counts = match text(v)?.as_str() {
                "name" => LengthCounts::Name,
                "full-path" => LengthCounts::FullPath,
                _ => return Err("expected \"name\" or \"full-path\"".into()),
            };
            Ok(())
        },
    },
    Spec {
        name: "length_unit",
        kind: SettingType::Text,
        doc: "How lengths are counted: \"characters\", \"utf8-bytes\" (POSIX, S3) or \
              \"utf16-units\" (Windows, SharePoint).",
        current: |r| unit_name(r.length_unit).into(),
        apply: |r, v| {
            r.length_unit = match text(v)?.as_str() {
                "characters" => LengthUnit::Characters,
                "utf8-bytes" => LengthUnit::Utf8Bytes,
                "utf16-units" => LengthUnit::Utf16Units,
                _ => {
                    return Err("expected \"characters\", \"utf8-bytes\" or \"utf16-units\"".into());
                }
            };
            Ok(())
        },
    },
    Spec {
        name: "max_path_length",
        kind: SettingType::Integer,
        doc: "The limit on the full path: path_prefix + folders + name + extension, plus the \
              temporary suffix for files; 0 for none.",
        current: |r| r.max_path_length.to_string(),
        apply: |r, v| integer(v).map(|value| r.max_path_length = value),
    },
    Spec {
        name: "path_prefix",
        kind: SettingType::Text,
        doc: "The remote root's own path as the server counts it, e.g. \"D:\\Shares\\acme\\\" or \
              the S3 key prefix \"inbound/\"; its length is added to every full-path count.",
        current: |r| r.path_prefix.clone(),
        apply: |r, v| text(v).map(|value| r.path_prefix = value),
    },
    Spec {
        name: "max_size",
        kind: SettingType::Size,
        doc: concat!(
            "The largest file accepted, or \"none\" for no cap; ",
            size_syntax!(),
            "."
        ),
        current: |r| r.max_size.map_or("none".into(), |s| s.to_string()),
        apply: |r, v| size(v).map(|value| r.max_size = value),
    },
    Spec {
        name: "zero_byte",
        kind: SettingType::Text,
        doc: "\"allow\" or \"reject\" zero-byte files (some HTTP/API remotes cannot store them).",
        current: |r| allow_or_reject(r.zero_byte_allowed),
        apply: |r, v| allowed(v).map(|value| r.zero_byte_allowed = value),
    },
    Spec {
        name: "temp_suffix",
        kind: SettingType::Text,
        doc: "Appended to a file's name while it is uploaded; renamed away when complete.",
        current: |r| r.temp_suffix.clone(),
        apply: |r, v| {
            let suffix = text(v)?;
            if suffix.is_empty() || suffix.contains('/') {
                return Err("must be non-empty and contain no '/'".into());
            }
            r.temp_suffix = suffix;
            Ok(())
        },
    },
];

/// The setting that picks one of a policy's [`Server`] variants.
pub const SERVER: &str = "server";

/// One variant of a remote's server software, picked with the `server` setting.
pub struct Server {
    /// The setting's value that picks it, e.g. "proftpd".
    pub name: &'static str,
    /// What it changes, and the source of that.
    pub doc: &'static str,
    /// Turn the policy's default rules into this variant's.
    pub adjust: fn(&mut Rules),
}

/// The documentation of every standard setting, with `defaults`' values, after the
/// `server` setting when there are `servers` (the first is the default).
pub fn docs(defaults: &Rules, servers: &[Server]) -> Vec<SettingDoc> {
    let standard = SPECS.iter().map(|spec| SettingDoc {
        name: spec.name.to_string(),
        kind: spec.kind,
        default_value: (spec.current)(defaults),
        doc: spec.doc.to_string(),
    });
    servers
        .first()
        .map(|default| server_doc(default, servers))
        .into_iter()
        .chain(standard)
        .collect()
}

fn server_doc(default: &Server, servers: &[Server]) -> SettingDoc {
    let choices: Vec<String> = servers
        .iter()
        .map(|server| format!("\"{}\": {}", server.name, server.doc))
        .collect();
    SettingDoc {
        name: SERVER.to_string(),
        kind: SettingType::Text,
        default_value: default.name.to_string(),
        doc: format!(
            "The server software; it sets several rules at once, and the other settings \
             adjust them. {}.",
            choices.join("; ")
        ),
    }
}

/// The variant of `servers` that `setting` (a `server` setting) names.
pub fn find_server<'a>(
    servers: &'a [Server],
    setting: &Setting,
) -> Result<&'a Server, ConfigError> {
    let bad_value = |message| {
        ConfigError::BadValue(BadSettingValue {
            name: setting.name.clone(),
            message,
        })
    };
    let name = text(&setting.value).map_err(bad_value)?;
    servers
        .iter()
        .find(|server| server.name == name)
        .ok_or_else(|| {
            let names: Vec<String> = servers.iter().map(|s| format!("{:?}", s.name)).collect();
            bad_value(format!(
                "expected one of {}, got {name:?}",
                names.join(", ")
            ))
        })
}

/// Apply one setting to `rules`.
pub fn apply(rules: &mut Rules, setting: &Setting) -> Result<(), ConfigError> {
    let spec = SPECS
        .iter()
        .find(|spec| spec.name == setting.name)
        .ok_or_else(|| ConfigError::UnknownKey(setting.name.clone()))?;
    (spec.apply)(rules, &setting.value).map_err(|message| {
        ConfigError::BadValue(BadSettingValue {
            name: setting.name.clone(),
            message,
        })
    })
}

/// Control characters as TOML writes them (`\u0000`), everything else as is.
fn toml_escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{:04X}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

const CONTROL_CHARS: [(&str, ControlChars); 4] = [
    ("allow", ControlChars::Allow),
    ("reject", ControlChars::All),
    ("reject-ascii", ControlChars::Ascii),
    ("reject-c0", ControlChars::C0),
];

fn control_chars_name(refused: ControlChars) -> &'static str {
    CONTROL_CHARS
        .iter()
        .find(|(_, value)| *value == refused)
        .map(|(name, _)| *name)
        .expect("every value is named")
}

fn control_chars(value: &SettingValue) -> Result<ControlChars, String> {
    let given = text(value)?;
    CONTROL_CHARS
        .iter()
        .find(|(name, _)| *name == given)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            format!(
                "expected \"allow\", \"reject\", \"reject-ascii\" or \"reject-c0\", got {given:?}"
            )
        })
}

fn unit_name(unit: LengthUnit) -> &'static str {
    match unit {
        LengthUnit::Characters => "characters",
        LengthUnit::Utf8Bytes => "utf8-bytes",
        LengthUnit::Utf16Units => "utf16-units",
    }
}

fn allow_or_reject(allowed: bool) -> String {
    if allowed { "allow" } else { "reject" }.to_string()
}

fn describe(value: &SettingValue) -> String {
    match value {
        SettingValue::Text(t) => format!("the text {t:?}"),
        SettingValue::Integer(i) => format!("the number {i}"),
        SettingValue::Boolean(b) => format!("the boolean {b}"),
        SettingValue::TextList(l) => format!("a list of {} texts", l.len()),
    }
}

fn text(value: &SettingValue) -> Result<String, String> {
    match value {
        SettingValue::Text(t) => Ok(t.clone()),
        other => Err(format!("expected a text, got {}", describe(other))),
    }
}

fn text_list(value: &SettingValue) -> Result<Vec<String>, String> {
    match value {
        SettingValue::TextList(list) => Ok(list.clone()),
        SettingValue::Text(t) if t.is_empty() => Ok(Vec::new()),
        SettingValue::Text(t) => Ok(t.split(',').map(|s| s.trim().to_string()).collect()),
        other => Err(format!("expected a list of names, got {}", describe(other))),
    }
}

/// A list of texts, none of them empty.
fn non_empty_texts(value: &SettingValue) -> Result<Vec<String>, String> {
    let texts = text_list(value)?;
    if texts.iter().any(String::is_empty) {
        return Err("the texts must not be empty".into());
    }
    Ok(texts)
}

fn integer(value: &SettingValue) -> Result<u32, String> {
    match value {
        SettingValue::Integer(i) => {
            u32::try_from(*i).map_err(|_| format!("expected 0 to {}, got {i}", u32::MAX))
        }
        SettingValue::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| format!("expected a whole number, got {t:?}")),
        other => Err(format!("expected a whole number, got {}", describe(other))),
    }
}

fn allowed(value: &SettingValue) -> Result<bool, String> {
    match text(value)?.as_str() {
        "allow" => Ok(true),
        "reject" => Ok(false),
        other => Err(format!("expected \"allow\" or \"reject\", got {other:?}")),
    }
}

fn allowed_chars(value: &SettingValue) -> Result<Option<CharClass>, String> {
    let written = text(value)?;
    if written.is_empty() {
        return Ok(None);
    }
    CharClass::parse(&written).map(Some)
}

/// A cap in bytes, or none.
fn size(value: &SettingValue) -> Result<Option<u64>, String> {
    let bytes = match value {
        SettingValue::Text(t) if t.trim().eq_ignore_ascii_case("none") => return Ok(None),
        SettingValue::Text(t) => parse_size(t)?,
        SettingValue::Integer(i) => {
            u64::try_from(*i).map_err(|_| format!("expected a size, got the number {i}"))?
        }
        other => {
            return Err(format!(
                "expected a size such as \"2GB\", got {}",
                describe(other)
            ));
        }
    };
    if bytes == 0 {
        return Err("a cap of 0 bytes would refuse every file; write \"none\" for no cap".into());
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rules: &mut Rules, name: &str, value: SettingValue) -> Result<(), ConfigError> {
        apply(
            rules,
            &Setting {
                name: name.into(),
                value,
            },
        )
    }

    fn text(value: &str) -> SettingValue {
        SettingValue::Text(value.into())
    }

    #[test]
    fn allowed_chars_reads_a_class_and_empty_is_no_list() {
        let mut rules = Rules::posix();
        set(&mut rules, "allowed_chars", text(r"a-z\-")).unwrap();
        let allowed = rules.allowed_chars.clone().unwrap();
        assert!(allowed.contains('-') && !allowed.contains('\\') && !allowed.contains('A'));
        assert_eq!(docs(&rules, &[])[1].default_value, r"a-z\-");
        set(&mut rules, "allowed_chars", text("")).unwrap();
        assert_eq!(rules.allowed_chars, None);
        let backwards = set(&mut rules, "allowed_chars", text("z-a"));
        assert!(matches!(backwards, Err(ConfigError::BadValue(b)) if b.message.contains("a-z")));
    }

    #[test]
    fn max_size_takes_bytes_or_the_size_syntax_and_refuses_a_zero_cap() {
        let mut rules = Rules::posix();
        for (value, cap) in [
            (SettingValue::Integer(1_048_576), Some(1_048_576)),
            (text("500 MB"), Some(500_000_000)),
            (text("2GiB"), Some(2 << 30)),
            (text("none"), None),
        ] {
            set(&mut rules, "max_size", value).unwrap();
            assert_eq!(rules.max_size, cap);
        }
        for (value, why) in [
            (SettingValue::Integer(0), "write \"none\""),
            (SettingValue::Integer(-1), "got the number -1"),
            (text("2 parsecs"), "unknown unit \"parsecs\""),
            (SettingValue::Boolean(true), "got the boolean true"),
        ] {
            let error = set(&mut rules, "max_size", value);
            assert!(
                matches!(&error, Err(ConfigError::BadValue(b)) if b.message.contains(why)),
                "{error:?}"
            );
        }
    }

    #[test]
    fn unknown_key_and_bad_value_are_errors() {
        let mut rules = Rules::posix();
        assert!(matches!(
            set(&mut rules, "max_name_lenght", SettingValue::Integer(5)),
            Err(ConfigError::UnknownKey(k)) if k == "max_name_lenght"
        ));
        let bad = set(
            &mut rules,
            "length_counts",
            SettingValue::Text("path".into()),
        );
        assert!(matches!(bad, Err(ConfigError::BadValue(b)) if b.message.contains("full-path")));
        assert!(set(&mut rules, "max_name_length", SettingValue::Integer(-1)).is_err());
    }

    #[test]
    fn every_default_reads_back_as_itself() {
        let defaults = Rules::posix();
        for doc in docs(&defaults, &[]) {
            let mut rules = defaults.clone();
            let value = match doc.kind {
                SettingType::TextList => SettingValue::TextList(Vec::new()),
                _ => SettingValue::Text(unescape(&doc.default_value)),
            };
            set(&mut rules, &doc.name, value).unwrap_or_else(|e| panic!("{}: {e:?}", doc.name));
        }
    }

    #[test]
    fn control_chars_read_back_every_value() {
        let mut rules = Rules::posix();
        for (name, value) in CONTROL_CHARS {
            set(&mut rules, "control_chars", SettingValue::Text(name.into())).unwrap();
            assert_eq!(rules.control_chars, value);
            assert_eq!(control_chars_name(rules.control_chars), name);
        }
        assert!(set(&mut rules, "control_chars", SettingValue::Text("c0".into())).is_err());
    }

    #[test]
    fn empty_prefixes_and_substrings_are_refused() {
        let mut rules = Rules::posix();
        let empty = SettingValue::TextList(vec!["~$".into(), String::new()]);
        assert!(set(&mut rules, "forbidden_prefixes", empty.clone()).is_err());
        assert!(set(&mut rules, "forbidden_substrings", empty).is_err());
        set(
            &mut rules,
            "forbidden_substrings",
            SettingValue::Text("_vti_,~tmp".into()),
        )
        .unwrap();
        assert_eq!(rules.forbidden_substrings, ["_vti_", "~tmp"]);
    }

    const SERVERS: &[Server] = &[
        Server {
            name: "plain",
            doc: "nothing more",
            adjust: |_| {},
        },
        Server {
            name: "starless",
            doc: "refuses *",
            adjust: |r| r.forbidden_chars.push('*'),
        },
    ];

    #[test]
    fn the_server_setting_comes_first_with_the_first_variant_as_default() {
        let docs = docs(&Rules::posix(), SERVERS);
        assert_eq!(
            (docs[0].name.as_str(), docs[0].default_value.as_str()),
            (SERVER, "plain")
        );
        assert!(
            docs[0].doc.contains("\"starless\": refuses *"),
            "{}",
            docs[0].doc
        );
        let pick = |name: &str| Setting {
            name: SERVER.into(),
            value: SettingValue::Text(name.into()),
        };
        assert_eq!(
            find_server(SERVERS, &pick("starless")).unwrap().name,
            "starless"
        );
        let unknown = find_server(SERVERS, &pick("proftpd"));
        assert!(matches!(
            &unknown,
            Err(ConfigError::BadValue(b)) if b.message.contains("\"plain\", \"starless\"")
        ));
    }

    fn unescape(text: &str) -> String {
        text.replace("\\u0000", "\0")
    }
}
