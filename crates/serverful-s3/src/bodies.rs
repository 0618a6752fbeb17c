//! Object and part bodies as files: `DATA/s3/bodies/{uuid}`, named by a fresh id rather
//! than by key, so that no key can name a path and a replaced object's readers keep
//! reading the body they opened.
//!
//! A body is streamed into an unnamed file in `bodies/` (`O_TMPFILE`; on file systems
//! without them, into `DATA/s3/.tmp-{uuid}`) while its digests are computed, fsync'd, and
//! only then, once the request's checks pass, linked (or renamed) into `bodies/` and the
//! folder fsync'd ([`Staged::keep`]); its record is written after that. A body cut off
//! mid-stream, or refused, is deleted with its [`Staged`] and never shows. Files no record
//! names (a crash between the rename and the record) are swept at start.
//!
//! A multipart upload's object is not copied out of its parts: its body is a *composite*,
//! a small manifest `bodies/c-{uuid}` listing the part bodies and their sizes in order
//! (written, fsync'd and renamed in like any body), so completing a 5 GB upload writes a
//! few hundred bytes, not 5 GB again. Reads run through the parts; a copy links every
//! part; removing a composite removes its manifest, then its parts; the sweep at start
//! keeps the parts of every composite a record names.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use md5::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::checksum::{Algorithm, Hasher};

/// Prefix of bodies being written (left out of backups as work in progress).
const TEMPORARY_PREFIX: &str = ".tmp-";
/// How much of a body is read at a time when answering.
const READ_CHUNK: usize = 256 * 1024;
/// Prefix of composite bodies (manifests of parts).
const COMPOSITE_PREFIX: &str = "c-";
/// The first line of a composite's manifest.
const MANIFEST_HEADER: &str = "serverful-s3-composite 1";

/// Whether the body `name` is a composite of parts.
fn is_composite(name: &str) -> bool {
    name.starts_with(COMPOSITE_PREFIX)
}

/// A manifest's text: the header, then `name size` per part.
fn manifest_text(parts: &[(String, u64)]) -> String {
    let mut text = format!("{MANIFEST_HEADER}\n");
    for (name, size) in parts {
        text.push_str(&format!("{name} {size}\n"));
    }
    text
}

/// The parts a manifest lists, in order.
fn parse_manifest(text: &str) -> io::Result<Vec<(String, u64)>> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a composite body's manifest {why}"),
        )
    };
    let mut lines = text.lines();
    if lines.next() != Some(MANIFEST_HEADER) {
        return Err(invalid("has no header"));
    }
    lines
        .map(|line| {
            let (name, size) = line
                .split_once(' ')
                .ok_or_else(|| invalid("has a line without a size"))?;
            if name.is_empty() || name.contains('/') || is_composite(name) {
                return Err(invalid("names a part it cannot have"));
            }
            let size = size
                .parse()
                .map_err(|_| invalid("has a size that is not a number"))?;
            Ok((name.to_owned(), size))
        })
        .collect()
}

/// The body store.
#[derive(Debug, Clone)]
pub struct Bodies {
    root: PathBuf,
    /// Removals held back while a backup copies the folder.
    holds: Arc<Mutex<Holds>>,
}

/// How many backups hold removals back, and the files waiting for them to finish.
#[derive(Debug, Default)]
struct Holds {
    count: usize,
    deferred: Vec<PathBuf>,
}

/// While it lives, bodies that lose their record stay on disk (removed when the last
/// hold goes): a backup that snapshots the records and then copies the bodies finds
/// every body its snapshot names.
#[derive(Debug)]
pub struct RemovalHold {
    holds: Arc<Mutex<Holds>>,
}

impl Drop for RemovalHold {
    fn drop(&mut self) {
        let deferred = {
            let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            holds.count -= 1;
            if holds.count > 0 {
                return;
            }
            std::mem::take(&mut holds.deferred)
        };
        for path in deferred {
            if let Err(error) = std::fs::remove_file(&path) {
                if error.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("failed to remove the body {}: {error}", path.display());
                }
            }
        }
    }
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

