//! The sandbox's attack suite (issue #5): functions written to escape
//! (`test_data/apps/attacks`), run by the real binary under `--sandbox required`. Each
//! attack's outcome is asserted, and an ordinary function (`VictimFunction`) keeps
//! answering throughout.
//!
//! The app is copied outside `/tmp` first, so that the host paths the attackers aim at (the
//! server's data dir, the victim's code) are real paths the function's private `/tmp`
//! does not shadow.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{json, Value};
use serverful_e2e::{bin_dir, copy_dir, serverful_bin, test_app, Server};

use crate::{client, json_body};

/// The attack app, copied outside `/tmp`, and the server running it.
pub(crate) struct AttackApp {
    pub server: Server,
    /// The copy of the app; its `.serverful` folder is the server's data dir.
    pub app_dir: PathBuf,
    _copy: tempfile::TempDir,
}

impl AttackApp {
    /// Starts the attack app with `--sandbox required` and `extra_args`.
    fn start(extra_args: &[&str]) -> AttackApp {
        let (copy, app_dir) = copy_attack_app();
        let data_dir = app_dir.join(".serverful");
        let data_arg = format!("DataDir={}", data_dir.display());
        let victim_arg = format!("VictimCode={}", app_dir.join("victim/app.py").display());
        let mut args = vec![
            "--data",
            data_dir.to_str().expect("utf-8 path"),
            "--sandbox",
            "required",
        ];
        args.extend_from_slice(extra_args);
        args.extend(["--parameter-overrides", &data_arg, &victim_arg]);
        let server = Server::start(&app_dir, &args);
        AttackApp {
            server,
            app_dir,
            _copy: copy,
        }
    }

    /// `GET path`, which must answer 200 with JSON.
    fn attack(&self, path: &str) -> Value {
        let response = client()
            .get(self.server.url(path))
            .send()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status();
        let body = json_body(response);
        assert_eq!(status, 200, "GET {path}: {body:#}");
        body
    }

    /// The ordinary function still answers.
    fn assert_victim_serves(&self) {
        let response = client()
            .get(self.server.url("/victim"))
            .send()
            .expect("GET /victim");
        assert_eq!(response.status(), 200, "the victim stops answering");
        assert!(response.text().expect("body").starts_with("fine "));
    }
}

/// A fresh copy of the attack app in `target/`, outside `/tmp`.
fn copy_attack_app() -> (tempfile::TempDir, PathBuf) {
    let copy = tempfile::Builder::new()
        .prefix("attacks-")
        .tempdir_in(bin_dir())
        .expect("temp dir in target/");
    let app_dir = copy.path().join("attacks");
    copy_dir(&test_app("attacks"), &app_dir);
    (copy, app_dir)
}

/// Asserts that an attempt (`{"ok": ..., "error": ..., "errno": ...}`) failed.
#[track_caller]
fn assert_refused(report: &Value, what: &str) {
    assert_eq!(report["ok"], json!(false), "{what} worked: {report:#}");
}

/// Asserts that an attempt failed with `errno`.
#[track_caller]
fn assert_refused_with(report: &Value, errno: &str, what: &str) {
    assert_refused(report, what);
    assert_eq!(report["errno"], json!(errno), "{what}: {report:#}");
}

/// The line the server prints about isolation at start.
fn sandbox_line(server: &Server) -> String {
    let output = format!("{}{}", server.stdout(), server.stderr());
    output
        .lines()
        .find(|line| line.starts_with("sandbox:") || line.starts_with("warning: sandbox"))
        .unwrap_or_else(|| panic!("no sandbox line:\n{output}"))
        .to_string()
}

/// The host's own address on its default route (e.g. eth0's), which instances must not
/// reach.
pub(crate) fn host_address() -> Ipv4Addr {
    let output = Command::new("ip")
        .args(["-4", "route", "get", "192.0.2.200"])
        .output()
        .expect("run ip route get");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    words
        .find(|word| *word == "src")
        .and_then(|_| words.next())
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no source address in `ip route get`: {text}"))
}

