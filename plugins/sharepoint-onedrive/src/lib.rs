//! The `sharepoint-onedrive` policy: SharePoint Online document libraries and OneDrive
//! (personal and for Business).
//!
//! Sources: rclone backend/onedrive and docs/content/onedrive.md, after Microsoft's
//! "Restrictions and limitations in OneDrive and SharePoint": the forbidden characters
//! `" * : < > ? / \ |` (rclone also encodes control characters and DEL); no leading or
//! trailing space and no trailing period; the names `.lock`, `CON`, `PRN`, `AUX`, `NUL`,
//! `COM0`–`COM9`, `LPT0`–`LPT9` and `desktop.ini`; `_vti_` anywhere in a name; `~$` at its
//! start; the decoded full path under 400 characters; 250 GB per file.
//!
//! The 400 characters count the whole decoded path the service sees, which starts with the
//! library's own path (e.g. `sites/finance/Shared Documents/`): set `path_prefix` to it
//! for the exact count. Lengths are counted in UTF-16 units, as .NET strings count them.
//! rclone writes the size cap as 250 GiB where Microsoft writes 250 GB; the smaller is the
//! default (`max_size = "250GiB"` for the larger). rclone also encodes a leading `~`,
//! which older OneDrive for Business refused: `forbidden_leading = " ~"` for such a server.

use ferry_policy_kit::rules::dos_device_names;
use ferry_policy_kit::{
    Category, ControlChars, ErrorCode, KnownError, LengthUnit, NAMING_OPERATIONS, Policy, Retry,
    Rules,
};

pub struct SharePointOneDrive;

impl Policy for SharePointOneDrive {
    const NAME: &'static str = "sharepoint-onedrive";
    const DESCRIPTION: &'static str = "SharePoint Online and OneDrive. Refuses \" * : < > ? / \\ | \
        and control characters, a leading or trailing space and a trailing period; the names \
        .lock, CON, PRN, AUX, NUL, COM0-COM9, LPT0-LPT9 (also with an extension) and \
        desktop.ini; _vti_ anywhere in a name and ~$ at its start. The decoded full path stays \
        under 400 UTF-16 units, counted with the temporary upload suffix: set path_prefix to \
        the library's own path (e.g. sites/finance/Shared Documents/) for the exact count. \
        Files up to 250 GB. Sources: rclone backend/onedrive and docs/content/onedrive.md.";
    const REMOTE_KINDS: &'static [&'static str] = &["webdav"];
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: Some(ErrorCode::HttpStatus(423)),
            operations: &[],
            message_has: &[],
            category: Category::RemoteUnavailable,
            retry: Retry::NextRun,
            advice: Some(
                "SharePoint reports the file locked: it is checked out, or open in an Office \
                 app. The next run retries; if it lasts, ask whoever holds it to check it in or \
                 close it.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(400)),
            operations: NAMING_OPERATIONS,
            message_has: &[],
            category: Category::InvalidName,
            retry: Retry::Never,
            advice: Some(
                "SharePoint refused the name (HTTP 400). Check it with `ferry plugin check \
                 sharepoint-onedrive`, set path_prefix to the library's path so the 400-character \
                 limit counts it, and rename the file or enable rename = \"sanitize\".",
            ),
        },
    ];

    fn default_rules() -> Rules {
        let mut reserved_names = vec![".lock".to_string()];
        reserved_names.extend(dos_device_names());
        reserved_names.push("desktop.ini".into());
        Rules {
            forbidden_chars: "\"*:<>?/\\|".into(),
            control_chars: ControlChars::Ascii,
            reserved_names,
            forbidden_prefixes: vec!["~$".into()],
            forbidden_substrings: vec!["_vti_".into()],
            forbidden_leading: " ".into(),
            forbidden_trailing: " .".into(),
            max_name_length: 0,
            max_path_length: 399,
            length_unit: LengthUnit::Utf16Units,
            max_size: Some(250_000_000_000),
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(SharePointOneDrive);

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_policy_kit::{Entry, EntryKind};

    #[test]
    fn office_lock_files_get_a_name_that_cannot_overwrite_the_document() {
        let entry = Entry {
            path: "team/~$budget.xlsx".into(),
            kind: EntryKind::File,
            size: Some(162),
        };
        let verdict = SharePointOneDrive::default_rules().check(&entry);
        assert_eq!(
            verdict.suggested_path.as_deref(),
            Some("team/__budget.xlsx")
        );
    }
}
