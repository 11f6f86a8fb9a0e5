//! The `generic` policy: every rule is a setting. Its defaults suit a plain POSIX server
//! (OpenSSH's SFTP on Linux: `/` and NUL forbidden, NAME_MAX 255 bytes per name, PATH_MAX
//! 4096), so a team describes an unusual server with a few `policy_settings` alone.

use ferry_policy_kit::{Policy, Rules};

pub struct Generic;

impl Policy for Generic {
    const NAME: &'static str = "generic";
    const DESCRIPTION: &'static str = "Any server, described by settings alone. Defaults: a plain \
        POSIX server (`/` and NUL forbidden; names up to 255 bytes counted on the bare name; full \
        paths up to 4096 bytes — POSIX NAME_MAX and PATH_MAX on Linux).";
    const REMOTE_KINDS: &'static [&'static str] =
        &["sftp", "local", "ftp", "webdav", "s3", "azure-blob"];

    fn default_rules() -> Rules {
        Rules::posix()
    }
}

ferry_policy_kit::export_policy!(Generic);
