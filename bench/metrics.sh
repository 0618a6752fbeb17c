#!/usr/bin/env bash
# The cost of a scrape: `serverful up` on an app of 100 functions (one route each), every
# function invoked once (and one in ten made to fail) so every series has samples, then
# `/metrics` scraped N times with the admin token. Prints a markdown report on stdout:
# the scrape's median, p90 and max time, the body's size and its number of samples.
#
#   bash bench/metrics.sh               # release build, 100 functions, 50 scrapes
#   BENCH_FUNCTIONS=20 BENCH_SCRAPES=20 bash bench/metrics.sh
#   BENCH_PROFILE=debug bash bench/metrics.sh   # the debug build (label the figures so)
#
# Needs python3 (the functions' runtime and the statistics) and curl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

functions="${BENCH_FUNCTIONS:-100}"
scrapes="${BENCH_SCRAPES:-50}"
profile="${BENCH_PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-target}"

if [ "$profile" = release ]; then
  cargo build --release --quiet -p serverful >&2
else
  cargo build --quiet -p serverful >&2
fi
binary="$target_dir/$profile/serverful"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The app: N python functions sharing one code folder, each on GET /fN.
mkdir -p "$work/app/src"
cat > "$work/app/src/app.py" <<'PY'
import os


def handler(event, context):
    if os.environ["FAIL"] == "yes":
        raise ValueError("made to fail")
    return {"statusCode": 200, "body": "ok"}
PY
{
  echo "Transform: AWS::Serverless-2016-10-31"
  echo "Resources:"
  for i in $(seq 1 "$functions"); do
    fail=no
    if [ $((i % 10)) -eq 0 ]; then fail=yes; fi
    cat <<YAML
  F${i}:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          FAIL: "${fail}"
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /f${i}
            Method: GET
YAML
  done
} > "$work/app/template.yaml"

echo "bench-metrics: starting serverful up with $functions functions ($profile build)" >&2
"$binary" up "$work/app" --port 0 --aws-port 0 --admin-port 0 --data "$work/data" \
  --idle-timeout 2s --sandbox off >"$work/out.log" 2>"$work/err.log" &
server_pid=$!
for _ in $(seq 1 600); do
  if grep -q "^Ready on " "$work/out.log"; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/out.log" "$work/err.log" >&2; exit 1; fi
  sleep 0.2
done
base="$(sed -n 's/^Ready on \([^ ]*\).*/\1/p' "$work/out.log")"
metrics="$(sed -n 's/^Metrics \([^ ]*\).*/\1/p' "$work/out.log")"
token="$(cat "$work/data/admin-token")"
[ -n "$base" ] && [ -n "$metrics" ] || { cat "$work/out.log" "$work/err.log" >&2; exit 1; }

echo "bench-metrics: invoking every function once" >&2
for i in $(seq 1 "$functions"); do
  curl -s -o /dev/null "$base/f$i"
done

echo "bench-metrics: $scrapes scrapes of $metrics" >&2
curl -s -H "Authorization: Bearer $token" "$metrics" > "$work/body.txt"
for _ in $(seq 1 "$scrapes"); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$metrics"
done > "$work/times.txt"

python3 - "$work/times.txt" "$work/body.txt" "$functions" "$scrapes" "$profile" <<'PY'
import statistics, sys, os
times = sorted(float(line) * 1000 for line in open(sys.argv[1]) if line.strip())
body = open(sys.argv[2]).read()
samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
functions, scrapes, profile = sys.argv[3], sys.argv[4], sys.argv[5]
p90 = times[int(len(times) * 0.9) - 1]
load = open("/proc/loadavg").read().split()[0]
print(f"| functions | scrapes | build | median | p90 | max | body | samples | load average |")
print(f"| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {functions} | {scrapes} | {profile} | {statistics.median(times):.2f} ms | {p90:.2f} ms "
      f"| {times[-1]:.2f} ms | {len(body.encode()) / 1024:.0f} KiB | {samples} | {load} |")
PY
