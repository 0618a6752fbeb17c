//! Object and part bodies as files: `DATA/s3/bodies/{uuid}`, named by a fresh id rather
//! than by key, so that no key can name a path and a replaced object's readers keep
//! reading the body they opened.
//!
//! A body is streamed into `DATA/s3/.tmp-{uuid}` while its digests are computed, fsync'd,
//! and only then, once the request's checks pass, renamed into `bodies/` and the folder
//! fsync'd ([`Staged::keep`]); its record is written after that. A body cut off
//! mid-stream, or refused, is deleted with its [`Staged`] and never shows. Files no record
//! names (a crash between the rename and the record) are swept at start.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use md5::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::checksum::{Algorithm, Hasher};

/// Prefix of bodies being written (left out of backups as work in progress).
const TEMPORARY_PREFIX: &str = ".tmp-";
/// How much of a body is read at a time when answering.
const READ_CHUNK: usize = 256 * 1024;

/// The body store.
#[derive(Debug, Clone)]
pub struct Bodies {
    root: PathBuf,
}

/// Why a body could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request's body stream failed (the client went away, a bad chunk signature).
    #[error("read the request body: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
    #[error("write the body file: {0}")]
    Io(#[from] io::Error),
}

/// A body written and fsync'd under its temporary name, with its digests.
#[derive(Debug)]
pub struct Staged {
    temporary: Option<PathBuf>,
    bodies: PathBuf,
    /// The name it will have.
    pub name: String,
    pub size: u64,
    /// Its MD5, hex.
    pub md5: String,
    /// Its checksum in the algorithm asked for, base64.
    pub checksum: Option<(Algorithm, String)>,
}

impl Staged {
    /// Moves the body into place and makes the move durable; returns its name.
    pub async fn keep(mut self) -> io::Result<String> {
        let Some(temporary) = self.temporary.take() else {
            return Ok(self.name.clone());
        };
        let target = self.bodies.join(&self.name);
        tokio::fs::rename(&temporary, &target).await?;
        sync_folder(&self.bodies).await?;
        Ok(self.name.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temporary) = self.temporary.take() {
            if let Err(error) = std::fs::remove_file(&temporary) {
                tracing::warn!(
                    "failed to remove the refused body {}: {error}",
                    temporary.display()
                );
            }
        }
    }
}

async fn sync_folder(folder: &Path) -> io::Result<()> {
    let folder = folder.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(folder)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

impl Bodies {
    /// The store under `root` (`DATA/s3`), made if missing; removes bodies left half
    /// written by a previous run.
    pub fn open(root: &Path) -> io::Result<Bodies> {
        std::fs::create_dir_all(root.join("bodies"))?;
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(TEMPORARY_PREFIX)
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Bodies {
            root: root.to_owned(),
        })
    }

    fn bodies(&self) -> PathBuf {
        self.root.join("bodies")
    }

    /// Deletes the body files no record names.
    pub fn sweep(&self, referenced: &HashSet<String>) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.bodies())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Streams `body` to a temporary file, computing its MD5 and the checksum
    /// `algorithm` names, and fsyncs it.
    pub async fn write<S, E>(
        &self,
        body: S,
        algorithm: Option<Algorithm>,
    ) -> Result<Staged, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let temporary = self.root.join(format!("{TEMPORARY_PREFIX}{name}"));
        let file = tokio::fs::File::create(&temporary).await?;
        let mut staged = Staged {
            temporary: Some(temporary),
            bodies: self.bodies(),
            name,
            size: 0,
            md5: String::new(),
            checksum: None,
        };
        let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = md5::Md5::new();
        let mut checksum = algorithm.map(|algorithm| (algorithm, Hasher::new(algorithm)));
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| WriteError::Body(error.into()))?;
            md5.update(&chunk);
            if let Some((_, hasher)) = &mut checksum {
                hasher.update(&chunk);
            }
            staged.size += chunk.len() as u64;
            writer.write_all(&chunk).await?;
        }
        writer.flush().await?;
        let file = writer.into_inner();
        file.sync_all().await?;
        staged.md5 = hex::encode(md5.finalize());
        staged.checksum = checksum.map(|(algorithm, hasher)| (algorithm, hasher.finish()));
        Ok(staged)
    }

    /// Writes the bodies `names` one after the other into one new staged body (a
    /// multipart upload's completion, or a copy).
    pub async fn concatenate(&self, names: &[String]) -> Result<Staged, WriteError> {
        let bodies = self.bodies();
        let files = futures_util::stream::iter(names.to_vec())
            .then(move |name| {
                let path = bodies.join(name);
                async move { tokio::fs::File::open(path).await }
            })
            .map(|file| file.map(|file| file_stream(file, u64::MAX)))
            .flat_map(|opened| match opened {
                Ok(stream) => stream.left_stream(),
                Err(error) => futures_util::stream::once(async { Err(error) }).right_stream(),
            });
        self.write(files, None).await
    }

    /// The body `name`'s bytes from `start`, `length` of them, as a stream.
    pub async fn read(
        &self,
        name: &str,
        start: u64,
        length: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static> {
        let mut file = tokio::fs::File::open(self.bodies().join(name)).await?;
        if start > 0 {
            file.seek(io::SeekFrom::Start(start)).await?;
        }
        Ok(file_stream(file, length))
    }

    /// Deletes bodies no record names any more; a failure is only logged, as the next
    /// start sweeps what is left.
    pub async fn remove(&self, names: impl IntoIterator<Item = String>) {
        for name in names {
            let path = self.bodies().join(&name);
            if let Err(error) = tokio::fs::remove_file(&path).await {
                if error.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("failed to remove the body {}: {error}", path.display());
                }
            }
        }
    }
}

/// Up to `length` bytes of `file` from where it stands.
fn file_stream(
    file: tokio::fs::File,
    length: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static {
    futures_util::stream::try_unfold((file, length), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
        let mut buffer = BytesMut::zeroed(want);
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            if remaining == u64::MAX {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the body file is shorter than its record",
            ));
        }
        buffer.truncate(read);
        let remaining = if remaining == u64::MAX {
            u64::MAX
        } else {
            remaining - read as u64
        };
        Ok(Some((buffer.freeze(), (file, remaining))))
    })
}

impl Bodies {
    /// A second name for the body `name` (a copy): bodies never change once in place,
    /// so the copy shares the bytes, and deleting either name leaves the other whole.
    pub async fn link(&self, name: &str) -> io::Result<String> {
        let copy = uuid::Uuid::new_v4().simple().to_string();
        let bodies = self.bodies();
        tokio::fs::hard_link(bodies.join(name), bodies.join(&copy)).await?;
        sync_folder(&bodies).await?;
        Ok(copy)
    }
}
