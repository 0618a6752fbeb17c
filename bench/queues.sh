#!/usr/bin/env bash
# The queue benchmark: SQS SendMessage and ReceiveMessage+DeleteMessageBatch throughput
# and latency through `serverful up`'s AWS endpoint, side by side in one run with moto's
# server, fakecloud (in memory and on disk) and sqslite, all loaded by the same SigV4
# client; then send → SQS-triggered function start through serverful. Prints a markdown
# report on stdout; progress on stderr.
#
#   bash bench/queues.sh                          # everything, default settings
#   bash bench/queues.sh --duration 5 --clients 32
#   bash bench/queues.sh --rounds 2               # ratios as medians over 2 rounds
#   BENCH_ONLY=serverful,moto bash bench/queues.sh
#   BENCH_SKIP_FAKECLOUD=1 bash bench/queues.sh   # do not build fakecloud
#
# The emulators are installed once into $BENCH_TOOLS (default target/bench-queues-tools):
# moto[server] into a Python venv, fakecloud with `cargo install`, sqslite with npm. One
# that fails to install gets a "did not run" row. Flags and BENCH_* variables are listed
# by `target/release/bench-queues --help` and in bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools="${BENCH_TOOLS:-$target_dir/bench-queues-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

cargo build --release --quiet -p serverful -p serverful-bench >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh

install_moto
[[ -f "$tools/sqslite/node_modules/sqslite/bin/cli.js" ]] || install_npm_package sqslite
install_fakecloud "${BENCH_SKIP_FAKECLOUD:-}"

run_driver bench-queues -- "$@"
