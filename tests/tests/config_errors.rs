//! Every config error a run or check finds names the file, line, column and key: a policy
//! the remote names that cannot be loaded, a setting its plugin refuses, a rate without a
//! unit; a file that is not UTF-8 gives the line and byte offset.

use ferry_tests::LocalSetup as Setup;

/// The stderr of `ferry ARGS` in `setup`, which must fail as bad usage or config (2).
fn usage_error(setup: &Setup, args: &[&str]) -> String {
    let (code, stdout, stderr) = setup.ferry(args);
    assert_eq!(code, 2, "{stdout} {stderr}");
    stderr
}

/// The error of `ferry check push` with `setting` in the destination's policy settings
/// (which start on line 10).
fn setting_error(setting: &str) -> String {
    let setup = Setup::new("never", setting);
    usage_error(&setup, &["check", "push"])
}

#[test]
fn a_setting_the_plugin_refuses_is_placed_at_its_key() {
    let unknown = setting_error("max_name_lenght = 100");
    assert!(
        unknown.contains(
            "/ferry.toml:10:1: remotes.inbox.policy_settings.max_name_lenght: plugin \
             generic has no setting \"max_name_lenght\" (did you mean \"max_name_length\"?)"
        ),
        "{unknown}"
    );
    let wrong_type = setting_error("zero_byte = \"allow\"\nmax_name_length = \"long\"");
    assert!(
        wrong_type.contains(
            "/ferry.toml:11:1: remotes.inbox.policy_settings.max_name_length: plugin \
             generic, setting max_name_length: expected a whole number, got \"long\""
        ),
        "{wrong_type}"
    );
    let bad_value = setting_error("zero_byte = \"maybe\"");
    assert!(
        bad_value.contains("/ferry.toml:10:1: remotes.inbox.policy_settings.zero_byte: "),
        "{bad_value}"
    );
}

/// The error of `ferry run push` when the destination's policy is `policy`.
fn policy_error(policy: &str, prepare: impl FnOnce(&Setup)) -> String {
    let setup = Setup::new("never", "");
    let config = setup.dir.path().join("ferry.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("policy = \"generic\"", &format!("policy = \"{policy}\""));
    std::fs::write(&config, text).unwrap();
    prepare(&setup);
    usage_error(&setup, &["run", "push"])
}

#[test]
fn a_policy_that_cannot_be_loaded_is_placed_at_the_policy_key() {
    let at_policy = "/ferry.toml:8:10: remotes.inbox.policy: ";
    let unknown = policy_error("genric", |_| {});
    assert!(
        unknown.contains(&format!(
            "{at_policy}no bundled plugin is named \"genric\" (did you mean \"generic\"?)"
        )),
        "{unknown}"
    );
    let not_wasm = policy_error("./ferry.toml", |_| {});
    assert!(
        not_wasm.contains(at_policy)
            && not_wasm.contains("is not a ferry policy plugin")
            && not_wasm.contains("not WebAssembly"),
        "{not_wasm}"
    );
    let device = policy_error("/dev/zero", |_| {});
    assert!(
        device.contains(&format!(
            "{at_policy}plugin file /dev/zero: not a regular file (a .wasm component is expected)"
        )),
        "{device}"
    );
    let huge = policy_error("huge.wasm", |setup| {
        let file = std::fs::File::create(setup.dir.path().join("huge.wasm")).unwrap();
        file.set_len(65 << 20).unwrap(); // sparse
    });
    assert!(
        huge.contains(at_policy) && huge.contains("larger than 67108864 bytes"),
        "{huge}"
    );
}

#[test]
fn a_rate_without_a_unit_is_refused_on_the_command_line_and_in_the_config() {
    let setup = Setup::with_sync_keys("never", "", "bwlimit = 10");
    let in_config = usage_error(&setup, &["run", "push"]);
    assert!(
        in_config.contains("/ferry.toml:16:11: syncs.push.bwlimit: expected a rate with its unit"),
        "{in_config}"
    );
    let setup = Setup::new("never", "");
    let on_command_line = usage_error(&setup, &["run", "push", "--bwlimit", "10"]);
    assert!(
        on_command_line.starts_with("error: --bwlimit \"10\": invalid rate \"10\" (no unit)"),
        "{on_command_line}"
    );
}

#[test]
fn files_that_are_not_utf8_are_placed_at_the_line_and_byte_offset() {
    let setup = Setup::new("never", "");
    let config = setup.dir.path().join("ferry.toml");
    let mut bytes = std::fs::read(&config).unwrap();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let offset = bytes.len() - 2;
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    std::fs::write(&config, bytes).unwrap();
    let error = usage_error(&setup, &["check", "push"]);
    assert!(
        error.contains(&format!(
            "ferry.toml:{lines}:6: not valid UTF-8 (byte 0xE9 at byte offset {offset})"
        )),
        "{error}"
    );
    std::fs::write(
        setup.dir.path().join("cases.toml"),
        b"[[entry]]\npath = \"\xff\"\n",
    )
    .unwrap();
    let error = usage_error(&setup, &["plugin", "test", "generic", "cases.toml"]);
    assert!(
        error.starts_with("error: cases.toml:2:9: not valid UTF-8 (byte 0xFF at byte offset 18)"),
        "{error}"
    );
}

#[test]
fn a_config_or_cases_file_that_is_a_device_is_refused_without_reading_it() {
    let setup = Setup::new("never", "");
    let config = usage_error(&setup, &["check", "push", "--config", "/dev/zero"]);
    assert!(
        config.contains("/dev/zero: cannot read config file: not a regular file"),
        "{config}"
    );
    let cases = usage_error(&setup, &["plugin", "test", "generic", "/dev/zero"]);
    assert!(cases.contains("not a regular file"), "{cases}");
}
