//! `ferry plugin list|inspect|check`.

use std::sync::Arc;

use clap::Subcommand;
use serde_json::{Value, json};

use super::exit::{self, CliError};
use super::local_tree;
use super::output::out;
use super::rejections::{self, Rejection};
use crate::bounded::read_regular_file;
use crate::plugin::{
    CHECK_BATCH, ComponentCache, GoldenError, Limits, LoadedPlugin, PluginSource, Runtime,
    SettingInput, SettingType, bundled_names, parse_settings, run_cases,
};
use crate::sync::bounded_verdict;
use crate::text::inert;
use crate::toml_reader;

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// List the plugins bundled in this binary.
    List,
    /// Print a plugin's metadata and settings.
    Inspect {
        /// A bundled plugin's name or a path to a .wasm component.
        plugin: String,
    },
    /// Check local paths against a plugin and print every violation. A directory's
    /// contents are checked with paths relative to it; a path that does not exist is
    /// checked by name alone.
    Check {
        /// A bundled plugin's name or a path to a .wasm component.
        plugin: String,
        /// Paths to check.
        #[arg(required = true)]
        paths: Vec<String>,
        /// A plugin setting, e.g. --set max_name_length=160 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Run a plugin's golden cases (entries and their verdicts, temporary names, raw
    /// errors and their classification) and print every case that differs.
    Test {
        /// A bundled plugin's name or a path to a .wasm component.
        plugin: String,
        /// The cases file (TOML), e.g. plugins/generic/cases.toml.
        cases: std::path::PathBuf,
    },
}

pub fn run(command: PluginCommand, json: bool) -> Result<u8, CliError> {
    match command {
        PluginCommand::List => list(json),
        PluginCommand::Inspect { plugin } => inspect(&*load(&plugin)?, json),
        PluginCommand::Check {
            plugin,
            paths,
            settings,
        } => check(&load(&plugin)?, &paths, &settings, json),
        PluginCommand::Test { plugin, cases } => test(&load(&plugin)?, &cases, json),
    }
}

/// The largest cases file read.
const MAX_CASES_BYTES: u64 = 16 << 20;

fn test(plugin: &Arc<LoadedPlugin>, cases: &std::path::Path, json: bool) -> Result<u8, CliError> {
    let bytes = read_regular_file(cases, MAX_CASES_BYTES).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the cases file {}: {e}",
            cases.display()
        ))
    })?;
    let text = toml_reader::utf8(cases, bytes).map_err(|e| CliError::Usage(e.to_string()))?;
    let report = run_cases(plugin, &text, cases).map_err(|e| match e {
        GoldenError::Plugin(e) => CliError::Plugin(e),
        invalid => CliError::Usage(invalid.to_string()),
    })?;
    if json {
        let mismatches: Vec<Value> = report
            .mismatches
            .iter()
            .map(|m| json!({"case": m.case, "line": m.line, "expected": m.expected, "got": m.got}))
            .collect();
        out!(
            "{:#}",
            json!({"passed": report.passed, "failed": report.failed(), "mismatches": mismatches})
        );
    } else {
        for mismatch in &report.mismatches {
            out!("{}", inert(&mismatch.to_string()));
        }
        out!("{} passed, {} failed", report.passed, report.failed());
    }
    Ok(if report.mismatches.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

fn load(spec: &str) -> Result<Arc<LoadedPlugin>, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::Io(format!("cannot read the current directory: {e}")))?;
    let source = PluginSource::resolve(spec, &cwd)?;
    let runtime = Runtime::new(ComponentCache::default_location(), Limits::default())?;
    Ok(runtime.load(&source)?)
}

fn list(json: bool) -> Result<u8, CliError> {
    let mut plugins = Vec::new();
    for name in bundled_names() {
        plugins.push(load(name)?);
    }
    if json {
        let list: Vec<Value> = plugins.iter().map(|p| metadata_json(p)).collect();
        out!("{}", Value::Array(list));
    } else {
        for plugin in &plugins {
            let meta = plugin.metadata();
            out!(
                "{:<22} {:<8} {}",
                inert(&meta.name).to_string(),
                inert(&meta.version).to_string(),
                inert(&meta.remote_kinds.join(", "))
            );
        }
    }
    Ok(exit::OK)
}

fn type_name(kind: SettingType) -> &'static str {
    match kind {
        SettingType::Text => "text",
        SettingType::Integer => "integer",
        SettingType::Boolean => "boolean",
        SettingType::TextList => "text-list",
        SettingType::Size => "size",
    }
}

