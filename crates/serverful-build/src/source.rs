//! Deploy sources: turns what a user names in `serverful deploy` (a folder, a `.zip` file
//! or a git URL) into an immutable folder the server builds the new version from.
//!
//! [`SourceSpec::parse`] reads what the user typed; [`fetch`] materializes it under a
//! staging root as `<staging_root>/<digest prefix>/`, built beside under a temporary name
//! and renamed into place, so that the folder exists only once complete, and never changes
//! afterwards. [`FetchedSource::digest`] hashes the app's files (paths, contents,
//! executable bits, links) and the template's place among them, whatever the source kind:
//! equal digests mean an unchanged app, so a deploy can answer "no changes".
//!
//! # Accepted forms
//!
//! - A **folder** holding `template.yaml` (or `template.yml`), or a **template file**
//!   (its folder is the app). Copied as it is on disk, uncommitted edits included, without
//!   `.git`, `.serverful`, `.aws-sam` and `__pycache__` at any depth (version control,
//!   Serverful's and SAM's own output, Python's caches), and without the staging root if
//!   it lies inside. `node_modules` and the like are kept: a function without a
//!   `package.json` and a layer used as it is run from the packages they carry, as under
//!   `serverful up`. Links are copied as links; everything the template names must be
//!   inside the folder.
//! - A **`.zip` file**: an app folder zipped, with the template at the top or inside one
//!   top-level folder (as zipping a folder makes it; a `__MACOSX` folder is ignored).
//!   Extracted by the build crate's own extractor (`archive`), streamed, at most
//!   [`FetchOptions::max_unzipped_bytes`]; an entry with an absolute path, a `..`
//!   component, a link pointing outside, or a path under a link is refused, naming the
//!   entry, before anything lands outside the staging root.
//! - A **git repository**: `https://…`, `http://…`, `git://…`, `ssh://…` (also
//!   `git+ssh://`), `git@host:path` (any `[user@]host:path`), `file://…`, or a repository
//!   on this machine by path, each optionally followed by `#REF`: a branch, a tag (cloned
//!   with `--depth 1 --branch`) or a commit id, whole or abbreviated (the history cloned,
//!   without file contents where the server allows it, then the commit checked out). Without `#REF` (or with `#HEAD`), the default branch: for a
//!   repository on this machine, the branch checked out there. The checkout is treated
//!   like a zip's contents: the template at the top or in one top-level folder, links must
//!   stay inside, submodules are not fetched. The commit is recorded.
//!
//! # Ambiguity rules
//!
//! 1. Anything starting with `-` is refused (git would read it as an option): write
//!    `./-name`.
//! 2. `scheme://…` is a URL: one of the schemes above, or refused. An `http(s)` URL ending
//!    in `.zip` is refused too: only git repositories are fetched from URLs.
//! 3. `transport::address` (git's remote helpers, such as `ext::`, which runs commands) is
//!    refused.
//! 4. As for git itself, a colon before the first slash makes an ssh address
//!    (`host:path`); write `./name:with:colon` for a local path.
//! 5. Anything else is a local path. A path that exists is taken literally, even with a
//!    `#` in its name: a folder (a git repository's working tree included, as it is on
//!    disk) or a template file, a `.zip` file, or, for a folder named `*.git`, a git
//!    repository. A path that does not exist but whose part before the last `#` is a git
//!    repository means that repository at REF (`.#main`, `../app#v1.2`, and `.#HEAD` for
//!    the current commit without the edits not committed yet).
//!
//! # Running with untrusted input
//!
//! The server runs fetches for whoever holds the admin token, with sources it did not
//! choose. No shell is involved: git gets its arguments as arguments, after `--`. git runs
//! with `GIT_TERMINAL_PROMPT=0`, ssh in batch mode, standard input closed, hooks off, and
//! `GIT_ALLOW_PROTOCOL` set to the URL's own transport (`file` for a local path or
//! `file://`): `ext::` and every transport the URL does not name are refused, whatever the
//! configuration, and a redirect cannot change transport (except `http` to `https`). git's
//! own default of `protocol.file.allow=user` exists to keep submodules from reading the
//! cloning machine's repositories; no submodule is ever cloned here, and a `file://` URL
//! reads only what the token's holder could deploy as a folder anyway. A server that must
//! not read its own files for a client checks [`SourceSpec::is_local`] before calling
//! [`fetch`]. Every git command of a fetch shares one deadline
//! ([`FetchOptions::git_timeout`]) and is killed with its process group when it passes.
//! Passwords and tokens in URLs are left out of descriptions and messages.

