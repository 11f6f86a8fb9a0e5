//! Uploads staged in parts (S3 multipart uploads, Azure blocks): nothing shows under the
//! final name until the parts are committed, and the parts stored so far are recorded
//! after each one, so that a later run continues where this one stopped.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use super::{Executor, Job, Sent, StepError, Tried, on, read_exactly, still_listed};
use crate::plugin::{ErrorCode, Operation};
use crate::remote::{Reader, RemoteError, StagedPart, StagedUpload};
use crate::state::Partial;

/// The smallest part: S3 refuses smaller ones (but the last).
const MIN_PART: u64 = 8 << 20;
/// S3 takes at most this many parts per upload.
const MAX_PARTS: u64 = 10_000;
/// Parts of one file sent at once.
const PARTS_IN_FLIGHT: usize = 4;
/// Parts held in memory at once by a whole run, across its files (each up to a part's
/// size, 8 MiB and more): 16 files in flight must not hold 16 × 5 parts.
pub const PART_BUFFERS: usize = 12;

/// The part size for a file of `size` bytes: whole MiB, at least [`MIN_PART`], and
/// large enough that the file fits in [`MAX_PARTS`].
fn part_size_for(size: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    (size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB).max(MIN_PART)
}

/// A part being sent: the task storing it (its tag, when stored), whether it is full,
/// its SHA-256 and its length.
struct PartInFlight {
    task: JoinHandle<Result<String, RemoteError>>,
    full: bool,
    sha256: String,
    length: u64,
}

/// Parts being sent, in order. Those still running when the upload stops (an error) are
/// stopped with it.
struct InFlight(VecDeque<PartInFlight>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for part in &self.0 {
            part.task.abort();
        }
    }
}

/// A staged send's failure: of an upload started now, or of one an earlier attempt left.
enum StagedError {
    Fresh(StepError),
    Continued(StepError),
}

use StagedError::Continued;

impl StagedError {
    fn into_step(self) -> StepError {
        match self {
            StagedError::Fresh(error) | StagedError::Continued(error) => error,
        }
    }
}

impl From<StepError> for StagedError {
    fn from(error: StepError) -> Self {
        StagedError::Fresh(error)
    }
}

