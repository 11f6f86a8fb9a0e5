//! The `ftp` policy: FTP and FTPS servers, with the `server` setting naming the software.
//!
//! Source: rclone backend/ftp. Every FTP server: the protocol cannot carry a trailing
//! space (Pure-FTPd turns it into `_`), and rclone's default encoding also replaces
//! control characters and DEL. Then, per server: ProFTPd cannot handle `*`; Pure-FTPd
//! cannot handle `[`, `]` or `*`; vsftpd cannot handle a name starting with a dot (it
//! hides such files from listings, so they would be uploaded again at every run).
//!
//! Lengths depend on the server's system; the defaults are those of the POSIX systems
//! these servers run on (NAME_MAX 255 bytes, PATH_MAX 4096 bytes).

use ferry_policy_kit::{Category, ControlChars, KnownError, Policy, Retry, Rules, Server};

pub struct Ftp;

impl Policy for Ftp {
    const NAME: &'static str = "ftp";
    const DESCRIPTION: &'static str = "FTP and FTPS servers. Refuses / and NUL, control \
        characters and DEL, and a trailing space; set server to the server software for its \
        own rules: proftpd (refuses *), pureftpd (refuses [ ] *), vsftpd (refuses a leading \
        dot). Names up to 255 bytes and paths up to 4096 bytes, as on the POSIX systems these \
        servers run on. Source: rclone backend/ftp.";
    const REMOTE_KINDS: &'static [&'static str] = &["ftp"];
    const SERVERS: &'static [Server] = &[
        Server {
            name: "other",
            doc: "any other FTP server: the common rules only",
            adjust: |_| {},
        },
        Server {
            name: "proftpd",
            doc: "ProFTPd, which also refuses *",
            adjust: |rules| rules.forbidden_chars.push('*'),
        },
        Server {
            name: "pureftpd",
            doc: "Pure-FTPd, which also refuses [ ] and *",
            adjust: |rules| rules.forbidden_chars.push_str("[]*"),
        },
        Server {
            name: "vsftpd",
            doc: "vsftpd, which also refuses a leading dot (it hides such files from listings)",
            adjust: |rules| rules.forbidden_leading.push('.'),
        },
    ];
    // The texts RFC 959 gives replies 552 and 553, which servers echo.
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: None,
            operations: &[],
            message_has: &["exceeded storage allocation"],
            category: Category::Quota,
            retry: Retry::NextRun,
            advice: None,
        },
        KnownError {
            code: None,
            operations: &[],
            message_has: &["file name not allowed"],
            category: Category::InvalidName,
            retry: Retry::Never,
            advice: None,
        },
    ];

    fn default_rules() -> Rules {
        Rules {
            control_chars: ControlChars::Ascii,
            forbidden_trailing: " ".into(),
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(Ftp);

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_policy_kit::bindings::Guest;
    use ferry_policy_kit::{ConfigError, Plugin, Setting, SettingValue};

    fn server(name: &str) -> Result<(), ConfigError> {
        Plugin::<Ftp>::configure(vec![Setting {
            name: "server".into(),
            value: SettingValue::Text(name.into()),
        }])
    }

    fn refused(names: &[&str]) -> Vec<bool> {
        Plugin::<Ftp>::refuses(names)
    }

    #[test]
    fn each_server_adds_its_own_refusals_to_the_common_ones() {
        let names = ["a*b", "a[1]", ".hidden", "trailing ", "plain"];
        for (name, expected) in [
            ("other", [false, false, false, true, false]),
            ("proftpd", [true, false, false, true, false]),
            ("pureftpd", [true, true, false, true, false]),
            ("vsftpd", [false, false, true, true, false]),
        ] {
            server(name).unwrap();
            assert_eq!(refused(&names), expected, "{name}");
        }
    }

    #[test]
    fn an_unknown_server_is_refused_with_the_choices() {
        let error = server("wu-ftpd").unwrap_err();
        assert!(
            matches!(&error, ConfigError::BadValue(bad) if bad.message.contains("\"proftpd\"")),
            "{error:?}"
        );
    }
}
