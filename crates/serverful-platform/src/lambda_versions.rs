//! Lambda versions and aliases as a deploy publishes them and as calls resolve them: the
//! code's `CodeSha256`, which `AWS::Lambda::Version`s of a deploy are new (and get the
//! next number of their function) and which keep the number they had, and where an
//! alias sends one invocation.
//!
//! CloudFormation publishes a version when a version resource is created: a logical id
//! the stack did not have, or one whose properties changed (a replacement). An unchanged
//! version resource keeps its number and the code it was published with, even when the
//! function's code has changed since; SAM's `AutoPublishAlias` version is named after a
//! hash of the code (its S3 location), the environment, the memory size and the layers, so
//! a function that changes in those gets a new version. Here the template names SAM's
//! version after the code's path only, so the identity of a SAM version also covers the
//! built code itself.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serverful_runtime as runtime;
use serverful_template as template;
use sha2::{Digest as _, Sha256};

use crate::state::{DeployedVersion, FunctionSettings, FunctionVersionRecord, VersionRecord};

/// What tells one build of a function from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionDigest {
    /// Base64 SHA-256 of the code folder (Lambda's `CodeSha256`).
    pub code_sha256: String,
    /// Bytes of code (Lambda's `CodeSize`).
    pub code_size: u64,
    /// Hex SHA-256 of the rest of the runtime's configuration.
    pub config_sha256: String,
}

impl FunctionDigest {
    /// Whether `version` runs exactly this build: same code, same configuration.
    pub fn runs(&self, version: &FunctionVersionRecord) -> bool {
        self.code_sha256 == version.code_sha256 && self.config_sha256 == version.config_sha256
    }
}

/// `CodeSha256` of code folders, remembered for folders that never change (content-
/// addressed builds), since hashing a large `node_modules` on every deploy is slow.
#[derive(Debug, Default)]
pub(crate) struct CodeHashes {
    known: Mutex<HashMap<PathBuf, (String, u64)>>,
}

impl CodeHashes {
    /// The digest of each function of `configs`, by logical id. Folders under one of
    /// `immutable_roots` are hashed once. Blocking.
    pub fn digests(
        &self,
        configs: &[runtime::FunctionConfig],
        immutable_roots: &[PathBuf],
    ) -> io::Result<BTreeMap<String, FunctionDigest>> {
        let mut digests = BTreeMap::new();
        for config in configs {
            let immutable = immutable_roots
                .iter()
                .any(|root| config.code_dir.starts_with(root));
            let known = immutable
                .then(|| {
                    self.known
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .get(&config.code_dir)
                        .cloned()
                })
                .flatten();
            let (code_sha256, code_size) = match known {
                Some(known) => known,
                None => {
                    let hashed = code_sha256(&config.code_dir).map_err(|error| {
                        io::Error::new(
                            error.kind(),
                            format!(
                                "hash the code of {} in {}: {error}",
                                config.name,
                                config.code_dir.display()
                            ),
                        )
                    })?;
                    if immutable {
                        self.known
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .insert(config.code_dir.clone(), hashed.clone());
                    }
                    hashed
                }
            };
            digests.insert(
                config.name.clone(),
                FunctionDigest {
                    code_sha256,
                    code_size,
                    config_sha256: config_sha256(config),
                },
            );
        }
        Ok(digests)
    }
}

/// Lambda reports `CodeSha256` as the base64 SHA-256 of the deployment package. There is
/// no zip here, so the hash covers what a zip would hold, in an order that does not
/// depend on the file system: every entry under `dir` sorted by path, each as its path,
/// its kind, and a file's executable bit, length and contents or a link's target. The
/// same folder always gives the same hash; a copy of it too. Also returns the files'
/// total size.
pub(crate) fn code_sha256(dir: &Path) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut size = 0;
    let mut pending = vec![PathBuf::new()];
    let mut entries = Vec::new();
    while let Some(relative) = pending.pop() {
        let mut children: Vec<_> = std::fs::read_dir(dir.join(&relative))?
            .map(|entry| entry.map(|entry| relative.join(entry.file_name())))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            if std::fs::symlink_metadata(dir.join(&child))?.is_dir() {
                pending.push(child.clone());
            }
            entries.push(child);
        }
    }
    entries.sort();
    let mut buffer = vec![0; 64 * 1024];
    for relative in entries {
        let path = dir.join(&relative);
        let metadata = std::fs::symlink_metadata(&path)?;
        let name = relative.to_string_lossy();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        if metadata.is_dir() {
            hasher.update(b"d");
        } else if metadata.is_symlink() {
            let target = std::fs::read_link(&path)?;
            let target = target.to_string_lossy();
            hasher.update(b"l");
            hasher.update((target.len() as u64).to_le_bytes());
            hasher.update(target.as_bytes());
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            let executable = metadata.permissions().mode() & 0o111 != 0;
            hasher.update(if executable { b"x" } else { b"f" });
            hasher.update(metadata.len().to_le_bytes());
            let mut file = std::fs::File::open(&path)?;
            loop {
                let read = file.read(&mut buffer)?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
                size += read as u64;
            }
        }
    }
    Ok((
        base64::engine::general_purpose::STANDARD.encode(hasher.finalize()),
        size,
    ))
}

