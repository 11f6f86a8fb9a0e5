//! The rules every bundled plugin is made of, and how an entry is checked against them.

use std::ops::Range;

use crate::chars::CharClass;
use crate::{
    CustomViolation, EdgeCharacter, Entry, EntryKind, ForbiddenCharacter, LengthScope, LengthUnit,
    LengthViolation, NameEdge, ReservedName, SizeViolation, TempForm, Verdict, Violation,
};

/// The rule name of a name that starts with one of `forbidden_prefixes`.
pub const FORBIDDEN_PREFIX: &str = "forbidden-prefix";
/// The rule name of a name that contains one of `forbidden_substrings`.
pub const FORBIDDEN_SUBSTRING: &str = "forbidden-substring";

/// The lengths of a name and its full path, as counted.
struct Measured {
    name: u32,
    path: u32,
    scope: LengthScope,
}

/// What `max_name_length` is counted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthCounts {
    /// The entry's own name, extension included.
    Name,
    /// `path_prefix`, the full path and, for files, the temporary upload suffix.
    FullPath,
}

/// Which control characters a remote refuses in names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlChars {
    /// None of them.
    Allow,
    /// U+0000–U+001F (Windows, SMB).
    C0,
    /// U+0000–U+001F and U+007F: the non-printable ASCII characters (Box).
    Ascii,
    /// Every Unicode control character: U+0000–U+001F and U+007F–U+009F (Azure Blob).
    All,
}

impl ControlChars {
    fn refuses(self, c: char) -> bool {
        match self {
            ControlChars::Allow => false,
            ControlChars::C0 => c <= '\u{1f}',
            ControlChars::Ascii => c <= '\u{1f}' || c == '\u{7f}',
            ControlChars::All => c.is_control(),
        }
    }
}

/// A rule of a plugin's own, checked with the kit's rules: what it finds is a `custom`
/// violation, and a suggested name keeps it too when it has a `fix`.
#[derive(Clone, Copy, Debug)]
pub struct CustomRule {
    /// A short, stable name in kebab-case, e.g. "too-many-dots".
    pub name: &'static str,
    /// What is wrong with the entry, for a human; `None` when it keeps the rule.
    pub check: fn(&Entry) -> Option<String>,
    /// The entry's name (its last component) changed to keep the rule; `None` when no name
    /// can (a rule on sizes), so that the rule alone asks for no suggested name.
    pub fix: Option<fn(&str) -> String>,
}

/// A remote server's naming, length and size rules.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Characters refused anywhere in a name.
    pub forbidden_chars: String,
    /// When set, the only characters accepted in a name; any other is forbidden.
    pub allowed_chars: Option<CharClass>,
    /// Which control characters are refused.
    pub control_chars: ControlChars,
    /// Reserved names, compared without case, alone or with any extension.
    pub reserved_names: Vec<String>,
    /// Texts refused at the start of a name, compared without ASCII case.
    pub forbidden_prefixes: Vec<String>,
    /// Texts refused anywhere in a name, compared without ASCII case.
    pub forbidden_substrings: Vec<String>,
    /// Characters refused as the first character of a name.
    pub forbidden_leading: String,
    /// Characters refused as the last character of a name.
    pub forbidden_trailing: String,
    /// Characters refused as the last character of a folder's name only.
    pub folder_forbidden_trailing: String,
    /// The name-length limit; 0 for none.
    pub max_name_length: u32,
    /// What `max_name_length` is counted on.
    pub length_counts: LengthCounts,
    /// The limit on `path_prefix`, the full path and, for files, the temporary suffix; 0
    /// for none.
    pub max_path_length: u32,
    /// The remote root's own path as the server counts it, in front of every full path.
    pub path_prefix: String,
    /// How lengths are counted.
    pub length_unit: LengthUnit,
    /// The largest file accepted, in bytes.
    pub max_size: Option<u64>,
    /// Whether zero-byte files are accepted.
    pub zero_byte_allowed: bool,
    /// Appended to a file's name while it is being uploaded.
    pub temp_suffix: String,
    /// The plugin's own rules, checked after the kit's naming rules.
    pub custom_rules: Vec<CustomRule>,
}

