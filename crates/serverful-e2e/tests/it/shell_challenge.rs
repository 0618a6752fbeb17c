//! The online shell challenge, `examples/shell-challenge` (issue #5), played as a user
//! would under `--sandbox required`: right and wrong answers, the result cache, the
//! shortest solutions, bad requests, and hostile commands that must fail safely while the
//! app keeps serving.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverful_e2e::{repo_root, Server};

use crate::sandbox::{host_address, HostListener, TestNetwork};
use crate::{client, json_body};

fn start_app() -> Server {
    Server::start(
        &repo_root().join("examples/shell-challenge"),
        &["--sandbox", "required"],
    )
}

/// `POST /run` with `body`: (status, JSON body).
fn post_run(server: &Server, body: String) -> (u16, Value) {
    let response = client()
        .post(server.url("/run"))
        .body(body)
        .send()
        .expect("POST /run");
    let status = response.status().as_u16();
    (status, json_body(response))
}

/// Runs `cmd` for `challenge`, which must be judged (200); returns the verdict.
#[track_caller]
fn play(server: &Server, challenge: &str, cmd: &str) -> Value {
    let (status, body) = post_run(
        server,
        json!({"challenge": challenge, "cmd": cmd}).to_string(),
    );
    assert_eq!(status, 200, "{cmd}: {body:#}");
    assert_eq!(body["cmd"], json!(cmd));
    body
}

fn solutions(server: &Server, challenge: &str) -> Vec<String> {
    let response = client()
        .get(server.url(&format!("/solutions/{challenge}")))
        .send()
        .expect("GET /solutions");
    assert_eq!(response.status(), 200);
    let body = json_body(response);
    body["solutions"]
        .as_array()
        .expect("solutions")
        .iter()
        .map(|solution| {
            let cmd = solution["cmd"].as_str().expect("cmd").to_string();
            assert_eq!(solution["length"], json!(cmd.chars().count()), "{body:#}");
            cmd
        })
        .collect()
}