/// A hash of what the runtime runs a function with, apart from its code and its folder
/// (each deploy may build the same code into another folder).
pub(crate) fn config_sha256(config: &runtime::FunctionConfig) -> String {
    let described = serde_json::json!({
        "name": config.name,
        "function_name": config.function_name,
        "runtime": config.runtime,
        "handler": config.handler,
        "timeout_ms": config.timeout.as_millis() as u64,
        "memory_mb": config.memory_mb,
        "environment": config.environment,
        "reserved_concurrency": config.reserved_concurrency,
        "tmp_size_mb": config.tmp_size_mb,
        "network": config.network.map(|network| format!("{network:?}")),
        "layers_dir": config.layers_dir,
    });
    hex_sha256(described.to_string().as_bytes())
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The Lambda API's view of a template function.
pub(crate) fn settings(function: &template::Function, code_size: u64) -> FunctionSettings {
    FunctionSettings {
        name: function.name.clone(),
        runtime: function.runtime.clone(),
        handler: function.handler.clone(),
        timeout_secs: function.timeout_secs,
        memory_mb: function.memory_mb,
        environment: function.environment.clone(),
        architectures: function.architectures.clone(),
        ephemeral_storage_mb: function.ephemeral_storage_mb,
        code_size,
    }
}

/// What a deploy publishes: the number of each of its versions, and the versions that
/// are new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Publication {
    pub lambda_versions: Vec<DeployedVersion>,
    pub published: Vec<FunctionVersionRecord>,
}

impl Publication {
    /// Each version logical id's number, for `template::LoadOptions::version_numbers`.
    pub fn numbers(&self) -> BTreeMap<String, u32> {
        self.lambda_versions
            .iter()
            .map(|version| (version.logical_id.clone(), version.number))
            .collect()
    }
}

/// What a deploy being published is, for [`publish`].
pub(crate) struct Deploy<'a> {
    pub app: &'a template::App,
    pub stack: &'a str,
    pub number: u64,
    pub digests: &'a BTreeMap<String, FunctionDigest>,
    /// Runs from a folder that changes under it (`serverful up`'s own app folder), whose
    /// old code is not kept: any change to a function then makes its versions new, since
    /// an old version could not run.
    pub live_source: bool,
    pub now: &'a str,
}

