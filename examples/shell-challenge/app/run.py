"""POST /run: runs a player's command with bash against a fresh copy of the challenge's
files, judges what it prints, and caches the result per (challenge, command).

Every command is hostile until proven otherwise. The function runs in Serverful's sandbox
with `Network: none` (its own namespaces, a memory and a process limit, a private /tmp);
on top of that this handler
- gives bash a clean environment (no AWS keys), a 5 s deadline and a cap on its output;
- makes itself non-dumpable, so the command cannot read the handler's environment (and
  the endpoint keys in it) from /proc;
- is a child subreaper: whatever the command leaves behind (background jobs, double-forked
  daemons, a fork bomb) becomes the handler's child and is killed before the response
  goes out, so the next command starts on a clean instance.
"""

import base64
import ctypes
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time

from catalog import (
    CHALLENGES,
    MAX_CMD_BYTES,
    MAX_STORED_OUTPUT_CHARS,
    judge,
    respond,
    results_table,
    solution_rank,
    unknown_challenge,
)

COMMAND_TIMEOUT_SECONDS = 5

# Output past this is not read (and cannot be a right answer anyway).
MAX_OUTPUT_BYTES = 64 * 1024

COMMAND_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
}

# Makes the command the OOM killer's first choice, so that a command that eats the
# instance's memory dies instead of the handler judging it.
COMMAND_PRELUDE = '{ echo 1000 >/proc/self/oom_score_adj; } 2>/dev/null; exec bash -c "$1"'

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _harden_handler_process():
    """Linux only; elsewhere (macOS without a sandbox) the command is only time-limited."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for option, value in ((PR_SET_DUMPABLE, 0), (PR_SET_CHILD_SUBREAPER, 1)):
            if libc.prctl(option, value, 0, 0, 0) != 0:
                print(f"prctl({option}) failed: {os.strerror(ctypes.get_errno())}")
    except (OSError, AttributeError) as error:
        print(f"no prctl on this system: {error}")


_harden_handler_process()
table = results_table()


class BadRequest(Exception):
    pass


def handler(event, context):
    try:
        slug, cmd = parse_request(event)
    except BadRequest as error:
        return respond(400, {"message": str(error)})

    cached = table.get_item(Key={"challenge": slug, "cmd": cmd}).get("Item")
    if cached is not None:
        return respond(200, result_body(cached, cached=True))

    outcome = run_command(cmd, CHALLENGES[slug].files)
    correct = not outcome["timedOut"] and judge(outcome["output"], CHALLENGES[slug].answer)
    item = {
        "challenge": slug,
        "cmd": cmd,
        "correct": correct,
        "output": outcome["output"][:MAX_STORED_OUTPUT_CHARS],
        "errors": outcome["errors"][:MAX_STORED_OUTPUT_CHARS],
        "exitCode": outcome["exitCode"],
        "timedOut": outcome["timedOut"],
        "length": len(cmd),
    }
    if correct:
        item["solutionOf"] = slug
        item["rank"] = solution_rank(cmd)
    table.put_item(Item=item)
    body = result_body(item, cached=False)
    body["durationMs"] = outcome["durationMs"]
    return respond(200, body)


def result_body(item, cached):
    return {
        "challenge": item["challenge"],
        "cmd": item["cmd"],
        "correct": item["correct"],
        "output": item["output"],
        "errors": item["errors"],
        # DynamoDB numbers come back from boto3 as Decimal.
        "exitCode": int(item["exitCode"]),
        "timedOut": item["timedOut"],
        "cached": cached,
    }


def parse_request(event):
    """(slug, cmd) from the request body, or BadRequest saying what is wrong with it."""
    usage = 'send a JSON object: {"challenge": "count-lines", "cmd": "wc -l < access.log"}'
    body = event.get("body")
    if not body:
        raise BadRequest(f"the request has no body; {usage}")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(f"the body is not UTF-8 text; {usage}") from None
    try:
        request = json.loads(body)
    except ValueError as error:
        raise BadRequest(f"the body is not JSON ({error}); {usage}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"the body is JSON but not an object; {usage}")

    slug = request.get("challenge")
    if slug is None:
        raise BadRequest(f'"challenge" is missing; {usage}')
    if not isinstance(slug, str) or slug not in CHALLENGES:
        raise BadRequest(unknown_challenge(slug))

    cmd = request.get("cmd")
    if cmd is None:
        raise BadRequest(f'"cmd" is missing; {usage}')
    if not isinstance(cmd, str):
        raise BadRequest('"cmd" must be a string')
    if not cmd.strip():
        raise BadRequest('"cmd" is empty')
    if "\0" in cmd:
        raise BadRequest('"cmd" contains a NUL character, which bash cannot take')
    cmd_bytes = len(cmd.encode("utf-8"))
    if cmd_bytes > MAX_CMD_BYTES:
        raise BadRequest(f'"cmd" is {cmd_bytes} bytes long; the limit is {MAX_CMD_BYTES}')
    return slug, cmd


def run_command(cmd, files):
    """Runs `cmd` with bash in a fresh copy of `files`; returns its output and how it ended."""
    workdir = tempfile.mkdtemp(prefix="run-")
    started = time.monotonic()
    process = None
    try:
        shutil.copytree(files, workdir, dirs_exist_ok=True)
        process = subprocess.Popen(
            ["bash", "-c", COMMAND_PRELUDE, "bash", cmd],
            cwd=workdir,
            env=dict(COMMAND_ENV, HOME=workdir, TMPDIR=workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so that one signal reaches all of its jobs.
            start_new_session=True,
        )
        stdout, stderr, timed_out = collect_output(process, started + COMMAND_TIMEOUT_SECONDS)
    finally:
        if process is not None:
            kill_leftovers(process)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "output": stdout.decode("utf-8", "replace"),
        "errors": stderr.decode("utf-8", "replace"),
        "exitCode": process.returncode,
        "timedOut": timed_out,
        "durationMs": round((time.monotonic() - started) * 1000),
    }


def collect_output(process, deadline):
    """Reads stdout and stderr until both close, the deadline passes or the output grows
    past MAX_OUTPUT_BYTES: (stdout, stderr, timed_out)."""
    selector = selectors.DefaultSelector()
    stdout_fd, stderr_fd = process.stdout.fileno(), process.stderr.fileno()
    chunks = {stdout_fd: [], stderr_fd: []}
    for fd in chunks:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    total = 0
    timed_out = False
    while selector.get_map() and total <= MAX_OUTPUT_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(remaining):
            data = os.read(key.fd, 16 * 1024)
            if not data:
                selector.unregister(key.fd)
            chunks[key.fd].append(data)
            total += len(data)
    selector.close()
    if not timed_out and total <= MAX_OUTPUT_BYTES:
        # Both pipes closed: bash is exiting, unless it closed them itself and lingers.
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    stdout, stderr = b"".join(chunks[stdout_fd]), b"".join(chunks[stderr_fd])
    process.stdout.close()
    process.stderr.close()
    return stdout, stderr, timed_out


def kill_leftovers(process):
    """Kills bash's process group, then every descendant of this process that remains:
    as a subreaper, this process inherits whatever left the group (setsid, double forks)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.wait()
    for _ in range(100):
        leftovers = descendants(os.getpid())
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap_children()
    print(f"could not kill every process the command left: {descendants(os.getpid())}")


def reap_children():
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)
            return


def descendants(root):
    """Pids of every process below `root`, from /proc (empty where there is no /proc)."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