impl Rules {
    /// A plain POSIX server: `/` and NUL forbidden, 255 bytes per name, 4096 per path.
    pub fn posix() -> Self {
        Rules {
            forbidden_chars: "/\0".to_string(),
            allowed_chars: None,
            control_chars: ControlChars::Allow,
            reserved_names: Vec::new(),
            forbidden_prefixes: Vec::new(),
            forbidden_substrings: Vec::new(),
            forbidden_leading: String::new(),
            forbidden_trailing: String::new(),
            folder_forbidden_trailing: String::new(),
            max_name_length: 255,
            length_counts: LengthCounts::Name,
            max_path_length: 4096,
            path_prefix: String::new(),
            length_unit: LengthUnit::Utf8Bytes,
            max_size: None,
            zero_byte_allowed: true,
            temp_suffix: ".partial".to_string(),
            custom_rules: Vec::new(),
        }
    }

    /// Check one entry: every rule it breaks and, where possible, a name that works.
    pub fn check(&self, entry: &Entry) -> Verdict {
        let (violations, temp_form) = self.violations(entry);
        let suggested_path = if violations.iter().any(|v| self.is_fixable_by_renaming(v)) {
            self.suggest(entry, &violations)
        } else {
            None
        };
        Verdict {
            violations,
            suggested_path,
            temp_form,
        }
    }

    /// Every rule `entry` breaks, and the temporary name it needs.
    fn violations(&self, entry: &Entry) -> (Vec<Violation>, TempForm) {
        let name = last_component(&entry.path);
        let mut found = Vec::new();
        self.check_characters(name, &mut found);
        self.check_reserved(name, &mut found);
        self.check_edges(name, entry.kind, &mut found);
        self.check_patterns(name, &mut found);
        self.check_custom(entry, &mut found);
        let temp_form = self.check_lengths(entry, &mut found);
        self.check_size(entry, &mut found);
        (found, temp_form)
    }

    fn is_forbidden(&self, c: char) -> bool {
        self.forbidden_chars.contains(c)
            || self.control_chars.refuses(c)
            || self
                .allowed_chars
                .as_ref()
                .is_some_and(|allowed| !allowed.contains(c))
    }

    fn name_has_forbidden(&self, name: &str) -> bool {
        // Most names are clean: one pass over the bytes before the per-character work.
        let ascii_only = self.forbidden_chars.is_ascii();
        if ascii_only && self.control_chars == ControlChars::Allow && self.allowed_chars.is_none() {
            let forbidden = self.forbidden_chars.as_bytes();
            return name.bytes().any(|b| forbidden.contains(&b));
        }
        name.chars().any(|c| self.is_forbidden(c))
    }

    fn check_characters(&self, name: &str, found: &mut Vec<Violation>) {
        if !self.name_has_forbidden(name) {
            return;
        }
        for (position, character) in name.chars().enumerate() {
            if self.is_forbidden(character) {
                found.push(Violation::ForbiddenCharacter(ForbiddenCharacter {
                    character,
                    component: name.to_string(),
                    position: position as u32,
                }));
            }
        }
    }

    fn reserved_match(&self, name: &str) -> Option<&str> {
        let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
        self.reserved_names
            .iter()
            .find(|reserved| {
                if reserved.contains('.') {
                    reserved.eq_ignore_ascii_case(name)
                } else {
                    reserved.eq_ignore_ascii_case(stem)
                }
            })
            .map(String::as_str)
    }

    fn check_reserved(&self, name: &str, found: &mut Vec<Violation>) {
        if let Some(reserved) = self.reserved_match(name) {
            found.push(Violation::ReservedName(ReservedName {
                component: name.to_string(),
                reserved: reserved.to_string(),
            }));
        }
    }

    fn refuses_trailing(&self, c: char, kind: EntryKind) -> bool {
        self.forbidden_trailing.contains(c)
            || (kind == EntryKind::Directory && self.folder_forbidden_trailing.contains(c))
    }

    fn check_edges(&self, name: &str, kind: EntryKind, found: &mut Vec<Violation>) {
        let leading = name
            .chars()
            .next()
            .filter(|c| self.forbidden_leading.contains(*c));
        let trailing = name
            .chars()
            .last()
            .filter(|c| self.refuses_trailing(*c, kind));
        let edges = [(leading, NameEdge::Leading), (trailing, NameEdge::Trailing)];
        for (character, edge) in edges {
            if let Some(character) = character {
                found.push(Violation::EdgeCharacter(EdgeCharacter {
                    character,
                    component: name.to_string(),
                    edge,
                }));
            }
        }
    }

