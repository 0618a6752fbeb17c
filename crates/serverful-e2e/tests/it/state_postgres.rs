//! The platform's state on PostgreSQL (issue 22, `serverful_platform::cluster_versions`
//! over `serverful_postgres::state`) against a scratch PostgreSQL: the SQLite backend's
//! semantics (versions, rollbacks, keys made once, pruning, Lambda version numbers never
//! reused, run-time mappings), the change counter the nodes poll, each node's own paths,
//! and a version's source folder through the database in chunks.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serverful_e2e::postgres::Postgres;
use serverful_platform::cluster_versions::SharedState;
use serverful_platform::state::{EventSourceMappingRecord, StackCredentials};
use serverful_platform::{
    DeployedVersion, FunctionSettings, FunctionVersionRecord, StateBackend, VersionRecord,
};
use serverful_postgres::Database;

fn open(postgres: &Postgres, data_dir: &Path) -> SharedState {
    let database = Arc::new(Database::open(&postgres.url(), 2).expect("connect"));
    SharedState::open(database, data_dir).expect("open the state")
}

/// Version `number` of `stack`, deployed from `DATA/stacks/<stack>/sources/src<number>`.
fn version(data_dir: &Path, stack: &str, number: u64) -> VersionRecord {
    let source_dir = data_dir
        .join("stacks")
        .join(stack)
        .join("sources")
        .join(format!("src{number}"));
    VersionRecord {
        stack: stack.to_owned(),
        number,
        deployed_at: "2026-12-07T00:00:00Z".to_owned(),
        source: "/apps/hello".to_owned(),
        digest: format!("digest{number}"),
        template_path: source_dir.join("template.yaml"),
        source_dir,
        parameters: BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]),
        lambda_versions: Some(Vec::new()),
    }
}

fn function_version(function: &str, number: u32, deploy: u64) -> FunctionVersionRecord {
    FunctionVersionRecord {
        stack: "hello".to_owned(),
        function: function.to_owned(),
        number,
        logical_id: format!("{function}Version{number}"),
        deploy,
        description: String::new(),
        code_sha256: format!("code{number}"),
        config_sha256: "config".to_owned(),
        published_at: "2026-12-07T00:00:00Z".to_owned(),
        settings: FunctionSettings::default(),
    }
}

/// Deploy `number` of `hello` naming `versions` of `Greeter`.
fn naming(data_dir: &Path, number: u64, versions: &[u32]) -> VersionRecord {
    VersionRecord {
        lambda_versions: Some(
            versions
                .iter()
                .map(|version| DeployedVersion {
                    logical_id: format!("GreeterVersion{version}"),
                    function: "Greeter".to_owned(),
                    number: *version,
                    identity: String::new(),
                })
                .collect(),
        ),
        ..version(data_dir, "hello", number)
    }
}

fn numbers(versions: &[VersionRecord]) -> Vec<u64> {
    versions.iter().map(|version| version.number).collect()
}

/// Two nodes over one database: what one records, the other reads, with its own paths;
/// each change of a current version moves the counter, reads do not.
#[test]
fn versions_rollbacks_and_deletes_are_the_clusters() {
    let postgres = Postgres::start();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = open(&postgres, dir_a.path());
    let b = open(&postgres, dir_b.path());
    let start = a.generation().expect("generation");

    a.add_version(&version(dir_a.path(), "hello", 1), &[])
        .expect("add");
    a.add_version(&version(dir_a.path(), "hello", 2), &[])
        .expect("add");
    a.add_version(&version(dir_a.path(), "other", 1), &[])
        .expect("add");
    assert_eq!(b.generation().expect("generation"), start + 3);
    // A version number is recorded once.
    let again = a
        .add_version(&version(dir_a.path(), "hello", 2), &[])
        .expect_err("a second version 2");
    assert!(
        again.to_string().contains(
            "a deploy through another node recorded version 2 of stack hello first; deploy again"
        ),
        "{again}"
    );
    b.set_current("hello", 1).expect("rollback");
    assert_eq!(a.generation().expect("generation"), start + 4);

    let stacks = b.stacks().expect("stacks");
    assert_eq!(stacks.len(), 2);
    assert_eq!(stacks[0].name, "hello");
    assert_eq!(stacks[0].current, 1);
    // Node B reads node A's records with its own paths.
    assert_eq!(
        stacks[0].versions,
        [
            version(dir_b.path(), "hello", 1),
            version(dir_b.path(), "hello", 2)
        ]
    );
    assert_eq!(
        a.stacks().expect("stacks")[0].current_version(),
        Some(&version(dir_a.path(), "hello", 1))
    );
    assert_eq!(a.generation().expect("generation"), start + 4);

    b.delete_stack("hello").expect("delete");
    assert_eq!(a.generation().expect("generation"), start + 5);
    let names: Vec<String> = a
        .stacks()
        .expect("stacks")
        .into_iter()
        .map(|stack| stack.name)
        .collect();
    assert_eq!(names, ["other"]);
}

