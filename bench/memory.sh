#!/usr/bin/env bash
# Idle memory of the server (SPEC §13: under 30 MB): starts `serverful up examples/hello`
# in release mode, reads the server process's resident memory when it is ready and again
# after one request to each function, and prints a markdown table. Function processes are
# separate and not counted; the sandboxes parked for the functions' cold starts get a row
# of their own. Usage: bash bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin serverful
scratch="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

target/release/serverful up examples/hello --port 0 --aws-port 0 --admin-port 0 --data "$scratch/data" > "$scratch/out" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^Ready on ' "$scratch/out" && break
  sleep 0.1
done
url="$(grep -o '^Ready on [^ ]*' "$scratch/out" | cut -d' ' -f3)"
[ -n "$url" ] || { echo "memory: the server did not start:" >&2; cat "$scratch/out" >&2; exit 1; }

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }
# The sandboxes parked ahead of each function's cold start (P, C and the waiting G of
# each): the sum of their proportional set sizes, which splits pages they share with each
# other and with the server.
parked_pss_mb() {
  local total=0 pid pss
  for pid in $(pgrep -f -- '__serverful-sandbox-init' || true); do
    pss="$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)"
    total=$((total + ${pss:-0}))
  done
  awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}
idle="$(rss_mb)"
parked="$(parked_pss_mb)"
parked_count="$(pgrep -P "$server_pid" -f -- '__serverful-sandbox-init' | wc -l)"
curl -sf "$url/hello/bench" > /dev/null
curl -sf -X POST "$url/count" -d 'one two' > /dev/null
after="$(rss_mb)"

echo "| state | server RSS | target |"
echo "| --- | ---: | --- |"
echo "| ready, idle | ${idle} MB | < 30 MB |"
echo "| parked sandboxes, ready and idle (${parked_count}, PSS) | ${parked} MB | |"
echo "| after one request to each function | ${after} MB | |"
