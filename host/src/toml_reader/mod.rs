//! Typed reading of a spanned TOML document: every value knows its dotted key path and
//! byte span, so every complaint about it can name the file, line, column and key
//! ([`TomlError`]). ferry.toml and the golden-case files of policy plugins are read with it.

mod error;
mod field;
mod table;

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub(crate) use error::located;
pub use error::{Place, TomlError};
pub(crate) use field::Field;
pub(crate) use table::Table;

/// The text of a file read as `bytes`; where it is not UTF-8 the error gives the line,
/// the column (in characters, all valid before it) and the byte offset in the file.
pub fn utf8(file: &Path, bytes: Vec<u8>) -> Result<String, TomlError> {
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let valid = std::str::from_utf8(&bytes[..offset]).expect("valid up to here");
        let (line, column) = line_and_column(valid, offset);
        TomlError {
            file: file.to_path_buf(),
            line,
            column,
            key: String::new(),
            message: format!(
                "not valid UTF-8 (byte 0x{:02X} at byte offset {offset}); save the file as UTF-8",
                bytes[offset]
            ),
        }
    })
}

/// The 1-based line and column (in characters) of the byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// How messages about one kind of file write what the kinds of file differ in.
#[derive(Clone, Copy)]
pub(crate) struct Phrasing {
    /// A string value as messages show it, e.g. after "expected a table, got".
    pub quote: fn(&str) -> String,
    /// The message for an unknown key, from its name and the keys allowed beside it.
    pub unknown_key: fn(&str, &[&str]) -> String,
}

/// The text read, the file it came from, and how messages about it are phrased.
pub(crate) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub phrasing: Phrasing,
}

impl<'a> Source<'a> {
    /// The document, or the TOML syntax error placed in the file.
    pub fn parse(&self) -> Result<Spanned<DeTable<'a>>, TomlError> {
        DeTable::parse(self.text).map_err(|error| {
            let span = error.span().unwrap_or_default();
            self.error(&span, "", error.message().replace('\n', " "))
        })
    }

    pub fn error(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> TomlError {
        let Place { line, column, key } = self.place(span, key);
        TomlError {
            file: self.file.to_path_buf(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// Where the text at `span` starts, for complaints about `key` found later.
    pub fn place(&self, span: &Range<usize>, key: &str) -> Place {
        let (line, column) = self.line_and_column(span.start);
        Place {
            line,
            column,
            key: key.to_string(),
        }
    }

    fn line_and_column(&self, offset: usize) -> (usize, usize) {
        line_and_column(self.text, offset)
    }

    /// A value as it would read in the file, or its kind when it is long.
    fn describe(&self, value: &DeValue<'_>) -> String {
        match value {
            DeValue::String(text) => (self.phrasing.quote)(text),
            DeValue::Integer(integer) => integer.to_string(),
            DeValue::Float(float) => float.to_string(),
            DeValue::Boolean(boolean) => boolean.to_string(),
            DeValue::Datetime(datetime) => datetime.to_string(),
            DeValue::Array(_) => "an array".to_string(),
            DeValue::Table(_) => "a table".to_string(),
        }
    }
}
