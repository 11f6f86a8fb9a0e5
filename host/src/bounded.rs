//! Reading a file a user or a config names: only a regular file, and at most a given
//! number of bytes (a device, a pipe or `/dev/zero` could be read forever).

use std::io::Read;
use std::path::Path;

/// Why a file could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BoundedReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

impl BoundedReadError {
    /// Whether there is no file at the path.
    pub fn is_not_found(&self) -> bool {
        matches!(self, BoundedReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path`, if it holds at most `limit` bytes.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, BoundedReadError> {
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(BoundedReadError::NotAFile);
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular_file(&file, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular_file(&file, 4),
            Err(BoundedReadError::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            read_regular_file(Path::new("/dev/zero"), 1 << 20),
            Err(BoundedReadError::NotAFile)
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 10),
            Err(BoundedReadError::NotAFile) | Err(BoundedReadError::Io(_))
        ));
        assert!(
            read_regular_file(&dir.path().join("none"), 1)
                .unwrap_err()
                .is_not_found()
        );
    }
}