mod git;
mod spec;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use spec::SourceSpec;

use crate::archive::{self, Unpack};
use crate::files::{self, Entry, EntryKind, TempGuard};

/// What a copied folder leaves out, at any depth: version control, Serverful's data and
/// builds, SAM's build output, and Python's caches, none of them part of the app.
const SKIPPED_NAMES: &[&str] = &[".git", ".serverful", ".aws-sam", "__pycache__"];

/// The template names looked for, in order, as `serverful up` and `sam` look for them.
const TEMPLATE_NAMES: &[&str] = &["template.yaml", "template.yml"];

/// Top-level entries a zip tool adds beside the app's folder, ignored when looking for
/// the one top-level folder.
const ZIP_LITTER: &[&str] = &["__MACOSX", ".DS_Store"];

/// Bumped when what the digest covers changes.
const DIGEST_FORMAT: &str = "serverful-source 1";

/// How [`fetch_with`] may run.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The longest all git commands of one fetch may take together; a remote that hangs
    /// is given up on after it. Default 120 s.
    pub git_timeout: Duration,
    /// The `git` program. Default `git`, found on `PATH`.
    pub git_program: PathBuf,
    /// The most file data a zip may unpack to; a zip that would unpack to more (a zip
    /// bomb) is refused. Default 8 GiB.
    pub max_unzipped_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            git_timeout: Duration::from_secs(120),
            git_program: PathBuf::from("git"),
            max_unzipped_bytes: 8 << 30,
        }
    }
}

/// A source made into a folder under the staging root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedSource {
    /// The app's folder: `<staging_root>/<digest prefix>`, complete, readable by every
    /// user, and never changed by Serverful afterwards.
    pub dir: PathBuf,
    /// The template, inside `dir`.
    pub template_path: PathBuf,
    /// What was fetched, for people: the folder's absolute path, the zip's file name and
    /// SHA-256, or the URL, REF and commit. Never holds a password or token.
    pub description: String,
    /// SHA-256 (hex) over the app's files and the template's path among them: two fetches
    /// with equal digests made equal folders, whatever they were fetched from.
    pub digest: String,
    /// What was fetched, as data.
    pub origin: SourceOrigin,
    /// True when `dir` existed already (the same app was fetched before) and the new copy
    /// was dropped.
    pub reused: bool,
}

/// Where a fetched source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOrigin {
    /// A folder, by its canonical path.
    Folder { path: PathBuf },
    /// A zip file: its file name and the SHA-256 (hex) of its bytes.
    Zip { file_name: String, sha256: String },
    /// A git repository: the URL (without password or token), the REF asked for, and the
    /// commit checked out.
    Git {
        url: String,
        reference: Option<String>,
        commit: String,
    },
}

impl std::fmt::Display for SourceOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceOrigin::Folder { path } => write!(f, "{}", path.display()),
            SourceOrigin::Zip { file_name, sha256 } => write!(f, "{file_name} (sha256 {sha256})"),
            SourceOrigin::Git {
                url,
                reference: Some(reference),
                commit,
            } => write!(f, "{url}#{reference} (commit {commit})"),
            SourceOrigin::Git {
                url,
                reference: None,
                commit,
            } => write!(f, "{url} (default branch, commit {commit})"),
        }
    }
}

