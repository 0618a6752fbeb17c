//! `serverful backup` and `serverful restore` (issue #14): a backup of a running server's
//! data folder taken while a boto3 client keeps writing, restored into a new data folder
//! that a new server runs on with every write acknowledged before the backup began; and
//! truncated or foreign files refused with one clear error.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serverful_e2e::{run_serverful, serverful_bin, test_app, Server};

use crate::client;

/// The app: a `NotesTable` and a function that writes to it.
const APP: &str = "store-notes";

/// A client script from the app's `clients/` folder.
fn client_script(name: &str) -> String {
    test_app(APP)
        .join("clients")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// `put_items.py` running against a server: puts `w-0`, `w-1`, … one after another.
struct Writer {
    child: Child,
    /// How many puts have been answered (so `w-0` to `w-{n-1}` are acknowledged).
    acknowledged: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer after it has batch-written `preload` filler items of 4 KiB into
    /// the app's table (named by the app's outputs, as `up` prints them).
    fn start(server: &Server, preload: u32) -> Writer {
        Writer::start_on(server, &server.output("NotesTableName"), preload)
    }

    /// Starts the writer on the table `table`.
    fn start_on(server: &Server, table: &str, preload: u32) -> Writer {
        let mut child = Command::new("python3")
            .arg(client_script("put_items.py"))
            .arg(preload.to_string())
            .envs(server.aws_env())
            .env("NOTES_TABLE", table)
            .env_remove("AWS_PROFILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python3 (scripts/install-test-deps.sh installs boto3)");
        let acknowledged = Arc::new(AtomicU64::new(0));
        let counter = acknowledged.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(number) = line.trim().parse::<u64>() {
                    counter.store(number + 1, Ordering::SeqCst);
                }
            }
        });
        Writer {
            child,
            acknowledged,
        }
    }

    fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` puts were answered.
    fn wait_for(&mut self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.acknowledged() < count {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("put_items.py exited with {status}");
            }
            assert!(Instant::now() < deadline, "the writer is stuck");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids of every item in the server's `NotesTable`.
fn item_ids(server: &Server) -> Vec<String> {
    item_ids_of(server, &server.output("NotesTableName"))
}

/// The ids of every item in the table `table`.
fn item_ids_of(server: &Server, table: &str) -> Vec<String> {
    let output = Command::new("python3")
        .arg(client_script("list_ids.py"))
        .envs(server.aws_env())
        .env("NOTES_TABLE", table)
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "list_ids.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON list of ids")
}

/// Writes a note through the app's function (its own write path, through the gateway).
fn post_note(server: &Server, id: &str) {
    post_note_on(server, None, id);
}

/// Writes a note through the app's function, on the API host `host` when given.
fn post_note_on(server: &Server, host: Option<&str>, id: &str) {
    let mut request = client().post(server.url(&format!("/notes/{id}")));
    if let Some(host) = host {
        request = request.header("Host", host);
    }
    let response = request
        .body(format!("note {id}"))
        .send()
        .expect("POST a note");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().unwrap_or_default()
    );
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn a_backup_taken_while_clients_write_restores_every_write_acknowledged_before_it() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let data = scratch.path().join("data");
    let server = Server::start(&test_app(APP), &["--data", path_arg(&data)]);
    post_note(&server, "through-the-function");

    // 12 MiB of items, so that the backup takes long enough for puts to land during it.
    let mut writer = Writer::start(&server, 3_000);
    writer.wait_for(20);
    let backup = scratch.path().join("backup.tar.zst");
    // Every put answered by now was acknowledged before the backup began.
    let floor = writer.acknowledged();
    let (code, stdout, stderr) =
        run_serverful(&["backup", "--data", path_arg(&data), "-o", path_arg(&backup)]);
    let during = writer.acknowledged() - floor;
    drop(writer);
    eprintln!("{floor} puts acknowledged before the backup began, {during} while it ran");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == ["dynamodb.sqlite", "SQLite", "snapshot"]),
        "{stdout}"
    );
    assert!(
        during > 0,
        "the writer kept writing while the backup ran ({floor} puts before it)"
    );
    assert_eq!(
        std::fs::metadata(&backup)
            .expect("backup file")
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "a backup holds the keys"
    );

    let restored = scratch.path().join("restored");
    let (code, stdout, stderr) =
        run_serverful(&["restore", path_arg(&backup), "--data", path_arg(&restored)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("Restored "), "{stdout}");
    assert_eq!(
        std::fs::metadata(restored.join("aws-keys.json"))
            .expect("keys restored")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let keys = server.access_key_id.clone();
    drop(server);

    let second = Server::start(&test_app(APP), &["--data", path_arg(&restored)]);
    assert_eq!(second.access_key_id, keys, "the endpoint's keys came back");
    let ids = item_ids(&second);
    let missing: Vec<String> = (0..floor)
        .map(|number| format!("w-{number}"))
        .filter(|id| ids.binary_search(id).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup began, missing after the restore: {missing:?}"
    );
    assert!(ids.contains(&"through-the-function".to_owned()));
    // The restored app runs: its function writes to its restored table.
    post_note(&second, "after-the-restore");
    assert!(item_ids(&second).contains(&"after-the-restore".to_owned()));
}

/// Runs `serverful restore FILE --data TARGET` and returns its exit code and stderr.
fn restore_fails(file: &Path, target: &Path) -> (i32, String) {
    let (code, stdout, stderr) =
        run_serverful(&["restore", path_arg(file), "--data", path_arg(target)]);
    assert_eq!(stdout, "", "nothing on stdout when the restore fails");
    // The folders of both paths read `DIR`.
    let stderr = [file, target].iter().fold(stderr, |text, path| {
        text.replace(path_arg(path.parent().expect("folder")), "DIR")
    });
    (code, stderr)
}

#[test]
fn truncated_foreign_and_misdirected_restores_fail_with_one_clear_error() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let data = scratch.path().join("data");
    std::fs::create_dir_all(data.join("build/Fn")).expect("mkdir");
    std::fs::write(data.join("build/Fn/app.py"), "print('hi')\n".repeat(2000)).expect("write");
    std::fs::write(data.join("aws-keys.json"), "{}").expect("write");
    let backup = scratch.path().join("backup.tar.zst");
    let (code, stdout, stderr) =
        run_serverful(&["backup", "--data", path_arg(&data), "-o", path_arg(&backup)]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let bytes = std::fs::read(&backup).expect("read the backup");
    let truncated = scratch.path().join("truncated.tar.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let target = scratch.path().join("restored");
    let outcomes = [
        restore_fails(&truncated, &target),
        restore_fails(&test_app(APP).join("template.yaml"), &target),
        restore_fails(&backup, &data),
    ];
    assert!(!target.exists(), "a failed restore leaves no folder");
    let expected = [
        "error: restore DIR/truncated.tar.zst into DIR/restored: the backup is truncated: read the manifest: the compressed stream ends early; the file was cut short (an interrupted copy or a full disk): copy it again from where it was written\n",
        "error: restore DIR/template.yaml into DIR/restored: not a Serverful backup: it does not start like a zstd file (a backup is the .tar.zst that `serverful backup` writes)\n",
        "error: restore DIR/backup.tar.zst into DIR/data: DIR/data exists and is not empty: restore into a new or empty folder\n",
    ];
    for ((code, stderr), expected) in outcomes.iter().zip(expected) {
        assert_eq!((*code, stderr.as_str()), (1, expected));
    }
}

#[test]
fn a_backup_streams_through_a_pipe_into_a_restore() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let data = scratch.path().join("data");
    std::fs::create_dir_all(data.join("inline/Fn")).expect("mkdir");
    std::fs::write(data.join("inline/Fn/index.py"), "x = 1\n").expect("write");
    let restored = scratch.path().join("restored");
    let mut backup = Command::new(serverful_bin())
        .args(["backup", "--data", path_arg(&data), "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run serverful backup");
    let restore = Command::new(serverful_bin())
        .args(["restore", "-", "--data", path_arg(&restored)])
        .stdin(backup.stdout.take().expect("piped stdout"))
        .output()
        .expect("run serverful restore");
    let backup = backup.wait_with_output().expect("backup ends");
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(
        String::from_utf8_lossy(&backup.stderr).starts_with("Backed up "),
        "the report goes to stderr when the backup goes to stdout"
    );
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(restored.join("inline/Fn/index.py")).expect("restored"),
        "x = 1\n"
    );
}

/// A stack's output `name` and the host of its HTTP API, from `ls --json`.
fn served_stack(server: &Server, stack: &str, output: &str) -> (String, String) {
    let (code, stdout, stderr) = server.admin(&["ls", "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("ls --json");
    let summary = listed["stacks"]
        .as_array()
        .and_then(|stacks| stacks.iter().find(|summary| summary["name"] == stack))
        .unwrap_or_else(|| panic!("no stack {stack}: {stdout}"))
        .clone();
    let value = summary["outputs"]
        .as_array()
        .and_then(|outputs| outputs.iter().find(|pair| pair[0] == output))
        .and_then(|pair| pair[1].as_str())
        .unwrap_or_else(|| panic!("no output {output}: {summary}"))
        .to_owned();
    let url = summary["urls"][0]["url"].as_str().expect("an API URL");
    let host = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .expect("a host")
        .to_owned();
    (value, host)
}

#[test]
fn a_served_server_backs_up_through_its_admin_api_and_serve_restore_brings_its_stacks_back() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let data = scratch.path().join("data");
    let server = Server::start_serve(&data, &[]);
    let app = test_app(APP);
    let (code, stdout, stderr) = server.admin(&["deploy", path_arg(&app), "--stack", "notes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (table, host) = served_stack(&server, "notes", "NotesTableName");
    assert!(table.starts_with("notes-NotesTable-"), "{table}");
    post_note_on(&server, Some(&host), "through-the-function");

    let mut writer = Writer::start_on(&server, &table, 3_000);
    writer.wait_for(20);
    let backup = scratch.path().join("served.tar.zst");
    let floor = writer.acknowledged();
    let (code, stdout, stderr) = server.admin(&["backup", "-o", path_arg(&backup)]);
    let during = writer.acknowledged() - floor;
    drop(writer);
    eprintln!("{floor} puts acknowledged before the backup began, {during} while it ran");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("Backed up the server at {} to ", server.admin_url)),
        "{stdout}"
    );
    assert_eq!(
        std::fs::metadata(&backup)
            .expect("backup file")
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "a backup holds the keys"
    );
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| name.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A wrong token gets nothing, and writes no file.
    let refused = scratch.path().join("refused.tar.zst");
    let (code, _, stderr) = run_serverful(&[
        "backup",
        "--endpoint",
        &server.admin_url,
        "--token",
        "wrong",
        "-o",
        path_arg(&refused),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("refused the token"), "{stderr}");
    assert!(!refused.exists());
    drop(server);

    // A new machine: a fresh data folder made from the backup, serving the same stack.
    let restored = scratch.path().join("restored");
    let second = Server::start_serve(&restored, &["--restore", path_arg(&backup)]);
    assert!(
        second.stdout().starts_with("Restored "),
        "{}",
        second.all_output()
    );
    let (same_table, same_host) = served_stack(&second, "notes", "NotesTableName");
    assert_eq!((&same_table, &same_host), (&table, &host));
    let ids = item_ids_of(&second, &table);
    let missing: Vec<String> = (0..floor)
        .map(|number| format!("w-{number}"))
        .filter(|id| ids.binary_search(id).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup began, missing after the restore: {missing:?}"
    );
    assert!(ids.contains(&"through-the-function".to_owned()));
    post_note_on(&second, Some(&host), "after-the-restore");
    assert!(item_ids_of(&second, &table).contains(&"after-the-restore".to_owned()));

    // --restore never overwrites: the folder now holds a server's state.
    drop(second);
    let (code, _, stderr) = run_serverful(&[
        "serve",
        "--data",
        path_arg(&restored),
        "--restore",
        path_arg(&backup),
        "--port",
        "0",
        "--aws-port",
        "0",
        "--admin-port",
        "0",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("exists and is not empty: restore into a new or empty folder"),
        "{stderr}"
    );
}
