//! One run of a sync at a time. A run holds `STATEDIR/locks/SYNC.lock` locked (an OS
//! advisory lock, `flock`) for as long as it runs, with who holds it written inside, so a
//! second run can say who and since when. The OS releases the lock when the process ends,
//! however it ends: a file left behind by a killed run holds no lock and is taken over.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::StateError;
use super::time::utc;

const LOCKS_DIR: &str = "locks";
/// How long a run waits for a lock held by someone else: a `ferry log` holds it shared
/// for a moment to tell a running run from an interrupted one.
const GRACE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(10);

/// Held while a run of one sync goes on; released when dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `sync` in the state directory `dir`, or says who holds it.
    pub fn acquire(dir: &Path, sync: &str) -> Result<RunLock, StateError> {
        let path = lock_path(dir, sync);
        let io_error = |error| StateError::LockFile {
            lock: path.clone(),
            error,
        };
        fs::create_dir_all(dir.join(LOCKS_DIR)).map_err(io_error)?;
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        if !take(&file).map_err(io_error)? {
            return Err(StateError::RunInProgress {
                sync: sync.to_string(),
                holder: describe_holder(&mut file),
                lock: path,
            });
        }
        write_holder(&mut file).map_err(io_error)?;
        Ok(RunLock { _file: file })
    }
}

/// Whether a run of `sync` holds its lock now. When that cannot be told, it is taken to
/// be held: a run is never called interrupted on a guess.
pub(super) fn is_held(dir: &Path, sync: &str) -> bool {
    let Ok(file) = File::open(lock_path(dir, sync)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => true,
    }
}

fn lock_path(dir: &Path, sync: &str) -> PathBuf {
    dir.join(LOCKS_DIR).join(format!("{}.lock", escape(sync)))
}

/// A sync's name as a file name: letters, digits, `-` and `_` as they are, every other
/// byte as `%XX`.
fn escape(sync: &str) -> String {
    sync.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Takes the lock, waiting up to [`GRACE`] for a moment's holder to let go; false if
/// someone else still holds it.
fn take(file: &File) -> std::io::Result<bool> {
    let deadline = Instant::now() + GRACE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::Error(error)) => return Err(error),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return Ok(false),
            Err(TryLockError::WouldBlock) => std::thread::sleep(POLL),
        }
    }
}

/// `pid PID on HOST since TIME`, as the holder wrote it.
fn write_holder(file: &mut File) -> std::io::Result<()> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let host = rustix::system::uname();
    let holder = format!(
        "{}\n{}\n{started}\n",
        std::process::id(),
        host.nodename().to_string_lossy()
    );
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(holder.as_bytes())
}

/// The most of a lock file read for who holds it.
const HOLDER_BYTES: u64 = 4096;

fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    // What a holder writes is three short lines; anything else in the file is not read.
    let _ = file
        .rewind()
        .and_then(|()| (&*file).take(HOLDER_BYTES).read_to_string(&mut text));
    let mut lines = text.lines();
    let (Some(pid), Some(host), Some(started)) = (lines.next(), lines.next(), lines.next()) else {
        return "a process that has not written its details yet".into();
    };
    let since = started.parse().map_or_else(
        |_| started.to_string(),
        |secs| utc(UNIX_EPOCH + Duration::from_secs(secs)),
    );
    format!("pid {pid} on {host}, running since {since}")
}
