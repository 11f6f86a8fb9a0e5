//! Typed reading of a spanned TOML document: every value knows its dotted key path and
//! byte span, so every complaint about it can name the file, line, column and key.

use std::fmt::Display;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::paths;
use super::suggest::{Listing, explain_unknown};

/// The config text and the file it came from.
pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_and_column(self.text, span.start);
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn syntax_error(&self, error: &toml::de::Error) -> ConfigError {
        let span = error.span().unwrap_or_default();
        self.error(&span, "", error.message().replace('\n', " "))
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// A TOML table with its dotted key path ("" for the document) and its span (the header
/// for `[a.b]` tables).
pub(super) struct Table<'a> {
    source: &'a Source<'a>,
    path: String,
    span: Range<usize>,
    entries: &'a DeTable<'a>,
}

impl<'a> Table<'a> {
    pub fn document(source: &'a Source<'a>, document: &'a Spanned<DeTable<'a>>) -> Self {
        Table {
            source,
            path: String::new(),
            span: document.span(),
            entries: document.get_ref(),
        }
    }

    /// An error about the table as a whole, placed at its header.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.source.error(&self.span, &self.path, message)
    }

    /// Rejects any key not in `allowed`, suggesting the nearest allowed key.
    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        let unknown = self
            .entries
            .keys()
            .find(|key| !allowed.contains(&key.get_ref().as_ref()));
        match unknown {
            None => Ok(()),
            Some(key) => {
                let name = key.get_ref().as_ref();
                let head = format!("unknown key {name:?}");
                let message = explain_unknown(
                    &head,
                    name,
                    allowed,
                    "valid keys",
                    Listing::WithoutSuggestion,
                );
                Err(self.source.error(&key.span(), &self.path, message))
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        let (key, value) = self.entries.get_key_value(key)?;
        Some(self.field(key.get_ref(), value))
    }

    pub fn require(&self, key: &str) -> Result<Field<'a>, ConfigError> {
        self.get(key)
            .ok_or_else(|| self.error(format!("missing key {key:?}")))
    }

    /// `read` applied to the value of `key`, or `None` when the key is absent.
    pub fn optional<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key).map(|field| read(&field)).transpose()
    }

    /// The path under `key`, or `default` when absent; both resolve against `base`.
    pub fn path_or(&self, key: &str, default: &str, base: &Path) -> Result<PathBuf, ConfigError> {
        match self.get(key) {
            Some(field) => field.path(base),
            None => paths::resolve(default, base)
                .map_err(|why| self.error(format!("default {key}: {why}"))),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Field<'a>)> + '_ {
        self.entries
            .iter()
            .map(|(key, value)| (key.get_ref().as_ref(), self.field(key.get_ref(), value)))
    }

    fn field(&self, key: &str, value: &'a Spanned<DeValue<'a>>) -> Field<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Field {
            source: self.source,
            path,
            span: value.span(),
            value: value.get_ref(),
        }
    }
}

/// One value with its dotted key path and span.
pub(super) struct Field<'a> {
    source: &'a Source<'a>,
    path: String,
    span: Range<usize>,
    value: &'a DeValue<'a>,
}

impl<'a> Field<'a> {
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.source.error(&self.span, &self.path, message)
    }

    pub fn value(&self) -> &'a DeValue<'a> {
        self.value
    }

    /// "expected `what`, got <the value>".
    pub fn expected(&self, what: &str) -> ConfigError {
        self.error(format!("expected {what}, got {}", describe(self.value)))
    }

    pub fn table(&self) -> Result<Table<'a>, ConfigError> {
        match self.value {
            DeValue::Table(entries) => Ok(Table {
                source: self.source,
                path: self.path.clone(),
                span: self.span.clone(),
                entries,
            }),
            _ => Err(self.expected("a table")),
        }
    }

    /// The elements of an array, each placed at its own span.
    pub fn items(&self) -> Result<Vec<Field<'a>>, ConfigError> {
        let DeValue::Array(items) = self.value else {
            return Err(self.expected("an array"));
        };
        let item_field = |item: &'a Spanned<DeValue<'a>>| Field {
            source: self.source,
            path: self.path.clone(),
            span: item.span(),
            value: item.get_ref(),
        };
        Ok(items.iter().map(item_field).collect())
    }

    /// Any string, empty or not.
    pub fn str(&self) -> Result<&'a str, ConfigError> {
        match self.value {
            DeValue::String(text) => Ok(text.as_ref()),
            _ => Err(self.expected("a string")),
        }
    }

    /// A non-empty string: empty strings in ferry.toml are always a mistake.
    pub fn text(&self) -> Result<&'a str, ConfigError> {
        match self.str()? {
            "" => Err(self.error("must not be empty")),
            text => Ok(text),
        }
    }

    pub fn string(&self) -> Result<String, ConfigError> {
        self.text().map(str::to_string)
    }

    /// A non-empty string turned into a `T` by `parse`, whose error becomes the message.
    pub fn parse_text<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        parse(self.text()?).map_err(|why| self.error(why))
    }

    pub fn path(&self, base: &Path) -> Result<PathBuf, ConfigError> {
        self.parse_text(|raw| paths::resolve(raw, base))
    }

    pub fn string_list(&self) -> Result<Vec<String>, ConfigError> {
        self.items()?
            .iter()
            .map(|item| item.str().map(str::to_string))
            .collect()
    }

    pub fn integer_in<T>(&self, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: TryFrom<i64> + PartialOrd + Display,
    {
        self.i64()
            .and_then(|number| T::try_from(number).ok())
            .filter(|number| range.contains(number))
            .ok_or_else(|| {
                self.expected(&format!(
                    "an integer from {} to {}",
                    range.start(),
                    range.end()
                ))
            })
    }

    fn i64(&self) -> Option<i64> {
        match self.value {
            DeValue::Integer(integer) => {
                i64::from_str_radix(integer.as_str(), integer.radix()).ok()
            }
            _ => None,
        }
    }
}

/// A value as it would read in the file, or its kind when it is long.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(text) => format!("{text:?}"),
        DeValue::Integer(integer) => integer.to_string(),
        DeValue::Float(float) => float.to_string(),
        DeValue::Boolean(boolean) => boolean.to_string(),
        DeValue::Datetime(datetime) => datetime.to_string(),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}