/// Why a source could not be read or fetched; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Nothing was named.
    #[error("no source given; name a folder holding template.yaml, a .zip file or a git URL")]
    Empty,
    /// What was typed cannot be a source (or would be unsafe to pass to git).
    #[error("cannot use {input:?} as a source: {reason}")]
    Invalid { input: String, reason: String },
    /// A local path that does not exist.
    #[error("{} does not exist; name a folder holding template.yaml, a template file, a .zip file or a git URL", .path.display())]
    NotFound { path: PathBuf },
    /// `PATH#REF` where PATH is not a git repository.
    #[error("{} is not a git repository, so #{reference} cannot be checked out of it; leave out #{reference} to deploy the folder as it is", .path.display())]
    NotARepository { path: PathBuf, reference: String },
    /// No template where one must be.
    #[error("no template.yaml or template.yml {place}; put the app's template there")]
    TemplateMissing {
        /// Where it was looked for: `in /srv/app`, `at the top of app.zip or in its one
        /// top-level folder`.
        place: String,
    },
    /// A zip file that is not a zip, is truncated or damaged, or unpacks too large.
    #[error("cannot deploy {}: {problem}", .path.display())]
    BadZip { path: PathBuf, problem: String },
    /// A zip entry that would land outside the folder, or a link pointing out of it.
    #[error("cannot deploy {}: entry {entry} {reason}; the zip is refused and nothing was kept", .path.display())]
    UnsafeZipEntry {
        path: PathBuf,
        entry: String,
        reason: String,
    },
    /// A link in a git checkout that points outside the app.
    #[error("cannot deploy {url}: the link {} points outside the repository ({}); make it relative and inside, or replace it with the files", .link.display(), .target.display())]
    LinkOutside {
        url: String,
        link: PathBuf,
        target: PathBuf,
    },
    /// The `git` program cannot be started.
    #[error("cannot fetch a git source: `{}` was not found; install git on the machine that fetches (Debian: apt-get install git)", .program.display())]
    GitMissing { program: PathBuf },
    /// A git command failed: the URL cannot be reached, the repository does not exist,
    /// access was denied, ...
    #[error("cannot fetch {url}: `{command}` {status}:\n{stderr}")]
    GitFailed {
        url: String,
        command: String,
        status: String,
        /// The tail of git's standard error.
        stderr: String,
    },
    /// A git command took longer than [`FetchOptions::git_timeout`] allowed.
    #[error("cannot fetch {url}: `{command}` did not finish within {}; check that the URL can be reached from this machine, or allow git more time", seconds(*.timeout))]
    GitTimeout {
        url: String,
        command: String,
        timeout: Duration,
    },
    /// `#REF` names no branch, tag or commit of the repository.
    #[error("{url} has no branch, tag or commit {reference} ({known}); fix the part after #")]
    RefMissing {
        url: String,
        reference: String,
        /// The branches and tags it has: `its branches: main; its tags: v1`.
        known: String,
    },
    /// The repository has no commit to check out.
    #[error("{url} has no commits; push the app to it first")]
    EmptyRepository { url: String },
    /// Reading the source or writing the staging folder failed.
    #[error("fetching the source failed to {action}: {source}")]
    Io {
        /// An action phrase: `copy /srv/app into /data/sources/.tmp-…`.
        action: String,
        #[source]
        source: io::Error,
    },
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// [`fetch_with`] with the default [`FetchOptions`].
pub fn fetch(spec: &SourceSpec, staging_root: &Path) -> Result<FetchedSource, SourceError> {
    fetch_with(spec, staging_root, &FetchOptions::default())
}