/// A TCP listener on the host that counts the connections it accepts.
pub(crate) struct HostListener {
    listener: TcpListener,
    pub port: u16,
}

impl HostListener {
    pub(crate) fn bind(address: Ipv4Addr) -> HostListener {
        let listener = TcpListener::bind((address, 0)).expect("bind a host listener");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("local address").port();
        HostListener { listener, port }
    }

    /// How many connections reached it so far.
    pub(crate) fn accepted(&self) -> usize {
        let mut count = 0;
        while let Ok((mut stream, _)) = self.listener.accept() {
            let _ = stream.write_all(b"host\n");
            count += 1;
        }
        count
    }
}

/// A network namespace the test creates for itself, reached from the host through a veth
/// pair (`10.99.A.B/30`), with a TCP server inside on `address:PORT` that greets whoever
/// connects with [`TestNetwork::GREETING`]. Deleted with its veth pair when dropped.
pub(crate) struct TestNetwork {
    name: String,
    pub address: Ipv4Addr,
    server: Child,
}

impl TestNetwork {
    pub const PORT: u16 = 8080;
    pub const GREETING: &'static str = "hello from the test netns";

    pub(crate) fn create() -> TestNetwork {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // A /30 per network: the third octet from the test process, the fourth from the
        // network's index, so that concurrent test processes rarely pick the same block.
        let (third, fourth) = ((pid % 250) as u8, (index % 64 * 4) as u8);
        let host_side = Ipv4Addr::new(10, 99, third, fourth + 1);
        let address = Ipv4Addr::new(10, 99, third, fourth + 2);
        let name = format!("sfe2e-{pid}-{index}");
        let host_veth = format!("sfe{pid}h{index}");
        let inner_veth = format!("sfe{pid}n{index}");
        // Dropping the half-built network cleans up whatever the steps below made.
        let mut network = TestNetwork {
            name: name.clone(),
            address,
            server: Command::new("true").spawn().expect("spawn true"),
        };
        for step in [
            vec!["netns", "add", &name],
            vec![
                "link",
                "add",
                &host_veth,
                "type",
                "veth",
                "peer",
                "name",
                &inner_veth,
            ],
            vec!["link", "set", &inner_veth, "netns", &name],
            vec!["addr", "add", &format!("{host_side}/30"), "dev", &host_veth],
            vec!["link", "set", &host_veth, "up"],
            vec![
                "-n",
                &name,
                "addr",
                "add",
                &format!("{address}/30"),
                "dev",
                &inner_veth,
            ],
            vec!["-n", &name, "link", "set", &inner_veth, "up"],
            vec!["-n", &name, "link", "set", "lo", "up"],
            vec![
                "-n",
                &name,
                "route",
                "add",
                "default",
                "via",
                &host_side.to_string(),
            ],
        ] {
            let status = Command::new("ip").args(&step).status().expect("run ip");
            assert!(status.success(), "ip {}: {status}", step.join(" "));
        }
        let greeter = format!(
            "import socket\n\
             server = socket.create_server(('{address}', {port}))\n\
             print('ready', flush=True)\n\
             while True:\n\
             \x20   connection, _ = server.accept()\n\
             \x20   connection.sendall(b'{greeting}\\n')\n\
             \x20   connection.close()\n",
            port = Self::PORT,
            greeting = Self::GREETING,
        );
        let mut server = Command::new("ip")
            .args(["netns", "exec", &name, "python3", "-c", &greeter])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the greeter in the test netns");
        let mut ready = String::new();
        BufReader::new(server.stdout.take().expect("piped stdout"))
            .read_line(&mut ready)
            .expect("greeter output");
        network.server = server;
        assert_eq!(ready.trim(), "ready", "the greeter did not start");
        network
    }