    /// Every occurrence of a forbidden prefix or substring in `name`: the rule it breaks,
    /// the text, and the bytes it takes (those of one text one after the other).
    fn pattern_matches(&self, name: &str) -> Vec<(&'static str, &str, Range<usize>)> {
        // ASCII lowercasing keeps every byte where it was, so the ranges hold for `name`.
        let lower = name.to_ascii_lowercase();
        let prefixes = self
            .forbidden_prefixes
            .iter()
            .filter(|prefix| lower.starts_with(&prefix.to_ascii_lowercase()))
            .map(|prefix| (FORBIDDEN_PREFIX, prefix.as_str(), 0..prefix.len()));
        let substrings = self.forbidden_substrings.iter().flat_map(|text| {
            lower
                .match_indices(&text.to_ascii_lowercase())
                .map(|(start, found)| {
                    (
                        FORBIDDEN_SUBSTRING,
                        text.as_str(),
                        start..start + found.len(),
                    )
                })
                .collect::<Vec<_>>()
        });
        prefixes.chain(substrings).collect()
    }

    fn check_patterns(&self, name: &str, found: &mut Vec<Violation>) {
        let mut matches = self.pattern_matches(name);
        matches.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
        for (rule, text, _) in matches {
            let place = if rule == FORBIDDEN_PREFIX {
                "at the start of a name"
            } else {
                "anywhere in a name"
            };
            found.push(Violation::Custom(CustomViolation {
                rule: rule.to_string(),
                message: format!("{name:?} contains {text:?}, which the remote refuses {place}"),
            }));
        }
    }

    fn check_custom(&self, entry: &Entry, found: &mut Vec<Violation>) {
        for rule in &self.custom_rules {
            if let Some(message) = (rule.check)(entry) {
                found.push(Violation::Custom(CustomViolation {
                    rule: rule.name.to_string(),
                    message,
                }));
            }
        }
    }

    /// The length of `text` as this remote counts it.
    pub fn measure(&self, text: &str) -> u32 {
        let length = match self.length_unit {
            LengthUnit::Characters => text.chars().count(),
            LengthUnit::Utf8Bytes => text.len(),
            LengthUnit::Utf16Units => text.encode_utf16().count(),
        };
        length as u32
    }

    /// The full path's length as counted while uploading, behind the remote root's own
    /// path: a file is uploaded under its standard temporary name, the path plus the
    /// temporary suffix — unless the remote takes uploads under their final name (no
    /// suffix: object stores, which commit an upload's parts at once).
    fn counted_path_length(&self, entry: &Entry) -> (u32, LengthScope) {
        match entry.kind {
            EntryKind::File if !self.temp_suffix.is_empty() => (
                self.measure(&self.path_prefix)
                    + self.measure(&entry.path)
                    + self.measure(&self.temp_suffix),
                LengthScope::FullPathWithTempSuffix,
            ),
            EntryKind::File | EntryKind::Directory => (
                self.measure(&self.path_prefix) + self.measure(&entry.path),
                LengthScope::FullPath,
            ),
        }
    }

    fn length_violation(
        &self,
        limit: u32,
        length: u32,
        scope: LengthScope,
    ) -> Option<LengthViolation> {
        (limit > 0 && length > limit).then_some(LengthViolation {
            limit,
            length,
            unit: self.length_unit,
            scope,
        })
    }

    /// Length violations of the entry itself; when it fits, the temporary name form that
    /// fits too (the standard one, else the short one). When neither temporary name fits,
    /// the standard one's violations are reported.
    fn check_lengths(&self, entry: &Entry, found: &mut Vec<Violation>) -> TempForm {
        let final_violations = self.lengths_over(&self.measured(entry, None));
        if !final_violations.is_empty() || entry.kind == EntryKind::Directory {
            found.extend(final_violations);
            return TempForm::Standard;
        }
        let standard = self.lengths_over(&self.measured(entry, Some(TempForm::Standard)));
        if standard.is_empty() {
            return TempForm::Standard;
        }
        if self
            .lengths_over(&self.measured(entry, Some(TempForm::Short)))
            .is_empty()
        {
            return TempForm::Short;
        }
        found.extend(standard);
        TempForm::Standard
    }

    /// The lengths the remote counts for `entry` under its final name (`None`) or while
    /// it is uploaded under a temporary name of `form`.
    fn measured(&self, entry: &Entry, form: Option<TempForm>) -> Measured {
        let prefix = self.measure(&self.path_prefix);
        let Some(form) = form else {
            let name = self.measure(last_component(&entry.path));
            let scope = LengthScope::FullPath;
            return Measured {
                name,
                path: prefix + self.measure(&entry.path),
                scope,
            };
        };
        let temp = self.temp_name(&entry.path, form);
        Measured {
            name: self.measure(last_component(&temp)),
            path: prefix + self.measure(&temp),
            scope: LengthScope::FullPathWithTempSuffix,
        }
    }

