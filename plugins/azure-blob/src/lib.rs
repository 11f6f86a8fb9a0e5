//! The `azure-blob` policy: Azure Blob Storage (block blobs).
//!
//! Source: Azure REST API, "Naming and Referencing Containers, Blobs, and Metadata": a
//! blob name is 1–1,024 characters (the whole name: the remote root's virtual folders,
//! then the path); `\` must not be used (clients turn it into `/` or sign it wrongly);
//! control characters (0x00–0x1F, \u0081, ...) are not allowed; no name and no path
//! segment may end with a dot; invalid names are refused with HTTP 400.
//!
//! Zero-byte files are accepted. Some HTTP/API remotes cannot store empty files, but
//! Azure Blob is not one of them: Put Blob takes a Content-Length of 0 for a block blob,
//! and Azure documents no lower bound on a blob's size. `zero_byte = "reject"` remains for
//! a gateway in front of it that cannot. No size cap is set: a block blob's limit follows
//! from the block size the transfer uses.

use ferry_policy_kit::{
    Category, ControlChars, ErrorCode, KnownError, LengthUnit, NAMING_OPERATIONS, Policy, Retry,
    Rules,
};

pub struct AzureBlob;

impl Policy for AzureBlob {
    const NAME: &'static str = "azure-blob";
    const DESCRIPTION: &'static str = "Azure Blob Storage. Refuses \\ and every control character \
        and a name ending with a dot; the whole blob name is 1-1,024 characters: set path_prefix to the remote root's virtual folders \
        (e.g. inbound/acme/) for the exact count. Zero-byte blobs are accepted. Source: Azure \
        REST API, \"Naming and Referencing Containers, Blobs, and Metadata\".";
    const REMOTE_KINDS: &'static [&'static str] = &["azure-blob"];
    const KNOWN_ERRORS: &'static [KnownError] = &[
        KnownError {
            code: Some(ErrorCode::HttpStatus(404)),
            operations: &[],
            message_has: &["ContainerNotFound"],
            category: Category::NotFound,
            retry: Retry::Never,
            advice: Some(
                "The container named by `container =` on this remote does not exist (or the endpoint, \
                 account or region points elsewhere). Correct the remote's `container =` or \
                 `endpoint =`, or ask the partner to create it; nothing is retried until then.",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(400)),
            operations: NAMING_OPERATIONS,
            message_has: &[],
            category: Category::InvalidName,
            retry: Retry::Never,
            advice: Some(
                "Azure refused the blob name (HTTP 400, e.g. InvalidResourceName or \
                 OutOfRangeInput). Check it with `ferry plugin check azure-blob`, with \
                 path_prefix set to the remote root's folders, and rename the file or enable \
                 rename = \"sanitize\".",
            ),
        },
        KnownError {
            code: Some(ErrorCode::HttpStatus(403)),
            operations: &[],
            // AuthorizationFailure: what Azurite (and Azure behind a firewall rule)
            // answers a request signed with the wrong key.
            message_has: &["AuthenticationFailed", "AuthorizationFailure"],
            category: Category::Auth,
            retry: Retry::NextRun,
            advice: Some(
                "Azure could not authenticate the request (AuthenticationFailed or \
                 AuthorizationFailure). Check the account key or SAS token and its expiry, that \
                 the storage account's firewall admits this machine's address, and that this \
                 machine's clock is right: Azure refuses requests signed more than 15 minutes off.",
            ),
        },
    ];

    fn default_rules() -> Rules {
        Rules {
            forbidden_chars: "/\\".into(),
            control_chars: ControlChars::All,
            forbidden_trailing: ".".into(),
            max_name_length: 0,
            max_path_length: 1024,
            // Uploads are stored in parts under their final name and committed at once:
            // there is no temporary name, so the name is counted alone.
            temp_suffix: String::new(),
            length_unit: LengthUnit::Characters,
            ..Rules::posix()
        }
    }
}

ferry_policy_kit::export_policy!(AzureBlob);