/// Materializes `spec` as `<staging_root>/<digest prefix>/` (see the module doc), or
/// finds it there already. Creates `staging_root` if needed. Temporary folders of fetches
/// interrupted over an hour ago are removed on the way; fetched folders are never removed
/// here: the caller knows which versions still run from them.
pub fn fetch_with(
    spec: &SourceSpec,
    staging_root: &Path,
    options: &FetchOptions,
) -> Result<FetchedSource, SourceError> {
    let staging_root = crate::absolute(staging_root);
    fs::create_dir_all(&staging_root).map_err(io_error(format!(
        "create the staging folder {}",
        staging_root.display()
    )))?;
    files::remove_stale(&staging_root);
    let scratch = TempGuard::new(files::temp_path(&staging_root, "source"));
    fs::create_dir(scratch.path())
        .map_err(io_error(format!("create {}", scratch.path().display())))?;
    let staged = match spec {
        SourceSpec::Folder { dir, template } => {
            stage_folder(dir, template.as_deref(), &staging_root, scratch.path())?
        }
        SourceSpec::Zip { path } => stage_zip(path, scratch.path(), options)?,
        SourceSpec::Git { url, reference } => {
            stage_git(url, reference.as_deref(), scratch.path(), options)?
        }
    };
    publish(staged, &staging_root)
}

/// A source laid out in a folder inside the scratch folder, ready to hash and publish.
struct Staged {
    /// The app's folder, holding exactly the listed entries.
    root: PathBuf,
    entries: Vec<Entry>,
    /// The template's path inside `root`.
    template: PathBuf,
    origin: SourceOrigin,
}

fn stage_folder(
    dir: &Path,
    template: Option<&Path>,
    staging_root: &Path,
    scratch: &Path,
) -> Result<Staged, SourceError> {
    let source = dir.canonicalize().map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            SourceError::NotFound {
                path: dir.to_path_buf(),
            }
        } else {
            SourceError::Io {
                action: format!("open {}", dir.display()),
                source: error,
            }
        }
    })?;
    let template = match template {
        Some(template) => {
            if !template.is_file() {
                return Err(SourceError::NotFound {
                    path: template.to_path_buf(),
                });
            }
            PathBuf::from(template.file_name().ok_or_else(|| SourceError::Invalid {
                input: template.display().to_string(),
                reason: "it names no file".to_owned(),
            })?)
        }
        None => find_template(&source).ok_or_else(|| SourceError::TemplateMissing {
            place: format!("in {}", source.display()),
        })?,
    };
    // The staging root may lie inside the app (a data folder beside the template): its
    // contents are not part of the app, and copying them into themselves would not end.
    let excluded = vec![staging_root.to_path_buf()];
    let entries = files::list_skipping(&source, &excluded, SKIPPED_NAMES)
        .map_err(io_error(format!("read the files in {}", source.display())))?;
    let root = scratch.join("app");
    fs::create_dir(&root).map_err(io_error(format!("create {}", root.display())))?;
    files::copy_entries(&source, &entries, &root).map_err(io_error(format!(
        "copy {} into {}",
        source.display(),
        root.display()
    )))?;
    Ok(Staged {
        root,
        entries,
        template,
        origin: SourceOrigin::Folder { path: source },
    })
}

fn stage_zip(path: &Path, scratch: &Path, options: &FetchOptions) -> Result<Staged, SourceError> {
    let sha256 = file_sha256(path).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            SourceError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            SourceError::Io {
                action: format!("read {}", path.display()),
                source: error,
            }
        }
    })?;
    let unpacked = scratch.join("unzipped");
    fs::create_dir(&unpacked).map_err(io_error(format!("create {}", unpacked.display())))?;
    archive::extract(path, &unpacked, options.max_unzipped_bytes).map_err(|error| match error {
        Unpack::Io(source) => SourceError::Io {
            action: format!("unpack {} into {}", path.display(), unpacked.display()),
            source,
        },
        Unpack::Unsafe { entry, reason } => SourceError::UnsafeZipEntry {
            path: path.to_path_buf(),
            entry,
            reason,
        },
        problem => SourceError::BadZip {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        },
    })?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_skipped(&unpacked)?;
    let (root, template) =
        find_app_root(&unpacked).ok_or_else(|| SourceError::TemplateMissing {
            place: format!("at the top of {file_name} or in its one top-level folder"),
        })?;
    let entries = list(&root)?;
    Ok(Staged {
        root,
        entries,
        template,
        origin: SourceOrigin::Zip { file_name, sha256 },
    })
}

