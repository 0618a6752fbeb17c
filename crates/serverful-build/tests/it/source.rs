//! Deploy sources (issue #14): folders, zips and git repositories (reached by path,
//! `file://` and a `git daemon` on loopback) made into content-addressed folders, and
//! every way a source can be wrong or hostile.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serverful_build::{
    fetch, fetch_with, FetchOptions, FetchedSource, SourceError, SourceOrigin, SourceSpec,
};
use sha2::{Digest as _, Sha256};

const TEMPLATE: &str = "Transform: AWS::Serverless-2016-10-31\nResources: {}\n";

/// A scratch folder with a staging root in it.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn staging(&self) -> PathBuf {
        self.path("staging")
    }

    fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().expect("test paths have a parent")).expect("mkdir");
        fs::write(path, contents).expect("write");
    }

    /// A small app: a template, a handler, an executable bootstrap and a link.
    fn write_app(&self, folder: &str, handler: &str) {
        self.write(&format!("{folder}/template.yaml"), TEMPLATE);
        self.write(&format!("{folder}/src/app.py"), handler);
        self.write(&format!("{folder}/bootstrap"), "#!/bin/sh\n");
        fs::set_permissions(
            self.path(&format!("{folder}/bootstrap")),
            fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        std::os::unix::fs::symlink("src/app.py", self.path(&format!("{folder}/handler.py")))
            .expect("link");
    }

    fn fetch(&self, input: &str) -> Result<FetchedSource, SourceError> {
        self.fetch_with(input, &FetchOptions::default())
    }

    fn fetch_with(
        &self,
        input: &str,
        options: &FetchOptions,
    ) -> Result<FetchedSource, SourceError> {
        let spec = SourceSpec::parse(input)?;
        fetch_with(&spec, &self.staging(), options)
    }

    fn fetched(&self, input: &str) -> FetchedSource {
        match self.fetch(input) {
            Ok(fetched) => fetched,
            Err(error) => panic!("fetching {input} failed: {error}"),
        }
    }

    fn fetch_error(&self, input: &str) -> SourceError {
        match self.fetch(input) {
            Ok(fetched) => panic!("fetching {input} should fail, got {fetched:?}"),
            Err(error) => error,
        }
    }

    /// Every path under the scratch folder, outside the staging root.
    fn everything_outside_staging(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, skip: &Path, into: &mut BTreeSet<PathBuf>) {
            for child in fs::read_dir(dir).expect("read_dir").flatten() {
                let path = child.path();
                if path == skip {
                    continue;
                }
                into.insert(path.clone());
                if child.file_type().expect("file type").is_dir() {
                    walk(&path, skip, into);
                }
            }
        }
        let mut paths = BTreeSet::new();
        walk(self.dir.path(), &self.staging(), &mut paths);
        paths
    }

    /// The staging root's entries: fetched folders, and temporary ones left behind.
    fn staging_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.staging())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn sha256_of(path: &Path) -> String {
    Sha256::digest(fs::read(path).expect("read"))
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn a_folder_is_copied_without_tool_data_and_reused_while_unchanged() {
    let scratch = Scratch::new();
    scratch.write_app("app", "v1");
    scratch.write("app/node_modules/dep/index.js", "bundled");
    scratch.write("app/.git/HEAD", "ref: refs/heads/main\n");
    scratch.write("app/.serverful/state", "x");
    scratch.write("app/.aws-sam/build/template.yaml", "x");
    scratch.write("app/src/__pycache__/app.pyc", "x");
    let app = scratch.path("app");

    let first = scratch.fetched(&app.to_string_lossy());
    assert_eq!(first.dir.parent(), Some(scratch.staging().as_path()));
    assert_eq!(first.template_path, first.dir.join("template.yaml"));
    assert_eq!(
        first.description,
        app.canonicalize().expect("canonical").display().to_string()
    );
    assert_eq!(
        first.origin,
        SourceOrigin::Folder {
            path: app.canonicalize().expect("canonical")
        }
    );
    assert_eq!(first.digest.len(), 64);
    assert_eq!(
        first.dir.file_name().expect("name").to_string_lossy(),
        &first.digest[..16]
    );
    assert!(!first.reused);
    assert_eq!(read(&first.dir.join("src/app.py")), "v1");
    assert_eq!(
        read(&first.dir.join("node_modules/dep/index.js")),
        "bundled"
    );
    assert_eq!(mode(&first.dir.join("bootstrap")), 0o755);
    assert_eq!(
        fs::read_link(first.dir.join("handler.py")).expect("a link"),
        Path::new("src/app.py")
    );
    for skipped in [".git", ".serverful", ".aws-sam", "src/__pycache__"] {
        assert!(!first.dir.join(skipped).exists(), "{skipped} is not copied");
    }

    // Unchanged, and changes only where nothing is copied from: the same folder.
    scratch.write("app/.git/ORIG_HEAD", "y");
    scratch.write("app/src/__pycache__/other.pyc", "y");
    let again = scratch.fetched(&app.to_string_lossy());
    assert_eq!((&again.dir, &again.digest), (&first.dir, &first.digest));
    assert!(again.reused);

    scratch.write("app/src/app.py", "v2");
    let edited = scratch.fetched(&app.to_string_lossy());
    assert_ne!(edited.digest, first.digest);
    assert_ne!(edited.dir, first.dir);
    assert_eq!(read(&edited.dir.join("src/app.py")), "v2");
    assert_eq!(
        read(&first.dir.join("src/app.py")),
        "v1",
        "a fetched folder never changes"
    );
    // Only the executable bit of a file's mode counts.
    fs::set_permissions(
        scratch.path("app/src/app.py"),
        fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    assert_eq!(
        scratch.fetched(&app.to_string_lossy()).digest,
        edited.digest
    );
    fs::set_permissions(
        scratch.path("app/src/app.py"),
        fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    let executable = scratch.fetched(&app.to_string_lossy());
    assert_ne!(executable.digest, edited.digest);
    // Readable (and here executable) by the functions' own user, whatever the source's
    // modes.
    assert_eq!(mode(&executable.dir.join("src/app.py")), 0o755);

    let mut expected = vec![
        first.digest[..16].to_owned(),
        edited.digest[..16].to_owned(),
        executable.digest[..16].to_owned(),
    ];
    expected.sort();
    assert_eq!(
        scratch.staging_entries(),
        expected,
        "no temporary folder is left"
    );
}

#[test]
fn a_staging_root_inside_the_folder_is_not_part_of_the_app() {
    let scratch = Scratch::new();
    scratch.write_app("app", "v1");
    let spec = SourceSpec::parse(&scratch.path("app").to_string_lossy()).expect("parse");
    let staging = scratch.path("app/data/sources");
    let first = fetch(&spec, &staging).expect("fetch");
    let second = fetch(&spec, &staging).expect("fetch again");
    assert_eq!(
        second.digest, first.digest,
        "the first fetch is not in the second"
    );
    assert!(!first.dir.join("data").exists());
}

#[test]
fn a_template_file_names_the_app_and_is_part_of_its_digest() {
    let scratch = Scratch::new();
    scratch.write_app("app", "v1");
    scratch.write("app/prod.yaml", TEMPLATE);
    let by_folder = scratch.fetched(&scratch.path("app").to_string_lossy());
    let by_file = scratch.fetched(&scratch.path("app/prod.yaml").to_string_lossy());
    assert_eq!(by_file.template_path, by_file.dir.join("prod.yaml"));
    assert!(
        by_file.dir.join("template.yaml").is_file(),
        "the whole folder is copied"
    );
    assert_ne!(by_file.digest, by_folder.digest);

    scratch.write("yml/template.yml", TEMPLATE);
    let yml = scratch.fetched(&scratch.path("yml").to_string_lossy());
    assert_eq!(yml.template_path, yml.dir.join("template.yml"));
}

#[test]
fn missing_paths_and_templates_are_named() {
    let scratch = Scratch::new();
    let missing = scratch.path("nowhere");
    let error = scratch.fetch_error(&missing.to_string_lossy());
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "{} does not exist; name a folder holding template.yaml, a template file, a .zip file or a git URL",
            missing.display()
        )
    );

    scratch.write("empty/README.md", "");
    let error = scratch.fetch_error(&scratch.path("empty").to_string_lossy());
    assert_eq!(
        error.to_string(),
        format!(
            "no template.yaml or template.yml in {}; put the app's template there",
            scratch
                .path("empty")
                .canonicalize()
                .expect("canonical")
                .display()
        )
    );
    assert!(
        scratch.staging_entries().is_empty(),
        "{:?}",
        scratch.staging_entries()
    );
}

/// A zip entry: (name, contents, Unix mode).
type ZipEntry<'a> = (&'a str, &'a str, u32);

/// Writes a zip: (name, contents, Unix mode); a name ending in `/` is a folder, a mode of
/// `0o120777` a link whose contents are its target. Names are written as given.
fn write_zip(path: &Path, entries: &[ZipEntry]) {
    let mut writer = zip::ZipWriter::new(fs::File::create(path).expect("create zip"));
    for (name, contents, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(*mode)
            .compression_method(zip::CompressionMethod::Stored);
        if name.ends_with('/') {
            writer.add_directory(*name, options).expect("folder");
        } else if mode & 0o170000 == 0o120000 {
            writer.add_symlink(*name, *contents, options).expect("link");
        } else {
            writer.start_file(*name, options).expect("file");
            writer.write_all(contents.as_bytes()).expect("write");
        }
    }
    writer.finish().expect("finish zip");
}

/// The app of [`Scratch::write_app`] as zip entries under `prefix`.
fn app_entries(prefix: &str, handler: &'static str) -> Vec<(String, &'static str, u32)> {
    vec![
        (format!("{prefix}template.yaml"), TEMPLATE, 0o644),
        (format!("{prefix}src/"), "", 0o755),
        (format!("{prefix}src/app.py"), handler, 0o644),
        (format!("{prefix}bootstrap"), "#!/bin/sh\n", 0o755),
        (format!("{prefix}handler.py"), "src/app.py", 0o120777),
    ]
}

fn write_app_zip(path: &Path, prefix: &str, extra: &[ZipEntry]) {
    let entries = app_entries(prefix, "v1");
    let mut all: Vec<ZipEntry> = entries
        .iter()
        .map(|(name, contents, mode)| (name.as_str(), *contents, *mode))
        .collect();
    all.extend_from_slice(extra);
    write_zip(path, &all);
}

#[test]
fn a_zip_deploys_like_the_folder_it_was_made_from() {
    let scratch = Scratch::new();
    scratch.write_app("app", "v1");
    let folder = scratch.fetched(&scratch.path("app").to_string_lossy());

    let nested = scratch.path("nested.zip");
    write_app_zip(
        &nested,
        "app/",
        &[
            ("__MACOSX/", "", 0o755),
            ("__MACOSX/._app", "x", 0o644),
            ("app/src/__pycache__/app.pyc", "x", 0o644),
        ],
    );
    let from_nested = scratch.fetched(&nested.to_string_lossy());
    assert_eq!(
        from_nested.digest, folder.digest,
        "same files, same digest: no changes"
    );
    assert_eq!(from_nested.dir, folder.dir);
    assert!(from_nested.reused);
    assert_eq!(
        from_nested.origin,
        SourceOrigin::Zip {
            file_name: "nested.zip".to_owned(),
            sha256: sha256_of(&nested),
        }
    );
    assert_eq!(
        from_nested.description,
        format!("nested.zip (sha256 {})", sha256_of(&nested))
    );

    let flat = scratch.path("flat.zip");
    write_app_zip(&flat, "", &[("extra.txt", "more", 0o644)]);
    let from_flat = scratch.fetched(&flat.to_string_lossy());
    assert_ne!(from_flat.digest, folder.digest);
    assert_eq!(from_flat.template_path, from_flat.dir.join("template.yaml"));
    assert_eq!(read(&from_flat.dir.join("extra.txt")), "more");
    assert_eq!(mode(&from_flat.dir.join("bootstrap")), 0o755);
    assert_eq!(mode(&from_flat.dir.join("src/app.py")), 0o644);
    assert_eq!(
        read(&from_flat.dir.join("handler.py")),
        "v1",
        "the link is kept"
    );
}

#[test]
fn unsafe_zip_entries_are_refused_and_nothing_lands_outside() {
    let scratch = Scratch::new();
    scratch.write("outside/keep.txt", "untouched");
    let absolute = scratch.path("outside/absolute.txt");
    let absolute_name = absolute.to_string_lossy().into_owned();
    // (zip file, entries added to a good app, the entry refused, why)
    let cases: Vec<(&str, Vec<ZipEntry>, &str, &str)> = vec![
        (
            "dotdot.zip",
            vec![("../escaped.txt", "x", 0o644)],
            "../escaped.txt",
            "has a `..` component, which would place it outside the folder it is unpacked into",
        ),
        (
            "deep-dotdot.zip",
            vec![("app/../../../outside/escaped.txt", "x", 0o644)],
            "app/../../../outside/escaped.txt",
            "has a `..` component, which would place it outside the folder it is unpacked into",
        ),
        (
            "absolute.zip",
            vec![(absolute_name.as_str(), "x", 0o644)],
            absolute_name.as_str(),
            "has an absolute path, which would place it outside the folder it is unpacked into",
        ),
        (
            "link.zip",
            vec![("app/secrets", "../../../outside", 0o120777)],
            "app/secrets",
            "is a link to ../../../outside, outside the archive",
        ),
        (
            "absolute-link.zip",
            vec![("app/passwd", "/etc/passwd", 0o120777)],
            "app/passwd",
            "is a link to /etc/passwd, outside the archive",
        ),
        (
            // `app/up` is the zip's own top (allowed), so `app/up/x/link` is really one
            // level down, where `../..` leaves; and a file under it would follow.
            "chain.zip",
            vec![
                ("app/up", "..", 0o120777),
                ("app/up/x/link", "../..", 0o120777),
                ("app/up/x/link/outside/escaped.txt", "x", 0o644),
            ],
            "app/up/x/link",
            "lies under the link app/up, and nothing is written through a link",
        ),
        (
            "through-link.zip",
            vec![
                ("app/dir", "src", 0o120777),
                ("app/dir/new.txt", "x", 0o644),
            ],
            "app/dir/new.txt",
            "lies under the link app/dir, and nothing is written through a link",
        ),
    ];
    for (file, bad_entries, entry, reason) in &cases {
        let zip = scratch.path(file);
        write_app_zip(&zip, "app/", bad_entries);
        let before = scratch.everything_outside_staging();
        let error = scratch.fetch_error(&zip.to_string_lossy());
        match &error {
            SourceError::UnsafeZipEntry {
                path,
                entry: refused,
                reason: why,
            } => {
                assert_eq!(path, &zip, "{file}");
                assert_eq!(refused, entry, "{file}");
                assert_eq!(why, reason, "{file}");
            }
            other => panic!("{file}: expected UnsafeZipEntry, got {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            format!(
                "cannot deploy {}: entry {entry} {reason}; the zip is refused and nothing was kept",
                zip.display()
            )
        );
        // Proof: nothing appeared outside the staging root, and nothing stays inside it.
        assert_eq!(
            scratch.everything_outside_staging(),
            before,
            "{file} wrote outside the staging root"
        );
        assert!(!absolute.exists());
        assert_eq!(read(&scratch.path("outside/keep.txt")), "untouched");
        assert!(
            scratch.staging_entries().is_empty(),
            "{file}: {:?}",
            scratch.staging_entries()
        );
    }
}

#[test]
fn broken_zips_say_what_is_wrong() {
    let scratch = Scratch::new();
    let not_zip = scratch.path("notes.zip");
    fs::write(
        &not_zip,
        "just some text, long enough to have looked for a zip's end",
    )
    .expect("write");
    let error = scratch.fetch_error(&not_zip.to_string_lossy()).to_string();
    assert!(
        error.starts_with(&format!(
            "cannot deploy {}: not a zip file (",
            not_zip.display()
        )),
        "{error}"
    );

    let good = scratch.path("good.zip");
    write_app_zip(&good, "", &[("big.bin", &"z".repeat(50_000), 0o644)]);
    let bytes = fs::read(&good).expect("read");
    let truncated = scratch.path("truncated.zip");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let error = scratch.fetch_error(&truncated.to_string_lossy());
    assert!(matches!(error, SourceError::BadZip { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot deploy {}: a truncated or damaged zip file: it starts like one, but ",
            truncated.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("; copy or download it again"),
        "{message}"
    );

    // Damaged data inside an entry: its checksum no longer matches.
    let mut damaged_bytes = bytes.clone();
    let at = damaged_bytes
        .windows(4)
        .position(|window| window == b"zzzz")
        .expect("stored data");
    damaged_bytes[at + 100] = b'y';
    let damaged = scratch.path("damaged.zip");
    fs::write(&damaged, &damaged_bytes).expect("write");
    let message = scratch.fetch_error(&damaged.to_string_lossy()).to_string();
    assert!(
        message.starts_with(&format!(
            "cannot deploy {}: entry big.bin cannot be read (",
            damaged.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("); the zip file is damaged or truncated"),
        "{message}"
    );

    let no_template = scratch.path("no-template.zip");
    write_zip(
        &no_template,
        &[("app/src/app.py", "", 0o644), ("README.md", "", 0o644)],
    );
    assert_eq!(
        scratch.fetch_error(&no_template.to_string_lossy()).to_string(),
        "no template.yaml or template.yml at the top of no-template.zip or in its one top-level folder; put the app's template there"
    );

    let bomb = scratch.path("bomb.zip");
    write_app_zip(&bomb, "", &[("big.bin", &"z".repeat(50_000), 0o644)]);
    let options = FetchOptions {
        max_unzipped_bytes: 10_000,
        ..FetchOptions::default()
    };
    let message = scratch
        .fetch_with(&bomb.to_string_lossy(), &options)
        .expect_err("too large")
        .to_string();
    assert_eq!(
        message,
        format!(
            "cannot deploy {}: its files unpack to more than 10000 bytes",
            bomb.display()
        )
    );
    assert!(
        scratch.staging_entries().is_empty(),
        "{:?}",
        scratch.staging_entries()
    );
}

/// Runs git for a test's own repositories, with no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Serverful Test",
            "-c",
            "user.email=test@serverful.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git (install it with scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A repository with history: on `main`, `v1` (tagged `v1`, annotated) then `v2`; a branch
/// `feature` from `v1` with its own commit.
struct Repository {
    path: PathBuf,
    v1: String,
    v2: String,
    feature: String,
}

fn make_repository(scratch: &Scratch, name: &str) -> Repository {
    let path = scratch.path(name);
    scratch.write_app(name, "v1");
    git(&path, &["init", "--quiet"]);
    git(&path, &["add", "."]);
    git(&path, &["commit", "--quiet", "-m", "v1"]);
    git(&path, &["tag", "-a", "v1", "-m", "first release"]);
    let v1 = git(&path, &["rev-parse", "HEAD"]);
    git(&path, &["checkout", "--quiet", "-b", "feature"]);
    scratch.write(&format!("{name}/src/app.py"), "feature");
    git(&path, &["commit", "--quiet", "-am", "feature"]);
    let feature = git(&path, &["rev-parse", "HEAD"]);
    git(&path, &["checkout", "--quiet", "main"]);
    scratch.write(&format!("{name}/src/app.py"), "v2");
    git(&path, &["commit", "--quiet", "-am", "v2"]);
    let v2 = git(&path, &["rev-parse", "HEAD"]);
    Repository {
        path,
        v1,
        v2,
        feature,
    }
}

/// Checks a git fetch: the handler's contents, the commit, and no `.git`.
fn assert_checkout(fetched: &FetchedSource, handler: &str, commit: &str) {
    assert_eq!(read(&fetched.dir.join("src/app.py")), handler);
    assert!(!fetched.dir.join(".git").exists());
    assert_eq!(fetched.template_path, fetched.dir.join("template.yaml"));
    match &fetched.origin {
        SourceOrigin::Git { commit: got, .. } => assert_eq!(got, commit),
        other => panic!("expected a git origin, got {other:?}"),
    }
}

#[test]
fn git_sources_by_file_url_and_path_with_branches_tags_and_commits() {
    let scratch = Scratch::new();
    let repository = make_repository(&scratch, "repo");
    let url = format!("file://{}", repository.path.display());

    let default = scratch.fetched(&url);
    assert_checkout(&default, "v2", &repository.v2);
    assert_eq!(
        default.description,
        format!("{url} (default branch, commit {})", repository.v2)
    );
    assert_eq!(
        default.origin,
        SourceOrigin::Git {
            url: url.clone(),
            reference: None,
            commit: repository.v2.clone()
        }
    );
    assert_eq!(mode(&default.dir.join("bootstrap")), 0o755);
    assert_eq!(
        read(&default.dir.join("handler.py")),
        "v2",
        "links are checked out"
    );

    let feature = scratch.fetched(&format!("{url}#feature"));
    assert_checkout(&feature, "feature", &repository.feature);
    assert_eq!(
        feature.description,
        format!("{url}#feature (commit {})", repository.feature)
    );
    assert_checkout(
        &scratch.fetched(&format!("{url}#refs/heads/feature")),
        "feature",
        &repository.feature,
    );

    let tag = scratch.fetched(&format!("{url}#v1"));
    assert_checkout(&tag, "v1", &repository.v1);
    let commit = scratch.fetched(&format!("{url}#{}", repository.v1));
    assert_checkout(&commit, "v1", &repository.v1);
    assert_eq!(commit.digest, tag.digest, "the same files");
    assert!(commit.reused);
    let short = scratch.fetched(&format!("{url}#{}", &repository.v1[..8]));
    assert_checkout(&short, "v1", &repository.v1);

    // The same files as a folder: the same digest, so a deploy would say "no changes".
    scratch.write_app("same-as-v1", "v1");
    assert_eq!(
        scratch
            .fetched(&scratch.path("same-as-v1").to_string_lossy())
            .digest,
        tag.digest
    );

    // A repository on this machine by path: `#REF` makes it a git source, and `#HEAD`
    // its current commit without uncommitted edits.
    let by_path = scratch.fetched(&format!("{}#feature", repository.path.display()));
    assert_checkout(&by_path, "feature", &repository.feature);
    scratch.write("repo/src/app.py", "not committed");
    let head = scratch.fetched(&format!("{}#HEAD", repository.path.display()));
    assert_checkout(&head, "v2", &repository.v2);
    let as_is = scratch.fetched(&repository.path.to_string_lossy());
    assert_eq!(read(&as_is.dir.join("src/app.py")), "not committed");
    assert!(matches!(as_is.origin, SourceOrigin::Folder { .. }));
}

#[test]
fn a_missing_ref_lists_the_branches_and_tags() {
    let scratch = Scratch::new();
    let repository = make_repository(&scratch, "repo");
    let url = format!("file://{}", repository.path.display());
    for reference in ["release", "deadbeef"] {
        let error = scratch.fetch_error(&format!("{url}#{reference}"));
        assert!(matches!(error, SourceError::RefMissing { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("{url} has no branch, tag or commit {reference} (its branches: feature, main; its tags: v1); fix the part after #")
        );
    }
    assert!(
        scratch.staging_entries().is_empty(),
        "{:?}",
        scratch.staging_entries()
    );
}

#[test]
fn git_checkouts_are_held_to_the_rules_of_zips() {
    let scratch = Scratch::new();
    let path = scratch.path("linked");
    scratch.write_app("linked", "v1");
    std::os::unix::fs::symlink("/etc/passwd", path.join("template.yml")).expect("link");
    git(&path, &["init", "--quiet"]);
    git(&path, &["add", "."]);
    git(&path, &["commit", "--quiet", "-m", "a link out"]);
    let url = format!("file://{}", path.display());
    let error = scratch.fetch_error(&url);
    assert_eq!(
        error.to_string(),
        format!("cannot deploy {url}: the link template.yml points outside the repository (/etc/passwd); make it relative and inside, or replace it with the files")
    );

    let path = scratch.path("templateless");
    scratch.write("templateless/src/app.py", "");
    scratch.write("templateless/README.md", "");
    git(&path, &["init", "--quiet"]);
    git(&path, &["add", "."]);
    git(&path, &["commit", "--quiet", "-m", "no template"]);
    let commit = git(&path, &["rev-parse", "HEAD"]);
    let url = format!("file://{}", path.display());
    assert_eq!(
        scratch.fetch_error(&format!("{url}#main")).to_string(),
        format!("no template.yaml or template.yml at the top of {url}#main (commit {commit}) or in its one top-level folder; put the app's template there")
    );

    // An app in the repository's one top-level folder, as in a zip.
    let path = scratch.path("nested");
    scratch.write_app("nested/app", "nested");
    git(&path, &["init", "--quiet"]);
    git(&path, &["add", "."]);
    git(&path, &["commit", "--quiet", "-m", "nested"]);
    let fetched = scratch.fetched(&format!("file://{}", path.display()));
    assert_eq!(read(&fetched.dir.join("src/app.py")), "nested");

    let empty = scratch.path("empty.git");
    fs::create_dir(&empty).expect("mkdir");
    git(&empty, &["init", "--quiet", "--bare"]);
    let url = format!("file://{}", empty.display());
    assert_eq!(
        scratch.fetch_error(&url).to_string(),
        format!("{url} has no commits; push the app to it first")
    );
    assert_eq!(
        scratch.fetch_error(&format!("{url}#main")).to_string(),
        format!("{url} has no branch, tag or commit main (it has no branches or tags); fix the part after #")
    );
    assert_eq!(
        scratch.staging_entries(),
        [&fetched.digest[..16]],
        "only the one fetch that worked"
    );
}

/// A `git daemon` serving `base` on a free loopback port, stopped (with the processes it
/// forked for connections) when dropped.
struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--informative-errors",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start git daemon (Debian's git package has it)");
        let daemon = GitDaemon { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn git_sources_through_git_daemon_on_loopback() {
    let scratch = Scratch::new();
    let repository = make_repository(&scratch, "served/app");
    let daemon = GitDaemon::start(&scratch.path("served"));
    let url = format!("git://127.0.0.1:{}/app", daemon.port);

    assert_checkout(&scratch.fetched(&url), "v2", &repository.v2);
    assert_checkout(
        &scratch.fetched(&format!("{url}#feature")),
        "feature",
        &repository.feature,
    );
    assert_checkout(&scratch.fetched(&format!("{url}#v1")), "v1", &repository.v1);
    assert_checkout(
        &scratch.fetched(&format!("{url}#{}", repository.feature)),
        "feature",
        &repository.feature,
    );
    let error = scratch.fetch_error(&format!("{url}#nope"));
    assert!(matches!(error, SourceError::RefMissing { .. }), "{error:?}");

    let error = scratch.fetch_error(&format!("git://127.0.0.1:{}/missing", daemon.port));
    match &error {
        SourceError::GitFailed {
            command, stderr, ..
        } => {
            assert_eq!(command, "git clone");
            assert!(stderr.contains("missing"), "git's own words: {stderr}");
        }
        other => panic!("expected GitFailed, got {other:?}"),
    }
}

#[test]
fn an_unreachable_url_fails_with_gits_words() {
    let scratch = Scratch::new();
    // Nothing listens on a port just freed.
    let url = format!("git://127.0.0.1:{}/app#main", free_port());
    let options = FetchOptions {
        git_timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    };
    let started = Instant::now();
    let error = scratch.fetch_with(&url, &options).expect_err("unreachable");
    assert!(started.elapsed() < Duration::from_secs(10));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot fetch {}: `git ls-remote` exited with status 128:\n",
            url.trim_end_matches("#main")
        )),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    assert!(
        scratch.staging_entries().is_empty(),
        "{:?}",
        scratch.staging_entries()
    );
}

#[test]
fn a_remote_that_never_answers_is_given_up_on_at_the_timeout() {
    let scratch = Scratch::new();
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        if let Ok((stream, _)) = listener.accept() {
            held.push(stream);
            std::thread::sleep(Duration::from_secs(5));
        }
    });
    let options = FetchOptions {
        git_timeout: Duration::from_millis(800),
        ..FetchOptions::default()
    };
    let url = format!("git://127.0.0.1:{port}/app");
    let started = Instant::now();
    let error = scratch.fetch_with(&url, &options).expect_err("timed out");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(800), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(4),
        "killed promptly: {elapsed:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("cannot fetch {url}: `git clone` did not finish within 800 ms; check that the URL can be reached from this machine, or allow git more time")
    );
    assert!(
        scratch.staging_entries().is_empty(),
        "{:?}",
        scratch.staging_entries()
    );
    holder.join().expect("holder thread");
}

#[test]
fn git_not_installed_is_named() {
    let scratch = Scratch::new();
    let options = FetchOptions {
        git_program: scratch.path("no-git-here/git"),
        ..FetchOptions::default()
    };
    let error = scratch
        .fetch_with("https://example.invalid/app.git", &options)
        .expect_err("no git");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot fetch a git source: `{}` was not found; install git on the machine that fetches (Debian: apt-get install git)",
            scratch.path("no-git-here/git").display()
        )
    );
}

#[test]
fn a_token_in_the_url_is_never_shown() {
    let scratch = Scratch::new();
    let url = format!("http://user:s3cret@127.0.0.1:{}/app.git", free_port());
    let error = scratch.fetch_error(&url);
    let message = error.to_string();
    assert!(!message.contains("s3cret"), "{message}");
    assert!(
        message.starts_with("cannot fetch http://***@127.0.0.1:"),
        "{message}"
    );
}
