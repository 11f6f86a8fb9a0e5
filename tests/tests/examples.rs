//! The examples in examples/ work as their comments say: the quickstart and the seed's
//! cases as ready configs.

use std::path::{Path, PathBuf};

use ferry_tests::{copy_tree, ferry, run};
use serde_json::Value;
use tempfile::TempDir;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of examples/ (configs and the quickstart outbox) in a temp dir, so that runs
/// write their state and partner folders there.
fn examples_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_tree(
        &workspace().join("examples/quickstart"),
        &dir.path().join("examples/quickstart"),
    );
    copy_tree(
        &workspace().join("examples/seed"),
        &dir.path().join("examples/seed"),
    );
    std::fs::copy(
        workspace().join("examples/quickstart.toml"),
        dir.path().join("examples/quickstart.toml"),
    )
    .unwrap();
    dir
}

fn ferry_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = run(ferry(dir).args(args).arg("--json"));
    (
        code,
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}")),
    )
}

fn rules(report: &Value) -> Vec<(String, String)> {
    let rows = report["rejected"].as_array().unwrap();
    rows.iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn quickstart_sends_what_it_can_and_explains_the_rest_twice_over() {
    let dir = examples_copy();
    let args = ["run", "quickstart", "--config", "examples/quickstart.toml"];
    let (code, first) = ferry_json(dir.path(), &args);
    assert_eq!(
        (code, first["status"].as_str()),
        (3, Some("partial_failure")),
        "{first:#}"
    );
    assert_eq!(
        (first["transferred"].as_u64(), first["rejected"].as_u64()),
        (Some(3), Some(4))
    );
    let (code, second) = ferry_json(dir.path(), &args);
    assert_eq!(
        (
            code,
            second["skipped"].as_u64(),
            second["transferred"].as_u64()
        ),
        (3, Some(3), Some(0)),
        "{second:#}"
    );
}

#[test]
fn full_path_160_counts_folders_name_and_temp_suffix() {
    let dir = examples_copy();
    // 157 characters fit 160, but not with ".filepart" (157 + 9 = 166): it is sent under
    // the short temporary name instead of being refused.
    let fits_without_suffix = format!("reports/{}.csv", "f".repeat(145));
    let file = dir
        .path()
        .join("examples/quickstart/outbox")
        .join(&fits_without_suffix);
    std::fs::write(file, b"f").unwrap();
    let args = [
        "check",
        "full-path-160",
        "--config",
        "examples/seed/full-path-160.toml",
    ];
    let (code, report) = ferry_json(dir.path(), &args);
    assert_eq!(code, 1);
    let rejected = rules(&report);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].0.starts_with("reports/2026-11/Q4 summary") && rejected[0].1 == "name-too-long"
    );
    let detail = report["rejected"][0]["detail"].as_str().unwrap();
    assert_eq!(detail, "the full path is 207 characters; the limit is 160");
}

#[test]
fn no_zero_byte_refuses_empty_files() {
    let dir = examples_copy();
    let (code, report) = ferry_json(
        dir.path(),
        &[
            "check",
            "no-zero-byte",
            "--config",
            "examples/seed/no-zero-byte.toml",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        rules(&report),
        vec![(
            "reports/2026-11/empty-marker.done".to_string(),
            "zero-byte".to_string()
        )]
    );
}

#[test]
fn size_cap_2gb_refuses_larger_files_before_upload() {
    let dir = examples_copy();
    let big = dir
        .path()
        .join("examples/quickstart/outbox/exports/huge.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2_100_000_000)
        .unwrap(); // sparse
    let args = [
        "check",
        "size-cap-2gb",
        "--config",
        "examples/seed/size-cap-2gb.toml",
    ];
    let (code, report) = ferry_json(dir.path(), &args);
    assert_eq!(code, 1);
    assert_eq!(
        rules(&report),
        vec![("exports/huge.bin".to_string(), "too-large".to_string())]
    );
    let detail = report["rejected"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 2.00 GB (2000000000 bytes)"),
        "{detail}"
    );
}

/// Every TOML text the docs show: README.md's ```toml blocks, and under examples/ every
/// .toml file and every ```toml block of a .md file, each with where it comes from.
fn documented_toml() -> Vec<(String, String)> {
    let mut found = toml_blocks(&workspace().join("README.md"));
    let mut stack = vec![workspace().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            match path.extension().and_then(|e| e.to_str()) {
                _ if path.is_dir() && !path.ends_with("target") => stack.push(path),
                Some("toml") => found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                )),
                Some("md") => found.extend(toml_blocks(&path)),
                _ => {}
            }
        }
    }
    found
}

