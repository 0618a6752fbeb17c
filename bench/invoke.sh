#!/usr/bin/env bash
# The invoke-path benchmark: a bare hyper server (the ceiling), `serverful up` running
# Rust, Node.js, Python, Ruby, Java and HTTP-mode functions, and serverless-offline on the
# same Node.js handler, loaded side by side in one run (over --rounds rounds in alternating
# order), then cold starts per runtime. Prints a markdown report on stdout; progress on
# stderr.
#
#   bash bench/invoke.sh                       # everything, default settings
#   bash bench/invoke.sh --duration 5 --cold-runs 5
#   bash bench/invoke.sh --only ceiling,rust,node,python,offline --rounds 3 --cold-runs 0
#   BENCH_ONLY=ceiling,rust bash bench/invoke.sh
#
# The offline contender needs serverless@3 and serverless-offline, which
# bench/install-peers.sh installs once into $BENCH_PEERS (default
# $CARGO_TARGET_DIR/bench-peers) when the contender is selected; if that fails, its row
# says so. Flags and BENCH_* variables are listed by `bash bench/invoke.sh --help` and in
# bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"
export BENCH_PEERS="${BENCH_PEERS:-$target_dir/bench-peers}"

cargo build --release --quiet -p serverful -p serverful-bench >&2

# Is the offline contender selected? By --only (last one wins, as for the driver) or
# BENCH_ONLY; everything runs when neither is given.
only="${BENCH_ONLY:-}"
for ((i = 1; i <= $#; i++)); do
    case "${!i}" in
    --only)
        next=$((i + 1))
        only="${!next:-}"
        ;;
    --only=*) only="${!i#--only=}" ;;
    esac
done
if [[ -z "$only" || ",$only," == *",offline,"* ]]; then
    bash bench/install-peers.sh || echo "  the serverless-offline row will say why it did not run" >&2
fi

# serverless v3 asks nothing and sends nothing with these set (the driver sets them too).
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
exec "$target_dir/release/bench-invoke" "$@"