    fn lengths_over(&self, lengths: &Measured) -> Vec<Violation> {
        let name_violation = match self.length_counts {
            LengthCounts::Name => {
                self.length_violation(self.max_name_length, lengths.name, LengthScope::Name)
            }
            LengthCounts::FullPath => {
                self.length_violation(self.max_name_length, lengths.path, lengths.scope)
            }
        };
        let path_violation =
            self.length_violation(self.max_path_length, lengths.path, lengths.scope);
        name_violation
            .map(Violation::NameTooLong)
            .into_iter()
            .chain(path_violation.map(Violation::PathTooLong))
            .collect()
    }

    fn check_size(&self, entry: &Entry, found: &mut Vec<Violation>) {
        let Some(size) = entry.size.filter(|_| entry.kind == EntryKind::File) else {
            return;
        };
        if let Some(limit) = self.max_size.filter(|limit| size > *limit) {
            found.push(Violation::TooLarge(SizeViolation { limit, size }));
        }
        if size == 0 && !self.zero_byte_allowed {
            found.push(Violation::ZeroByteUnsupported);
        }
    }

    /// The temporary upload name for `final_path`, in the same folder.
    pub fn temp_name(&self, final_path: &str, form: TempForm) -> String {
        let (parent, name) = split_parent(final_path);
        let temp = match form {
            TempForm::Standard => format!("{name}{}", self.temp_suffix),
            TempForm::Short => format!("{:016x}{}", fnv1a64(final_path), self.temp_suffix),
        };
        join(parent, &temp)
    }

    /// The longest name that fits every length limit in `entry`'s folder.
    fn name_budget(&self, entry: &Entry) -> u32 {
        let name = last_component(&entry.path);
        let around_name = self.counted_path_length(entry).0 - self.measure(name);
        let path_budget = |limit: u32| {
            if limit == 0 {
                u32::MAX
            } else {
                limit.saturating_sub(around_name)
            }
        };
        let name_limit = match self.length_counts {
            LengthCounts::Name if self.max_name_length == 0 => u32::MAX,
            LengthCounts::Name => self.max_name_length,
            LengthCounts::FullPath => path_budget(self.max_name_length),
        };
        name_limit.min(path_budget(self.max_path_length))
    }

    fn suggest(&self, entry: &Entry, broken: &[Violation]) -> Option<String> {
        let (parent, name) = split_parent(&entry.path);
        let cleaned = self.fix_custom(entry, self.clean_name(name, entry.kind));
        let shortened = shorten(&cleaned, self.name_budget(entry), |text| self.measure(text))?;
        let candidate = Entry {
            path: join(parent, &shortened),
            kind: entry.kind,
            size: entry.size,
        };
        let still_broken = self
            .violations(&candidate)
            .0
            .iter()
            .any(|v| self.spoils_suggestion(v, broken));
        (!still_broken && candidate.path != entry.path).then_some(candidate.path)
    }

    /// `name` (in `entry`'s folder) changed by the fix of each custom rule it breaks.
    fn fix_custom(&self, entry: &Entry, name: String) -> String {
        let parent = split_parent(&entry.path).0;
        self.custom_rules.iter().fold(name, |name, rule| {
            let renamed = Entry {
                path: join(parent, &name),
                kind: entry.kind,
                size: entry.size,
            };
            match rule.fix {
                Some(fix) if (rule.check)(&renamed).is_some() => fix(&name),
                _ => name,
            }
        })
    }

    /// Whether a suggested name that breaks `violation` is no answer for an entry that
    /// breaks `broken`: renaming could fix it, or it is a custom rule the entry kept.
    fn spoils_suggestion(&self, violation: &Violation, broken: &[Violation]) -> bool {
        let kept = |rule: &str| {
            !broken
                .iter()
                .any(|v| matches!(v, Violation::Custom(c) if c.rule == rule))
        };
        match violation {
            Violation::Custom(custom) if kept(&custom.rule) => true,
            other => self.is_fixable_by_renaming(other),
        }
    }