/// Keys made once per stack for the whole cluster, forgotten with it; pruning keeps
/// the newest, the current one and those whose Lambda versions a kept one names;
/// Lambda version numbers never come back; run-time mappings by UUID.
#[test]
fn keys_pruning_lambda_versions_and_mappings() {
    let postgres = Postgres::start();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = open(&postgres, dir_a.path());
    let b = open(&postgres, dir_b.path());

    let first = StackCredentials::generate();
    assert_eq!(a.stack_keys("hello", first.clone()).expect("keys"), first);
    assert_eq!(
        b.stack_keys("hello", StackCredentials::generate())
            .expect("keys"),
        first
    );
    let other = StackCredentials::generate();
    assert_eq!(b.stack_keys("other", other.clone()).expect("keys"), other);

    for number in 1..=6 {
        a.add_version(&version(dir_a.path(), "plain", number), &[])
            .expect("add");
    }
    a.set_current("plain", 2).expect("rollback");
    let pruned = b.prune_versions("plain", 3).expect("prune");
    assert_eq!(numbers(&pruned), [4, 3, 1]);
    assert_eq!(pruned[0], version(dir_b.path(), "plain", 4));
    let kept = a.stacks().expect("stacks");
    let plain = kept
        .iter()
        .find(|stack| stack.name == "plain")
        .expect("plain");
    assert_eq!(numbers(&plain.versions), [2, 5, 6]);
    assert!(b.prune_versions("nothing", 3).expect("prune").is_empty());

    let dir = dir_a.path();
    a.add_version(&naming(dir, 1, &[1]), &[function_version("Greeter", 1, 1)])
        .expect("add");
    a.add_version(&naming(dir, 2, &[2]), &[function_version("Greeter", 2, 2)])
        .expect("add");
    assert_eq!(
        b.function_versions("hello").expect("versions"),
        [
            function_version("Greeter", 1, 1),
            function_version("Greeter", 2, 2)
        ]
    );
    a.add_version(&naming(dir, 3, &[1]), &[]).expect("add");
    a.add_version(&naming(dir, 4, &[1]), &[]).expect("add");
    // Deploy 4 still names version 1: deploy 1 stays; deploy 2 and its version go.
    assert_eq!(numbers(&b.prune_versions("hello", 2).expect("prune")), [2]);
    assert_eq!(
        a.function_versions("hello").expect("versions"),
        [function_version("Greeter", 1, 1)]
    );
    assert_eq!(
        a.highest_function_versions("hello").expect("highest"),
        BTreeMap::from([("Greeter".to_owned(), 2)])
    );

    // A deploy recorded before Lambda versions gets them later.
    let mut legacy = version(dir, "legacy", 1);
    legacy.lambda_versions = None;
    a.add_version(&legacy, &[]).expect("add");
    let named = naming(dir, 1, &[3]).lambda_versions.expect("named");
    let mut published = function_version("Greeter", 3, 1);
    published.stack = "legacy".to_owned();
    b.record_lambda_versions("legacy", 1, &named, &[published.clone()])
        .expect("record");
    let stacks = a.stacks().expect("stacks");
    let legacy = stacks
        .iter()
        .find(|stack| stack.name == "legacy")
        .expect("legacy");
    assert_eq!(legacy.versions[0].lambda_versions, Some(named.clone()));
    assert_eq!(
        a.function_versions("legacy").expect("versions"),
        [published]
    );
    assert!(b.record_lambda_versions("legacy", 9, &named, &[]).is_err());

    a.delete_stack("hello").expect("delete");
    assert!(b.function_versions("hello").expect("versions").is_empty());
    assert!(b
        .highest_function_versions("hello")
        .expect("highest")
        .is_empty());
    let fresh = StackCredentials::generate();
    assert_eq!(b.stack_keys("hello", fresh.clone()).expect("keys"), fresh);
    assert_eq!(b.stack_keys("other", fresh).expect("keys"), other);

    let mapping = EventSourceMappingRecord {
        uuid: "91eaeb7e-c976-1234-9451-8709db01f137".to_owned(),
        stack: "hello".to_owned(),
        function: "Greeter".to_owned(),
        function_name: "hello-Greeter".to_owned(),
        qualifier: None,
        event_source_arn: "arn:aws:sqs:us-east-1:000000000000:jobs".to_owned(),
        starting_position: None,
        starting_position_timestamp: None,
        batch_size: 10,
        maximum_batching_window_secs: 0,
        maximum_retry_attempts: -1,
        maximum_record_age_secs: -1,
        bisect_batch_on_function_error: false,
        parallelization_factor: 1,
        tumbling_window_secs: 0,
        report_batch_item_failures: false,
        filter_patterns: Vec::new(),
        on_failure: None,
        maximum_concurrency: None,
        enabled: true,
        last_modified: 1.5,
    };
    a.put_event_source_mapping(&mapping).expect("put");
    let disabled = EventSourceMappingRecord {
        enabled: false,
        ..mapping.clone()
    };
    b.put_event_source_mapping(&disabled).expect("update");
    assert_eq!(a.event_source_mappings().expect("mappings"), [disabled]);
    a.delete_event_source_mapping(&mapping.uuid)
        .expect("delete");
    assert!(b.event_source_mappings().expect("mappings").is_empty());
}