/// Whether `error` says the store does not know the upload (S3's 404 NoSuchUpload for an
/// aborted, expired or already committed one; Azure forgets uncommitted blocks after a
/// week).
fn is_unknown_upload(error: &StepError) -> bool {
    matches!(error, StepError::Remote { error, .. } if error.code == Some(ErrorCode::HttpStatus(404)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

impl Executor {
    /// Send `job` to `path` in parts, continuing the upload an earlier attempt left when
    /// it holds this version of the source; commit the parts once all are stored. A
    /// continued upload the store no longer knows (404: aborted, expired, or committed by
    /// a run killed before it recorded so) is dropped, and the file sent afresh at once.
    pub(super) async fn send_staged(&self, job: &Job, path: &str) -> Tried<Sent> {
        match self.send_staged_once(job, path).await {
            Err(Continued(error)) if is_unknown_upload(&error) => {
                tracing::info!(
                    "{}: the store no longer holds its upload; sending it afresh",
                    job.path
                );
                self.abort_recorded(job).await;
                self.recorder.clear_partial(&job.path);
                self.send_staged_once(job, path)
                    .await
                    .map_err(StagedError::into_step)
            }
            other => other.map_err(StagedError::into_step),
        }
    }

    async fn send_staged_once(&self, job: &Job, path: &str) -> Result<Sent, StagedError> {
        let (src, dst) = (self.source.protocol(), self.destination.protocol());
        let before = self.source.version(&job.path).await.map_err(on(src))?;
        still_listed(job, job.size, before, None)?;
        let mut upload = self.staged_start(job, path).await?;
        let start = upload.stored();
        let failed = |error| match start {
            0 => StagedError::Fresh(error),
            _ => StagedError::Continued(error),
        };
        self.progress.advance(start);
        let reader = self.source.read(&job.path, start).await.map_err(on(src))?;
        let last = self
            .put_parts(job, path, reader, &mut upload)
            .await
            .map_err(failed)?;
        self.unchanged_since_listed(job, job.size, before).await?;
        let mut tags: Vec<String> = upload.parts.iter().map(|part| part.tag.clone()).collect();
        tags.extend(last);
        self.destination
            .commit_staged(path, &upload.id, &tags)
            .await
            .map_err(|error| failed(on(dst)(error)))?;
        Ok(Sent {
            bytes: job.size - start,
            timed: false,
        })
    }

    /// The upload to continue: the recorded one when it is for this version of the
    /// source and its last part matches the source's bytes there; otherwise a new one
    /// (the old one aborted), recorded before its first part is sent.
    async fn staged_start(&self, job: &Job, path: &str) -> Tried<StagedUpload> {
        let this_version = job.partial(path);
        if let Some(recorded) = self.recorder.partial(&job.path).await {
            let same_version = Partial {
                staged: None,
                ..recorded.clone()
            } == this_version;
            match recorded.staged {
                Some(staged) if same_version && self.source_matches(job, &staged).await => {
                    tracing::info!(
                        "continuing {} after byte {} of {}",
                        job.path,
                        staged.stored(),
                        job.size
                    );
                    return Ok(staged);
                }
                Some(staged) => self.abort(&recorded.temp_path, &staged).await,
                None => {}
            }
        }
        let dst = self.destination.protocol();
        let id = self.destination.begin_staged(path).await.map_err(on(dst))?;
        let upload = StagedUpload {
            id,
            part_size: part_size_for(job.size),
            parts: Vec::new(),
        };
        self.record_parts(job, path, &upload).await;
        Ok(upload)
    }

    /// Whether the source holds, where the last stored part ends, the bytes it was sent.
    async fn source_matches(&self, job: &Job, staged: &StagedUpload) -> bool {
        let Some(last) = staged.parts.last() else {
            return true;
        };
        if staged.stored() > job.size {
            return false;
        }
        let at = staged.stored() - staged.part_size;
        let bytes = read_exactly(&*self.source, &job.path, at, staged.part_size).await;
        bytes.is_some_and(|bytes| sha256_hex(&bytes) == last.sha256)
    }

    /// Read the source from where `upload` stands and store it part by part, a few at
    /// once; each full part stored is recorded in order. The tag of the last, short
    /// part (if the size is not a whole number of parts) is returned, not recorded.
    async fn put_parts(
        &self,
        job: &Job,
        path: &str,
        mut reader: Reader,
        upload: &mut StagedUpload,
    ) -> Tried<Option<String>> {
        let dst = self.destination.protocol();
        let mut in_flight = InFlight(VecDeque::new());
        let mut index = upload.parts.len();
        let mut last_tag = None;
        loop {
            // A part in memory holds one of the run's part buffers until it is stored.
            let buffer = Arc::clone(&self.part_buffers)
                .acquire_owned()
                .await
                .expect("the part buffers are never closed");
            // A stopped run reads no further part; the parts on their way are stored and
            // recorded, so that a later run continues from them.
            let stopping = self.stops_mid_file();
            let part = match stopping {
                true => Bytes::new(),
                false => self.read_part(job, &mut reader, upload.part_size).await?,
            };
            let end = part.is_empty();
            if !end {
                let (id, size) = (&upload.id, upload.part_size);
                in_flight
                    .0
                    .push_back(self.send_part(path, id, index, (part, buffer), size));
                index += 1;
            }
            while in_flight.0.len() >= PARTS_IN_FLIGHT || (end && !in_flight.0.is_empty()) {
                let part = in_flight.0.pop_front().expect("not empty");
                let stored = part.task.await.unwrap_or_else(|error| {
                    Err(RemoteError::new(
                        Operation::Write,
                        Some(path),
                        error.to_string(),
                    ))
                });
                let tag = stored.map_err(on(dst))?;
                self.progress.advance(part.length);
                if part.full {
                    let sha256 = part.sha256;
                    upload.parts.push(StagedPart { tag, sha256 });
                    self.record_parts(job, path, upload).await;
                } else {
                    last_tag = Some(tag);
                }
            }
            match (end, stopping) {
                (true, true) => return Err(StepError::Stopped),
                (true, false) => return Ok(last_tag),
                _ => {}
            }
        }
    }

    /// Start storing `part` as part `index` of the upload `id`, in a task of its own: it
    /// is sent while the next part is read.
    fn send_part(
        &self,
        path: &str,
        id: &str,
        index: usize,
        (part, buffer): (Bytes, OwnedSemaphorePermit),
        part_size: u64,
    ) -> PartInFlight {
        let (full, sha256, length) = (
            part.len() as u64 == part_size,
            sha256_hex(&part),
            part.len() as u64,
        );
        let (destination, path, id) = (
            Arc::clone(&self.destination),
            path.to_string(),
            id.to_string(),
        );
        let task = tokio::spawn(async move {
            let stored = destination.put_part(&path, &id, index, part).await;
            drop(buffer);
            stored
        });
        PartInFlight {
            task,
            full,
            sha256,
            length,
        }
    }

    /// The next part of the source: `part_size` bytes, fewer at its end, none past it.
    async fn read_part(&self, job: &Job, reader: &mut Reader, part_size: u64) -> Tried<Bytes> {
        let src = self.source.protocol();
        let mut part = BytesMut::zeroed(part_size as usize);
        let mut filled = 0;
        while filled < part.len() {
            let read = reader.read(&mut part[filled..]).await.map_err(|error| {
                on(src)(RemoteError::io(Operation::Read, Some(&job.path), &error))
            })?;
            if read == 0 {
                break;
            }
            if let Some(throttle) = &self.throttle {
                throttle.acquire(read).await;
            }
            filled += read;
        }
        part.truncate(filled);
        Ok(part.freeze())
    }

    async fn record_parts(&self, job: &Job, path: &str, upload: &StagedUpload) {
        let partial = Partial {
            staged: Some(upload.clone()),
            ..job.partial(path)
        };
        self.recorder.set_partial(&job.path, partial).await;
    }

    /// Abort the staged upload recorded for `job`, if there is one.
    pub(super) async fn abort_recorded(&self, job: &Job) {
        if let Some(recorded) = self.recorder.partial(&job.path).await
            && let Some(staged) = &recorded.staged
        {
            self.abort(&recorded.temp_path, staged).await;
        }
    }

    /// Give an abandoned upload up: S3 drops its parts; Azure leaves them to expire.
    async fn abort(&self, path: &str, staged: &StagedUpload) {
        if let Err(error) = self.destination.abort_staged(path, &staged.id).await {
            tracing::warn!(
                "could not abort the upload {} of {path}: {error}",
                staged.id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_whole_mib_and_a_file_fits_in_ten_thousand() {
        assert_eq!(part_size_for(0), MIN_PART);
        assert_eq!(part_size_for(100 << 20), MIN_PART);
        let huge = 5u64 << 40;
        let size = part_size_for(huge);
        assert_eq!(size % (1 << 20), 0);
        assert!(huge.div_ceil(size) <= MAX_PARTS);
    }
}
