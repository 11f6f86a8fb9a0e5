//! The `box` policy: Box (box.com).
//!
//! Sources: developer.box.com "File limitations" and the folder guides: names with
//! non-printable ASCII characters, `/` or `\`, and the names `.` and `..`, are not
//! supported; folder names must not end with a space; names are at most 255 characters
//! (Box's error reference, as rclone backend/box quotes it). The largest file depends on
//! the account's plan, so no size cap is set: `max_size` per plan.
//!
//! Box refuses these folder names but strips the characters from file names silently, so
//! an upload would land under another name and differ from its source at every run:
//! ferry refuses both. rclone encodes a trailing space in file names too, after Box's
//! error reference; `forbidden_trailing = " "` for a server that refuses those.

use ferry_policy_kit::{
    Category, ControlChars, ErrorCode, KnownError, LengthUnit, Policy, Retry, Rules,
};

pub struct BoxCom;

impl Policy for BoxCom {
    const NAME: &'static str = "box";
    const DESCRIPTION: &'static str = "Box. Refuses / and \\ and the non-printable ASCII \
        characters, the names . and .., and a folder name ending with a space; names up to 255 \
        characters. No size cap (it depends on the plan: set max_size). Sources: \
        developer.box.com, files/limitations and folders/single/create; rclone backend/box.";
    const REMOTE_KINDS: &'static [&'static str] = &["ftp", "webdav"];
    const KNOWN_ERRORS: &'static [KnownError] = &[KnownError {
        code: Some(ErrorCode::HttpStatus(400)),
        operations: &[],
        message_has: &["item_name_invalid", "item_name_too_long"],
        category: Category::InvalidName,
        retry: Retry::Never,
        advice: None,
    }];

    fn default_rules() -> Rules {
        Rules {
            forbidden_chars: "/\\".into(),
            control_chars: ControlChars::Ascii,
            reserved_names: vec![".".into(), "..".into()],
            folder_forbidden_trailing: " ".into(),
            max_name_length: 255,
            max_path_length: 0,
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(BoxCom);
