//! The `windows-smb` policy: a Windows share reached over SMB (mounted, so ferry writes it
//! as a local folder), a Windows SFTP server, or any folder whose files Windows programs
//! will open.
//!
//! Sources: MS-FSCC 2.1.5.2 "Filename" (the forbidden characters `< > : " / \ | ? *`,
//! control characters U+0000–U+001F, 1–255 characters per name); Syncthing
//! lib/fs/util.go and rclone docs/content/local.md (the reserved device names, also with
//! any extension, and no trailing dot or space; paths over 259 characters fail without the
//! `\\?\` prefix). Windows counts in UTF-16 units.
//!
//! Full-path counting is on by default (259 units, with the temporary upload suffix),
//! although NTFS itself allows far longer paths: the limit is Win32's MAX_PATH, and it
//! binds most programs that will read the files (Explorer, Office, scripts), so a file
//! that breaks it is delivered but cannot be opened. The count can only be exact when it
//! includes the share folder's own path, which ferry does not see: set `path_prefix` to it
//! as Windows programs write it (e.g. `\\fileserver\partners\acme\`), or set
//! `max_path_length = 0` when every reader is long-path aware.

use ferry_policy_kit::rules::dos_device_names;
use ferry_policy_kit::{
    Category, ControlChars, ErrorCode, KnownError, LengthUnit, Operation, Policy, Retry, Rules,
};

pub struct WindowsSmb;

impl Policy for WindowsSmb {
    const NAME: &'static str = "windows-smb";
    const DESCRIPTION: &'static str = "Windows shares (SMB) and Windows file servers. Refuses \
        < > : \" / \\ | ? * and control characters U+0000-U+001F (MS-FSCC 2.1.5.2); the device \
        names CON, PRN, AUX, NUL, COM0-COM9 and LPT0-LPT9, alone or with any extension, and a \
        trailing dot or space (Syncthing lib/fs/util.go, rclone docs/content/local.md). Names \
        up to 255 UTF-16 units; full paths up to 259 (Win32 MAX_PATH without the \\\\?\\ \
        prefix, per rclone docs/content/local.md), counted with the temporary upload suffix: \
        set path_prefix to the share folder's own path (e.g. \\\\fileserver\\partners\\acme\\) \
        for the exact count, or max_path_length = 0 when every program reading the share is \
        long-path aware.";
    const REMOTE_KINDS: &'static [&'static str] = &["local", "sftp"];
    const KNOWN_ERRORS: &'static [KnownError] = &[KnownError {
        // Linux's CIFS client maps STATUS_SHARING_VIOLATION to EBUSY.
        code: Some(ErrorCode::Errno(16)),
        operations: &[Operation::Write, Operation::Rename, Operation::Delete],
        message_has: &[],
        category: Category::RemoteUnavailable,
        retry: Retry::NextRun,
        advice: Some(
            "The file is open in a program on the Windows side (a sharing violation). The next \
             run retries; if it lasts, ask whoever has it open to close it.",
        ),
    }];

    fn default_rules() -> Rules {
        Rules {
            forbidden_chars: "<>:\"/\\|?*".into(),
            control_chars: ControlChars::C0,
            reserved_names: dos_device_names(),
            forbidden_trailing: ". ".into(),
            max_name_length: 255,
            max_path_length: 259,
            length_unit: LengthUnit::Utf16Units,
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(WindowsSmb);

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_policy_kit::{Entry, EntryKind, Violation};

    fn check(path: &str) -> Vec<Violation> {
        let entry = Entry {
            path: path.into(),
            kind: EntryKind::File,
            size: Some(1),
        };
        WindowsSmb::default_rules().check(&entry).violations
    }

    #[test]
    fn device_names_are_reserved_with_any_extension_but_not_inside_longer_names() {
        for name in ["nul", "NUL.txt", "com0.tar.gz", "Lpt9.log", "aux .csv"] {
            assert!(
                matches!(&check(name)[..], [Violation::ReservedName(_)]),
                "{name}"
            );
        }
        for name in ["nullable.txt", "a.con", "COM10.txt", "console"] {
            assert!(check(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn delete_and_c1_controls_are_allowed_as_windows_allows_them() {
        assert!(check("a\u{7f}b\u{85}").is_empty());
        assert!(matches!(
            &check("a\u{1f}b")[..],
            [Violation::ForbiddenCharacter(_)]
        ));
    }
}