/// The ```toml blocks of a Markdown file, each named FILE:LINE of its fence.
fn toml_blocks(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (number, line) in text.lines().enumerate() {
        match (&mut open, line.trim_start()) {
            (None, "```toml") => open = Some((number + 1, String::new())),
            (Some(_), "```") => {
                let (fence, block) = open.take().unwrap();
                blocks.push((format!("{}:{fence}", file.display()), block));
            }
            (Some((_, block)), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        open.is_none(),
        "{}: a ```toml block is not closed",
        file.display()
    );
    blocks
}

/// What a TOML text is, from its top-level keys.
enum Kind {
    FerryConfig,
    /// A plugin crate's Cargo.toml, or a plugin's golden cases: not ferry.toml.
    Other,
}

fn kind(origin: &str, document: &toml::Table) -> Kind {
    let all_in = |keys: &[&str]| document.keys().all(|key| keys.contains(&key.as_str()));
    if all_in(&["state", "service", "remotes", "syncs"]) {
        Kind::FerryConfig
    } else if all_in(&["package", "lib", "dependencies", "profile", "workspace"])
        || all_in(&["settings", "entry", "temp_name", "classify"])
    {
        Kind::Other
    } else {
        panic!("{origin}: neither a ferry.toml, a Cargo.toml nor a cases file: {document:?}")
    }
}

/// `text` with a local remote added for every remote a sync names that the fragment does
/// not define (appended, so that errors keep the block's line numbers).
fn completed(text: &str, document: &toml::Table) -> String {
    let defined = |name: &str| {
        document
            .get("remotes")
            .and_then(|remotes| remotes.get(name))
            .is_some()
    };
    let mut text = text.to_string();
    let syncs = document.get("syncs").and_then(toml::Value::as_table);
    for sync in syncs.into_iter().flat_map(|syncs| syncs.values()) {
        for side in ["source", "destination"] {
            let name = sync[side].as_str().unwrap();
            if !defined(name) && !text.contains(&format!("[remotes.{name}]")) {
                text.push_str(&format!(
                    "\n[remotes.{name}]\ntype = \"local\"\npath = \"{name}\"\n"
                ));
            }
        }
    }
    text
}

/// Every documented ferry.toml loads with the real loader, and each remote's bundled
/// policy takes its settings: an unknown key or setting, or a refused value, fails.
#[test]
fn every_documented_config_parses_and_its_policy_settings_are_accepted() {
    use ferry::config::Config;
    use ferry::plugin::{ComponentCache, Limits, PluginSource, Runtime};
    let runtime = Runtime::new(
        ComponentCache::at(&ferry_tests::component_cache()),
        Limits::default(),
    )
    .unwrap();
    // The documented HTTP remotes read their credentials from these.
    for variable in [
        "S3_KEY_ID",
        "S3_SECRET",
        "AZURE_STORAGE_KEY",
        "DAV_PASSWORD",
    ] {
        // SAFETY: no other test of this binary reads or writes the environment.
        unsafe { std::env::set_var(variable, "documented") };
    }
    let mut configs = 0;
    for (origin, text) in documented_toml() {
        let document: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{origin}: not TOML: {e}"));
        if let Kind::Other = kind(&origin, &document) {
            continue;
        }
        let file = Path::new(&origin).with_file_name("ferry.toml");
        let config = Config::parse(&completed(&text, &document), &file)
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        for remote in config.remotes.values() {
            let spec = remote.policy.as_deref().unwrap_or("generic");
            if let PluginSource::Bundled { .. } = PluginSource::resolve(spec, Path::new("."))
                .unwrap_or_else(|e| panic!("{origin}: {e}"))
            {
                ferry::sync::load_policy(&runtime, &config, remote)
                    .unwrap_or_else(|e| panic!("{origin}: {e}"));
            }
        }
        configs += 1;
    }
    assert!(configs >= 6, "only {configs} configs found");
}
