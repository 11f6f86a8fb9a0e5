//! Sets of characters written as a class, the way `allowed_chars` takes them:
//! `A-Za-z0-9._-`.

use std::ops::RangeInclusive;

/// A set of characters: single characters and inclusive ranges, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharClass {
    written: String,
    ranges: Vec<RangeInclusive<char>>,
}

impl CharClass {
    /// Read a class such as `A-Za-z0-9._-`: single characters and ranges; a backslash
    /// takes the next character as itself, and a `-` first or last is itself. `""` is the
    /// empty set.
    pub fn parse(written: &str) -> Result<Self, String> {
        let literals = literals(written)?;
        let mut ranges = Vec::new();
        let mut rest = &literals[..];
        while let Some(&(start, _)) = rest.first() {
            let (range, taken) = match rest {
                [_, ('-', false), (end, _), ..] => (start..=*end, 3),
                _ => (start..=start, 1),
            };
            if range.is_empty() {
                let end = range.end();
                return Err(format!(
                    "the range {start}-{end} runs backwards; write {end}-{start}"
                ));
            }
            rest = &rest[taken..];
            ranges.push(range);
        }
        Ok(CharClass {
            written: written.to_string(),
            ranges,
        })
    }

    /// Whether `c` is in the set.
    pub fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|range| range.contains(&c))
    }

    /// The class as it was written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

/// Each character of `written` and whether a backslash escaped it.
fn literals(written: &str) -> Result<Vec<(char, bool)>, String> {
    let mut chars = written.chars();
    let mut literals = Vec::new();
    while let Some(c) = chars.next() {
        literals.push(match c {
            '\\' => (
                chars.next().ok_or_else(|| {
                    "the class ends with a lone backslash; a backslash takes the next character as \
                     itself, so write two for a backslash"
                        .to_string()
                })?,
                true,
            ),
            c => (c, false),
        });
    }
    Ok(literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(class: &str, candidates: &str) -> String {
        let class = CharClass::parse(class).unwrap();
        candidates.chars().filter(|c| class.contains(*c)).collect()
    }

    #[test]
    fn ranges_and_single_characters() {
        assert_eq!(members("A-Za-z0-9._", "aZ09._-/ é"), "aZ09._");
        assert_eq!(members("a-a", "ab"), "a");
    }

    #[test]
    fn a_dash_first_or_last_is_itself() {
        assert_eq!(members("-a", "-ab"), "-a");
        assert_eq!(members("a-", "-ab"), "-a");
    }

    #[test]
    fn a_backslash_takes_the_next_character_as_itself() {
        assert_eq!(members(r"a\-z", "a-bz"), "a-z");
        assert_eq!(members(r"\\", r"\a"), r"\");
        assert_eq!(
            members(r"\a-c", "abcd"),
            "abc",
            "an escaped start still opens a range"
        );
        let lone = CharClass::parse(r"a\").unwrap_err();
        assert!(lone.contains("lone backslash"), "{lone}");
    }

    #[test]
    fn multibyte_characters_and_ranges() {
        assert_eq!(members("À-ÿ", "aéÿĀ"), "éÿ");
        assert_eq!(members("日本😀", "日本語😀"), "日本😀");
        assert_eq!(members("😀-😂", "😀😁😂😃"), "😀😁😂");
    }

    #[test]
    fn the_empty_class_has_no_members() {
        let empty = CharClass::parse("").unwrap();
        assert!(!empty.contains('a') && !empty.contains('\0'));
        assert_eq!(empty.as_str(), "");
    }

    #[test]
    fn a_backwards_range_is_refused_with_the_right_order() {
        let error = CharClass::parse("z-a").unwrap_err();
        assert!(error.contains("write a-z"), "{error}");
    }
}
