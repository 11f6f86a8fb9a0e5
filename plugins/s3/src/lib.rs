//! The `s3` policy: Amazon S3 and S3-compatible object stores.
//!
//! Source: AWS S3 user guide, "Naming Amazon S3 objects" (object keys) and its limits: a
//! key is any UTF-8 text of at most 1,024 bytes, the remote root's prefix included; the
//! segments `.` and `..` trouble many SDKs (rclone's S3 encoding replaces them too); an
//! object holds 0 bytes to 5 TiB (single PUTs stop at 5 GiB, which the transfer handles
//! with multipart uploads, not a policy).
//!
//! Set `path_prefix` to the remote root's key prefix (e.g. `inbound/acme/`) for the exact
//! key length. AWS raised its own object limit to 50 TB in December 2025; the default stays
//! at the 5 TiB that S3-compatible stores keep (`max_size = "50TB"` on AWS itself).

use ferry_policy_kit::{Category, ErrorCode, KnownError, LengthUnit, Policy, Retry, Rules};

pub struct S3;

impl Policy for S3 {
    const NAME: &'static str = "s3";
    const DESCRIPTION: &'static str = "Amazon S3 and S3-compatible stores. Keys are any UTF-8 \
        up to 1,024 bytes including the remote root's prefix: set path_prefix to that prefix (e.g. inbound/acme/) for the exact \
        count. The names . and .. are refused (they trouble many SDKs). Objects up to 5 TiB. \
        Source: AWS S3 user guide, \"Naming Amazon S3 objects\" and the multipart upload \
        limits.";
    const REMOTE_KINDS: &'static [&'static str] = &["s3"];
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: Some(ErrorCode::HttpStatus(404)),
            operations: &[],
            message_has: &["NoSuchBucket"],
            category: Category::NotFound,
            retry: Retry::Never,
            advice: Some(
                "The bucket named by `bucket =` on this remote does not exist (or the endpoint, \
                 account or region points elsewhere). Correct the remote's `bucket =` or \
                 `endpoint =`, or ask the partner to create it; nothing is retried until then.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(400)),
            operations: &[],
            message_has: &["KeyTooLongError"],
            category: Category::InvalidName,
            retry: Retry::Never,
            advice: Some(
                "S3 refused the key as too long (KeyTooLongError): keys are at most 1,024 bytes \
                 of UTF-8, the remote root's prefix included. Set path_prefix to that prefix so \
                 `ferry plugin check s3` counts it, then shorten the path.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(400)),
            operations: &[],
            message_has: &["EntityTooLarge"],
            category: Category::InvalidSize,
            retry: Retry::Never,
            advice: Some(
                "S3 refused the object's size (EntityTooLarge). Check max_size against the \
                 store's object limit; the file is not retried until it changes.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(403)),
            operations: &[],
            message_has: &["SignatureDoesNotMatch", "InvalidAccessKeyId"],
            category: Category::Auth,
            retry: Retry::NextRun,
            advice: Some(
                "S3 refused the credentials (InvalidAccessKeyId or SignatureDoesNotMatch). Check \
                 the access key and secret for this remote, and this machine's clock.",
            ),
        },
    ];

    fn default_rules() -> Rules {
        Rules {
            forbidden_chars: "/".into(),
            reserved_names: vec![".".into(), "..".into()],
            max_name_length: 0,
            max_path_length: 1024,
            // Uploads are stored in parts under their final name and committed at once:
            // there is no temporary name, so the name is counted alone.
            temp_suffix: String::new(),
            length_unit: LengthUnit::Utf8Bytes,
            max_size: Some(5 << 40),
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(S3);