/// Numbers `deploy`'s versions as CloudFormation would publish them over `previous` (the
/// stack's current deploy, if any): a version resource the previous deploy had, unchanged,
/// keeps its number; any other gets its function's next number after `highest` (every
/// number its function ever had). Fails as Lambda's `PublishVersion` does when a
/// version's `CodeSha256` is not the code's.
pub(crate) fn publish(
    deploy: &Deploy<'_>,
    previous: Option<&VersionRecord>,
    highest: &BTreeMap<String, u32>,
) -> Result<Publication, String> {
    let mut highest = highest.clone();
    let mut publication = Publication::default();
    for version in &deploy.app.versions {
        let Some(function) = deploy
            .app
            .functions
            .iter()
            .find(|function| function.logical_id == version.function)
        else {
            continue;
        };
        let Some(digest) = deploy.digests.get(&version.function) else {
            continue;
        };
        let identity = identity(version, function, digest, deploy.live_source);
        let kept = previous
            .and_then(|previous| previous.lambda_versions.as_ref())
            .and_then(|versions| {
                versions.iter().find(|kept| {
                    kept.logical_id == version.logical_id
                        && kept.function == version.function
                        && kept.identity == identity
                })
            });
        let number = match kept {
            Some(kept) => kept.number,
            None => {
                if !version.auto_published {
                    if let Some(expected) = &version.code_sha256 {
                        if *expected != digest.code_sha256 {
                            return Err(format!(
                                "{}: CodeSha256 is {expected}, but the code of {} has {}; Lambda publishes a version only when they match: set CodeSha256 to {1}'s, or leave it out",
                                version.logical_id, version.function, digest.code_sha256
                            ));
                        }
                    }
                }
                let next = highest.entry(version.function.clone()).or_default();
                *next += 1;
                publication.published.push(FunctionVersionRecord {
                    stack: deploy.stack.to_owned(),
                    function: version.function.clone(),
                    number: *next,
                    logical_id: version.logical_id.clone(),
                    deploy: deploy.number,
                    description: version.description.clone().unwrap_or_default(),
                    code_sha256: digest.code_sha256.clone(),
                    config_sha256: digest.config_sha256.clone(),
                    published_at: deploy.now.to_owned(),
                    settings: settings(function, digest.code_size),
                });
                *next
            }
        };
        publication.lambda_versions.push(DeployedVersion {
            logical_id: version.logical_id.clone(),
            function: version.function.clone(),
            number,
            identity,
        });
    }
    Ok(publication)
}

/// `serverful up --watch` reloaded `function_id` of the running `deploy` with new code
/// (`digest`): as `sam sync` does for `AutoPublishAlias`, SAM's version of it is
/// published anew with its function's next number after `highest`, and its alias follows
/// (aliases name the version resource). The template's own `AWS::Lambda::Version`s keep
/// their numbers; their code, from the live folder, is gone. Changes `app` and the
/// deploy's `record` in place and returns the new versions.
pub(crate) fn republish(
    app: &mut template::App,
    record: &mut VersionRecord,
    function_id: &str,
    digest: &FunctionDigest,
    highest: &BTreeMap<String, u32>,
    now: &str,
) -> Vec<FunctionVersionRecord> {
    let Some(function) = app
        .functions
        .iter()
        .find(|function| function.logical_id == function_id)
        .cloned()
    else {
        return Vec::new();
    };
    let mut next = highest.get(function_id).copied().unwrap_or_default();
    let mut published = Vec::new();
    for version in &mut app.versions {
        if version.function != function_id || !version.auto_published {
            continue;
        }
        next += 1;
        version.number = next;
        let identity = identity(version, &function, digest, record.digest.is_empty());
        if let Some(deployed) = record
            .lambda_versions
            .get_or_insert_with(Vec::new)
            .iter_mut()
            .find(|deployed| deployed.logical_id == version.logical_id)
        {
            deployed.number = next;
            deployed.identity = identity;
        }
        published.push(FunctionVersionRecord {
            stack: record.stack.clone(),
            function: function_id.to_owned(),
            number: next,
            logical_id: version.logical_id.clone(),
            deploy: record.number,
            description: version.description.clone().unwrap_or_default(),
            code_sha256: digest.code_sha256.clone(),
            config_sha256: digest.config_sha256.clone(),
            published_at: now.to_owned(),
            settings: settings(&function, digest.code_size),
        });
    }
    published
}

/// What CloudFormation compares to decide that a version resource is unchanged: its
/// properties (`Description`, `CodeSha256`), and for SAM's version what SAM names it
/// after (the code, `AutoPublishCodeSha256`, the environment, the memory size, the layers).
fn identity(
    version: &template::Version,
    function: &template::Function,
    digest: &FunctionDigest,
    live_source: bool,
) -> String {
    let mut described = serde_json::json!({
        "function": version.function,
        "description": version.description,
        "code_sha256": version.code_sha256,
    });
    if version.auto_published {
        let mut layers: Vec<String> = function
            .layers
            .iter()
            .map(|layer| format!("{layer:?}"))
            .collect();
        layers.sort();
        described["code"] = digest.code_sha256.clone().into();
        described["environment"] = serde_json::json!(function.environment);
        described["memory_mb"] = function.memory_mb.into();
        described["layers"] = layers.into();
    }
    if live_source {
        described["code"] = digest.code_sha256.clone().into();
        described["config"] = digest.config_sha256.clone().into();
    }
    hex_sha256(described.to_string().as_bytes())
}

