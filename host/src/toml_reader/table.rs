use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Field, Place, Source, TomlError};

/// A TOML table with its dotted key path ("" for the document) and its span (the header
/// for `[a.b]` and `[[a]]` tables).
pub(crate) struct Table<'a> {
    pub(super) source: &'a Source<'a>,
    pub(super) path: String,
    pub(super) span: Range<usize>,
    pub(super) entries: &'a DeTable<'a>,
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
    pub fn error(&self, message: impl Into<String>) -> TomlError {
        self.source.error(&self.span, &self.path, message)
    }

    /// Where the table's header is.
    pub fn place(&self) -> Place {
        self.source.place(&self.span, &self.path)
    }

    /// As [`Table::entries`], each with where its key is written.
    pub fn placed_entries(&self) -> impl Iterator<Item = (&'a str, Place, Field<'a>)> + '_ {
        self.entries.iter().map(|(key, value)| {
            let name = key.get_ref().as_ref();
            let field = self.field(name, value);
            (name, self.source.place(&key.span(), &field.path), field)
        })
    }

    /// The line of the table's header.
    pub fn line(&self) -> usize {
        self.source.line_and_column(self.span.start).0
    }

    /// Rejects any key not in `allowed`, explained as the source's phrasing says.
    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), TomlError> {
        let unknown = self
            .entries
            .keys()
            .find(|key| !allowed.contains(&key.get_ref().as_ref()));
        match unknown {
            None => Ok(()),
            Some(key) => {
                let name = key.get_ref().as_ref();
                let message = (self.source.phrasing.unknown_key)(name, allowed);
                Err(self.source.error(&key.span(), &self.path, message))
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        let (key, value) = self.entries.get_key_value(key)?;
        Some(self.field(key.get_ref(), value))
    }

    pub fn require(&self, key: &str) -> Result<Field<'a>, TomlError> {
        self.get(key)
            .ok_or_else(|| self.error(format!("missing key {key:?}")))
    }

    /// `read` applied to the value of `key`, or `None` when the key is absent.
    pub fn optional<T, E>(
        &self,
        key: &str,
        read: impl FnOnce(&Field<'a>) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        self.get(key).map(|field| read(&field)).transpose()
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
