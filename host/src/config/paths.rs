use std::path::{Component, Path, PathBuf};

/// Resolves a path from the config: "~" and "~/..." start at the home folder, relative
/// paths start at `base` (the config file's folder), absolute paths stay as they are.
pub(super) fn resolve(raw: &str, base: &Path) -> Result<PathBuf, String> {
    let Some(after_tilde) = raw.strip_prefix('~') else {
        return Ok(within(base, raw));
    };
    if !(after_tilde.is_empty() || after_tilde.starts_with('/')) {
        return Ok(within(base, raw));
    }
    let home =
        dirs::home_dir().ok_or_else(|| format!("cannot expand {raw:?}: no home folder known"))?;
    Ok(within(&home, after_tilde.trim_start_matches('/')))
}

/// `base` joined with `relative`, without "." components (so "./outbox" reads as "outbox").
pub(super) fn within(base: &Path, relative: &str) -> PathBuf {
    let joined: PathBuf = base
        .join(relative)
        .components()
        .filter(|component| *component != Component::CurDir)
        .collect();
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}
