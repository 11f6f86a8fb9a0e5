//! Untrusted text made inert before it reaches a terminal. A file name chosen by a server,
//! a plugin's message or a remote's error text may hold escape sequences, line breaks or
//! bidirectional overrides; [`inert`] shows each such character as a visible escape
//! (`\e`, `\n`, `\u{202e}`), doubles the backslash so that no two texts print the same,
//! and cuts text longer than [`MAX_SHOWN`] characters.

use std::fmt::{self, Display, Write};

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
        for c in self.0.chars().take(MAX_SHOWN) {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\u{1b}' => f.write_str("\\e")?,
                c if is_invisible(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        let cut = self.0.chars().skip(MAX_SHOWN).count();
        if cut > 0 {
            write!(f, "…[{cut} more characters]")?;
        }
        Ok(())
    }
}

/// Control characters (C0, DEL, C1), bidirectional controls, line and paragraph
/// separators, and the other format characters that print as nothing.
fn is_invisible(c: char) -> bool {
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

    #[test]
    fn different_texts_never_print_the_same() {
        let texts = [
            "a\nb",
            "a\\nb",
            "a\\\nb",
            "\u{1b}",
            "\\e",
            "\\u{1b}",
            "\u{202e}",
            "\\u{202e}",
        ];
        let mut printed: Vec<String> = texts.iter().map(|t| shown(t)).collect();
        printed.sort();
        printed.dedup();
        assert_eq!(printed.len(), texts.len(), "{printed:?}");
        assert_eq!(shown("a\\nb"), "a\\\\nb");
    }

    #[test]
    fn long_text_is_cut_and_says_how_much() {
        let text = "é".repeat(MAX_SHOWN + 10);
        let printed = shown(&text);
        assert!(printed.starts_with(&"é".repeat(MAX_SHOWN)));
        assert!(printed.ends_with("…[10 more characters]"), "{printed}");
    }
}
