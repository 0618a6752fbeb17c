#!/usr/bin/env bash
# The invoke-path benchmark: a bare hyper server (the ceiling) and `serverful up` running
# Rust, Node.js, Python and HTTP-mode functions, loaded side by side in one run, then cold
# starts per runtime. Prints a markdown report on stdout; progress on stderr.
#
#   bash bench/invoke.sh                       # everything, default settings
#   bash bench/invoke.sh --duration 5 --cold-runs 5
#   BENCH_ONLY=ceiling,rust bash bench/invoke.sh
#
# Flags and BENCH_* variables are listed by `bash bench/invoke.sh --help` and in
# bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --quiet -p serverful -p serverful-bench >&2

target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/bench-invoke" "$@"