/// A body written and fsync'd, not yet in place, with its digests: an unnamed file
/// (`O_TMPFILE` in `bodies/`, which vanishes if it is never linked) or, where the file
/// system has no unnamed files, a temporary name.
#[derive(Debug)]
pub struct Staged {
    unnamed: Option<std::fs::File>,
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
        let target = self.bodies.join(&self.name);
        if let Some(file) = self.unnamed.take() {
            // One directory entry made, in one folder: no temporary name to create and
            // rename away (each takes the folder's lock).
            tokio::task::spawn_blocking(move || link_unnamed(&file, &target))
                .await
                .map_err(io::Error::other)??;
        } else if let Some(temporary) = self.temporary.take() {
            tokio::fs::rename(&temporary, &target).await?;
        } else {
            return Ok(self.name.clone());
        }
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

/// An unnamed file in `folder` (`O_TMPFILE`), or `None` where the file system makes none,
/// or where `/proc` is not mounted (the file could not be linked into place then).
fn open_unnamed(folder: &Path) -> io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    static PROC_MOUNTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*PROC_MOUNTED.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
        return Ok(None);
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_TMPFILE.bits())
        .open(folder)
    {
        Ok(file) => Ok(Some(file)),
        // Kernels and file systems without unnamed files answer these.
        Err(error)
            if matches!(
                error.raw_os_error(),
                Some(code) if code == nix::libc::EOPNOTSUPP || code == nix::libc::EISDIR || code == nix::libc::EINVAL
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Gives the unnamed `file` the name `target` (`linkat` of its `/proc/self/fd` entry).
fn link_unnamed(file: &std::fs::File, target: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let source = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    nix::unistd::linkat(
        nix::fcntl::AT_FDCWD,
        &source,
        nix::fcntl::AT_FDCWD,
        target,
        nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
    )
    .map_err(io::Error::from)
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
            holds: Arc::default(),
        })
    }

    fn bodies(&self) -> PathBuf {
        self.root.join("bodies")
    }

    /// Holds removals back until the hold is dropped (a backup is copying the folder).
    pub fn hold_removals(&self) -> RemovalHold {
        self.holds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count += 1;
        RemovalHold {
            holds: self.holds.clone(),
        }
    }

    /// Deletes the body files no record names, directly or as a part of a composite a
    /// record names.
    pub fn sweep(&self, referenced: &HashSet<String>) -> io::Result<usize> {
        let mut referenced = referenced.clone();
        for name in referenced.clone() {
            if is_composite(&name) {
                match std::fs::read_to_string(self.bodies().join(&name)) {
                    Ok(text) => {
                        referenced.extend(parse_manifest(&text)?.into_iter().map(|(part, _)| part))
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
        }
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
        let bodies = self.bodies();
        let unnamed = tokio::task::spawn_blocking(move || open_unnamed(&bodies))
            .await
            .map_err(io::Error::other)??;
        let (file, temporary) = match unnamed {
            Some(file) => (tokio::fs::File::from_std(file), None),
            None => {
                let temporary = self.root.join(format!("{TEMPORARY_PREFIX}{name}"));
                (tokio::fs::File::create(&temporary).await?, Some(temporary))
            }
        };
        let mut staged = Staged {
            unnamed: None,
            temporary,
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
        if staged.temporary.is_none() {
            staged.unnamed = Some(file.into_std().await);
        }
        staged.md5 = hex::encode(md5.finalize());
        staged.checksum = checksum.map(|(algorithm, hasher)| (algorithm, hasher.finish()));
        Ok(staged)
    }

    /// A composite body of `parts` (names and sizes, in order), which are already in
    /// place and from now on belong to it: its manifest is written, fsync'd and renamed
    /// in. Returns its name.
    pub async fn compose(&self, parts: &[(String, u64)]) -> io::Result<String> {
        let name = format!("{COMPOSITE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        self.place(&name, manifest_text(parts)).await?;
        Ok(name)
    }

    /// Writes a small body `text` as `name` durably: a temporary file fsync'd, renamed
    /// in, the folder fsync'd.
    async fn place(&self, name: &str, text: String) -> io::Result<()> {
        let temporary = self.root.join(format!("{TEMPORARY_PREFIX}{name}"));
        let target = self.bodies().join(name);
        let folder = self.bodies();
        tokio::task::spawn_blocking(move || {
            let written = (|| {
                let mut file = std::fs::File::create(&temporary)?;
                std::io::Write::write_all(&mut file, text.as_bytes())?;
                file.sync_all()?;
                std::fs::rename(&temporary, &target)?;
                std::fs::File::open(&folder)?.sync_all()
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&temporary);
            }
            written
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The parts of the composite `name`.
    async fn manifest(&self, name: &str) -> io::Result<Vec<(String, u64)>> {
        parse_manifest(&tokio::fs::read_to_string(self.bodies().join(name)).await?)
    }

    /// The body `name`'s bytes from `start`, `length` of them, as a stream.
    pub async fn read(
        &self,
        name: &str,
        start: u64,
        length: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static> {
        // A plain body is one segment as long as its record says.
        let segments = if is_composite(name) {
            self.manifest(name).await?
        } else {
            vec![(name.to_owned(), u64::MAX)]
        };
        let mut plan = Vec::new();
        let (mut skip, mut remaining) = (start, length);
        for (segment, size) in segments {
            if remaining == 0 {
                break;
            }
            if skip >= size {
                skip -= size;
                continue;
            }
            let take = (size - skip).min(remaining);
            plan.push((self.bodies().join(segment), skip, take));
            remaining -= take;
            skip = 0;
        }
        if remaining > 0 && is_composite(name) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the composite body is shorter than its record",
            ));
        }
        // The first segment is opened now, so that a missing body fails the request
        // rather than its stream; the others as the stream reaches them.
        let mut plan = plan.into_iter();
        let first = match plan.next() {
            Some((path, offset, take)) => Some(file_stream(open_at(&path, offset).await?, take)),
            None => None,
        };
        let rest = futures_util::stream::iter(plan)
            .then(|(path, offset, take)| async move {
                Ok::<_, io::Error>(file_stream(open_at(&path, offset).await?, take))
            })
            .flat_map(|opened| match opened {
                Ok(stream) => stream.left_stream(),
                Err(error) => futures_util::stream::once(async { Err(error) }).right_stream(),
            });
        Ok(futures_util::stream::iter(first).flatten().chain(rest))
    }

    /// Deletes bodies no record names any more (a composite's manifest first, then its
    /// parts); a failure is only logged, as the next start sweeps what is left.
    pub async fn remove(&self, names: impl IntoIterator<Item = String>) {
        let mut files = Vec::new();
        for name in names {
            if is_composite(&name) {
                match self.manifest(&name).await {
                    Ok(parts) => {
                        files.push(name);
                        files.extend(parts.into_iter().map(|(part, _)| part));
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => {
                        tracing::warn!("failed to read the composite body {name}: {error}");
                    }
                }
            } else {
                files.push(name);
            }
        }
        {
            let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            if holds.count > 0 {
                let bodies = self.bodies();
                holds
                    .deferred
                    .extend(files.iter().map(|name| bodies.join(name)));
                return;
            }
        }
        for name in files {
            let path = self.bodies().join(&name);
            if let Err(error) = tokio::fs::remove_file(&path).await {
                if error.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("failed to remove the body {}: {error}", path.display());
                }
            }
        }
    }
}

/// `path` opened and positioned at `offset`.
async fn open_at(path: &Path, offset: u64) -> io::Result<tokio::fs::File> {
    let mut file = tokio::fs::File::open(path).await?;
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset)).await?;
    }
    Ok(file)
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
    /// A composite's copy links each of its parts and lists the links.
    pub async fn link(&self, name: &str) -> io::Result<String> {
        let bodies = self.bodies();
        if is_composite(name) {
            let mut linked = Vec::new();
            for (part, size) in self.manifest(name).await? {
                let copy = uuid::Uuid::new_v4().simple().to_string();
                if let Err(error) =
                    tokio::fs::hard_link(bodies.join(&part), bodies.join(&copy)).await
                {
                    self.remove(linked.into_iter().map(|(copy, _)| copy)).await;
                    return Err(error);
                }
                linked.push((copy, size));
            }
            sync_folder(&bodies).await?;
            return self.compose(&linked).await;
        }
        let copy = uuid::Uuid::new_v4().simple().to_string();
        tokio::fs::hard_link(bodies.join(name), bodies.join(&copy)).await?;
        sync_folder(&bodies).await?;
        Ok(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(bodies: &Bodies, bytes: &'static [u8]) -> (String, u64) {
        let stream = futures_util::stream::iter([Ok::<_, io::Error>(Bytes::from_static(bytes))]);
        let staged = bodies.write(stream, None).await.expect("written");
        let size = staged.size;
        (staged.keep().await.expect("kept"), size)
    }

    async fn read(bodies: &Bodies, name: &str, start: u64, length: u64) -> io::Result<Vec<u8>> {
        let mut stream = std::pin::pin!(bodies.read(name, start, length).await?);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn files(bodies: &Bodies) -> HashSet<String> {
        std::fs::read_dir(bodies.bodies())
            .expect("listed")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_composite_reads_through_its_parts_and_owns_them() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let bodies = Bodies::open(folder.path()).expect("opened");
        let parts = vec![
            put(&bodies, b"hello ").await,
            put(&bodies, b"composite ").await,
            put(&bodies, b"world").await,
        ];
        let composite = bodies.compose(&parts).await.expect("composed");
        assert!(is_composite(&composite));
        assert_eq!(
            read(&bodies, &composite, 0, 21).await.expect("read"),
            b"hello composite world"
        );
        // Ranges that start, end and run across part boundaries.
        assert_eq!(
            read(&bodies, &composite, 4, 8).await.expect("read"),
            b"o compos"
        );
        assert_eq!(
            read(&bodies, &composite, 6, 10).await.expect("read"),
            b"composite "
        );
        assert_eq!(read(&bodies, &composite, 20, 1).await.expect("read"), b"d");
        assert_eq!(read(&bodies, &composite, 21, 0).await.expect("read"), b"");
        // Longer than the parts: an error, not a short body.
        assert!(bodies.read(&composite, 0, 22).await.is_err());

        // A copy shares the bytes through links of its own.
        let copy = bodies.link(&composite).await.expect("linked");
        assert_ne!(copy, composite);
        assert_eq!(files(&bodies).len(), 8);
        bodies.remove([composite.clone()]).await;
        assert_eq!(files(&bodies).len(), 4);
        assert_eq!(
            read(&bodies, &copy, 0, 21).await.expect("read"),
            b"hello composite world"
        );

        // The sweep keeps the parts of a composite a record names, and nothing else.
        let stray = put(&bodies, b"stray").await.0;
        let referenced: HashSet<String> = [copy.clone()].into();
        assert_eq!(bodies.sweep(&referenced).expect("swept"), 1);
        assert!(!files(&bodies).contains(&stray));
        assert_eq!(files(&bodies).len(), 4);
        bodies.remove([copy]).await;
        assert!(files(&bodies).is_empty());
    }

    #[tokio::test]
    async fn removals_wait_for_the_last_hold() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let bodies = Bodies::open(folder.path()).expect("opened");
        let (plain, _) = put(&bodies, b"plain").await;
        let part = put(&bodies, b"part").await;
        let composite = bodies.compose(&[part]).await.expect("composed");
        let first = bodies.hold_removals();
        let second = bodies.hold_removals();
        bodies.remove([plain, composite]).await;
        assert_eq!(files(&bodies).len(), 3);
        drop(first);
        assert_eq!(files(&bodies).len(), 3);
        drop(second);
        assert!(files(&bodies).is_empty());
    }

    #[test]
    fn refuses_manifests_it_did_not_write() {
        assert!(parse_manifest("not a manifest\n").is_err());
        assert!(parse_manifest(&format!("{MANIFEST_HEADER}\nx\n")).is_err());
        assert!(parse_manifest(&format!("{MANIFEST_HEADER}\n../x 1\n")).is_err());
        assert!(parse_manifest(&format!("{MANIFEST_HEADER}\nc-x 1\n")).is_err());
        assert_eq!(
            parse_manifest(&manifest_text(&[("a".to_owned(), 1), ("b".to_owned(), 2)]))
                .expect("parsed"),
            vec![("a".to_owned(), 1), ("b".to_owned(), 2)]
        );
    }
}