    fn is_fixable_by_renaming(&self, violation: &Violation) -> bool {
        match violation {
            Violation::TooLarge(_) | Violation::ZeroByteUnsupported => false,
            Violation::Custom(custom) => {
                [FORBIDDEN_PREFIX, FORBIDDEN_SUBSTRING].contains(&custom.rule.as_str())
                    || self
                        .custom_rules
                        .iter()
                        .any(|rule| rule.name == custom.rule && rule.fix.is_some())
            }
            _ => true,
        }
    }

    /// `name` with every refused character, prefix and substring replaced by underscores,
    /// and a reserved name altered.
    fn clean_name(&self, name: &str, kind: EntryKind) -> String {
        let blanked: Vec<Range<usize>> = self
            .pattern_matches(name)
            .into_iter()
            .map(|(_, _, range)| range)
            .collect();
        let last = name.len() - name.chars().last().map_or(0, char::len_utf8);
        let mut cleaned: String = name
            .char_indices()
            .map(|(i, c)| {
                let bad_edge = (i == 0 && self.forbidden_leading.contains(c))
                    || (i == last && self.refuses_trailing(c, kind));
                let in_pattern = blanked.iter().any(|range| range.contains(&i));
                if self.is_forbidden(c) || bad_edge || in_pattern {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if self.reserved_match(&cleaned).is_some() {
            // Reserved names match on what precedes the first dot: alter that part.
            cleaned = match cleaned.find('.') {
                Some(dot) if dot > 0 => format!("{}_{}", &cleaned[..dot], &cleaned[dot..]),
                _ => format!("{cleaned}_"),
            };
        }
        cleaned
    }
}

/// The MS-DOS device names that Windows reserves, alone and with any extension: CON, PRN,
/// AUX, NUL, COM0–COM9 and LPT0–LPT9.
pub fn dos_device_names() -> Vec<String> {
    let numbered = ["COM", "LPT"]
        .into_iter()
        .flat_map(|port| (0..=9).map(move |n| format!("{port}{n}")));
    ["CON", "PRN", "AUX", "NUL"]
        .into_iter()
        .map(String::from)
        .chain(numbered)
        .collect()
}

/// The last `/`-separated component of `path`.
pub fn last_component(path: &str) -> &str {
    split_parent(path).1
}

/// `("a/b", "c")` for `"a/b/c"`, `("", "c")` for `"c"`.
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => ("", path),
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// `("report", ".csv")` for `"report.csv"`; a leading dot or a long tail is no extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// `name` cut, extension kept, until `measure` says it fits `budget`.
fn shorten(name: &str, budget: u32, measure: impl Fn(&str) -> u32) -> Option<String> {
    if measure(name) <= budget {
        return Some(name.to_string());
    }
    let (stem, extension) = split_extension(name);
    let mut stem: Vec<char> = stem.chars().collect();
    while !stem.is_empty() {
        stem.pop();
        let candidate = format!("{}{extension}", stem.iter().collect::<String>());
        if !stem.is_empty() && measure(&candidate) <= budget {
            return Some(candidate);
        }
    }
    None
}

/// FNV-1a, 64 bits: a stable hash for short temporary names.
fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> Entry {
        Entry {
            path: path.to_string(),
            kind: EntryKind::File,
            size: Some(size),
        }
    }

    #[test]
    fn forbidden_character_is_named_with_its_position() {
        let rules = Rules {
            forbidden_chars: "?*".into(),
            ..Rules::posix()
        };
        let verdict = rules.check(&file("dir/a?b", 1));
        assert_eq!(verdict.violations.len(), 1);
        match &verdict.violations[0] {
            Violation::ForbiddenCharacter(v) => {
                assert_eq!(
                    (v.character, v.component.as_str(), v.position),
                    ('?', "a?b", 1)
                )
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(verdict.suggested_path.as_deref(), Some("dir/a_b"));
    }

    #[test]
    fn reserved_names_match_with_any_extension_and_case() {
        let rules = Rules {
            reserved_names: vec!["NUL".into(), "CON".into()],
            ..Rules::posix()
        };
        let verdict = rules.check(&file("x/nul.txt", 1));
        assert!(
            matches!(&verdict.violations[0], Violation::ReservedName(r) if r.reserved == "NUL")
        );
        assert_eq!(verdict.suggested_path.as_deref(), Some("x/nul_.txt"));
        let several_dots = rules.check(&file("x/con.tar.gz", 1)).suggested_path;
        assert_eq!(several_dots.as_deref(), Some("x/con_.tar.gz"));
        assert!(rules.check(&file("x/console.txt", 1)).violations.is_empty());
    }

    #[test]
    fn full_path_count_includes_temp_suffix_and_suggestion_fits() {
        let rules = Rules {
            max_name_length: 30,
            length_counts: LengthCounts::FullPath,
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        };
        // 9 + 1 + 15 = 25 characters, 33 with ".partial".
        let entry = file("inbound-x/report-2024.csv", 10);
        let verdict = rules.check(&entry);
        match &verdict.violations[..] {
            [Violation::NameTooLong(v)] => {
                assert_eq!(
                    (v.limit, v.length, v.scope),
                    (30, 33, LengthScope::FullPathWithTempSuffix)
                )
            }
            other => panic!("unexpected {other:?}"),
        }
        let suggestion = verdict.suggested_path.unwrap();
        assert_eq!(suggestion, "inbound-x/report-2.csv");
        assert!(rules.check(&file(&suggestion, 10)).violations.is_empty());
    }

    #[test]
    fn utf16_and_bytes_count_differently() {
        let name = "😀".repeat(100); // 100 characters, 200 UTF-16 units, 400 bytes
        let count = |unit| {
            Rules {
                length_unit: unit,
                ..Rules::posix()
            }
            .measure(&name)
        };
        assert_eq!(count(LengthUnit::Characters), 100);
        assert_eq!(count(LengthUnit::Utf16Units), 200);
        assert_eq!(count(LengthUnit::Utf8Bytes), 400);
    }

    #[test]
    fn size_rules_apply_to_files_only() {
        let rules = Rules {
            max_size: Some(100),
            zero_byte_allowed: false,
            ..Rules::posix()
        };
        assert!(matches!(
            rules.check(&file("a", 101)).violations[..],
            [Violation::TooLarge(_)]
        ));
        assert!(matches!(
            rules.check(&file("a", 0)).violations[..],
            [Violation::ZeroByteUnsupported]
        ));
        let unknown = Entry {
            path: "a".into(),
            kind: EntryKind::File,
            size: None,
        };
        assert!(rules.check(&unknown).violations.is_empty());
        assert_eq!(rules.check(&file("a", 101)).suggested_path, None);
    }

    fn rule_names(verdict: &Verdict) -> Vec<String> {
        verdict
            .violations
            .iter()
            .map(|violation| match violation {
                Violation::Custom(custom) => custom.rule.clone(),
                other => format!("{other:?}").split('(').next().unwrap().to_string(),
            })
            .collect()
    }

    fn folder(path: &str) -> Entry {
        Entry {
            path: path.to_string(),
            kind: EntryKind::Directory,
            size: None,
        }
    }

    fn allowing(class: &str) -> Rules {
        Rules {
            allowed_chars: Some(CharClass::parse(class).unwrap()),
            ..Rules::posix()
        }
    }

    fn forbidden_at(verdict: &Verdict) -> Vec<(char, u32)> {
        verdict
            .violations
            .iter()
            .filter_map(|violation| match violation {
                Violation::ForbiddenCharacter(f) => Some((f.character, f.position)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn characters_outside_the_allow_list_are_forbidden_at_their_position() {
        let rules = allowing("A-Za-z0-9._À-ÿ-");
        let verdict = rules.check(&file("in/Résumé – 2024 (v2).pdf", 1));
        let outside = [
            (' ', 6),
            ('–', 7),
            (' ', 8),
            (' ', 13),
            ('(', 14),
            (')', 17),
        ];
        assert_eq!(forbidden_at(&verdict), outside);
        assert_eq!(
            verdict.suggested_path.as_deref(),
            Some("in/Résumé___2024__v2_.pdf")
        );
        assert!(
            rules
                .check(&file("in/Ærø-2024_v2.pdf", 1))
                .violations
                .is_empty()
        );
    }

    #[test]
    fn a_character_both_forbidden_and_not_allowed_is_one_violation() {
        let rules = Rules {
            forbidden_chars: "?".into(),
            ..allowing("a-z")
        };
        assert_eq!(forbidden_at(&rules.check(&file("a?", 1))), [('?', 1)]);
    }

    #[test]
    fn no_suggestion_when_the_allow_list_lacks_the_underscore() {
        let rules = allowing("a-z.");
        let verdict = rules.check(&file("d/a b.txt", 1));
        assert_eq!(forbidden_at(&verdict), [(' ', 1)]);
        assert_eq!(verdict.suggested_path, None);
    }

    #[test]
    fn an_empty_allow_list_accepts_nothing() {
        let verdict = allowing("").check(&file("ab", 1));
        assert_eq!(forbidden_at(&verdict), [('a', 0), ('b', 1)]);
    }

    /// At most one dot, with every dot but the last made an underscore as the fix.
    const ONE_DOT: CustomRule = CustomRule {
        name: "too-many-dots",
        check: |entry| {
            let dots = last_component(&entry.path).matches('.').count();
            (dots > 1).then(|| format!("{dots} dots"))
        },
        fix: Some(|name| match name.rfind('.') {
            Some(last) => format!("{}{}", name[..last].replace('.', "_"), &name[last..]),
            None => name.to_string(),
        }),
    };

    /// Files of an odd size are refused; no name fixes that.
    const EVEN_SIZE: CustomRule = CustomRule {
        name: "odd-size",
        check: |entry| {
            entry
                .size
                .filter(|size| size % 2 == 1)
                .map(|_| "odd".into())
        },
        fix: None,
    };

    /// POSIX rules with `forbidden_chars` and `custom_rules`.
    fn with_custom(forbidden_chars: &str, custom_rules: Vec<CustomRule>) -> Rules {
        Rules {
            forbidden_chars: forbidden_chars.into(),
            custom_rules,
            ..Rules::posix()
        }
    }

    #[test]
    fn custom_rules_are_merged_into_the_verdict_and_fixed_in_the_suggestion() {
        let rules = with_custom("?", vec![ONE_DOT, EVEN_SIZE]);
        let verdict = rules.check(&file("d/q3.v2?.tar", 3));
        assert_eq!(
            rule_names(&verdict),
            ["Violation::ForbiddenCharacter", "too-many-dots", "odd-size"]
        );
        assert_eq!(verdict.suggested_path.as_deref(), Some("d/q3_v2_.tar"));
        assert!(rules.check(&file("d/q3_v2_.tar", 2)).violations.is_empty());
    }

    #[test]
    fn a_custom_rule_without_a_fix_asks_for_no_suggestion() {
        let rules = with_custom("/", vec![EVEN_SIZE]);
        let verdict = rules.check(&file("d/a.csv", 3));
        assert_eq!(rule_names(&verdict), ["odd-size"]);
        assert_eq!(verdict.suggested_path, None);
    }

    #[test]
    fn a_suggestion_that_would_still_break_a_custom_rule_is_not_given() {
        let no_underscore = CustomRule {
            name: "no-underscore",
            check: |entry| entry.path.contains('_').then(|| "an underscore".into()),
            fix: None,
        };
        let rules = with_custom("?", vec![no_underscore]);
        let verdict = rules.check(&file("a?b", 1));
        assert_eq!(rule_names(&verdict), ["Violation::ForbiddenCharacter"]);
        assert_eq!(verdict.suggested_path, None);
    }

    #[test]
    fn control_character_sets_differ_only_at_del_and_c1() {
        let refuses = |set: ControlChars, c: char| {
            let rules = Rules {
                control_chars: set,
                ..Rules::posix()
            };
            !rules
                .check(&file(&format!("a{c}b"), 1))
                .violations
                .is_empty()
        };
        for (c, c0, ascii, all) in [
            ('\u{1}', true, true, true),
            ('\u{7f}', false, true, true),
            ('\u{85}', false, false, true),
            ('é', false, false, false),
        ] {
            assert_eq!(refuses(ControlChars::C0, c), c0, "{c:?} c0");
            assert_eq!(refuses(ControlChars::Ascii, c), ascii, "{c:?} ascii");
            assert_eq!(refuses(ControlChars::All, c), all, "{c:?} all");
            assert!(!refuses(ControlChars::Allow, c));
        }
    }

    #[test]
    fn prefixes_and_substrings_are_refused_without_case_and_blanked_in_suggestions() {
        let rules = Rules {
            forbidden_prefixes: vec!["~$".into()],
            forbidden_substrings: vec!["_vti_".into()],
            ..Rules::posix()
        };
        let verdict = rules.check(&file("d/~$Budget_VTI_x_vti_.docx", 1));
        assert_eq!(
            rule_names(&verdict),
            [FORBIDDEN_PREFIX, FORBIDDEN_SUBSTRING],
            "one violation per rule and text, however often it occurs"
        );
        let suggestion = verdict.suggested_path.unwrap();
        assert_eq!(suggestion, "d/__Budget_____x_____.docx");
        assert!(rules.check(&file(&suggestion, 1)).violations.is_empty());
        assert!(rules.check(&file("d/a~$b", 1)).violations.is_empty());
    }

    #[test]
    fn folder_only_trailing_characters_spare_files() {
        let rules = Rules {
            folder_forbidden_trailing: " ".into(),
            ..Rules::posix()
        };
        assert!(rules.check(&file("a/notes ", 1)).violations.is_empty());
        let verdict = rules.check(&folder("a/Reports "));
        assert!(matches!(
            &verdict.violations[..],
            [Violation::EdgeCharacter(e)] if e.edge == NameEdge::Trailing && e.character == ' '
        ));
        assert_eq!(verdict.suggested_path.as_deref(), Some("a/Reports_"));
    }

    #[test]
    fn dot_names_are_reserved_by_listing_them() {
        let rules = Rules {
            reserved_names: vec![".".into(), "..".into()],
            ..Rules::posix()
        };
        for name in [".", ".."] {
            let verdict = rules.check(&folder(name));
            assert!(
                matches!(&verdict.violations[..], [Violation::ReservedName(r)] if r.reserved == name)
            );
            let suggestion = verdict.suggested_path.unwrap();
            assert!(rules.check(&folder(&suggestion)).violations.is_empty());
        }
        assert!(rules.check(&file(".profile", 1)).violations.is_empty());
    }

    #[test]
    fn path_prefix_counts_in_front_of_every_path_and_in_suggestions() {
        let rules = Rules {
            max_name_length: 0,
            max_path_length: 30,
            path_prefix: "inbound/acme/".into(), // 13
            temp_suffix: ".p".into(),
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        };
        // 13 + 15 + 2 = 30 fits; one more character does not.
        assert!(
            rules
                .check(&file("reports/abc.csv", 1))
                .violations
                .is_empty()
        );
        let verdict = rules.check(&file("reports/abcd.csv", 1));
        match &verdict.violations[..] {
            [Violation::PathTooLong(v)] => assert_eq!((v.limit, v.length), (30, 31)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(verdict.suggested_path.as_deref(), Some("reports/abc.csv"));
    }

    #[test]
    fn max_name_length_zero_is_no_limit() {
        let rules = Rules {
            max_name_length: 0,
            max_path_length: 0,
            ..Rules::posix()
        };
        assert!(
            rules
                .check(&file(&"x".repeat(5000), 1))
                .violations
                .is_empty()
        );
    }

    #[test]
    fn dos_device_names_are_the_24_windows_reserves() {
        let names = dos_device_names();
        assert_eq!(names.len(), 24);
        for name in ["CON", "PRN", "AUX", "NUL", "COM0", "COM9", "LPT0", "LPT9"] {
            assert!(names.contains(&name.to_string()), "{name}");
        }
    }

    #[test]
    fn short_temp_name_is_stable_and_in_the_same_folder() {
        let rules = Rules::posix();
        let short = rules.temp_name("a/b/very-long-name.csv", TempForm::Short);
        assert!(short.starts_with("a/b/") && short.ends_with(".partial"));
        assert_eq!(
            short,
            rules.temp_name("a/b/very-long-name.csv", TempForm::Short)
        );
        assert_eq!(
            rules.temp_name("x.csv", TempForm::Standard),
            "x.csv.partial"
        );
    }

    #[test]
    fn a_name_that_fits_only_without_the_temp_suffix_gets_the_short_temp_name() {
        let rules = Rules {
            max_name_length: 60,
            length_counts: LengthCounts::FullPath,
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        };
        // 56 characters: fits; 64 with ".partial": does not; "a/" + 16 + 8 = 26: fits.
        let path = format!("a/{}.csv", "n".repeat(50));
        let verdict = rules.check(&file(&path, 1));
        assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);
        assert_eq!(verdict.temp_form, TempForm::Short);
        let fits = rules.check(&file("a/short.csv", 1));
        assert_eq!(fits.temp_form, TempForm::Standard);
    }

    #[test]
    fn a_final_name_over_the_limit_is_reported_on_the_full_path_itself() {
        let rules = Rules {
            max_name_length: 20,
            length_counts: LengthCounts::FullPath,
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        };
        let verdict = rules.check(&file("folder/twenty-five-chars.x", 1));
        match &verdict.violations[..] {
            [Violation::NameTooLong(v)] => {
                assert_eq!((v.length, v.scope), (26, LengthScope::FullPath))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