/// Where one invocation of an alias goes: `None` for `$LATEST`, else a version number.
/// `roll` gives a number uniform in `[0, 1)` (asked only of an alias that splits): the
/// additional version takes the invocation when it falls under that version's weight.
pub(crate) fn pick(
    app: &template::App,
    alias: &template::Alias,
    roll: impl FnOnce() -> f64,
) -> Option<u32> {
    let chosen = match alias.additional_versions.first() {
        Some(additional) if roll() < additional.weight => &additional.version,
        _ => &alias.version,
    };
    number_of(app, chosen)
}

/// The number an alias's version has in `app`: `None` for `$LATEST`.
pub(crate) fn number_of(app: &template::App, version: &template::AliasVersion) -> Option<u32> {
    match version {
        template::AliasVersion::Latest => None,
        template::AliasVersion::Number(number) => Some(*number),
        template::AliasVersion::Version(logical_id) => app
            .versions
            .iter()
            .find(|version| version.logical_id == *logical_id)
            .map(|version| version.number),
    }
}

/// A uniform number in `[0, 1)`, fresh for each invocation.
pub(crate) fn roll() -> f64 {
    // 53 random bits (a v4 UUID's are from the system's generator), as an f64's mantissa.
    let bits = uuid::Uuid::new_v4().as_u128() >> 75;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, contents: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    #[test]
    fn the_code_hash_depends_on_contents_names_and_modes_only() {
        let first = tempfile::tempdir().expect("tempdir");
        let second = tempfile::tempdir().expect("tempdir");
        // Made in different orders: the hash does not depend on the directory's order.
        write(&first.path().join("app.py"), "print('hi')\n");
        write(&first.path().join("lib/util.py"), "X = 1\n");
        write(&second.path().join("lib/util.py"), "X = 1\n");
        write(&second.path().join("app.py"), "print('hi')\n");
        let (hash, size) = code_sha256(first.path()).expect("hash");
        assert_eq!(
            code_sha256(second.path()).expect("hash"),
            (hash.clone(), size)
        );
        assert_eq!(size, 18);
        // Base64 of 32 bytes, as Lambda shows `CodeSha256`.
        assert_eq!(hash.len(), 44);
        assert!(hash.ends_with('='), "{hash}");

        write(&second.path().join("lib/util.py"), "X = 2\n");
        assert_ne!(code_sha256(second.path()).expect("hash").0, hash);
        write(&second.path().join("lib/util.py"), "X = 1\n");
        assert_eq!(code_sha256(second.path()).expect("hash").0, hash);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            second.path().join("app.py"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        assert_ne!(code_sha256(second.path()).expect("hash").0, hash);
        std::fs::rename(first.path().join("app.py"), first.path().join("main.py")).expect("mv");
        assert_ne!(code_sha256(first.path()).expect("hash").0, hash);
    }

    const TEMPLATE: &str = "
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: greeter/
      AutoPublishAlias: live
  Split:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: split/
  SplitOne:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Split
      Description: first
  SplitTwo:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Split
      Description: second
  Canary:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Split
      Name: canary
      FunctionVersion: !GetAtt SplitTwo.Version
      RoutingConfig:
        AdditionalVersionWeights:
          - FunctionVersion: !GetAtt SplitOne.Version
            FunctionWeight: 0.25
";

    fn app(template: &str, numbers: &BTreeMap<String, u32>) -> template::App {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = template::LoadOptions {
            version_numbers: numbers.clone(),
            ..template::LoadOptions::default()
        };
        template::load_str(template, &dir.path().join("template.yaml"), &options).expect("template")
    }

    fn digest(code: &str) -> FunctionDigest {
        FunctionDigest {
            code_sha256: code.to_owned(),
            code_size: 10,
            config_sha256: "config".to_owned(),
        }
    }

    fn record(number: u64, publication: &Publication) -> VersionRecord {
        VersionRecord {
            stack: "shop".to_owned(),
            number,
            deployed_at: "2026-12-07T00:00:00Z".to_owned(),
            source: "/apps/shop".to_owned(),
            digest: format!("digest{number}"),
            source_dir: PathBuf::from("/data"),
            template_path: PathBuf::from("template.yaml"),
            parameters: BTreeMap::new(),
            lambda_versions: Some(publication.lambda_versions.clone()),
        }
    }

    fn numbers(publication: &Publication) -> Vec<(String, u32)> {
        publication
            .lambda_versions
            .iter()
            .map(|version| (version.logical_id.clone(), version.number))
            .collect()
    }

    fn new_numbers(publication: &Publication) -> Vec<(String, u32)> {
        publication
            .published
            .iter()
            .map(|version| (version.function.clone(), version.number))
            .collect()
    }

    #[test]
    fn changed_code_publishes_a_new_version_and_unchanged_resources_keep_theirs() {
        let first_app = app(TEMPLATE, &BTreeMap::new());
        let digests = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter-1")),
            ("Split".to_owned(), digest("split-1")),
        ]);
        let deploy = |app, number, digests| Deploy {
            app,
            stack: "shop",
            number,
            digests,
            live_source: false,
            now: "2026-12-07T00:00:00Z",
        };
        let first =
            publish(&deploy(&first_app, 1, &digests), None, &BTreeMap::new()).expect("publish");
        let sam_version = first_app.versions[0].logical_id.clone();
        assert_eq!(
            numbers(&first),
            [
                (sam_version.clone(), 1),
                ("SplitOne".to_owned(), 1),
                ("SplitTwo".to_owned(), 2)
            ]
        );
        assert_eq!(
            new_numbers(&first),
            [
                ("Greeter".to_owned(), 1),
                ("Split".to_owned(), 1),
                ("Split".to_owned(), 2)
            ]
        );
        assert!(first.published.iter().all(|version| version.deploy == 1));
        assert_eq!(first.published[1].description, "first");

        // Both functions' code changes. SAM's version is new; the explicit version
        // resources are unchanged, so they keep their numbers (and their old code), as
        // CloudFormation does.
        let highest = BTreeMap::from([("Greeter".to_owned(), 1), ("Split".to_owned(), 2)]);
        let changed = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter-2")),
            ("Split".to_owned(), digest("split-2")),
        ]);
        let second_app = app(TEMPLATE, &first.numbers());
        let second = publish(
            &deploy(&second_app, 2, &changed),
            Some(&record(1, &first)),
            &highest,
        )
        .expect("publish");
        assert_eq!(
            numbers(&second),
            [
                (sam_version.clone(), 2),
                ("SplitOne".to_owned(), 1),
                ("SplitTwo".to_owned(), 2)
            ]
        );
        assert_eq!(new_numbers(&second), [("Greeter".to_owned(), 2)]);
        assert_eq!(second.published[0].deploy, 2);
        assert_eq!(second.published[0].code_sha256, "greeter-2");

        // Unchanged code keeps SAM's version too; a changed description replaces the
        // resource, which publishes anew.
        let described = TEMPLATE.replace("Description: second", "Description: again");
        let third_app = app(&described, &second.numbers());
        let highest = BTreeMap::from([("Greeter".to_owned(), 2), ("Split".to_owned(), 2)]);
        let third = publish(
            &deploy(&third_app, 3, &changed),
            Some(&record(2, &second)),
            &highest,
        )
        .expect("publish");
        assert_eq!(
            numbers(&third),
            [
                (sam_version, 2),
                ("SplitOne".to_owned(), 1),
                ("SplitTwo".to_owned(), 3)
            ]
        );

        // After a rollback the numbers go on from the highest ever given.
        let fourth = publish(
            &deploy(&first_app, 4, &changed),
            Some(&record(1, &first)),
            &BTreeMap::from([("Greeter".to_owned(), 2), ("Split".to_owned(), 3)]),
        )
        .expect("publish");
        assert_eq!(
            new_numbers(&fourth),
            [("Greeter".to_owned(), 3)],
            "{fourth:?}"
        );
    }

    #[test]
    fn a_live_folder_publishes_anew_on_any_change() {
        let first_app = app(TEMPLATE, &BTreeMap::new());
        let digests = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter")),
            ("Split".to_owned(), digest("split-1")),
        ]);
        let deploy = |number, digests| Deploy {
            app: &first_app,
            stack: "shop",
            number,
            digests,
            live_source: true,
            now: "now",
        };
        let first = publish(&deploy(1, &digests), None, &BTreeMap::new()).expect("publish");
        let changed = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter")),
            ("Split".to_owned(), digest("split-2")),
        ]);
        let second = publish(
            &deploy(2, &changed),
            Some(&record(1, &first)),
            &BTreeMap::from([("Greeter".to_owned(), 1), ("Split".to_owned(), 2)]),
        )
        .expect("publish");
        assert_eq!(
            new_numbers(&second),
            [("Split".to_owned(), 3), ("Split".to_owned(), 4)]
        );
    }

    #[test]
    fn a_watch_reload_publishes_sams_version_anew_and_its_alias_follows() {
        let mut app = app(TEMPLATE, &BTreeMap::new());
        let digests = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter-1")),
            ("Split".to_owned(), digest("split-1")),
        ]);
        let deploy = Deploy {
            app: &app,
            stack: "shop",
            number: 1,
            digests: &digests,
            live_source: true,
            now: "now",
        };
        let first = publish(&deploy, None, &BTreeMap::new()).expect("publish");
        let mut record = record(1, &first);
        let highest = BTreeMap::from([("Greeter".to_owned(), 4), ("Split".to_owned(), 2)]);

        let published = republish(
            &mut app,
            &mut record,
            "Greeter",
            &digest("greeter-2"),
            &highest,
            "later",
        );
        assert_eq!(
            published
                .iter()
                .map(|version| (version.function.as_str(), version.number, version.deploy))
                .collect::<Vec<_>>(),
            [("Greeter", 5, 1)]
        );
        assert_eq!(published[0].code_sha256, "greeter-2");
        let live = app
            .aliases
            .iter()
            .find(|alias| alias.name == "live")
            .expect("alias");
        assert_eq!(number_of(&app, &live.version), Some(5));
        let recorded: Vec<(String, u32)> = record
            .lambda_versions
            .iter()
            .flatten()
            .map(|version| (version.function.clone(), version.number))
            .collect();
        assert_eq!(
            recorded,
            [
                ("Greeter".to_owned(), 5),
                ("Split".to_owned(), 1),
                ("Split".to_owned(), 2)
            ]
        );

        // The template's own version resources are not republished by a reload.
        let published = republish(
            &mut app,
            &mut record,
            "Split",
            &digest("split-2"),
            &highest,
            "later",
        );
        assert!(published.is_empty(), "{published:?}");
    }

    #[test]
    fn a_code_sha256_that_is_not_the_codes_fails_the_publish() {
        let template = TEMPLATE.replace(
            "      Description: first",
            "      Description: first\n      CodeSha256: bm90IHRoZSBjb2Rl",
        );
        let app = app(&template, &BTreeMap::new());
        let digests = BTreeMap::from([
            ("Greeter".to_owned(), digest("greeter")),
            ("Split".to_owned(), digest("split")),
        ]);
        let deploy = Deploy {
            app: &app,
            stack: "shop",
            number: 1,
            digests: &digests,
            live_source: false,
            now: "now",
        };
        let error = publish(&deploy, None, &BTreeMap::new()).expect_err("mismatch");
        assert_eq!(
            error,
            "SplitOne: CodeSha256 is bm90IHRoZSBjb2Rl, but the code of Split has split; Lambda publishes a version only when they match: set CodeSha256 to Split's, or leave it out"
        );
    }

    #[test]
    fn a_weighted_alias_splits_by_the_roll() {
        let app = app(TEMPLATE, &BTreeMap::new());
        let canary = app
            .aliases
            .iter()
            .find(|alias| alias.name == "canary")
            .expect("alias");
        assert_eq!(pick(&app, canary, || 0.0), Some(1));
        assert_eq!(pick(&app, canary, || 0.2499), Some(1));
        assert_eq!(pick(&app, canary, || 0.25), Some(2));
        assert_eq!(pick(&app, canary, || 0.99), Some(2));
        let live = app
            .aliases
            .iter()
            .find(|alias| alias.name == "live")
            .expect("alias");
        assert_eq!(
            pick(&app, live, || unreachable!("no split, no roll")),
            Some(1)
        );
        let rolls: Vec<f64> = (0..1000).map(|_| roll()).collect();
        assert!(rolls.iter().all(|roll| (0.0..1.0).contains(roll)));
        let low = rolls.iter().filter(|roll| **roll < 0.5).count();
        assert!((350..650).contains(&low), "{low} of 1000 under 0.5");
    }
}
