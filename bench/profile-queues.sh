#!/usr/bin/env bash
# Where serverful's SQS spends its CPU: runs bench-queues on serverful alone and records
# `perf` samples (with DWARF call stacks) of the server for a few seconds inside the send
# and the receive+delete workloads, then prints, for each, the share of the samples under
# the frames that BENCHMARKS.md's "CPU per message" table names. Multiply a share by the
# report's "server CPU / message" for µs per message.
#
#   bash bench/profile-queues.sh [OUT_DIR]     # needs `perf` (Debian: linux-perf) and root
#
# The perf data and the folded stacks stay in OUT_DIR (default: a new folder under
# $CARGO_TARGET_DIR or target/) for a closer look (`perf report -i OUT_DIR/send.data`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
out="${1:-$(mktemp -d "$target_dir/profile-queues.XXXXXX")}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }

cargo build --release --quiet -p serverful -p serverful-bench >&2
server="$(cd "$target_dir/release" && pwd)/serverful"

# The driver starts the server through this wrapper, which leaves its process id behind.
printf '#!/bin/sh\necho $$ > %s/server.pid\nexec %s "$@"\n' "$out" "$server" >"$out/serverful"
chmod +x "$out/serverful"
: >"$out/stderr.log"
"$target_dir/release/bench-queues" --only serverful --serverful "$out/serverful" \
    --duration 8 --warmup 2 >"$out/report.md" 2>"$out/stderr.log" &
driver=$!
trap 'kill "$driver" 2>/dev/null || true' EXIT

record() {
    local name="$1" marker="$2"
    until grep -q -- "$marker" "$out/stderr.log"; do
        kill -0 "$driver" 2>/dev/null || { echo "the benchmark ended early: $out/stderr.log" >&2; exit 1; }
        sleep 0.2
    done
    sleep 3
    perf record -F 299 -g --call-graph dwarf,16384 -p "$(cat "$out/server.pid")" \
        -o "$out/$name.data" -- sleep 5 >/dev/null 2>>"$out/perf.log"
}
record send '^  send'
record receive 'receive+delete'
wait "$driver"
trap - EXIT

for name in send receive; do
    perf script -i "$out/$name.data" 2>/dev/null | python3 -c '
import collections, re, sys
stacks = collections.Counter()
comm, frames = None, []
def flush():
    if comm is not None:
        stacks[";".join([comm] + frames[::-1])] += 1
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush(); comm, frames = None, []
    elif not line.startswith(("\t", " ")):
        comm, frames = line.split()[0], []
    else:
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            frames.append(re.sub(r"\+0x[0-9a-f]+| \(.*\)$", "", parts[1]))
flush()
for stack, count in stacks.items():
    print(stack, count)
' >"$out/$name.folded"
    echo "## $name ($(grep -c . "$out/$name.folded") distinct stacks)"
    python3 - "$out/$name.folded" <<'PY'
import re, sys
rows = [line.rsplit(" ", 1) for line in open(sys.argv[1])]
rows = [(stack, int(count)) for stack, count in rows]
total = sum(count for _, count in rows) or 1
for label, pattern in [
    ("writer thread", r"^sqs-writer"),
    ("request threads", r"^serverful-aws"),
    ("thread hand-offs (futex)", r";(futex_wait|futex_wake|do_futex);"),
    ("blocking-pool submits", r"Spawner::spawn_task"),
    ("WAL frames at commit", r"sqlite3WalFrames"),
    ("fsync", r"fsync|fdatasync"),
    ("WAL checkpoints", r"walCheckpoint"),
    ("SQL parsing", r"sqlite3LockAndPrepare|sqlite3RunParser"),
    ("SigV4", r"sigv4::verify"),
    ("HTTP parsing", r"hyper::proto::h1::role.*parse"),
    ("socket writes", r"tcp_sendmsg"),
    ("JSON", r"serde_json"),
    ("MD5", r"md5"),
    ("malloc/free", r"malloc|_int_free|cfree"),
]:
    share = sum(count for stack, count in rows if re.search(pattern, stack))
    print(f"| {label} | {100 * share / total:.1f} % |")
PY
done
echo "report: $out/report.md" >&2
grep -h 'serverful up' "$out/report.md" | sed -n '2,3p'
