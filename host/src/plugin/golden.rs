//! Golden cases: a plugin's expected answers written down in TOML (each bundled plugin
//! keeps them in plugins/NAME/cases.toml) and checked against the plugin itself.
//!
//! ```toml
//! [settings]                # optional: policy settings, as in policy_settings
//! max_name_length = 160
//!
//! [[entry]]                 # all entries go to the plugin in one check-batch call
//! path = "reports/a?b.txt"
//! kind = "file"             # or "directory"; default "file"
//! size = 10                 # optional; omitted = unknown size
//! violations = ["forbidden-character"]  # the rule names, in order; [] = accepted
//! suggestion = "reports/a_b.txt"        # optional; "" = no suggestion
//!
//! [[temp_name]]
//! path = "dir/file.csv"
//! form = "standard"         # or "short"; default "standard"
//! temp = "dir/file.csv.partial"
//!
//! [[classify]]
//! operation = "write"       # as the contract names operations and protocols
//! protocol = "sftp"
//! errno = 13                # or sftp_status = 3, or http_status = 403; omitted = no code
//! message = "Permission denied"         # default ""
//! category = "permission"
//! retry = "never"
//! advice_contains = "permissions"       # optional
//! ```
//!
//! A long path (or suggestion, or temporary name) can be written as a repetition:
//! `path = { repeat = "abcdefghi/", times = 407, then = "x.csv" }` is 407 times
//! "abcdefghi/" followed by "x.csv", 4,075 characters.
//!
//! A mismatch names its case and the line of the case's `[[...]]` header, and writes each
//! differing field as `key = value`, the way the cases file writes it.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::de::DeValue;

use super::source::did_you_mean;
use super::{
    CATEGORIES, Classification, Entry, EntryKind, ErrorCode, LoadedPlugin, Operation, PluginError,
    Policy, Protocol, RETRIES, RawError, Setting, SettingInput, SettingValue, TempForm, Verdict,
    category_name, parse_settings, retry_name, rule_name,
};
use crate::toml_reader::{self, Phrasing, Source, Table, TomlError};

/// The outcome of a cases file: how many cases passed, and every one that did not.
#[derive(Debug, Default)]
pub struct GoldenReport {
    pub passed: usize,
    pub mismatches: Vec<Mismatch>,
}

impl GoldenReport {
    pub fn failed(&self) -> usize {
        self.mismatches.len()
    }

