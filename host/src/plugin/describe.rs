//! Violations in plain words, and their stable rule names for `--json`.

use super::types::{
    Category, LengthScope, LengthUnit, LengthViolation, NameEdge, Retry, Violation,
};

/// The stable, kebab-case name of the rule a violation breaks.
pub fn rule_name(violation: &Violation) -> &str {
    match violation {
        Violation::ForbiddenCharacter(_) => "forbidden-character",
        Violation::ReservedName(_) => "reserved-name",
        Violation::EdgeCharacter(e) if e.edge == NameEdge::Leading => "leading-character",
        Violation::EdgeCharacter(_) => "trailing-character",
        Violation::NameTooLong(_) => "name-too-long",
        Violation::PathTooLong(_) => "path-too-long",
        Violation::TooLarge(_) => "too-large",
        Violation::ZeroByteUnsupported => "zero-byte",
        Violation::Custom(c) => &c.rule,
    }
}

/// What is wrong, for a human: the character, the limit, the length.
pub fn describe(violation: &Violation) -> String {
    match violation {
        Violation::ForbiddenCharacter(f) => format!(
            "character {:?} ({}) at position {} of {:?} is not allowed by the remote",
            f.character,
            code_point(f.character),
            f.position + 1,
            f.component
        ),
        Violation::ReservedName(r) => format!(
            "{:?} is the reserved name {} (reserved alone and with any extension)",
            r.component, r.reserved
        ),
        Violation::EdgeCharacter(e) => format!(
            "{:?} {} with {:?} ({}), which the remote refuses there",
            e.component,
            if e.edge == NameEdge::Leading {
                "starts"
            } else {
                "ends"
            },
            e.character,
            code_point(e.character)
        ),
        Violation::NameTooLong(l) | Violation::PathTooLong(l) => lengths(l),
        Violation::TooLarge(s) => format!(
            "file is {} ({} bytes); the remote accepts at most {} ({} bytes)",
            human_size(s.size),
            s.size,
            human_size(s.limit),
            s.limit
        ),
        Violation::ZeroByteUnsupported => {
            "zero-byte file: the remote does not accept empty files".to_string()
        }
        Violation::Custom(c) => c.message.clone(),
    }
}

fn lengths(l: &LengthViolation) -> String {
    let counted = match l.scope {
        LengthScope::Name => "the name",
        LengthScope::FullPath => "the full path",
        LengthScope::FullPathWithTempSuffix => "the full path plus the temporary upload suffix",
    };
    let unit = match l.unit {
        LengthUnit::Characters => "characters",
        LengthUnit::Utf8Bytes => "bytes (UTF-8)",
        LengthUnit::Utf16Units => "UTF-16 units",
    };
    format!("{counted} is {} {unit}; the limit is {}", l.length, l.limit)
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// `2.00 GB` style, powers of 1000, as partners' documentation usually writes limits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// The category as `--json` and the logs spell it.
pub fn category_name(category: Category) -> &'static str {
    match category {
        Category::Auth => "auth",
        Category::IpAllowlist => "ip-allowlist",
        Category::Connectivity => "connectivity",
        Category::Timeout => "timeout",
        Category::InvalidName => "invalid-name",
        Category::InvalidSize => "invalid-size",
        Category::NotFound => "not-found",
        Category::Permission => "permission",
        Category::Quota => "quota",
        Category::RemoteUnavailable => "remote-unavailable",
        Category::PluginFailure => "plugin-failure",
        Category::Unknown => "unknown",
    }
}

/// The retry decision as `--json` and the logs spell it.
pub fn retry_name(retry: Retry) -> &'static str {
    match retry {
        Retry::Now => "now",
        Retry::NextRun => "next-run",
        Retry::Never => "never",
    }
}

/// Every category, in the contract's order.
pub const CATEGORIES: [Category; 12] = [
    Category::Auth,
    Category::IpAllowlist,
    Category::Connectivity,
    Category::Timeout,
    Category::InvalidName,
    Category::InvalidSize,
    Category::NotFound,
    Category::Permission,
    Category::Quota,
    Category::RemoteUnavailable,
    Category::PluginFailure,
    Category::Unknown,
];

/// Every retry decision.
pub const RETRIES: [Retry; 3] = [Retry::Now, Retry::NextRun, Retry::Never];

/// The category `name` spells ([`category_name`] backwards).
pub fn category_named(name: &str) -> Option<Category> {
    CATEGORIES.into_iter().find(|c| category_name(*c) == name)
}

/// The retry decision `name` spells ([`retry_name`] backwards).
pub fn retry_named(name: &str) -> Option<Retry> {
    RETRIES.into_iter().find(|r| retry_name(*r) == name)
}

impl serde::Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(category_name(*self))
    }
}

impl serde::Serialize for Retry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(retry_name(*self))
    }
}

impl<'de> serde::Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_names::by_name(deserializer, category_named, "category")
    }
}

impl<'de> serde::Deserialize<'de> for Retry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_names::by_name(deserializer, retry_named, "retry decision")
    }
}

/// The category a policy violation falls in.
pub fn violation_category(violation: &Violation) -> Category {
    match violation {
        Violation::TooLarge(_) | Violation::ZeroByteUnsupported => Category::InvalidSize,
        _ => Category::InvalidName,
    }
}