#[test]
fn players_solve_challenges_and_a_repeated_command_comes_from_the_cache() {
    let server = start_app();
    let listed = json_body(
        client()
            .get(server.url("/challenges"))
            .send()
            .expect("GET /challenges"),
    );
    let slugs: Vec<&str> = listed["challenges"]
        .as_array()
        .expect("challenges")
        .iter()
        .filter_map(|challenge| challenge["slug"].as_str())
        .collect();
    assert_eq!(
        slugs,
        ["count-lines", "error-files", "sum-column", "top-ip"]
    );
    assert!(
        !listed.to_string().contains("237"),
        "answers stay secret: {listed}"
    );

    let first = play(&server, "count-lines", "wc -l < access.log");
    assert_eq!(
        (&first["correct"], &first["cached"], &first["output"]),
        (&json!(true), &json!(false), &json!("237\n")),
        "{first:#}"
    );
    let again = play(&server, "count-lines", "wc -l < access.log");
    assert_eq!(
        (&again["correct"], &again["cached"], &again["output"]),
        (&json!(true), &json!(true), &json!("237\n")),
        "{again:#}"
    );
    let wrong = play(&server, "count-lines", "wc -l access.log");
    assert_eq!(wrong["correct"], json!(false));
    assert_eq!(wrong["output"], json!("237 access.log\n"));

    // Every run starts from a fresh copy of the files.
    let vandal = play(&server, "count-lines", "rm -f access.log && echo removed");
    assert_eq!(vandal["output"], json!("removed\n"));
    let after = play(&server, "count-lines", "wc -l <access.log");
    assert_eq!(after["correct"], json!(true), "{after:#}");

    for (challenge, cmd, correct) in [
        (
            "top-ip",
            "cut -d' ' -f1 access.log | sort | uniq -c | sort -rn | head -1 | awk '{print $2}'",
            true,
        ),
        ("top-ip", "head -1 access.log | cut -d' ' -f1", false),
        (
            "sum-column",
            "awk -F, 'NR > 1 {sum += $3} END {print sum}' sales.csv",
            true,
        ),
        ("sum-column", "tail -n +2 sales.csv | wc -l", false),
        ("error-files", "grep -l ERROR logs/* | wc -l", true),
        ("error-files", "grep -li error logs/* | wc -l", false),
    ] {
        let verdict = play(&server, challenge, cmd);
        assert_eq!(verdict["correct"], json!(correct), "{verdict:#}");
        assert_eq!(verdict["cached"], json!(false), "{verdict:#}");
    }

    let started = Instant::now();
    let slow = play(&server, "count-lines", "sleep 10; echo 237");
    assert_eq!(
        (&slow["correct"], &slow["timedOut"]),
        (&json!(false), &json!(true)),
        "{slow:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(9), "the 5 s limit");

    assert_eq!(
        solutions(&server, "count-lines"),
        ["wc -l <access.log", "wc -l < access.log"]
    );
    assert_eq!(
        solutions(&server, "error-files"),
        ["grep -l ERROR logs/* | wc -l"]
    );
}

#[test]
fn solutions_are_the_50_shortest_correct_commands_shortest_first() {
    let server = start_app();
    let mut correct: Vec<String> = (0..55)
        .map(|n_padding| format!("echo 237 #{}", "x".repeat(n_padding)))
        .collect();
    // Same length as `echo 237 #x`: ties are ordered by the command's text.
    correct.extend(["echo 237;#b".to_string(), "echo 237;#a".to_string()]);
    for cmd in &correct {
        assert_eq!(play(&server, "count-lines", cmd)["correct"], json!(true));
    }
    for wrong in ["echo 1", "echo 2", "echo 238"] {
        assert_eq!(play(&server, "count-lines", wrong)["correct"], json!(false));
    }
    correct.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    correct.truncate(50);
    assert_eq!(solutions(&server, "count-lines"), correct);
    assert!(solutions(&server, "sum-column").is_empty());

    let unknown = client()
        .get(server.url("/solutions/no-such-challenge"))
        .send()
        .expect("GET");
    assert_eq!(unknown.status(), 404);
    assert!(json_body(unknown)["message"]
        .as_str()
        .expect("message")
        .contains("unknown challenge"));
}

#[test]
fn bad_requests_get_400_saying_what_is_wrong() {
    let server = start_app();
    let too_long = "x".repeat(1001);
    for (body, message) in [
        ("not json".to_string(), "the body is not JSON"),
        (String::new(), "the request has no body"),
        ("[1, 2]".to_string(), "not an object"),
        (json!({"cmd": "ls"}).to_string(), "\"challenge\" is missing"),
        (
            json!({"challenge": "nope", "cmd": "ls"}).to_string(),
            "unknown challenge 'nope'; the challenges are: count-lines, error-files, sum-column, top-ip",
        ),
        (
            json!({"challenge": "count-lines"}).to_string(),
            "\"cmd\" is missing",
        ),
        (
            json!({"challenge": "count-lines", "cmd": 7}).to_string(),
            "\"cmd\" must be a string",
        ),
        (
            json!({"challenge": "count-lines", "cmd": "  "}).to_string(),
            "\"cmd\" is empty",
        ),
        (
            json!({"challenge": "count-lines", "cmd": too_long}).to_string(),
            "\"cmd\" is 1001 bytes long; the limit is 1000",
        ),
    ] {
        let (status, response) = post_run(&server, body.clone());
        assert_eq!(status, 400, "{body}: {response}");
        let text = response["message"].as_str().expect("message");
        assert!(text.contains(message), "{body}: {text}");
    }
    // At the limit is fine.
    let longest = format!("echo 237 #{}", "x".repeat(990));
    assert_eq!(
        play(&server, "count-lines", &longest)["correct"],
        json!(true)
    );
}

#[test]
fn hostile_commands_are_judged_wrong_and_the_app_keeps_serving() {
    let network = TestNetwork::create();
    let listener = HostListener::bind(Ipv4Addr::UNSPECIFIED);
    let host = host_address();
    let server = start_app();

    let started = Instant::now();
    let bomb = play(&server, "count-lines", ":(){ :|:& };:");
    assert_eq!(bomb["correct"], json!(false), "{bomb:#}");
    assert!(started.elapsed() < Duration::from_secs(10), "{bomb:#}");
    // The bomb is gone: the next command runs at once.
    let started = Instant::now();
    let next = play(&server, "count-lines", "wc -l < access.log ");
    assert_eq!(next["correct"], json!(true), "{next:#}");
    assert!(started.elapsed() < Duration::from_secs(3), "{next:#}");
    let repeated = play(&server, "count-lines", ":(){ :|:& };:");
    assert_eq!(repeated["cached"], json!(true));

    let shadow = play(&server, "count-lines", "cat /etc/shadow");
    assert_eq!(shadow["correct"], json!(false));
    assert!(
        !shadow["output"].as_str().expect("output").contains("root:"),
        "{shadow:#}"
    );

    let netns = network.target();
    let (netns_ip, netns_port) = (network.address, TestNetwork::PORT);
    let port = listener.port;
    for cmd in [
        format!("curl -sS -m 3 http://{netns}/"),
        format!("curl -sS -m 3 http://{host}:{port}/"),
        format!("exec 3<>/dev/tcp/{netns_ip}/{netns_port} && echo connected && cat <&3"),
        format!("exec 3<>/dev/tcp/{host}/{port} && echo connected && cat <&3"),
    ] {
        let verdict = play(&server, "count-lines", &cmd);
        assert_eq!(verdict["correct"], json!(false), "{verdict:#}");
        let output = verdict["output"].as_str().expect("output");
        assert!(
            !output.contains("connected") && !output.contains(TestNetwork::GREETING),
            "{verdict:#}"
        );
    }
    assert_eq!(listener.accepted(), 0, "a command reached the host");

    // The endpoint's keys are in the handler's environment, not the command's.
    let environ = play(
        &server,
        "count-lines",
        "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep AWS_SECRET",
    );
    assert!(
        !environ["output"]
            .as_str()
            .expect("output")
            .contains(&server.secret_access_key),
        "{environ:#}"
    );

    // The command runs as the handler's user, so it can kill the handler: no verdict, a
    // 502, and a fresh instance for the next command.
    let (status, body) = post_run(
        &server,
        json!({"challenge": "count-lines", "cmd": "kill -9 -1; echo 237"}).to_string(),
    );
    assert_eq!(
        (status, body),
        (502, json!({"message": "Internal server error"}))
    );
    let revived = play(&server, "count-lines", "wc -l  < access.log");
    assert_eq!(revived["correct"], json!(true), "{revived:#}");

    assert_eq!(
        solutions(&server, "count-lines"),
        // Same length: ordered by text, and " " sorts before "<".
        ["wc -l  < access.log", "wc -l < access.log "],
        "hostile commands are no solutions"
    );
}
