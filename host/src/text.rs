//! Untrusted text made inert before it reaches a terminal. A file name chosen by a server,
//! a plugin's message or a remote's error text may hold escape sequences, line breaks or
//! bidirectional overrides; [`inert`] shows each such character as a visible escape
//! (`\e`, `\n`, `\u{202e}`), doubles a backslash that would read as the start of such an
//! escape (so that no two texts print the same), and cuts text longer than [`MAX_SHOWN`]
//! characters.

use std::fmt::{self, Display, Write};

/// The most bytes kept of one untrusted text (a plugin's message, advice, a name in a
/// violation, a suggested path, a temporary name; a server's error message): the rest
/// is cut with a visible mark where it enters ferry, so that nothing a plugin or a
/// server says can make a run hold, or the state store keep, more than a bounded amount.
pub const TEXT_CAP: usize = 1024;

/// `text` within [`TEXT_CAP`] bytes: see [`cut_to`].
pub fn cut(text: String) -> String {
    cut_to(text, TEXT_CAP)
}

/// `text` within `cap` bytes: cut at a character boundary, with how much was cut (a cut
/// text is then longer than `cap`, so that no check of a length mistakes it for whole).
pub fn cut_to(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let keep = (0..=cap)
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0);
    // A new string: a truncated one would keep the whole allocation.
    format!("{}…[cut {} bytes]", &text[..keep], text.len() - keep)
}

/// The most characters of one untrusted text that are shown.
pub const MAX_SHOWN: usize = 4096;

/// `text` as it may be printed: see the module's documentation.
pub fn inert(text: &str) -> Inert<'_> {
    Inert(text)
}

/// Displays its text made inert; `{:?}` is not needed and not offered.
#[derive(Clone, Copy)]
pub struct Inert<'a>(&'a str);

impl Display for Inert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, c) in self.0.char_indices().take(MAX_SHOWN) {
            match escape(c) {
                Some(escaped) => f.write_str(&escaped)?,
                None if c == '\\' && reads_as_escape(&self.0[at + 1..]) => f.write_str("\\\\")?,
                None => f.write_char(c)?,
            }
        }
        let cut = self.0.chars().skip(MAX_SHOWN).count();
        if cut > 0 {
            write!(f, "…[{cut} more characters]")?;
        }
        Ok(())
    }
}

/// How `c` is shown when it cannot be shown as itself.
fn escape(c: char) -> Option<String> {
    match c {
        '\n' => Some("\\n".into()),
        '\r' => Some("\\r".into()),
        '\t' => Some("\\t".into()),
        '\u{1b}' => Some("\\e".into()),
        c if is_invisible(c) => Some(format!("\\u{{{:x}}}", u32::from(c))),
        _ => None,
    }
}

/// Whether a backslash followed by `rest` would read as one of [`escape`]'s escapes (or as
/// a doubled backslash): only then is the backslash doubled, so "D:\\Shares" stays as it is.
fn reads_as_escape(rest: &str) -> bool {
    let mut next = rest.chars();
    match next.next() {
        Some('\\' | 'e' | 'n' | 'r' | 't') => true,
        Some('u') => next.next() == Some('{'),
        Some(c) => escape(c).is_some(),
        None => false,
    }
}

/// Control characters (C0, DEL, C1), bidirectional controls, line and paragraph
/// separators, and the other format characters that print as nothing.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary_with_a_mark() {
        let text = "é".repeat(TEXT_CAP);
        let cut = cut(text);
        assert!(cut.starts_with(&"é".repeat(TEXT_CAP / 2)));
        assert!(
            cut.ends_with(&format!("…[cut {} bytes]", TEXT_CAP)),
            "{cut}"
        );
        assert_eq!(super::cut("short".into()), "short");
        let huge = super::cut("x".repeat(10 << 20));
        assert!(
            huge.capacity() <= 2 * TEXT_CAP,
            "the cut text keeps {} bytes",
            huge.capacity()
        );
    }

    fn shown(text: &str) -> String {
        inert(text).to_string()
    }

    #[test]
    fn plain_text_and_other_scripts_are_unchanged() {
        for text in ["report 2026.csv", "café/😀.bin", "日本語.txt", "a?b*c"] {
            assert_eq!(shown(text), text);
        }
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(shown("\u{1b}[2Jgone"), "\\e[2Jgone");
        assert_eq!(
            shown("x\nwhat to do: nothing\r\t"),
            "x\\nwhat to do: nothing\\r\\t"
        );
        assert_eq!(
            shown("\0\u{7}\u{7f}\u{85}\u{9b}"),
            "\\u{0}\\u{7}\\u{7f}\\u{85}\\u{9b}"
        );
    }

    #[test]
    fn bidi_overrides_and_invisible_format_characters_are_made_visible() {
        assert_eq!(shown("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        for c in [
            '\u{202a}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{feff}', '\u{2028}',
        ] {
            assert_eq!(shown(&c.to_string()), format!("\\u{{{:x}}}", u32::from(c)));
        }
    }

    /// Reads printed text back: every escape, and a backslash that starts none.
    fn decoded(printed: &str) -> String {
        let mut text = String::new();
        let mut rest = printed;
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            if c != '\\' {
                text.push(c);
                continue;
            }
            let (decoded, used) = match rest.chars().next() {
                Some('\\') => ('\\', 1),
                Some('e') => ('\u{1b}', 1),
                Some('n') => ('\n', 1),
                Some('r') => ('\r', 1),
                Some('t') => ('\t', 1),
                Some('u') if rest[1..].starts_with('{') => {
                    let end = rest.find('}').unwrap();
                    let code = u32::from_str_radix(&rest[2..end], 16).unwrap();
                    (char::from_u32(code).unwrap(), end + 1)
                }
                _ => ('\\', 0),
            };
            text.push(decoded);
            rest = &rest[used..];
        }
        text
    }

    #[test]
    fn every_text_reads_back_from_what_is_printed() {
        let alphabet = [
            '\\', 'e', 'n', 'u', '{', '1', 'b', '}', '\n', '\u{1b}', '\u{202e}',
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
                .collect();
            texts.extend(longer);
        }
        for text in &texts {
            assert_eq!(&decoded(&shown(text)), text, "printed as {}", shown(text));
        }
        assert_eq!(shown("a\\nb"), "a\\\\nb");
    }

    #[test]
    fn a_backslash_that_starts_no_escape_is_shown_as_itself() {
        assert_eq!(shown("D:\\Shares\\acme\\"), "D:\\Shares\\acme\\");
        assert_eq!(shown("/\\u0000"), "/\\u0000");
    }

    #[test]
    fn long_text_is_cut_and_says_how_much() {
        let text = "é".repeat(MAX_SHOWN + 10);
        let printed = shown(&text);
        assert!(printed.starts_with(&"é".repeat(MAX_SHOWN)));
        assert!(printed.ends_with("…[10 more characters]"), "{printed}");
    }
}
