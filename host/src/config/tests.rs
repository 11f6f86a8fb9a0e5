use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// Two valid remotes; snippets appended to it start on line 10.
const REMOTES: &str = r#"[remotes.outbox]
type = "local"
path = "outbox"

[remotes.partner]
type = "sftp"
host = "sftp.example.com"
user = "acme"
password_env = "PATH"
"#;

fn error_of(text: &str) -> String {
    match Config::parse(text, Path::new("ferry.toml")) {
        Ok(config) => panic!("expected an error, parsed {config:?}"),
        Err(error) => error.to_string(),
    }
}

fn error_with_remotes(snippet: &str) -> String {
    error_of(&format!("{REMOTES}{snippet}"))
}

fn home() -> PathBuf {
    dirs::home_dir().expect("tests need a home folder")
}

/// A file in the temp folder, unique to this test process and `name`.
fn temp_file(name: &str, content: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("ferry-config-test-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write temp file");
    path
}

fn sftp(remote: &RemoteConfig) -> &SftpConfig {
    match &remote.transport {
        Transport::Sftp(sftp) => sftp,
        other => panic!("expected sftp, got {other:?}"),
    }
}

#[test]
fn full_example_parses_with_paths_resolved_against_the_config_folder() {
    let passphrase_file = temp_file("passphrase", "hunter2\n");
    let text = format!(
        r#"
[state]
dir = ".ferry"

[remotes.outbox]
type = "local"
path = "./outbox"
policy = "generic"
[remotes.outbox.policy_settings]
max_name_length = 160
reserved = ["CON", "PRN"]
strict = true
style = "short"

[remotes.partner]
type = "sftp"
host = "sftp.example.com"
port = 2222
user = "acme"
key_file = "~/.ssh/id_ed25519"
key_passphrase_file = {passphrase_file:?}
known_hosts = "keys/known_hosts"
root = "/inbound"
bind_address = "203.0.113.7"
connect_timeout = "10s"
idle_timeout = "2m"
policy = "windows-smb"

[syncs.nightly]
source = "outbox"
destination = "partner"
delete = "mirror"
include = ["**/*.csv"]
exclude = ["**/.tmp*"]
schedule = "every 15m"
bwlimit = "10M"
transfers = 4
"#
    );
    let config = Config::parse(&text, Path::new("/etc/ferry/ferry.toml")).unwrap();
    std::fs::remove_file(&passphrase_file).ok();

    assert_eq!(config.file, Path::new("/etc/ferry/ferry.toml"));
    assert_eq!(config.state_dir, Path::new("/etc/ferry/.ferry"));

    let outbox = config.remote("outbox").unwrap();
    assert!(
        matches!(&outbox.transport, Transport::Local(local) if local.path == Path::new("/etc/ferry/outbox"))
    );
    assert_eq!(outbox.policy.as_deref(), Some("generic"));
    assert_eq!(
        (outbox.policy_place.line, outbox.policy_place.key.as_str()),
        (8, "remotes.outbox.policy")
    );
    let settings: Vec<_> = outbox
        .policy_settings
        .iter()
        .map(|s| (s.name.as_str(), &s.value, s.place.line, s.place.column))
        .collect();
    let reserved = PolicyValue::TextList(vec!["CON".to_string(), "PRN".to_string()]);
    assert_eq!(
        settings,
        vec![
            ("max_name_length", &PolicyValue::Integer(160), 10, 1),
            ("reserved", &reserved, 11, 1),
            ("strict", &PolicyValue::Boolean(true), 12, 1),
            ("style", &PolicyValue::Text("short".to_string()), 13, 1),
        ]
    );
    assert_eq!(
        outbox.policy_settings[0].place.key,
        "remotes.outbox.policy_settings.max_name_length"
    );

    let partner = config.remote("partner").unwrap();
    assert_eq!(partner.policy.as_deref(), Some("windows-smb"));
    let sftp = sftp(partner);
    assert_eq!(sftp.host, "sftp.example.com");
    assert_eq!(sftp.port, 2222);
    assert_eq!(sftp.user, "acme");
    match &sftp.auth {
        SftpAuth::Key { file, passphrase } => {
            assert_eq!(file, &home().join(".ssh/id_ed25519"));
            assert_eq!(passphrase.as_ref().map(Secret::expose), Some("hunter2"));
        }
        other => panic!("expected key auth, got {other:?}"),
    }
    assert_eq!(sftp.known_hosts, Path::new("/etc/ferry/keys/known_hosts"));
    assert_eq!(sftp.root, "/inbound");
    assert_eq!(sftp.bind_address, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(sftp.connect_timeout, Duration::from_secs(10));
    assert_eq!(sftp.idle_timeout, Duration::from_secs(120));

    let nightly = config.sync("nightly").unwrap();
    assert_eq!(nightly.name, "nightly");
    assert_eq!(
        (nightly.source.as_str(), nightly.destination.as_str()),
        ("outbox", "partner")
    );
    assert_eq!(nightly.delete, DeleteMode::Mirror);
    assert_eq!(nightly.include, ["**/*.csv"]);
    assert_eq!(nightly.exclude, ["**/.tmp*"]);
    let schedule = nightly.schedule.as_ref().expect("a schedule");
    assert_eq!(schedule.describe(), "every 15m");
    assert_eq!(nightly.bwlimit, Some(10 * 1024 * 1024));
    assert_eq!(nightly.transfers, Some(4));
}

#[test]
fn defaults_fill_in_optional_keys() {
    let text =
        format!("{REMOTES}\n[syncs.plain]\nsource = \"outbox\"\ndestination = \"partner\"\n");
    let config = Config::parse(&text, Path::new("/srv/sync/ferry.toml")).unwrap();
    assert_eq!(config.state_dir, Path::new("/srv/sync/.ferry"));

    let partner = config.remote("partner").unwrap();
    assert_eq!(partner.policy, None);
    assert!(partner.policy_settings.is_empty());
    let sftp = sftp(partner);
    assert_eq!(sftp.port, 22);
    assert!(matches!(&sftp.auth, SftpAuth::Password(secret) if !secret.expose().is_empty()));
    assert_eq!(sftp.known_hosts, home().join(".ssh/known_hosts"));
    assert_eq!(sftp.root, ".");
    assert_eq!(sftp.bind_address, None);
    assert_eq!(sftp.connect_timeout, Duration::from_secs(30));
    assert_eq!(sftp.idle_timeout, Duration::from_secs(300));

    let plain = config.sync("plain").unwrap();
    assert_eq!(plain.delete, DeleteMode::Never);
    assert!(plain.include.is_empty() && plain.exclude.is_empty());
    assert_eq!(
        (plain.schedule.is_some(), plain.bwlimit, plain.transfers),
        (false, None, None)
    );
}

#[test]
fn relative_config_file_gives_relative_paths() {
    let config = Config::parse(
        "[remotes.a]\ntype = \"local\"\npath = \"./data\"\n",
        Path::new("ferry.toml"),
    )
    .unwrap();
    assert_eq!(config.state_dir, Path::new(".ferry"));
    assert!(
        matches!(&config.remotes["a"].transport, Transport::Local(local) if local.path == Path::new("data"))
    );
}

#[test]
fn empty_file_is_a_config_with_nothing_in_it() {
    let config = Config::parse("", Path::new("ferry.toml")).unwrap();
    assert!(config.remotes.is_empty() && config.syncs.is_empty());
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let password_file = temp_file("password", "s3cr3t-from-file\r\n");
    let text = format!(
        "[remotes.a]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\npassword_file = {password_file:?}\n\
         [remotes.b]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\nkey_file = \"k\"\nkey_passphrase_env = \"PATH\"\n"
    );
    let config = Config::parse(&text, Path::new("ferry.toml")).unwrap();
    std::fs::remove_file(&password_file).ok();

    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t-from-file"), "{debug}");
    assert!(!debug.contains(&std::env::var("PATH").unwrap()), "{debug}");
    assert!(debug.contains("[redacted]"));
    assert!(
        matches!(&sftp(&config.remotes["a"]).auth, SftpAuth::Password(secret) if secret.expose() == "s3cr3t-from-file")
    );
    assert_eq!(Secret::new("x".to_string()).to_string(), "[redacted]");
}

#[test]
fn unknown_key_suggests_the_nearest_key() {
    assert_eq!(
        error_with_remotes("prot = 22\n"),
        r#"ferry.toml:10:1: remotes.partner: unknown key "prot" (did you mean "port"?)"#
    );
    assert_eq!(
        error_of("[state]\ndri = \"x\"\n"),
        r#"ferry.toml:2:1: state: unknown key "dri" (did you mean "dir"?)"#
    );
    assert_eq!(
        error_of("[sync.nightly]\n"),
        r#"ferry.toml:1:2: unknown key "sync" (did you mean "syncs"?)"#
    );
}

#[test]
fn unknown_key_lists_valid_keys_when_nothing_is_close() {
    assert_eq!(
        error_of("[remotes.a]\ntype = \"local\"\nzzz = 1\n"),
        r#"ferry.toml:3:1: remotes.a: unknown key "zzz"; valid keys: type, path, policy, policy_settings, policy_timeout, max_path_length, set_mtime, listing"#
    );
}

#[test]
fn unknown_remote_type_suggests_and_lists_types() {
    assert_eq!(
        error_of("[remotes.partner]\ntype = \"sfpt\"\n"),
        r#"ferry.toml:2:8: remotes.partner.type: unknown remote type "sfpt" (did you mean "sftp"?); types: local, sftp, s3, azure-blob, webdav"#
    );
    assert_eq!(
        error_of("[remotes.partner]\ntype = \"ftp\"\n"),
        r#"ferry.toml:2:8: remotes.partner.type: unknown remote type "ftp" (did you mean "sftp"?); types: local, sftp, s3, azure-blob, webdav"#
    );
}

#[test]
fn column_counts_characters_not_bytes() {
    assert_eq!(
        error_of("remotes.\"é\" = { type = \"sfpt\" }\n"),
        r#"ferry.toml:1:24: remotes.é.type: unknown remote type "sfpt" (did you mean "sftp"?); types: local, sftp, s3, azure-blob, webdav"#
    );
}

#[test]
fn missing_key_points_at_the_table_header() {
    assert_eq!(
        error_of("\n\n[remotes.partner]\ntype = \"sftp\"\nuser = \"u\"\n"),
        r#"ferry.toml:3:1: remotes.partner: missing key "host""#
    );
    assert_eq!(
        error_of("[remotes.a]\npath = \"p\"\n"),
        r#"ferry.toml:1:1: remotes.a: missing key "type""#
    );
    assert_eq!(
        error_of("[remotes.partner]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\n"),
        "ferry.toml:1:1: remotes.partner: missing authentication: set one of key_file, password_env, password_file"
    );
    assert_eq!(
        error_with_remotes("[syncs.s]\ndestination = \"partner\"\n"),
        r#"ferry.toml:10:1: syncs.s: missing key "source""#
    );
}

#[test]
fn wrong_type_shows_what_was_expected_and_found() {
    assert_eq!(
        error_with_remotes("port = \"22\"\n"),
        r#"ferry.toml:10:8: remotes.partner.port: expected an integer from 1 to 65535, got "22""#
    );
    assert_eq!(
        error_with_remotes("port = 70000\n"),
        "ferry.toml:10:8: remotes.partner.port: expected an integer from 1 to 65535, got 70000"
    );
    assert_eq!(
        error_of("remotes = 5\n"),
        "ferry.toml:1:11: remotes: expected a table, got 5"
    );
    assert_eq!(
        error_of("[remotes.a]\ntype = \"local\"\npath = [\"x\"]\n"),
        "ferry.toml:3:8: remotes.a.path: expected a string, got an array"
    );
    assert_eq!(
        error_of("[remotes.a]\ntype = \"local\"\npath = \"\"\n"),
        "ferry.toml:3:8: remotes.a.path: must not be empty"
    );
    assert_eq!(
        error_of(
            "[remotes.a]\ntype = \"local\"\npath = \"p\"\npolicy_settings = { ratio = 1.5 }\n"
        ),
        "ferry.toml:4:29: remotes.a.policy_settings.ratio: expected a string, integer, boolean or array of strings, got 1.5"
    );
}

#[test]
fn sync_must_name_existing_different_remotes() {
    let sync = |destination: &str| {
        format!("\n[syncs.nightly]\nsource = \"outbox\"\ndestination = \"{destination}\"\n")
    };
    assert_eq!(
        error_with_remotes(&sync("partnr")),
        r#"ferry.toml:13:15: syncs.nightly.destination: no remote named "partnr" (did you mean "partner"?)"#
    );
    assert_eq!(
        error_with_remotes(&sync("elsewhere")),
        r#"ferry.toml:13:15: syncs.nightly.destination: no remote named "elsewhere"; remotes: outbox, partner"#
    );
    assert_eq!(
        error_with_remotes(&sync("outbox")),
        r#"ferry.toml:13:15: syncs.nightly.destination: same remote as source ("outbox"); a sync copies between two different remotes"#
    );
    assert_eq!(
        error_of("[syncs.s]\nsource = \"a\"\n"),
        r#"ferry.toml:2:10: syncs.s.source: no remote named "a"; no remotes defined"#
    );
}

#[test]
fn sync_values_are_validated() {
    let sync = |line: &str| {
        error_with_remotes(&format!(
            "[syncs.s]\nsource = \"outbox\"\ndestination = \"partner\"\n{line}\n"
        ))
    };
    assert_eq!(
        sync("include = [\"*.csv\", \"**/[\"]"),
        r#"ferry.toml:13:21: syncs.s.include: invalid glob "**/[": unclosed character class; missing ']'"#
    );
    assert_eq!(
        sync("delete = \"mirorr\""),
        r#"ferry.toml:13:10: syncs.s.delete: unknown delete mode "mirorr" (did you mean "mirror"?); modes: never, mirror"#
    );
    assert_eq!(
        sync("schedule = \"daily\""),
        r#"ferry.toml:13:12: syncs.s.schedule: expected "every <duration>" or a cron expression of 5 fields (minute hour day-of-month month day-of-week), got "daily""#
    );
    assert!(sync("schedule = \"every 0m\"").starts_with(
        r#"ferry.toml:13:12: syncs.s.schedule: the interval must be at least 1s, got "0m""#
    ));
    assert_eq!(
        sync("timezone = \"Europe/Berln\""),
        r#"ferry.toml:13:12: syncs.s.timezone: unknown time zone "Europe/Berln" (an IANA name, e.g. "Europe/Berlin"); did you mean "Europe/Berlin"?"#
    );
    assert!(sync("bwlimit = \"10MB\"").starts_with(
        r#"ferry.toml:13:11: syncs.s.bwlimit: invalid rate "10MB" (unknown unit "MB")"#
    ));
    assert_eq!(
        sync("transfers = 65"),
        "ferry.toml:13:13: syncs.s.transfers: expected an integer from 1 to 64, got 65"
    );
    assert_eq!(
        sync("transfers = 0"),
        "ferry.toml:13:13: syncs.s.transfers: expected an integer from 1 to 64, got 0"
    );
}

#[test]
fn bwlimit_takes_a_unit_or_off_and_refuses_a_bare_number() {
    let text = |value: &str| {
        format!(
            "{REMOTES}[syncs.s]\nsource = \"outbox\"\ndestination = \"partner\"\nbwlimit = {value}\n"
        )
    };
    let parse = |value: &str| {
        Config::parse(&text(value), Path::new("ferry.toml"))
            .unwrap()
            .syncs["s"]
            .bwlimit
    };
    assert_eq!(parse("\"512K\""), Some(512 * 1024));
    assert_eq!(parse("\"1.5MiB\""), Some(3 * 512 * 1024));
    assert_eq!(parse("\"off\""), None);
    assert_eq!(
        error_of(&text("10")),
        r#"ferry.toml:13:11: syncs.s.bwlimit: expected a rate with its unit in a string, e.g. "10M" (MiB/s), got 10"#
    );
    assert!(
        error_of(&text("\"10\""))
            .starts_with(r#"ferry.toml:13:11: syncs.s.bwlimit: invalid rate "10" (no unit)"#)
    );
}

#[test]
fn stable_for_may_be_zero() {
    let text = format!(
        "{REMOTES}[syncs.s]\nsource = \"outbox\"\ndestination = \"partner\"\nstable_for = \"0s\"\n"
    );
    let config = Config::parse(&text, Path::new("ferry.toml")).unwrap();
    assert_eq!(config.syncs["s"].stable_for, Duration::ZERO);
}

#[test]
fn sftp_values_are_validated() {
    assert!(error_with_remotes("connect_timeout = \"30x\"\n").starts_with(
        r#"ferry.toml:10:19: remotes.partner.connect_timeout: invalid duration "30x" (unknown unit "x")"#
    ));
    assert_eq!(
        error_with_remotes("bind_address = \"203.0.113.x\"\n"),
        r#"ferry.toml:10:16: remotes.partner.bind_address: invalid IP address "203.0.113.x""#
    );
}

#[test]
fn authentication_methods_exclude_each_other() {
    assert_eq!(
        error_with_remotes("key_file = \"k\"\n"),
        r#"ferry.toml:9:16: remotes.partner.password_env: conflicts with "key_file"; set only one of key_file, password_env, password_file"#
    );
    assert_eq!(
        error_with_remotes("key_passphrase_env = \"PATH\"\n"),
        r#"ferry.toml:10:22: remotes.partner.key_passphrase_env: only allowed with "key_file""#
    );
}

#[test]
fn unreadable_secrets_name_the_key_and_source() {
    let remote =
        |auth: &str| format!("[remotes.p]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\n{auth}\n");
    assert_eq!(
        error_of(&remote(
            "password_env = \"FERRY_TEST_SURELY_UNSET_VARIABLE\""
        )),
        r#"ferry.toml:5:16: remotes.p.password_env: environment variable "FERRY_TEST_SURELY_UNSET_VARIABLE" is not set"#
    );
    let message = error_of(&remote("password_file = \"/nonexistent/ferry/secret.txt\""));
    assert!(
        message.starts_with(r#"ferry.toml:5:17: remotes.p.password_file: cannot read "/nonexistent/ferry/secret.txt": "#),
        "{message}"
    );
}

#[test]
fn syntax_errors_keep_tomls_message_with_our_location() {
    assert_eq!(
        error_of("[remotes.a]\ntype = local\n"),
        "ferry.toml:2:8: string values must be quoted, expected literal string"
    );
    assert_eq!(
        error_of("[remotes.a]\n[remotes.a]\n"),
        "ferry.toml:2:10: duplicate key"
    );
}

#[test]
fn lookup_by_name_suggests_and_lists() {
    let config = Config::parse(
        &format!("{REMOTES}[syncs.nightly]\nsource = \"outbox\"\ndestination = \"partner\"\n"),
        Path::new("ferry.toml"),
    )
    .unwrap();
    assert_eq!(
        config.sync("nigthly").unwrap_err().to_string(),
        r#"ferry.toml: no sync named "nigthly" (did you mean "nightly"?); syncs: nightly"#
    );
    assert_eq!(
        config.remote("zzz").unwrap_err().to_string(),
        r#"ferry.toml: no remote named "zzz"; remotes: outbox, partner"#
    );
}

#[test]
fn errors_carry_structured_fields() {
    let error = Config::parse(
        "[remotes.partner]\ntype = \"sfpt\"\n",
        Path::new("ferry.toml"),
    )
    .unwrap_err();
    assert!(matches!(
        error,
        ConfigError::Invalid { ref file, line: 2, column: 8, ref key, .. }
            if file == Path::new("ferry.toml") && key == "remotes.partner.type"
    ));
}

#[test]
fn load_reads_the_explicit_file_relative_to_cwd() {
    let cwd = std::env::temp_dir();
    let file = temp_file(
        "load.toml",
        "[remotes.a]\ntype = \"local\"\npath = \"data\"\n",
    );
    let config = Config::load(Some(Path::new(file.file_name().unwrap())), &cwd).unwrap();
    std::fs::remove_file(&file).ok();
    assert_eq!(config.file, file);
    assert!(
        matches!(&config.remotes["a"].transport, Transport::Local(local) if local.path == cwd.join("data"))
    );
}

#[test]
fn load_explains_a_missing_file() {
    let message = Config::load(Some(Path::new("missing.toml")), Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "/nonexistent/missing.toml: config file not found; check the path given to --config"
    );
}

#[test]
fn locate_prefers_flag_then_environment_then_cwd() {
    let cwd = Path::new("/work");
    let from_env = || Some(OsString::from("env.toml"));
    assert_eq!(
        locate(Some(Path::new("flag.toml")), from_env(), cwd).0,
        Path::new("/work/flag.toml")
    );
    assert_eq!(locate(None, from_env(), cwd).0, Path::new("/work/env.toml"));
    assert_eq!(
        locate(None, Some(OsString::new()), cwd).0,
        Path::new("/work/ferry.toml")
    );
    let (file, hint) = locate(None, None, cwd);
    assert_eq!(file, Path::new("/work/ferry.toml"));
    assert!(hint.contains("--config FILE") && hint.contains("FERRY_CONFIG"));
}

#[test]
fn load_places_invalid_utf8_at_its_line_and_byte_offset() {
    let file =
        std::env::temp_dir().join(format!("ferry-config-test-{}-latin1", std::process::id()));
    std::fs::write(&file, b"[state]\ndir = \"caf\xe9\"\n").unwrap();
    let message = Config::load(Some(&file), Path::new("/"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        format!(
            "{}:2:11: not valid UTF-8 (byte 0xE9 at byte offset 18); save the file as UTF-8",
            file.display()
        )
    );
}

#[test]
fn set_mtime_is_a_boolean_and_true_unless_said() {
    let parsed = |extra: &str| {
        Config::parse(
            &format!("[remotes.a]\ntype = \"local\"\npath = \"a\"\n{extra}"),
            Path::new("ferry.toml"),
        )
        .map(|config| config.remotes["a"].set_mtime)
    };
    assert!(parsed("").unwrap());
    assert!(!parsed("set_mtime = false").unwrap());
    let error = parsed("set_mtime = \"no\"").unwrap_err().to_string();
    assert!(error.starts_with("ferry.toml:4:"), "{error}");
    assert!(error.contains("true or false"), "{error}");
}

/// A valid config mutated at random (bytes dropped, doubled or replaced by TOML's own
/// punctuation): parsing never panics, and every error it gives is located.
#[test]
fn mutated_configs_never_panic_and_every_error_names_the_file() {
    let valid = "[state]\ndir = \".ferry\"\n\n[remotes.outbox]\ntype = \"local\"\npath = \"out\"\n\
                 set_mtime = false\n\n[remotes.partner]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\n\
                 key_file = \"k\"\nknown_hosts = \"kh\"\nroot = \"/in\"\nlisting = \"none\"\n\
                 [remotes.partner.policy_settings]\nmax_name_length = 160\n\n[syncs.s]\n\
                 source = \"outbox\"\ndestination = \"partner\"\nbwlimit = \"1M\"\n\
                 after_delivery = \"archive:sent\"\nupload = \"direct\"\n";
    assert!(Config::parse(valid, Path::new("ferry.toml")).is_ok());
    let punctuation = b"[]=\"'.,#\n{}\\ \t0z";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3_000 {
        let mut bytes = valid.as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, bytes[at]),
                _ => bytes[at] = punctuation[(next() % punctuation.len() as u64) as usize],
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if let Err(error) = Config::parse(&text, Path::new("ferry.toml")) {
            assert!(
                error.to_string().starts_with("ferry.toml"),
                "{error}\n{text}"
            );
        }
    }
}