fn metadata_json(plugin: &LoadedPlugin) -> Value {
    let meta = plugin.metadata();
    let settings: Vec<Value> = meta
        .settings
        .iter()
        .map(|s| json!({"name": s.name, "type": type_name(s.kind), "default": s.default_value, "doc": s.doc}))
        .collect();
    let mut value = plugin.to_json();
    value["description"] = json!(meta.description);
    value["remote_kinds"] = json!(meta.remote_kinds);
    value["settings"] = Value::Array(settings);
    value
}

fn inspect(plugin: &LoadedPlugin, json: bool) -> Result<u8, CliError> {
    if json {
        out!("{:#}", metadata_json(plugin));
        return Ok(exit::OK);
    }
    let meta = plugin.metadata();
    out!("{}", inert(&plugin.label()));
    out!("{}", inert(&meta.description));
    out!("remote kinds: {}", inert(&meta.remote_kinds.join(", ")));
    out!("\nsettings (policy_settings in ferry.toml, or --set KEY=VALUE):");
    for setting in &meta.settings {
        // Quoted when blanks at either end would be invisible.
        let default = match setting.default_value.as_str() {
            "" => "(empty)".to_string(),
            value if value.trim() != value => format!("\"{}\"", inert(value)),
            value => inert(value).to_string(),
        };
        out!(
            "  {} ({}, default: {default})",
            inert(&setting.name),
            type_name(setting.kind)
        );
        out!("      {}", inert(&setting.doc));
    }
    Ok(exit::OK)
}

fn parse_set(raw: &str) -> Result<(String, SettingInput), CliError> {
    let (key, value) = raw.split_once('=').ok_or_else(|| {
        CliError::Usage(format!(
            "--set {raw:?}: expected KEY=VALUE, e.g. --set max_name_length=160"
        ))
    })?;
    Ok((
        key.trim().to_string(),
        SettingInput::Text(value.to_string()),
    ))
}

fn check(
    plugin: &Arc<LoadedPlugin>,
    paths: &[String],
    settings: &[String],
    json: bool,
) -> Result<u8, CliError> {
    let given = settings
        .iter()
        .map(|raw| parse_set(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let mut policy = plugin.configure(parse_settings(plugin, given)?)?;
    let mut checked = 0;
    let mut rejections = Vec::new();
    for argument in paths {
        let tree = local_tree::read(argument)
            .map_err(|e| CliError::Io(format!("cannot read {argument}: {e}")))?;
        let root = tree.root.as_deref();
        for (path, reason) in &tree.unreadable {
            checked += 1;
            rejections.push(Rejection::unreadable(root, path, reason));
        }
        for batch in tree.entries.chunks(CHECK_BATCH) {
            checked += batch.len();
            let verdicts = policy.check_batch(batch)?;
            // Bounded as in a run: an entry lists at most a few violations, not hundreds.
            for (entry, verdict) in batch.iter().zip(verdicts.into_iter().map(bounded_verdict)) {
                let suggestion = verdict.suggested_path.as_deref();
                rejections.extend(Rejection::rows(
                    root,
                    &entry.path,
                    &verdict.violations,
                    suggestion,
                ));
            }
        }
    }
    if json {
        print_json(plugin, checked, &rejections);
    } else {
        print_text(plugin, checked, &rejections);
    }
    Ok(if rejections.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

fn print_json(plugin: &LoadedPlugin, checked: usize, rejections: &[Rejection]) {
    out!(
        "{:#}",
        rejections::to_json(plugin.to_json(), checked, rejections)
    );
}

fn print_text(plugin: &LoadedPlugin, checked: usize, rejections: &[Rejection]) {
    let mut shown_root = None;
    for (i, r) in rejections.iter().enumerate() {
        let first_of_path = i == 0 || !rejections[i - 1].same_entry(r);
        let last_of_path = rejections.get(i + 1).is_none_or(|next| !next.same_entry(r));
        if first_of_path && r.root.is_some() && shown_root != Some(&r.root) {
            out!(
                "in {} (paths relative to it):",
                inert(r.root.as_deref().unwrap_or_default())
            );
            shown_root = Some(&r.root);
        }
        if first_of_path {
            out!("{}", inert(&r.path));
        }
        out!("  {}: {}", inert(&r.rule), inert(&r.detail));
        if let Some(suggestion) = r.suggestion.as_ref().filter(|_| last_of_path) {
            out!("  suggested name: {}", inert(suggestion));
        }
    }
    out!(
        "{checked} checked against {}: {} rejected, {}",
        inert(&plugin.label()),
        rejections::count_entries(rejections),
        rejections::counted(rejections.len(), "violation", "violations")
    );
}