    fn record(&mut self, case: String, line: usize, fields: Vec<Field>) {
        let differing: Vec<&Field> = fields.iter().filter(|field| !field.matches).collect();
        if differing.is_empty() {
            self.passed += 1;
            return;
        }
        let join = |side: fn(&Field) -> &str| {
            differing
                .iter()
                .map(|field| side(field))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        self.mismatches.push(Mismatch {
            case,
            line,
            expected: join(|field| &field.expected),
            got: join(|field| &field.got),
        });
    }
}

/// A case whose answer differs from the one written down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// E.g. `entry "a?b.txt"`, `temp_name "x.csv" (short)` or `classify #3`.
    pub case: String,
    /// The line of the case's `[[...]]` header.
    pub line: usize,
    /// The differing fields as written down, e.g. `violations = ["forbidden-character"]`.
    pub expected: String,
    /// The same fields as the plugin answered them.
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Mismatch {
            case,
            line,
            expected,
            got,
        } = self;
        write!(f, "{case} (line {line}): expected {expected}, got {got}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    /// The cases file is wrong; the message names the file, line, column and key.
    #[error(transparent)]
    Invalid(#[from] TomlError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// Strings quoted as the cases file writes them; an unknown key always lists the valid keys.
const PHRASING: Phrasing = Phrasing {
    quote: |text| string(text).to_string(),
    unknown_key: |name, allowed| {
        format!(
            "unknown key {name:?}{}; valid keys: {}",
            did_you_mean(name, allowed.iter().copied()),
            allowed.join(", ")
        )
    },
};

/// Run the golden cases in `text` (read from `file`, for messages) against `plugin`.
pub fn run_cases(
    plugin: &Arc<LoadedPlugin>,
    text: &str,
    file: &Path,
) -> Result<GoldenReport, GoldenError> {
    let source = Source {
        file,
        text,
        phrasing: PHRASING,
    };
    let document = source.parse()?;
    let cases = Cases::read(&Table::document(&source, &document), plugin)?;
    let mut policy = configure(&source, plugin, &cases.settings)?;
    let mut report = GoldenReport::default();
    let entries: Vec<Entry> = cases
        .entries
        .iter()
        .map(|case| case.entry.clone())
        .collect();
    let verdicts = policy.check_batch(&entries)?;
    for (case, verdict) in cases.entries.iter().zip(&verdicts) {
        report.record(case.label(), case.line, case.compare(verdict));
    }
    for case in &cases.temp_names {
        let temp = policy.temp_name(&case.path.value, case.form)?;
        report.record(case.label(), case.line, case.compare(&temp));
    }
    for (number, case) in cases.classify.iter().enumerate() {
        let classification = policy.classify(&case.error)?;
        let label = format!("classify #{}", number + 1);
        report.record(label, case.line, case.compare(&classification));
    }
    report.mismatches.sort_by_key(|mismatch| mismatch.line);
    Ok(report)
}

fn configure(
    source: &Source<'_>,
    plugin: &Arc<LoadedPlugin>,
    settings: &[(Setting, Range<usize>)],
) -> Result<Policy, GoldenError> {
    let given = settings
        .iter()
        .map(|(setting, _)| setting.clone())
        .collect();
    plugin.configure(given).map_err(|error| match &error {
        PluginError::BadSetting { key, .. } | PluginError::UnknownSetting { key, .. } => {
            let span = settings
                .iter()
                .find(|(setting, _)| &setting.name == key)
                .map_or(0..0, |(_, span)| span.clone());
            source
                .error(&span, &format!("settings.{key}"), error.to_string())
                .into()
        }
        _ => GoldenError::Plugin(error),
    })
}

/// One compared field, each side written `key = value`.
struct Field {
    expected: String,
    got: String,
    matches: bool,
}

impl Field {
    fn equal(key: &str, expected: toml::Value, got: toml::Value) -> Self {
        Field {
            matches: expected == got,
            expected: format!("{key} = {expected}"),
            got: format!("{key} = {got}"),
        }
    }
}

fn string(text: &str) -> toml::Value {
    toml::Value::String(text.to_string())
}

fn strings<'a>(texts: impl IntoIterator<Item = &'a str>) -> toml::Value {
    toml::Value::Array(texts.into_iter().map(string).collect())
}

// ---- the cases ----

struct Cases {
    settings: Vec<(Setting, Range<usize>)>,
    entries: Vec<EntryCase>,
    temp_names: Vec<TempNameCase>,
    classify: Vec<ClassifyCase>,
}

const TOP_LEVEL: &[&str] = &["settings", "entry", "temp_name", "classify"];

impl Cases {
    fn read(root: &Table<'_>, plugin: &LoadedPlugin) -> Result<Self, TomlError> {
        root.allow_only(TOP_LEVEL)?;
        let cases = Cases {
            settings: root
                .optional("settings", |field| read_settings(field, plugin))?
                .unwrap_or_default(),
            entries: cases_under(root, "entry", EntryCase::read)?,
            temp_names: cases_under(root, "temp_name", TempNameCase::read)?,
            classify: cases_under(root, "classify", ClassifyCase::read)?,
        };
        if cases.entries.is_empty() && cases.temp_names.is_empty() && cases.classify.is_empty() {
            return Err(root.error("no cases: add [[entry]], [[temp_name]] or [[classify]] tables"));
        }
        Ok(cases)
    }
}

/// The `[settings]` table, each setting checked against the plugin's own list.
fn read_settings(
    field: &toml_reader::Field<'_>,
    plugin: &LoadedPlugin,
) -> Result<Vec<(Setting, Range<usize>)>, TomlError> {
    field
        .table()?
        .entries()
        .map(|(name, value)| {
            let input = SettingInput::Typed(setting_value(&value)?);
            let mut parsed = parse_settings(plugin, [(name.to_string(), input)])
                .map_err(|error| value.error(error.to_string()))?;
            Ok((parsed.remove(0), value.span()))
        })
        .collect()
}

fn setting_value(field: &toml_reader::Field<'_>) -> Result<SettingValue, TomlError> {
    Ok(match field.value() {
        DeValue::String(text) => SettingValue::Text(text.to_string()),
        DeValue::Integer(_) => SettingValue::Integer(field.integer_in(i64::MIN..=i64::MAX)?),
        DeValue::Boolean(flag) => SettingValue::Boolean(*flag),
        DeValue::Array(_) => SettingValue::TextList(field.string_list()?),
        _ => return Err(field.expected("a string, integer, boolean or array of strings")),
    })
}

struct EntryCase {
    line: usize,
    written_path: String,
    entry: Entry,
    violations: Vec<String>,
    suggestion: Option<String>,
    /// The temporary-name form the verdict must ask for, when the case says.
    temp_form: Option<TempForm>,
}

impl EntryCase {
    const KEYS: &[&str] = &[
        "path",
        "kind",
        "size",
        "violations",
        "suggestion",
        "temp_form",
    ];

    fn read(table: &Table<'_>) -> Result<Self, TomlError> {
        table.allow_only(Self::KEYS)?;
        let kind = choice(table, "kind", KINDS)?.unwrap_or(EntryKind::File);
        let size = table.optional("size", |field| field.integer_in(0..=u64::MAX))?;
        let path = case_path(table)?;
        Ok(EntryCase {
            line: table.line(),
            written_path: path.written,
            entry: Entry {
                path: path.value,
                kind,
                size,
            },
            violations: string_array(&table.require("violations")?)?,
            suggestion: table
                .optional("suggestion", Text::read)?
                .map(|text| text.value),
            temp_form: choice(table, "temp_form", FORMS)?,
        })
    }

    fn label(&self) -> String {
        format!("entry {}", self.written_path)
    }

    fn compare(&self, verdict: &Verdict) -> Vec<Field> {
        let rules = verdict.violations.iter().map(rule_name);
        let mut fields = vec![Field::equal(
            "violations",
            strings(self.violations.iter().map(String::as_str)),
            strings(rules),
        )];
        if let Some(expected) = &self.suggestion {
            let got = verdict.suggested_path.as_deref().unwrap_or_default();
            fields.push(Field::equal("suggestion", string(expected), string(got)));
        }
        if let Some(expected) = self.temp_form {
            fields.push(Field::equal(
                "temp_form",
                form_name(expected),
                form_name(verdict.temp_form),
            ));
        }
        fields
    }
}

struct TempNameCase {
    line: usize,
    path: Text,
    form: TempForm,
    temp: String,
}

impl TempNameCase {
    const KEYS: &[&str] = &["path", "form", "temp"];

    fn read(table: &Table<'_>) -> Result<Self, TomlError> {
        table.allow_only(Self::KEYS)?;
        Ok(TempNameCase {
            line: table.line(),
            path: case_path(table)?,
            form: choice(table, "form", FORMS)?.unwrap_or(TempForm::Standard),
            temp: Text::read(&table.require("temp")?)?.value,
        })
    }

    fn label(&self) -> String {
        let form = name_of(FORMS, self.form);
        format!("temp_name {} ({form})", self.path.written)
    }

    fn compare(&self, temp: &str) -> Vec<Field> {
        vec![Field::equal("temp", string(&self.temp), string(temp))]
    }
}

struct ClassifyCase {
    line: usize,
    error: RawError,
    category: &'static str,
    retry: &'static str,
    advice_contains: Option<String>,
}

impl ClassifyCase {
    const KEYS: &[&str] = &[
        "operation",
        "protocol",
        "errno",
        "sftp_status",
        "http_status",
        "message",
        "path",
        "local_address",
        "category",
        "retry",
        "advice_contains",
    ];

    fn read(table: &Table<'_>) -> Result<Self, TomlError> {
        table.allow_only(Self::KEYS)?;
        let categories = CATEGORIES.map(|category| (category_name(category), category));
        let retries = RETRIES.map(|retry| (retry_name(retry), retry));
        let required = |key: &str| table.error(format!("missing key {key:?}"));
        Ok(ClassifyCase {
            line: table.line(),
            error: RawError {
                operation: choice(table, "operation", OPERATIONS)?
                    .ok_or_else(|| required("operation"))?,
                protocol: choice(table, "protocol", PROTOCOLS)?
                    .ok_or_else(|| required("protocol"))?,
                code: error_code(table)?,
                message: table.optional("message", any_string)?.unwrap_or_default(),
                path: table.optional("path", any_string)?,
                local_address: table.optional("local_address", any_string)?,
            },
            category: choice(table, "category", &categories)?
                .map(category_name)
                .ok_or_else(|| required("category"))?,
            retry: choice(table, "retry", &retries)?
                .map(retry_name)
                .ok_or_else(|| required("retry"))?,
            advice_contains: table.optional("advice_contains", any_string)?,
        })
    }

    fn compare(&self, got: &Classification) -> Vec<Field> {
        let mut fields = vec![
            Field::equal(
                "category",
                string(self.category),
                string(category_name(got.category)),
            ),
            Field::equal("retry", string(self.retry), string(retry_name(got.retry))),
        ];
        if let Some(wanted) = &self.advice_contains {
            fields.push(Field {
                matches: got.advice.contains(wanted.as_str()),
                expected: format!("advice_contains = {}", string(wanted)),
                got: format!("advice = {}", string(&got.advice)),
            });
        }
        fields
    }
}

/// At most one of `errno`, `sftp_status` and `http_status`.
fn error_code(table: &Table<'_>) -> Result<Option<ErrorCode>, TomlError> {
    let codes = [
        table.optional("errno", |f| {
            f.integer_in(0..=i32::MAX).map(ErrorCode::Errno)
        })?,
        table.optional("sftp_status", |f| {
            f.integer_in(0..=u32::MAX).map(ErrorCode::SftpStatus)
        })?,
        table.optional("http_status", |f| {
            f.integer_in(100..=599).map(ErrorCode::HttpStatus)
        })?,
    ];
    let mut given = codes.into_iter().flatten();
    let code = given.next();
    if given.next().is_some() {
        return Err(table.error("give at most one of errno, sftp_status and http_status"));
    }
    Ok(code)
}

const KINDS: &[(&str, EntryKind)] = &[
    ("file", EntryKind::File),
    ("directory", EntryKind::Directory),
];

const FORMS: &[(&str, TempForm)] = &[("standard", TempForm::Standard), ("short", TempForm::Short)];

fn form_name(form: TempForm) -> toml::Value {
    let (name, _) = FORMS
        .iter()
        .find(|(_, f)| *f == form)
        .expect("every form is listed");
    string(name)
}

const OPERATIONS: &[(&str, Operation)] = &[
    ("connect", Operation::Connect),
    ("authenticate", Operation::Authenticate),
    ("list", Operation::List),
    ("stat", Operation::Stat),
    ("read", Operation::Read),
    ("write", Operation::Write),
    ("rename", Operation::Rename),
    ("mkdir", Operation::Mkdir),
    ("delete", Operation::Delete),
    ("set-mtime", Operation::SetMtime),
];

const PROTOCOLS: &[(&str, Protocol)] = &[
    ("local", Protocol::Local),
    ("sftp", Protocol::Sftp),
    ("webdav", Protocol::Webdav),
    ("s3", Protocol::S3),
    ("azure-blob", Protocol::AzureBlob),
    ("ftp", Protocol::Ftp),
];

fn name_of<T: PartialEq>(choices: &[(&'static str, T)], value: T) -> &'static str {
    choices
        .iter()
        .find(|(_, choice)| *choice == value)
        .map_or("", |(name, _)| name)
}

// ---- reading the cases file, on top of the shared TOML reader ----

/// Every table of the `[[key]]` array in `root`, read by `read`.
fn cases_under<T>(
    root: &Table<'_>,
    key: &str,
    read: fn(&Table<'_>) -> Result<T, TomlError>,
) -> Result<Vec<T>, TomlError> {
    let Some(field) = root.get(key) else {
        return Ok(Vec::new());
    };
    let DeValue::Array(_) = field.value() else {
        return Err(field.error(format!("expected [[{key}]] tables, one per case")));
    };
    field
        .items()?
        .iter()
        .map(|item| read(&item.table()?))
        .collect()
}

/// The case's `path`: not empty, as the contract passes paths.
fn case_path(table: &Table<'_>) -> Result<Text, TomlError> {
    let field = table.require("path")?;
    let path = Text::read(&field)?;
    if path.value.is_empty() {
        return Err(field.error("must not be empty"));
    }
    Ok(path)
}

/// The value of `key`, one of `choices` by name.
fn choice<T: Copy>(
    table: &Table<'_>,
    key: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>, TomlError> {
    table.optional(key, |field| named(field, choices))
}

fn named<T: Copy>(field: &toml_reader::Field<'_>, choices: &[(&str, T)]) -> Result<T, TomlError> {
    let given = field.str()?;
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == given) {
        return Ok(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    Err(field.error(format!(
        "unknown value {given:?}{}; expected one of: {}",
        did_you_mean(given, names.iter().copied()),
        names.join(", ")
    )))
}

/// Any string, empty or not.
fn any_string(field: &toml_reader::Field<'_>) -> Result<String, TomlError> {
    field.str().map(str::to_string)
}

fn string_array(field: &toml_reader::Field<'_>) -> Result<Vec<String>, TomlError> {
    match field.value() {
        DeValue::Array(_) => field.string_list(),
        _ => Err(field.expected("an array of strings")),
    }
}

/// A text from the cases file, and how it was written there (for labels).
struct Text {
    value: String,
    written: String,
}

impl Text {
    /// A string, or a long one written `{ repeat = "abc/", times = 400, then = "x.csv" }`.
    fn read(field: &toml_reader::Field<'_>) -> Result<Self, TomlError> {
        match field.value() {
            DeValue::String(value) => Ok(Text {
                value: value.to_string(),
                written: string(value).to_string(),
            }),
            DeValue::Table(_) => Text::repeated(&field.table()?),
            _ => Err(field.expected("a string, or a table { repeat, times, then }")),
        }
    }

    fn repeated(table: &Table<'_>) -> Result<Self, TomlError> {
        table.allow_only(&["repeat", "times", "then"])?;
        let unit = any_string(&table.require("repeat")?)?;
        let times: usize = table.require("times")?.integer_in(1..=100_000)?;
        let then = table.optional("then", any_string)?.unwrap_or_default();
        let mut written = format!("{} × {times}", string(&unit));
        if !then.is_empty() {
            written.push_str(&format!(" + {}", string(&then)));
        }
        Ok(Text {
            value: unit.repeat(times) + &then,
            written,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::plugin::{ComponentCache, Limits, PluginSource, Runtime, bundled_names};

    fn workspace() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    fn plugin(name: &str) -> Arc<LoadedPlugin> {
        static RUNTIME: OnceLock<Runtime> = OnceLock::new();
        let runtime = RUNTIME.get_or_init(|| {
            let cache = ComponentCache::at(&workspace().join("target/test-component-cache"));
            Runtime::new(cache, Limits::default()).unwrap()
        });
        let source = PluginSource::resolve(name, workspace()).unwrap();
        runtime.load(&source).unwrap()
    }

    fn run_generic(text: &str) -> Result<GoldenReport, GoldenError> {
        run_cases(&plugin("generic"), text, Path::new("cases.toml"))
    }

    #[test]
    fn every_bundled_plugin_passes_its_own_cases() {
        for name in bundled_names() {
            let file = workspace().join("plugins").join(name).join("cases.toml");
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{name} has no cases.toml: {e}"));
            let report = run_cases(&plugin(name), &text, &file).unwrap_or_else(|e| panic!("{e}"));
            let mismatches: Vec<String> = report.mismatches.iter().map(|m| m.to_string()).collect();
            assert!(mismatches.is_empty(), "{name}:\n{}", mismatches.join("\n"));
            assert!(
                report.passed >= 17,
                "{name} has only {} cases",
                report.passed
            );
        }
    }

    const WRONG: &str = r#"
[[entry]]
path = "a?b"
violations = ["forbidden-character"]

[[entry]]
path = "ok.txt"
violations = []
suggestion = "x"

[[entry]]
path = { repeat = "ab", times = 3, then = "/c" }
kind = "directory"
violations = []

[[temp_name]]
path = "d/f"
temp = "d/f.tmp"

[[classify]]
operation = "write"
protocol = "sftp"
sftp_status = 3
category = "quota"
retry = "never"
advice_contains = "nope"
"#;

    #[test]
    fn each_wrong_case_is_reported_at_its_header_with_the_differing_fields_as_toml() {
        let report = run_generic(WRONG).unwrap();
        assert_eq!(report.passed, 1);
        let shown: Vec<String> = report.mismatches.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            shown[..3],
            [
                r#"entry "a?b" (line 2): expected violations = ["forbidden-character"], got violations = []"#,
                r#"entry "ok.txt" (line 6): expected suggestion = "x", got suggestion = """#,
                r#"temp_name "d/f" (standard) (line 16): expected temp = "d/f.tmp", got temp = "d/f.partial""#,
            ]
        );
        let classify = &report.mismatches[3];
        assert_eq!((classify.case.as_str(), classify.line), ("classify #1", 20));
        assert_eq!(
            classify.expected,
            r#"category = "quota" and advice_contains = "nope""#
        );
        assert!(
            classify
                .got
                .starts_with(r#"category = "permission" and advice = "The account"#),
            "{}",
            classify.got
        );
    }

    #[test]
    fn a_repeated_text_is_labelled_as_written() {
        let text = "[[entry]]\npath = { repeat = \"ab\", times = 2, then = \"?\" }\nviolations = [\"x\"]\n";
        let report = run_generic(text).unwrap();
        assert_eq!(report.mismatches[0].case, r#"entry "ab" × 2 + "?""#);
    }

    #[test]
    fn a_bad_cases_file_is_named_with_line_column_and_key() {
        let entry = "[[entry]]\npath = \"a\"\nviolations = []\n";
        let classify = "[[classify]]\noperation = \"write\"\nprotocol = \"sftp\"\ncategory = \"quota\"\nretry = \"never\"\n";
        let cases = [
            (
                format!("{entry}sugestion = \"b\"\n"),
                r#"cases.toml:4:1: entry: unknown key "sugestion" (did you mean "suggestion"?); valid keys: path, kind, size, violations, suggestion, temp_form"#,
            ),
            (
                entry.replace("[[entry]]", "[[entry]]\nkind = \"folder\""),
                r#"cases.toml:2:8: entry.kind: unknown value "folder"; expected one of: file, directory"#,
            ),
            (
                "[[entry]]\npath = \"a\"\n".into(),
                r#"cases.toml:1:1: entry: missing key "violations""#,
            ),
            (
                entry.replace("\"a\"", "\"\""),
                "cases.toml:2:8: entry.path: must not be empty",
            ),
            (
                entry.replace("[]", "[1]"),
                "cases.toml:3:15: entry.violations: expected a string, got 1",
            ),
            (
                entry.replace("[[entry]]", "[entry]"),
                "cases.toml:1:1: entry: expected [[entry]] tables, one per case",
            ),
            (
                entry.replace("entry", "entries"),
                r#"cases.toml:1:3: unknown key "entries" (did you mean "entry"?); valid keys: settings, entry, temp_name, classify"#,
            ),
            (
                format!("{classify}errno = 13\nhttp_status = 403\n"),
                "cases.toml:1:1: classify: give at most one of errno, sftp_status and http_status",
            ),
            (
                classify.replace("quota", "permissions"),
                r#"cases.toml:4:12: classify.category: unknown value "permissions" (did you mean "permission"?); expected one of: auth, ip-allowlist, connectivity, timeout, invalid-name, invalid-size, not-found, permission, quota, remote-unavailable, plugin-failure, unknown"#,
            ),
            (
                classify.replace("write", "upload"),
                r#"cases.toml:2:13: classify.operation: unknown value "upload"; expected one of: connect, authenticate, list, stat, read, write, rename, mkdir, delete, set-mtime"#,
            ),
            (
                "[settings]\nmax_size = \"2GB\"\n".into(),
                "cases.toml:1:1: no cases: add [[entry]], [[temp_name]] or [[classify]] tables",
            ),
            (
                format!("[settings]\nmax_name_lenght = 5\n{entry}"),
                r#"cases.toml:2:19: settings.max_name_lenght: plugin generic has no setting "max_name_lenght" (did you mean "max_name_length"?)"#,
            ),
            (
                format!("[settings]\nlength_counts = \"path\"\n{entry}"),
                r#"cases.toml:2:17: settings.length_counts: plugin generic, setting length_counts: expected "name" or "full-path""#,
            ),
            (
                "[[entry]]\npath = \n".into(),
                "cases.toml:2:8: string values must be quoted, expected literal string",
            ),
        ];
        for (text, expected) in cases {
            let error = run_generic(&text).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{text}\n{error}\n{expected}");
        }
    }
}
