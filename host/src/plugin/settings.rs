//! Settings as users write them (`--set key=value`, TOML) turned into the typed values
//! the contract passes, checked against the plugin's own list of settings.

use super::LoadedPlugin;
use super::error::PluginError;
use super::source::did_you_mean;
use super::types::{ConfigError, Setting, SettingDoc, SettingType, SettingValue};

/// A setting as the user gave it.
#[derive(Clone, Debug)]
pub enum SettingInput {
    /// From the command line: read according to the setting's declared type.
    Text(String),
    /// From a config file: already typed.
    Typed(SettingValue),
}

/// Check every key against `plugin`'s settings and type each value.
pub fn parse_settings(
    plugin: &LoadedPlugin,
    given: impl IntoIterator<Item = (String, SettingInput)>,
) -> Result<Vec<Setting>, PluginError> {
    given
        .into_iter()
        .map(|(name, input)| {
            let doc = find_doc(plugin, &name)?;
            let value = match input {
                SettingInput::Typed(value) => value,
                SettingInput::Text(text) => {
                    typed(doc, &text).map_err(|message| PluginError::BadSetting {
                        plugin: plugin.name().to_string(),
                        key: name.clone(),
                        message,
                    })?
                }
            };
            Ok(Setting { name, value })
        })
        .collect()
}

fn find_doc<'a>(plugin: &'a LoadedPlugin, name: &str) -> Result<&'a SettingDoc, PluginError> {
    let docs = &plugin.metadata().settings;
    docs.iter()
        .find(|doc| doc.name == name)
        .ok_or_else(|| unknown_setting(plugin, name))
}

fn unknown_setting(plugin: &LoadedPlugin, key: &str) -> PluginError {
    let names = plugin
        .metadata()
        .settings
        .iter()
        .map(|doc| doc.name.as_str());
    PluginError::UnknownSetting {
        plugin: plugin.name().to_string(),
        key: key.to_string(),
        suggestion: did_you_mean(key, names.clone()),
        available: names.collect::<Vec<_>>().join(", "),
    }
}

fn typed(doc: &SettingDoc, text: &str) -> Result<SettingValue, String> {
    Ok(match doc.kind {
        SettingType::Text => SettingValue::Text(text.to_string()),
        SettingType::Integer => SettingValue::Integer(
            text.trim()
                .parse()
                .map_err(|_| format!("expected a whole number, got {text:?}"))?,
        ),
        SettingType::Boolean => SettingValue::Boolean(match text.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(format!("expected true or false, got {text:?}")),
        }),
        SettingType::TextList => SettingValue::TextList(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
        SettingType::Size => match text.trim().parse::<i64>() {
            Ok(bytes) => SettingValue::Integer(bytes),
            Err(_) => SettingValue::Text(text.to_string()),
        },
    })
}

/// The plugin refused its settings.
pub(super) fn config_error(plugin: &LoadedPlugin, error: ConfigError) -> PluginError {
    match error {
        ConfigError::UnknownKey(key) => unknown_setting(plugin, &key),
        ConfigError::BadValue(bad) => PluginError::BadSetting {
            plugin: plugin.name().to_string(),
            key: bad.name,
            message: bad.message,
        },
    }
}