fn stage_git(
    url: &str,
    reference: Option<&str>,
    scratch: &Path,
    options: &FetchOptions,
) -> Result<Staged, SourceError> {
    let shown_url = redact(url);
    let checkout = scratch.join("checkout");
    let fetch = git::GitFetch {
        program: &options.git_program,
        url,
        shown_url: &shown_url,
        deadline: Instant::now() + options.git_timeout,
        timeout: options.git_timeout,
        scratch,
    };
    let commit = fetch.clone_into(reference, &checkout)?;
    let place = match reference {
        Some(reference) => format!("{shown_url}#{reference}"),
        None => shown_url.clone(),
    };
    // The clone's own `.git` goes first, so that it is not taken for a second top-level
    // entry.
    remove_skipped(&checkout)?;
    let (root, template) =
        find_app_root(&checkout).ok_or_else(|| SourceError::TemplateMissing {
            place: format!(
                "at the top of {place} (commit {commit}) or in its one top-level folder"
            ),
        })?;
    let entries = list(&root)?;
    // A repository is as untrusted as a zip: a link to a file of the server (a template
    // that is a link to a secret would be read, and quoted in errors) is refused.
    for entry in &entries {
        if entry.kind != EntryKind::Symlink {
            continue;
        }
        let target = fs::read_link(root.join(&entry.relative)).map_err(io_error(format!(
            "read the link {}",
            entry.relative.display()
        )))?;
        if !archive::link_stays_inside(&entry.relative, &target) {
            return Err(SourceError::LinkOutside {
                url: shown_url,
                link: entry.relative.clone(),
                target,
            });
        }
    }
    Ok(Staged {
        root,
        entries,
        template,
        origin: SourceOrigin::Git {
            url: shown_url,
            reference: reference.map(str::to_owned),
            commit,
        },
    })
}

/// Hashes the staged app and renames it into place, or drops it for the identical folder
/// already there.
fn publish(staged: Staged, staging_root: &Path) -> Result<FetchedSource, SourceError> {
    let mut hasher = Sha256::new();
    crate::hash::field(&mut hasher, DIGEST_FORMAT.as_bytes());
    crate::hash::field(&mut hasher, staged.template.to_string_lossy().as_bytes());
    crate::hash::hash_entries(&mut hasher, &staged.root, &staged.entries).map_err(io_error(
        format!("hash the files in {}", staged.root.display()),
    ))?;
    let digest = crate::hash::hex(&hasher.finalize());
    let dir = staging_root.join(&digest[..crate::hash::PREFIX_LEN]);
    let reused = if dir.is_dir() {
        true
    } else {
        let published = files::publish(TempGuard::new(staged.root.clone()), &dir).map_err(
            io_error(format!("move the fetched app into {}", dir.display())),
        )?;
        published == files::Published::AlreadyThere
    };
    files::touch(&dir);
    let template_path = dir.join(&staged.template);
    Ok(FetchedSource {
        dir,
        template_path,
        description: staged.origin.to_string(),
        digest,
        origin: staged.origin,
        reused,
    })
}

/// The template's file name in `dir`, by [`TEMPLATE_NAMES`].
fn find_template(dir: &Path) -> Option<PathBuf> {
    TEMPLATE_NAMES
        .iter()
        .map(PathBuf::from)
        .find(|name| dir.join(name).is_file())
}