    /// `ADDRESS:PORT` of the greeter.
    pub(crate) fn target(&self) -> String {
        format!("{}:{}", self.address, Self::PORT)
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn functions_run_isolated_as_uid_993_with_no_capabilities_and_a_seccomp_filter() {
    let app = AttackApp::start(&[]);
    let line = sandbox_line(&app.server);
    assert!(
        line.starts_with("sandbox:") && !line.contains("off"),
        "{line}"
    );
    let identity = app.attack("/attack/identity");
    assert_eq!(identity["uid"], json!(993), "{identity:#}");
    assert_eq!(identity["taskRoot"], json!("/var/task"), "{identity:#}");
    assert_eq!(identity["cwd"], json!("/var/task"), "{identity:#}");
    assert_eq!(
        identity["runtimeApi"],
        json!("127.0.0.1:9001"),
        "{identity:#}"
    );
    assert_eq!(
        identity["awsEndpoint"],
        json!(app.server.aws_url),
        "the endpoint address is the one printed"
    );
    let status = &identity["status"];
    assert_eq!(status["CapEff"], json!("0000000000000000"), "{identity:#}");
    assert_eq!(status["CapPrm"], json!("0000000000000000"), "{identity:#}");
    assert_eq!(status["NoNewPrivs"], json!("1"), "{identity:#}");
    assert_eq!(status["Seccomp"], json!("2"), "filter mode: {identity:#}");
    let task_files: Vec<&str> = identity["taskFiles"]
        .as_array()
        .expect("taskFiles")
        .iter()
        .filter_map(Value::as_str)
        .filter(|name| *name != "__pycache__")
        .collect();
    assert_eq!(task_files, ["attack.py"], "only its own code at /var/task");

    let shell = app.attack("/shell/identity");
    let output = shell["output"].as_str().expect("output");
    assert!(output.starts_with("uid=993 "), "{shell:#}");
    assert!(output.contains("NoNewPrivs:\t1"), "{shell:#}");
    app.assert_victim_serves();
}

#[test]
fn files_outside_the_function_cannot_be_read() {
    let app = AttackApp::start(&[]);
    let shadow = app.attack("/attack/shadow");
    for file in ["read", "gshadow"] {
        let report = &shadow[file];
        // A masked file may read as empty; what must never come out is its content.
        if report["ok"] == json!(true) {
            assert_eq!(report["value"]["bytes"], json!(0), "{shadow:#}");
        }
    }
    let shell = app.attack("/shell/shadow");
    assert!(
        !shell["output"].as_str().expect("output").contains("root:"),
        "{shell:#}"
    );
    app.assert_victim_serves();

    let data_dir = app.attack("/attack/data-dir");
    for what in ["list", "keys", "database"] {
        assert_refused(&data_dir[what], &format!("the data dir's {what}"));
    }
    let victim = app.attack("/attack/victim-code");
    assert_refused(&victim["read"], "reading another function's code");
    assert_refused(&victim["list"], "listing another function's code");
    app.assert_victim_serves();
}

#[test]
fn the_data_dir_inside_a_functions_code_folder_stays_hidden() {
    // WholeAppFunction's CodeUri is the app folder, which holds `.serverful`, the data dir.
    let app = AttackApp::start(&[]);
    assert!(app.app_dir.join(".serverful/aws-keys.json").exists());
    let report = app.attack("/whole-app/code-folder");
    assert_eq!(report["list"]["ok"], json!(true), "{report:#}");
    // An empty folder masks it: listing finds nothing, or is refused.
    let listing = &report["dataDir"];
    if listing["ok"] == json!(true) {
        assert_eq!(
            listing["value"],
            json!([]),
            "the data dir in /var/task: {listing:#}"
        );
    } else {
        assert_refused(listing, "listing the data dir in /var/task");
    }
    assert_refused(&report["keys"], "reading the endpoint keys in /var/task");
    assert_refused(
        &report["database"],
        "reading the tables' database in /var/task",
    );
    app.assert_victim_serves();
}

#[test]
fn nothing_outside_tmp_can_be_written() {
    let app = AttackApp::start(&[]);
    let report = app.attack("/attack/write");
    let attempts = report.as_object().expect("report");
    for (target, attempt) in attempts {
        if target == "/tmp" {
            assert_eq!(attempt["ok"], json!(true), "/tmp is writable: {attempt:#}");
        } else {
            assert_refused(attempt, &format!("writing {target}"));
        }
    }
    let shell = app.attack("/shell/write-task");
    assert_ne!(shell["exit"], json!(0), "{shell:#}");
    app.assert_victim_serves();
}

#[test]
fn processes_outside_the_instance_can_be_neither_seen_nor_signalled() {
    let app = AttackApp::start(&[]);
    let server_pid = app.server.pid();
    let test_pid = std::process::id();
    let report = app.attack(&format!("/attack/processes?pids={server_pid},{test_pid}"));
    let visible = report["visible"].as_array().expect("visible");
    // The sandbox's init, the function, and `ps` or a zombie at most.
    assert!(visible.len() <= 4, "sees other processes: {report:#}");
    let app_path = app.app_dir.to_str().expect("utf-8 path");
    for process in visible {
        let cmdline = process["cmdline"].as_str().unwrap_or_default();
        assert!(
            !cmdline.contains(app_path) && !cmdline.contains(" up "),
            "sees the server: {report:#}"
        );
    }
    for pid in [server_pid, test_pid] {
        let signals = &report["signals"][pid.to_string()];
        assert_refused(&signals["probe"], &format!("kill({pid}, 0)"));
        assert_refused(&signals["sigcont"], &format!("kill({pid}, SIGCONT)"));
    }
    let ps_lines = report["ps"]["value"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .count();
    assert!(ps_lines <= 4, "ps sees other processes: {report:#}");
    let shell = app.attack("/shell/ps");
    let shell_lines = shell["output"].as_str().expect("output").lines().count();
    assert!(shell_lines <= 5, "ps sees other processes: {shell:#}");
    app.assert_victim_serves();
}

#[test]
fn mount_unshare_ptrace_and_privilege_changes_are_refused() {
    let app = AttackApp::start(&[]);
    let mount = app.attack("/attack/mount");
    for call in ["tmpfs", "remount /var/task rw", "umount /var/task"] {
        assert_refused_with(&mount[call], "EPERM", call);
    }
    assert_refused(&mount["mount command"], "mount -t tmpfs");

    let unshare = app.attack("/attack/unshare");
    for namespace in ["user", "mount", "net", "pid"] {
        assert_refused_with(
            &unshare[namespace],
            "EPERM",
            &format!("unshare of a {namespace} namespace"),
        );
    }
    assert_refused(&unshare["unshare -r true"], "unshare -r true");
    assert_refused(&unshare["unshare -rn true"], "unshare -rn true");

    let ptrace = app.attack("/attack/ptrace");
    for call in ["attach child", "seize pid 1", "traceme"] {
        assert_refused_with(&ptrace[call], "EPERM", &format!("ptrace {call}"));
    }

    let setuid = app.attack("/attack/setuid");
    // Root is not even mapped in the instance's user namespace: EINVAL rather than EPERM.
    assert_refused(&setuid["setuid 0"], "setuid(0)");
    assert_refused(&setuid["setgid 0"], "setgid(0)");
    assert_refused_with(&setuid["chroot"], "EPERM", "chroot");

    for attack in ["unshare", "unshare-net", "mount"] {
        let shell = app.attack(&format!("/shell/{attack}"));
        assert_ne!(shell["exit"], json!(0), "{attack} from bash: {shell:#}");
    }
    app.assert_victim_serves();
}

#[test]
fn a_fork_bomb_is_stopped_by_the_pids_limit() {
    let app = AttackApp::start(&[]);
    let report = app.attack("/bomb/fork-bomb?limit=1024");
    let started = report["started"].as_u64().expect("started");
    assert!(started < 1024, "{report:#}");
    assert_eq!(report["refused"]["errno"], json!("EAGAIN"), "{report:#}");
    let bomb = &report["bomb"];
    let peak = bomb["processesAfter2s"]
        .as_u64()
        .unwrap_or_else(|| panic!("the bomb did not run: {report:#}"));
    assert!(peak <= 1024, "{report:#}");
    app.assert_victim_serves();
    // The instance is usable again: the bomb's processes are gone.
    let after = app.attack("/bomb/identity");
    assert_eq!(after["uid"], json!(993));
}

#[test]
fn allocating_past_memory_size_is_oom_killed_with_502_and_the_next_request_works() {
    let app = AttackApp::start(&[]);
    let response = client()
        .get(app.server.url("/small/allocate?mb=1024"))
        .send()
        .expect("GET");
    assert_eq!(response.status(), 502);
    assert_eq!(
        json_body(response),
        json!({"message": "Internal server error"})
    );
    app.server.wait_for_line(
        &Regex::new(r"SmallFunction \| .*Runtime\.OutOfMemory").expect("regex"),
        Duration::from_secs(5),
    );
    app.assert_victim_serves();
    let within = app.attack("/small/allocate?mb=32");
    assert_eq!(within["allocatedMb"], json!(32));
}

#[test]
fn filling_tmp_stops_at_its_size_with_enospc() {
    let app = AttackApp::start(&[]);
    let report = app.attack("/disk/fill-tmp");
    assert_eq!(report["tmpSizeMb"], json!(512), "{report:#}");
    assert_refused_with(&report["outcome"], "ENOSPC", "filling /tmp");
    let written = report["writtenMb"].as_u64().expect("writtenMb");
    assert!((500..=512).contains(&written), "{report:#}");
    app.assert_victim_serves();
    // The file was removed, so the space is back.
    let again = app.attack("/disk/fill-tmp");
    let written_again = again["writtenMb"].as_u64().expect("writtenMb");
    assert!((500..=512).contains(&written_again), "{again:#}");
}

#[test]
fn an_infinite_loop_is_killed_at_its_timeout() {
    let app = AttackApp::start(&[]);
    let started = Instant::now();
    let response = client()
        .get(app.server.url("/loop/loop"))
        .send()
        .expect("GET");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        (Duration::from_millis(1900)..Duration::from_secs(6)).contains(&elapsed),
        "took {elapsed:?}"
    );
    app.server.wait_for_line(
        &Regex::new(r"LoopFunction \| .*Task timed out after 2\.00 seconds").expect("regex"),
        Duration::from_secs(5),
    );
    app.assert_victim_serves();
    assert_eq!(app.attack("/loop/identity")["uid"], json!(993));
}

#[test]
fn the_hosts_loopback_and_addresses_are_out_of_reach_but_the_platform_answers() {
    let app = AttackApp::start(&[]);
    let loopback = HostListener::bind(Ipv4Addr::LOCALHOST);
    let everywhere = HostListener::bind(Ipv4Addr::UNSPECIFIED);
    let host = host_address();
    let gateway_port = app
        .server
        .base_url
        .rsplit(':')
        .next()
        .expect("gateway port")
        .to_string();
    // The gateway's port on the sandbox's own loopback is Serverful's TLS endpoint (for
    // `https://{domainName}/{stage}/@connections`, listed as allowed below), not the host's
    // gateway: the host's is tried at the host's address.
    let targets = format!(
        "127.0.0.1:{},{host}:{},{host}:{gateway_port}",
        loopback.port, everywhere.port
    );
    for prefix in ["attack", "offline"] {
        let report = app.attack(&format!(
            "/{prefix}/connect?to={targets}&port={}",
            everywhere.port
        ));
        let attempts = report["attempts"].as_object().expect("attempts");
        assert!(attempts.len() >= 3, "{report:#}");
        for (target, attempt) in attempts {
            assert_refused(attempt, &format!("{prefix}: connecting to {target}"));
        }
        app.assert_victim_serves();
    }
    assert_eq!(loopback.accepted() + everywhere.accepted(), 0);

    // Inside, only its own Runtime API and the AWS endpoint listen: plain on the
    // endpoint's port, TLS on 443 and on the gateway's port (AWS's host names, issue #17).
    let aws_port = app
        .server
        .aws_url
        .rsplit(':')
        .next()
        .expect("AWS port")
        .to_string();
    let allowed = [
        "127.0.0.1:9001".to_string(),
        format!("127.0.0.1:{aws_port}"),
        "127.0.0.1:443".to_string(),
        format!("127.0.0.1:{gateway_port}"),
    ];
    for prefix in ["attack", "offline"] {
        let report = app.attack(&format!("/{prefix}/listeners"));
        let listening: Vec<String> = report["listening"]
            .as_array()
            .expect("listening")
            .iter()
            .filter_map(|address| address.as_str().map(str::to_string))
            .collect();
        assert!(
            listening.contains(&allowed[0]),
            "{prefix}: no Runtime API: {report:#}"
        );
        for address in &listening {
            assert!(
                allowed.contains(address),
                "{prefix} sees a listener not its own: {address}: {report:#}"
            );
        }
        let aws = app.attack(&format!("/{prefix}/aws"));
        assert_eq!(
            aws["ok"],
            json!(true),
            "{prefix}: the AWS endpoint: {aws:#}"
        );
    }
}

#[test]
fn egress_functions_reach_the_outside_and_network_none_functions_do_not() {
    let network = TestNetwork::create();
    let target = network.target();
    let app = AttackApp::start(&[]);

    let egress = app.attack(&format!("/attack/connect?to={target}"));
    let attempt = &egress["attempts"][&target];
    assert_eq!(attempt["ok"], json!(true), "egress: {egress:#}");
    assert_eq!(
        attempt["value"]["received"].as_str().map(str::trim),
        Some(TestNetwork::GREETING)
    );

    let host = host_address();
    let offline = app.attack(&format!(
        "/offline/connect?to={target},{host}:22,1.1.1.1:53"
    ));
    for (to, attempt) in offline["attempts"].as_object().expect("attempts") {
        assert_refused(attempt, &format!("Network: none connecting to {to}"));
    }
    app.assert_victim_serves();
    drop(app);

    // `--network none` makes it the default for functions that do not choose.
    let app = AttackApp::start(&["--network", "none"]);
    let report = app.attack(&format!("/attack/connect?to={target}"));
    assert_refused(
        &report["attempts"][&target],
        "--network none: connecting out",
    );
    assert_eq!(app.attack("/attack/aws")["ok"], json!(true));
    app.assert_victim_serves();
}

#[test]
fn sandbox_off_says_so_and_functions_still_run() {
    let (_copy, app_dir) = copy_attack_app();
    let server = Server::try_start_with_env(&app_dir, &[], &[("SERVERFUL_SANDBOX", "off")])
        .unwrap_or_else(|output| panic!("server did not start:\n{output}"));
    let line = sandbox_line(&server);
    assert!(line.contains("off"), "{line}");
    let response = client().get(server.url("/victim")).send().expect("GET");
    assert_eq!(response.status(), 200);
    let identity = json_body(
        client()
            .get(server.url("/attack/identity"))
            .send()
            .expect("GET"),
    );
    // Unisolated: the code runs from its folder on the host.
    let task_root = identity["taskRoot"].as_str().expect("taskRoot");
    assert!(
        Path::new(task_root).ends_with("attacker") && task_root != "/var/task",
        "{identity:#}"
    );
}

#[test]
fn an_instance_whose_sandbox_cannot_be_set_up_fails_naming_the_step() {
    let app = AttackApp::start(&[]);
    // The victim's code folder disappears before its first instance starts. The sandbox
    // parked for it at start still shows the old folder, without the code; the ones set
    // up after it cannot mount the folder at all.
    std::fs::remove_dir_all(app.app_dir.join("victim")).expect("remove the victim's code");
    let step = Regex::new(r"VictimFunction \| .*sandbox: mount \S+/victim at /var/task: ENOENT")
        .expect("regex");
    let mut named = false;
    for _ in 0..3 {
        let response = client()
            .get(app.server.url("/victim"))
            .send()
            .expect("GET /victim");
        assert_eq!(response.status(), 502);
        assert_eq!(
            json_body(response),
            json!({"message": "Internal server error"})
        );
        if app.server.stdout().lines().any(|line| step.is_match(line)) {
            named = true;
            break;
        }
    }
    assert!(named, "no line names the step:\n{}", app.server.stdout());
    assert_eq!(app.attack("/attack/identity")["uid"], json!(993));
}

/// `serverful up` run as `nobody` on an app the test suite owns: a host where the server
/// may create no cgroups, as in an unprivileged container.
struct Unprivileged {
    child: Child,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    _data: tempfile::TempDir,
}

impl Unprivileged {
    fn spawn(sandbox: &str) -> Unprivileged {
        use std::os::unix::fs::PermissionsExt as _;
        let data = tempfile::tempdir().expect("data dir");
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777))
            .expect("let nobody write the data dir");
        let mut child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(serverful_bin())
            .arg("up")
            .arg(test_app("sandbox-plain"))
            .args([
                "--port",
                "0",
                "--aws-port",
                "0",
                "--admin-port",
                "0",
                "--sandbox",
                sandbox,
                "--data",
            ])
            .arg(data.path())
            .env("HOME", data.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run serverful as nobody");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut text = output.lock().expect("output lock");
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        Unprivileged {
            child,
            output,
            _data: data,
        }
    }

    fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }

    /// Waits for the server to exit (its exit code) or to be ready (`None`).
    fn wait_for_exit_or_ready(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for serverful") {
                std::thread::sleep(Duration::from_millis(100));
                return Some(status.code().unwrap_or(-1));
            }
            if self
                .output()
                .lines()
                .any(|line| line.starts_with("Ready on "))
            {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "neither ready nor exited:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, path: &str) -> String {
        let output = self.output();
        let base = output
            .lines()
            .find_map(|line| line.strip_prefix("Ready on "))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("Ready on line");
        format!("{base}{path}")
    }
}

impl Drop for Unprivileged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn required_refuses_to_start_where_the_host_cannot_isolate() {
    let mut server = Unprivileged::spawn("required");
    let code = server.wait_for_exit_or_ready();
    let output = server.output();
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("error: --sandbox required, but "),
        "says what is missing: {output}"
    );
}

#[test]
fn auto_runs_functions_where_the_host_cannot_isolate_fully() {
    let mut server = Unprivileged::spawn("auto");
    let code = server.wait_for_exit_or_ready();
    let output = server.output();
    assert_eq!(code, None, "{output}");
    // One line says what isolation is left, if any.
    let line = output
        .lines()
        .find(|line| line.starts_with("sandbox:") || line.starts_with("warning: sandbox off: "))
        .unwrap_or_else(|| panic!("no sandbox line: {output}"));
    assert!(!line.ends_with('.'), "{line}");
    let response = client().get(server.url("/hello")).send().expect("GET");
    assert_eq!(response.status(), 200, "{}", server.output());
    // 993 in what isolation remains, else the server's own user.
    let uid = json_body(response)["uid"].as_u64().expect("uid");
    assert!([993, 65534].contains(&uid), "{uid}");
}

