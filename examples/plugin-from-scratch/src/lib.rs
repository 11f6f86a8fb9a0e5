//! The policy of Acme Secure Drop, an HTTPS upload portal, as its upload guide states it:
//! no `#`, `%`, `&`, `{`, `}` or `~` in names; `index` and `upload` reserved with any
//! extension; at most 120 characters on the full path plus the temporary suffix
//! `.acmepart`; at most one dot in a name; files from 1 byte to 2 GB; HTTP 409 when a name
//! is taken, 507 when the account is full.

use ferry_policy_kit::rules::last_component;
use ferry_policy_kit::{
    Category, Classification, CustomRule, ErrorCode, LengthUnit, Operation, Policy, RawError,
    Retry, Rules,
};

pub struct AcmeSecureDrop;

const NAME_TAKEN: &str = "Acme Secure Drop never overwrites: a file of this name is already in \
    the drop. Rename yours, or ask Acme support to remove theirs; it is not retried until the \
    file changes.";

const ACCOUNT_FULL: &str = "Your Acme Secure Drop account is full. Acme frees a file's space 30 \
    days after it is downloaded; ask Acme support for more if that is too late. The next run \
    retries.";

/// Acme reads everything after a name's first dot as its extension, so a name may have one
/// dot at most; the fix makes every dot but the last an underscore.
const ONE_DOT: CustomRule = CustomRule {
    name: "too-many-dots",
    check: |entry| {
        let name = last_component(&entry.path);
        let dots = name.matches('.').count();
        (dots > 1).then(|| format!("{name:?} has {dots} dots; Acme accepts one at most"))
    },
    fix: Some(|name| match name.rfind('.') {
        Some(last) => format!("{}{}", name[..last].replace('.', "_"), &name[last..]),
        None => name.to_string(),
    }),
};

impl Policy for AcmeSecureDrop {
    const NAME: &'static str = "acme-secure-drop";
    const DESCRIPTION: &'static str = "Acme Secure Drop, an HTTPS upload portal: no # % & { } ~ \
        in names, index and upload reserved with any extension, 120 characters on the full path \
        plus .acmepart, one dot at most in a name, files from 1 byte to 2 GB (Acme's upload \
        guide).";
    const REMOTE_KINDS: &'static [&'static str] = &["webdav"];

    fn default_rules() -> Rules {
        Rules {
            forbidden_chars: "#%&{}~".into(),
            reserved_names: vec!["index".into(), "upload".into()],
            max_name_length: 0, // no limit on the name alone: the path limit covers it
            max_path_length: 120,
            length_unit: LengthUnit::Characters,
            max_size: Some(2_000_000_000),
            zero_byte_allowed: false,
            temp_suffix: ".acmepart".into(),
            custom_rules: vec![ONE_DOT],
            ..Rules::posix()
        }
    }

    fn classify(error: &RawError) -> Classification {
        let advised = |category, retry, advice: &str| Classification {
            category,
            retry,
            advice: advice.into(),
        };
        match (error.code, error.operation) {
            // To plain WebDAV a 409 means a missing parent folder; to Acme, a taken name.
            (Some(ErrorCode::HttpStatus(409)), Operation::Write | Operation::Rename) => {
                advised(Category::InvalidName, Retry::Never, NAME_TAKEN)
            }
            (Some(ErrorCode::HttpStatus(507)), _) => {
                advised(Category::Quota, Retry::NextRun, ACCOUNT_FULL)
            }
            _ => ferry_policy_kit::classify::classify(error),
        }
    }
}

ferry_policy_kit::export_policy!(AcmeSecureDrop);