/// The app's folder inside an unpacked zip or a checkout, and its template's path inside
/// it: the top, or the one folder at the top (zip tools' litter aside).
fn find_app_root(top: &Path) -> Option<(PathBuf, PathBuf)> {
    if let Some(template) = find_template(top) {
        return Some((top.to_path_buf(), template));
    }
    let mut children = fs::read_dir(top)
        .ok()?
        .flatten()
        .filter(|child| !ZIP_LITTER.iter().any(|litter| child.file_name() == *litter));
    let only = children.next()?;
    if children.next().is_some() || !only.file_type().ok()?.is_dir() {
        return None;
    }
    let root = only.path();
    find_template(&root).map(|template| (root, template))
}

/// Removes what a folder copy would have skipped from an unpacked zip or a checkout (the
/// clone's `.git`, a zipped `__pycache__`), at any depth, so that the app holds exactly
/// what its digest covers.
fn remove_skipped(top: &Path) -> Result<(), SourceError> {
    fn walk(dir: &Path) -> io::Result<()> {
        for child in fs::read_dir(dir)? {
            let child = child?;
            let file_type = child.file_type()?;
            if SKIPPED_NAMES.iter().any(|name| child.file_name() == *name) {
                if file_type.is_dir() {
                    fs::remove_dir_all(child.path())?;
                } else {
                    fs::remove_file(child.path())?;
                }
            } else if file_type.is_dir() {
                walk(&child.path())?;
            }
        }
        Ok(())
    }
    walk(top).map_err(io_error(format!("tidy {}", top.display())))
}

/// The app's entries, for the digest.
fn list(root: &Path) -> Result<Vec<Entry>, SourceError> {
    files::list_skipping(root, &[], SKIPPED_NAMES)
        .map_err(io_error(format!("read the files in {}", root.display())))
}

/// The SHA-256 of a file's bytes, read in pieces.
fn file_sha256(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    crate::hash::feed(&mut hasher, &mut fs::File::open(path)?)?;
    Ok(crate::hash::hex(&hasher.finalize()))
}

/// The URL without what could be a secret: an `http(s)` URL's whole user part (a token
/// often stands there alone), another URL's password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_part, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let web = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    let user_part = match user_part.split_once(':') {
        _ if web => "***".to_owned(),
        Some((user, _)) => format!("{user}:***"),
        None => user_part.to_owned(),
    };
    format!("{scheme}://{user_part}@{host}{path}")
}

fn io_error(action: String) -> impl FnOnce(io::Error) -> SourceError {
    move |source| SourceError::Io { action, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_urls_are_not_shown() {
        assert_eq!(
            redact("https://user:hunter2@github.com/o/app.git"),
            "https://***@github.com/o/app.git"
        );
        assert_eq!(
            redact("https://ghp_token@github.com/o/app"),
            "https://***@github.com/o/app"
        );
        assert_eq!(redact("ssh://git:pw@host/app"), "ssh://git:***@host/app");
        assert_eq!(redact("ssh://git@host/app"), "ssh://git@host/app");
        assert_eq!(redact("git@host:app"), "git@host:app");
        assert_eq!(redact("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn the_app_is_at_the_top_or_in_the_one_top_level_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let top = dir.path();
        fs::create_dir_all(top.join("app/src")).expect("mkdir");
        fs::create_dir_all(top.join("__MACOSX")).expect("mkdir");
        fs::write(top.join("app/template.yml"), "").expect("write");
        assert_eq!(
            find_app_root(top),
            Some((top.join("app"), PathBuf::from("template.yml")))
        );
        fs::write(top.join("app/template.yaml"), "").expect("write");
        assert_eq!(
            find_app_root(top),
            Some((top.join("app"), PathBuf::from("template.yaml"))),
            "template.yaml first"
        );
        fs::write(top.join("README.md"), "").expect("write");
        assert_eq!(find_app_root(top), None, "two things at the top");
        fs::write(top.join("template.yaml"), "").expect("write");
        assert_eq!(
            find_app_root(top),
            Some((top.to_path_buf(), PathBuf::from("template.yaml")))
        );
    }
}