#[test]
fn cold_starts_take_the_sandbox_parked_at_start_and_parked_sandboxes_die_with_the_server() {
    use crate::hello::{
        descendants_of, instance_processes, parked_sandboxes, wait_for_a_new_parked_sandbox,
    };
    let app = AttackApp::start(&[]);
    let pid = app.server.pid();
    // `Ready` comes after every Lambda-mode function has a sandbox parked.
    let parked_at_start = parked_sandboxes(pid);
    assert!(
        !parked_at_start.is_empty(),
        "no parked sandbox at Ready: {:?}",
        descendants_of(pid)
    );
    assert!(instance_processes(pid).is_empty(), "no instance runs yet");

    // The cold start runs its function in one of them.
    app.attack("/attack/identity");
    let instances = instance_processes(pid);
    assert!(
        instances
            .iter()
            .any(|process| parked_at_start.contains(process)),
        "the instance {instances:?} is not one of the parked sandboxes {parked_at_start:?}"
    );
    // Once the invocation is done, the function parks a new one for its next cold start.
    wait_for_a_new_parked_sandbox(
        pid,
        &parked_at_start,
        Duration::from_secs(10),
        "no new sandbox parked after the cold start",
    );
    app.assert_victim_serves();

    // Killed with SIGKILL (no shutdown code runs), the server takes every sandbox with
    // it, parked or running.
    let processes = descendants_of(pid);
    drop(app);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<_> = processes
            .iter()
            .filter(|process| Path::new(&format!("/proc/{process}")).exists())
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sandbox processes {alive:?} outlived the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
