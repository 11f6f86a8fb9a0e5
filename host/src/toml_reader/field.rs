use std::fmt::Display;
use std::ops::{Range, RangeInclusive};

use toml::Spanned;
use toml::de::DeValue;

use super::{Place, Source, Table, TomlError};

/// One value with its dotted key path and span.
pub(crate) struct Field<'a> {
    pub(super) source: &'a Source<'a>,
    pub(super) path: String,
    pub(super) span: Range<usize>,
    pub(super) value: &'a DeValue<'a>,
}

impl<'a> Field<'a> {
    pub fn error(&self, message: impl Into<String>) -> TomlError {
        self.source.error(&self.span, &self.path, message)
    }

    pub fn value(&self) -> &'a DeValue<'a> {
        self.value
    }

    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Where the value is written, for complaints found later.
    pub fn place(&self) -> Place {
        self.source.place(&self.span, &self.path)
    }

    /// "expected `what`, got <the value>".
    pub fn expected(&self, what: &str) -> TomlError {
        let got = self.source.describe(self.value);
        self.error(format!("expected {what}, got {got}"))
    }

    pub fn table(&self) -> Result<Table<'a>, TomlError> {
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
    pub fn items(&self) -> Result<Vec<Field<'a>>, TomlError> {
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
    pub fn str(&self) -> Result<&'a str, TomlError> {
        match self.value {
            DeValue::String(text) => Ok(text.as_ref()),
            _ => Err(self.expected("a string")),
        }
    }

    /// A non-empty string.
    pub fn text(&self) -> Result<&'a str, TomlError> {
        match self.str()? {
            "" => Err(self.error("must not be empty")),
            text => Ok(text),
        }
    }

    pub fn string(&self) -> Result<String, TomlError> {
        self.text().map(str::to_string)
    }

    /// A non-empty string turned into a `T` by `parse`, whose error becomes the message.
    pub fn parse_text<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, TomlError> {
        parse(self.text()?).map_err(|why| self.error(why))
    }

    /// The strings of an array, empty or not.
    pub fn boolean(&self) -> Result<bool, TomlError> {
        match self.value() {
            DeValue::Boolean(flag) => Ok(*flag),
            _ => Err(self.expected("true or false")),
        }
    }

    pub fn string_list(&self) -> Result<Vec<String>, TomlError> {
        self.items()?
            .iter()
            .map(|item| item.str().map(str::to_string))
            .collect()
    }

    pub fn integer_in<T>(&self, range: RangeInclusive<T>) -> Result<T, TomlError>
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
