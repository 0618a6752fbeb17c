#!/usr/bin/env bash
# The event benchmark: through `serverful up`, synchronous against asynchronous Invoke of
# one Node.js function (throughput, time to 202 and to the function's start), a table
# write to its stream-triggered function's start, PutEvents to its rule-triggered
# function's start, and how late a cron(* * * * ? *) schedule fires. Prints a markdown
# report on stdout; progress on stderr.
#
#   bash bench/events.sh                       # about 3 minutes (two schedule ticks)
#   bash bench/events.sh --ticks 0             # without the schedule, under a minute
#
# `bash bench/events.sh --help` lists the flags.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --quiet -p serverful -p serverful-bench >&2

target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/bench-events" "$@"