fn tree(root: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let relative = path.strip_prefix(root).expect("inside").to_owned();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode() & 0o777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("link");
                found.insert(relative, (format!("-> {}", target.display()), 0));
            } else if meta.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                found.insert(
                    relative,
                    (
                        format!(
                            "{} bytes, sum {}",
                            bytes.len(),
                            bytes.iter().map(|b| u64::from(*b)).sum::<u64>()
                        ),
                        mode,
                    ),
                );
            }
        }
    }
    found
}

/// A source folder larger than a chunk, with an executable, a nested folder and a
/// symbolic link, goes through the database to another node's data folder as it was;
/// storing it again changes nothing; it goes with its stack.
#[test]
fn a_source_folder_reaches_another_node_through_the_database() {
    let postgres = Postgres::start();
    let (dir_a, dir_b, dir_c) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
        tempfile::tempdir().expect("c"),
    );
    let a = open(&postgres, dir_a.path());
    let b = open(&postgres, dir_b.path());
    let record = version(dir_a.path(), "hello", 1);
    let source = &record.source_dir;
    std::fs::create_dir_all(source.join("greeter/lib")).expect("mkdir");
    std::fs::write(source.join("template.yaml"), "Resources: {}\n").expect("write");
    // 2.5 chunks of bytes that are not all alike.
    let big: Vec<u8> = (0..(serverful_postgres::state::CHUNK * 5 / 2))
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    std::fs::write(source.join("greeter/lib/big.bin"), &big).expect("write");
    let script = source.join("greeter/bootstrap");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("lib/big.bin", source.join("greeter/link")).expect("symlink");

    a.upload(&record).expect("upload");
    a.upload(&record).expect("upload again");
    a.add_version(&record, &[]).expect("add");

    let on_b = b.stacks().expect("stacks")[0]
        .current_version()
        .cloned()
        .expect("current");
    assert!(on_b.source_dir.starts_with(dir_b.path()), "{on_b:?}");
    assert!(!on_b.source_dir.exists());
    b.ensure_source(&on_b).expect("fetch");
    assert_eq!(tree(&on_b.source_dir), tree(source));
    assert_eq!(
        std::fs::read(on_b.source_dir.join("greeter/lib/big.bin")).expect("read"),
        big
    );
    assert!(on_b.template_path.is_file(), "{on_b:?}");
    // Present already: nothing to do.
    b.ensure_source(&on_b).expect("again");

    // Deleted with its stack: a third node finds nothing to unpack.
    a.delete_stack("hello").expect("delete");
    let c = open(&postgres, dir_c.path());
    let on_c = version(dir_c.path(), "hello", 1);
    let error = c.ensure_source(&on_c).expect_err("no source");
    assert!(
        error
            .to_string()
            .contains("keeps no source src1 for stack hello version 1"),
        "{error}"
    );
}
