//! The rules every bundled plugin is made of, and how an entry is checked against them.

use crate::{
    EdgeCharacter, Entry, EntryKind, ForbiddenCharacter, LengthScope, LengthUnit, LengthViolation,
    NameEdge, ReservedName, SizeViolation, TempForm, Verdict, Violation,
};

/// What `max_name_length` is counted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthCounts {
    /// The entry's own name, extension included.
    Name,
    /// The full path plus, for files, the temporary upload suffix.
    FullPath,
}

/// A remote server's naming, length and size rules.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Characters refused anywhere in a name.
    pub forbidden_chars: String,
    /// Whether control characters (U+0000–U+001F, U+007F) are refused.
    pub forbid_control_chars: bool,
    /// Reserved names, compared without case, alone or with any extension.
    pub reserved_names: Vec<String>,
    /// Characters refused as the first character of a name.
    pub forbidden_leading: String,
    /// Characters refused as the last character of a name.
    pub forbidden_trailing: String,
    /// The name-length limit.
    pub max_name_length: u32,
    /// What `max_name_length` is counted on.
    pub length_counts: LengthCounts,
    /// The limit on the full path (plus the temporary suffix for files); 0 for none.
    pub max_path_length: u32,
    /// How lengths are counted.
    pub length_unit: LengthUnit,
    /// The largest file accepted, in bytes.
    pub max_size: Option<u64>,
    /// Whether zero-byte files are accepted.
    pub zero_byte_allowed: bool,
    /// Appended to a file's name while it is being uploaded.
    pub temp_suffix: String,
}

impl Rules {
    /// A plain POSIX server: `/` and NUL forbidden, 255 bytes per name, 4096 per path.
    pub fn posix() -> Self {
        Rules {
            forbidden_chars: "/\0".to_string(),
            forbid_control_chars: false,
            reserved_names: Vec::new(),
            forbidden_leading: String::new(),
            forbidden_trailing: String::new(),
            max_name_length: 255,
            length_counts: LengthCounts::Name,
            max_path_length: 4096,
            length_unit: LengthUnit::Utf8Bytes,
            max_size: None,
            zero_byte_allowed: true,
            temp_suffix: ".partial".to_string(),
        }
    }

    /// Check one entry: every rule it breaks and, where possible, a name that works.
    pub fn check(&self, entry: &Entry) -> Verdict {
        let violations = self.violations(entry);
        let suggested_path = if violations.iter().any(is_fixable_by_renaming) {
            self.suggest(entry)
        } else {
            None
        };
        Verdict {
            violations,
            suggested_path,
        }
    }

    fn violations(&self, entry: &Entry) -> Vec<Violation> {
        let name = last_component(&entry.path);
        let mut found = Vec::new();
        self.check_characters(name, &mut found);
        self.check_reserved(name, &mut found);
        self.check_edges(name, &mut found);
        self.check_lengths(entry, name, &mut found);
        self.check_size(entry, &mut found);
        found
    }

    fn is_forbidden(&self, c: char) -> bool {
        self.forbidden_chars.contains(c) || (self.forbid_control_chars && c.is_control())
    }

    fn name_has_forbidden(&self, name: &str) -> bool {
        // Most names are clean: one pass over the bytes before the per-character work.
        let ascii_only = self.forbidden_chars.is_ascii();
        if ascii_only && !self.forbid_control_chars {
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

    fn check_edges(&self, name: &str, found: &mut Vec<Violation>) {
        let edges = [
            (
                name.chars().next(),
                &self.forbidden_leading,
                NameEdge::Leading,
            ),
            (
                name.chars().last(),
                &self.forbidden_trailing,
                NameEdge::Trailing,
            ),
        ];
        for (character, refused, edge) in edges {
            if let Some(character) = character.filter(|c| refused.contains(*c)) {
                found.push(Violation::EdgeCharacter(EdgeCharacter {
                    character,
                    component: name.to_string(),
                    edge,
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

    /// The full path's length as counted while uploading: a file is uploaded under its
    /// standard temporary name, which is the path plus the temporary suffix.
    fn counted_path_length(&self, entry: &Entry) -> (u32, LengthScope) {
        match entry.kind {
            EntryKind::File => (
                self.measure(&entry.path) + self.measure(&self.temp_suffix),
                LengthScope::FullPathWithTempSuffix,
            ),
            EntryKind::Directory => (self.measure(&entry.path), LengthScope::FullPath),
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

    fn check_lengths(&self, entry: &Entry, name: &str, found: &mut Vec<Violation>) {
        let (path_length, path_scope) = self.counted_path_length(entry);
        let name_violation = match self.length_counts {
            LengthCounts::Name => {
                self.length_violation(self.max_name_length, self.measure(name), LengthScope::Name)
            }
            LengthCounts::FullPath => {
                self.length_violation(self.max_name_length, path_length, path_scope)
            }
        };
        found.extend(name_violation.map(Violation::NameTooLong));
        let path_violation = self.length_violation(self.max_path_length, path_length, path_scope);
        found.extend(path_violation.map(Violation::PathTooLong));
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
            LengthCounts::Name => self.max_name_length,
            LengthCounts::FullPath => path_budget(self.max_name_length),
        };
        name_limit.min(path_budget(self.max_path_length))
    }

    fn suggest(&self, entry: &Entry) -> Option<String> {
        let (parent, name) = split_parent(&entry.path);
        let cleaned = self.clean_name(name);
        let shortened = shorten(&cleaned, self.name_budget(entry), |text| self.measure(text))?;
        let candidate = Entry {
            path: join(parent, &shortened),
            kind: entry.kind,
            size: entry.size,
        };
        let still_broken = self
            .violations(&candidate)
            .iter()
            .any(is_fixable_by_renaming);
        (!still_broken && candidate.path != entry.path).then_some(candidate.path)
    }

    fn clean_name(&self, name: &str) -> String {
        let last = name.chars().count().saturating_sub(1);
        let mut cleaned: String = name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let bad_edge = (i == 0 && self.forbidden_leading.contains(c))
                    || (i == last && self.forbidden_trailing.contains(c));
                if self.is_forbidden(c) || bad_edge {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if self.reserved_match(&cleaned).is_some() {
            let (stem, extension) = split_extension(&cleaned);
            cleaned = format!("{stem}_{extension}");
        }
        cleaned
    }
}

fn is_fixable_by_renaming(violation: &Violation) -> bool {
    !matches!(
        violation,
        Violation::TooLarge(_) | Violation::ZeroByteUnsupported | Violation::Custom(_)
    )
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
}
