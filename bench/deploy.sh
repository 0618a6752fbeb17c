#!/usr/bin/env bash
# The deploy benchmark: `serverful serve` with a two-function app (Node.js and Python)
# under a steady closed-loop load, first alone, then while the app is redeployed 10 times
# (two versions whose answers differ) and rolled back. Prints a markdown report on stdout;
# progress on stderr.
#
#   bash bench/deploy.sh                      # about a minute with the defaults
#   bash bench/deploy.sh --steady 5 --deploys 4 --rollbacks 2
#
# `bash bench/deploy.sh --help` lists the flags.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --quiet -p serverful -p serverful-bench >&2

target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/bench-deploy" "$@"
